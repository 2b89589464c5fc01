//! Storing trace records idempotently. A sender's record id is unique per tenant, so one
//! unique key does all the work: a row whose id the tenant already used is skipped by the
//! insert itself, and only skipped rows are looked up, to tell a resend (same content hash:
//! a duplicate) from a reused id with other content (refused).

use std::collections::HashMap;

use diesel::prelude::*;

use super::daily::{contribution, Counted, DailyKey, Totals, COUNTED};
use super::row::TraceRow;
use super::status;
use crate::db::schema::{trace_corrections, trace_records, trace_vouchers};
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

/// Inserts `rows` (all of one tenant and submission), skipping those whose record id the
/// tenant already used.
pub fn insert(conn: &mut DbConnection, tenant: &str, rows: &[TraceRow<'_>]) -> AppResult<Stored> {
    let skipped = match crate::db::postgres(conn) {
        Some(pg) if !rows.is_empty() => insert_unnested(pg, rows)?,
        _ => crate::insert_or_skip!(conn, trace_records::table, rows, trace_records::record_id, record_id_of)?,
    };
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

/// PostgreSQL: the rows as one array per column, inserted by one `INSERT … SELECT FROM
/// unnest(…) ON CONFLICT DO NOTHING RETURNING record_id` (nearly as fast as COPY, and it
/// says which rows went in). Returns the positions of the rows skipped.
fn insert_unnested(pg: &mut diesel::pg::PgConnection, rows: &[TraceRow<'_>]) -> AppResult<Vec<usize>> {
    use diesel::sql_types::{Array, BigInt, Binary, Bool, Integer, Nullable, Text, Timestamp};
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = Text)]
        record_id: String,
    }
    fn col<'r, T>(rows: &'r [TraceRow<'_>], f: impl Fn(&'r TraceRow<'_>) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    let first = &rows[0];
    let inserted: Vec<Inserted> = diesel::sql_query(UNNEST_INSERT)
        .bind::<Text, _>(first.tenant_id)
        .bind::<Text, _>(first.submission_id)
        .bind::<Text, _>(first.reporter)
        .bind::<Array<Text>, _>(col(rows, |r| r.record_id.as_str()))
        .bind::<Array<Binary>, _>(col(rows, |r| r.content_hash.as_slice()))
        .bind::<Array<Text>, _>(col(rows, |r| r.status))
        .bind::<Array<Bool>, _>(col(rows, |r| r.flagged))
        .bind::<Array<Text>, _>(col(rows, |r| r.from_code.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.from_name.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.from_region.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.to_code.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.to_name.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.to_region.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.trace_code.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.scheme.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.product_name.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.category.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.specification.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.batch.as_str()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.production_date.as_deref()))
        .bind::<Array<Nullable<Integer>>, _>(col(rows, |r| r.shelf_life_days))
        .bind::<Array<Text>, _>(col(rows, |r| r.origin.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.stage.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.direction))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.quantity_milli))
        .bind::<Array<Text>, _>(col(rows, |r| r.unit.as_str()))
        .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.price_fen))
        .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.amount_fen))
        .bind::<Array<Timestamp>, _>(col(rows, |r| r.act_time.0))
        .bind::<Array<Text>, _>(col(rows, |r| r.place.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.region.as_str()))
        .load(pg)?;
    let mut skipped = Vec::new();
    crate::db::note_skipped(
        rows.len(),
        rows.iter().map(record_id_of),
        inserted.into_iter().map(|i| i.record_id).collect(),
        0,
        &mut skipped,
    );
    Ok(skipped)
}

/// See [`insert_unnested`]. `WITH ORDINALITY … ORDER BY` keeps the rows in their order, so of
/// two rows with one record id the first is the one stored.
const UNNEST_INSERT: &str = "INSERT INTO trace_records (tenant_id, submission_id, reporter, record_id,
        content_hash, status, flagged, from_code, from_name, from_region, to_code, to_name, to_region,
        trace_code, scheme, product_name, category, specification, batch, production_date,
        shelf_life_days, origin, stage, direction, quantity_milli, unit, price_fen, amount_fen,
        act_time, place, region)
    SELECT $1, $2, $3, u.record_id, u.content_hash, u.status, u.flagged, u.from_code, u.from_name,
        u.from_region, u.to_code, u.to_name, u.to_region, u.trace_code, u.scheme, u.product_name,
        u.category, u.specification, u.batch, u.production_date, u.shelf_life_days, u.origin,
        u.stage, u.direction, u.quantity_milli, u.unit, u.price_fen, u.amount_fen, u.act_time,
        u.place, u.region
    FROM unnest($4::text[], $5::bytea[], $6::text[], $7::boolean[], $8::text[], $9::text[],
        $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
        $17::text[], $18::text[], $19::text[], $20::text[], $21::integer[], $22::text[], $23::text[],
        $24::text[], $25::bigint[], $26::text[], $27::bigint[], $28::bigint[], $29::timestamp[],
        $30::text[], $31::text[])
        WITH ORDINALITY AS u(record_id, content_hash, status, flagged, from_code, from_name,
        from_region, to_code, to_name, to_region, trace_code, scheme, product_name, category,
        specification, batch, production_date, shelf_life_days, origin, stage, direction,
        quantity_milli, unit, price_fen, amount_fen, act_time, place, region, ord)
    ORDER BY u.ord
    ON CONFLICT DO NOTHING
    RETURNING record_id";

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

/// Keeps the vouchers of the tenant's stored `rows` that have one.
pub fn note_vouchers(conn: &mut DbConnection, tenant: &str, rows: &[&TraceRow<'_>]) -> AppResult<()> {
    let with: Vec<_> = rows
        .iter()
        .filter(|r| !r.voucher.is_empty())
        .map(|r| {
            (
                trace_vouchers::tenant_id.eq(tenant),
                trace_vouchers::record_id.eq(r.record_id.as_str()),
                trace_vouchers::voucher.eq(r.voucher.as_str()),
            )
        })
        .collect();
    match conn {
        DbConnection::Sqlite(c) => {
            for row in &with {
                diesel::insert_into(trace_vouchers::table).values(row).execute(c)?;
            }
        }
        DbConnection::Postgres(c) => {
            for chunk in with.chunks(1_000) {
                diesel::insert_into(trace_vouchers::table).values(chunk).execute(c)?;
            }
        }
    }
    Ok(())
}

/// The vouchers of these (tenant, record id) pairs, for those that have one.
pub fn vouchers_of(conn: &mut DbConnection, records: &[(&str, &str)]) -> AppResult<HashMap<(String, String), String>> {
    let ids: Vec<&str> = records.iter().map(|(_, id)| *id).collect();
    let found: Vec<(String, String, String)> = trace_vouchers::table
        .filter(trace_vouchers::record_id.eq_any(&ids))
        .select((trace_vouchers::tenant_id, trace_vouchers::record_id, trace_vouchers::voucher))
        .load(conn)?;
    Ok(found
        .into_iter()
        .filter(|(t, id, _)| records.iter().any(|(rt, rid)| rt == t && rid == id))
        .map(|(t, id, v)| ((t, id), v))
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

/// Marks the tenant's records `record_ids` as flagged (by a rule that looked at what was
/// stored after them).
pub fn mark_flagged(conn: &mut DbConnection, tenant: &str, record_ids: &[String]) -> AppResult<()> {
    use trace_records::dsl as r;
    for chunk in record_ids.chunks(900) {
        diesel::update(trace_records::table.filter(r::tenant_id.eq(tenant)).filter(r::record_id.eq_any(chunk)))
            .set(r::flagged.eq(true))
            .execute(conn)?;
    }
    Ok(())
}
