//! The federation protocol as it travels (docs/federation.md): everything a node sends its
//! parent or children, as serde types that know nothing about storage.
//!
//! - [`batch`]: the batch header and its digest, and the signed bundle files that carry
//!   batches across networks without a live link;
//! - [`kind`] and [`payload`]: the roll-up kinds and the body of each;
//! - [`inbox`]: the rules a receiver applies to a batch, over a storage trait the node
//!   implements with its database;
//! - [`receipt`] and [`refusal`]: the answers, and the one table of refusal reasons;
//! - [`mailbox`]: the messages that go down;
//! - [`enrolment`]: asking a parent for a CA certificate over the network.
//!
//! The snapshot tests of this crate (`tests/wire.rs`) pin every format: a change to one
//! fails a test until the new form is reviewed and accepted. Formats grow only by optional
//! fields, under a new [`batch::PROTOCOL`] number otherwise.

pub mod batch;
pub mod enrolment;
pub mod inbox;
pub mod kind;
pub mod mailbox;
pub mod payload;
pub mod receipt;
pub mod refusal;

pub use batch::{Batch, Header};
pub use kind::Kind;
pub use payload::Payload;
pub use receipt::{Hello, Receipt, DEFAULT_MAX_BATCH_BYTES};
pub use refusal::Refusal;
