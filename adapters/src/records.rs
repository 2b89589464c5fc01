//! Canonical exchange records: what every adapter decodes into and encodes from.
//!
//! A trace record is a transaction record in the three parts of GB/T 38156 — the parties
//! (交易主体), the product (交易产品) and the act (交易行为). Values are kept as received
//! (codes trimmed, times as ISO 8601 text): checking them is validation's work, not the
//! decoder's, so a bad value is reported by record and field instead of failing the stream.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A party of a transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Act {
    /// Supply-chain stage code.
    #[schema(value_type = crate::codes::Stage)]
    pub stage: String,
    /// `in` (a purchase: the buyer `to` acts) or `out` (a sale: the seller `from` acts).
    #[schema(pattern = "^(in|out)$", example = "out")]
    pub direction: String,
    /// Quantity.
    pub quantity: f64,
    /// Unit.
    pub unit: String,
    /// Unit price, if known.
    pub price: Option<f64>,
    /// Amount, if known.
    pub amount: Option<f64>,
    /// Time (ISO 8601 with offset; without one it is China Standard Time).
    #[schema(example = "2026-11-01T10:00:00+08:00")]
    pub time: String,
    /// Place.
    pub place: String,
    /// The business document the act belongs to (交易凭证号: a purchase order, an invoice,
    /// a despatch advice; an EPCIS event's `bizTransactionList`), or empty. Written only when
    /// not empty, so the canonical form of a record without one is what it always was.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(example = "urn:epcglobal:cbv:bt:0614141000005:PO-1152")]
    pub voucher: String,
}

/// A transaction record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

    /// The form a payload digest is taken over: the canonical form with every number written
    /// as decimal text — an integral value without a fraction (`371`, not `371.0`), any other
    /// in its shortest form (`28.5`, `0.125`) — so an integrator hashing with any JSON library
    /// that writes numbers that way reproduces it (docs/integration.md has a worked example).
    pub fn digest_form(&self) -> String {
        let mut out = Vec::with_capacity(512);
        let mut ser = serde_json::Serializer::with_formatter(&mut out, DecimalNumbers);
        // Every field serialises; writing to a vector cannot fail.
        let _ = self.serialize(&mut ser);
        String::from_utf8(out).unwrap_or_default()
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

/// A JSON formatter that writes numbers as decimal text: integral values without a fraction.
struct DecimalNumbers;

/// Integral values up to this magnitude are written as integers (every one is exact in f64).
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

impl serde_json::ser::Formatter for DecimalNumbers {
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, value: f64) -> std::io::Result<()> {
        if value.fract() == 0.0 && value.abs() < EXACT_INTEGERS {
            write!(writer, "{}", value as i64)
        } else {
            serde_json::ser::CompactFormatter.write_f64(writer, value)
        }
    }
}

/// The running SHA-256 digest of a payload: each record's digest form
/// ([`TraceRecord::digest_form`]) followed by a line feed, in order. The digest of the
/// canonical forms as earlier versions wrote them (`371.0`) is kept beside it and accepted
/// too, so a sender that followed them is not refused.
#[derive(Debug, Clone, Default)]
pub struct PayloadDigest {
    hasher: Sha256,
    earlier: Sha256,
    count: u64,
    first: Option<String>,
}

impl PayloadDigest {
    /// Adds a record.
    pub fn add(&mut self, record: &TraceRecord) {
        let form = record.digest_form();
        self.hasher.update(form.as_bytes());
        self.hasher.update(b"\n");
        self.earlier.update(record.canonical().as_bytes());
        self.earlier.update(b"\n");
        if self.first.is_none() {
            self.first = Some(form);
        }
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

    /// Checks `declared` (hex, either case) against the records: `Err` gives the digest they
    /// have and the first record's digest form, for the refusal to show.
    pub fn check(self, declared: &str) -> Result<(), (String, Option<String>)> {
        let earlier = hex::encode(self.earlier.finalize());
        let first = self.first;
        let expected = hex::encode(self.hasher.finalize());
        let declared = declared.trim();
        if expected.eq_ignore_ascii_case(declared) || earlier.eq_ignore_ascii_case(declared) {
            Ok(())
        } else {
            Err((expected, first))
        }
    }

    /// The digest of `records`.
    pub fn of(records: &[TraceRecord]) -> String {
        let mut d = PayloadDigest::default();
        records.iter().for_each(|r| d.add(r));
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale() -> TraceRecord {
        TraceRecord {
            id: "r1".into(),
            act: Act { quantity: 371.0, price: Some(28.5), amount: Some(10_573.5), ..Act::default() },
            ..TraceRecord::default()
        }
    }

    #[test]
    fn the_digest_form_writes_numbers_as_decimal_text() {
        let form = sale().digest_form();
        assert!(form.contains(r#""quantity":371,"#), "{form}");
        assert!(form.contains(r#""price":28.5,"amount":10573.5,"#), "{form}");
        // The canonical form (and so the content hash) is what it always was.
        assert!(sale().canonical().contains(r#""quantity":371.0,"#));
        let mut small = sale();
        small.act.quantity = 0.125;
        assert!(small.digest_form().contains(r#""quantity":0.125,"#));
    }

    #[test]
    fn a_payload_digest_in_either_form_is_taken_and_any_other_refused() {
        let records = [sale(), TraceRecord { id: "r2".into(), ..sale() }];
        let digest = |f: fn(&TraceRecord) -> String| {
            let mut h = Sha256::new();
            for r in &records {
                h.update(f(r).as_bytes());
                h.update(b"\n");
            }
            hex::encode(h.finalize())
        };
        let (decimal, earlier) = (digest(TraceRecord::digest_form), digest(TraceRecord::canonical));
        assert_ne!(decimal, earlier);
        assert_eq!(PayloadDigest::of(&records), decimal, "writers write the decimal form");
        let checked = |declared: &str| {
            let mut d = PayloadDigest::default();
            records.iter().for_each(|r| d.add(r));
            d.check(declared)
        };
        assert!(checked(&decimal.to_uppercase()).is_ok());
        assert!(checked(&earlier).is_ok());
        let (expected, first) = checked("00").expect_err("refused");
        assert_eq!(expected, decimal);
        assert_eq!(first.as_deref(), Some(records[0].digest_form().as_str()));
    }
}
