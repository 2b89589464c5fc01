//! Daily aggregates (每日汇总) kept while records are stored: count, quantity, amount and
//! price statistics by day (China Standard Time), region, product category, stage and
//! direction, per tenant. The statistics roll-up sends them upward, so they must always
//! equal a recount of the counted records ([`recount`] is that recount).
//!
//! Quantities are thousandths and amounts fen, so sums are exact; the sum of squared prices
//! only feeds the price-outlier rule and is a float.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;
use tracenode_adapters::codes::Stage;

use super::row::{amount_of, day_of, day_text, TraceRow};
use crate::db::schema::{trace_daily, trace_records};
use crate::db::DbConnection;
use crate::error::AppResult;

/// What one aggregate row is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DailyKey {
    /// Day, China Standard Time.
    pub day: NaiveDate,
    /// Region of the acting party.
    pub region: String,
    /// Product category, or empty.
    pub category: String,
    /// Stage.
    pub stage: String,
    /// `in` or `out`.
    pub direction: String,
}

/// The totals of one aggregate row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Records.
    pub records: i64,
    /// Quantity, thousandths.
    pub quantity_milli: i64,
    /// Amount, fen.
    pub amount_fen: i64,
    /// Records with a unit price.
    pub priced: i64,
    /// Sum of unit prices, fen.
    pub price_fen_sum: i64,
    /// Sum of squared unit prices, fen².
    pub price_fen_sumsq: f64,
}

impl Totals {
    /// The totals of one record.
    pub fn of(quantity_milli: i64, price_fen: Option<i64>, amount_fen: Option<i64>) -> Totals {
        Totals {
            records: 1,
            quantity_milli,
            amount_fen: amount_of(quantity_milli, price_fen, amount_fen),
            priced: i64::from(price_fen.is_some()),
            price_fen_sum: price_fen.unwrap_or(0),
            price_fen_sumsq: price_fen.map(|p| (p as f64) * (p as f64)).unwrap_or(0.0),
        }
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) `o`, stopping at the 64-bit bounds rather
    /// than wrapping.
    fn add(&mut self, o: &Totals, sign: i64) {
        let step = |have: i64, more: i64| have.saturating_add(more.saturating_mul(sign));
        self.records = step(self.records, o.records);
        self.quantity_milli = step(self.quantity_milli, o.quantity_milli);
        self.amount_fen = step(self.amount_fen, o.amount_fen);
        self.priced = step(self.priced, o.priced);
        self.price_fen_sum = step(self.price_fen_sum, o.price_fen_sum);
        self.price_fen_sumsq += (sign as f64) * o.price_fen_sumsq;
    }
}

/// An aggregate row's key in memory: small and `Copy`, so counting a million records costs
/// no allocation per record (categories are interned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    day: i32,
    region: u32,
    category: u32,
    stage: u8,
    out: bool,
}

/// Changes to the aggregates, gathered in memory while a submission is stored and written
/// once at its end.
#[derive(Debug, Default)]
pub struct DailyChanges {
    map: HashMap<Slot, Totals>,
    categories: Vec<String>,
    category_ids: HashMap<String, u32>,
}

impl DailyChanges {
    fn slot(&mut self, day: NaiveDate, region: &str, category: &str, stage: &str, direction: &str) -> Slot {
        let category = match self.category_ids.get(category) {
            Some(&id) => id,
            None => {
                let id = self.categories.len() as u32;
                self.categories.push(category.to_owned());
                self.category_ids.insert(category.to_owned(), id);
                id
            }
        };
        Slot {
            day: day.num_days_from_ce(),
            region: region.parse().unwrap_or(0),
            category,
            stage: Stage::ALL.iter().position(|s| s.code() == stage).unwrap_or(usize::from(u8::MAX)) as u8,
            out: direction == "out",
        }
    }

