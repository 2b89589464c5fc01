//! `statistics`: the statistics of the node's jurisdiction — its own daily aggregates plus
//! the latest slices of its children — sent as the (day, region) cells that changed since
//! they were last queued. The parent **replaces** the cells a slice covers (the child's
//! cells of that day in the slice's regions), never adds to them, so resends and corrections
//! cannot count anything twice, and a day that did not change is never sent again.
//!
//! Bounded at any age of the node: the cells that may have changed are marked where they
//! change (`trace::daily::mark_changed`: a submission marks the (day, region) pairs it
//! counted, an applied child slice the pairs it replaced), and a batch looks at
//! [`MARKS_PER_BATCH`] marks at most, reading only their rows, under the parent's byte limit.
//! A correction in one county travels as that county's cells of that day, at every tier. A
//! mark of region `""` (a day marked before cells were tracked) sends the whole day. A
//! collection only reads, outside the write lock; the marks are cleared where the batch is
//! stored ([`settle`]).

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use tracenode_federation::wire::payload::StatisticsSlice;
pub use tracenode_federation::wire::payload::{Figures, SliceRow};
use tracenode_federation::wire::{Payload, Refusal};

use super::{Child, Collected, Collector, Settle};
use crate::db::schema::{federated_statistics as fs, statistics_marks as sm, statistics_sent, trace_daily as td};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::stats::summary;

/// What one row of a slice is about.
pub type RowKey = (String, String, String, String);

/// Day → row key → totals.
pub type Jurisdiction = BTreeMap<String, BTreeMap<RowKey, Figures>>;

/// A stored row: day, region, category, stage, direction and the five totals.
type DayRow = (String, String, String, String, String, i64, i64, i64, i64, i64);

/// Marks a statistics batch looks at, at most: a county's year of history is one batch, a
/// province's is a few dozen.
pub const MARKS_PER_BATCH: i64 = 2_000;

/// The statistics of the node's whole jurisdiction: its own daily aggregates (all tenants)
/// plus its children's latest slices. Every day: for tests and tools, never on a schedule.
pub fn jurisdiction(conn: &mut DbConnection) -> AppResult<Jurisdiction> {
    let mut all = Jurisdiction::new();
    for (day, region, category, stage, direction, figures) in rows_where(conn, None, None)? {
        all.entry(day).or_default().entry((region, category, stage, direction)).or_default().add(&figures);
    }
    for rows in all.values_mut() {
        rows.retain(|_, f| f.records != 0);
    }
    all.retain(|_, rows| !rows.is_empty());
    Ok(all)
}

/// A row of either table with its figures.
type Cell = (String, String, String, String, String, Figures);

