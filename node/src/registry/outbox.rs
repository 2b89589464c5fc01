//! The registry outbox: every approved change of an entity, product or device, in a gap-free
//! sequence that the federation sends upward (docs/federation.md, `registrations` roll-up).
//!
//! The payload is the approved content with the source node, so a parent can apply it
//! idempotently by (object, version). A parent appends what its children send up too, with
//! the region it came from, so the whole stream goes on to the national node.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::registry_outbox;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};

/// One outbox entry.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = registry_outbox)]
pub struct OutboxEntry {
    /// Sequence number, from 1, without gaps.
    pub seq: i64,
    /// `entity`, `product` or `device`.
    pub object_kind: String,
    /// The object's id.
    pub object_id: String,
    /// The object's version.
    pub version: i32,
    /// The approved content (JSON).
    pub payload: String,
    /// When it was appended (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// The region of the node it was registered at, for changes forwarded from below;
    /// empty for this node's own.
    pub source_region: Option<String>,
}

/// Appends an approved version of a reviewed object (`entity`, `product`); returns its
/// sequence number.
pub fn append_versioned(
    conn: &mut DbConnection,
    kind: &str,
    id: &str,
    tenant_id: &str,
    version: i32,
    data: &impl Serialize,
) -> AppResult<i64> {
    let payload = serde_json::json!({"id": id, "tenant_id": tenant_id, "version": version, "data": data});
    append(conn, kind, id, version, &payload.to_string())
}

/// Appends the withdrawal of a reviewed object: its content at `version` (the version that
/// withdrew it) marked `"withdrawn": true`, so the nodes above stop holding it.
pub fn append_withdrawal(
    conn: &mut DbConnection,
    kind: &str,
    id: &str,
    tenant_id: &str,
    version: i32,
    data: &impl Serialize,
) -> AppResult<i64> {
    let payload =
        serde_json::json!({"id": id, "tenant_id": tenant_id, "version": version, "data": data, "withdrawn": true});
    append(conn, kind, id, version, &payload.to_string())
}

/// Appends a registered device; returns its sequence number.
pub fn append_device(conn: &mut DbConnection, device: &super::devices::Device) -> AppResult<i64> {
    let payload = serde_json::to_string(device).map_err(AppError::internal)?;
    append(conn, "device", device.id.as_str(), 1, &payload)
}

/// A change a child sent up, to be forwarded to this node's parent.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = registry_outbox)]
pub struct Forwarded {
    /// Set by [`append_forwarded`].
    pub seq: i64,
    /// `entity`, `product` or `device`.
    pub object_kind: String,
    /// The object's id.
    pub object_id: String,
    /// Its version.
    pub version: i32,
    /// The approved content (JSON).
    pub payload: String,
    /// Set by [`append_forwarded`].
    pub created_at: chrono::NaiveDateTime,
    /// The region of the node it was registered at.
    pub source_region: Option<String>,
}

/// Appends changes children sent up, in order, numbering them after the last entry.
pub fn append_forwarded(conn: &mut DbConnection, mut rows: Vec<Forwarded>) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    db::lock_sequence(conn, db::Sequence::RegistryOutbox)?;
    let last: Option<i64> = registry_outbox::table.select(diesel::dsl::max(registry_outbox::seq)).first(conn)?;
    let now = db::now();
    for (i, r) in rows.iter_mut().enumerate() {
        r.seq = last.unwrap_or(0) + 1 + i as i64;
        r.created_at = now;
    }
    for chunk in rows.chunks(5_000) {
        crate::insert_rows!(&mut *conn, registry_outbox::table, chunk)?;
    }
    Ok(())
}

fn append(conn: &mut DbConnection, kind: &str, id: &str, version: i32, payload: &str) -> AppResult<i64> {
    db::lock_sequence(conn, db::Sequence::RegistryOutbox)?;
    let last: Option<i64> = registry_outbox::table.select(diesel::dsl::max(registry_outbox::seq)).first(conn)?;
    let seq = last.unwrap_or(0) + 1;
    diesel::insert_into(registry_outbox::table)
        .values((
            registry_outbox::seq.eq(seq),
            registry_outbox::object_kind.eq(kind),
            registry_outbox::object_id.eq(id),
            registry_outbox::version.eq(version),
            registry_outbox::payload.eq(payload),
            registry_outbox::created_at.eq(db::now()),
        ))
        .execute(conn)
        .map_err(AppError::from)?;
    Ok(seq)
}

/// Entries after `after`, at most `limit`.
pub fn since(conn: &mut DbConnection, after: i64, limit: i64) -> AppResult<Vec<OutboxEntry>> {
    Ok(registry_outbox::table
        .filter(registry_outbox::seq.gt(after))
        .order(registry_outbox::seq.asc())
        .limit(limit)
        .select(OutboxEntry::as_select())
        .load(conn)?)
}
