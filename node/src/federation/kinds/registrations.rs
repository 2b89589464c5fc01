//! `registrations`: entity, product and device changes from the registry outbox, in order.
//! The parent keeps the newest version of every object with the region it was registered
//! in, and puts what changed into its own outbox, so it goes on up to the national node.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use tracenode_federation::wire::payload::{ObjectKind, RegistrationItem};
use tracenode_federation::wire::{Payload, Refusal};

use super::{Child, Collected, Collector};
use crate::db::schema::federated_registrations as fr;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::registry::outbox;

/// The next registrations after outbox number `from`, at most a batch.
pub fn collect(conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
    let entries = outbox::since(conn, from, by.batch_items)?;
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return Ok(None) };
    let seqs = (first.seq, last.seq);
    let mut items = Vec::with_capacity(entries.len());
    for e in entries {
        let object_kind = ObjectKind::parse(&e.object_kind)
            .ok_or_else(|| AppError::internal(format!("outbox object kind {}", e.object_kind)))?;
        items.push(RegistrationItem {
            seq: e.seq,
            source_region: e.source_region.unwrap_or_else(|| by.region.to_owned()),
            object_kind,
            object_id: e.object_id,
            version: e.version,
            payload: serde_json::value::RawValue::from_string(e.payload).map_err(AppError::internal)?,
        });
    }
    let more = items.len() as i64 >= by.batch_items;
    Ok(Some(Collected { payload: Payload::Registrations(items), seqs: Some(seqs), collected_through: seqs.1, more }))
}

/// Keeps the newest version of every object and forwards what changed.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, items: Vec<RegistrationItem>) -> AppResult<i64> {
    for item in &items {
        check(child, item)?;
    }
    // The versions held now, looked up by object id a chunk at a time (its own index).
    let mut held: HashMap<(String, String, String), i32> = HashMap::new();
    let ids: Vec<&str> = items.iter().map(|i| i.object_id.as_str()).collect();
    for chunk in ids.chunks(5_000) {
        let rows: Vec<(String, String, String, i32)> = fr::table
            .filter(fr::object_id.eq_any(chunk))
            .select((fr::source_region, fr::object_kind, fr::object_id, fr::version))
            .load(conn)?;
        held.extend(rows.into_iter().map(|(s, k, i, v)| ((s, k, i), v)));
    }
    let now = db::now();
    // Rows new to this node, by key, so a later version in the same batch replaces them.
    let mut inserts: Vec<HeldRow> = Vec::new();
    let mut new_at: HashMap<(String, String, String), usize> = HashMap::new();
    let mut forwarded = Vec::new();
    for item in items {
        let object_kind = item.object_kind.as_str().to_owned();
        let key = (item.source_region.clone(), object_kind.clone(), item.object_id.clone());
        let latest = new_at.get(&key).map(|&i| inserts[i].version).or_else(|| held.get(&key).copied());
        if latest.is_some_and(|v| v >= item.version) {
            continue;
        }
        let payload = item.payload.get().to_owned();
        if let Some(&i) = new_at.get(&key) {
            inserts[i].version = item.version;
            inserts[i].payload = payload.clone();
        } else if let Some(stored) = held.get_mut(&key) {
            diesel::update(fr::table.find(key.clone()))
                .set((
                    fr::version.eq(item.version),
                    fr::payload.eq(&payload),
                    fr::via_child.eq(child.region),
                    fr::received_at.eq(now),
                ))
                .execute(conn)?;
            *stored = item.version;
        } else {
            new_at.insert(key.clone(), inserts.len());
            inserts.push(HeldRow {
                source_region: key.0,
                object_kind: key.1,
                object_id: key.2,
                version: item.version,
                payload: payload.clone(),
                via_child: child.region.to_owned(),
                received_at: now,
            });
        }
        forwarded.push(outbox::Forwarded {
            seq: 0,
            object_kind,
            object_id: item.object_id,
            version: item.version,
            payload,
            created_at: now,
            source_region: Some(item.source_region),
        });
    }
    for chunk in inserts.chunks(5_000) {
        crate::insert_rows!(&mut *conn, fr::table, chunk)?;
    }
    let changed = forwarded.len() as i64;
    outbox::append_forwarded(conn, forwarded)?;
    Ok(changed)
}

/// A registration as stored at the parent.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = fr)]
struct HeldRow {
    source_region: String,
    object_kind: String,
    object_id: String,
    version: i32,
    payload: String,
    via_child: String,
    received_at: chrono::NaiveDateTime,
}

/// A child speaks only for registrations made inside its own region.
fn check(child: &Child<'_>, item: &RegistrationItem) -> AppResult<()> {
    if !tracenode_federation::tiers::lies_inside(child.region, &item.source_region)
        && item.source_region != child.region
    {
        let refusal =
            Refusal::SourceOutsideChild { child: child.region.to_owned(), region: item.source_region.clone() };
        return Err(refusal.into());
    }
    Ok(())
}

/// Registrations held from below, newest first.
pub fn held(conn: &mut DbConnection, limit: i64) -> AppResult<Vec<HeldRegistration>> {
    Ok(fr::table.order(fr::received_at.desc()).limit(limit).select(HeldRegistration::as_select()).load(conn)?)
}

/// A registration held from below.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = fr)]
pub struct HeldRegistration {
    /// The region of the node it was registered at.
    pub source_region: String,
    /// `entity`, `product` or `device`.
    pub object_kind: String,
    /// The object's id at its source.
    pub object_id: String,
    /// Its version.
    pub version: i32,
    /// The approved content (JSON text).
    pub payload: String,
    /// The child it came through.
    pub via_child: String,
    /// When it arrived (UTC).
    pub received_at: chrono::NaiveDateTime,
}
