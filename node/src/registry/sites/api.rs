//! JSON API of sites.

use actix_web::{get, post, web, HttpResponse};

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};
use crate::registry::access::owning_tenant;
use crate::registry::region_of;
use crate::registry::sites::{self, NewSite, Site};
use crate::users::Permission;

/// Sites the caller may see.
#[utoipa::path(tag = "registry", responses((status = 200, body = Vec<Site>)))]
#[get("/api/v1/registry/sites")]
pub async fn sites_list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "sites").await?;
    let own = caller.tenant_id.clone();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| sites::list(conn, own.as_ref())).await?))
}

/// Creates a site.
#[utoipa::path(tag = "registry", request_body = NewSite, responses((status = 201, body = Site), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/sites")]
pub async fn sites_create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewSite>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "sites").await?;
    let new = body.into_inner();
    let tenant = owning_tenant(&state, &caller, new.tenant_id.as_ref(), "site.create").await?;
    let within = region_of(&state, &caller);
    let ctx = caller.audit();
    let site = state.db.transaction(move |conn| sites::create(conn, &ctx, &tenant, &within, &new)).await?;
    Ok(HttpResponse::Created().json(site))
}
