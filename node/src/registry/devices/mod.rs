//! Devices (设备信息注册): scales, scanners, traceability terminals and other equipment that
//! records trace data, each with a validated MAC address (unique in the node), belonging to an
//! entity of a tenant — or to a tenant itself, as the devices a government department of the
//! node runs do — and optionally a site. A registered device is in force at once and goes to
//! the outbox for the roll-ups.

pub mod api;
pub mod pages;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_adapters::identifiers::MacAddress;

use super::model::text;
use super::outbox;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{devices, sites};
use crate::db::{DbConnection, Undo};
use crate::error::{AppError, AppResult};
use crate::ids::{DeviceId, EntityId, SiteId, TenantId};

/// Kinds of device, with their Chinese names.
pub const DEVICE_TYPES: [(&str, &str); 7] = [
    ("scale", "电子秤"),
    ("scanner", "扫码枪"),
    ("terminal", "追溯终端"),
    ("printer", "标签打印机"),
    ("sensor", "温湿度传感器"),
    ("camera", "摄像头"),
    ("other", "其他"),
];

/// A device as submitted.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInput {
    /// The owning entity's id; absent for a device of a tenant itself.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// The owning tenant, for a device of a tenant itself (a tenant's own caller: its tenant).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Code of the site it stands in, if any (the entity's tenant's site).
    pub site_code: Option<String>,
    /// One of `scale`, `scanner`, `terminal`, `printer`, `sensor`, `camera`, `other`.
    pub device_type: String,
    /// Model, 1–50 characters.
    pub model: String,
    /// MAC address, e.g. `00:1A:2B:3C:4D:5E` (also `-` or no separators).
    pub mac: String,
    /// Serial number, 1–64 characters.
    pub serial_number: String,
}

/// A stored device.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, Insertable, utoipa::ToSchema)]
#[diesel(table_name = devices, treat_none_as_default_value = false)]
pub struct Device {
    /// Id.
    pub id: DeviceId,
    /// Owning tenant (the entity's).
    pub tenant_id: TenantId,
    /// Owning entity; none for a device of the tenant itself.
    pub entity_id: Option<EntityId>,
    /// Site.
    pub site_id: Option<SiteId>,
    /// Kind.
    pub device_type: String,
    /// Model.
    pub model: String,
    /// MAC address, canonical form.
    pub mac: String,
    /// Serial number.
    pub serial_number: String,
    /// Registered (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Updated (UTC).
    pub updated_at: chrono::NaiveDateTime,
}

/// Who a device belongs to, already checked to be within the caller's reach.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// An entity (of its tenant).
    Entity(&'a super::model::EntityRow),
    /// A tenant itself.
    Tenant(&'a crate::tenants::Tenant),
}

impl Owner<'_> {
    fn tenant_id(&self) -> &TenantId {
        match self {
            Owner::Entity(e) => &e.tenant_id,
            Owner::Tenant(t) => &t.id,
        }
    }

    fn entity_id(&self) -> Option<EntityId> {
        match self {
            Owner::Entity(e) => Some(e.id.clone()),
            Owner::Tenant(_) => None,
        }
    }
}

/// Registers a device of `owner`.
pub fn register(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    owner: Owner<'_>,
    input: &DeviceInput,
) -> AppResult<Device> {
    if !DEVICE_TYPES.iter().any(|(t, _)| *t == input.device_type) {
        return Err(AppError::invalid("device_type", "未知的设备类型", "unknown device type"));
    }
    let mac = MacAddress::parse(&input.mac).map_err(|e| AppError::from_identifier("mac", "", "", &e))?;
    let model = text("model", &input.model, 50, true)?;
    let serial_number = text("serial_number", &input.serial_number, 64, true)?;
    let site_id = match input.site_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(code) => {
            let found: Option<(SiteId, TenantId)> = sites::table
                .filter(sites::code.eq(code))
                .select((sites::id, sites::tenant_id))
                .first(conn)
                .optional()?;
            match found {
                Some((id, tenant)) if &tenant == owner.tenant_id() => Some(id),
                _ => {
                    return Err(AppError::invalid(
                        "site_code",
                        format!("节点 {code} 不存在或不属于该设备所属的租户"),
                        format!("site {code} does not exist or belongs to another tenant"),
                    ))
                }
            }
        }
    };
    let taken: i64 = devices::table.filter(devices::mac.eq(mac.as_str())).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::conflict(
            format!("MAC地址 {mac} 已登记"),
            format!("MAC address {mac} is already registered"),
        ));
    }
    let now = crate::db::now();
    let device = Device {
        id: DeviceId::generate(),
        tenant_id: owner.tenant_id().clone(),
        entity_id: owner.entity_id(),
        site_id,
        device_type: input.device_type.clone(),
        model,
        mac: mac.as_str().to_owned(),
        serial_number,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(devices::table).values(&device).execute(conn)?;
    outbox::append_device(conn, &device)?;
    audit::record(
        conn,
        ctx,
        "device.register",
        &format!("device:{}", device.mac),
        Outcome::Success,
        serde_json::json!({"entity": device.entity_id, "tenant": device.tenant_id}),
    )?;
    Ok(device)
}

