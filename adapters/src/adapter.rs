//! One interface over every format: a [`Format`] opens a [`Decoder`] on a byte stream, which
//! yields records one at a time, and encodes records back.
//!
//! A decoder tells two kinds of failure apart. A **bad record** (a CSV row with a number that
//! does not parse, an NDJSON line of the wrong shape) is reported with its index and the stream
//! goes on. A **broken stream** (malformed XML, a payload digest that does not match, a JSON
//! array whose syntax is lost) ends it: nothing the stream carried may be stored, because the
//! sender's document as a whole cannot be trusted.

use std::io::{Read, Write};

use crate::csv_trace::{CsvError, CsvReader};
use crate::exchange::{EnvelopeReader, ExchangeError, Header, Limits};
use crate::json_trace::{JsonError, JsonReader};
use crate::records::TraceRecord;

/// The formats records arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The GB/T 21062-style XML exchange envelope.
    Exchange,
    /// CSV with a header row.
    Csv,
    /// A JSON array of records (NDJSON is read too).
    Json,
    /// NDJSON: one record per line (a JSON array is read too). Kept apart from [`Format::Json`]
    /// so a submission records the format the sender named, and exports write lines.
    Ndjson,
    /// A GS1 EPCIS 2.0 JSON / JSON-LD document.
    Epcis,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [Format::Exchange, Format::Csv, Format::Json, Format::Ndjson, Format::Epcis];

    /// The name used in URLs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Exchange => "xml",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Epcis => "epcis",
        }
    }

    /// Parses a name (`xml`, `csv`, `json`, `ndjson`, `epcis`).
    pub fn parse(name: &str) -> Option<Format> {
        match name.trim().to_ascii_lowercase().as_str() {
            "xml" | "exchange" => Some(Format::Exchange),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "epcis" | "jsonld" | "epcis-jsonld" => Some(Format::Epcis),
            _ => None,
        }
    }

    /// Opens a decoder on `input`. A header the format cannot start from (a CSV without its
    /// required columns, XML that is not an envelope) is a broken stream.
    pub fn decoder(self, input: impl Read + Send + 'static, limits: Limits) -> Result<Box<dyn Decoder>, DecodeError> {
        let inner: Box<dyn Decoder> = match self {
            Format::Exchange => Box::new(ExchangeDecoder(EnvelopeReader::open(input, limits).map_err(from_xml)?)),
            Format::Csv => {
                Box::new(CsvDecoder { rows: CsvReader::open(input, limits).map_err(|e| from_csv(e, 0))?, index: 0 })
            }
            Format::Json | Format::Ndjson => Box::new(JsonDecoder(JsonReader::open(input, limits).map_err(from_json)?)),
            Format::Epcis => Box::new(crate::epcis::EpcisDecoder::open(input, limits)),
        };
        Ok(Box::new(Fused { inner, limits, index: 0, done: false }))
    }

    /// Writes `records` in this format. The exchange envelope takes its header from `header`
    /// (the record count and payload digest are filled in); the other formats ignore it.
    pub fn encode(self, out: impl Write, header: &Header, records: &[TraceRecord]) -> Result<(), DecodeError> {
        match self {
            Format::Exchange => crate::exchange::write_envelope(out, header, records).map_err(from_xml),
            Format::Csv => crate::csv_trace::write_csv(out, records).map_err(|e| from_csv(e, 0)),
            Format::Json => crate::json_trace::write_json(out, records, false).map_err(from_json),
            Format::Ndjson => crate::json_trace::write_json(out, records, true).map_err(from_json),
            Format::Epcis => crate::epcis::write_epcis(out, records),
        }
    }
}

/// What a submission's body is: a built-in format, or a vendor's format read through its
/// mapping.
#[derive(Debug, Clone)]
pub enum Source {
    /// A built-in format.
    Format(Format),
    /// A vendor's format.
    Vendor(std::sync::Arc<crate::vendor::Mapping>),
}

impl Source {
    /// The name used in URLs and on the command line: `csv`, or `vendor:<name>`.
    pub fn name(&self) -> String {
        match self {
            Source::Format(f) => f.name().to_owned(),
            Source::Vendor(m) => format!("vendor:{}", m.name),
        }
    }

    /// Parses a name against the vendor mappings the node has.
    pub fn resolve(name: &str, vendors: &[std::sync::Arc<crate::vendor::Mapping>]) -> Option<Source> {
        match name.trim().strip_prefix("vendor:") {
            Some(v) => vendors.iter().find(|m| m.name == v).map(|m| Source::Vendor(m.clone())),
            None => Format::parse(name).map(Source::Format),
        }
    }

