//! The rule checks that look at what is stored: repeated single-item trace codes, sales
//! beyond stock, the time order of a batch's stages, and price outliers against the
//! trailing daily aggregates.
//!
//! They run in the submission's transaction right after a step of records is stored, so the
//! history they read includes every record of the submission stored so far (and no resent
//! duplicate twice). Each step costs one grouped query over the step's trace codes (on
//! their index); price windows come from `trace_daily` and are kept for the submission. The
//! history is that of the whole node, so a code cloned across platforms is caught; findings
//! quote counts and totals, never another tenant's records.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::dsl::{count_star, max, min, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use tracenode_adapters::codes::Stage;
use tracenode_adapters::identifiers::gs1_has_serial;

use super::record::stage_zh;
use super::{Check, PriceParams, RepeatedCodeParams, RuleSet, StockParams};
use crate::db::schema::{trace_daily, trace_records};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::quality::anomalies::Flag;
use crate::trace::row::TraceRow;
use crate::trace::status;

/// Trace codes per query (well under every backend's limit of bound parameters).
const CODES_PER_QUERY: usize = 900;

/// Stored records of one (code, batch, stage, direction, seller, buyer, unit), summed.
#[derive(Debug, Clone, Queryable)]
struct Group {
    trace_code: String,
    batch: String,
    stage: String,
    direction: String,
    from_code: String,
    to_code: String,
    unit: String,
    records: i64,
    quantity_milli: i64,
    first: Option<NaiveDateTime>,
    last: Option<NaiveDateTime>,
}

/// Daily price sums of one (region, category, stage), loaded for a range of days.
#[derive(Debug, Default)]
struct Series {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    days: BTreeMap<NaiveDate, (i64, i64, f64)>,
}

/// The history checks of one submission.
pub struct History<'r> {
    rules: &'r RuleSet,
    /// Daily price sums by [`price_key`].
    prices: HashMap<String, Series>,
    /// The trace codes of the step about to be stored that the node held already.
    known: HashSet<String>,
}

/// When a batch was at one stage: (stage order, first act, last act).
type StageSpan = (usize, NaiveDateTime, NaiveDateTime);

/// The groups of stored records, indexed the ways the checks ask.
#[derive(Default)]
struct Index {
    /// (code, stage, direction) → records.
    occurrences: HashMap<(String, String, String), i64>,
    /// (party, code, batch, unit) → (bought, sold), thousandths.
    stock: HashMap<(String, String, String, String), (i64, i64)>,
    /// (code, batch) → (stage order, first, last act).
    stages: HashMap<(String, String), Vec<StageSpan>>,
}

impl Index {
    /// (bought, sold) of the seller of `row` for its code, batch and unit.
    fn stock_of(&self, row: &TraceRow<'_>) -> Option<(i64, i64)> {
        let key = (row.from_code.clone(), row.trace_code.clone(), row.batch.clone(), row.unit.clone());
        self.stock.get(&key).copied()
    }

    fn add(&mut self, g: Group) {
        *self.occurrences.entry((g.trace_code.clone(), g.stage.clone(), g.direction.clone())).or_default() += g.records;
        let key = |party: &str| (party.to_owned(), g.trace_code.clone(), g.batch.clone(), g.unit.clone());
        if g.direction == "in" {
            self.stock.entry(key(&g.to_code)).or_default().0 += g.quantity_milli;
        } else {
            self.stock.entry(key(&g.from_code)).or_default().1 += g.quantity_milli;
        }
        if let (Some(order), Some(first), Some(last)) = (stage_order(&g.stage), g.first, g.last) {
            self.stages.entry((g.trace_code, g.batch)).or_default().push((order, first, last));
        }
    }
}

fn stage_order(code: &str) -> Option<usize> {
    Stage::ALL.iter().position(|s| s.code() == code)
}

fn thousandths(v: i64) -> String {
    let s = format!("{}", v as f64 / 1000.0);
    s.trim_end_matches(".0").to_owned()
}

