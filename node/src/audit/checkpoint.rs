//! A checkpoint of the audit chain — the head's sequence number, hash and time — and what the
//! checkpoint file holds. Written by [`super::anchor`], compared with the chain by
//! [`super::chain::verify`].

/// The time format of checkpoint lines (what both backends store, to the microsecond).
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// One checkpoint: the chain's head at a moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Checkpoint {
    /// Sequence number of the head row.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// Its time, as stored.
    pub row_at: String,
    /// When the checkpoint was written (UTC).
    pub written_at: String,
}

impl Checkpoint {
    /// What the checkpoint's MAC covers.
    pub(super) fn message(&self) -> String {
        format!("{}\x1f{}\x1f{}\x1f{}", self.seq, self.hash, self.row_at, self.written_at)
    }
}

/// What the checkpoint file holds.
#[derive(Debug, Clone, Default)]
pub struct Anchored {
    /// Checkpoints whose MAC holds, in the file's order.
    pub checkpoints: Vec<Checkpoint>,
    /// Line numbers (from 1) whose MAC does not hold or that do not parse.
    pub forged_lines: Vec<usize>,
}
