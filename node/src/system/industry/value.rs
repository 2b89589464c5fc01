//! Indicator values. A value travels as decimal text and is kept as an integer count of
//! thousandths of the indicator's unit, so every sum, at every tier, is exact; the kind of
//! an indicator says what text it takes.

use serde::{Deserialize, Serialize};

/// The largest magnitude a value may have (in units): far beyond any statistic, and small
/// enough that the sum of every unit of the country stays inside 64 bits.
pub const MAX_UNITS: i64 = 1_000_000_000_000;

crate::text_status! {
    /// What values an indicator takes.
    pub enum ValueKind {
        /// Whole numbers (户数、家数、人数).
        Integer = "integer" / "整数",
        /// Up to three decimal places (金额、数量).
        Decimal = "decimal" / "小数（最多三位）",
        /// A share from 0 to 100, up to three decimal places.
        Percent = "percent" / "百分比（0–100）",
    }
}

crate::text_status! {
    /// How the units' values of an indicator combine into a summary.
    pub enum Aggregation {
        /// Their total.
        Sum = "sum" / "求和",
        /// The average over the units that reported it.
        Average = "average" / "报送单位平均",
        /// The largest.
        Max = "max" / "最大值",
    }
}

/// A value as a caller sends it: a JSON number, decimal text, or either with the unit it is
/// stated in (which must be the indicator's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ValueInput {
    /// `12.5`.
    Number(serde_json::Number),
    /// `"12.5"`.
    Text(String),
    /// `{"value": "12.5", "unit": "万元"}`.
    WithUnit {
        /// The value, number or text.
        value: serde_json::Value,
        /// The unit it is stated in.
        unit: String,
    },
}

impl ValueInput {
    /// The value's text and the unit it names, if any.
    pub fn parts(&self) -> (String, Option<&str>) {
        match self {
            ValueInput::Number(n) => (n.to_string(), None),
            ValueInput::Text(t) => (t.clone(), None),
            ValueInput::WithUnit { value, unit } => {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (text, Some(unit.as_str()))
            }
        }
    }
}

/// Why a value's text does not fit its kind, in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

fn unfit(zh: impl Into<String>, en: impl Into<String>) -> Unfit {
    Unfit { zh: zh.into(), en: en.into() }
}

/// Reads `text` as a value of `kind` (negative only when `signed`), in thousandths.
pub fn parse(text: &str, kind: ValueKind, signed: bool) -> Result<i64, Unfit> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let well_formed = !whole.is_empty()
        && whole.len() <= 13
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && (fraction.is_empty() != digits.contains('.'));
    if !well_formed {
        return Err(unfit(format!("“{t}”不是数值"), format!("“{t}” is not a number")));
    }
    let places = fraction.len();
    if kind == ValueKind::Integer && places > 0 && fraction.bytes().any(|b| b != b'0') {
        return Err(unfit(format!("“{t}”应为整数"), format!("“{t}” must be a whole number")));
    }
    if places > 3 && fraction[3..].bytes().any(|b| b != b'0') {
        return Err(unfit(format!("“{t}”最多三位小数"), format!("“{t}” has more than three decimal places")));
    }
    let whole: i64 = whole.parse().map_err(|_| unfit("数值过大", "the value is too large"))?;
    if whole > MAX_UNITS {
        return Err(unfit("数值过大", "the value is too large"));
    }
    let mut milli = whole * 1000;
    for (i, b) in fraction.bytes().take(3).enumerate() {
        milli += i64::from(b - b'0') * [100, 10, 1][i];
    }
    if negative && milli != 0 {
        if !signed {
            return Err(unfit(format!("“{t}”不能为负数"), format!("“{t}” must not be negative")));
        }
        milli = -milli;
    }
    if kind == ValueKind::Percent && !(0..=100_000).contains(&milli) {
        return Err(unfit(format!("“{t}”应在 0 到 100 之间"), format!("“{t}” must lie between 0 and 100")));
    }
    Ok(milli)
}

/// Thousandths as decimal text without trailing zeros: `12500` → `12.5`.
pub fn format(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let m = milli.unsigned_abs();
    let (whole, fraction) = (m / 1000, m % 1000);
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:03}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_exactly_and_print_back() {
        for (text, kind, milli) in [
            ("12", ValueKind::Integer, 12_000),
            ("12.000", ValueKind::Integer, 12_000),
            ("0.001", ValueKind::Decimal, 1),
            ("1250.5", ValueKind::Decimal, 1_250_500),
            (" 99.99 ", ValueKind::Percent, 99_990),
            ("100", ValueKind::Percent, 100_000),
            ("3.1400", ValueKind::Decimal, 3_140),
        ] {
            assert_eq!(parse(text, kind, false), Ok(milli), "{text}");
        }
        assert_eq!(parse("-2.5", ValueKind::Decimal, true), Ok(-2_500));
        assert_eq!(format(1_250_500), "1250.5");
        assert_eq!(format(-2_500), "-2.5");
        assert_eq!(format(7), "0.007");
        assert_eq!(format(0), "0");
    }

    #[test]
    fn values_that_do_not_fit_say_why() {
        for (text, kind, why) in [
            ("12.5", ValueKind::Integer, "whole"),
            ("1.0005", ValueKind::Decimal, "three decimal"),
            ("100.5", ValueKind::Percent, "between 0 and 100"),
            ("-1", ValueKind::Decimal, "negative"),
            ("1e3", ValueKind::Decimal, "not a number"),
            ("", ValueKind::Decimal, "not a number"),
            ("1.", ValueKind::Decimal, "not a number"),
            (".5", ValueKind::Decimal, "not a number"),
            ("1,000", ValueKind::Decimal, "not a number"),
            ("99999999999999", ValueKind::Decimal, "not a number"),
            ("1000000000001", ValueKind::Decimal, "too large"),
        ] {
            let e = parse(text, kind, false).expect_err(text);
            assert!(e.en.contains(why), "{text}: {}", e.en);
        }
    }
}
