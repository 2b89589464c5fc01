//! What the supervisor keeps in the database: `job_state` (one row a job: the occurrence
//! last claimed, the lease, the last outcome, counts) and `job_runs` (the newest runs of each
//! job). The claim is one conditional update, so of two processes only one wins an
//! occurrence, on SQLite and PostgreSQL alike.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::{Outcome, Scope};
use crate::db::schema::{job_runs as jr, job_state as js};
use crate::db::{self, DbConnection};
use crate::error::AppResult;

/// Runs kept a job.
pub const KEPT_RUNS: i64 = 200;

/// Longest summary or error kept.
const DETAIL_CHARS: usize = 500;

/// A job as the jobs page and `GET /api/v1/jobs` show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// Stable name.
    pub name: String,
    /// Chinese title.
    pub title: String,
    /// The schedule, as written.
    pub schedule: String,
    /// `once` (one process of the node runs each occurrence) or `each_process`.
    pub scope: &'static str,
    /// Whether it is a long-running worker.
    pub worker: bool,
    /// The next run (UTC), if it is scheduled.
    pub next_run_at: Option<NaiveDateTime>,
    /// Whether a run holds the lease now.
    pub running: bool,
    /// The process that ran it last.
    pub last_holder: Option<String>,
    /// When the last run started (UTC).
    pub last_started_at: Option<NaiveDateTime>,
    /// When it ended (UTC).
    pub last_finished_at: Option<NaiveDateTime>,
    /// `succeeded`, `failed` or `abandoned`.
    pub last_outcome: Option<String>,
    /// The last run's summary or error.
    pub last_detail: Option<String>,
    /// The last error, when the last run failed.
    pub last_error: Option<String>,
    /// Runs so far.
    pub runs: i64,
    /// Of which failed.
    pub failures: i64,
}

/// One run.
#[derive(Debug, Clone, Serialize, Queryable, utoipa::ToSchema)]
pub struct JobRun {
    /// The occurrence (UTC).
    pub fire_at: NaiveDateTime,
    /// The process that ran it.
    pub holder: String,
    /// Started (UTC).
    pub started_at: NaiveDateTime,
    /// Ended (UTC).
    pub finished_at: Option<NaiveDateTime>,
    /// How it ended.
    pub outcome: Option<String>,
    /// Its summary or error.
    pub detail: Option<String>,
}

/// Makes the row of each job that has none.
pub fn register(conn: &mut DbConnection, names: &[String]) -> AppResult<()> {
    let known: Vec<String> = js::table.select(js::name).load(conn)?;
    for name in names.iter().filter(|n| !known.contains(n)) {
        diesel::insert_into(js::table)
            .values((js::name.eq(name), js::runs.eq(0i64), js::failures.eq(0i64)))
            .execute(conn)?;
    }
    Ok(())
}

/// Claims the occurrence `fire` of a job: for a once-per-node job, only if no process claimed
/// it (or a later one) and no run holds the lease; for an each-process job, always.
pub fn claim(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    scope: Scope,
    fire: NaiveDateTime,
    lease: std::time::Duration,
) -> AppResult<bool> {
    let now = db::now();
    if scope == Scope::EachProcess {
        diesel::update(js::table.find(name)).set(js::last_started_at.eq(Some(now))).execute(conn)?;
        return Ok(true);
    }
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
    let won = diesel::update(
        js::table
            .find(name)
            .filter(js::fire_at.is_null().or(js::fire_at.lt(fire)))
            .filter(js::lease_until.is_null().or(js::lease_until.lt(now))),
    )
    .set((
        js::fire_at.eq(Some(fire)),
        js::holder.eq(Some(holder)),
        js::lease_until.eq(Some(until)),
        js::last_started_at.eq(Some(now)),
    ))
    .execute(conn)?;
    if won == 1 {
        diesel::insert_into(jr::table)
            .values((jr::name.eq(name), jr::fire_at.eq(fire), jr::holder.eq(holder), jr::started_at.eq(now)))
            .execute(conn)?;
    }
    Ok(won == 1)
}

fn detail_of(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Succeeded(s) | Outcome::Failed(s) => Some(s.chars().take(DETAIL_CHARS).collect()),
        Outcome::Skipped | Outcome::Abandoned => None,
    }
}

