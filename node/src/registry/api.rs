//! JSON API of the registry.

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;

use super::access::{entity_in_reach, owning_tenant};
use super::bulk::{BulkRequest, Receipt};
use super::catalogue::{self, Category, NewCategory};
use super::entities::{self, Change, Changed, Decision, EntityVersion, FieldPolicy, Registered};
use super::model::{Entity, EntityInput, ValidationContext};
use super::review;
use super::search::{self, EntityPage, EntityQuery};
use super::sites::{self, NewSite, Site};
use super::{analysis, export, outbox, reach_of, region_of, within_reach};
use crate::app::AppState;
use crate::audit::{self, Outcome};
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::ids::TenantId;
use crate::users::Permission;

/// Refuses (and audits) a review of a change whose entity or product lies outside the
/// caller's reach.
pub async fn change_in_reach(state: &AppState, caller: &Caller, change: &Change) -> AppResult<()> {
    if change.object_kind == super::products::Product::KIND_NAME {
        super::products::api::product_in_reach(state, caller, &change.object_id, "product.review").await?;
    } else {
        entity_in_reach(state, caller, &change.object_id, "entity.review").await?;
    }
    Ok(())
}

/// The product catalogue.
#[utoipa::path(tag = "registry", responses((status = 200, body = Vec<Category>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/catalogue")]
pub async fn catalogue_list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "catalogue").await?;
    let (version, list) = state.db.run(|conn| Ok((catalogue::version(conn)?, catalogue::list(conn)?))).await?;
    Ok(HttpResponse::Ok().insert_header(("X-Catalogue-Version", version.to_string())).json(list))
}

/// Adds a local sub-category (on the national node, a national one with a segment 01–49).
#[utoipa::path(tag = "registry", request_body = NewCategory, responses((status = 201, body = Category), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/catalogue")]
pub async fn catalogue_add(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewCategory>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::CatalogueWrite, "catalogue").await?;
    let ctx = caller.audit();
    let new = body.into_inner();
    let national = state.config.node.tier == crate::config::Tier::National;
    let c = state.db.transaction(move |conn| catalogue::add(conn, &ctx, &new, national)).await?;
    Ok(HttpResponse::Created().json(c))
}

/// The catalogue as a JSON document (parents before children), for another node or a file.
#[utoipa::path(tag = "registry", responses((status = 200, body = catalogue::CatalogueDocument)))]
#[get("/api/v1/registry/catalogue/export")]
pub async fn catalogue_export(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "catalogue").await?;
    let doc = state.db.run(catalogue::export).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Disposition", format!("attachment; filename=\"catalogue-v{}.json\"", doc.version)))
        .json(doc))
}

/// Imports local categories from a catalogue document: all or nothing.
#[utoipa::path(tag = "registry", request_body = catalogue::CatalogueDocument, responses((status = 200, body = catalogue::ImportReceipt), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/catalogue/import")]
pub async fn catalogue_import(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<catalogue::CatalogueDocument>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::CatalogueWrite, "catalogue").await?;
    let ctx = caller.audit();
    let doc = body.into_inner();
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| catalogue::import(conn, &ctx, &doc)).await?))
}

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

/// Registers an entity. 201 with the pending entity, or 202 when the code belongs to another
/// tenant and the submission waits for review as a duplicate claim.
#[utoipa::path(tag = "registry", request_body = EntityInput, responses(
    (status = 201, description = "Registered, pending review", body = Registered),
    (status = 202, description = "Duplicate of another tenant's entity: put to review", body = Registered),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/entities")]
pub async fn entity_register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<EntityInput>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let input = body.into_inner();
    let tenant = owning_tenant(&state, &caller, input.tenant_id.as_ref(), "entity.register").await?;
    let within = region_of(&state, &caller);
    let ctx = caller.audit();
    let outcome = state
        .db
        .transaction(move |conn| {
            entities::register(conn, &ctx, &tenant, &input, &ValidationContext { region: &within, tenant: &tenant })
        })
        .await?;
    Ok(match outcome {
        Registered::Created { .. } => HttpResponse::Created().json(outcome),
        Registered::DuplicateClaim { .. } => HttpResponse::Accepted().json(outcome),
    })
}

