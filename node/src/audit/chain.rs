//! The audit hash chain: writing a row and verifying the whole chain.
//!
//! Row `n` stores `hash_n = H(hash_{n-1} ‖ fields_n)`, with an all-zero hash before row 1.
//! Fields are joined with the unit separator in a fixed order and the time is written with
//! microseconds, so both backends hash exactly what they store. Writers take the chain lock
//! ([`crate::db::lock_audit_chain`]) so sequence numbers are gap-free under concurrency.

use std::collections::BTreeMap;

use diesel::prelude::*;
use sha2::{Digest as _, Sha256};

use super::checkpoint::{Anchored, Checkpoint};

use crate::db::schema::audit_log;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};

/// The hash before the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored audit row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    /// Gap-free sequence number, from 1.
    pub seq: i64,
    /// When it happened (UTC).
    pub at: chrono::NaiveDateTime,
    /// Who acted: a user name, `api-key:<prefix>`, `cli` or `system`.
    pub actor: String,
    /// The role the actor acted in.
    pub actor_role: String,
    /// The actor's tenant, if any.
    pub tenant_id: Option<String>,
    /// The source IP address, or `local`.
    pub source_ip: String,
    /// What was done, e.g. `auth.sign_in`, `tenant.create`.
    pub action: String,
    /// What it was done to.
    pub object: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// The request's correlation id.
    pub correlation_id: String,
    /// Further detail (JSON text).
    pub detail: String,
    /// Hash of the previous row.
    pub prev_hash: String,
    /// Hash of this row.
    pub hash: String,
    /// The digest the row was hashed with: `sha256` or `sm3`.
    pub digest: String,
}

pub use crate::keys::Digest;

/// A running hash in one of the [`Digest`]s.
enum Hasher {
    Sha256(Sha256),
    Sm3(openssl::hash::Hasher),
}

impl Hasher {
    fn new(d: Digest) -> AppResult<Hasher> {
        Ok(match d {
            Digest::Sha256 => Hasher::Sha256(Sha256::new()),
            Digest::Sm3 => Hasher::Sm3(
                openssl::hash::Hasher::new(openssl::hash::MessageDigest::sm3()).map_err(AppError::internal)?,
            ),
        })
    }

    fn update(&mut self, bytes: &[u8]) -> AppResult<()> {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sm3(h) => h.update(bytes).map_err(AppError::internal)?,
        }
        Ok(())
    }

    fn finish(self) -> AppResult<String> {
        Ok(match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sm3(mut h) => hex::encode(h.finish().map_err(AppError::internal)?),
        })
    }
}

/// The hash of a row given its predecessor's hash, in the row's own digest (an unknown digest
/// hashes to nothing any row holds). Rows in SM3 also hash the digest's name, so a row cannot
/// be passed off as hashed in the other digest.
pub fn chain_hash(prev_hash: &str, row: &AuditRow) -> String {
    let Some(digest) = Digest::parse(&row.digest) else { return String::from("unknown digest") };
    hash_fields(digest, prev_hash, row).unwrap_or_default()
}

fn hash_fields(digest: Digest, prev_hash: &str, row: &AuditRow) -> AppResult<String> {
    let mut h = Hasher::new(digest)?;
    h.update(prev_hash.as_bytes())?;
    if digest != Digest::Sha256 {
        h.update(&[0x1f])?;
        h.update(digest.as_str().as_bytes())?;
    }
    for field in [
        row.seq.to_string(),
        row.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        row.actor.clone(),
        row.actor_role.clone(),
        row.tenant_id.clone().unwrap_or_default(),
        row.source_ip.clone(),
        row.action.clone(),
        row.object.clone(),
        row.outcome.clone(),
        row.correlation_id.clone(),
        row.detail.clone(),
    ] {
        h.update(&[0x1f])?;
        h.update(field.as_bytes())?;
    }
    h.finish()
}

/// Appends a row to the chain inside the caller's transaction; returns its sequence number.
/// `row.seq`, `row.at`, `row.prev_hash` and `row.hash` are filled in here, and `row.digest`
/// when empty: a row continues in the digest of the row before it (SHA-256 for the first).
pub fn append(conn: &mut DbConnection, mut row: AuditRow) -> AppResult<i64> {
    db::lock_audit_chain(conn)?;
    let head: Option<(i64, String, String)> = audit_log::table
        .select((audit_log::seq, audit_log::hash, audit_log::digest))
        .order(audit_log::seq.desc())
        .first(conn)
        .optional()?;
    let (prev_seq, prev_hash, prev_digest) =
        head.unwrap_or((0, GENESIS_HASH.to_owned(), Digest::Sha256.as_str().to_owned()));
    row.seq = prev_seq + 1;
    row.at = db::now();
    row.prev_hash = prev_hash;
    if row.digest.is_empty() {
        row.digest = prev_digest;
    }
    let digest =
        Digest::parse(&row.digest).ok_or_else(|| AppError::internal(format!("unknown digest {}", row.digest)))?;
    row.hash = hash_fields(digest, &row.prev_hash, &row)?;
    diesel::insert_into(audit_log::table).values(&row).execute(conn)?;
    Ok(row.seq)
}

