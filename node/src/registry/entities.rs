//! Registering, changing and reviewing responsible entities.
//!
//! ```text
//!   register ──▶ pending ──approve──▶ approved ──(change: free fields)──────────▶ new version
//!                   │                     └──(change: reviewed fields)──▶ pending change
//!                   └──reject(reason)──▶ rejected ──resubmit──▶ pending          │approve
//!                                                                                ▼
//!   same code from another tenant ──▶ duplicate claim (review) ──approve──▶ new version, new owner
//! ```
//!
//! Rules kept here: the entity code is unique in the node; an approved version stays in force
//! while a change to reviewed fields waits; every version is kept; every approved change is
//! appended to the outbox with the next sequence number; every step writes its audit row.

use std::collections::BTreeSet;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{EntityData, EntityInput, EntityRow, ValidationContext, FIELDS, REVIEWED_BY_DEFAULT};
use super::outbox;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{entities, entity_categories, entity_versions, registry_changes, tenant_field_policies};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::TenantId;

/// What a registration led to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Registered {
    /// A new entity, pending review.
    Created {
        /// The entity.
        entity: Box<super::model::Entity>,
    },
    /// The code is registered by another tenant: the submission waits for review as a
    /// duplicate claim.
    DuplicateClaim {
        /// The change awaiting review.
        change_id: String,
        /// The existing entity.
        entity_id: String,
    },
}

/// What a change led to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Changed {
    /// The entity as now in force.
    pub entity: super::model::Entity,
    /// Fields applied at once.
    pub applied: Vec<String>,
    /// Fields waiting for review, in this pending change.
    pub pending_change_id: Option<String>,
    /// Fields waiting for review.
    pub pending_fields: Vec<String>,
}

/// One version of an entity.
#[derive(Debug, Clone, Serialize, Queryable, utoipa::ToSchema)]
pub struct EntityVersion {
    /// Version number.
    pub version: i32,
    /// Content (JSON).
    pub data: String,
    /// Who made it.
    pub actor: String,
    /// What happened.
    pub note: String,
    /// When (UTC).
    pub created_at: chrono::NaiveDateTime,
}

/// A pending change or duplicate claim.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = registry_changes)]
pub struct Change {
    /// Id.
    pub id: String,
    /// `entity`.
    pub object_kind: String,
    /// The entity.
    pub object_id: String,
    /// The submitting tenant.
    pub tenant_id: String,
    /// `update` or `duplicate_claim`.
    pub change_kind: String,
    /// Proposed content (JSON).
    pub data: String,
    /// Fields concerned (JSON array).
    pub fields: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Reason of a rejection.
    pub reason: String,
    /// Submitted by.
    pub submitted_by: String,
    /// Submitted (UTC).
    pub submitted_at: chrono::NaiveDateTime,
    /// Reviewed by.
    pub reviewed_by: Option<String>,
    /// Reviewed (UTC).
    pub reviewed_at: Option<chrono::NaiveDateTime>,
}

/// A review decision.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Approve (`true`) or reject (`false`).
    pub approve: bool,
    /// Required when rejecting, at most 200 characters.
    #[serde(default)]
    pub reason: String,
}

/// A tenant's change policy for one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldPolicy {
    /// One of the entity fields.
    pub field: String,
    /// `free` (applied at once) or `review`.
    pub mode: String,
}

/// The row of entity `id`.
pub fn row(conn: &mut DbConnection, id: &str) -> AppResult<EntityRow> {
    entities::table
        .find(id)
        .select(EntityRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("追溯责任主体", "entity"))
}

/// The row with `code`, if any.
pub fn row_by_code(conn: &mut DbConnection, code: &str) -> AppResult<Option<EntityRow>> {
    Ok(entities::table.filter(entities::code.eq(code)).select(EntityRow::as_select()).first(conn).optional()?)
}

fn write_categories(conn: &mut DbConnection, id: &str, categories: &[String]) -> AppResult<()> {
    diesel::delete(entity_categories::table.filter(entity_categories::entity_id.eq(id))).execute(conn)?;
    for c in categories {
        diesel::insert_into(entity_categories::table)
            .values((entity_categories::entity_id.eq(id), entity_categories::category_code.eq(c)))
            .execute(conn)?;
    }
    Ok(())
}