    fn key(&self, slot: &Slot) -> DailyKey {
        DailyKey {
            day: NaiveDate::from_num_days_from_ce_opt(slot.day).unwrap_or_default(),
            region: format!("{:06}", slot.region),
            category: self.categories.get(slot.category as usize).cloned().unwrap_or_default(),
            stage: Stage::ALL.get(usize::from(slot.stage)).map(|s| s.code().to_owned()).unwrap_or_default(),
            direction: if slot.out { "out" } else { "in" }.to_owned(),
        }
    }

    /// The order of the aggregates' key (day, region, category, stage, direction).
    fn order(&self, a: &Slot, b: &Slot) -> std::cmp::Ordering {
        let category = |s: &Slot| self.categories.get(s.category as usize).map(String::as_str).unwrap_or("");
        let stage = |s: &Slot| Stage::ALL.get(usize::from(s.stage)).map(|x| x.code()).unwrap_or("");
        (a.day, a.region, category(a), stage(a), a.out).cmp(&(b.day, b.region, category(b), stage(b), b.out))
    }

    /// Counts a stored record.
    pub fn count(&mut self, row: &TraceRow<'_>) {
        let totals = Totals::of(row.quantity_milli, row.price_fen, row.amount_fen);
        let slot = self.slot(row.day(), &row.region, &row.category, &row.stage, row.direction);
        self.map.entry(slot).or_default().add(&totals, 1);
    }

    /// Takes back a record that stops counting (superseded by a correction).
    pub fn uncount(&mut self, key: &DailyKey, totals: &Totals) {
        let slot = self.slot(key.day, &key.region, &key.category, &key.stage, &key.direction);
        self.map.entry(slot).or_default().add(totals, -1);
    }

    /// Aggregate rows touched.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Marks the (day, region) cells the changes touch for the statistics roll-up and adds
    /// them to the jurisdiction's summary (category summed away).
    fn summarise(&self, conn: &mut DbConnection, slots: &[(&Slot, &Totals)]) -> AppResult<()> {
        let mut cells: HashMap<(i32, u32, u8, bool), crate::stats::Figures> = HashMap::new();
        for (slot, t) in slots {
            let figures = crate::stats::Figures {
                records: t.records,
                quantity_milli: t.quantity_milli,
                amount_fen: t.amount_fen,
                priced: t.priced,
                price_fen_sum: t.price_fen_sum,
            };
            cells.entry((slot.day, slot.region, slot.stage, slot.out)).or_default().add(&figures);
        }
        let keys: Vec<(String, String, String, &str, crate::stats::Figures)> = cells
            .into_iter()
            .map(|((day, region, stage, out), figures)| {
                let day = day_text(NaiveDate::from_num_days_from_ce_opt(day).unwrap_or_default());
                let stage = Stage::ALL.get(usize::from(stage)).map(|s| s.code().to_owned()).unwrap_or_default();
                (day, format!("{region:06}"), stage, if out { "out" } else { "in" }, figures)
            })
            .collect();
        let mut marks: Vec<(String, String)> = keys.iter().map(|(d, r, ..)| (d.clone(), r.clone())).collect();
        marks.sort_unstable();
        marks.dedup();
        mark_changed(conn, &marks)?;
        crate::stats::summary::add(
            conn,
            keys.iter().map(|(day, region, stage, direction, figures)| crate::stats::summary::Change {
                day,
                region,
                stage,
                direction,
                figures: *figures,
            }),
        )
    }

