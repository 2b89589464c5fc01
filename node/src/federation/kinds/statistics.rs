//! `statistics`: the complete statistics slice of the node's jurisdiction, one per day — its
//! own daily aggregates plus the latest slices of its children — for every day whose slice
//! changed since it was last queued. The parent **replaces** the (child, day) slice, never
//! adds to it, so resends and corrections cannot count anything twice.
//!
//! Bounded at any age of the node: the days that may have changed are marked where they
//! change (`trace::daily::mark_changed`), and a batch looks at [`DAYS_PER_BATCH`] marked days
//! at most, reading only their rows, under the parent's byte limit; a node with years of
//! history sends them a month at a time, and a run that finds nothing marked reads nothing.
//! Collecting only reads, outside the write lock; the marks are cleared where the batch is
//! stored ([`settle`]).

use std::collections::BTreeMap;

use diesel::prelude::*;
use tracenode_federation::wire::payload::StatisticsSlice;
pub use tracenode_federation::wire::payload::{Figures, SliceRow};
use tracenode_federation::wire::Payload;

use super::{Child, Collected, Collector, Settle};
use crate::db::schema::{federated_statistics as fs, statistics_changed as sc, statistics_sent, trace_daily as td};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// What one row of a slice is about.
pub type RowKey = (String, String, String, String);

/// Day → row key → totals.
pub type Jurisdiction = BTreeMap<String, BTreeMap<RowKey, Figures>>;

/// A stored row: day, region, category, stage, direction and the five totals.
type DayRow = (String, String, String, String, String, i64, i64, i64, i64, i64);

/// Days a statistics batch looks at, at most.
pub const DAYS_PER_BATCH: i64 = 31;

/// The statistics of the node's whole jurisdiction: its own daily aggregates (all tenants)
/// plus its children's latest slices. Every day: for tests and tools, never on a schedule.
pub fn jurisdiction(conn: &mut DbConnection) -> AppResult<Jurisdiction> {
    jurisdiction_on(conn, None)
}

/// [`jurisdiction`] on `days` alone, or on every day.
fn jurisdiction_on(conn: &mut DbConnection, days: Option<&[String]>) -> AppResult<Jurisdiction> {
    let mut own = td::table.into_boxed();
    let mut below = fs::table.into_boxed();
    if let Some(days) = days {
        own = own.filter(td::day.eq_any(days.to_vec()));
        below = below.filter(fs::day.eq_any(days.to_vec()));
    }
    let own: Vec<DayRow> = own
        .select((
            td::day,
            td::region,
            td::category,
            td::stage,
            td::direction,
            td::records,
            td::quantity_milli,
            td::amount_fen,
            td::priced,
            td::price_fen_sum,
        ))
        .load(conn)?;
    let below: Vec<DayRow> = below
        .select((
            fs::day,
            fs::region,
            fs::category,
            fs::stage,
            fs::direction,
            fs::records,
            fs::quantity_milli,
            fs::amount_fen,
            fs::priced,
            fs::price_fen_sum,
        ))
        .load(conn)?;
    let mut all = Jurisdiction::new();
    for (day, region, category, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum) in
        own.into_iter().chain(below)
    {
        let figures = Figures { records, quantity_milli, amount_fen, priced, price_fen_sum };
        all.entry(day).or_default().entry((region, category, stage, direction)).or_default().add(&figures);
    }
    for rows in all.values_mut() {
        rows.retain(|_, f| f.records != 0);
    }
    all.retain(|_, rows| !rows.is_empty());
    Ok(all)
}

fn rows_of(rows: &BTreeMap<RowKey, Figures>) -> Vec<SliceRow> {
    rows.iter()
        .map(|((region, category, stage, direction), figures)| SliceRow {
            region: region.clone(),
            category: category.clone(),
            stage: stage.clone(),
            direction: direction.clone(),
            figures: *figures,
        })
        .collect()
}

/// What a statistics batch took: the marks of its days as it read them (day, stamp), and
/// the digest of each slice it carries.
#[derive(Debug, Clone, Default)]
pub struct Taken {
    marks: Vec<(String, i64)>,
    sent: Vec<(String, String)>,
}

