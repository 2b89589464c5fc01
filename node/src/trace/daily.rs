//! Daily aggregates (每日汇总) kept while records are stored: count, quantity, amount and
//! price statistics by day (China Standard Time), region, product category, stage and
//! direction, per tenant. The statistics roll-up sends them upward, so they must always
//! equal a recount of the counted records ([`recount`] is that recount).
//!
//! Quantities are thousandths and amounts fen, so sums are exact; the sum of squared prices
//! only feeds the price-outlier rule and is a float.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::upsert::excluded;
use serde::Serialize;

use super::row::{day_of, day_text, fen, TraceRow};
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
    pub fn of(quantity_milli: i64, amount_fen: Option<i64>, price_fen: Option<i64>) -> Totals {
        Totals {
            records: 1,
            quantity_milli,
            amount_fen: amount_fen.unwrap_or(0),
            priced: i64::from(price_fen.is_some()),
            price_fen_sum: price_fen.unwrap_or(0),
            price_fen_sumsq: price_fen.map(|p| (p as f64) * (p as f64)).unwrap_or(0.0),
        }
    }

    fn add(&mut self, o: &Totals, sign: i64) {
        self.records += sign * o.records;
        self.quantity_milli += sign * o.quantity_milli;
        self.amount_fen += sign * o.amount_fen;
        self.priced += sign * o.priced;
        self.price_fen_sum += sign * o.price_fen_sum;
        self.price_fen_sumsq += (sign as f64) * o.price_fen_sumsq;
    }
}

/// Changes to the aggregates, gathered in memory while a submission is stored and written
/// once at its end.
#[derive(Debug, Default)]
pub struct DailyChanges {
    map: HashMap<DailyKey, Totals>,
}

impl DailyChanges {
    /// Counts a stored record (its strings move into the key).
    pub fn count(&mut self, row: TraceRow<'_>) {
        let totals = Totals::of(row.quantity_milli, row.amount_fen, row.price_fen);
        let key = DailyKey {
            day: row.day(),
            region: row.region,
            category: row.category,
            stage: row.stage,
            direction: row.direction.to_owned(),
        };
        self.map.entry(key).or_default().add(&totals, 1);
    }

    /// Takes back a record that stops counting (superseded by a correction).
    pub fn uncount(&mut self, key: DailyKey, totals: &Totals) {
        self.map.entry(key).or_default().add(totals, -1);
    }

    /// Aggregate rows touched.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds the changes to the stored aggregates of `tenant`.
    pub fn write(self, conn: &mut DbConnection, tenant: &str) -> AppResult<()> {
        use trace_daily::dsl as d;
        for (k, t) in self.map {
            let upsert = diesel::insert_into(trace_daily::table)
                .values((
                    d::tenant_id.eq(tenant),
                    d::day.eq(day_text(k.day)),
                    d::region.eq(&k.region),
                    d::category.eq(&k.category),
                    d::stage.eq(&k.stage),
                    d::direction.eq(&k.direction),
                    d::records.eq(t.records),
                    d::quantity_milli.eq(t.quantity_milli),
                    d::amount_fen.eq(t.amount_fen),
                    d::priced.eq(t.priced),
                    d::price_fen_sum.eq(t.price_fen_sum),
                    d::price_fen_sumsq.eq(t.price_fen_sumsq),
                ))
                .on_conflict((d::tenant_id, d::day, d::region, d::category, d::stage, d::direction))
                .do_update()
                .set((
                    d::records.eq(d::records + excluded(d::records)),
                    d::quantity_milli.eq(d::quantity_milli + excluded(d::quantity_milli)),
                    d::amount_fen.eq(d::amount_fen + excluded(d::amount_fen)),
                    d::priced.eq(d::priced + excluded(d::priced)),
                    d::price_fen_sum.eq(d::price_fen_sum + excluded(d::price_fen_sum)),
                    d::price_fen_sumsq.eq(d::price_fen_sumsq + excluded(d::price_fen_sumsq)),
                ));
            crate::on_backend!(conn, |c| upsert.execute(c))?;
        }
        Ok(())
    }
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

/// The unit price (fen) a canonical record carries.
pub fn price_fen_of(body: &str) -> Option<i64> {
    serde_json::from_str::<tracenode_adapters::records::TraceRecord>(body).ok()?.act.price.and_then(fen)
}

/// The columns of a stored record that say what it counts for.
pub type CountedColumns = (
    trace_records::act_time,
    trace_records::region,
    trace_records::category,
    trace_records::stage,
    trace_records::direction,
    trace_records::quantity_milli,
    trace_records::amount_fen,
    trace_records::body,
);

/// [`CountedColumns`] for a select.
pub const COUNTED: CountedColumns = (
    trace_records::act_time,
    trace_records::region,
    trace_records::category,
    trace_records::stage,
    trace_records::direction,
    trace_records::quantity_milli,
    trace_records::amount_fen,
    trace_records::body,
);

/// A stored record's [`CountedColumns`].
pub type Counted = (chrono::NaiveDateTime, String, String, String, String, i64, Option<i64>, String);

/// What a stored record counts for: its aggregate row and totals.
pub fn contribution((time, region, category, stage, direction, q, amount, body): Counted) -> (DailyKey, Totals) {
    (DailyKey { day: day_of(time), region, category, stage, direction }, Totals::of(q, amount, price_fen_of(&body)))
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