    /// Opens a decoder on `input`.
    pub fn decoder(&self, input: impl Read + Send + 'static, limits: Limits) -> Result<Box<dyn Decoder>, DecodeError> {
        match self {
            Source::Format(f) => f.decoder(input, limits),
            Source::Vendor(m) => Ok(Box::new(Fused {
                inner: Box::new(crate::vendor::VendorDecoder::open(m.clone(), input, limits)?),
                limits,
                index: 0,
                done: false,
            })),
        }
    }
}

/// A failure while decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// Stable code.
    pub code: &'static str,
    /// Chinese and English message.
    pub message: String,
    /// The record at fault, from 0, when one is.
    pub index: Option<u64>,
    /// Whether the stream ended: nothing it carried may be stored.
    pub fatal: bool,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    /// The Chinese half of the message.
    pub fn message_zh(&self) -> &str {
        self.message.split(" / ").next().unwrap_or(&self.message)
    }

    /// The English half of the message.
    pub fn message_en(&self) -> &str {
        self.message.split_once(" / ").map(|(_, en)| en).unwrap_or(&self.message)
    }
}

/// Records from a stream, one at a time.
pub trait Decoder {
    /// The next record, a bad record (`fatal == false`; the stream goes on), a broken stream
    /// (`fatal == true`; nothing follows), or `None` at a sound end.
    fn next_record(&mut self) -> Option<Result<TraceRecord, DecodeError>>;

    /// The envelope's header, for formats that have one.
    fn header(&self) -> Option<&Header> {
        None
    }
}

fn from_xml(e: ExchangeError) -> DecodeError {
    DecodeError { code: e.code(), message: e.to_string(), index: None, fatal: true }
}

pub(crate) fn from_csv(e: CsvError, index: u64) -> DecodeError {
    if let CsvError::TooLarge(limit) = e {
        return crate::budget::too_large(index, limit);
    }
    let fatal = e.is_fatal();
    DecodeError { code: e.code(), message: e.to_string(), index: (!fatal).then_some(index), fatal }
}

pub(crate) fn from_json(e: JsonError) -> DecodeError {
    match e {
        JsonError::TooLarge { index, limit } => crate::budget::too_large(index, limit),
        JsonError::Record { index, .. } => {
            DecodeError { code: e.code(), message: e.to_string(), index: Some(index), fatal: false }
        }
        _ => DecodeError { code: e.code(), message: e.to_string(), index: None, fatal: true },
    }
}

/// Ends a decoder's stream at its first fatal error, whatever the decoder would do next, and
/// holds every record to the same field limits whatever its format.
struct Fused {
    inner: Box<dyn Decoder>,
    limits: Limits,
    index: u64,
    done: bool,
}

impl Decoder for Fused {
    fn next_record(&mut self) -> Option<Result<TraceRecord, DecodeError>> {
        if self.done {
            return None;
        }
        let next = self.inner.next_record();
        self.done = matches!(&next, None | Some(Err(DecodeError { fatal: true, .. })));
        let index = self.index;
        self.index += 1;
        match next {
            Some(Ok(record)) => Some(check_fields(&record, &self.limits, index).map(|()| record)),
            other => other,
        }
    }

    fn header(&self) -> Option<&Header> {
        self.inner.header()
    }
}

/// Every text field of a record within `max_text` characters and free of NUL characters (a
/// bad record, named by its field; the stream goes on).
fn check_fields(r: &TraceRecord, limits: &Limits, index: u64) -> Result<(), DecodeError> {
    let fields: [(&str, &str); 21] = [
        ("id", &r.id),
        ("corrects", r.corrects.as_deref().unwrap_or("")),
        ("from.code", &r.from.code),
        ("from.name", &r.from.name),
        ("from.region", &r.from.region),
        ("to.code", &r.to.code),
        ("to.name", &r.to.name),
        ("to.region", &r.to.region),
        ("product.trace_code", &r.product.trace_code),
        ("product.scheme", &r.product.scheme),
        ("product.name", &r.product.name),
        ("product.category", &r.product.category),
        ("product.specification", &r.product.specification),
        ("product.batch", &r.product.batch),
        ("product.production_date", r.product.production_date.as_deref().unwrap_or("")),
        ("product.origin", &r.product.origin),
        ("act.stage", &r.act.stage),
        ("act.direction", &r.act.direction),
        ("act.unit", &r.act.unit),
        ("act.time", &r.act.time),
        ("act.place", &r.act.place),
    ];
    for (name, value) in fields {
        let refused = |code: &'static str, zh: String, en: String| DecodeError {
            code,
            message: format!("第{n}条记录：{zh} / record {n}: {en}", n = index + 1),
            index: Some(index),
            fatal: false,
        };
        if value.len() > limits.max_text && value.chars().count() > limits.max_text {
            return Err(refused(
                "field_too_long",
                format!("字段 {name} 超过 {} 个字符", limits.max_text),
                format!("field {name} is longer than {} characters", limits.max_text),
            ));
        }
        if value.contains('\0') {
            return Err(refused(
                "nul_character",
                format!("字段 {name} 含有空字符（NUL）"),
                format!("field {name} contains a NUL character"),
            ));
        }
    }
    Ok(())
}