/// The slices of the days marked changed, [`DAYS_PER_BATCH`] at most and under the byte
/// budget, that differ from what was last queued. Only reads: the marks are cleared when the
/// batch is stored ([`settle`]), each only if no change marked its day again meanwhile. A
/// batch may carry no slice when the marked days changed back; storing it then only clears
/// the marks.
pub fn collect(conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
    let marks: Vec<(String, i64)> =
        sc::table.order(sc::day).limit(DAYS_PER_BATCH).select((sc::day, sc::stamp)).load(conn)?;
    if marks.is_empty() {
        return Ok(None);
    }
    let days: Vec<String> = marks.iter().map(|(d, _)| d.clone()).collect();
    let mut slices = changed_slices(conn, &days)?;
    // Under the byte budget, a day at least; the days left over stay marked.
    let sizes =
        slices.iter().map(|(s, _)| serde_json::to_string(s).map_or(usize::MAX / 2, |t| super::sent_size(&t)) + 1);
    let fits = super::fitting(sizes, by.max_body_bytes);
    let left: std::collections::HashSet<String> = slices.split_off(fits).into_iter().map(|(s, _)| s.day).collect();
    let marks: Vec<(String, i64)> = marks.into_iter().filter(|(d, _)| !left.contains(d)).collect();
    let last = days.last().cloned().unwrap_or_default();
    let beyond = sc::table.filter(sc::day.gt(last)).select(sc::day).first::<String>(conn).optional()?;
    let more = !left.is_empty() || beyond.is_some();
    let sent = slices.iter().map(|(s, digest)| (s.day.clone(), digest.clone())).collect();
    let slices: Vec<StatisticsSlice> = slices.into_iter().map(|(s, _)| s).collect();
    Ok(Some(Collected {
        payload: Payload::Statistics(slices),
        seqs: None,
        collected_through: from + 1,
        more,
        settle: Settle::Statistics(Taken { marks, sent }),
    }))
}

/// Stores what a batch numbered `batch_no` took, in the transaction that stores it: each mark
/// it read is cleared if its stamp is unchanged, and the digests of its slices are kept as
/// what was last queued.
pub fn settle(conn: &mut DbConnection, taken: &Taken, batch_no: i64) -> AppResult<()> {
    for (day, stamp) in &taken.marks {
        diesel::delete(sc::table.filter(sc::day.eq(day)).filter(sc::stamp.eq(stamp))).execute(conn)?;
    }
    let days: Vec<&str> = taken.sent.iter().map(|(d, _)| d.as_str()).collect();
    diesel::delete(statistics_sent::table.filter(statistics_sent::day.eq_any(&days))).execute(conn)?;
    let sent: Vec<_> = taken
        .sent
        .iter()
        .map(|(day, digest)| {
            (
                statistics_sent::day.eq(day.as_str()),
                statistics_sent::digest.eq(digest.as_str()),
                statistics_sent::batch_no.eq(batch_no),
            )
        })
        .collect();
    crate::insert_rows!(&mut *conn, statistics_sent::table, &sent)?;
    Ok(())
}

/// The slices of `days` that differ from what was last queued, with their digests; a day
/// that no longer has any data goes as an empty slice, so the parent drops it.
fn changed_slices(conn: &mut DbConnection, days: &[String]) -> AppResult<Vec<(StatisticsSlice, String)>> {
    let mut all = jurisdiction_on(conn, Some(days))?;
    let sent: BTreeMap<String, String> = statistics_sent::table
        .filter(statistics_sent::day.eq_any(days))
        .select((statistics_sent::day, statistics_sent::digest))
        .load(conn)?
        .into_iter()
        .collect();
    let mut slices = Vec::new();
    for day in days {
        let rows = all.remove(day).map(|rows| rows_of(&rows)).unwrap_or_default();
        if rows.is_empty() && !sent.contains_key(day) {
            continue;
        }
        let slice = StatisticsSlice { day: day.clone(), rows };
        let digest = digest(&slice)?;
        if sent.get(day) != Some(&digest) {
            slices.push((slice, digest));
        }
    }
    Ok(slices)
}