/// The digest the chain's head row was hashed with (SHA-256 for an empty chain): the one the
/// next row continues in.
pub fn head_digest(conn: &mut DbConnection) -> AppResult<Digest> {
    let head: Option<String> =
        audit_log::table.select(audit_log::digest).order(audit_log::seq.desc()).first(conn).optional()?;
    Ok(head.as_deref().and_then(Digest::parse).unwrap_or(Digest::Sha256))
}

/// The result of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Rows checked.
    pub rows_checked: i64,
    /// The head's sequence number (0 for an empty chain).
    pub head_seq: i64,
    /// The first sequence number at which the chain breaks, if it does.
    pub first_broken_seq: Option<i64>,
    /// What broke, as a stable code: `sequence_gap`, `link_broken`, `content_altered`,
    /// `rewritten`, `renumbered`, `tail_missing` or `checkpoint_forged`.
    pub code: Option<String>,
    /// Why it breaks there, in words.
    pub reason: Option<String>,
    /// The newest checkpoint outside the database that the chain was held against.
    pub anchored_seq: Option<i64>,
    /// Append-only triggers that are missing or disabled.
    pub missing_triggers: Vec<String>,
}

impl Verification {
    /// Whether the chain, its anchors and its triggers are all intact.
    pub fn intact(&self) -> bool {
        self.first_broken_seq.is_none() && self.code.is_none() && self.missing_triggers.is_empty()
    }

    /// What broke, in Chinese, for the console.
    pub fn label_zh(&self) -> &'static str {
        match self.code.as_deref() {
            Some("sequence_gap") => "缺少记录（序号不连续）",
            Some("link_broken") => "前后哈希链接不符",
            Some("content_altered") => "记录内容与其哈希不符",
            Some("rewritten") => "记录被改写并重新计算了哈希，与库外检查点不符",
            Some("renumbered") => "记录被删除后重新编号",
            Some("tail_missing") => "最新的记录被删除",
            Some("checkpoint_forged") => "库外检查点文件被篡改",
            _ => "未知",
        }
    }

    fn broken(mut self, seq: i64, code: &str, reason: String) -> Verification {
        self.first_broken_seq = Some(seq);
        self.code = Some(code.to_owned());
        self.reason = Some(reason);
        self
    }
}

/// Walks the chain from the start in pages, holds it against the checkpoints kept outside the
/// database, checks the append-only triggers, and reports the first break.
pub fn verify(conn: &mut DbConnection, anchored: &Anchored) -> AppResult<Verification> {
    let missing_triggers = db::missing_audit_triggers(conn)?;
    let by_seq: BTreeMap<i64, &Checkpoint> = anchored.checkpoints.iter().map(|c| (c.seq, c)).collect();
    let newest = by_seq.values().next_back().copied();
    let mut v = Verification {
        rows_checked: 0,
        head_seq: 0,
        first_broken_seq: None,
        code: None,
        reason: None,
        anchored_seq: newest.map(|c| c.seq),
        missing_triggers,
    };
    let walked = walk(conn, &by_seq, &mut v)?;
    if let Some(broken) = walked {
        return Ok(broken);
    }
    if let Some(c) = newest.filter(|c| c.seq > v.head_seq) {
        let (from, to, at) = (v.head_seq + 1, c.seq, c.written_at.clone());
        if moved(conn, c)?.is_some() {
            let (code, reason) = against_checkpoint(conn, c)?;
            return Ok(v.broken(from, code, reason));
        }
        return Ok(v.broken(
            from,
            "tail_missing",
            format!(
                "the chain ends at {} but the checkpoint of {at} names row {to}: rows {from} to {to} were deleted",
                from - 1
            ),
        ));
    }
    if !anchored.forged_lines.is_empty() {
        let lines = anchored.forged_lines.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
        let at = v.head_seq;
        return Ok(v.broken(
            at,
            "checkpoint_forged",
            format!("lines {lines} of the checkpoint file fail their MAC: edited without the node's key"),
        ));
    }
    Ok(v)
}

