//! Registering and changing responsible entities, under the review rules of
//! [`super::review`].
//!
//! Rules kept here: the entity code is unique in the node, and the same code from another
//! tenant becomes a duplicate claim; the version in force is the `entities` row itself and
//! superseded versions move to `entity_versions`; an entity's categories are its own list and
//! its product families are bits in `category_families`.

pub mod api;
pub mod pages;

use std::collections::BTreeSet;

use diesel::prelude::*;
use serde::Serialize;

use super::model::{EntityData, EntityInput, EntityRow, ValidationContext};
use super::review::{self, Reviewed};
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{entities, entity_versions};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{EntityId, TenantId};

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
        /// The existing entity: another tenant's, so its id is never sent to the claimant.
        #[serde(skip_serializing)]
        entity_id: EntityId,
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

pub use super::review::{Change, Decision, FieldPolicy};

/// The row of entity `id`.
pub fn row(conn: &mut DbConnection, id: &EntityId) -> AppResult<EntityRow> {
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

/// Puts a submission whose code another tenant registered to review (no audit row: the caller
/// audits the registration it belongs to).
pub fn create_claim(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    entity_id: &EntityId,
    tenant: &TenantId,
    data: &EntityData,
    fields: &BTreeSet<&str>,
) -> AppResult<String> {
    review::create_change::<EntityRow>(conn, ctx, entity_id.as_str(), tenant, "duplicate_claim", data, fields)
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
        if existing.tenant_id == *tenant {
            return Err(AppError::conflict(
                format!("统一社会信用代码 {} 已由本租户登记，请修改原登记", data.code),
                format!("code {} is already registered by this tenant: change that registration instead", data.code),
            ));
        }
        let change_id = review::create_claim(conn, ctx, &existing, tenant, &data)?;
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
    let id = EntityId::generate();
    let row = EntityRow::new(
        id.clone(),
        tenant,
        &data,
        crate::registry::review::ReviewStatus::Pending.as_str(),
        &ctx.actor,
        "registered",
        crate::db::now(),
    );
    diesel::insert_into(entities::table).values(&row).execute(conn)?;
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

impl Reviewed for EntityRow {
    const KIND: &'static str = "entity";
    const NOUN_ZH: &'static str = "主体";
    type Data = EntityData;
    type Id = EntityId;

    fn load(conn: &mut DbConnection, id: &EntityId) -> AppResult<Self> {
        row(conn, id)
    }
    fn id(&self) -> &EntityId {
        &self.id
    }
    fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }
    fn code(&self) -> &str {
        &self.code
    }
    fn status(&self) -> &str {
        &self.status
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn data(&self) -> EntityData {
        EntityRow::data(self)
    }

    fn write_version(
        conn: &mut DbConnection,
        actor: &str,
        row: &Self,
        data: &EntityData,
        status: &str,
        tenant: &TenantId,
        note: &str,
    ) -> AppResult<Self> {
        keep_superseded(conn, row)?;
        let version = row.version + 1;
        let mut next = EntityRow::new(row.id.clone(), tenant, data, status, actor, note, crate::db::now());
        next.version = version;
        next.created_at = row.created_at;
        diesel::update(entities::table.find(&row.id))
            .set((
                entities::tenant_id.eq(&next.tenant_id),
                entities::name.eq(&next.name),
                entities::kind.eq(&next.kind),
                entities::region.eq(&next.region),
                entities::category_families.eq(next.category_families),
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
                entities::gln.eq(&next.gln),
                entities::filed_at.eq(next.filed_at),
                entities::status.eq(status),
                entities::status_reason.eq(""),
                entities::version.eq(version),
                entities::version_actor.eq(&next.version_actor),
                entities::version_note.eq(&next.version_note),
                entities::updated_at.eq(next.updated_at),
            ))
            .execute(conn)?;
        Ok(next)
    }

    fn set_status(conn: &mut DbConnection, id: &EntityId, status: &str, reason: &str) -> AppResult<()> {
        diesel::update(entities::table.find(id))
            .set((
                entities::status.eq(status),
                entities::status_reason.eq(reason),
                entities::updated_at.eq(crate::db::now()),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// Changes an entity owned by `tenant` (see [`review::change`]). A change that names no filing
/// time keeps the one set at registration; the code cannot change.
pub fn change(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    id: &EntityId,
    input: &EntityInput,
    cx: &ValidationContext,
) -> AppResult<Changed> {
    let current = row(conn, id)?;
    if current.tenant_id != *tenant {
        return Err(AppError::with_detail(
            ErrorKind::Forbidden,
            "只能修改本租户登记的主体",
            "you may only change your own tenant's entities",
        ));
    }
    let mut proposed = super::model::validate(conn, input, cx)?;
    if input.filed_at.is_none() {
        proposed.filed_at = current.filed_at;
    }
    if proposed.code != current.code {
        return Err(AppError::invalid("code", "统一社会信用代码不能修改", "the code of an entity cannot change"));
    }
    let (in_force, outcome) = review::change(conn, ctx, tenant, current, &proposed)?;
    Ok(Changed {
        entity: in_force.view(),
        applied: outcome.applied,
        pending_change_id: outcome.pending_change_id,
        pending_fields: outcome.pending_fields,
    })
}

/// Approves or rejects a pending registration.
pub fn review(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    id: &EntityId,
    d: &Decision,
) -> AppResult<super::model::Entity> {
    Ok(review::review::<EntityRow>(conn, ctx, id, d)?.view())
}

/// Every version of an entity, oldest first: the superseded ones from the history and the one
/// in force from the entity itself.
pub fn versions(conn: &mut DbConnection, id: &EntityId) -> AppResult<Vec<EntityVersion>> {
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
