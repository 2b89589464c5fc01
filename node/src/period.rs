//! Days and ranges of days as the API and console take them (`YYYY-MM-DD`, China Standard
//! Time days). Every range is checked before it reaches a query: both ends real dates, the
//! first not after the last, so a reversed or malformed range is a 422 naming its field and
//! never a panic deeper down.

use chrono::NaiveDate;

use crate::error::{AppError, AppResult};

/// Parses one day; blank reads as none.
pub fn parse_day(field: &str, value: Option<&str>) -> AppResult<Option<NaiveDate>> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::invalid(field, "日期应为 YYYY-MM-DD", "a date is YYYY-MM-DD")),
    }
}

/// Parses an optional range of days (`from`, `to`), each end optional; refuses a reversed one.
pub fn day_range(from: Option<&str>, to: Option<&str>) -> AppResult<(Option<NaiveDate>, Option<NaiveDate>)> {
    let (from, to) = (parse_day("from", from)?, parse_day("to", to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(AppError::invalid("from", "起始日期不能晚于截止日期", "from must not come after to"));
        }
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        assert!(day_range(Some("2026-01-01"), Some("2026-12-31")).is_ok());
        assert_eq!(day_range(None, Some(" ")).expect("open"), (None, None));
        let reversed = day_range(Some("2026-12-31"), Some("2026-01-01")).expect_err("reversed");
        assert_eq!(reversed.field.as_deref(), Some("from"));
        assert_eq!(day_range(Some("yesterday"), None).expect_err("bad").field.as_deref(), Some("from"));
        assert_eq!(day_range(None, Some("2026-02-30")).expect_err("bad").field.as_deref(), Some("to"));
    }
}