struct ExchangeDecoder(EnvelopeReader);

impl Decoder for ExchangeDecoder {
    fn next_record(&mut self) -> Option<Result<TraceRecord, DecodeError>> {
        self.0.next_record().map_err(from_xml).transpose()
    }

    fn header(&self) -> Option<&Header> {
        Some(self.0.header())
    }
}

struct CsvDecoder {
    rows: CsvReader,
    index: u64,
}

impl Decoder for CsvDecoder {
    fn next_record(&mut self) -> Option<Result<TraceRecord, DecodeError>> {
        let next = self.rows.next()?;
        let index = self.index;
        self.index += 1;
        Some(next.map_err(|e| from_csv(e, index)))
    }
}

struct JsonDecoder(JsonReader);

impl Decoder for JsonDecoder {
    fn next_record(&mut self) -> Option<Result<TraceRecord, DecodeError>> {
        let next = self.0.next()?;
        Some(next.map_err(from_json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<TraceRecord> {
        (0..n)
            .map(|i| {
                let mut r = TraceRecord { id: format!("r{i}"), ..TraceRecord::default() };
                r.product.trace_code = format!("TC{i:06}");
                r.product.scheme = "local".into();
                r.act.stage = "retail".into();
                r.act.direction = "out".into();
                r.act.quantity = 1.5 + i as f64;
                r.act.time = "2026-11-20T10:00:00+08:00".into();
                r.from.name = "超市".into();
                r
            })
            .collect()
    }

    #[test]
    fn every_format_round_trips_through_the_one_interface() {
        let records = sample(5);
        let header = Header {
            sender: "t".into(),
            receiver: "n".into(),
            message_id: "m1".into(),
            operation: "push".into(),
            created: "2026-11-20T10:00:00+08:00".into(),
            resource_type: "trace".into(),
            ..Header::default()
        };
        for format in Format::ALL {
            let mut bytes = Vec::new();
            format.encode(&mut bytes, &header, &records).expect("encode");
            let mut d = format.decoder(std::io::Cursor::new(bytes), Limits::default()).expect("open");
            let mut back = Vec::new();
            while let Some(r) = d.next_record() {
                back.push(r.expect("record"));
            }
            assert_eq!(back, records, "{}", format.name());
            assert_eq!(Format::parse(format.name()), Some(format));
        }
    }

    #[test]
    fn a_bad_csv_row_is_a_bad_record_and_the_stream_goes_on() {
        let csv = "id,trace_code,stage,quantity,time\na,T1,retail,1,2026-01-01T00:00:00Z\nb,T2,retail,many,2026-01-01T00:00:00Z\nc,T3,retail,2,2026-01-01T00:00:00Z\n";
        let mut d =
            Format::Csv.decoder(std::io::Cursor::new(csv.as_bytes().to_vec()), Limits::default()).expect("a value");
        assert!(d.next_record().expect("a value").is_ok());
        let bad = d.next_record().expect("a value").expect_err("an error");
        assert_eq!((bad.index, bad.fatal, bad.code), (Some(1), false, "bad_number"));
        assert!(bad.message_zh().contains("数字") && bad.message_en().contains("number"));
        assert_eq!(d.next_record().expect("a value").expect("a value").id, "c");
        assert!(d.next_record().is_none());
    }

    #[test]
    fn broken_xml_is_fatal() {
        let e = match Format::Exchange.decoder(std::io::Cursor::new(b"<a><b></a>".to_vec()), Limits::default()) {
            Err(e) => e,
            Ok(mut d) => d.next_record().expect("an outcome").expect_err("broken"),
        };
        assert!(e.fatal);
        assert_eq!(e.index, None);
        assert!(Format::parse("yaml").is_none());
    }
}