/// The check the node makes at start, without walking the chain: the triggers, the newest
/// checkpoint's row still in place, and the checkpoint file unforged. Returns what is wrong.
pub fn quick_check(conn: &mut DbConnection, anchored: &Anchored) -> AppResult<Vec<String>> {
    let mut wrong: Vec<String> =
        db::missing_audit_triggers(conn)?.into_iter().map(|t| format!("trigger_missing: {t}")).collect();
    if let Some(c) = anchored.checkpoints.iter().max_by_key(|c| c.seq) {
        let found: Option<String> =
            audit_log::table.filter(audit_log::seq.eq(c.seq)).select(audit_log::hash).first(conn).optional()?;
        match found {
            None => wrong
                .push(format!("tail_missing: the checkpoint of {} names row {}, which is gone", c.written_at, c.seq)),
            Some(h) if h != c.hash => {
                let (code, reason) = against_checkpoint(conn, c)?;
                wrong.push(format!("{code}: {reason}"));
            }
            Some(_) => {}
        }
    }
    if !anchored.forged_lines.is_empty() {
        wrong.push("checkpoint_forged: lines of the checkpoint file fail their MAC".into());
    }
    Ok(wrong)
}

/// Where the row a checkpoint saw stands now, if it moved to another sequence number (found
/// by its time, to the microsecond).
fn moved(conn: &mut DbConnection, c: &Checkpoint) -> AppResult<Option<i64>> {
    let Ok(at) = chrono::NaiveDateTime::parse_from_str(&c.row_at, super::checkpoint::TIME_FORMAT) else {
        return Ok(None);
    };
    Ok(audit_log::table
        .filter(audit_log::at.eq(at))
        .filter(audit_log::seq.ne(c.seq))
        .select(audit_log::seq)
        .first(conn)
        .optional()?)
}

/// The walk itself: `Some` with the first break, or `None` with `v` counting every row.
fn walk(
    conn: &mut DbConnection,
    checkpoints: &BTreeMap<i64, &Checkpoint>,
    v: &mut Verification,
) -> AppResult<Option<Verification>> {
    const PAGE: i64 = 2000;
    let mut prev_hash = GENESIS_HASH.to_owned();
    loop {
        let expected_from = v.head_seq + 1;
        let rows: Vec<AuditRow> = audit_log::table
            .select(AuditRow::as_select())
            .filter(audit_log::seq.ge(expected_from))
            .order(audit_log::seq.asc())
            .limit(PAGE)
            .load(conn)?;
        if rows.is_empty() {
            return Ok(None);
        }
        for row in &rows {
            let expected = v.head_seq + 1;
            let internal = if row.seq != expected {
                Some(("sequence_gap", "row missing (sequence gap)".to_owned()))
            } else if row.prev_hash != prev_hash {
                Some(("link_broken", "previous-hash link does not match".to_owned()))
            } else if chain_hash(&prev_hash, row) != row.hash {
                Some(("content_altered", "row content does not match its hash".to_owned()))
            } else {
                None
            };
            if let Some((code, reason)) = internal {
                return Ok(Some(v.clone().broken(expected, code, reason)));
            }
            if let Some(c) = checkpoints.get(&row.seq).filter(|c| c.hash != row.hash) {
                let (code, reason) = against_checkpoint(conn, c)?;
                return Ok(Some(v.clone().broken(row.seq, code, reason)));
            }
            prev_hash = row.hash.clone();
            v.head_seq = row.seq;
            v.rows_checked += 1;
        }
    }
}

/// Why the row at a checkpoint's sequence number is not the row the checkpoint saw: found
/// elsewhere (renumbered), or nowhere (rewritten and re-hashed).
fn against_checkpoint(conn: &mut DbConnection, c: &Checkpoint) -> AppResult<(&'static str, String)> {
    Ok(match moved(conn, c)? {
        Some(now) => (
            "renumbered",
            format!(
                "the row the checkpoint of {} names as {} now stands at {now}: rows were removed and the rest renumbered",
                c.written_at, c.seq
            ),
        ),
        None => (
            "rewritten",
            format!(
                "row {} differs from the checkpoint of {}: rows up to {} were rewritten and re-hashed",
                c.seq, c.written_at, c.seq
            ),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_is_the_gb_t_32905_digest() {
        // GB/T 32905-2016, example 1: SM3("abc").
        let mut h = Hasher::new(Digest::Sm3).expect("sm3");
        h.update(b"abc").expect("update");
        assert_eq!(h.finish().expect("finish"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    }

    #[test]
    fn a_row_hashes_in_its_own_digest() {
        let mut row = AuditRow {
            seq: 1,
            at: chrono::NaiveDateTime::default(),
            actor: "cli".into(),
            actor_role: "operator".into(),
            tenant_id: None,
            source_ip: "local".into(),
            action: "x".into(),
            object: "y".into(),
            outcome: "success".into(),
            correlation_id: "c".into(),
            detail: "{}".into(),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
            digest: "sha256".into(),
        };
        let sha = chain_hash(GENESIS_HASH, &row);
        row.digest = "sm3".into();
        let sm3 = chain_hash(GENESIS_HASH, &row);
        assert_eq!((sha.len(), sm3.len()), (64, 64));
        assert_ne!(sha, sm3);
        row.digest = "md5".into();
        assert_eq!(chain_hash(GENESIS_HASH, &row).len(), "unknown digest".len());
    }
}
