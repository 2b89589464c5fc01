//! Review, versions and change policies, shared by everything the registry reviews
//! (responsible entities and product registrations).
//!
//! ```text
//!   register ──▶ pending ──approve──▶ approved ──(change: free fields)──────────▶ new version
//!                   │                     └──(change: reviewed fields)──▶ pending change
//!                   └──reject(reason)──▶ rejected ──resubmit──▶ pending          │approve
//!                                                                                ▼
//!   same code from another tenant ──▶ duplicate claim (review) ──approve──▶ new version, new owner
//! ```
//!
//! Rules kept here: an approved version stays in force while a change to reviewed fields
//! waits; every version is kept; every approved version goes to the outbox; every step writes
//! its audit row. Which fields a tenant may change freely is a per-tenant policy per kind.

pub mod api;
pub mod pages;

use std::collections::BTreeSet;

use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{registry_changes, tenant_field_policies};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{Identifier, TenantId};

/// Where a registration (an entity, a product) or a change stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    /// Waiting for a reviewer.
    Pending,
    /// Approved: in force.
    Approved,
    /// Rejected, with a reason.
    Rejected,
}

impl ReviewStatus {
    /// Every status, in the order of the review.
    pub const ALL: [ReviewStatus; 3] = [ReviewStatus::Pending, ReviewStatus::Approved, ReviewStatus::Rejected];

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<ReviewStatus> {
        ReviewStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "待审核",
            ReviewStatus::Approved => "已通过",
            ReviewStatus::Rejected => "已驳回",
        }
    }

    /// The status of a decision.
    pub fn of_decision(approve: bool) -> ReviewStatus {
        if approve {
            ReviewStatus::Approved
        } else {
            ReviewStatus::Rejected
        }
    }
}

/// Content whose fields a change names.
pub trait Fields: Clone + Serialize + DeserializeOwned {
    /// The fields a change can touch, as tenants' change policies name them.
    const FIELDS: &'static [&'static str];
    /// Fields that need review unless a tenant's policy frees them.
    const REVIEWED_BY_DEFAULT: &'static [&'static str];
    /// The fields in which `other` differs from `self`.
    fn changed_fields(&self, other: &Self) -> BTreeSet<&'static str>;
    /// `self` with the fields in `fields` taken from `other`.
    fn with_fields_from(&self, other: &Self, fields: &BTreeSet<&str>) -> Self;
}

/// A stored, reviewed registration.
pub trait Reviewed: Sized {
    /// `entity` or `product`: how changes, policies, the outbox and audit rows name the kind.
    const KIND: &'static str;
    /// The Chinese noun for messages (追溯责任主体, 产品).
    const NOUN_ZH: &'static str;
    /// The validated content.
    type Data: Fields;
    /// Its kind of id.
    type Id: Identifier;

    /// The row with `id`.
    fn load(conn: &mut DbConnection, id: &Self::Id) -> AppResult<Self>;
    /// Its id.
    fn id(&self) -> &Self::Id;
    /// Its owning tenant.
    fn tenant_id(&self) -> &TenantId;
    /// Its code, for audit targets.
    fn code(&self) -> &str;
    /// `pending`, `approved` or `rejected`.
    fn status(&self) -> &str;
    /// The version in force.
    fn version(&self) -> i32;
    /// The content in force.
    fn data(&self) -> Self::Data;
    /// Keeps the version in force in the history and writes `data` as the next version with
    /// `status`, owned by `tenant`.
    fn write_version(
        conn: &mut DbConnection,
        actor: &str,
        current: &Self,
        data: &Self::Data,
        status: &str,
        tenant: &TenantId,
        note: &str,
    ) -> AppResult<Self>;
    /// Sets the review status and reason of the version in force.
    fn set_status(conn: &mut DbConnection, id: &Self::Id, status: &str, reason: &str) -> AppResult<()>;
    /// Appends the approved row to the outbox.
    fn send_upward(conn: &mut DbConnection, row: &Self) -> AppResult<()> {
        super::outbox::append_versioned(
            conn,
            Self::KIND,
            row.id().text(),
            row.tenant_id().as_str(),
            row.version(),
            &row.data(),
        )?;
        Ok(())
    }
}