/// The rows of both tables on `day` (every day: `None`) in `regions` (every region: `None`).
fn rows_where(conn: &mut DbConnection, day: Option<&str>, regions: Option<&[String]>) -> AppResult<Vec<Cell>> {
    let mut own = td::table.into_boxed();
    let mut below = fs::table.into_boxed();
    if let Some(day) = day {
        own = own.filter(td::day.eq(day.to_owned()));
        below = below.filter(fs::day.eq(day.to_owned()));
    }
    if let Some(regions) = regions {
        own = own.filter(td::region.eq_any(regions.to_vec()));
        below = below.filter(fs::region.eq_any(regions.to_vec()));
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
    Ok(own
        .into_iter()
        .chain(below)
        .map(|(day, region, category, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum)| {
            let figures = Figures { records, quantity_milli, amount_fen, priced, price_fen_sum };
            (day, region, category, stage, direction, figures)
        })
        .collect())
}

/// One day's cells by region: region → (category, stage, direction) → totals, rows that
/// sum to nothing left out.
type Regions = BTreeMap<String, BTreeMap<(String, String, String), Figures>>;

/// The cells of `day` in `regions` (every region: `None`), by region.
fn cells_of(conn: &mut DbConnection, day: &str, regions: Option<&[String]>) -> AppResult<Regions> {
    let mut by_region = Regions::new();
    for chunk in chunked(regions) {
        for (_, region, category, stage, direction, figures) in rows_where(conn, Some(day), chunk)? {
            by_region.entry(region).or_default().entry((category, stage, direction)).or_default().add(&figures);
        }
    }
    for cells in by_region.values_mut() {
        cells.retain(|_, f| f.records != 0);
    }
    by_region.retain(|_, cells| !cells.is_empty());
    Ok(by_region)
}

/// `regions` a thousand at a time (every region: one `None`).
fn chunked(regions: Option<&[String]>) -> Vec<Option<&[String]>> {
    match regions {
        None => vec![None],
        Some(r) => r.chunks(1_000).map(Some).collect(),
    }
}

/// What a statistics batch took: the marks as it read them (day, region, stamp), the days it
/// sends whole, and the digest of each (day, region) it sends.
#[derive(Debug, Clone, Default)]
pub struct Taken {
    marks: Vec<(String, String, i64)>,
    whole: Vec<String>,
    sent: Vec<(String, String, String)>,
}

/// What the marks of one day ask for.
#[derive(Debug, Default)]
struct Cover {
    whole: bool,
    regions: Vec<String>,
}

/// One day's slice, ready to send, with the digest of each region it covers.
struct Prepared {
    slice: StatisticsSlice,
    digests: Vec<(String, String)>,
}

/// The cells marked changed, [`MARKS_PER_BATCH`] marks at most and under the byte budget,
/// that differ from what was last queued, as one slice per day. Only reads: the marks are
/// cleared when the batch is stored ([`settle`]), each only if no change marked its cell
/// again meanwhile. A batch may carry no slice when the marked cells changed back; storing it
/// then only clears the marks.
pub fn collect(conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
    let marks: Vec<(String, String, i64)> = sm::table
        .order((sm::day, sm::region))
        .limit(MARKS_PER_BATCH)
        .select((sm::day, sm::region, sm::stamp))
        .load(conn)?;
    let Some(last) = marks.last().map(|(d, r, _)| (d.clone(), r.clone())) else { return Ok(None) };
    let mut covers: BTreeMap<String, Cover> = BTreeMap::new();
    for (day, region, _) in &marks {
        let cover = covers.entry(day.clone()).or_default();
        match region.as_str() {
            "" => cover.whole = true,
            r => cover.regions.push(r.to_owned()),
        }
    }
    let mut prepared = Vec::new();
    for (day, cover) in &covers {
        prepared.extend(prepare(conn, day, cover)?);
    }
    // Under the byte budget, a day at least; the days left over stay marked.
    let sizes =
        prepared.iter().map(|p| serde_json::to_string(&p.slice).map_or(usize::MAX / 2, |t| super::sent_size(&t)) + 1);
    let fits = super::fitting(sizes, by.max_body_bytes);
    let left: BTreeSet<String> = prepared.split_off(fits).into_iter().map(|p| p.slice.day).collect();
    let marks: Vec<(String, String, i64)> = marks.into_iter().filter(|(d, ..)| !left.contains(d)).collect();
    let beyond = sm::table
        .filter(sm::day.gt(&last.0).or(sm::day.eq(&last.0).and(sm::region.gt(&last.1))))
        .select(sm::day)
        .first::<String>(conn)
        .optional()?;
    let mut taken = Taken { marks, ..Taken::default() };
    let mut slices = Vec::with_capacity(prepared.len());
    for p in prepared {
        if p.slice.regions.is_none() {
            taken.whole.push(p.slice.day.clone());
        }
        taken.sent.extend(p.digests.into_iter().map(|(region, digest)| (p.slice.day.clone(), region, digest)));
        slices.push(p.slice);
    }
    Ok(Some(Collected {
        payload: Payload::Statistics(slices),
        seqs: None,
        collected_through: from + 1,
        more: !left.is_empty() || beyond.is_some(),
        settle: Settle::Statistics(taken),
    }))
}

/// The slice of `day` its marks ask for, if it differs from what was last queued: the whole
/// day, or the marked regions whose cells changed (a region with no cells left goes empty,
/// so the parent drops it).
fn prepare(conn: &mut DbConnection, day: &str, cover: &Cover) -> AppResult<Option<Prepared>> {
    let scope = (!cover.whole).then_some(cover.regions.as_slice());
    let cells = cells_of(conn, day, scope)?;
    let mut sent = BTreeMap::new();
    for chunk in chunked(scope) {
        let mut q = statistics_sent::table.filter(statistics_sent::day.eq(day)).into_boxed();
        if let Some(regions) = chunk {
            q = q.filter(statistics_sent::region.eq_any(regions.to_vec()));
        }
        let rows: Vec<(String, String)> = q.select((statistics_sent::region, statistics_sent::digest)).load(conn)?;
        sent.extend(rows);
    }
    let region_rows = |region: &str, cells: Option<&BTreeMap<(String, String, String), Figures>>| -> Vec<SliceRow> {
        cells
            .into_iter()
            .flatten()
            .map(|((category, stage, direction), figures)| SliceRow {
                region: region.to_owned(),
                category: category.clone(),
                stage: stage.clone(),
                direction: direction.clone(),
                figures: *figures,
            })
            .collect()
    };
    let mut digests = Vec::new();
    let mut rows = Vec::new();
    if cover.whole {
        for (region, region_cells) in &cells {
            let these = region_rows(region, Some(region_cells));
            digests.push((region.clone(), digest(&these)?));
            rows.extend(these);
        }
        // Nothing on record as sent (a day marked before cells were tracked, or one whose
        // batch was unmade) may still be held above: the day goes, even empty.
        let unchanged =
            !sent.is_empty() && digests.len() == sent.len() && digests.iter().all(|(r, d)| sent.get(r) == Some(d));
        if unchanged {
            return Ok(None);
        }
        return Ok(Some(Prepared { slice: StatisticsSlice { day: day.to_owned(), regions: None, rows }, digests }));
    }
    let mut regions = Vec::new();
    for region in &cover.regions {
        let these = region_rows(region, cells.get(region));
        let d = digest(&these)?;
        if sent.get(region) != Some(&d) {
            regions.push(region.clone());
            digests.push((region.clone(), d));
            rows.extend(these);
        }
    }
    if regions.is_empty() {
        return Ok(None);
    }
    Ok(Some(Prepared { slice: StatisticsSlice { day: day.to_owned(), regions: Some(regions), rows }, digests }))
}

/// Stores what a batch numbered `batch_no` took, in the transaction that stores it: each mark
/// it read is cleared if its stamp is unchanged, and the digests of what it sends are kept as
/// what was last queued (a day sent whole forgets the digests of its other regions).
pub fn settle(conn: &mut DbConnection, taken: &Taken, batch_no: i64) -> AppResult<()> {
    for (day, region, stamp) in &taken.marks {
        diesel::delete(sm::table.filter(sm::day.eq(day)).filter(sm::region.eq(region)).filter(sm::stamp.eq(stamp)))
            .execute(conn)?;
    }
    for day in &taken.whole {
        diesel::delete(statistics_sent::table.filter(statistics_sent::day.eq(day))).execute(conn)?;
    }
    for (day, region, digest) in &taken.sent {
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(statistics_sent::table)
            .values((
                statistics_sent::day.eq(day),
                statistics_sent::region.eq(region),
                statistics_sent::digest.eq(digest),
                statistics_sent::batch_no.eq(batch_no),
            ))
            .on_conflict((statistics_sent::day, statistics_sent::region))
            .do_update()
            .set((statistics_sent::digest.eq(digest), statistics_sent::batch_no.eq(batch_no)))
            .execute(c))?;
    }
    Ok(())
}

