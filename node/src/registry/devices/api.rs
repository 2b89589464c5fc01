//! JSON API of devices: registration one by one or in bulk, and an entity's devices.

use actix_web::{get, post, web, HttpResponse};

use super::{list, register, Device, Owner};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::ids::{EntityId, TenantId};
use crate::registry::access::entity_in_reach;
use crate::registry::bulk::Receipt;
use crate::registry::{reach_of, within_reach};
use crate::tenants::Tenant;
use crate::users::Permission;

/// Registers a device of an entity within the caller's reach (a tenant only for its own
/// entities), or — without `entity_id` — of a tenant itself: a tenant's caller its own
/// tenant, staff a tenant inside their data scope (`tenant_id`). It is in force at once and
/// goes to the outbox.
#[utoipa::path(tag = "registry", request_body = crate::registry::devices::DeviceInput, responses((status = 201, body = crate::registry::devices::Device), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/devices")]
pub async fn device_register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<crate::registry::devices::DeviceInput>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "devices").await?;
    let input = body.into_inner();
    let ctx = caller.audit();
    let device = match input.entity_id.as_deref() {
        Some(named) => {
            let id = EntityId::parse(named)?;
            let entity = entity_in_reach(&state, &caller, &id, "device.register").await?;
            state.db.transaction(move |conn| register(conn, &ctx, Owner::Entity(&entity), &input)).await?
        }
        None => {
            let tenant = tenant_in_reach(&state, &caller, input.tenant_id.as_deref()).await?;
            state.db.transaction(move |conn| register(conn, &ctx, Owner::Tenant(&tenant), &input)).await?
        }
    };
    Ok(HttpResponse::Created().json(device))
}

/// The tenant a device of a tenant itself belongs to: a tenant's caller its own (another one
/// named is refused), staff the one named, inside their data scope.
pub async fn tenant_in_reach(state: &AppState, caller: &Caller, named: Option<&str>) -> AppResult<Tenant> {
    let id = match (&caller.tenant_id, named.filter(|n| !n.is_empty())) {
        (Some(own), None) => own.clone(),
        (Some(own), Some(n)) if n == own.as_str() => own.clone(),
        (None, Some(n)) => TenantId::parse(n)?,
        (None, None) => {
            return Err(AppError::invalid(
                "tenant_id",
                "请指定设备所属的主体或租户",
                "name the device's entity or tenant",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(caller.deny(state, "device.register", "devices", ErrorKind::OutOfScope).await)
        }
    };
    let tenant = state
        .db
        .run(move |conn| crate::tenants::get(conn, &id))
        .await
        .map_err(|_| AppError::invalid("tenant_id", "租户不存在", "no such tenant"))?;
    if !caller.sees_tenant(&tenant) {
        return Err(caller.deny(state, "device.register", "devices", ErrorKind::OutOfScope).await);
    }
    Ok(tenant)
}

/// Which devices to list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    /// Only this type.
    pub device_type: Option<String>,
    /// Page, from 1 (100 a page).
    pub page: Option<i64>,
}

/// A page of devices.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DevicePage {
    /// The devices, newest first.
    pub rows: Vec<Device>,
    /// Devices that match, in all pages.
    pub total: i64,
}

/// The tenants whose devices `caller` sees: its own, or those inside its data scope (all
/// when the scope is the whole jurisdiction).
pub async fn visible_tenants(state: &AppState, caller: &Caller) -> AppResult<Option<Vec<TenantId>>> {
    if let Some(own) = &caller.tenant_id {
        return Ok(Some(vec![own.clone()]));
    }
    if caller.scope.region.is_none() && caller.scope.tenants.is_empty() {
        return Ok(None);
    }
    let all = state.db.run(crate::tenants::list_all).await?;
    Ok(Some(all.into_iter().filter(|t| caller.sees_tenant(t)).map(|t| t.id).collect()))
}

/// The devices the caller sees (a tenant its own, staff those of the tenants in their scope),
/// newest first, 100 a page.
#[utoipa::path(tag = "registry", params(DeviceQuery), responses((status = 200, body = DevicePage)))]
#[get("/api/v1/registry/devices")]
pub async fn device_list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<DeviceQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "devices").await?;
    let q = query.into_inner();
    let tenants = visible_tenants(&state, &caller).await?;
    let (rows, total) =
        state.db.run(move |conn| list(conn, tenants.as_deref(), q.device_type.as_deref(), q.page.unwrap_or(1))).await?;
    Ok(HttpResponse::Ok().json(DevicePage { rows, total }))
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