    /// Adds the changes to the stored aggregates of `tenant`. A submission may touch hundreds
    /// of thousands of aggregate rows: on SQLite the changes go into a temporary table by a
    /// prepared insert and are merged in one `INSERT … SELECT … ON CONFLICT DO UPDATE`; on
    /// PostgreSQL they are merged 5,000 at a time from arrays (`unnest`).
    pub fn write(&self, conn: &mut DbConnection, tenant: &str) -> AppResult<()> {
        if self.map.is_empty() {
            return Ok(());
        }
        // In key order, so the merge appends to the aggregates' B-tree instead of scattering;
        // converted to rows a thousand at a time, so memory stays small.
        let mut slots: Vec<(&Slot, &Totals)> = self.map.iter().collect();
        slots.sort_unstable_by(|a, b| self.order(a.0, b.0));
        self.summarise(conn, &slots)?;
        if let Some(pg) = crate::db::postgres(conn) {
            for chunk in slots.chunks(5_000) {
                let keys: Vec<(DailyKey, &Totals)> = chunk.iter().map(|(slot, t)| (self.key(slot), *t)).collect();
                merge_unnested(pg, tenant, &keys)?;
            }
            return Ok(());
        }
        conn.batch_execute(DELTA_TABLE)?;
        for chunk in slots.chunks(1_000) {
            let keys: Vec<(DailyKey, &Totals)> = chunk.iter().map(|(slot, t)| (self.key(slot), *t)).collect();
            let rows: Vec<DeltaRow<'_>> = keys
                .iter()
                .map(|(k, t)| DeltaRow {
                    tenant_id: tenant,
                    day: day_text(k.day),
                    region: &k.region,
                    category: &k.category,
                    stage: &k.stage,
                    direction: &k.direction,
                    records: t.records,
                    quantity_milli: t.quantity_milli,
                    amount_fen: t.amount_fen,
                    priced: t.priced,
                    price_fen_sum: t.price_fen_sum,
                    price_fen_sumsq: t.price_fen_sumsq,
                })
                .collect();
            crate::insert_rows!(conn, trace_daily_delta::table, &rows)?;
        }
        conn.batch_execute(MERGE_DELTA)?;
        Ok(())
    }
}

/// Marks (day, region) cells (`YYYY-MM-DD`, six digits; region `""`: the whole day) whose
/// statistics may have changed, in the transaction that changes them: the node's own
/// aggregates here, a child's slice where the parent applies it. The statistics roll-up takes
/// marked cells a bounded number at a time. The mark is an upsert that counts the row's stamp
/// up when it exists: a roll-up reads the marked cells outside the write lock and clears a
/// mark only if its stamp is still the one it read, so a change committed meanwhile keeps its
/// cell marked for the next run.
pub fn mark_changed(conn: &mut DbConnection, cells: &[(String, String)]) -> AppResult<()> {
    use crate::db::schema::statistics_marks as sm;
    for (day, region) in cells {
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(sm::table)
            .values((sm::day.eq(day), sm::region.eq(region), sm::stamp.eq(0i64)))
            .on_conflict((sm::day, sm::region))
            .do_update()
            .set(sm::stamp.eq(sm::stamp + 1))
            .execute(c))?;
    }
    Ok(())
}

/// PostgreSQL: merges changes from one array per column, in one statement.
fn merge_unnested(pg: &mut diesel::pg::PgConnection, tenant: &str, keys: &[(DailyKey, &Totals)]) -> AppResult<()> {
    use diesel::sql_types::{Array, BigInt, Double, Text};
    fn col<'k, T>(keys: &'k [(DailyKey, &Totals)], f: impl Fn(&'k DailyKey, &'k Totals) -> T) -> Vec<T> {
        keys.iter().map(|(k, t)| f(k, t)).collect()
    }
    diesel::sql_query(MERGE_UNNESTED)
        .bind::<Text, _>(tenant)
        .bind::<Array<Text>, _>(col(keys, |k, _| day_text(k.day)))
        .bind::<Array<Text>, _>(col(keys, |k, _| k.region.as_str()))
        .bind::<Array<Text>, _>(col(keys, |k, _| k.category.as_str()))
        .bind::<Array<Text>, _>(col(keys, |k, _| k.stage.as_str()))
        .bind::<Array<Text>, _>(col(keys, |k, _| k.direction.as_str()))
        .bind::<Array<BigInt>, _>(col(keys, |_, t| t.records))
        .bind::<Array<BigInt>, _>(col(keys, |_, t| t.quantity_milli))
        .bind::<Array<BigInt>, _>(col(keys, |_, t| t.amount_fen))
        .bind::<Array<BigInt>, _>(col(keys, |_, t| t.priced))
        .bind::<Array<BigInt>, _>(col(keys, |_, t| t.price_fen_sum))
        .bind::<Array<Double>, _>(col(keys, |_, t| t.price_fen_sumsq))
        .execute(pg)?;
    Ok(())
}