/// Forgets that `slices` were sent and marks what they cover changed, so the next collection
/// sends it again (their batch was unmade before the parent applied it).
pub fn unsend(conn: &mut DbConnection, slices: &[StatisticsSlice]) -> AppResult<()> {
    let mut marks = Vec::new();
    for slice in slices {
        let sent = statistics_sent::table.filter(statistics_sent::day.eq(&slice.day));
        match &slice.regions {
            None => {
                diesel::delete(sent).execute(conn)?;
                marks.push((slice.day.clone(), String::new()));
            }
            Some(regions) => {
                diesel::delete(sent.filter(statistics_sent::region.eq_any(regions))).execute(conn)?;
                marks.extend(regions.iter().map(|r| (slice.day.clone(), r.clone())));
            }
        }
    }
    crate::trace::daily::mark_changed(conn, &marks)
}

/// Replaces the child's cells that each slice covers, keeps the summary in step (new minus
/// old), and marks the (day, region) cells that changed here, so the node's own cells of
/// them go on up (the national node, with no parent, marks nothing). A cell of a region
/// outside the child's is refused, and nothing changes.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, slices: Vec<StatisticsSlice>) -> AppResult<i64> {
    check(child, &slices)?;
    let forwards = child.receiver != crate::region::RegionCode::national().as_str();
    for slice in &slices {
        replace(conn, child, slice, forwards)?;
    }
    Ok(slices.len() as i64)
}

