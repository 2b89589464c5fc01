//! JSON API of responsible entities: registration (one or in bulk), reading, versions, change and review.

use actix_web::{get, post, put, web, HttpResponse};

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, Problem};
use crate::ids::EntityId;
use crate::registry::access::{entity_in_reach, owning_tenant};
use crate::registry::bulk::{BulkRequest, Receipt};
use crate::registry::entities::{self, Changed, Decision, EntityVersion, Registered};
use crate::registry::model::{Entity, EntityInput, ValidationContext};
use crate::registry::region_of;
use crate::users::Permission;

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
    let receipt =
        tokio::task::spawn_blocking(move || crate::registry::bulk::register_batch(&db, &ctx, &tenant, &within, &req))
            .await
            .map_err(AppError::internal)??;
    Ok(HttpResponse::Ok().json(receipt))
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
    let row = entity_in_reach(&state, &caller, &EntityId::parse(&path.into_inner())?, "entity.read").await?;
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
    let id = EntityId::parse(&path.into_inner())?;
    let row = entity_in_reach(&state, &caller, &id, "entity.change").await?;
    let input = body.into_inner();
    let owner = row.tenant_id.clone();
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
    let id = EntityId::parse(&path.into_inner())?;
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
    let id = EntityId::parse(&path.into_inner())?;
    entity_in_reach(&state, &caller, &id, "entity.read").await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| entities::versions(conn, &id)).await?))
}
