//! `audit-checkpoints`: the signed head of the node's audit chain. Each checkpoint also
//! re-states the hash the chain holds today at the previous checkpoint's row, so a parent
//! that kept that checkpoint tells a rewritten history from the true one: the hashes differ.

use diesel::prelude::*;
use openssl::hash::MessageDigest;
use openssl::sign::{Signer, Verifier};
use serde::{Deserialize, Serialize};

use super::{malformed, Child, Collected, Collector, Kind};
use crate::db::schema::{audit_checkpoints as ac, audit_log};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};

/// The kind.
pub struct AuditCheckpoints;

/// A row of the chain and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Point {
    seq: i64,
    hash: String,
}

/// One checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Checkpoint {
    head: Point,
    /// The hash today at the previous checkpoint's row.
    previous: Option<Point>,
    signed_at: String,
    /// ECDSA-SHA256 by the node's client key over [`Checkpoint::message`], hex.
    signature: String,
}

impl Checkpoint {
    fn message(sender_region: &str, head: &Point, previous: &Option<Point>, signed_at: &str) -> String {
        let prev = previous.as_ref().map(|p| format!("{}:{}", p.seq, p.hash)).unwrap_or_default();
        format!("tracenode-audit-checkpoint|{sender_region}|{}:{}|{prev}|{signed_at}", head.seq, head.hash)
    }
}

fn point_at(conn: &mut DbConnection, seq: i64) -> AppResult<Option<Point>> {
    Ok(audit_log::table
        .find(seq)
        .select(audit_log::hash)
        .first::<String>(conn)
        .optional()?
        .map(|hash| Point { seq, hash }))
}

fn openssl_failed(e: openssl::error::ErrorStack) -> AppError {
    AppError::internal(e)
}

impl Kind for AuditCheckpoints {
    fn name(&self) -> &'static str {
        "audit-checkpoints"
    }

    fn label_zh(&self) -> &'static str {
        "审计链校验点"
    }

    fn collect(&self, conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
        let last: Option<i64> = audit_log::table.select(diesel::dsl::max(audit_log::seq)).first(conn)?;
        let Some(seq) = last.filter(|s| *s > from) else { return Ok(None) };
        let head = point_at(conn, seq)?.ok_or_else(|| AppError::internal("audit head vanished"))?;
        let previous = if from > 0 { point_at(conn, from)? } else { None };
        let signed_at = chrono::Utc::now().to_rfc3339();
        let mut signer = Signer::new(MessageDigest::sha256(), by.signer).map_err(openssl_failed)?;
        signer
            .update(Checkpoint::message(by.region, &head, &previous, &signed_at).as_bytes())
            .map_err(openssl_failed)?;
        let signature = hex::encode(signer.sign_to_vec().map_err(openssl_failed)?);
        let body = vec![Checkpoint { head, previous, signed_at, signature }];
        Ok(Some(Collected {
            items: 1,
            body: serde_json::to_string(&body).map_err(AppError::internal)?,
            seqs: Some((seq, seq)),
            collected_through: seq,
            more: false,
        }))
    }

    fn apply(&self, conn: &mut DbConnection, child: &Child<'_>, body: &str) -> AppResult<i64> {
        let checkpoints: Vec<Checkpoint> = serde_json::from_str(body).map_err(|e| malformed(self.name(), e))?;
        let mut stored = 0;
        for c in checkpoints {
            if let Some(cert) = child.certificate {
                verify(child.region, &c, cert)?;
            }
            for point in std::iter::once(&c.head).chain(c.previous.iter()) {
                let kept: Option<String> =
                    ac::table.find((child.region, point.seq)).select(ac::hash).first(conn).optional()?;
                if kept.as_ref().is_some_and(|h| h != &point.hash) {
                    return Err(rewritten(child.region, point.seq));
                }
            }
            let kept = ac::table.find((child.region, c.head.seq)).count().get_result::<i64>(conn)? > 0;
            if !kept {
                diesel::insert_into(ac::table)
                    .values((
                        ac::child_region.eq(child.region),
                        ac::seq.eq(c.head.seq),
                        ac::hash.eq(&c.head.hash),
                        ac::signed_at.eq(&c.signed_at),
                        ac::signature.eq(&c.signature),
                        ac::received_at.eq(db::now()),
                    ))
                    .execute(conn)?;
                stored += 1;
            }
        }
        Ok(stored)
    }
}

fn rewritten(region: &str, seq: i64) -> AppError {
    AppError::batch_refused(
        "history_rewritten",
        format!("下级节点 {region} 的审计链第 {seq} 条与此前的校验点不一致：审计记录被改写"),
        format!(
            "child {region}'s audit chain differs at row {seq} from its earlier checkpoint: its history was rewritten"
        ),
    )
}

fn verify(region: &str, c: &Checkpoint, cert: &openssl::x509::X509) -> AppResult<()> {
    let bad = || {
        AppError::batch_refused(
            "bad_signature",
            format!("下级节点 {region} 的审计校验点签名无效"),
            format!("child {region}'s audit checkpoint signature does not verify"),
        )
    };
    let signature = hex::decode(&c.signature).map_err(|_| bad())?;
    let key = cert.public_key().map_err(openssl_failed)?;
    let mut verifier = Verifier::new(MessageDigest::sha256(), &key).map_err(openssl_failed)?;
    verifier
        .update(Checkpoint::message(region, &c.head, &c.previous, &c.signed_at).as_bytes())
        .map_err(openssl_failed)?;
    if verifier.verify(&signature).unwrap_or(false) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The checkpoints kept for a child, newest first.
pub fn kept(conn: &mut DbConnection, child_region: &str) -> AppResult<Vec<(i64, String, String)>> {
    Ok(ac::table
        .filter(ac::child_region.eq(child_region))
        .order(ac::seq.desc())
        .limit(50)
        .select((ac::seq, ac::hash, ac::signed_at))
        .load(conn)?)
}
