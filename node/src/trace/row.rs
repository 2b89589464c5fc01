//! A validated trace record as it is stored.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::schema::trace_records;
use crate::db::time::StoredTime;

/// China Standard Time, in which a record's day is counted.
pub const CST_HOURS: i64 = 8;

/// A record ready to be inserted. `tenant_id`, `submission_id` and `reporter` are shared by
/// the whole submission and borrowed from it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = trace_records)]
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
    /// The record id this one corrects.
    pub corrects: Option<String>,
    /// Region of the acting party (the seller for `out`, the buyer for `in`).
    pub region: String,
    /// Stage code.
    pub stage: String,
    /// `in` or `out`.
    pub direction: &'static str,
    /// Product category code, or empty.
    pub category: String,
    /// Trace code.
    pub trace_code: String,
    /// Batch number, or empty.
    pub batch: String,
    /// Time of the act, UTC.
    pub act_time: StoredTime,
    /// Quantity in thousandths of the unit.
    pub quantity_milli: i64,
    /// Amount in fen, when known.
    pub amount_fen: Option<i64>,
    /// Unit price in fen, when known (kept in `body`; used by the price statistics).
    #[diesel(skip_insertion)]
    pub price_fen: Option<i64>,
    /// The canonical record (JSON).
    pub body: String,
    /// When the node received it.
    pub received_at: StoredTime,
}

impl TraceRow<'_> {
    /// The day of the act in China Standard Time.
    pub fn day(&self) -> NaiveDate {
        day_of(self.act_time.0)
    }
}

/// The day of a UTC time in China Standard Time.
pub fn day_of(utc: NaiveDateTime) -> NaiveDate {
    (utc + TimeDelta::hours(CST_HOURS)).date()
}

/// `YYYY-MM-DD`, written by hand (a bulk load formats a million of them).
pub fn day_text(d: NaiveDate) -> String {
    let mut s = String::with_capacity(10);
    let y = d.year();
    let (m, dd) = (d.month(), d.day());
    use std::fmt::Write as _;
    let _ = write!(s, "{y:04}-{m:02}-{dd:02}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_counted_in_china_standard_time() {
        let late_utc = NaiveDate::from_ymd_opt(2026, 11, 20).expect("a value").and_hms_opt(17, 30, 0).expect("a value");
        assert_eq!(day_text(day_of(late_utc)), "2026-11-21");
        assert_eq!(thousandths(1.2346), Some(1235));
        assert_eq!(fen(12.346), Some(1235));
        assert_eq!(fen(f64::NAN), None);
        assert_eq!(thousandths(1e20), None);
    }
}