/// Records how a run ended and releases its lease; keeps the newest [`KEPT_RUNS`] runs.
pub fn finish(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    scope: Scope,
    fire: NaiveDateTime,
    outcome: &Outcome,
) -> AppResult<()> {
    let now = db::now();
    let failed = i64::from(matches!(outcome, Outcome::Failed(_) | Outcome::Abandoned));
    let detail = detail_of(outcome);
    let row = js::table.find(name);
    let fields = (
        js::last_finished_at.eq(Some(now)),
        js::last_outcome.eq(Some(outcome.as_str())),
        js::last_detail.eq(detail.clone()),
        js::runs.eq(js::runs + 1),
        js::failures.eq(js::failures + failed),
    );
    match scope {
        Scope::Once => {
            diesel::update(row.filter(js::holder.eq(holder)))
                .set((fields, js::lease_until.eq(None::<NaiveDateTime>)))
                .execute(conn)?;
            diesel::update(
                jr::table.filter(jr::name.eq(name)).filter(jr::fire_at.eq(fire)).filter(jr::holder.eq(holder)),
            )
            .set((jr::finished_at.eq(Some(now)), jr::outcome.eq(Some(outcome.as_str())), jr::detail.eq(detail)))
            .execute(conn)?;
            prune(conn, name)
        }
        Scope::EachProcess => {
            diesel::update(row).set((fields, js::holder.eq(Some(holder)))).execute(conn)?;
            Ok(())
        }
    }
}

/// Marks a run this process holds as abandoned and releases its lease.
pub fn abandon(conn: &mut DbConnection, name: &str, holder: &str) -> AppResult<()> {
    let held: Option<(Option<NaiveDateTime>, Option<NaiveDateTime>)> = js::table
        .find(name)
        .filter(js::holder.eq(holder))
        .filter(js::lease_until.is_not_null())
        .select((js::fire_at, js::lease_until))
        .first(conn)
        .optional()?;
    let Some((Some(fire), _)) = held else { return Ok(()) };
    finish(conn, name, holder, Scope::Once, fire, &Outcome::Abandoned)
}

/// Records that a worker (re)started.
pub fn worker_started(conn: &mut DbConnection, name: &str, at: NaiveDateTime) -> AppResult<()> {
    diesel::update(js::table.find(name))
        .set((js::last_started_at.eq(Some(at)), js::runs.eq(js::runs + 1), js::last_outcome.eq(Some("running"))))
        .execute(conn)?;
    Ok(())
}

/// Records that a worker stopped with the node.
pub fn worker_stopped(conn: &mut DbConnection, name: &str) -> AppResult<()> {
    diesel::update(js::table.find(name))
        .set((js::last_finished_at.eq(Some(db::now())), js::last_outcome.eq(Some("stopped"))))
        .execute(conn)?;
    Ok(())
}

fn prune(conn: &mut DbConnection, name: &str) -> AppResult<()> {
    let oldest_kept: Option<i64> = jr::table
        .filter(jr::name.eq(name))
        .order(jr::id.desc())
        .select(jr::id)
        .offset(KEPT_RUNS - 1)
        .first(conn)
        .optional()?;
    if let Some(id) = oldest_kept {
        diesel::delete(jr::table.filter(jr::name.eq(name)).filter(jr::id.lt(id))).execute(conn)?;
    }
    Ok(())
}

type Described = (String, String, String, Scope, Option<NaiveDateTime>, bool);

/// The views of `jobs` (name, title, schedule, scope, next run, worker).
pub fn views(conn: &mut DbConnection, jobs: &[Described]) -> AppResult<Vec<JobView>> {
    type Row = (
        String,
        Option<String>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<String>,
        Option<String>,
        i64,
        i64,
    );
    let rows: Vec<Row> = js::table
        .select((
            js::name,
            js::holder,
            js::lease_until,
            js::last_started_at,
            js::last_finished_at,
            js::last_outcome,
            js::last_detail,
            js::runs,
            js::failures,
        ))
        .load(conn)?;
    let now = db::now();
    Ok(jobs
        .iter()
        .map(|(name, title, schedule, scope, next, worker)| {
            let row = rows.iter().find(|r| &r.0 == name);
            let outcome = row.and_then(|r| r.5.clone());
            let detail = row.and_then(|r| r.6.clone());
            JobView {
                name: name.clone(),
                title: title.clone(),
                schedule: schedule.clone(),
                scope: scope.as_str(),
                worker: *worker,
                next_run_at: *next,
                running: row.and_then(|r| r.2).is_some_and(|until| until > now)
                    || (*worker && outcome.as_deref() == Some("running")),
                last_holder: row.and_then(|r| r.1.clone()),
                last_started_at: row.and_then(|r| r.3),
                last_finished_at: row.and_then(|r| r.4),
                last_error: if outcome.as_deref() == Some("failed") { detail.clone() } else { None },
                last_outcome: outcome,
                last_detail: detail,
                runs: row.map_or(0, |r| r.7),
                failures: row.map_or(0, |r| r.8),
            }
        })
        .collect())
}

/// The newest runs of a job.
pub fn runs(conn: &mut DbConnection, name: &str, limit: i64) -> AppResult<Vec<JobRun>> {
    Ok(jr::table
        .filter(jr::name.eq(name))
        .order(jr::id.desc())
        .limit(limit)
        .select((jr::fire_at, jr::holder, jr::started_at, jr::finished_at, jr::outcome, jr::detail))
        .load(conn)?)
}
