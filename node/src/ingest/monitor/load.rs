//! The receiver's load (接收负载): what the node is taking in now and hour by hour over the
//! last day — submissions waiting and running, records and bytes received, how long
//! ingestion kept the receiver busy — read from the submission rows.

use chrono::{NaiveDateTime, TimeDelta, Timelike};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::submissions;
use crate::db::DbConnection;
use crate::db::SubmissionStatus;
use crate::error::AppResult;

/// Hours the load covers.
pub const HOURS: usize = 24;

/// One hour of intake.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Hour {
    /// The hour's start (UTC).
    pub start: NaiveDateTime,
    /// Submissions received.
    pub submissions: i64,
    /// Records stored.
    pub accepted: i64,
    /// Records rejected.
    pub rejected: i64,
    /// Submissions refused whole or failed.
    pub failed: i64,
    /// Bytes received.
    pub bytes: i64,
    /// Time spent ingesting, milliseconds.
    pub busy_ms: i64,
}

/// The receiver's load.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReceiverLoad {
    /// Submissions waiting for their job.
    pub queued: i64,
    /// Submissions being ingested.
    pub running: i64,
    /// Records stored in the last hour.
    pub records_last_hour: i64,
    /// Records stored per minute over the last five minutes.
    pub records_per_minute: f64,
    /// Share of the last hour the receiver spent ingesting, percent (can pass 100 with
    /// submissions ingested side by side).
    pub busy_percent: f64,
    /// The last 24 hours, oldest first.
    pub hourly: Vec<Hour>,
}

type Row = (NaiveDateTime, String, i64, i64, i64, Option<NaiveDateTime>, Option<NaiveDateTime>);

/// The load of `tenant`'s submissions (all when `None`) as of now.
pub fn load(conn: &mut DbConnection, tenant: Option<&str>) -> AppResult<ReceiverLoad> {
    use submissions::dsl as s;
    let now = crate::db::now();
    let first = (now - TimeDelta::hours(HOURS as i64 - 1)).with_minute(0).and_then(|t| t.with_second(0)).unwrap_or(now);
    let first = first.with_nanosecond(0).unwrap_or(first);
    let mut q = submissions::table.filter(s::dry_run.eq(false)).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(s::tenant_id.eq(t.to_owned()));
    }
    let open: Vec<String> = q
        .filter(s::status.eq_any([SubmissionStatus::Queued.as_str(), SubmissionStatus::Running.as_str()]))
        .select(s::status)
        .load(conn)?;
    let mut load = ReceiverLoad {
        queued: open.iter().filter(|st| *st == SubmissionStatus::Queued.as_str()).count() as i64,
        running: open.iter().filter(|st| *st == SubmissionStatus::Running.as_str()).count() as i64,
        hourly: (0..HOURS).map(|h| Hour { start: first + TimeDelta::hours(h as i64), ..Hour::default() }).collect(),
        ..ReceiverLoad::default()
    };
    let mut q = submissions::table.filter(s::dry_run.eq(false)).filter(s::created_at.ge(first)).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(s::tenant_id.eq(t.to_owned()));
    }
    let rows: Vec<Row> = q
        .select((s::created_at, s::status, s::accepted, s::rejected, s::bytes, s::started_at, s::finished_at))
        .load(conn)?;
    let (hour_ago, five_ago) = (now - TimeDelta::hours(1), now - TimeDelta::minutes(5));
    let (mut last_five, mut busy_last_hour) = (0i64, 0i64);
    for (created, status, accepted, rejected, bytes, started, finished) in rows {
        let busy = match (started, finished) {
            (Some(a), Some(b)) => (b - a).num_milliseconds().max(0),
            _ => 0,
        };
        let k = ((created - first).num_hours().max(0) as usize).min(HOURS - 1);
        let h = &mut load.hourly[k];
        h.submissions += 1;
        h.accepted += accepted;
        h.rejected += rejected;
        h.bytes += bytes;
        h.busy_ms += busy;
        if SubmissionStatus::is_failure_text(&status) {
            h.failed += 1;
        }
        if created >= hour_ago {
            load.records_last_hour += accepted;
            busy_last_hour += busy;
        }
        if created >= five_ago {
            last_five += accepted;
        }
    }
    load.records_per_minute = last_five as f64 / 5.0;
    load.busy_percent = busy_last_hour as f64 * 100.0 / 3_600_000.0;
    Ok(load)
}
