//! Console pages of tenants (租户管理).

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::tenants::{NewTenant, Tenant, TenantKind};
use crate::users::Permission;

#[derive(Template)]
#[template(path = "tenants/list.html")]
struct TenantsPage {
    shell: Shell,
    tenants: Vec<Tenant>,
    can_write: bool,
    error: String,
    notice: String,
    form: TenantFormValues,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct TenantFormValues {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    contact: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct TenantForm {
    csrf: String,
    #[serde(flatten)]
    values: TenantFormValues,
}

async fn page(
    state: &AppState,
    caller: &Caller,
    error: String,
    notice: String,
    form: TenantFormValues,
) -> AppResult<HttpResponse> {
    let all = state.db.run(crate::tenants::list_all).await?;
    let tenants = all.into_iter().filter(|t| caller.sees_tenant(t)).collect();
    render(&TenantsPage {
        shell: Shell::new(state, caller, "租户", "/tenants"),
        tenants,
        can_write: caller.can(Permission::TenantWrite),
        error,
        notice,
        form,
    })
}

/// 租户 list and creation form.
#[get("/tenants")]
pub async fn list(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::TenantRead, "tenants").await?;
    page(
        &state,
        &caller,
        String::new(),
        String::new(),
        TenantFormValues { region: state.config.node.region.to_string(), ..Default::default() },
    )
    .await
}

/// Creates a tenant from the form.
#[post("/tenants")]
pub async fn create(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<TenantForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::TenantWrite, "tenants").await?;
    let kind = match TenantKind::parse(&form.values.kind) {
        Ok(k) => k,
        Err(e) => return page(&state, &caller, e.detail_zh, String::new(), form.values).await,
    };
    let new = NewTenant {
        code: form.values.code.trim().to_owned(),
        name: form.values.name.clone(),
        kind,
        region: form.values.region.trim().to_owned(),
        contact: form.values.contact.clone(),
    };
    let scope_region = caller.scope.region.clone().unwrap_or_else(|| state.config.node.region.clone());
    let ctx = caller.audit();
    match state.db.transaction(move |conn| crate::tenants::create(conn, &ctx, &scope_region, &new)).await {
        Ok(t) => {
            page(&state, &caller, String::new(), format!("已创建租户“{}”。", t.name), TenantFormValues::default()).await
        }
        Err(e) if e.is_for_the_form() => page(&state, &caller, e.detail_zh, String::new(), form.values).await,
        Err(e) => Err(e),
    }
}

/// This page's entry in the console navigation.
pub const NAV: crate::console::NavItem =
    crate::console::NavItem::administration("/tenants", "租户", Permission::TenantRead);

/// Registers these pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(list).service(create);
}
