//! Vendor mappings: a third-party platform's own JSON or CSV format, connected by a TOML file
//! instead of code. A mapping names, for each field of the trace record, where the vendor keeps
//! it (a dotted path in JSON, a column in CSV), and may add value maps (`"批发" =
//! "distribution_sale"`), date formats (`"%Y%m%d%H%M%S"`, taken as China Standard Time), unit
//! conversions (`"斤" = { unit = "千克", factor = 0.5 }`) and defaults. Reading streams, as the
//! JSON and CSV adapters do; a record the mapping cannot make sense of is an itemised
//! rejection naming the field.
//!
//! ```toml
//! name = "hz-wholesale"
//! title = "某农产品批发市场交易平台"
//! format = "json"
//! [fields]
//! id = "billNo"
//! "from.code" = "seller.creditCode"
//! "act.time" = "tradeTime"
//! [dates]
//! "act.time" = "%Y%m%d%H%M%S"
//! ```

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::adapter::{from_csv, from_json};
use crate::adapter::{DecodeError, Decoder};
use crate::csv_trace::Rows;
use crate::exchange::Limits;
use crate::json_trace::JsonReader;
use crate::records::TraceRecord;

/// The fields of a trace record a mapping may fill, with whether they hold a number.
pub const FIELDS: [(&str, bool); 23] = [
    ("id", false),
    ("corrects", false),
    ("from.code", false),
    ("from.name", false),
    ("from.region", false),
    ("to.code", false),
    ("to.name", false),
    ("to.region", false),
    ("product.trace_code", false),
    ("product.scheme", false),
    ("product.name", false),
    ("product.category", false),
    ("product.specification", false),
    ("product.batch", false),
    ("product.production_date", false),
    ("product.shelf_life_days", true),
    ("product.origin", false),
    ("act.stage", false),
    ("act.direction", false),
    ("act.quantity", true),
    ("act.unit", false),
    ("act.price", true),
    ("act.amount", true),
];

/// Fields every record needs, from the vendor's data or a default.
pub const REQUIRED: [&str; 5] = ["id", "product.trace_code", "act.stage", "act.quantity", "act.time"];

/// The layout of the vendor's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VendorFormat {
    /// A JSON array of objects, or NDJSON.
    Json,
    /// CSV with a header row (UTF-8 or GBK).
    Csv,
}

/// A unit conversion: the vendor's unit becomes `unit`, quantities are multiplied by
/// `factor` and unit prices divided by it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitRule {
    /// The unit recorded.
    pub unit: String,
    /// Vendor quantity × factor = recorded quantity.
    pub factor: f64,
}

/// A vendor mapping, as its TOML file declares it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Name used in `format=vendor:<name>`: 2–32 of `a-z`, `0-9`, `-`, `_`.
    pub name: String,
    /// What the vendor is (shown in the console).
    pub title: String,
    /// Layout of the vendor's files.
    pub format: VendorFormat,
    /// Trace-record field → where the vendor keeps it.
    pub fields: BTreeMap<String, String>,
    /// Trace-record field → vendor value → recorded value.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Time fields (`act.time`, `product.production_date`) → the vendor's format (chrono
    /// syntax; times without an offset are China Standard Time).
    #[serde(default)]
    pub dates: BTreeMap<String, String>,
    /// The vendor's unit → the recorded unit and the factor.
    #[serde(default)]
    pub units: BTreeMap<String, UnitRule>,
    /// Trace-record field → value when the vendor's data has none.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
}

/// Why a mapping file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("供应商映射 {file} 有误：{zh} / vendor mapping {file} is invalid: {en}")]
pub struct MappingError {
    /// The file.
    pub file: String,
    /// Chinese reason.
    pub zh: String,
    /// English reason.
    pub en: String,
}

fn is_field(name: &str) -> bool {
    name == "act.time" || name == "act.place" || FIELDS.iter().any(|(f, _)| *f == name)
}

