//! Batches from children (接收下级上报): each is checked — an enrolled child sending as
//! itself, the body matching its digest, a known kind, the next number in that child's
//! sequence for the kind — and applied in one transaction with the cursor, or refused
//! whole with nothing applied. A resend of an applied batch changes nothing and answers
//! with the cursor, so a child that lost an answer simply sends again. Every batch is
//! recorded, refusals too, for the parent's monitoring.

use diesel::prelude::*;
use openssl::x509::X509;
use serde::Serialize;
use tracenode_federation::batch::{Batch, BatchError};
use tracenode_federation::tiers::Identity;

use super::children;
use super::kinds::{self, Child};
use crate::db::schema::{federation_applied as fa, federation_cursors as fcur, federation_incoming as fi};
use crate::db::{self, Db, DbConnection};
use crate::error::{AppError, AppResult, ErrorKind};

/// How a batch reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Over the mutual-TLS link.
    Link,
    /// In a bundle file.
    File,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Link => "link",
            Via::File => "file",
        }
    }
}

/// The answer to a batch.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The batch.
    pub batch_id: String,
    /// `applied`, or `duplicate` for a batch applied before.
    pub outcome: String,
    /// The last batch number applied for this child and kind.
    pub applied_through: i64,
    /// Items that changed something.
    pub changed: i64,
}

/// Why a batch is refused, from the format's own checks.
pub fn refusal(e: BatchError) -> AppError {
    let text = e.to_string();
    let (en, zh) = text.split_once(" / ").unwrap_or((text.as_str(), text.as_str()));
    let reason = match e {
        BatchError::DigestMismatch => "digest_mismatch",
        BatchError::Protocol(_) => "protocol",
        BatchError::BadSignature => "bad_signature",
        BatchError::SenderMismatch { .. } => "sender_mismatch",
        BatchError::NotABundle(_) => "malformed_batch",
        BatchError::Tier(_) => "untrusted",
    };
    AppError::batch_refused(reason, zh.to_owned(), en.to_owned())
}

/// The last batch applied for `child` and `kind`.
pub fn cursor(conn: &mut DbConnection, child: &str, kind: &str) -> AppResult<i64> {
    Ok(fcur::table.find((child, kind)).select(fcur::batch_no).first(conn).optional()?.unwrap_or(0))
}

/// The certificates a sender presented: its client certificate and the CA that issued it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    /// The client certificate.
    pub certificate: Option<&'a X509>,
    /// The CA certificate that issued it.
    pub authority: Option<&'a X509>,
}

/// Receives `batch` from `sender`, who presented `presented`.
pub fn receive(db: &Db, sender: &Identity, presented: Presented<'_>, batch: &Batch, via: Via) -> AppResult<Receipt> {
    let Identity::Node { region } = sender else {
        return Err(AppError::with_detail(
            ErrorKind::UnknownSender,
            format!("{} 不是节点证书，不能调用联邦接口", sender.uri()),
            format!("{} is not a node certificate and may not call federation endpoints", sender.uri()),
        ));
    };
    let outcome = db.transaction_sync(|conn| apply(conn, region, presented, batch, via));
    match outcome {
        Ok(receipt) => Ok(receipt),
        Err(e) => {
            let message = e.message();
            let code = e.reason.clone().unwrap_or_else(|| e.code().to_owned());
            // The refusal is recorded apart from the batch, which changed nothing.
            let noted = db.transaction_sync(|conn| {
                if children::active(conn, region).is_ok() {
                    record(conn, region, batch, via, "refused", Some(&code), Some(&message))?;
                    children::note_refusal(conn, region, &message)?;
                }
                Ok(())
            });
            if let Err(n) = noted {
                tracing::warn!(error = %n.message(), "refusal not recorded");
            }
            tracing::warn!(child = %region, batch = %batch.header.batch_id, %code, "batch refused");
            Err(e)
        }
    }
}

