//! JSON API of devices: registration one by one or in bulk, and an entity's devices.

use actix_web::{get, post, web, HttpResponse};

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};
use crate::ids::EntityId;
use crate::registry::access::entity_in_reach;
use crate::registry::bulk::Receipt;
use crate::registry::{reach_of, within_reach};
use crate::users::Permission;

/// Registers a device of an entity within the caller's reach (a tenant only for its own
/// entities). It is in force at once and goes to the outbox.
#[utoipa::path(tag = "registry", request_body = crate::registry::devices::DeviceInput, responses((status = 201, body = crate::registry::devices::Device), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/devices")]
pub async fn device_register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<crate::registry::devices::DeviceInput>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "devices").await?;
    let input = body.into_inner();
    let id = EntityId::parse(&input.entity_id)?;
    let entity = entity_in_reach(&state, &caller, &id, "device.register").await?;
    let ctx = caller.audit();
    let device =
        state.db.transaction(move |conn| crate::registry::devices::register(conn, &ctx, &entity, &input)).await?;
    Ok(HttpResponse::Created().json(device))
}

/// Registers devices in bulk (a tenant only for its own entities).
#[utoipa::path(tag = "registry", request_body = crate::registry::devices::DeviceBatch, responses((status = 200, description = "Receipt; an atomic batch with rejections stores nothing", body = Receipt), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/devices/bulk")]
pub async fn device_bulk(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<crate::registry::devices::DeviceBatch>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "devices").await?;
    let batch = body.into_inner();
    let reach = reach_of(&state, &caller);
    let ctx = caller.audit();
    let receipt = state
        .db
        .transaction(move |conn| {
            let reaches = |e: &crate::registry::model::EntityRow| within_reach(&reach, e);
            crate::registry::devices::register_batch(conn, &ctx, &reaches, &batch)
        })
        .await?;
    Ok(HttpResponse::Ok().json(receipt))
}

/// The devices of an entity.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Entity id")), responses((status = 200, body = Vec<crate::registry::devices::Device>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/entities/{id}/devices")]
pub async fn entity_devices(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "devices").await?;
    let id = EntityId::parse(&path.into_inner())?;
    entity_in_reach(&state, &caller, &id, "entity.read").await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| crate::registry::devices::of_entity(conn, &id)).await?))
}
