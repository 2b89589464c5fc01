//! The audit hash chain: writing a row and verifying the whole chain.
//!
//! Row `n` stores `hash_n = H(hash_{n-1} ‖ fields_n)`, with an all-zero hash before row 1.
//! Fields are joined with the unit separator in a fixed order and the time is written with
//! microseconds, so both backends hash exactly what they store. Writers take the chain lock
//! ([`crate::db::lock_audit_chain`]) so sequence numbers are gap-free under concurrency.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::schema::audit_log;
use crate::db::{self, DbConnection};
use crate::error::AppResult;

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
}

/// The digest of a row given its predecessor's hash. SHA-256 today; the chain records no
/// algorithm yet because there is only one (SM3 will add a column when it arrives).
pub fn chain_hash(prev_hash: &str, row: &AuditRow) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
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
        h.update([0x1f]);
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends a row to the chain inside the caller's transaction; returns its sequence number.
/// `row.seq`, `row.at`, `row.prev_hash` and `row.hash` are filled in here.
pub fn append(conn: &mut DbConnection, mut row: AuditRow) -> AppResult<i64> {
    db::lock_audit_chain(conn)?;
    let head: Option<(i64, String)> = audit_log::table
        .select((audit_log::seq, audit_log::hash))
        .order(audit_log::seq.desc())
        .first(conn)
        .optional()?;
    let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
    row.seq = prev_seq + 1;
    row.at = db::now();
    row.prev_hash = prev_hash;
    row.hash = chain_hash(&row.prev_hash, &row);
    diesel::insert_into(audit_log::table).values(&row).execute(conn)?;
    Ok(row.seq)
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
    /// Why it breaks there.
    pub reason: Option<String>,
}

/// Walks the chain from the start in pages and reports the first broken row.
pub fn verify(conn: &mut DbConnection) -> AppResult<Verification> {
    const PAGE: i64 = 2000;
    let mut expected_seq = 1_i64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut checked = 0_i64;
    loop {
        let rows: Vec<AuditRow> = audit_log::table
            .select(AuditRow::as_select())
            .filter(audit_log::seq.ge(expected_seq))
            .order(audit_log::seq.asc())
            .limit(PAGE)
            .load(conn)?;
        if rows.is_empty() {
            return Ok(Verification {
                rows_checked: checked,
                head_seq: expected_seq - 1,
                first_broken_seq: None,
                reason: None,
            });
        }
        for row in &rows {
            let broken = |reason: &str| Verification {
                rows_checked: checked,
                head_seq: expected_seq - 1,
                first_broken_seq: Some(expected_seq),
                reason: Some(reason.to_owned()),
            };
            if row.seq != expected_seq {
                return Ok(broken("row missing (sequence gap)"));
            }
            if row.prev_hash != prev_hash {
                return Ok(broken("previous-hash link does not match"));
            }
            if chain_hash(&prev_hash, row) != row.hash {
                return Ok(broken("row content does not match its hash"));
            }
            prev_hash = row.hash.clone();
            expected_seq += 1;
            checked += 1;
        }
    }
}
