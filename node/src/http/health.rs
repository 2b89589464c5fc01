//! Liveness, readiness, metrics and the OpenAPI document.

use actix_web::{get, web, HttpResponse};

use crate::app::AppState;
use crate::error::AppResult;

/// Liveness: the process answers.
#[utoipa::path(tag = "health", responses((status = 200, description = "The node is running", content_type = "text/plain")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

/// Readiness: the database answers.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "Ready", content_type = "text/plain"),
    (status = 503, description = "Database unavailable", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    state.db.run(crate::db::ping).await?;
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready"))
}

/// Prometheus metrics.
#[utoipa::path(tag = "health", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(state.db.pool_state()))
}

/// The OpenAPI document of every route.
#[utoipa::path(tag = "health", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
#[get("/api/v1/openapi.json")]
pub async fn openapi(doc: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(doc.0.clone())
}

/// The rendered OpenAPI document.
pub struct OpenApiDocument(pub String);

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics).service(openapi);
}