/// See [`merge_unnested`].
const MERGE_UNNESTED: &str = "INSERT INTO trace_daily (tenant_id, day, region, category, stage, direction,
        records, quantity_milli, amount_fen, priced, price_fen_sum, price_fen_sumsq)
    SELECT $1, u.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
        $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::float8[]) AS u
    ON CONFLICT (tenant_id, day, region, category, stage, direction) DO UPDATE SET
        records = trace_daily.records + excluded.records,
        quantity_milli = trace_daily.quantity_milli + excluded.quantity_milli,
        amount_fen = trace_daily.amount_fen + excluded.amount_fen,
        priced = trace_daily.priced + excluded.priced,
        price_fen_sum = trace_daily.price_fen_sum + excluded.price_fen_sum,
        price_fen_sumsq = trace_daily.price_fen_sumsq + excluded.price_fen_sumsq";

/// SQLite: the temporary table changes are gathered in before the merge.
const DELTA_TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS trace_daily_delta (
    tenant_id TEXT NOT NULL, day TEXT NOT NULL, region TEXT NOT NULL, category TEXT NOT NULL,
    stage TEXT NOT NULL, direction TEXT NOT NULL, records BIGINT NOT NULL,
    quantity_milli BIGINT NOT NULL, amount_fen BIGINT NOT NULL, priced BIGINT NOT NULL,
    price_fen_sum BIGINT NOT NULL, price_fen_sumsq DOUBLE PRECISION NOT NULL);
    DELETE FROM trace_daily_delta;";

/// Adds the gathered changes to the aggregates (`WHERE true` keeps SQLite's parser from
/// reading `ON CONFLICT` as part of the `SELECT`).
const MERGE_DELTA: &str = "INSERT INTO trace_daily (tenant_id, day, region, category, stage, direction,
        records, quantity_milli, amount_fen, priced, price_fen_sum, price_fen_sumsq)
    SELECT tenant_id, day, region, category, stage, direction,
        records, quantity_milli, amount_fen, priced, price_fen_sum, price_fen_sumsq
    FROM trace_daily_delta WHERE true
    ON CONFLICT (tenant_id, day, region, category, stage, direction) DO UPDATE SET
        records = trace_daily.records + excluded.records,
        quantity_milli = trace_daily.quantity_milli + excluded.quantity_milli,
        amount_fen = trace_daily.amount_fen + excluded.amount_fen,
        priced = trace_daily.priced + excluded.priced,
        price_fen_sum = trace_daily.price_fen_sum + excluded.price_fen_sum,
        price_fen_sumsq = trace_daily.price_fen_sumsq + excluded.price_fen_sumsq;
    DELETE FROM trace_daily_delta;";

/// The temporary table, declared for diesel (it is created by [`DELTA_TABLE`]).
#[allow(missing_docs)]
mod delta {
    diesel::table! {
        /// Temporary: the changes of one submission (see [`DailyChanges::write`]).
        trace_daily_delta (tenant_id, day, region, category, stage, direction) {
            tenant_id -> Text,
            day -> Text,
            region -> Text,
            category -> Text,
            stage -> Text,
            direction -> Text,
            records -> BigInt,
            quantity_milli -> BigInt,
            amount_fen -> BigInt,
            priced -> BigInt,
            price_fen_sum -> BigInt,
            price_fen_sumsq -> Double,
        }
    }
}
use delta::trace_daily_delta;

