//! Outside formats ⇄ the canonical exchange records of tracenode.
//!
//! This crate owns the identifier rules and code lists every exchange relies on
//! ([`identifiers`], [`codes`]) and will
//! own the canonical exchange records (entity, product and device registrations, trace records,
//! inspection records, statistics slices, evaluation results, audit checkpoints) with the
//! adapters that convert GB/T 21062-style XML, CSV, JSON, GS1 EPCIS 2.0 and vendor mappings to
//! and from them (DESIGN.md §5). It is pure code: no database and no network.

pub mod codes;
pub mod identifiers;
