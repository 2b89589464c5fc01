//! JSON API of anomaly rules: everyone who reads trace data sees the rules that apply to
//! them; node staff with `quality.manage` add, change and delete them.

use actix_web::{delete, get, post, put, web, HttpResponse};

use super::{Rule, RuleInput};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};
use crate::users::Permission;

/// Node staff with `quality.manage`; a tenant's caller is refused.
pub async fn require_manager(state: &AppState, caller: &Caller) -> AppResult<()> {
    caller.require_staff(state, Permission::QualityManage, "anomaly_rules", "anomaly_rule.manage").await
}

/// The anomaly rules (a tenant sees the node-wide rules and its own).
#[utoipa::path(tag = "quality", responses((status = 200, body = Vec<Rule>)))]
#[get("/api/v1/quality/rules")]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "anomaly_rules").await?;
    let tenant = caller.tenant_id.as_ref().map(|t| t.as_str().to_owned());
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| super::list(conn, tenant.as_deref())).await?))
}

/// Adds a rule (node staff), with an audit row.
#[utoipa::path(tag = "quality", request_body = RuleInput,
    responses((status = 201, body = Rule), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/quality/rules")]
pub async fn create(state: web::Data<AppState>, caller: Caller, body: web::Json<RuleInput>) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let ctx = caller.audit();
    let input = body.into_inner();
    Ok(HttpResponse::Created().json(state.db.transaction(move |conn| super::create(conn, &ctx, &input)).await?))
}

/// Replaces a rule (node staff), with an audit row.
#[utoipa::path(tag = "quality", params(("id" = String, Path, description = "Rule id")), request_body = RuleInput,
    responses((status = 200, body = Rule), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/quality/rules/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<RuleInput>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let ctx = caller.audit();
    let (id, input) = (path.into_inner(), body.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| super::update(conn, &ctx, &id, &input)).await?))
}

/// Deletes a rule (node staff), with an audit row; what it found stays.
#[utoipa::path(tag = "quality", params(("id" = String, Path, description = "Rule id")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[delete("/api/v1/quality/rules/{id}")]
pub async fn remove(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let ctx = caller.audit();
    let id = path.into_inner();
    state.db.transaction(move |conn| super::delete(conn, &ctx, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(create).service(update).service(remove);
}