#[derive(Insertable)]
#[diesel(table_name = trace_daily_delta, treat_none_as_default_value = false)]
struct DeltaRow<'a> {
    tenant_id: &'a str,
    day: String,
    region: &'a str,
    category: &'a str,
    stage: &'a str,
    direction: &'a str,
    records: i64,
    quantity_milli: i64,
    amount_fen: i64,
    priced: i64,
    price_fen_sum: i64,
    price_fen_sumsq: f64,
}

/// The stored aggregates of `tenant` (all tenants when `None`), rows with no records left
/// out.
pub fn stored(conn: &mut DbConnection, tenant: Option<&str>) -> AppResult<Vec<(DailyKey, Totals)>> {
    use trace_daily::dsl as d;
    let mut q = trace_daily::table.filter(d::records.ne(0)).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(d::tenant_id.eq(t.to_owned()));
    }
    type Row = (String, String, String, String, String, i64, i64, i64, i64, i64, f64);
    let rows: Vec<Row> = q
        .select((
            d::day,
            d::region,
            d::category,
            d::stage,
            d::direction,
            d::records,
            d::quantity_milli,
            d::amount_fen,
            d::priced,
            d::price_fen_sum,
            d::price_fen_sumsq,
        ))
        .load(conn)?;
    let mut merged: HashMap<DailyKey, Totals> = HashMap::new();
    for (day, region, category, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum, sq) in
        rows
    {
        let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else { continue };
        let t = Totals { records, quantity_milli, amount_fen, priced, price_fen_sum, price_fen_sumsq: sq };
        merged.entry(DailyKey { day, region, category, stage, direction }).or_default().add(&t, 1);
    }
    Ok(sorted(merged))
}

fn sorted(map: HashMap<DailyKey, Totals>) -> Vec<(DailyKey, Totals)> {
    let mut v: Vec<_> = map.into_iter().filter(|(_, t)| t.records != 0).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The columns of a stored record that say what it counts for.
pub type CountedColumns = (
    trace_records::act_time,
    trace_records::region,
    trace_records::category,
    trace_records::stage,
    trace_records::direction,
    trace_records::quantity_milli,
    trace_records::price_fen,
    trace_records::amount_fen,
);

/// [`CountedColumns`] for a select.
pub const COUNTED: CountedColumns = (
    trace_records::act_time,
    trace_records::region,
    trace_records::category,
    trace_records::stage,
    trace_records::direction,
    trace_records::quantity_milli,
    trace_records::price_fen,
    trace_records::amount_fen,
);

/// A stored record's [`CountedColumns`].
pub type Counted = (chrono::NaiveDateTime, String, String, String, String, i64, Option<i64>, Option<i64>);

/// What a stored record counts for: its aggregate row and totals.
pub fn contribution((time, region, category, stage, direction, q, price, amount): Counted) -> (DailyKey, Totals) {
    (DailyKey { day: day_of(time), region, category, stage, direction }, Totals::of(q, price, amount))
}

/// The aggregates recounted from the counted records of `tenant` (all tenants when `None`),
/// read in pages so memory stays bounded.
pub fn recount(conn: &mut DbConnection, tenant: Option<&str>) -> AppResult<Vec<(DailyKey, Totals)>> {
    use trace_records::dsl as r;
    let mut map: HashMap<DailyKey, Totals> = HashMap::new();
    let mut after = 0i64;
    loop {
        let mut q = trace_records::table
            .filter(r::seq.gt(after))
            .filter(r::status.eq(super::status::STORED))
            .order(r::seq)
            .limit(10_000)
            .into_boxed();
        if let Some(t) = tenant {
            q = q.filter(r::tenant_id.eq(t.to_owned()));
        }
        let rows: Vec<(i64, Counted)> = q.select((r::seq, COUNTED)).load(conn)?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (_, counted) in rows {
            let (key, totals) = contribution(counted);
            map.entry(key).or_default().add(&totals, 1);
        }
    }
    Ok(sorted(map))
}