/// Devices one page lists.
pub const PAGE: i64 = 100;

/// Devices of `tenants` (every tenant when `None`), of one type when `device_type` is set,
/// newest first: page `page` (from 1) of [`PAGE`] and the total.
pub fn list(
    conn: &mut DbConnection,
    tenants: Option<&[TenantId]>,
    device_type: Option<&str>,
    page: i64,
) -> AppResult<(Vec<Device>, i64)> {
    let filtered = || {
        let mut q = devices::table.into_boxed();
        if let Some(ts) = tenants {
            q = q.filter(devices::tenant_id.eq_any(ts.to_vec()));
        }
        if let Some(t) = device_type.filter(|t| !t.is_empty()) {
            q = q.filter(devices::device_type.eq(t.to_owned()));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((devices::created_at.desc(), devices::id.desc()))
        .limit(PAGE)
        .offset((page.max(1) - 1).saturating_mul(PAGE))
        .select(Device::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// The devices of an entity, newest first.
pub fn of_entity(conn: &mut DbConnection, entity_id: &EntityId) -> AppResult<Vec<Device>> {
    Ok(devices::table
        .filter(devices::entity_id.eq(entity_id))
        .select(Device::as_select())
        .order(devices::created_at.desc())
        .limit(1000)
        .load(conn)?)
}

/// A batch of devices.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceBatch {
    /// `atomic` or `best_effort`.
    pub mode: super::bulk::BulkMode,
    /// Validate and report only; store nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The devices (at most 10,000).
    pub devices: Vec<DeviceInput>,
}

/// The most devices one request may carry.
pub const MAX_DEVICE_BATCH: usize = 10_000;

/// Registers a batch of devices: each one is checked like a single registration (its entity
/// must exist and lie within `reaches`); the receipt names every rejected record by index,
/// field and reason. An atomic batch with a rejection, or a dry run, stores nothing.
pub fn register_batch(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    reaches: &dyn Fn(&super::model::EntityRow) -> bool,
    batch: &DeviceBatch,
) -> AppResult<super::bulk::Receipt> {
    use super::bulk::{BulkMode, Receipt, Rejection};
    if batch.devices.len() > MAX_DEVICE_BATCH {
        return Err(AppError::invalid(
            "devices",
            format!("每批最多{MAX_DEVICE_BATCH}台设备，本批{}台", batch.devices.len()),
            format!("at most {MAX_DEVICE_BATCH} devices a batch, got {}", batch.devices.len()),
        ));
    }
    let mut rejected = Vec::new();
    let mut accepted = 0;
    let stored = conn.transaction::<bool, Undo, _>(|conn| {
        for (index, input) in batch.devices.iter().enumerate() {
            let one = conn.transaction::<Device, AppError, _>(|conn| {
                let named = input.entity_id.as_deref().ok_or_else(|| {
                    AppError::invalid(
                        "entity_id",
                        "批量登记须指定所属主体",
                        "a bulk registration names each device's entity",
                    )
                })?;
                let id = EntityId::parse(named)?;
                let owner = super::entities::row(conn, &id).ok().filter(|e| reaches(e)).ok_or_else(|| {
                    AppError::invalid(
                        "entity_id",
                        format!("主体 {named} 不存在或不在您的数据范围内"),
                        format!("entity {named} does not exist or is outside your reach"),
                    )
                })?;
                register(conn, ctx, Owner::Entity(&owner), input)
            });
            match one {
                Ok(_) => accepted += 1,
                Err(e) if e.is_for_the_form() => {
                    rejected.push(Rejection { index, field: e.field, reason_zh: e.detail_zh, reason: e.detail_en })
                }
                Err(e) => return Err(Undo::Failed(e)),
            }
        }
        if batch.dry_run || (batch.mode == BulkMode::Atomic && !rejected.is_empty()) {
            return Err(Undo::Refused(()));
        }
        Ok(true)
    });
    let stored = match stored {
        Ok(s) => s,
        Err(Undo::Refused(())) => false,
        Err(Undo::Failed(e)) => return Err(e),
    };
    if !batch.dry_run {
        audit::record(
            conn,
            ctx,
            "device.bulk_register",
            "devices",
            if stored { Outcome::Success } else { Outcome::Failure },
            serde_json::json!({"received": batch.devices.len(), "accepted": if stored { accepted } else { 0 }, "rejected": rejected.len()}),
        )?;
    }
    Ok(Receipt {
        received: batch.devices.len(),
        accepted: if stored { accepted } else { 0 },
        stored,
        rejected,
        duplicates: vec![],
        unchanged: vec![],
    })
}
