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
