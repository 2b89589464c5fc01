//! JSON API of trace information: search, and the daily aggregates with their recount.

use actix_web::{get, web, HttpResponse};

use super::search::{self, TracePage, TraceQuery};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};
use crate::registry::reach_of;
use crate::users::Permission;

/// Searches trace records by stage, variety, region, reporting node, batch, trace code,
/// status and day, newest first.
#[utoipa::path(tag = "trace", params(TraceQuery), responses((status = 200, body = TracePage), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/trace/records")]
pub async fn records(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<TraceQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "trace").await?;
    let reach = reach_of(&state, &caller);
    let q = query.into_inner();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| search::page(conn, &q, &reach)).await?))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(records);
}
