//! The tamper-evident audit trail (审计日志).
//!
//! Every sign-in (success and failure), permission or role change, user or tenant change,
//! configuration change, export and data push writes an audit row **in the same transaction
//! as the action**: services call [`record`] with the connection of their transaction, so if
//! the row cannot be written the action fails too. Denials (403) are recorded in a
//! transaction of their own, since there is no action to join.
//!
//! Rows form a SHA-256 hash chain ([`chain`]); both databases refuse UPDATE and DELETE on the
//! table (triggers in the migrations), and checkpoints of the chain's head are kept outside
//! the database under the node's key ([`anchor`]), so a rewrite by someone with database
//! access shows too. `tracenode audit verify`, `GET /api/v1/audit/verify` and the console page
//! report the first broken sequence number, what broke, and any missing trigger.

pub mod anchor;
pub mod chain;
pub mod checkpoint;
pub mod panic_guard;
pub mod query;

pub use chain::{AuditRow, Verification};

use crate::db::DbConnection;
use crate::error::AppResult;

/// Makes `wanted` the chain's digest from the next row on: if the head is in another digest, a
/// row `audit.digest` in the new digest records the change (it links to the head like any
/// other, so the switch is itself on the chain). Does nothing when the chain already uses it.
pub fn use_digest(conn: &mut DbConnection, wanted: chain::Digest) -> AppResult<()> {
    let current = chain::head_digest(conn)?;
    if current == wanted {
        return Ok(());
    }
    let detail = serde_json::json!({"from": current.as_str(), "to": wanted.as_str()});
    let mut row = new_row(&AuditContext::system(), "audit.digest", "audit_log", Outcome::Success, detail);
    row.digest = wanted.as_str().into();
    chain::append(conn, row)?;
    Ok(())
}

/// Verifies the chain against its anchors and records that it was verified (the outcome in
/// the row's detail), in the caller's transaction.
pub fn verify_recorded(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    anchors: &anchor::Anchors,
) -> AppResult<Verification> {
    let anchored = anchors.read()?;
    let v = chain::verify(conn, &anchored)?;
    record(conn, ctx, "audit.verify", "audit_log", Outcome::Success, serde_json::to_value(&v).unwrap_or_default())?;
    Ok(v)
}

/// Who is acting, for the audit row.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuditContext {
    /// User name, `api-key:<prefix>`, `cli` or `system`.
    pub actor: String,
    /// The role acted in (codes joined with `,`).
    pub actor_role: String,
    /// The actor's tenant.
    pub tenant_id: Option<String>,
    /// Source IP address or `local`.
    pub source_ip: String,
    /// Correlation id of the request or command.
    pub correlation_id: String,
}

impl AuditContext {
    /// The context of the command line, run by the node's operator on the machine itself.
    pub fn cli() -> Self {
        AuditContext {
            actor: "cli".into(),
            actor_role: "operator".into(),
            tenant_id: None,
            source_ip: "local".into(),
            correlation_id: uuid::Uuid::now_v7().to_string(),
        }
    }

    /// The context of the node itself (start-up checks, scheduled work).
    pub fn system() -> Self {
        AuditContext { actor: "system".into(), actor_role: "system".into(), ..AuditContext::cli() }
    }

    /// The context of an anonymous request (e.g. a sign-in attempt) from `ip`.
    pub fn anonymous(ip: &str, correlation_id: &str, actor: &str) -> Self {
        AuditContext {
            actor: actor.to_owned(),
            actor_role: "anonymous".into(),
            tenant_id: None,
            source_ip: ip.to_owned(),
            correlation_id: correlation_id.to_owned(),
        }
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was done.
    Success,
    /// It was attempted and failed (e.g. a wrong password).
    Failure,
    /// It was refused for lack of permission or scope.
    Denied,
}

impl Outcome {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// Writes one audit row in the caller's transaction.
pub fn record(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    action: &str,
    object: &str,
    outcome: Outcome,
    detail: serde_json::Value,
) -> AppResult<i64> {
    chain::append(conn, new_row(ctx, action, object, outcome, detail))
}

/// A row for `append` to number, link and hash (in the chain's digest).
fn new_row(ctx: &AuditContext, action: &str, object: &str, outcome: Outcome, detail: serde_json::Value) -> AuditRow {
    AuditRow {
        seq: 0,
        at: crate::db::now(),
        actor: ctx.actor.clone(),
        actor_role: ctx.actor_role.clone(),
        tenant_id: ctx.tenant_id.clone(),
        source_ip: ctx.source_ip.clone(),
        action: action.to_owned(),
        object: object.to_owned(),
        outcome: outcome.as_str().to_owned(),
        correlation_id: ctx.correlation_id.clone(),
        detail: detail.to_string(),
        prev_hash: String::new(),
        hash: String::new(),
        digest: String::new(),
    }
}