/// Forgets that the slices of `days` were sent and marks the days changed, so the next
/// collection sends them again (their batch was unmade before the parent applied it).
pub fn unsend(conn: &mut DbConnection, days: &[String]) -> AppResult<()> {
    for chunk in days.chunks(1_000) {
        diesel::delete(statistics_sent::table.filter(statistics_sent::day.eq_any(chunk))).execute(conn)?;
    }
    crate::trace::daily::mark_changed(conn, days)
}

/// Replaces the child's slice of every day the batch carries, and marks those days changed
/// here, so the node's own slice of them goes on up.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, slices: Vec<StatisticsSlice>) -> AppResult<i64> {
    let marked: Vec<String> = slices.iter().map(|s| s.day.clone()).collect();
    crate::trace::daily::mark_changed(conn, &marked)?;
    let days: Vec<&str> = slices.iter().map(|s| s.day.as_str()).collect();
    for chunk in days.chunks(1_000) {
        diesel::delete(fs::table.filter(fs::child_region.eq(child.region)).filter(fs::day.eq_any(chunk)))
            .execute(conn)?;
    }
    let rows: Vec<StoredRow> = slices
        .iter()
        .flat_map(|slice| {
            slice.rows.iter().map(|row| StoredRow {
                child_region: child.region,
                day: &slice.day,
                region: &row.region,
                category: &row.category,
                stage: &row.stage,
                direction: &row.direction,
                records: row.figures.records,
                quantity_milli: row.figures.quantity_milli,
                amount_fen: row.figures.amount_fen,
                priced: row.figures.priced,
                price_fen_sum: row.figures.price_fen_sum,
            })
        })
        .collect();
    match crate::db::postgres(conn) {
        Some(pg) => insert_unnested(pg, &rows)?,
        None => {
            for chunk in rows.chunks(5_000) {
                crate::insert_rows!(&mut *conn, fs::table, chunk)?;
            }
        }
    }
    Ok(slices.len() as i64)
}

/// A row of a child's slice as stored.
#[derive(Insertable)]
#[diesel(table_name = fs)]
struct StoredRow<'a> {
    child_region: &'a str,
    day: &'a str,
    region: &'a str,
    category: &'a str,
    stage: &'a str,
    direction: &'a str,
    records: i64,
    quantity_milli: i64,
    amount_fen: i64,
    priced: i64,
    price_fen_sum: i64,
}

/// PostgreSQL: the whole slice set in one `INSERT … SELECT FROM unnest(…)`, one array per
/// column (a slice of a large jurisdiction is tens of thousands of rows).
fn insert_unnested(pg: &mut diesel::pg::PgConnection, rows: &[StoredRow<'_>]) -> AppResult<()> {
    use diesel::sql_types::{Array, BigInt, Text};
    fn col<'r, T>(rows: &'r [StoredRow<'_>], f: impl Fn(&'r StoredRow<'_>) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    let Some(first) = rows.first() else { return Ok(()) };
    diesel::sql_query(
        "INSERT INTO federated_statistics (child_region, day, region, category, stage, direction, records,
            quantity_milli, amount_fen, priced, price_fen_sum)
         SELECT $1, u.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
            $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[]) AS u",
    )
    .bind::<Text, _>(first.child_region)
    .bind::<Array<Text>, _>(col(rows, |r| r.day))
    .bind::<Array<Text>, _>(col(rows, |r| r.region))
    .bind::<Array<Text>, _>(col(rows, |r| r.category))
    .bind::<Array<Text>, _>(col(rows, |r| r.stage))
    .bind::<Array<Text>, _>(col(rows, |r| r.direction))
    .bind::<Array<BigInt>, _>(col(rows, |r| r.records))
    .bind::<Array<BigInt>, _>(col(rows, |r| r.quantity_milli))
    .bind::<Array<BigInt>, _>(col(rows, |r| r.amount_fen))
    .bind::<Array<BigInt>, _>(col(rows, |r| r.priced))
    .bind::<Array<BigInt>, _>(col(rows, |r| r.price_fen_sum))
    .execute(pg)?;
    Ok(())
}

fn digest(slice: &StatisticsSlice) -> AppResult<String> {
    Ok(tracenode_federation::wire::batch::digest_of(&serde_json::to_string(slice).map_err(AppError::internal)?))
}
