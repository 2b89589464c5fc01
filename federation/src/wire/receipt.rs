//! What a receiver answers. A batch applied, or applied before, gets a [`Receipt`]; a sender
//! marks its batches applied only through the receipt's `applied_through`. A sender that
//! lost its place asks for the [`Cursor`] of a kind.

use serde::{Deserialize, Serialize};

use super::kind::Kind;

/// The answer to a batch that was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = BatchReceipt))]
pub struct Receipt {
    /// The batch.
    pub batch_id: String,
    /// Whether it was applied now or before.
    pub outcome: Outcome,
    /// The last batch number applied for this sender and kind.
    pub applied_through: i64,
    /// Items that changed something.
    pub changed: i64,
}

/// What became of a batch that was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = BatchOutcome))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Applied now.
    Applied,
    /// Applied before; this resend changed nothing.
    Duplicate,
}

impl Outcome {
    /// The name on the wire and in the receiver's records.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
        }
    }
}

/// Where a sender stands with the receiver for one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = BatchCursor))]
pub struct Cursor {
    /// The kind.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub kind: Kind,
    /// The last batch number applied.
    pub applied_through: i64,
}

/// The answer to `hello`: who the caller and the receiver are, and the largest batch the
/// receiver takes, so a sender cuts its batches under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hello {
    /// The caller's identity (URI).
    pub you: String,
    /// The receiver's identity (URI).
    pub me: String,
    /// The largest batch, in bytes as sent, the receiver takes (absent from receivers that
    /// predate it: [`DEFAULT_MAX_BATCH_BYTES`] then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_bytes: Option<u64>,
}

/// The largest batch a receiver that does not say takes: 16 MiB.
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 16 * 1024 * 1024;
