//! Batches from children (接收下级上报). The protocol's rules (sender, digest, kind,
//! sequence, resends) are [`tracenode_federation::wire::inbox::receive`]'s; this module is
//! the storage they run over: the cursors and applied ids in the database, each kind's
//! tables, and one transaction per batch, so a batch is applied with its cursor or refused
//! whole with nothing applied. Only an enrolled, active child is heard. Every batch is
//! recorded, refusals too, for the parent's monitoring.

use diesel::prelude::*;
use openssl::x509::X509;
use serde::Serialize;
use tracenode_federation::tiers::Identity;
use tracenode_federation::wire::inbox::Inbox;
use tracenode_federation::wire::{Batch, Kind, Payload, Receipt, Refusal};

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

/// The last batch applied for `child` and `kind`.
pub fn cursor(conn: &mut DbConnection, child: &str, kind: &str) -> AppResult<i64> {
    Ok(fcur::table.find((child, kind)).select(fcur::batch_no).first(conn).optional()?.unwrap_or(0))
}

/// The certificates a sender presented (its client certificate and the CA that issued it),
/// and whether this node demands its batches be sealed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    /// The client certificate.
    pub certificate: Option<&'a X509>,
    /// The CA certificate that issued it.
    pub authority: Option<&'a X509>,
    /// Whether a batch without an SM2 seal is refused (`security.require_batch_signature`).
    pub require_seal: bool,
    /// This node's region (what it announces down is signed with it as origin).
    pub receiver: &'a str,
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
                    let noted =
                        Noted { outcome: "refused", code: Some(&code), detail: Some(&message), sealed_by: None };
                    record(conn, region, batch, via, noted)?;
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

/// The protocol's storage over one transaction of this node's database.
struct Stored<'c, 'p> {
    conn: &'c mut DbConnection,
    presented: Presented<'p>,
}

impl Inbox for Stored<'_, '_> {
    type Error = AppError;

    fn applied_through(&mut self, child: &str, kind: Kind) -> AppResult<i64> {
        // One batch at a time from every child: the cursor read here holds until commit.
        db::lock_sequence(self.conn, db::Sequence::Federation)?;
        db::prefer_indexes(self.conn)?;
        cursor(self.conn, child, kind.as_str())
    }

    fn applied_as(&mut self, batch_id: &str) -> AppResult<Option<(String, i64)>> {
        Ok(fa::table.find(batch_id).select((fa::child_region, fa::batch_no)).first(self.conn).optional()?)
    }

    fn apply(&mut self, child: &str, payload: Payload) -> AppResult<i64> {
        let from = Child {
            region: child,
            certificate: self.presented.certificate,
            authority: self.presented.authority,
            receiver: self.presented.receiver,
        };
        kinds::apply(self.conn, &from, payload)
    }

    fn advance(&mut self, child: &str, kind: Kind, batch_no: i64, batch_id: &str) -> AppResult<()> {
        let conn = &mut *self.conn;
        diesel::delete(fcur::table.find((child, kind.as_str()))).execute(conn)?;
        diesel::insert_into(fcur::table)
            .values((
                fcur::child_region.eq(child),
                fcur::kind.eq(kind.as_str()),
                fcur::batch_no.eq(batch_no),
                fcur::batch_id.eq(batch_id),
                fcur::applied_at.eq(db::now()),
            ))
            .execute(conn)?;
        diesel::insert_into(fa::table)
            .values((
                fa::batch_id.eq(batch_id),
                fa::child_region.eq(child),
                fa::kind.eq(kind.as_str()),
                fa::batch_no.eq(batch_no),
            ))
            .execute(conn)?;
        Ok(())
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
    let sealed_by = check_seal(conn, region, presented, batch)?;
    let receipt = tracenode_federation::wire::inbox::receive(&mut Stored { conn, presented }, region, batch)?;
    let noted = Noted { outcome: receipt.outcome.as_str(), sealed_by: sealed_by.as_deref(), ..Noted::default() };
    record(conn, region, batch, via, noted)?;
    children::touch(conn, region)?;
    Ok(receipt)
}

/// Checks the batch's seal, when it has one or this node demands one: made under a signing
/// certificate of the child's CA (the one that issued the certificate the batch came with)
/// that the child has not revoked. Gives the signing certificate's serial.
fn check_seal(
    conn: &mut DbConnection,
    region: &str,
    presented: Presented<'_>,
    batch: &Batch,
) -> AppResult<Option<String>> {
    let bad = |why: String| AppError::from(Refusal::BadSeal(why));
    if batch.seal.is_none() {
        return if presented.require_seal { Err(Refusal::SealRequired.into()) } else { Ok(None) };
    }
    let authority = presented.authority.ok_or_else(|| bad("the sender's CA is not known".into()))?;
    let Some(cert) = batch.check_seal(authority).map_err(Refusal::from)? else { return Ok(None) };
    let serial = crate::credentials::certificates::serial_hex(&cert)?;
    if kinds::revocations::revoked_by_child(conn, region, authority, &serial)? {
        return Err(bad(format!("the signing certificate {serial} is revoked")));
    }
    Ok(Some(serial))
}

/// What became of a batch, as `federation_incoming` keeps it.
#[derive(Default)]
struct Noted<'a> {
    outcome: &'a str,
    code: Option<&'a str>,
    detail: Option<&'a str>,
    sealed_by: Option<&'a str>,
}

fn record(conn: &mut DbConnection, region: &str, batch: &Batch, via: Via, noted: Noted<'_>) -> AppResult<()> {
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
            fi::outcome.eq(noted.outcome),
            fi::code.eq(noted.code),
            fi::detail.eq(noted.detail),
            fi::via.eq(via.as_str()),
            fi::sealed_by.eq(noted.sealed_by),
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
    /// The serial of the SM2 signing certificate that sealed it (hex), when it was sealed.
    pub sealed_by: Option<String>,
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
