//! The receipt every submission gets: how many records were received, stored, duplicated,
//! rejected, quarantined and flagged, with the first rejections and duplicates listed by
//! record index (the counts are always complete).

use crate::db::SubmissionStatus;
use serde::{Deserialize, Serialize};
use tracenode_adapters::adapter::DecodeError;

/// Rejections and duplicates listed in one receipt; the counts go on past it.
pub const MAX_LISTED: usize = 1_000;

/// A rejected record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = RecordRejection)]
pub struct Rejection {
    /// Index in the submission, from 0.
    pub index: u64,
    /// The sender's record id, when it could be read.
    pub record_id: Option<String>,
    /// The field at fault (`act.time`, `from.code` …).
    pub field: Option<String>,
    /// Stable code.
    pub code: String,
    /// Chinese reason.
    pub reason_zh: String,
    /// English reason.
    pub reason: String,
}

impl Rejection {
    /// A record the decoder could not read.
    pub fn undecodable(index: u64, e: &DecodeError) -> Rejection {
        Rejection {
            index,
            record_id: None,
            field: None,
            code: e.code.to_owned(),
            reason_zh: e.message_zh().to_owned(),
            reason: e.message_en().to_owned(),
        }
    }
}

/// Why a whole submission was refused (the stream broke: nothing it carried is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Refusal {
    /// Stable code (`xml_doctype`, `digest_mismatch`, `csv_missing_column` …).
    pub code: String,
    /// Chinese message.
    pub message_zh: String,
    /// English message.
    pub message: String,
}

impl Refusal {
    /// A document that carries no record at all (an empty body, `[]`, a CSV of its header
    /// only, an EPCIS document with no event): refused, so a sender never reads "stored" for
    /// a submission that stored nothing.
    pub fn empty() -> Refusal {
        Refusal {
            code: "no_records".into(),
            message_zh: "文档不含任何记录，未存储任何数据".into(),
            message: "the document carries no record; nothing was stored".into(),
        }
    }
}

impl From<&DecodeError> for Refusal {
    fn from(e: &DecodeError) -> Refusal {
        Refusal { code: e.code.to_owned(), message_zh: e.message_zh().to_owned(), message: e.message_en().to_owned() }
    }
}

/// A record already held with the same content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DuplicateRecord {
    /// Index in the submission.
    pub index: u64,
    /// The record id.
    pub record_id: String,
}

/// What happened to a submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = SubmissionReceipt)]
pub struct Receipt {
    /// The submission.
    pub submission_id: crate::ids::SubmissionId,
    /// `stored`, `refused` (nothing stored), `dry_run`, or for a job `queued` / `running`.
    pub status: SubmissionStatus,
    /// Whether anything was stored.
    pub stored: bool,
    /// Records read.
    pub received: u64,
    /// Records stored (counted or quarantined); 0 when nothing was stored.
    pub accepted: u64,
    /// Records already held with the same content.
    pub duplicates: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Records stored apart under the tenant's policy.
    pub quarantined: u64,
    /// Records stored and flagged.
    pub flagged: u64,
    /// Corrections applied.
    pub corrected: u64,
    /// The first rejections.
    pub rejections: Vec<Rejection>,
    /// The first duplicates.
    pub duplicate_records: Vec<DuplicateRecord>,
    /// Why the whole submission was refused, if the stream broke.
    pub refusal: Option<Refusal>,
    /// The envelope's message id, for exchange submissions.
    pub message_id: Option<String>,
}

impl Receipt {
    /// A receipt of submission `id` with nothing counted yet, in `status`.
    pub fn of(id: crate::ids::SubmissionId, status: SubmissionStatus) -> Receipt {
        Receipt {
            submission_id: id,
            status,
            stored: false,
            received: 0,
            accepted: 0,
            duplicates: 0,
            rejected: 0,
            quarantined: 0,
            flagged: 0,
            corrected: 0,
            rejections: Vec::new(),
            duplicate_records: Vec::new(),
            refusal: None,
            message_id: None,
        }
    }

    /// Notes a rejection.
    pub fn reject(&mut self, r: Rejection) {
        self.rejected += 1;
        if self.rejections.len() < MAX_LISTED {
            self.rejections.push(r);
        }
    }

    /// Notes a duplicate.
    pub fn duplicate(&mut self, index: u64, record_id: &str) {
        self.duplicates += 1;
        if self.duplicate_records.len() < MAX_LISTED {
            self.duplicate_records.push(DuplicateRecord { index, record_id: record_id.to_owned() });
        }
    }
}
