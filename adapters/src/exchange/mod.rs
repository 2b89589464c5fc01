//! The GB/T 21062-style XML exchange envelope: a header (sender, receiver, message id,
//! correlation id, operation, created time, resource type, record count, payload digest), a
//! body of records and an optional signature.
//!
//! Reading streams: records come one at a time and memory stays bounded whatever the size;
//! the record count and the payload digest are checked when the body ends, so a consumer
//! treats records as provisional until [`EnvelopeReader::next_record`] returns `Ok(None)`.
//! Documents in GB18030, GBK or GB2312 (as their XML declaration says) are decoded to UTF-8.
//! A DOCTYPE is refused, entities are never expanded, and nesting depth, attributes per
//! element and text length are capped.

mod read;
pub mod tags;
mod write;

pub use read::EnvelopeReader;

/// The envelope as XML Schema 1.0 (namespace [`tags::NAMESPACE`]): pushed records and the
/// acknowledgement. It states structure and types; the reader checks what a schema cannot
/// (the count and the digest), and the node checks codes and references.
pub const SCHEMA: &str = include_str!("exchange-1.xsd");
pub use write::{write_ack, write_envelope, write_streamed};

use serde::{Deserialize, Serialize};

/// The envelope's header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The sending node or tenant.
    pub sender: String,
    /// The receiving node.
    pub receiver: String,
    /// Message id.
    pub message_id: String,
    /// The id of the message this one answers or continues.
    pub correlation_id: String,
    /// `push`, `query` or `ack`.
    pub operation: String,
    /// Created time, ISO 8601 with offset.
    pub created: String,
    /// Kind of the records (`trace`).
    pub resource_type: String,
    /// Records in the body.
    pub record_count: u64,
    /// SHA-256 of the records' canonical forms (see [`crate::records::PayloadDigest`]).
    pub payload_digest: String,
}

/// The acknowledgement of a pushed envelope: what its records became.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The submission the envelope became.
    pub submission: String,
    /// `stored`, `refused` or `dry_run`.
    pub status: String,
    /// Counts: received, accepted, duplicates, rejected, quarantined, flagged, corrected.
    pub counts: [u64; 7],
    /// Rejected records: index, record id, field, stable code, English and Chinese reason.
    pub rejections: Vec<AckRejection>,
    /// Duplicate records: index and record id.
    pub duplicates: Vec<(u64, String)>,
}

/// A rejected record in an acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AckRejection {
    /// Index in the envelope.
    pub index: u64,
    /// Record id.
    pub record_id: String,
    /// Field at fault.
    pub field: String,
    /// Stable code.
    pub code: String,
    /// English reason.
    pub reason: String,
    /// Chinese reason.
    pub reason_zh: String,
}

/// Caps that keep a hostile document from costing more than a fair one. Every decoder keeps
/// them: the XML envelope, CSV, JSON and NDJSON, EPCIS and vendor formats.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest element nesting (XML).
    pub max_depth: usize,
    /// Attributes on one element (XML).
    pub max_attributes: usize,
    /// Characters of one field: an XML text or attribute, a CSV cell, a JSON string, any
    /// text field of a decoded record.
    pub max_text: usize,
    /// Records in one document.
    pub max_records: u64,
    /// Bytes of one record as sent (a CSV row, an array element or NDJSON line, an EPCIS
    /// event); a larger one ends the document, read no further than this.
    pub max_record_bytes: u64,
    /// Entries of one list inside a record (the EPCs or quantities of an EPCIS event).
    pub max_list: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 8,
            max_attributes: 16,
            max_text: 4_096,
            max_records: 10_000_000,
            max_record_bytes: 1024 * 1024,
            max_list: 10_000,
        }
    }
}

/// Why an envelope was refused. Messages are bilingual (Chinese / English); [`code`]
/// gives a stable code.
///
/// [`code`]: ExchangeError::code
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExchangeError {
    /// Not well-formed XML.
    #[error("XML格式错误（第{position}字节）：{message} / malformed XML at byte {position}: {message}")]
    Malformed {
        /// Byte offset.
        position: u64,
        /// The parser's message.
        message: String,
    },
    /// A DOCTYPE declaration (entity definitions are never processed).
    #[error("不接受含DOCTYPE声明的文档 / documents with a DOCTYPE are not accepted")]
    Doctype,
    /// An encoding this node does not decode.
    #[error("不支持的字符编码“{0}” / unsupported encoding {0:?}")]
    Encoding(String),
    /// Nesting deeper than the limit.
    #[error("元素嵌套超过{0}层 / elements nest deeper than {0}")]
    TooDeep(usize),
    /// Too many attributes on an element.
    #[error("元素“{0}”的属性过多 / element {0} has too many attributes")]
    TooManyAttributes(String),
    /// A text or attribute value longer than the limit.
    #[error("“{0}”的内容超过长度上限 / the value of {0} is too long")]
    TextTooLong(String),
    /// More records than the limit.
    #[error("记录数超过上限{0} / more than {0} records")]
    TooManyRecords(u64),
    /// An element where another was expected.
    #[error("此处不应出现元素“{found}”，应为“{expected}” / unexpected element {found}, expected {expected}")]
    Unexpected {
        /// What was found.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A required header field or attribute is missing or empty.
    #[error("缺少“{0}” / {0} is missing")]
    Missing(String),
    /// A number that does not parse.
    #[error("“{field}”应为数字，实际为“{value}” / {field} must be a number, got {value:?}")]
    Number {
        /// Field.
        field: String,
        /// Value.
        value: String,
    },
    /// The body holds another number of records than the header declares.
    #[error("声明{declared}条记录，实际{found}条 / {declared} records declared, {found} found")]
    CountMismatch {
        /// Declared.
        declared: u64,
        /// Found.
        found: u64,
    },
    /// The records do not hash to the declared digest.
    #[error(
        "报文摘要不符：这些记录的摘要应为 {expected}（每条记录的规范形式——字段按规定顺序的 JSON，数字写作十进制文本如 371、28.5——各接一个换行符，取 SHA-256），第一条记录的规范形式为 {first} / the payload digest does not match the records: they hash to {expected} (SHA-256 over each record's canonical form — JSON, fields in the documented order, numbers as decimal text such as 371 and 28.5 — each followed by a line feed); the first record's canonical form is {first}"
    )]
    DigestMismatch {
        /// The digest the records have.
        expected: String,
        /// The first record's canonical form (its first 1,000 characters).
        first: String,
    },
    /// Reading the input failed.
    #[error("读取失败：{0} / read failed: {0}")]
    Io(String),
}

impl ExchangeError {
    /// A stable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            ExchangeError::Malformed { .. } => "xml_malformed",
            ExchangeError::Doctype => "xml_doctype",
            ExchangeError::Encoding(_) => "xml_encoding",
            ExchangeError::TooDeep(_) => "xml_too_deep",
            ExchangeError::TooManyAttributes(_) => "xml_too_many_attributes",
            ExchangeError::TextTooLong(_) => "xml_text_too_long",
            ExchangeError::TooManyRecords(_) => "too_many_records",
            ExchangeError::Unexpected { .. } => "xml_unexpected_element",
            ExchangeError::Missing(_) => "missing_field",
            ExchangeError::Number { .. } => "bad_number",
            ExchangeError::CountMismatch { .. } => "record_count_mismatch",
            ExchangeError::DigestMismatch { .. } => "payload_digest_mismatch",
            ExchangeError::Io(_) => "read_failed",
        }
    }
}

#[cfg(test)]
mod tests;
