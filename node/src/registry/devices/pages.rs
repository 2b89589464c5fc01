//! Devices in the console: registration from an entity's page, and the 追溯设备登记 page of
//! the 体系建设 section, which lists every device the caller sees and registers a device of a
//! tenant itself (a department's own scanners and terminals, with no entity behind them).

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
        entity_id: Some(id.to_string()),
        tenant_id: None,
        site_code: blank_none(&form.site_code),
        device_type: form.device_type,
        model: form.model,
        mac: form.mac,
        serial_number: form.serial_number,
    };
    let ctx = caller.audit();
    let notice = match state
        .db
        .transaction(move |conn| crate::registry::devices::register(conn, &ctx, super::Owner::Entity(&entity), &input))
        .await
    {
        Ok(d) => format!("设备 {} 已登记。", d.mac),
        Err(e) if e.is_for_the_form() => e.detail_zh,
        Err(e) => return Err(e),
    };
    entity_page(&state, &caller, id, notice).await
}

/// The form's values.
type Values = std::collections::HashMap<String, String>;

#[derive(askama::Template)]
#[template(path = "registry/devices/register.html")]
struct RegisterPage {
    shell: crate::console::Shell,
    rows: Vec<(super::Device, String)>,
    total: i64,
    page: i64,
    filter: String,
    tenants: Vec<crate::tenants::Tenant>,
    types: Vec<(&'static str, &'static str)>,
    can_write: bool,
    form: Values,
    notice: String,
    error: String,
}

impl RegisterPage {
    fn value(&self, key: &str) -> &str {
        self.form.get(key).map_or("", String::as_str)
    }

    fn filter_is(&self, code: &str) -> bool {
        self.filter == code
    }

    fn as_code<'c>(&self, code: &'c str) -> &'c str {
        code
    }

    fn type_zh(&self, code: &str) -> &'static str {
        super::DEVICE_TYPES.iter().find(|(c, _)| *c == code).map_or("其他", |(_, l)| *l)
    }

    fn pages(&self) -> i64 {
        (self.total + super::PAGE - 1) / super::PAGE
    }
}

async fn register_view(
    state: &AppState,
    caller: &crate::auth::caller::Caller,
    query: Values,
    form: Values,
    notice: String,
    error: String,
) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "devices").await?;
    let filter = query.get("device_type").cloned().unwrap_or_default();
    let page = query.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1);
    let visible = super::api::visible_tenants(state, caller).await?;
    let tenants: Vec<crate::tenants::Tenant> =
        state.db.run(crate::tenants::list_all).await?.into_iter().filter(|t| caller.sees_tenant(t)).collect();
    let f = filter.clone();
    let (devices, total) = state.db.run(move |conn| super::list(conn, visible.as_deref(), Some(&f), page)).await?;
    let rows = devices
        .into_iter()
        .map(|d| {
            let owner = tenants
                .iter()
                .find(|t| t.id == d.tenant_id)
                .map_or_else(|| d.tenant_id.to_string(), |t| t.name.clone());
            (d, owner)
        })
        .collect();
    crate::console::render(&RegisterPage {
        shell: crate::console::Shell::new(state, caller, "追溯设备登记", "/system-building"),
        rows,
        total,
        page,
        filter,
        tenants,
        types: super::DEVICE_TYPES.to_vec(),
        can_write: caller.can(Permission::RegistryWrite),
        form,
        notice,
        error,
    })
}

/// 追溯设备登记: every device the caller sees, and a form for a device of a tenant itself.
#[actix_web::get("/system-building/devices")]
pub async fn devices_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<Values>,
) -> AppResult<HttpResponse> {
    register_view(&state, &caller.0, query.into_inner(), Values::new(), String::new(), String::new()).await
}

/// Registers a device of a tenant itself from the console.
#[post("/system-building/devices")]
pub async fn tenant_device_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    caller.require(&state, Permission::RegistryWrite, "devices").await?;
    let field = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let input = crate::registry::devices::DeviceInput {
        entity_id: None,
        tenant_id: Some(field("tenant_id")).filter(|t| !t.is_empty()),
        site_code: blank_none(&field("site_code")),
        device_type: field("device_type"),
        model: field("model"),
        mac: field("mac"),
        serial_number: field("serial_number"),
    };
    let outcome = match super::api::tenant_in_reach(&state, &caller, input.tenant_id.as_deref()).await {
        Ok(tenant) => {
            let ctx = caller.audit();
            state
                .db
                .transaction(move |conn| {
                    crate::registry::devices::register(conn, &ctx, super::Owner::Tenant(&tenant), &input)
                })
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(d) => {
            let notice = format!("设备 {} 已登记。", d.mac);
            register_view(&state, &caller, Values::new(), Values::new(), notice, String::new()).await
        }
        Err(e) if e.is_for_the_form() => {
            register_view(&state, &caller, Values::new(), form, String::new(), e.detail_zh).await
        }
        Err(e) => Err(e),
    }
}