/// A child speaks only for cells of its own region.
fn check(child: &Child<'_>, slices: &[StatisticsSlice]) -> AppResult<()> {
    let inside =
        |region: &str| region == child.region || tracenode_federation::tiers::lies_inside(child.region, region);
    let named = slices.iter().flat_map(|s| s.regions.iter().flatten().map(String::as_str));
    let cells = slices.iter().flat_map(|s| s.rows.iter().map(|r| r.region.as_str()));
    if let Some(outside) = named.chain(cells).find(|r| !inside(r)) {
        return Err(Refusal::CellOutsideChild { child: child.region.to_owned(), region: outside.to_owned() }.into());
    }
    Ok(())
}

/// One slice: the old cells it covers out, its rows in, the difference into the summary.
fn replace(conn: &mut DbConnection, child: &Child<'_>, slice: &StatisticsSlice, forwards: bool) -> AppResult<()> {
    let scope = slice.regions.as_deref();
    let mut old: Vec<(String, String, String, Figures)> = Vec::new();
    for chunk in chunked(scope) {
        let mut q = fs::table.filter(fs::child_region.eq(child.region)).filter(fs::day.eq(&slice.day)).into_boxed();
        if let Some(regions) = chunk {
            q = q.filter(fs::region.eq_any(regions.to_vec()));
        }
        type Old = (String, String, String, i64, i64, i64, i64, i64);
        let rows: Vec<Old> = q
            .select((
                fs::region,
                fs::stage,
                fs::direction,
                fs::records,
                fs::quantity_milli,
                fs::amount_fen,
                fs::priced,
                fs::price_fen_sum,
            ))
            .load(conn)?;
        old.extend(rows.into_iter().map(
            |(region, stage, direction, records, quantity_milli, amount_fen, priced, sum)| {
                (region, stage, direction, Figures { records, quantity_milli, amount_fen, priced, price_fen_sum: sum })
            },
        ));
        let held = fs::table.filter(fs::child_region.eq(child.region)).filter(fs::day.eq(&slice.day));
        match chunk {
            None => diesel::delete(held).execute(conn)?,
            Some(regions) => diesel::delete(held.filter(fs::region.eq_any(regions))).execute(conn)?,
        };
    }
    let rows: Vec<StoredRow> = slice
        .rows
        .iter()
        .map(|row| StoredRow {
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
        .collect();
    match crate::db::postgres(conn) {
        Some(pg) => insert_unnested(pg, &rows)?,
        None => {
            for chunk in rows.chunks(5_000) {
                crate::insert_rows!(&mut *conn, fs::table, chunk)?;
            }
        }
    }
    let mut changes: BTreeMap<(&str, &str, &str), Figures> = BTreeMap::new();
    for (region, stage, direction, f) in &old {
        changes.entry((region, stage, direction)).or_default().add(&negated(f));
    }
    for row in &slice.rows {
        changes.entry((&row.region, &row.stage, &row.direction)).or_default().add(&row.figures);
    }
    if forwards {
        let touched: BTreeSet<&str> = old
            .iter()
            .map(|o| o.0.as_str())
            .chain(scope.into_iter().flatten().map(String::as_str))
            .chain(slice.rows.iter().map(|r| r.region.as_str()))
            .collect();
        let marks: Vec<(String, String)> = touched.into_iter().map(|r| (slice.day.clone(), r.to_owned())).collect();
        crate::trace::daily::mark_changed(conn, &marks)?;
    }
    summary::add(
        conn,
        changes.into_iter().map(|((region, stage, direction), figures)| summary::Change {
            day: &slice.day,
            region,
            stage,
            direction,
            figures,
        }),
    )
}

fn negated(f: &Figures) -> Figures {
    Figures {
        records: -f.records,
        quantity_milli: -f.quantity_milli,
        amount_fen: -f.amount_fen,
        priced: -f.priced,
        price_fen_sum: -f.price_fen_sum,
    }
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

/// The digest of one region's rows of a day, as sent.
fn digest(rows: &[SliceRow]) -> AppResult<String> {
    Ok(tracenode_federation::wire::batch::digest_of(&serde_json::to_string(rows).map_err(AppError::internal)?))
}