/// What a change led to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangeOutcome {
    /// Fields applied at once.
    pub applied: Vec<String>,
    /// Fields waiting for review, in this pending change.
    pub pending_change_id: Option<String>,
    /// Fields waiting for review.
    pub pending_fields: Vec<String>,
}

/// A pending change or duplicate claim.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = registry_changes)]
pub struct Change {
    /// Id.
    pub id: String,
    /// `entity` or `product`.
    pub object_kind: String,
    /// The entity or product.
    pub object_id: String,
    /// The submitting tenant.
    pub tenant_id: TenantId,
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
#[schema(as = ReviewDecision)]
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
    /// One of the fields of the kind.
    pub field: String,
    /// `free` (applied at once) or `review`.
    pub mode: String,
}

/// The kinds of reviewed registration, for callers that choose one at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Responsible entities.
    Entity,
    /// Product registrations.
    Product,
}

/// A tenant's policy for every field of `kind`.
pub fn policies_of(conn: &mut DbConnection, kind: Kind, tenant: &TenantId) -> AppResult<Vec<FieldPolicy>> {
    match kind {
        Kind::Entity => policies::<super::model::EntityRow>(conn, tenant),
        Kind::Product => policies::<super::products::ProductRow>(conn, tenant),
    }
}

/// Replaces a tenant's policies for `kind`.
pub fn set_policies_of(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    kind: Kind,
    tenant: &TenantId,
    list: &[FieldPolicy],
) -> AppResult<Vec<FieldPolicy>> {
    match kind {
        Kind::Entity => set_policies::<super::model::EntityRow>(conn, ctx, tenant, list),
        Kind::Product => set_policies::<super::products::ProductRow>(conn, ctx, tenant, list),
    }
}

/// Records `tenant`'s claim to `existing`, another tenant's registration of the same code,
/// for review: every field of `data` is proposed. Returns the change's id.
pub fn create_claim<R: Reviewed>(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    existing: &R,
    tenant: &TenantId,
    data: &R::Data,
) -> AppResult<String> {
    let fields: BTreeSet<&str> = R::Data::FIELDS.iter().copied().collect();
    create_change::<R>(conn, ctx, existing.id().text(), tenant, "duplicate_claim", data, &fields)
}

