//! Trace information (追溯信息): the trace records the node stores, their daily aggregates and
//! their search. Records come in through [`crate::ingest`]; this module owns how they are
//! kept. GB/T 38157 §6.4 and the statistics half of §6.7.
//!
//! - [`row`]: a validated record as a row, with exact quantities (thousandths) and amounts
//!   (fen);
//! - [`store`]: inserting rows idempotently (a resend is a duplicate, a reused id with other
//!   content is refused) and superseding a corrected record;
//! - [`daily`]: the daily aggregates kept while storing, equal to a recount;
//! - [`search`]: search by stage, variety, region, reporting node, batch and trace code.

pub mod api;
pub mod daily;
pub mod pages;
pub mod row;
pub mod search;
pub mod store;

/// Stored status of a record.
pub mod status {
    /// Stored and counted.
    pub const STORED: &str = "stored";
    /// Kept apart by a tenant's policy: not counted until released.
    pub const QUARANTINED: &str = "quarantined";
    /// Replaced by a correction, or retracted: not counted.
    pub const SUPERSEDED: &str = "superseded";
    /// A retraction (an EPCIS error declaration): kept as the record of what was
    /// withdrawn and when, never counted.
    pub const RETRACTION: &str = "retraction";
}