/// Bulk registration from a tenant's system.
#[utoipa::path(tag = "registry", request_body = BulkRequest, responses((status = 200, description = "Receipt; an atomic batch with rejections stores nothing", body = Receipt), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/entities/bulk")]
pub async fn entity_bulk(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BulkRequest>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let req = body.into_inner();
    let named = req.entities.first().and_then(|e| e.tenant_id.clone());
    if req.entities.iter().any(|e| e.tenant_id != named) {
        return Err(AppError::invalid(
            "tenant_id",
            "一批主体须属于同一租户",
            "all entities of a batch must belong to one tenant",
        ));
    }
    let tenant = owning_tenant(&state, &caller, named.as_ref(), "entity.bulk_register").await?;
    let within = region_of(&state, &caller);
    let ctx = caller.audit();
    let db = state.db.clone();
    let receipt = tokio::task::spawn_blocking(move || super::bulk::register_batch(&db, &ctx, &tenant, &within, &req))
        .await
        .map_err(AppError::internal)??;
    Ok(HttpResponse::Ok().json(receipt))
}

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

/// Checks a query against the caller's permission and reach (refusals are audited).
pub async fn checked(
    state: &AppState,
    caller: &Caller,
    query: &EntityQuery,
) -> AppResult<(search::CheckedQuery, search::Reach)> {
    caller.require(state, Permission::RegistryRead, "entities").await?;
    let q = query.check()?;
    let reach = reach_of(state, caller);
    if let Err(e) = q.check_reach(&reach) {
        let _ = caller
            .deny(
                state,
                "registry.search",
                &format!("region:{}", q.region().map(|r| r.as_str()).unwrap_or("")),
                ErrorKind::OutOfScope,
            )
            .await;
        return Err(e);
    }
    Ok((q, reach))
}

/// One entity.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Entity id")), responses((status = 200, body = Entity), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/entities/{id}")]
pub async fn entity_get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "entities").await?;
    let row = entity_in_reach(&state, &caller, &path.into_inner(), "entity.read").await?;
    Ok(HttpResponse::Ok().json(row.view()))
}

/// Changes an entity: free fields apply at once, reviewed fields wait for review.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Entity id")), request_body = EntityInput, responses((status = 200, body = Changed), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/registry/entities/{id}")]
pub async fn entity_change(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<EntityInput>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let id = path.into_inner();
    let row = entity_in_reach(&state, &caller, &id, "entity.change").await?;
    let input = body.into_inner();
    let owner = TenantId::from_db(row.tenant_id.clone());
    let within = region_of(&state, &caller);
    let ctx = caller.audit();
    let changed = state
        .db
        .transaction(move |conn| {
            entities::change(conn, &ctx, &owner, &id, &input, &ValidationContext { region: &within, tenant: &owner })
        })
        .await?;
    Ok(HttpResponse::Ok().json(changed))
}

/// Approves or rejects a pending registration.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Entity id")), request_body = Decision, responses((status = 200, body = Entity), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/entities/{id}/review")]
pub async fn entity_review(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Decision>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "entities").await?;
    let id = path.into_inner();
    entity_in_reach(&state, &caller, &id, "entity.review").await?;
    let ctx = caller.audit();
    let d = body.into_inner();
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| entities::review(conn, &ctx, &id, &d)).await?))
}

/// Every version of an entity.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Entity id")), responses((status = 200, body = Vec<EntityVersion>)))]
#[get("/api/v1/registry/entities/{id}/versions")]
pub async fn entity_versions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "entities").await?;
    let id = path.into_inner();
    entity_in_reach(&state, &caller, &id, "entity.read").await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| entities::versions(conn, &id)).await?))
}

/// Pending changes and duplicate claims.
#[utoipa::path(tag = "registry", responses((status = 200, body = Vec<Change>)))]
#[get("/api/v1/registry/changes")]
pub async fn changes_list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "changes").await?;
    let own = caller.tenant_id.clone();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| review::pending_changes(conn, own.as_ref())).await?))
}

/// Approves or rejects a pending change or duplicate claim.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Change id")), request_body = Decision, responses((status = 200, body = Change), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/changes/{id}/review")]
pub async fn change_review(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Decision>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "changes").await?;
    let id = path.into_inner();
    let key = id.clone();
    let change = state.db.run(move |conn| review::change_by_id(conn, &key)).await?;
    change_in_reach(&state, &caller, &change).await?;
    let ctx = caller.audit();
    let d = body.into_inner();
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| review::review_change(conn, &ctx, &id, &d)).await?))
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

