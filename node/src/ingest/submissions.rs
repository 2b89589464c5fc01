//! Submissions (数据报送): one row per envelope, import or pull, holding its receipt. The row
//! is the status of an asynchronous job and the transmission log the monitoring reads.

use diesel::prelude::*;
use serde::Serialize;

use super::receipt::Receipt;
use super::Mode;
use crate::db::schema::submissions;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::{SubmissionId, TenantId};

/// Status of a submission (kept with the table, where the quality report reads it too).
pub use crate::db::SubmissionStatus;

/// How a submission arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = SubmissionChannel)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `POST /api/v1/exchange`.
    Exchange,
    /// `POST /api/v1/imports`.
    Import,
    /// `tracenode import`.
    Cli,
    /// Pulled from a vendor's API.
    Pull,
}

impl Channel {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Exchange => "exchange",
            Channel::Import => "import",
            Channel::Cli => "cli",
            Channel::Pull => "pull",
        }
    }
}

/// What is known of a submission before its records are read.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Id (UUIDv7).
    pub id: SubmissionId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Sender: the tenant's code, or a child node.
    pub sender: String,
    /// Channel.
    pub channel: Channel,
    /// Format name.
    pub format: String,
    /// Mode.
    pub mode: Mode,
    /// Dry run.
    pub dry_run: bool,
    /// Body size.
    pub bytes: i64,
    /// Who sent it.
    pub actor: String,
}

/// A submission as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, Queryable, Selectable)]
#[diesel(table_name = submissions)]
pub struct Submission {
    /// Id.
    pub id: SubmissionId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Sender.
    pub sender: String,
    /// Channel.
    pub channel: String,
    /// Format.
    pub format: String,
    /// Envelope message id.
    pub message_id: Option<String>,
    /// `atomic` or `best_effort`.
    pub mode: String,
    /// Dry run.
    pub dry_run: bool,
    /// `queued`, `running`, `stored`, `refused`, `dry_run` or `failed`.
    pub status: String,
    /// Body size, bytes.
    pub bytes: i64,
    /// Records read.
    pub received: i64,
    /// Records stored.
    pub accepted: i64,
    /// Duplicates.
    pub duplicates: i64,
    /// Rejected.
    pub rejected: i64,
    /// Quarantined.
    pub quarantined: i64,
    /// Flagged.
    pub flagged: i64,
    /// Who sent it.
    pub actor: String,
    /// Received.
    pub created_at: chrono::NaiveDateTime,
    /// Ingestion started.
    pub started_at: Option<chrono::NaiveDateTime>,
    /// Ingestion finished.
    pub finished_at: Option<chrono::NaiveDateTime>,
}

/// Records a new submission in `status` (with the body spooled at `spool` for a job).
pub fn create(conn: &mut DbConnection, m: &Meta, status: SubmissionStatus, spool: Option<&str>) -> AppResult<()> {
    diesel::insert_into(submissions::table)
        .values((
            submissions::id.eq(&m.id),
            submissions::tenant_id.eq(&m.tenant_id),
            submissions::sender.eq(&m.sender),
            submissions::channel.eq(m.channel.as_str()),
            submissions::format.eq(&m.format),
            submissions::mode.eq(m.mode.as_str()),
            submissions::dry_run.eq(m.dry_run),
            submissions::status.eq(status.as_str()),
            submissions::bytes.eq(m.bytes),
            submissions::received.eq(0i64),
            submissions::accepted.eq(0i64),
            submissions::duplicates.eq(0i64),
            submissions::rejected.eq(0i64),
            submissions::quarantined.eq(0i64),
            submissions::flagged.eq(0i64),
            submissions::spool.eq(spool),
            submissions::actor.eq(&m.actor),
            submissions::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks a submission running.
pub fn start(conn: &mut DbConnection, id: &SubmissionId) -> AppResult<()> {
    diesel::update(submissions::table.find(id))
        .set((submissions::status.eq(SubmissionStatus::Running.as_str()), submissions::started_at.eq(crate::db::now())))
        .execute(conn)?;
    Ok(())
}

/// Marks a submission failed (its job cannot run).
pub fn mark_failed(conn: &mut DbConnection, id: &SubmissionId) -> AppResult<()> {
    diesel::update(submissions::table.find(id))
        .set((submissions::status.eq(SubmissionStatus::Failed.as_str()), submissions::finished_at.eq(crate::db::now())))
        .execute(conn)?;
    Ok(())
}

/// Writes a submission's outcome (creating the row if it is not there yet).
pub fn finish(conn: &mut DbConnection, m: &Meta, r: &Receipt) -> AppResult<()> {
    let exists: i64 = submissions::table.filter(submissions::id.eq(&m.id)).count().get_result(conn)?;
    if exists == 0 {
        create(conn, m, r.status, None)?;
    }
    let now = crate::db::now();
    diesel::update(submissions::table.find(&m.id))
        .set((
            submissions::status.eq(r.status.as_str()),
            submissions::message_id.eq(r.message_id.as_deref()),
            submissions::received.eq(r.received as i64),
            submissions::accepted.eq(r.accepted as i64),
            submissions::duplicates.eq(r.duplicates as i64),
            submissions::rejected.eq(r.rejected as i64),
            submissions::quarantined.eq(r.quarantined as i64),
            submissions::flagged.eq(r.flagged as i64),
            submissions::receipt.eq(serde_json::to_string(r).map_err(AppError::internal)?),
            submissions::spool.eq(None::<String>),
            submissions::finished_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(submissions::table.find(&m.id).filter(submissions::started_at.is_null()))
        .set(submissions::started_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// A submission with its receipt, if it belongs to `tenant` (any tenant when `None`).
pub fn get(
    conn: &mut DbConnection,
    id: &SubmissionId,
    tenant: Option<&TenantId>,
) -> AppResult<(Submission, Option<Receipt>)> {
    let mut q = submissions::table.filter(submissions::id.eq(id.clone())).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(submissions::tenant_id.eq(t.clone()));
    }
    let (s, receipt): (Submission, Option<String>) = q
        .select((Submission::as_select(), submissions::receipt))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("报送记录", "submission"))?;
    Ok((s, receipt.and_then(|r| serde_json::from_str(&r).ok())))
}

/// The latest submissions of `tenant` (all when `None`), newest first.
pub fn list(conn: &mut DbConnection, tenant: Option<&TenantId>, limit: i64) -> AppResult<Vec<Submission>> {
    let mut q =
        submissions::table.order((submissions::created_at.desc(), submissions::id.desc())).limit(limit).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(submissions::tenant_id.eq(t.clone()));
    }
    Ok(q.select(Submission::as_select()).load(conn)?)
}

/// Submissions left queued or running (by a stop or a crash), oldest first, with their
/// spooled bodies.
pub fn unfinished(conn: &mut DbConnection) -> AppResult<Vec<(SubmissionId, Option<String>)>> {
    Ok(submissions::table
        .filter(submissions::status.eq_any([SubmissionStatus::Queued.as_str(), SubmissionStatus::Running.as_str()]))
        .order(submissions::created_at)
        .select((submissions::id, submissions::spool))
        .load(conn)?)
}

/// Submissions of `tenant` received since `since` (for its rate limit).
pub fn count_since(conn: &mut DbConnection, tenant: &TenantId, since: chrono::NaiveDateTime) -> AppResult<i64> {
    Ok(submissions::table
        .filter(submissions::tenant_id.eq(tenant))
        .filter(submissions::created_at.ge(since))
        .count()
        .get_result(conn)?)
}
