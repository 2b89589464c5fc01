//! JSON API of the audit trail (audit administrator).

use actix_web::{get, web, HttpResponse};

use crate::app::AppState;
use crate::audit::query::{self, AuditFilter, AuditPage};
use crate::audit::Verification;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};
use crate::users::Permission;

/// Lists and filters the audit trail, newest first.
#[utoipa::path(tag = "audit", params(AuditFilter), responses((status = 200, body = AuditPage), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/audit")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<AuditFilter>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::AuditRead, "audit").await?;
    let filter = filter.into_inner();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| query::list(conn, &filter)).await?))
}

/// Verifies the hash chain and reports the first broken sequence number.
#[utoipa::path(tag = "audit", responses((status = 200, body = Verification), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/audit/verify")]
pub async fn verify(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::AuditVerify, "audit").await?;
    let ctx = caller.audit();
    let anchors = state.service::<crate::audit::anchor::Anchors>()?;
    let result = state.db.transaction(move |conn| crate::audit::verify_recorded(conn, &ctx, &anchors)).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(verify);
}
