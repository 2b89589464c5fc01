//! Outside formats ⇄ the canonical exchange records of tracenode.
//!
//! This crate owns the identifier rules and code lists every exchange relies on
//! ([`identifiers`], [`codes`]), the canonical exchange records ([`records`]: trace records
//! so far) and the adapters that convert outside formats to and from them — the GB/T
//! 21062-style XML envelope ([`exchange`]), CSV ([`csv_trace`]) and JSON or NDJSON
//! ([`json_trace`]) and GS1 EPCIS 2.0 JSON-LD ([`epcis`]), and vendor formats declared in TOML mappings ([`vendor`]), behind one interface ([`adapter`]), each within the same
//! [`exchange::Limits`] ([`budget`]). It is pure code: no database and no network.

pub mod adapter;
pub mod budget;
pub mod codes;
pub mod csv_trace;
pub mod epcis;
pub mod exchange;
pub mod fuzzing;
pub mod identifiers;
pub mod json_trace;
pub mod records;
pub mod vendor;