impl Mapping {
    /// Parses and checks a mapping.
    pub fn parse(file: &str, text: &str) -> Result<Mapping, MappingError> {
        let err = |zh: String, en: String| MappingError { file: file.to_owned(), zh, en };
        let m: Mapping = toml::from_str(text).map_err(|e| err(format!("格式错误：{e}"), format!("syntax: {e}")))?;
        let name_ok = (2..=32).contains(&m.name.len())
            && m.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(err(
                format!("名称“{}”不合规", m.name),
                format!("name {:?} is not 2-32 of a-z 0-9 - _", m.name),
            ));
        }
        let named = m.fields.keys().chain(m.values.keys()).chain(m.dates.keys()).chain(m.defaults.keys());
        if let Some(unknown) = named.into_iter().find(|f| !is_field(f)) {
            return Err(err(format!("未知的字段“{unknown}”"), format!("unknown field {unknown:?}")));
        }
        if let Some(missing) = REQUIRED.iter().find(|f| !m.fields.contains_key(**f) && !m.defaults.contains_key(**f)) {
            return Err(err(
                format!("缺少必填字段“{missing}”的映射"),
                format!("required field {missing:?} is not mapped"),
            ));
        }
        if let Some((unit, _)) = m.units.iter().find(|(_, r)| !(r.factor.is_finite() && r.factor > 0.0)) {
            return Err(err(
                format!("单位“{unit}”的换算系数应为正数"),
                format!("the factor of unit {unit:?} must be positive"),
            ));
        }
        Ok(m)
    }

    /// Reads every `*.toml` mapping in `dir` (none if it does not exist).
    pub fn load_dir(dir: &Path) -> Result<Vec<Mapping>, MappingError> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.retain(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"));
        paths.sort();
        let mut out: Vec<Mapping> = Vec::new();
        for p in paths {
            let file = p.display().to_string();
            let text = std::fs::read_to_string(&p).map_err(|e| MappingError {
                file: file.clone(),
                zh: format!("无法读取：{e}"),
                en: format!("cannot read: {e}"),
            })?;
            let m = Mapping::parse(&file, &text)?;
            if out.iter().any(|o| o.name == m.name) {
                return Err(MappingError {
                    file,
                    zh: format!("名称“{}”重复", m.name),
                    en: format!("name {:?} is used twice", m.name),
                });
            }
            out.push(m);
        }
        Ok(out)
    }

    /// A vendor record (a JSON object, or a CSV row as column → text) as a trace record.
    pub fn map(&self, source: &Value) -> Result<TraceRecord, (String, String, String)> {
        let mut record: Map<String, Value> = Map::new();
        let fail = |field: &str, zh: String, en: String| (field.to_owned(), zh, en);
        let mut unit_rule: Option<&UnitRule> = None;
        let all = FIELDS.iter().map(|(f, n)| (*f, *n)).chain([("act.time", false), ("act.place", false)]);
        for (field, numeric) in all {
            let raw = self
                .fields
                .get(field)
                .and_then(|path| lookup(source, path))
                .filter(|v| !v.is_empty())
                .or_else(|| self.defaults.get(field).cloned());
            let Some(mut value) = raw else {
                if REQUIRED.contains(&field) {
                    return Err(fail(field, format!("缺少“{field}”"), format!("{field} is missing")));
                }
                continue;
            };
            if let Some(map) = self.values.get(field) {
                value = map.get(&value).cloned().unwrap_or(value);
            }
            if let Some(format) = self.dates.get(field) {
                value = date(&value, format, field == "act.time").ok_or_else(|| {
                    fail(
                        field,
                        format!("“{field}”的值“{value}”不符合日期格式 {format}"),
                        format!("{field} {value:?} does not match the date format {format}"),
                    )
                })?;
            }
            if field == "act.unit" {
                if let Some(rule) = self.units.get(&value) {
                    unit_rule = Some(rule);
                    value = rule.unit.clone();
                }
            }
            let json = if numeric {
                let n: f64 = value.trim().parse().map_err(|_| {
                    fail(
                        field,
                        format!("“{field}”应为数字，实际为“{value}”"),
                        format!("{field} must be a number, got {value:?}"),
                    )
                })?;
                Value::from(n)
            } else {
                Value::String(value)
            };
            set(&mut record, field, json);
        }
        if let Some(rule) = unit_rule {
            scale(&mut record, "act", "quantity", rule.factor);
            scale(&mut record, "act", "price", 1.0 / rule.factor);
        }
        if let Some(Value::Object(p)) = record.get_mut("product") {
            if let Some(days) = p.get("shelf_life_days").and_then(Value::as_f64) {
                p.insert("shelf_life_days".into(), Value::from(days.max(0.0) as u64));
            }
        }
        fill_defaults(&mut record);
        serde_json::from_value(Value::Object(record))
            .map_err(|e| fail("", format!("记录无效：{e}"), format!("invalid record: {e}")))
    }
}

