//! JSON API of the analysis of registrations.

use crate::registry::access::checked;
use actix_web::{get, web, HttpResponse};

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::AppResult;
use crate::registry::analysis;
use crate::registry::search::EntityQuery;

/// Analysis of the entities matching a filter; every figure equals the matching search's total.
#[utoipa::path(tag = "registry", params(EntityQuery), responses((status = 200, body = analysis::Analysis)))]
#[get("/api/v1/registry/analysis")]
pub async fn entity_analysis(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EntityQuery>,
) -> AppResult<HttpResponse> {
    let (q, reach) = checked(&state, &caller, &query).await?;
    let base = reach.region.clone().unwrap_or_else(|| state.config.node.region.clone());
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| analysis::analyse(conn, &q, &reach, &base)).await?))
}