impl<'r> History<'r> {
    /// The history checks of `rules`.
    pub fn new(rules: &'r RuleSet) -> History<'r> {
        History { rules, prices: HashMap::new(), known: HashSet::new() }
    }

    /// Before a step is stored: notes which of its trace codes the node holds already (on
    /// SQLite an index-only probe). A code that is new and occurs once in the step has no
    /// history but its own record, so [`History::check`] reads it from the step and not
    /// from the database: most codes of a large submission are such.
    pub fn probe(&mut self, conn: &mut DbConnection, rows: &[TraceRow<'_>]) -> AppResult<()> {
        self.known.clear();
        if !self.rules.needs_history() {
            return Ok(());
        }
        let codes: Vec<&str> = self.asked(rows.iter()).into_iter().collect();
        for chunk in codes.chunks(CODES_PER_QUERY) {
            use trace_records::dsl as t;
            let found: Vec<String> =
                trace_records::table.filter(t::trace_code.eq_any(chunk)).select(t::trace_code).distinct().load(conn)?;
            self.known.extend(found);
        }
        Ok(())
    }

    /// The distinct trace codes of `rows` that a code-based rule asks about.
    fn asked<'a, 'b: 'a>(&self, rows: impl Iterator<Item = &'a TraceRow<'b>>) -> HashSet<&'a str> {
        rows.filter(|r| !r.trace_code.is_empty() && self.rules.rules.iter().any(|rule| asks_about(&rule.check, r)))
            .map(|r| r.trace_code.as_str())
            .collect()
    }

    /// The flags the rows just stored earn, by their index in `rows`.
    pub fn check(&mut self, conn: &mut DbConnection, rows: &[&TraceRow<'_>]) -> AppResult<Vec<(usize, Flag)>> {
        let mut flags = Vec::new();
        if rows.is_empty() || !self.rules.needs_history() {
            return Ok(flags);
        }
        let (index, fresh) = self.stored(conn, rows)?;
        let prices: Vec<&PriceParams> = self
            .rules
            .rules
            .iter()
            .filter_map(|r| if let Check::PriceOutlier(p) = &r.check { Some(p) } else { None })
            .collect();
        if let Some(widest) = prices.iter().map(|p| p.window_days).max() {
            self.cover_prices(conn, rows, widest)?;
        }
        let mut key = String::new();
        for rule in &self.rules.rules {
            let name = rule.name.as_str();
            for (k, row) in rows.iter().enumerate() {
                let flag = match &rule.check {
                    // A fresh row is its code's only record: once, at one stage.
                    Check::RepeatedTraceCode(_) | Check::TimeOrder if fresh[k] => None,
                    Check::RepeatedTraceCode(p) => repeated(name, p, row, &index),
                    Check::SalesBeyondStock(p) => {
                        let totals = if fresh[k] { Some((0, row.quantity_milli)) } else { index.stock_of(row) };
                        beyond_stock(name, p, row, totals)
                    }
                    Check::TimeOrder => out_of_order(name, row, &index),
                    Check::PriceOutlier(p) => self.price_outlier(&mut key, name, p, row),
                    Check::Range(_) => None,
                };
                flags.extend(flag.map(|f| (k, f)));
            }
        }
        Ok(flags)
    }

    /// The stored groups of the trace codes the code-based rules ask about, read from the
    /// database for codes with history (or more than one record in the step); and which rows
    /// are fresh: their code is new to the node and occurs once in the step, so the row is
    /// its code's whole history and the checks need no lookup.
    fn stored(&self, conn: &mut DbConnection, rows: &[&TraceRow<'_>]) -> AppResult<(Index, Vec<bool>)> {
        let asked = self.asked(rows.iter().copied());
        let mut in_step: HashMap<&str, usize> = HashMap::new();
        for r in rows.iter().filter(|r| asked.contains(r.trace_code.as_str())) {
            *in_step.entry(r.trace_code.as_str()).or_default() += 1;
        }
        let fresh: Vec<bool> = rows
            .iter()
            .map(|r| in_step.get(r.trace_code.as_str()) == Some(&1) && !self.known.contains(&r.trace_code))
            .collect();
        let mut codes: Vec<&str> =
            in_step.iter().filter(|(c, n)| **n > 1 || self.known.contains(**c)).map(|(c, _)| *c).collect();
        codes.sort_unstable();
        let mut index = Index::default();
        for chunk in codes.chunks(CODES_PER_QUERY) {
            use trace_records::dsl as t;
            let groups: Vec<Group> = trace_records::table
                .filter(t::trace_code.eq_any(chunk))
                .filter(t::status.eq(status::STORED))
                .group_by((t::trace_code, t::batch, t::stage, t::direction, t::from_code, t::to_code, t::unit))
                .select((
                    t::trace_code,
                    t::batch,
                    t::stage,
                    t::direction,
                    t::from_code,
                    t::to_code,
                    t::unit,
                    count_star(),
                    sql::<BigInt>("CAST(SUM(quantity_milli) AS BIGINT)"),
                    min(t::act_time),
                    max(t::act_time),
                ))
                .load(conn)?;
            groups.into_iter().for_each(|g| index.add(g));
        }
        Ok((index, fresh))
    }

    /// Loads, in one query, the daily price sums the step's priced records need (a window of
    /// `days` before each record's day) and the submission has not loaded yet. A load takes a
    /// month more on either side, so the next steps rarely need another.
    fn cover_prices<'a>(&mut self, conn: &mut DbConnection, rows: &[&'a TraceRow<'_>], days: u32) -> AppResult<()> {
        let mut key = String::new();
        let mut missing: Vec<(&'a TraceRow<'_>, NaiveDate, NaiveDate)> = Vec::new();
        for row in rows.iter().copied().filter(|r| r.price_fen.is_some() && !r.category.is_empty()) {
            let (from, to) = window(row.day(), days);
            price_key(&mut key, row);
            if !self.prices.get(key.as_str()).is_some_and(|s| s.covers(from, to)) {
                missing.push((row, from, to));
            }
        }
        let (Some(lo), Some(hi)) = (missing.iter().map(|m| m.1).min(), missing.iter().map(|m| m.2).max()) else {
            return Ok(());
        };
        let (lo, hi) = (lo - TimeDelta::days(31), hi + TimeDelta::days(31));
        let distinct =
            |values: Vec<&'a str>| -> Vec<&'a str> { values.into_iter().collect::<HashSet<_>>().into_iter().collect() };
        let regions = distinct(missing.iter().map(|m| m.0.region.as_str()).collect());
        let categories = distinct(missing.iter().map(|m| m.0.category.as_str()).collect());
        let stages = distinct(missing.iter().map(|m| m.0.stage.as_str()).collect());
        use trace_daily::dsl as d;
        let mut loaded: HashMap<String, BTreeMap<NaiveDate, (i64, i64, f64)>> = HashMap::new();
        for chunk in regions.chunks(CODES_PER_QUERY / 2) {
            let found: Vec<(String, String, String, String, i64, i64, f64)> = trace_daily::table
                .filter(d::day.ge(lo.to_string()))
                .filter(d::day.le(hi.to_string()))
                .filter(d::region.eq_any(chunk))
                .filter(d::category.eq_any(&categories))
                .filter(d::stage.eq_any(&stages))
                .select((d::region, d::category, d::stage, d::day, d::priced, d::price_fen_sum, d::price_fen_sumsq))
                .load(conn)?;
            for (region, category, stage, day, n, sum, sumsq) in found {
                let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else { continue };
                let e = loaded.entry(join_key(&region, &category, &stage)).or_default().entry(day).or_default();
                *e = (e.0 + n, e.1 + sum, e.2 + sumsq);
            }
        }
        for (row, _, _) in missing {
            price_key(&mut key, row);
            if let Some(days) = loaded.remove(key.as_str()) {
                self.prices.insert(key.clone(), Series { from: Some(lo), to: Some(hi), days });
            } else if !self.prices.get(key.as_str()).is_some_and(|s| s.covers(lo, hi)) {
                self.prices.insert(key.clone(), Series { from: Some(lo), to: Some(hi), days: BTreeMap::new() });
            }
        }
        Ok(())
    }

    fn price_outlier(&self, key: &mut String, name: &str, p: &PriceParams, row: &TraceRow<'_>) -> Option<Flag> {
        let price = row.price_fen?;
        if row.category.is_empty() {
            return None;
        }
        let (from, to) = window(row.day(), p.window_days);
        price_key(key, row);
        let series = self.prices.get(key.as_str()).filter(|s| s.covers(from, to))?;
        let (n, sum, sumsq) = series
            .days
            .range(from..=to)
            .fold((0i64, 0i64, 0f64), |(n, s, q), (_, (dn, ds, dq))| (n + dn, s + ds, q + dq));
        if n < i64::from(p.min_samples) {
            return None;
        }
        let mean = sum as f64 / n as f64;
        let sd = (sumsq / n as f64 - mean * mean).max(0.0).sqrt().max(1.0);
        let z = (price as f64 - mean) / sd;
        if z.abs() <= p.z {
            return None;
        }
        let yuan = |f: f64| format!("{:.2}", f / 100.0);
        Some(Flag {
            rule: "price_outlier",
            zh: format!(
                "{name}：单价 {} 元偏离本地区同品类同环节前{}天均价 {} 元（标准差 {} 元，z = {z:.1}，样本 {n} 笔）",
                yuan(price as f64),
                p.window_days,
                yuan(mean),
                yuan(sd)
            ),
            en: format!(
                "{name}: unit price {} is off the {}-day mean {} of its category, region and stage (sd {}, z = {z:.1}, {n} samples)",
                yuan(price as f64),
                p.window_days,
                yuan(mean),
                yuan(sd)
            ),
        })
    }
}

impl Series {
    /// Whether the days `from..=to` are loaded.
    fn covers(&self, from: NaiveDate, to: NaiveDate) -> bool {
        matches!((self.from, self.to), (Some(a), Some(b)) if a <= from && to <= b)
    }
}

/// Writes into `key` what a price is compared within: its region, category and stage.
fn price_key(key: &mut String, row: &TraceRow<'_>) {
    key.clear();
    key.push_str(&row.region);
    key.push('\u{1f}');
    key.push_str(&row.category);
    key.push('\u{1f}');
    key.push_str(&row.stage);
}

fn join_key(region: &str, category: &str, stage: &str) -> String {
    format!("{region}\u{1f}{category}\u{1f}{stage}")
}

/// The `days` days before `day`.
fn window(day: NaiveDate, days: u32) -> (NaiveDate, NaiveDate) {
    (day - TimeDelta::days(i64::from(days)), day - TimeDelta::days(1))
}

/// Whether a code-based rule looks at `row`'s trace code.
fn asks_about(check: &Check, row: &TraceRow<'_>) -> bool {
    match check {
        Check::RepeatedTraceCode(p) => counts_as_item(p, row),
        Check::SalesBeyondStock(p) => sells_at(p, row),
        Check::TimeOrder => !row.batch.is_empty(),
        _ => false,
    }
}

fn counts_as_item(p: &RepeatedCodeParams, row: &TraceRow<'_>) -> bool {
    row.stage == p.stage
        && row.direction == p.direction
        && p.schemes.contains(&row.scheme)
        && (row.scheme != "gs1" || gs1_has_serial(&row.trace_code))
}

fn sells_at(p: &StockParams, row: &TraceRow<'_>) -> bool {
    row.direction == "out" && p.stages.contains(&row.stage)
}

fn repeated(name: &str, p: &RepeatedCodeParams, row: &TraceRow<'_>, index: &Index) -> Option<Flag> {
    if !counts_as_item(p, row) {
        return None;
    }
    let n = *index.occurrences.get(&(row.trace_code.clone(), row.stage.clone(), row.direction.to_owned()))?;
    (n > i64::from(p.max_count)).then(|| Flag {
        rule: "repeated_trace_code",
        zh: format!(
            "{name}：单品追溯码 {} 在“{}”环节已出现 {n} 次（最多 {} 次）",
            row.trace_code,
            stage_zh(&row.stage),
            p.max_count
        ),
        en: format!(
            "{name}: single-item code {} appears {n} times at {} (at most {})",
            row.trace_code, row.stage, p.max_count
        ),
    })
}

fn beyond_stock(name: &str, p: &StockParams, row: &TraceRow<'_>, totals: Option<(i64, i64)>) -> Option<Flag> {
    if !sells_at(p, row) {
        return None;
    }
    let (bought, sold) = totals?;
    let allowed = bought as f64 * (1.0 + p.tolerance_percent / 100.0);
    ((sold as f64) > allowed).then(|| Flag {
        rule: "sales_beyond_stock",
        zh: format!(
            "{name}：{}（{}）的 {} 批次“{}”累计销售 {}{} ，超过累计购进 {}{}",
            row.from_name,
            row.from_code,
            row.trace_code,
            row.batch,
            thousandths(sold),
            row.unit,
            thousandths(bought),
            row.unit
        ),
        en: format!(
            "{name}: {} sold {} {} of {} batch {:?}, more than the {} bought",
            row.from_code,
            thousandths(sold),
            row.unit,
            row.trace_code,
            row.batch,
            thousandths(bought)
        ),
    })
}

fn out_of_order(name: &str, row: &TraceRow<'_>, index: &Index) -> Option<Flag> {
    if row.batch.is_empty() {
        return None;
    }
    let me = stage_order(&row.stage)?;
    let t = row.act_time.0;
    let others = index.stages.get(&(row.trace_code.clone(), row.batch.clone()))?;
    let clash = others.iter().find(|(order, first, last)| (*order < me && *last > t) || (*order > me && *first < t))?;
    let other = Stage::ALL[clash.0];
    let when = |t: NaiveDateTime| (t + TimeDelta::hours(crate::trace::row::CST_HOURS)).format("%Y-%m-%d %H:%M");
    let (zh_rel, en_rel, other_time) =
        if clash.0 < me { ("早于", "before", clash.2) } else { ("晚于", "after", clash.1) };
    Some(Flag {
        rule: "time_order",
        zh: format!(
            "{name}：批次“{}”的“{}”（{}）{zh_rel}“{}”（{}）",
            row.batch,
            stage_zh(&row.stage),
            when(t),
            other.label_zh(),
            when(other_time)
        ),
        en: format!(
            "{name}: {} of batch {:?} at {} is {en_rel} its {} at {}",
            row.stage,
            row.batch,
            when(t),
            other.code(),
            when(other_time)
        ),
    })
}
