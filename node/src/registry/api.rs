//! JSON API of the registry: search, exports and the outbox, and the routes of every
//! sub-feature's API in order (catalogue, sites, entities, devices, review, products, analysis).

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use super::access::checked;
use super::search::{self, EntityPage, EntityQuery};
use super::{export, outbox};
use crate::app::AppState;
use crate::audit::{self, Outcome};
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, Problem};
use crate::users::Permission;

/// Searches entities.
#[utoipa::path(tag = "registry", params(EntityQuery), responses((status = 200, body = EntityPage), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/entities")]
pub async fn entity_search(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EntityQuery>,
) -> AppResult<HttpResponse> {
    let (q, reach) = checked(&state, &caller, &query).await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| search::page(conn, &q, &reach)).await?))
}

/// Export format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportFormat {
    /// `csv`, `xlsx` or `geojson`.
    pub format: String,
}

/// Exports the search results (at most 100,000 rows) as CSV, XLSX or GeoJSON.
#[utoipa::path(tag = "registry", params(("format" = String, Path, description = "csv, xlsx or geojson"), EntityQuery), responses(
    (status = 200, description = "The export", content_type = "text/csv"),
    (status = 200, description = "The export", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (status = 200, description = "The export", content_type = "application/geo+json"),
    (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/export/entities.{format}")]
pub async fn entity_export(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<EntityQuery>,
) -> AppResult<HttpResponse> {
    let format = path.into_inner();
    if !["csv", "xlsx", "geojson"].contains(&format.as_str()) {
        return Err(AppError::not_found("导出格式", "export format"));
    }
    let (q, reach) = checked(&state, &caller, &query).await?;
    let ctx = caller.audit();
    let filter = serde_json::to_value(&*query).unwrap_or_default();
    let fmt = format.clone();
    let rows = state
        .db
        .transaction(move |conn| {
            let rows = search::all(conn, &q, &reach, export::EXPORT_LIMIT)?;
            audit::record(
                conn,
                &ctx,
                "registry.export",
                "entities",
                Outcome::Success,
                serde_json::json!({"format": fmt, "rows": rows.len(), "filter": filter}),
            )?;
            Ok(rows)
        })
        .await?;
    Ok(match format.as_str() {
        "csv" => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"entities.csv\""))
            .body(export::csv(&rows)?),
        "xlsx" => HttpResponse::Ok()
            .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .insert_header(("Content-Disposition", "attachment; filename=\"entities.xlsx\""))
            .body(export::xlsx(&rows)?),
        _ => HttpResponse::Ok().content_type("application/geo+json").json(export::geojson(&rows)),
    })
}

/// Outbox cursor.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// Entries after this sequence number (default 0).
    pub after: Option<i64>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
}

/// Approved changes in sequence, as the registrations roll-up sends them.
#[utoipa::path(tag = "registry", params(OutboxQuery), responses((status = 200, body = Vec<outbox::OutboxEntry>)))]
#[get("/api/v1/registry/outbox")]
pub async fn outbox_list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<OutboxQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "outbox").await?;
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid("limit", "limit 应在1到1000之间", "limit must be 1 to 1000"));
    }
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| outbox::since(conn, after, limit)).await?))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(super::catalogue::api::catalogue_list)
        .service(super::catalogue::api::catalogue_add)
        .service(super::catalogue::api::catalogue_export)
        .service(super::catalogue::api::catalogue_import)
        .service(super::sites::api::sites_list)
        .service(super::sites::api::sites_create)
        .service(super::entities::api::entity_bulk)
        .service(super::entities::api::entity_register)
        .service(entity_search)
        .service(super::entities::api::entity_versions)
        .service(super::devices::api::entity_devices)
        .service(super::devices::api::device_bulk)
        .service(super::devices::api::device_register)
        .service(super::devices::api::device_list)
        .service(super::entities::api::entity_review)
        .service(super::entities::api::entity_get)
        .service(super::entities::api::entity_change)
        .service(super::review::api::changes_list)
        .service(super::duplicates::api::claims_list)
        .service(super::duplicates::api::claim_decide)
        .service(super::review::api::change_review)
        .service(super::review::api::entities_bulk_review)
        .service(super::review::api::products_bulk_review)
        .service(entity_export)
        .configure(super::products::api::routes)
        .service(super::analysis::api::entity_analysis)
        .service(super::review::api::policies_get)
        .service(super::review::api::policies_set)
        .service(outbox_list);
}
