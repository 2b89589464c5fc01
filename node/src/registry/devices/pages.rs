//! Registration of a device from its entity's page.

use crate::registry::entities::pages::{blank_none, entity_page};
use actix_web::{post, web, HttpResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::ConsoleCaller;
use crate::error::AppResult;
use crate::users::Permission;

/// A device as posted from an entity's page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeviceForm {
    csrf: String,
    device_type: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    mac: String,
    #[serde(default)]
    serial_number: String,
    #[serde(default)]
    site_code: String,
}

/// Registers a device of an entity from the entity's page.
#[post("/registry/entities/{id}/devices")]
pub async fn device_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<DeviceForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryWrite, "devices").await?;
    let id = crate::ids::EntityId::parse(&path.into_inner())?;
    let entity = crate::registry::access::entity_in_reach(&state, &caller, &id, "device.register").await?;
    let input = crate::registry::devices::DeviceInput {
        entity_id: id.to_string(),
        site_code: blank_none(&form.site_code),
        device_type: form.device_type,
        model: form.model,
        mac: form.mac,
        serial_number: form.serial_number,
    };
    let ctx = caller.audit();
    let notice =
        match state.db.transaction(move |conn| crate::registry::devices::register(conn, &ctx, &entity, &input)).await {
            Ok(d) => format!("设备 {} 已登记。", d.mac),
            Err(e) if e.is_for_the_form() => e.detail_zh,
            Err(e) => return Err(e),
        };
    entity_page(&state, &caller, id, notice).await
}
