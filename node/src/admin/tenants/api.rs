//! JSON API of tenants.

use actix_web::{get, post, web, HttpResponse};

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, ErrorKind, Problem};
use crate::ids::TenantId;
use crate::tenants::{NewTenant, Tenant};
use crate::users::Permission;

/// Lists the tenants the caller may see.
#[utoipa::path(tag = "tenants", responses((status = 200, body = Vec<Tenant>), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/tenants")]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TenantRead, "tenants").await?;
    let all = state.db.run(crate::tenants::list_all).await?;
    let visible: Vec<Tenant> = all.into_iter().filter(|t| caller.sees_tenant(t)).collect();
    Ok(HttpResponse::Ok().json(visible))
}

/// One tenant.
#[utoipa::path(tag = "tenants", params(("id" = String, Path, description = "Tenant id")), responses((status = 200, body = Tenant), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/tenants/{id}")]
pub async fn get(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TenantRead, "tenants").await?;
    let id = TenantId::parse(&path.into_inner())?;
    let tenant = state.db.run(move |conn| crate::tenants::get(conn, &id)).await?;
    if !caller.sees_tenant(&tenant) {
        return Err(caller
            .deny(&state, "tenant.read", &format!("tenant:{}", tenant.code), ErrorKind::OutOfScope)
            .await);
    }
    Ok(HttpResponse::Ok().json(tenant))
}

/// Creates a tenant inside the node's region.
#[utoipa::path(tag = "tenants", request_body = NewTenant, responses((status = 201, body = Tenant), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/tenants")]
pub async fn create(state: web::Data<AppState>, caller: Caller, body: web::Json<NewTenant>) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TenantWrite, "tenants").await?;
    let new = body.into_inner();
    let scope_region = caller.scope.region.clone().unwrap_or_else(|| state.config.node.region.clone());
    let ctx = caller.audit();
    let tenant = state.db.transaction(move |conn| crate::tenants::create(conn, &ctx, &scope_region, &new)).await?;
    Ok(HttpResponse::Created().json(tenant))
}

/// Suspends a tenant: its API keys and users stop working.
#[utoipa::path(tag = "tenants", params(("id" = String, Path, description = "Tenant id")), responses((status = 200, body = Tenant), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/tenants/{id}/suspend")]
pub async fn suspend(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    set_status(state, caller, path, false).await
}

/// Reactivates a suspended tenant.
#[utoipa::path(tag = "tenants", params(("id" = String, Path, description = "Tenant id")), responses((status = 200, body = Tenant), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/tenants/{id}/activate")]
pub async fn activate(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    set_status(state, caller, path, true).await
}

async fn set_status(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    active: bool,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TenantWrite, "tenants").await?;
    let id = TenantId::parse(&path.into_inner())?;
    let lookup = id.clone();
    let tenant = state.db.run(move |conn| crate::tenants::get(conn, &lookup)).await?;
    if !caller.sees_tenant(&tenant) {
        return Err(caller
            .deny(&state, "tenant.write", &format!("tenant:{}", tenant.code), ErrorKind::OutOfScope)
            .await);
    }
    let ctx = caller.audit();
    let tenant = state.db.transaction(move |conn| crate::tenants::set_status(conn, &ctx, &id, active)).await?;
    Ok(HttpResponse::Ok().json(tenant))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(get).service(create).service(suspend).service(activate);
}
