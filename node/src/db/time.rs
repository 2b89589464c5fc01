//! Timestamps as the bulk paths bind them. diesel formats a `NaiveDateTime` for SQLite with a
//! strftime pattern it parses again for every value; a bulk load binds millions, so
//! [`StoredTime`] writes the same text (`YYYY-MM-DD HH:MM:SS` and `.fff` or `.ffffff` when the
//! fraction is not zero, exactly as chrono's `%F %T%.f`) by hand. PostgreSQL gets the value
//! as diesel would send it.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDateTime, Timelike};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

/// A timestamp bound as a query parameter of type `Timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::expression::AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct StoredTime(pub NaiveDateTime);

/// The text SQLite stores for `t`: chrono's `%F %T%.f`.
pub fn sqlite_text(t: &NaiveDateTime) -> String {
    let mut s = String::with_capacity(26);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos == 0 {
        // whole seconds: no fraction
    } else if nanos.is_multiple_of(1_000_000) {
        let _ = write!(s, ".{:03}", nanos / 1_000_000);
    } else if nanos.is_multiple_of(1_000) {
        let _ = write!(s, ".{:06}", nanos / 1_000);
    } else {
        let _ = write!(s, ".{nanos:09}");
    }
    s
}

impl ToSql<Timestamp, Sqlite> for StoredTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(sqlite_text(&self.0));
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, Pg> for StoredTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <NaiveDateTime as ToSql<Timestamp, Pg>>::to_sql(&self.0, &mut out.reborrow())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_chronos_own() {
        let base = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).and_then(|d| d.and_hms_opt(7, 8, 9)).expect("time");
        for micros in [0, 120_000, 123_456, 999_999, 1] {
            let t = base + chrono::TimeDelta::microseconds(micros);
            assert_eq!(sqlite_text(&t), t.format("%F %T%.f").to_string(), "{micros}");
        }
        let t = base + chrono::TimeDelta::nanoseconds(5);
        assert_eq!(sqlite_text(&t), t.format("%F %T%.f").to_string());
    }
}