/// Which kind of registration a policy request is about.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PolicyKind {
    /// `entity` (default) or `product`.
    pub kind: Option<String>,
}

impl PolicyKind {
    fn kind(&self) -> AppResult<review::Kind> {
        match self.kind.as_deref().unwrap_or("entity") {
            "entity" => Ok(review::Kind::Entity),
            "product" => Ok(review::Kind::Product),
            _ => Err(AppError::invalid("kind", "kind 只能是 entity 或 product", "kind must be entity or product")),
        }
    }
}

/// A tenant's change policies (which fields change without review).
#[utoipa::path(tag = "registry", params(("tenant_id" = String, Path, description = "Tenant id"), PolicyKind), responses((status = 200, body = Vec<FieldPolicy>)))]
#[get("/api/v1/registry/policies/{tenant_id}")]
pub async fn policies_get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    kind: web::Query<PolicyKind>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "policies").await?;
    let kind = kind.kind()?;
    let tenant = owning_tenant(&state, &caller, Some(&TenantId::parse(&path.into_inner())?), "registry.policy").await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| review::policies_of(conn, kind, &tenant)).await?))
}

/// Replaces a tenant's change policies (reviewers only).
#[utoipa::path(tag = "registry", params(("tenant_id" = String, Path, description = "Tenant id"), PolicyKind), request_body = Vec<FieldPolicy>, responses((status = 200, body = Vec<FieldPolicy>), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/registry/policies/{tenant_id}")]
pub async fn policies_set(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    kind: web::Query<PolicyKind>,
    body: web::Json<Vec<FieldPolicy>>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "policies").await?;
    let kind = kind.kind()?;
    let tenant = owning_tenant(&state, &caller, Some(&TenantId::parse(&path.into_inner())?), "registry.policy").await?;
    let ctx = caller.audit();
    let list = body.into_inner();
    Ok(HttpResponse::Ok()
        .json(state.db.transaction(move |conn| review::set_policies_of(conn, &ctx, kind, &tenant, &list)).await?))
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

/// Registers a device of an entity within the caller's reach (a tenant only for its own
/// entities). It is in force at once and goes to the outbox.
#[utoipa::path(tag = "registry", request_body = super::devices::DeviceInput, responses((status = 201, body = super::devices::Device), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/devices")]
pub async fn device_register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<super::devices::DeviceInput>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "devices").await?;
    let input = body.into_inner();
    let entity = entity_in_reach(&state, &caller, &input.entity_id, "device.register").await?;
    let ctx = caller.audit();
    let device =
        state.db.transaction(move |conn| super::devices::register(conn, &ctx, &entity.tenant_id, &input)).await?;
    Ok(HttpResponse::Created().json(device))
}

/// Registers devices in bulk (a tenant only for its own entities).
#[utoipa::path(tag = "registry", request_body = super::devices::DeviceBatch, responses((status = 200, description = "Receipt; an atomic batch with rejections stores nothing", body = Receipt), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/devices/bulk")]
pub async fn device_bulk(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<super::devices::DeviceBatch>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "devices").await?;
    let batch = body.into_inner();
    let reach = reach_of(&state, &caller);
    let ctx = caller.audit();
    let receipt = state
        .db
        .transaction(move |conn| {
            let reaches = |e: &super::model::EntityRow| within_reach(&reach, e);
            super::devices::register_batch(conn, &ctx, &reaches, &batch)
        })
        .await?;
    Ok(HttpResponse::Ok().json(receipt))
}

/// The devices of an entity.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Entity id")), responses((status = 200, body = Vec<super::devices::Device>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/entities/{id}/devices")]
pub async fn entity_devices(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "devices").await?;
    let id = path.into_inner();
    entity_in_reach(&state, &caller, &id, "entity.read").await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| super::devices::of_entity(conn, &id)).await?))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(catalogue_list)
        .service(catalogue_add)
        .service(catalogue_export)
        .service(catalogue_import)
        .service(sites_list)
        .service(sites_create)
        .service(entity_bulk)
        .service(entity_register)
        .service(entity_search)
        .service(entity_versions)
        .service(entity_devices)
        .service(device_bulk)
        .service(device_register)
        .service(entity_review)
        .service(entity_get)
        .service(entity_change)
        .service(changes_list)
        .service(change_review)
        .service(entity_export)
        .configure(super::products::api::routes)
        .service(entity_analysis)
        .service(policies_get)
        .service(policies_set)
        .service(outbox_list);
}