fn apply(
    conn: &mut DbConnection,
    region: &str,
    presented: Presented<'_>,
    batch: &Batch,
    via: Via,
) -> AppResult<Receipt> {
    children::active(conn, region)?;
    let h = &batch.header;
    if h.sender != (Identity::Node { region: region.to_owned() }).uri() {
        return Err(refusal(BatchError::SenderMismatch { named: h.sender.clone(), certified: region.to_owned() }));
    }
    batch.check().map_err(refusal)?;
    let kind = kinds::kind(&h.kind).ok_or_else(|| {
        AppError::batch_refused(
            "unknown_kind",
            format!("未知的上报类型 {}", h.kind),
            format!("unknown roll-up kind {}", h.kind),
        )
    })?;
    db::lock_sequence(conn, db::Sequence::Federation)?;
    db::prefer_indexes(conn)?;
    let through = cursor(conn, region, kind.name())?;
    let seen: Option<(String, i64)> =
        fa::table.find(&h.batch_id).select((fa::child_region, fa::batch_no)).first(conn).optional()?;
    if let Some((from, no)) = seen {
        if from == region && no == h.batch_no {
            record(conn, region, batch, via, "duplicate", None, None)?;
            children::touch(conn, region)?;
            return Ok(Receipt {
                batch_id: h.batch_id.clone(),
                outcome: "duplicate".into(),
                applied_through: through,
                changed: 0,
            });
        }
        return Err(conflict(region, h.batch_no, through));
    }
    if h.batch_no <= through {
        return Err(conflict(region, h.batch_no, through));
    }
    if h.batch_no != through + 1 {
        return Err(AppError::batch_refused(
            "batch_gap",
            format!("批次序号不连续：应为 {}，收到 {}", through + 1, h.batch_no),
            format!("batch out of sequence: expected {}, got {}", through + 1, h.batch_no),
        ));
    }
    let child = Child { region, certificate: presented.certificate, authority: presented.authority };
    let changed = kind.apply(conn, &child, &batch.body)?;
    let now = db::now();
    diesel::delete(fcur::table.find((region, kind.name()))).execute(conn)?;
    diesel::insert_into(fcur::table)
        .values((
            fcur::child_region.eq(region),
            fcur::kind.eq(kind.name()),
            fcur::batch_no.eq(h.batch_no),
            fcur::batch_id.eq(&h.batch_id),
            fcur::applied_at.eq(now),
        ))
        .execute(conn)?;
    diesel::insert_into(fa::table)
        .values((
            fa::batch_id.eq(&h.batch_id),
            fa::child_region.eq(region),
            fa::kind.eq(kind.name()),
            fa::batch_no.eq(h.batch_no),
        ))
        .execute(conn)?;
    record(conn, region, batch, via, "applied", None, None)?;
    children::touch(conn, region)?;
    Ok(Receipt { batch_id: h.batch_id.clone(), outcome: "applied".into(), applied_through: h.batch_no, changed })
}

fn conflict(region: &str, no: i64, through: i64) -> AppError {
    AppError::batch_refused(
        "batch_conflict",
        format!("下级节点 {region} 的批次 {no} 已由另一批次占用（已应用至 {through}）"),
        format!("child {region}'s batch number {no} was taken by another batch (applied through {through})"),
    )
}

fn record(
    conn: &mut DbConnection,
    region: &str,
    batch: &Batch,
    via: Via,
    outcome: &str,
    code: Option<&str>,
    detail: Option<&str>,
) -> AppResult<()> {
    let h = &batch.header;
    diesel::insert_into(fi::table)
        .values((
            fi::id.eq(uuid::Uuid::now_v7().to_string()),
            fi::batch_id.eq(&h.batch_id),
            fi::child_region.eq(region),
            fi::kind.eq(&h.kind),
            fi::batch_no.eq(h.batch_no),
            fi::items.eq(h.items),
            fi::digest.eq(&h.digest),
            fi::outcome.eq(outcome),
            fi::code.eq(code),
            fi::detail.eq(detail),
            fi::via.eq(via.as_str()),
            fi::received_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A received batch as the monitoring shows it.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = fi)]
pub struct Incoming {
    /// Row id.
    pub id: String,
    /// The batch.
    pub batch_id: String,
    /// The child.
    pub child_region: String,
    /// Its kind.
    pub kind: String,
    /// Its number.
    pub batch_no: i64,
    /// Items.
    pub items: i64,
    /// Its digest.
    pub digest: String,
    /// `applied`, `duplicate` or `refused`.
    pub outcome: String,
    /// The refusal's code.
    pub code: Option<String>,
    /// The refusal's message.
    pub detail: Option<String>,
    /// `link` or `file`.
    pub via: String,
    /// When (UTC).
    pub received_at: chrono::NaiveDateTime,
}

/// The latest received batches, of one child or all.
pub fn recent(conn: &mut DbConnection, child: Option<&str>, limit: i64) -> AppResult<Vec<Incoming>> {
    let mut q = fi::table.order(fi::received_at.desc()).limit(limit).select(Incoming::as_select()).into_boxed();
    if let Some(c) = child {
        q = q.filter(fi::child_region.eq(c.to_owned()));
    }
    Ok(q.load(conn)?)
}
