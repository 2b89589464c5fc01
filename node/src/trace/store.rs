//! Storing trace records idempotently. A sender's record id is unique per tenant, so one
//! unique key does all the work: a row whose id the tenant already used is skipped by the
//! insert itself, and only skipped rows are looked up, to tell a resend (same content hash:
//! a duplicate) from a reused id with other content (refused).

use std::collections::HashMap;

use diesel::prelude::*;

use super::daily::{contribution, Counted, DailyKey, Totals, COUNTED};
use super::row::TraceRow;
use super::status;
use crate::db::schema::{trace_corrections, trace_records};
use crate::db::DbConnection;
use crate::error::AppResult;

/// What became of each row of a step, by position.
#[derive(Debug, Default)]
pub struct Stored {
    /// Rows inserted.
    pub inserted: Vec<usize>,
    /// Rows the tenant had already sent with the same content.
    pub duplicates: Vec<usize>,
    /// Rows whose id the tenant already used for other content.
    pub conflicts: Vec<usize>,
}

/// Inserts `rows` (all of one tenant), skipping those whose record id the tenant already
/// used.
pub fn insert(conn: &mut DbConnection, tenant: &str, rows: &[TraceRow<'_>]) -> AppResult<Stored> {
    let skipped = crate::insert_or_skip!(conn, trace_records::table, rows, trace_records::record_id, record_id_of)?;
    let mut out = Stored::default();
    if skipped.is_empty() {
        out.inserted = (0..rows.len()).collect();
        return Ok(out);
    }
    let ids: Vec<&str> = skipped.iter().map(|&k| rows[k].record_id.as_str()).collect();
    let held = hashes(conn, tenant, &ids)?;
    let mut skip = skipped.iter().peekable();
    for (k, row) in rows.iter().enumerate() {
        if skip.peek() == Some(&&k) {
            skip.next();
            if held.get(&row.record_id) == Some(&row.content_hash) {
                out.duplicates.push(k);
            } else {
                out.conflicts.push(k);
            }
        } else {
            out.inserted.push(k);
        }
    }
    Ok(out)
}

fn record_id_of<'r>(row: &'r TraceRow<'_>) -> &'r String {
    &row.record_id
}

/// The content hashes the tenant holds for these record ids.
fn hashes(conn: &mut DbConnection, tenant: &str, ids: &[&str]) -> AppResult<HashMap<String, Vec<u8>>> {
    use trace_records::dsl as r;
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, Vec<u8>)> = trace_records::table
            .filter(r::tenant_id.eq(tenant))
            .filter(r::record_id.eq_any(chunk))
            .select((r::record_id, r::content_hash))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Why a correction could not be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncorrectable {
    /// The tenant holds no record with that id.
    Unknown,
    /// That record was corrected already.
    AlreadyCorrected,
}

/// Marks the tenant's record `record_id` superseded by a correction. Returns what it counted
/// in the daily aggregates (nothing if it was quarantined), so the caller takes it back.
pub fn supersede(
    conn: &mut DbConnection,
    tenant: &str,
    record_id: &str,
) -> AppResult<Result<Option<(DailyKey, Totals)>, Uncorrectable>> {
    use trace_records::dsl as r;
    let row: Option<(i64, String, Counted)> = trace_records::table
        .filter(r::tenant_id.eq(tenant))
        .filter(r::record_id.eq(record_id))
        .select((r::seq, r::status, COUNTED))
        .first(conn)
        .optional()?;
    let Some((seq, was, counted)) = row else {
        return Ok(Err(Uncorrectable::Unknown));
    };
    if was == status::SUPERSEDED {
        return Ok(Err(Uncorrectable::AlreadyCorrected));
    }
    diesel::update(trace_records::table.filter(r::seq.eq(seq))).set(r::status.eq(status::SUPERSEDED)).execute(conn)?;
    if was != status::STORED {
        return Ok(Ok(None));
    }
    Ok(Ok(Some(contribution(counted))))
}

/// Notes that the tenant's record `record_id` corrects `corrects`.
pub fn note_correction(conn: &mut DbConnection, tenant: &str, record_id: &str, corrects: &str) -> AppResult<()> {
    diesel::insert_into(trace_corrections::table)
        .values((
            trace_corrections::tenant_id.eq(tenant),
            trace_corrections::record_id.eq(record_id),
            trace_corrections::corrects.eq(corrects),
        ))
        .execute(conn)?;
    Ok(())
}

/// The records these (tenant, record id) pairs correct.
pub fn corrections_of(
    conn: &mut DbConnection,
    records: &[(&str, &str)],
) -> AppResult<HashMap<(String, String), String>> {
    let ids: Vec<&str> = records.iter().map(|(_, id)| *id).collect();
    let found: Vec<(String, String, String)> = trace_corrections::table
        .filter(trace_corrections::record_id.eq_any(&ids))
        .select((trace_corrections::tenant_id, trace_corrections::record_id, trace_corrections::corrects))
        .load(conn)?;
    Ok(found
        .into_iter()
        .filter(|(t, id, _)| records.iter().any(|(rt, rid)| rt == t && rid == id))
        .map(|(t, id, c)| ((t, id), c))
        .collect())
}

/// Removes the tenant's record `record_id` (a correction that turned out not to apply,
/// inside the transaction that inserted it).
pub fn remove(conn: &mut DbConnection, tenant: &str, record_id: &str) -> AppResult<()> {
    use trace_records::dsl as r;
    diesel::delete(trace_records::table.filter(r::tenant_id.eq(tenant)).filter(r::record_id.eq(record_id)))
        .execute(conn)?;
    Ok(())
}