/// The value at a dotted path of a JSON object, as text.
fn lookup(source: &Value, path: &str) -> Option<String> {
    let v = path.split('.').try_fold(source, |v, key| v.get(key))?;
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A vendor date or time as ISO 8601 (times in China Standard Time unless they say otherwise).
fn date(value: &str, format: &str, is_time: bool) -> Option<String> {
    if is_time {
        if let Ok(t) = chrono::DateTime::parse_from_str(value, format) {
            return Some(t.to_rfc3339());
        }
        let t = chrono::NaiveDateTime::parse_from_str(value, format).ok()?;
        return Some(format!("{}+08:00", t.format("%Y-%m-%dT%H:%M:%S")));
    }
    Some(chrono::NaiveDate::parse_from_str(value, format).ok()?.format("%Y-%m-%d").to_string())
}

fn set(record: &mut Map<String, Value>, field: &str, value: Value) {
    match field.split_once('.') {
        Some((part, key)) => {
            let entry = record.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(key.to_owned(), value);
            }
        }
        None => {
            record.insert(field.to_owned(), value);
        }
    }
}

fn scale(record: &mut Map<String, Value>, part: &str, key: &str, factor: f64) {
    if let Some(Value::Object(m)) = record.get_mut(part) {
        if let Some(v) = m.get(key).and_then(Value::as_f64) {
            m.insert(key.to_owned(), Value::from((v * factor * 1e6).round() / 1e6));
        }
    }
}

/// Fills the parts of a record the mapping left out with empty values.
fn fill_defaults(record: &mut Map<String, Value>) {
    let blank = serde_json::to_value(TraceRecord::default()).unwrap_or(Value::Null);
    if let Value::Object(b) = blank {
        for (k, v) in b {
            match (record.get_mut(&k), v) {
                (Some(Value::Object(have)), Value::Object(defaults)) => {
                    for (dk, dv) in defaults {
                        have.entry(dk).or_insert(dv);
                    }
                }
                (Some(_), _) => {}
                (None, v) => {
                    record.insert(k, v);
                }
            }
        }
    }
}

/// Reads a vendor's file through its mapping, one record at a time.
pub struct VendorDecoder {
    mapping: std::sync::Arc<Mapping>,
    rows: Box<dyn Iterator<Item = Result<Value, DecodeError>>>,
    index: u64,
}

impl VendorDecoder {
    /// Opens `input` in the vendor's layout, within `limits` like every built-in format.
    pub fn open(
        mapping: std::sync::Arc<Mapping>,
        input: impl Read + 'static,
        limits: Limits,
    ) -> Result<VendorDecoder, DecodeError> {
        let rows: Box<dyn Iterator<Item = Result<Value, DecodeError>>> = match mapping.format {
            VendorFormat::Json => {
                let reader: JsonReader<Value> = JsonReader::open(input, limits).map_err(from_json)?;
                Box::new(reader.map(|r| r.map_err(from_json)))
            }
            VendorFormat::Csv => {
                let rows = Rows::open(Box::new(input), limits).map_err(|e| from_csv(e, 0))?;
                let header: Vec<String> = rows.header().to_vec();
                let mut index = 0u64;
                Box::new(rows.map(move |row| {
                    let at = index;
                    index += 1;
                    let (_, cells) = row.map_err(|e| from_csv(e, at))?;
                    Ok(Value::Object(header.iter().cloned().zip(cells.into_iter().map(Value::String)).collect()))
                }))
            }
        };
        Ok(VendorDecoder { mapping, rows, index: 0 })
    }
}

impl Decoder for VendorDecoder {
    fn next_record(&mut self) -> Option<Result<TraceRecord, DecodeError>> {
        let next = self.rows.next()?;
        let index = self.index;
        self.index += 1;
        Some(next.and_then(|row| {
            self.mapping.map(&row).map_err(|(field, zh, en)| DecodeError {
                code: "vendor_mapping",
                message: format!("第{index}条记录（{}）：{zh} / record {index} ({field}): {en}", self.mapping.name),
                index: Some(index),
                fatal: false,
            })
        }))
    }
}
