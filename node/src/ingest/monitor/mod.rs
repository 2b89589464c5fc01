//! Transmission monitoring (数据传输监控): for each sender, its submissions over a window —
//! batches, records, accepted, rejected, duplicates, bytes, time taken, when it was last seen
//! and how its last submission ended — read from the submission rows; the receiver's load
//! ([`load`]); alerts for silent or failing senders ([`alerts`]); and the console page
//! ([`pages`]).

pub mod alerts;
pub mod chart;
pub mod export;
pub mod load;
pub mod pages;

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::submissions;
use crate::db::DbConnection;
use crate::db::SubmissionStatus;
use crate::error::AppResult;

/// One sender's traffic over the window.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SenderTraffic {
    /// Sender (tenant code, or child node).
    pub sender: String,
    /// Tenant.
    pub tenant_id: String,
    /// Submissions.
    pub batches: i64,
    /// Records read.
    pub records: i64,
    /// Records stored.
    pub accepted: i64,
    /// Records rejected.
    pub rejected: i64,
    /// Duplicates.
    pub duplicates: i64,
    /// Bytes received.
    pub bytes: i64,
    /// Submissions refused whole or failed.
    pub failed: i64,
    /// Mean time from start to finish, milliseconds.
    pub mean_ms: i64,
    /// The latest submission (UTC).
    pub last_seen: Option<NaiveDateTime>,
    /// How the latest submission ended.
    pub last_status: String,
    /// How often the sender is expected to send, minutes (its tenant's policy).
    pub expected_every_minutes: Option<i32>,
    /// Minutes since the latest submission.
    pub lag_minutes: Option<i64>,
    /// Whether it has been silent longer than expected.
    pub silent: bool,
}

type Row =
    (String, String, String, i64, i64, i64, i64, i64, NaiveDateTime, Option<NaiveDateTime>, Option<NaiveDateTime>);

/// Every sender's traffic since `since`, of `tenant` (all when `None`), busiest first.
pub fn traffic(conn: &mut DbConnection, tenant: Option<&str>, since: NaiveDateTime) -> AppResult<Vec<SenderTraffic>> {
    use submissions::dsl as s;
    let mut q = submissions::table.filter(s::created_at.ge(since)).filter(s::dry_run.eq(false)).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(s::tenant_id.eq(t.to_owned()));
    }
    let rows: Vec<Row> = q
        .order(s::created_at)
        .select((
            s::sender,
            s::tenant_id,
            s::status,
            s::received,
            s::accepted,
            s::rejected,
            s::duplicates,
            s::bytes,
            s::created_at,
            s::started_at,
            s::finished_at,
        ))
        .load(conn)?;
    let mut by_sender: BTreeMap<(String, String), (SenderTraffic, i64, i64)> = BTreeMap::new();
    for (sender, tenant_id, status, received, accepted, rejected, duplicates, bytes, created, started, finished) in rows
    {
        let entry = by_sender
            .entry((sender.clone(), tenant_id.clone()))
            .or_insert_with(|| (SenderTraffic { sender, tenant_id, ..SenderTraffic::default() }, 0, 0));
        let t = &mut entry.0;
        t.batches += 1;
        t.records += received;
        t.accepted += accepted;
        t.rejected += rejected;
        t.duplicates += duplicates;
        t.bytes += bytes;
        if SubmissionStatus::is_failure_text(&status) {
            t.failed += 1;
        }
        if let (Some(a), Some(b)) = (started, finished) {
            entry.1 += (b - a).num_milliseconds();
            entry.2 += 1;
        }
        let t = &mut entry.0;
        t.last_seen = Some(created);
        t.last_status = status;
    }
    let schedules = crate::ingest::policy::schedules(conn)?;
    let now = crate::db::now();
    let mut out: Vec<SenderTraffic> = by_sender
        .into_values()
        .map(|(mut t, total_ms, timed)| {
            t.mean_ms = if timed > 0 { total_ms / timed } else { 0 };
            t.expected_every_minutes = schedules.get(&t.tenant_id).copied();
            t.lag_minutes = t.last_seen.map(|seen| (now - seen).num_minutes());
            t.silent =
                matches!((t.expected_every_minutes, t.lag_minutes), (Some(every), Some(lag)) if lag > i64::from(every));
            t
        })
        .collect();
    out.sort_by(|a, b| b.records.cmp(&a.records).then(a.sender.cmp(&b.sender)));
    Ok(out)
}
