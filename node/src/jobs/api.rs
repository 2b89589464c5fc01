//! `GET /api/v1/jobs`: every background job with its schedule, next and last run, and the
//! newest runs of one job. For operators (`job.read`, held by the system administrator).

use actix_web::{get, web, HttpResponse};

use super::{JobRun, JobView, SupervisorCell};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};
use crate::users::Permission;

/// Every background job of this node.
#[utoipa::path(tag = "jobs", responses((status = 200, body = Vec<JobView>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/jobs")]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::JobRead, "jobs").await?;
    Ok(HttpResponse::Ok().json(state.service::<SupervisorCell>()?.get()?.views().await?))
}

/// How many runs to show.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// At most this many, newest first (1–200, default 50).
    pub limit: Option<i64>,
}

/// The newest runs of one job (jobs that run once per node keep their last 200).
#[utoipa::path(tag = "jobs", params(("name" = String, Path, description = "Job name"), RunsQuery),
    responses((status = 200, body = Vec<JobRun>), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/jobs/{name}/runs")]
pub async fn runs(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    q: web::Query<RunsQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::JobRead, "jobs").await?;
    let runs = state.service::<SupervisorCell>()?.get()?.runs(&name, q.limit.unwrap_or(50)).await?;
    Ok(HttpResponse::Ok().json(runs))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(runs);
}
