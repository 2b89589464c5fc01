//! Console page of sites (节点: markets, slaughterhouses …): the list and a form to add one.

use crate::registry::vocabulary::labels;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::ids::TenantId;
use crate::registry::region_of;
use crate::registry::sites::{self, Site, SITE_KINDS};
use crate::users::Permission;

#[derive(Template)]
#[template(path = "registry/sites/sites.html")]
struct SitesPage {
    shell: Shell,
    sites: Vec<(Site, String)>,
    tenants: Vec<crate::tenants::Tenant>,
    site_kinds: Vec<(String, String)>,
    region: String,
    can_write: bool,
    error: String,
    notice: String,
}

async fn sites_view(state: &AppState, caller: &Caller, error: String, notice: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "sites").await?;
    let own = caller.tenant_id.clone();
    let (list, tenants) =
        state.db.run(move |conn| Ok((sites::list(conn, own.as_ref())?, crate::tenants::list_all(conn)?))).await?;
    let kind_label = |k: &str| SITE_KINDS.iter().find(|(c, _)| *c == k).map(|(_, l)| *l).unwrap_or(k).to_owned();
    render(&SitesPage {
        shell: Shell::new(state, caller, "节点（市场、屠宰场等）", "/registry"),
        sites: list
            .into_iter()
            .map(|s| {
                let label = kind_label(&s.kind);
                (s, label)
            })
            .collect(),
        tenants: tenants.into_iter().filter(|t| caller.sees_tenant(t) && t.is_active()).collect(),
        site_kinds: labels().site_kinds,
        region: region_of(state, caller).to_string(),
        can_write: caller.can(Permission::RegistryWrite),
        error,
        notice,
    })
}

/// 节点: the sites (markets, slaughterhouses …) and a form to add one.
#[get("/registry/sites")]
pub async fn sites_page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    sites_view(&state, &caller.0, String::new(), String::new()).await
}

/// A site as posted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SiteForm {
    csrf: String,
    #[serde(default)]
    tenant_id: String,
    code: String,
    name: String,
    kind: String,
    region: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    gln: String,
}

/// Registers a site from the form.
#[post("/registry/sites")]
pub async fn sites_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<SiteForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryWrite, "sites").await?;
    let named = match form.tenant_id.trim() {
        "" => None,
        t => Some(TenantId::parse(t)?),
    };
    let tenant = crate::registry::access::owning_tenant(&state, &caller, named.as_ref(), "site.create").await?;
    let within = region_of(&state, &caller);
    let ctx = caller.audit();
    let new = sites::NewSite {
        code: form.code.trim().to_owned(),
        name: form.name,
        kind: form.kind,
        region: form.region.trim().to_owned(),
        address: form.address,
        longitude: None,
        latitude: None,
        tenant_id: None,
        gln: Some(form.gln),
    };
    match state.db.transaction(move |conn| sites::create(conn, &ctx, &tenant, &within, &new)).await {
        Ok(s) => sites_view(&state, &caller, String::new(), format!("节点 {} 已登记。", s.name)).await,
        Err(e) if e.is_for_the_form() => sites_view(&state, &caller, e.detail_zh, String::new()).await,
        Err(e) => Err(e),
    }
}