/// Records a pending change or claim on `object_id`; returns its id.
pub fn create_change<R: Reviewed>(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    object_id: &str,
    tenant: &TenantId,
    kind: &str,
    data: &R::Data,
    fields: &BTreeSet<&str>,
) -> AppResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(registry_changes::table)
        .values((
            registry_changes::id.eq(&id),
            registry_changes::object_kind.eq(R::KIND),
            registry_changes::object_id.eq(object_id),
            registry_changes::tenant_id.eq(tenant.as_str()),
            registry_changes::change_kind.eq(kind),
            registry_changes::data.eq(serde_json::to_string(data).map_err(AppError::internal)?),
            registry_changes::fields.eq(serde_json::to_string(fields).map_err(AppError::internal)?),
            registry_changes::status.eq(ReviewStatus::Pending.as_str()),
            registry_changes::reason.eq(""),
            registry_changes::submitted_by.eq(&ctx.actor),
            registry_changes::submitted_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The fields of kind `R` a tenant may change without review.
pub fn free_fields<R: Reviewed>(conn: &mut DbConnection, tenant: &TenantId) -> AppResult<BTreeSet<&'static str>> {
    let rows: Vec<(String, String)> = tenant_field_policies::table
        .filter(tenant_field_policies::tenant_id.eq(tenant.as_str()))
        .filter(tenant_field_policies::object_kind.eq(R::KIND))
        .select((tenant_field_policies::field, tenant_field_policies::mode))
        .load(conn)?;
    Ok(<R::Data as Fields>::FIELDS
        .iter()
        .copied()
        .filter(|f| match rows.iter().find(|(field, _)| field == f) {
            Some((_, mode)) => mode == "free",
            None => !<R::Data as Fields>::REVIEWED_BY_DEFAULT.contains(f),
        })
        .collect())
}

/// A tenant's policy for every field of kind `R`.
pub fn policies<R: Reviewed>(conn: &mut DbConnection, tenant: &TenantId) -> AppResult<Vec<FieldPolicy>> {
    let free = free_fields::<R>(conn, tenant)?;
    Ok(<R::Data as Fields>::FIELDS
        .iter()
        .map(|f| FieldPolicy {
            field: (*f).to_owned(),
            mode: if free.contains(f) { "free" } else { "review" }.to_owned(),
        })
        .collect())
}

/// Replaces a tenant's policies for kind `R`.
pub fn set_policies<R: Reviewed>(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    list: &[FieldPolicy],
) -> AppResult<Vec<FieldPolicy>> {
    for p in list {
        if !<R::Data as Fields>::FIELDS.contains(&p.field.as_str()) {
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
            .filter(tenant_field_policies::object_kind.eq(R::KIND)),
    )
    .execute(conn)?;
    for p in list {
        diesel::insert_into(tenant_field_policies::table)
            .values((
                tenant_field_policies::tenant_id.eq(tenant.as_str()),
                tenant_field_policies::object_kind.eq(R::KIND),
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
        serde_json::json!({"kind": R::KIND, "policies": list}),
    )?;
    policies::<R>(conn, tenant)
}

fn next_version<R: Reviewed>(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    current: &R,
    data: &R::Data,
    status: &str,
    tenant: &TenantId,
    note: &str,
) -> AppResult<R> {
    let next = R::write_version(conn, &ctx.actor, current, data, status, tenant, note)?;
    if status == ReviewStatus::Approved.as_str() {
        R::send_upward(conn, &next)?;
    }
    Ok(next)
}

/// Changes `current`, owned by `tenant`, to `proposed`: free fields apply at once, reviewed
/// fields wait in a pending change. A registration that was never approved is simply
/// resubmitted. Returns the row in force and what happened.
pub fn change<R: Reviewed>(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    current: R,
    proposed: &R::Data,
) -> AppResult<(R, ChangeOutcome)> {
    if current.tenant_id() != tenant {
        return Err(AppError::with_detail(
            ErrorKind::Forbidden,
            format!("只能修改本租户登记的{}", R::NOUN_ZH),
            format!("you may only change your own tenant's {}s", R::KIND),
        ));
    }
    let changed = current.data().changed_fields(proposed);
    let names = |set: &BTreeSet<&str>| set.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if changed.is_empty() {
        return Ok((current, ChangeOutcome { applied: vec![], pending_change_id: None, pending_fields: vec![] }));
    }
    let target = format!("{}:{}", R::KIND, current.code());
    if current.status() != ReviewStatus::Approved.as_str() {
        let owner = current.tenant_id().clone();
        let next = next_version(conn, ctx, &current, proposed, ReviewStatus::Pending.as_str(), &owner, "resubmitted")?;
        audit::record(
            conn,
            ctx,
            &format!("{}.resubmit", R::KIND),
            &target,
            Outcome::Success,
            serde_json::json!({"fields": changed}),
        )?;
        let applied = names(&changed);
        return Ok((next, ChangeOutcome { applied, pending_change_id: None, pending_fields: vec![] }));
    }
    let pending: i64 = registry_changes::table
        .filter(registry_changes::object_id.eq(current.id().text()))
        .filter(registry_changes::status.eq(ReviewStatus::Pending.as_str()))
        .filter(registry_changes::change_kind.eq("update"))
        .count()
        .get_result(conn)?;
    let free = free_fields::<R>(conn, tenant)?;
    let (now, later): (BTreeSet<&str>, BTreeSet<&str>) = changed.iter().partition(|f| free.contains(*f));
    if !later.is_empty() && pending > 0 {
        return Err(AppError::conflict(
            format!("该{}已有待审核的变更，请等待审核后再提交", R::NOUN_ZH),
            format!("a change of this {} is already waiting for review", R::KIND),
        ));
    }
    let id = current.id().clone();
    let in_force = if now.is_empty() {
        current
    } else {
        let data = current.data().with_fields_from(proposed, &now);
        let owner = current.tenant_id().clone();
        next_version(conn, ctx, &current, &data, ReviewStatus::Approved.as_str(), &owner, "changed")?
    };
    let pending_change_id = if later.is_empty() {
        None
    } else {
        Some(create_change::<R>(conn, ctx, id.text(), tenant, "update", proposed, &later)?)
    };
    audit::record(
        conn,
        ctx,
        &format!("{}.change", R::KIND),
        &target,
        Outcome::Success,
        serde_json::json!({"applied": now, "pending": later, "change_id": pending_change_id}),
    )?;
    Ok((in_force, ChangeOutcome { applied: names(&now), pending_change_id, pending_fields: names(&later) }))
}

/// Checks a decision's reason: required when rejecting, at most 200 characters.
pub fn check_decision(d: &Decision) -> AppResult<()> {
    check_reason(d).map(|_| ())
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
pub fn review<R: Reviewed>(conn: &mut DbConnection, ctx: &AuditContext, id: &R::Id, d: &Decision) -> AppResult<R> {
    let reason = check_reason(d)?;
    let current = R::load(conn, id)?;
    if current.status() != ReviewStatus::Pending.as_str() {
        return Err(AppError::conflict(
            format!("该{}不在待审核状态", R::NOUN_ZH),
            format!("the {} is not waiting for review", R::KIND),
        ));
    }
    let status = ReviewStatus::of_decision(d.approve).as_str();
    R::set_status(conn, id, status, &reason)?;
    let updated = R::load(conn, id)?;
    if d.approve {
        R::send_upward(conn, &updated)?;
    }
    audit::record(
        conn,
        ctx,
        &format!("{}.{}", R::KIND, if d.approve { "approve" } else { "reject" }),
        &format!("{}:{}", R::KIND, current.code()),
        Outcome::Success,
        serde_json::json!({"version": current.version(), "reason": reason}),
    )?;
    Ok(updated)
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

/// Applies an approved change or claim of kind `R`.
fn apply_change<R: Reviewed>(conn: &mut DbConnection, ctx: &AuditContext, change: &Change) -> AppResult<()> {
    let current = R::load(conn, &R::Id::from_stored(change.object_id.clone()))?;
    let proposed: R::Data = serde_json::from_str(&change.data).map_err(AppError::internal)?;
    let fields: BTreeSet<String> = serde_json::from_str(&change.fields).map_err(AppError::internal)?;
    let fields: BTreeSet<&str> = fields.iter().map(String::as_str).collect();
    let (data, owner, note) = if change.change_kind == "duplicate_claim" {
        (proposed, change.tenant_id.clone(), "duplicate claim approved: ownership transferred")
    } else {
        (current.data().with_fields_from(&proposed, &fields), current.tenant_id().clone(), "change approved")
    };
    next_version(conn, ctx, &current, &data, ReviewStatus::Approved.as_str(), &owner, note)?;
    Ok(())
}

/// Approves or rejects a pending change or duplicate claim of any kind.
pub fn review_change(conn: &mut DbConnection, ctx: &AuditContext, change_id: &str, d: &Decision) -> AppResult<Change> {
    let reason = check_reason(d)?;
    let change = change_by_id(conn, change_id)?;
    if change.status != ReviewStatus::Pending.as_str() {
        return Err(AppError::conflict("该变更已审核", "the change was already reviewed"));
    }
    if d.approve {
        match change.object_kind.as_str() {
            super::products::Product::KIND_NAME => apply_change::<super::products::ProductRow>(conn, ctx, &change)?,
            _ => apply_change::<super::model::EntityRow>(conn, ctx, &change)?,
        }
    }
    let status = ReviewStatus::of_decision(d.approve).as_str();
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
        &format!("{}.change_{}", change.object_kind, if d.approve { "approve" } else { "reject" }),
        &format!("change:{change_id}"),
        Outcome::Success,
        serde_json::json!({"object": change.object_id, "kind": change.change_kind, "reason": reason}),
    )?;
    change_by_id(conn, change_id)
}

/// Pending changes and claims of every kind, oldest first; a tenant sees only its own.
pub fn pending_changes(conn: &mut DbConnection, tenant: Option<&TenantId>) -> AppResult<Vec<Change>> {
    let mut q = registry_changes::table
        .filter(registry_changes::status.eq(ReviewStatus::Pending.as_str()))
        .select(Change::as_select())
        .order(registry_changes::submitted_at.asc())
        .into_boxed();
    if let Some(t) = tenant {
        q = q.filter(registry_changes::tenant_id.eq(t.as_str()));
    }
    Ok(q.limit(500).load(conn)?)
}
