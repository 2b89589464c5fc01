//! A validated trace record as it is stored: the record's three parts as columns, with exact
//! quantities (thousandths) and money (fen), and the act's time in UTC.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use tracenode_adapters::records::{Act, Party, TraceRecord, TracedProduct};

use crate::db::schema::trace_records;
use crate::db::time::StoredTime;

/// China Standard Time, in which a record's day is counted.
pub const CST_HOURS: i64 = 8;

/// A record ready to be inserted. `tenant_id`, `submission_id` and `reporter` are shared by
/// the whole submission and borrowed from it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = trace_records, treat_none_as_default_value = false)]
pub struct TraceRow<'a> {
    /// Owning tenant.
    pub tenant_id: &'a str,
    /// The sender's record id.
    pub record_id: String,
    /// SHA-256 of the canonical record.
    pub content_hash: Vec<u8>,
    /// The submission that brought it.
    pub submission_id: &'a str,
    /// The node that reported it (this node's region, or a child's).
    pub reporter: &'a str,
    /// [`super::status`].
    pub status: &'static str,
    /// Whether an anomaly or a policy flagged it.
    pub flagged: bool,
    /// Seller's code.
    pub from_code: String,
    /// Seller's name.
    pub from_name: String,
    /// Seller's region.
    pub from_region: String,
    /// Buyer's code.
    pub to_code: String,
    /// Buyer's name.
    pub to_name: String,
    /// Buyer's region.
    pub to_region: String,
    /// Trace code.
    pub trace_code: String,
    /// Scheme of the trace code.
    pub scheme: String,
    /// Product name.
    pub product_name: String,
    /// Product category code, or empty.
    pub category: String,
    /// Specification.
    pub specification: String,
    /// Batch number, or empty.
    pub batch: String,
    /// Production date.
    pub production_date: Option<String>,
    /// Shelf life, days.
    pub shelf_life_days: Option<i32>,
    /// Place of origin.
    pub origin: String,
    /// Stage code.
    pub stage: String,
    /// `in` or `out`.
    pub direction: &'static str,
    /// Quantity in thousandths of the unit.
    pub quantity_milli: i64,
    /// Unit.
    pub unit: String,
    /// Unit price in fen, when known.
    pub price_fen: Option<i64>,
    /// Amount in fen, when given.
    pub amount_fen: Option<i64>,
    /// Time of the act, UTC.
    pub act_time: StoredTime,
    /// Place.
    pub place: String,
    /// Region of the acting party (the seller for `out`, the buyer for `in`).
    pub region: String,
    /// The business document of the act (交易凭证号), or empty (kept in `trace_vouchers`).
    #[diesel(skip_insertion)]
    pub voucher: String,
    /// The record id this one corrects (kept in `trace_corrections`).
    #[diesel(skip_insertion)]
    pub corrects: Option<String>,
}

impl TraceRow<'_> {
    /// The day of the act in China Standard Time.
    pub fn day(&self) -> NaiveDate {
        day_of(self.act_time.0)
    }
}

/// A stored record read back.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = trace_records)]
pub struct StoredRecord {
    /// Storage sequence.
    pub seq: i64,
    /// Tenant.
    pub tenant_id: String,
    /// Record id.
    pub record_id: String,
    /// Reporting node.
    pub reporter: String,
    /// Status.
    pub status: String,
    /// Flagged.
    pub flagged: bool,
    /// Seller's code.
    pub from_code: String,
    /// Seller's name.
    pub from_name: String,
    /// Seller's region.
    pub from_region: String,
    /// Buyer's code.
    pub to_code: String,
    /// Buyer's name.
    pub to_name: String,
    /// Buyer's region.
    pub to_region: String,
    /// Trace code.
    pub trace_code: String,
    /// Scheme.
    pub scheme: String,
    /// Product name.
    pub product_name: String,
    /// Category.
    pub category: String,
    /// Specification.
    pub specification: String,
    /// Batch.
    pub batch: String,
    /// Production date.
    pub production_date: Option<String>,
    /// Shelf life.
    pub shelf_life_days: Option<i32>,
    /// Origin.
    pub origin: String,
    /// Stage.
    pub stage: String,
    /// Direction.
    pub direction: String,
    /// Quantity, thousandths.
    pub quantity_milli: i64,
    /// Unit.
    pub unit: String,
    /// Unit price, fen.
    pub price_fen: Option<i64>,
    /// Amount, fen.
    pub amount_fen: Option<i64>,
    /// Time of the act, UTC.
    pub act_time: NaiveDateTime,
    /// Place.
    pub place: String,
    /// Acting party's region.
    pub region: String,
}

