//! Canonical exchange records: what every adapter decodes into and encodes from.
//!
//! A trace record is a transaction record in the three parts of GB/T 38156 — the parties
//! (交易主体), the product (交易产品) and the act (交易行为). Values are kept as received
//! (codes trimmed, times as ISO 8601 text): checking them is validation's work, not the
//! decoder's, so a bad value is reported by record and field instead of failing the stream.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A party of a transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Subject code (unified social credit code).
    pub code: String,
    /// Name.
    pub name: String,
    /// GB/T 2260 region.
    pub region: String,
}

/// The product of a transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracedProduct {
    /// Trace code.
    pub trace_code: String,
    /// Scheme of the trace code (`gs1`, `ecode`, `handle`, `drug`, `local`).
    pub scheme: String,
    /// Name.
    pub name: String,
    /// Product category code.
    pub category: String,
    /// Specification.
    pub specification: String,
    /// Batch number.
    pub batch: String,
    /// Production date (YYYY-MM-DD), if known.
    pub production_date: Option<String>,
    /// Shelf life in days, if known.
    pub shelf_life_days: Option<u32>,
    /// Place of origin.
    pub origin: String,
}

/// The act of a transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Act {
    /// Supply-chain stage code.
    pub stage: String,
    /// `in` or `out`.
    pub direction: String,
    /// Quantity.
    pub quantity: f64,
    /// Unit.
    pub unit: String,
    /// Unit price, if known.
    pub price: Option<f64>,
    /// Amount, if known.
    pub amount: Option<f64>,
    /// Time (ISO 8601 with offset).
    pub time: String,
    /// Place.
    pub place: String,
}

/// A transaction record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRecord {
    /// The sender's id of the record.
    pub id: String,
    /// The id of the record this one corrects, if it is a correction.
    pub corrects: Option<String>,
    /// Whether this record retracts the one it names in `corrects` (an EPCIS error
    /// declaration): that record stops counting and nothing takes its place. Written only
    /// when true, so the canonical form of every other record is what it always was.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retraction: bool,
    /// Seller or sender of the goods.
    pub from: Party,
    /// Buyer or receiver of the goods.
    pub to: Party,
    /// The product.
    pub product: TracedProduct,
    /// The act.
    pub act: Act,
}

impl TraceRecord {
    /// The record's canonical form: its JSON with fields in declaration order. Content hashes
    /// and payload digests are taken over it, so they do not depend on the wire format.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical form, hex: the record's identity for idempotency.
    pub fn content_hash(&self) -> String {
        hex::encode(self.content_digest())
    }

    /// SHA-256 of the canonical form, computed as it is serialised (no copy of the text).
    pub fn content_digest(&self) -> [u8; 32] {
        let mut w = HashWriter(Sha256::new());
        // Writing to a hasher cannot fail, and every field serialises.
        let _ = serde_json::to_writer(&mut w, self);
        w.0.finalize().into()
    }
}

/// Feeds what is written into a hasher.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The running SHA-256 digest of a payload: each record's canonical form followed by a line
/// feed, in order.
#[derive(Debug, Clone, Default)]
pub struct PayloadDigest {
    hasher: Sha256,
    count: u64,
}

impl PayloadDigest {
    /// Adds a record.
    pub fn add(&mut self, record: &TraceRecord) {
        self.hasher.update(record.canonical().as_bytes());
        self.hasher.update(b"\n");
        self.count += 1;
    }

    /// Records added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest, hex.
    pub fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }

    /// The digest of `records`.
    pub fn of(records: &[TraceRecord]) -> String {
        let mut d = PayloadDigest::default();
        records.iter().for_each(|r| d.add(r));
        d.finish()
    }
}