/// Moves the version in force into the history before it is superseded.
fn keep_superseded(conn: &mut DbConnection, row: &EntityRow) -> AppResult<()> {
    diesel::insert_into(entity_versions::table)
        .values((
            entity_versions::entity_id.eq(&row.id),
            entity_versions::version.eq(row.version),
            entity_versions::data.eq(serde_json::to_string(&row.data()).map_err(AppError::internal)?),
            entity_versions::actor.eq(&row.version_actor),
            entity_versions::note.eq(&row.version_note),
            entity_versions::created_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

fn create_change(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    entity_id: &str,
    tenant: &TenantId,
    kind: &str,
    data: &EntityData,
    fields: &BTreeSet<&str>,
) -> AppResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(registry_changes::table)
        .values((
            registry_changes::id.eq(&id),
            registry_changes::object_kind.eq("entity"),
            registry_changes::object_id.eq(entity_id),
            registry_changes::tenant_id.eq(tenant.as_str()),
            registry_changes::change_kind.eq(kind),
            registry_changes::data.eq(serde_json::to_string(data).map_err(AppError::internal)?),
            registry_changes::fields.eq(serde_json::to_string(fields).map_err(AppError::internal)?),
            registry_changes::status.eq("pending"),
            registry_changes::reason.eq(""),
            registry_changes::submitted_by.eq(&ctx.actor),
            registry_changes::submitted_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Puts a submission whose code another tenant registered to review (no audit row: the caller
/// audits the registration it belongs to).
pub fn create_claim(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    entity_id: &str,
    tenant: &TenantId,
    data: &EntityData,
    fields: &BTreeSet<&str>,
) -> AppResult<String> {
    create_change(conn, ctx, entity_id, tenant, "duplicate_claim", data, fields)
}

/// Registers one entity for `tenant`. A code already registered by the same tenant is a
/// conflict; by another tenant, a duplicate claim for review.
pub fn register(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    input: &EntityInput,
    cx: &ValidationContext,
) -> AppResult<Registered> {
    let data = super::model::validate(conn, input, cx)?;
    if let Some(existing) = row_by_code(conn, &data.code)? {
        if existing.tenant_id == tenant.as_str() {
            return Err(AppError::conflict(
                format!("统一社会信用代码 {} 已由本租户登记，请修改原登记", data.code),
                format!("code {} is already registered by this tenant: change that registration instead", data.code),
            ));
        }
        let fields: BTreeSet<&str> = FIELDS.into_iter().collect();
        let change_id = create_change(conn, ctx, &existing.id, tenant, "duplicate_claim", &data, &fields)?;
        audit::record(
            conn,
            ctx,
            "entity.duplicate_claim",
            &format!("entity:{}", data.code),
            Outcome::Success,
            serde_json::json!({"change_id": change_id, "owner": existing.tenant_id}),
        )?;
        return Ok(Registered::DuplicateClaim { change_id, entity_id: existing.id });
    }
    let id = uuid::Uuid::now_v7().to_string();
    let row = EntityRow::new(id.clone(), tenant, &data, "pending", &ctx.actor, "registered", crate::db::now());
    diesel::insert_into(entities::table).values(&row).execute(conn)?;
    write_categories(conn, &id, &data.categories)?;
    audit::record(
        conn,
        ctx,
        "entity.register",
        &format!("entity:{}", data.code),
        Outcome::Success,
        serde_json::json!({"id": id}),
    )?;
    Ok(Registered::Created { entity: Box::new(row.view()) })
}

/// The fields a tenant may change without review.
pub fn free_fields(conn: &mut DbConnection, tenant: &TenantId) -> AppResult<BTreeSet<&'static str>> {
    let rows: Vec<(String, String)> = tenant_field_policies::table
        .filter(tenant_field_policies::tenant_id.eq(tenant.as_str()))
        .filter(tenant_field_policies::object_kind.eq("entity"))
        .select((tenant_field_policies::field, tenant_field_policies::mode))
        .load(conn)?;
    Ok(FIELDS
        .into_iter()
        .filter(|f| match rows.iter().find(|(field, _)| field == f) {
            Some((_, mode)) => mode == "free",
            None => !REVIEWED_BY_DEFAULT.contains(f),
        })
        .collect())
}

/// A tenant's policy for every field.
pub fn policies(conn: &mut DbConnection, tenant: &TenantId) -> AppResult<Vec<FieldPolicy>> {
    let free = free_fields(conn, tenant)?;
    Ok(FIELDS
        .into_iter()
        .map(|f| FieldPolicy { field: f.to_owned(), mode: if free.contains(f) { "free" } else { "review" }.to_owned() })
        .collect())
}

/// Replaces a tenant's policies.
pub fn set_policies(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    list: &[FieldPolicy],
) -> AppResult<Vec<FieldPolicy>> {
    for p in list {
        if !FIELDS.contains(&p.field.as_str()) {
            return Err(AppError::invalid(
                "field",
                format!("未知字段 {}", p.field),
                format!("unknown field {}", p.field),
            ));
        }
        if p.mode != "free" && p.mode != "review" {
            return Err(AppError::invalid("mode", "模式只能是 free 或 review", "mode must be free or review"));
        }
    }
    diesel::delete(
        tenant_field_policies::table
            .filter(tenant_field_policies::tenant_id.eq(tenant.as_str()))
            .filter(tenant_field_policies::object_kind.eq("entity")),
    )
    .execute(conn)?;
    for p in list {
        diesel::insert_into(tenant_field_policies::table)
            .values((
                tenant_field_policies::tenant_id.eq(tenant.as_str()),
                tenant_field_policies::object_kind.eq("entity"),
                tenant_field_policies::field.eq(&p.field),
                tenant_field_policies::mode.eq(&p.mode),
            ))
            .execute(conn)?;
    }
    audit::record(
        conn,
        ctx,
        "registry.policy",
        &format!("tenant:{tenant}"),
        Outcome::Success,
        serde_json::to_value(list).unwrap_or_default(),
    )?;
    policies(conn, tenant)
}

/// Writes `data` as the next version of `row`, with categories, and sends it upward when the
/// entity is approved.
fn apply_version(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    row: &EntityRow,
    data: &EntityData,
    status: &str,
    tenant: &str,
    note: &str,
) -> AppResult<EntityRow> {
    keep_superseded(conn, row)?;
    let version = row.version + 1;
    let mut next = EntityRow::new(
        row.id.clone(),
        &TenantId::from_db(tenant.to_owned()),
        data,
        status,
        &ctx.actor,
        note,
        crate::db::now(),
    );
    next.version = version;
    next.created_at = row.created_at;
    diesel::update(entities::table.find(&row.id))
        .set((
            entities::tenant_id.eq(&next.tenant_id),
            entities::name.eq(&next.name),
            entities::kind.eq(&next.kind),
            entities::region.eq(&next.region),
            entities::region_province.eq(&next.region_province),
            entities::region_city.eq(&next.region_city),
            entities::address.eq(&next.address),
            entities::longitude.eq(next.longitude),
            entities::latitude.eq(next.latitude),
            entities::contact_person.eq(&next.contact_person),
            entities::contact_phone.eq(&next.contact_phone),
            entities::stages.eq(next.stages),
            entities::categories.eq(&next.categories),
            entities::site_id.eq(&next.site_id),
            entities::merchant_code.eq(&next.merchant_code),
            entities::merchant_type.eq(&next.merchant_type),
            entities::varieties.eq(&next.varieties),
            entities::filed_at.eq(next.filed_at),
            entities::status.eq(status),
            entities::status_reason.eq(""),
            entities::version.eq(version),
            entities::version_actor.eq(&next.version_actor),
            entities::version_note.eq(&next.version_note),
            entities::updated_at.eq(next.updated_at),
        ))
        .execute(conn)?;
    write_categories(conn, &row.id, &data.categories)?;
    if status == "approved" {
        outbox::append_entity(conn, &next)?;
    }
    Ok(next)
}

/// Changes an entity owned by `tenant`: free fields apply at once, reviewed fields wait in a
/// pending change. A registration that was never approved is simply resubmitted.
pub fn change(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    id: &str,
    input: &EntityInput,
    cx: &ValidationContext,
) -> AppResult<Changed> {
    let current = row(conn, id)?;
    if current.tenant_id != tenant.as_str() {
        return Err(AppError::with_detail(
            ErrorKind::Forbidden,
            "只能修改本租户登记的主体",
            "you may only change your own tenant's entities",
        ));
    }
    let mut proposed = super::model::validate(conn, input, cx)?;
    if input.filed_at.is_none() {
        // The filing time is set at registration; a change that does not name one keeps it.
        proposed.filed_at = current.filed_at;
    }
    if proposed.code != current.code {
        return Err(AppError::invalid("code", "统一社会信用代码不能修改", "the code of an entity cannot change"));
    }
    let changed = current.data().changed_fields(&proposed);
    if changed.is_empty() {
        return Ok(Changed {
            entity: current.view(),
            applied: vec![],
            pending_change_id: None,
            pending_fields: vec![],
        });
    }
    if current.status != "approved" {
        let next = apply_version(conn, ctx, &current, &proposed, "pending", &current.tenant_id, "resubmitted")?;
        audit::record(
            conn,
            ctx,
            "entity.resubmit",
            &format!("entity:{}", current.code),
            Outcome::Success,
            serde_json::json!({"fields": changed}),
        )?;
        return Ok(Changed {
            entity: next.view(),
            applied: changed.iter().map(|s| s.to_string()).collect(),
            pending_change_id: None,
            pending_fields: vec![],
        });
    }
    let pending: i64 = registry_changes::table
        .filter(registry_changes::object_id.eq(id))
        .filter(registry_changes::status.eq("pending"))
        .filter(registry_changes::change_kind.eq("update"))
        .count()
        .get_result(conn)?;
    let free = free_fields(conn, tenant)?;
    let (now, later): (BTreeSet<&str>, BTreeSet<&str>) = changed.iter().partition(|f| free.contains(*f));
    if !later.is_empty() && pending > 0 {
        return Err(AppError::conflict(
            "该主体已有待审核的变更，请等待审核后再提交",
            "a change of this entity is already waiting for review",
        ));
    }
    let entity = if now.is_empty() {
        current.clone()
    } else {
        let data = current.data().with_fields_from(&proposed, &now);
        apply_version(conn, ctx, &current, &data, "approved", &current.tenant_id, "changed")?
    };
    let pending_change_id =
        if later.is_empty() { None } else { Some(create_change(conn, ctx, id, tenant, "update", &proposed, &later)?) };
    audit::record(
        conn,
        ctx,
        "entity.change",
        &format!("entity:{}", current.code),
        Outcome::Success,
        serde_json::json!({"applied": now, "pending": later, "change_id": pending_change_id}),
    )?;
    Ok(Changed {
        entity: entity.view(),
        applied: now.iter().map(|s| s.to_string()).collect(),
        pending_change_id,
        pending_fields: later.iter().map(|s| s.to_string()).collect(),
    })
}

fn check_reason(d: &Decision) -> AppResult<String> {
    let reason = d.reason.trim().to_owned();
    if !d.approve && reason.is_empty() {
        return Err(AppError::invalid("reason", "驳回时必须填写理由", "a rejection needs a reason"));
    }
    if reason.chars().count() > 200 {
        return Err(AppError::invalid("reason", "理由不能超过200个字符", "the reason must be at most 200 characters"));
    }
    Ok(reason)
}

/// Approves or rejects a pending registration.
pub fn review(conn: &mut DbConnection, ctx: &AuditContext, id: &str, d: &Decision) -> AppResult<super::model::Entity> {
    let reason = check_reason(d)?;
    let current = row(conn, id)?;
    if current.status != "pending" {
        return Err(AppError::conflict("该主体不在待审核状态", "the entity is not waiting for review"));
    }
    let status = if d.approve { "approved" } else { "rejected" };
    diesel::update(entities::table.find(id))
        .set((
            entities::status.eq(status),
            entities::status_reason.eq(&reason),
            entities::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    let updated = row(conn, id)?;
    if d.approve {
        outbox::append_entity(conn, &updated)?;
    }
    audit::record(
        conn,
        ctx,
        if d.approve { "entity.approve" } else { "entity.reject" },
        &format!("entity:{}", current.code),
        Outcome::Success,
        serde_json::json!({"version": current.version, "reason": reason}),
    )?;
    Ok(updated.view())
}

/// The change with `id`.
pub fn change_by_id(conn: &mut DbConnection, id: &str) -> AppResult<Change> {
    registry_changes::table
        .find(id)
        .select(Change::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("变更", "change"))
}

/// Approves or rejects a pending change or duplicate claim.
pub fn review_change(conn: &mut DbConnection, ctx: &AuditContext, change_id: &str, d: &Decision) -> AppResult<Change> {
    let reason = check_reason(d)?;
    let change = change_by_id(conn, change_id)?;
    if change.status != "pending" {
        return Err(AppError::conflict("该变更已审核", "the change was already reviewed"));
    }
    if d.approve {
        let current = row(conn, &change.object_id)?;
        let proposed: EntityData = serde_json::from_str(&change.data).map_err(AppError::internal)?;
        let fields: BTreeSet<String> = serde_json::from_str(&change.fields).map_err(AppError::internal)?;
        let fields: BTreeSet<&str> = fields.iter().map(String::as_str).collect();
        let (data, owner, note) = if change.change_kind == "duplicate_claim" {
            (proposed, change.tenant_id.clone(), "duplicate claim approved: ownership transferred")
        } else {
            (current.data().with_fields_from(&proposed, &fields), current.tenant_id.clone(), "change approved")
        };
        apply_version(conn, ctx, &current, &data, "approved", &owner, note)?;
    }
    let status = if d.approve { "approved" } else { "rejected" };
    diesel::update(registry_changes::table.find(change_id))
        .set((
            registry_changes::status.eq(status),
            registry_changes::reason.eq(&reason),
            registry_changes::reviewed_by.eq(Some(&ctx.actor)),
            registry_changes::reviewed_at.eq(Some(crate::db::now())),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        if d.approve { "entity.change_approve" } else { "entity.change_reject" },
        &format!("change:{change_id}"),
        Outcome::Success,
        serde_json::json!({"entity": change.object_id, "kind": change.change_kind, "reason": reason}),
    )?;
    change_by_id(conn, change_id)
}

/// Pending changes and claims, oldest first; a tenant sees only its own and those on its
/// entities.
pub fn pending_changes(conn: &mut DbConnection, tenant: Option<&TenantId>) -> AppResult<Vec<Change>> {
    let mut q = registry_changes::table
        .filter(registry_changes::status.eq("pending"))
        .select(Change::as_select())
        .order(registry_changes::submitted_at.asc())
        .into_boxed();
    if let Some(t) = tenant {
        q = q.filter(registry_changes::tenant_id.eq(t.as_str()));
    }
    Ok(q.limit(500).load(conn)?)
}

/// Every version of an entity, oldest first: the superseded ones from the history and the one
/// in force from the entity itself.
pub fn versions(conn: &mut DbConnection, id: &str) -> AppResult<Vec<EntityVersion>> {
    let current = row(conn, id)?;
    let mut list: Vec<EntityVersion> = entity_versions::table
        .filter(entity_versions::entity_id.eq(id))
        .select((
            entity_versions::version,
            entity_versions::data,
            entity_versions::actor,
            entity_versions::note,
            entity_versions::created_at,
        ))
        .order(entity_versions::version.asc())
        .load(conn)?;
    list.push(EntityVersion {
        version: current.version,
        data: serde_json::to_string(&current.data()).map_err(AppError::internal)?,
        actor: current.version_actor.clone(),
        note: current.version_note.clone(),
        created_at: current.updated_at,
    });
    Ok(list)
}