impl StoredRecord {
    /// The record in canonical form: quantities to three decimals, money to the fen, the time
    /// in China Standard Time.
    pub fn record(&self, corrects: Option<String>, voucher: String) -> TraceRecord {
        TraceRecord {
            id: self.record_id.clone(),
            corrects,
            retraction: self.status == super::status::RETRACTION,
            from: Party {
                code: self.from_code.clone(),
                name: self.from_name.clone(),
                region: self.from_region.clone(),
            },
            to: Party { code: self.to_code.clone(), name: self.to_name.clone(), region: self.to_region.clone() },
            product: TracedProduct {
                trace_code: self.trace_code.clone(),
                scheme: self.scheme.clone(),
                name: self.product_name.clone(),
                category: self.category.clone(),
                specification: self.specification.clone(),
                batch: self.batch.clone(),
                production_date: self.production_date.clone(),
                shelf_life_days: self.shelf_life_days.and_then(|d| u32::try_from(d).ok()),
                origin: self.origin.clone(),
            },
            act: Act {
                stage: self.stage.clone(),
                direction: self.direction.clone(),
                quantity: self.quantity_milli as f64 / 1_000.0,
                unit: self.unit.clone(),
                price: self.price_fen.map(|p| p as f64 / 100.0),
                amount: self.amount_fen.map(|a| a as f64 / 100.0),
                time: cst_text(self.act_time),
                place: self.place.clone(),
                voucher,
            },
        }
    }
}

/// A UTC time as ISO 8601 in China Standard Time.
pub fn cst_text(utc: NaiveDateTime) -> String {
    (utc + TimeDelta::hours(CST_HOURS)).format("%Y-%m-%dT%H:%M:%S+08:00").to_string()
}

/// The day of a UTC time in China Standard Time.
pub fn day_of(utc: NaiveDateTime) -> NaiveDate {
    (utc + TimeDelta::hours(CST_HOURS)).date()
}

/// `YYYY-MM-DD`, written by hand (a bulk load formats many of them).
pub fn day_text(d: NaiveDate) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(10);
    let _ = write!(s, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
    s
}

/// A decimal quantity in thousandths, rounded half away from zero; `None` if it does not
/// fit.
pub fn thousandths(v: f64) -> Option<i64> {
    let scaled = (v * 1_000.0).round();
    (scaled.is_finite() && scaled.abs() < 9.0e15).then_some(scaled as i64)
}

/// A money value in fen, rounded half away from zero; `None` if it does not fit.
pub fn fen(v: f64) -> Option<i64> {
    let scaled = (v * 100.0).round();
    (scaled.is_finite() && scaled.abs() < 9.0e15).then_some(scaled as i64)
}

/// The amount a record counts for, in fen: the amount given, or else price × quantity
/// (computed wide; a product beyond 64 bits reads as `i64::MAX`, which validation refuses
/// long before, never as a wrapped negative).
pub fn amount_of(quantity_milli: i64, price_fen: Option<i64>, amount_fen: Option<i64>) -> i64 {
    amount_fen.unwrap_or_else(|| {
        price_fen.map_or(0, |p| {
            i64::try_from((p as i128 * quantity_milli as i128 + 500).div_euclid(1_000)).unwrap_or(i64::MAX)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_counted_in_china_standard_time() {
        let late_utc = NaiveDate::from_ymd_opt(2026, 11, 20).expect("a value").and_hms_opt(17, 30, 0).expect("a value");
        assert_eq!(day_text(day_of(late_utc)), "2026-11-21");
        assert_eq!(cst_text(late_utc), "2026-11-21T01:30:00+08:00");
        assert_eq!(thousandths(1.2346), Some(1235));
        assert_eq!(fen(12.346), Some(1235));
        assert_eq!(fen(f64::NAN), None);
        assert_eq!(thousandths(1e20), None);
        assert_eq!(amount_of(2_500, Some(1_250), None), 3_125);
        assert_eq!(amount_of(2_500, Some(1_250), Some(3_000)), 3_000);
        assert_eq!(amount_of(2_500, None, None), 0);
        assert_eq!(amount_of(8_000_000_000_000_000, Some(800_000_000_000_000), None), i64::MAX, "never wraps");
    }
}
