//! The job supervisor (后台任务): it owns every piece of background work of a node — timers,
//! cron schedules, the long-running federation workers — and shows each on the jobs page and
//! at `GET /api/v1/jobs`.
//!
//! A capability contributes its jobs as [`Job`]s (what to run, when, and whether once per
//! node or in each process); the composition root hands them all to one [`Supervisor`].
//!
//! - **When.** `Every` schedules fire on multiples of their period since the Unix epoch, so two
//!   processes of one node agree on the instants; `Cron` schedules (six fields, seconds first,
//!   UTC, the grammar of `tokio-cron-scheduler`) fire on the cron's instants. A run that
//!   outlasts its period is not overlapped: the next instant is counted from its end.
//! - **Once per node.** A [`Scope::Once`] job claims each occurrence in `job_state` with an
//!   update only one process can win, and holds a lease while it runs; the other processes
//!   skip that occurrence. Every claimed run is kept in `job_runs` (the newest 200 a job).
//! - **Stopping.** [`Supervisor::shutdown`] stops the timers, lets runs in progress finish
//!   within a grace period, then abandons the rest (their leases are released, and the
//!   occurrence is recorded as abandoned: the work of each job is safe to cut short).
//! - **Tests** call [`Supervisor::run_pending`] rather than wait for a clock.

pub mod api;
pub mod pages;
mod store;

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::db::Db;
use crate::error::{AppError, AppResult};

pub use store::{JobRun, JobView};

/// What a scheduled job does; its answer is the one-line summary the jobs page shows.
pub type Work = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = AppResult<String>> + Send>> + Send + Sync>;

/// A worker: runs until the node asks it to stop ([`Stop`]), between units of its work (the
/// supervisor starts it again if it ends before that).
pub type Worker = Arc<dyn Fn(Stop) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A worker's view of the node stopping.
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Whether the node is stopping.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until the node is stopping.
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// When a job runs.
#[derive(Clone)]
pub enum Schedule {
    /// On each multiple of the period since the Unix epoch.
    Every(Duration),
    /// On the instants of a cron expression (six fields, seconds first, UTC).
    Cron(String),
    /// Always: a long-running worker (the federation's uplink and mailbox).
    Worker(Worker),
}

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Once per node, whichever process claims the occurrence first.
    Once,
    /// In every process (work on the process's own files and memory).
    EachProcess,
}

impl Scope {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Once => "once",
            Scope::EachProcess => "each_process",
        }
    }
}

/// One background job.
#[derive(Clone)]
pub struct Job {
    /// Stable name, `capability.job[.instance]`, e.g. `ingest.pull.vendor-x`.
    pub name: String,
    /// Chinese title for the jobs page.
    pub title: String,
    /// When it runs.
    pub schedule: Schedule,
    /// Where it runs.
    pub scope: Scope,
    /// How long a run may hold its lease; a run still going after that is presumed dead.
    pub max_runtime: Duration,
    work: Option<Work>,
}

impl Job {
    /// A scheduled job.
    pub fn scheduled(
        name: impl Into<String>,
        title: impl Into<String>,
        schedule: Schedule,
        scope: Scope,
        work: Work,
    ) -> Job {
        Job {
            name: name.into(),
            title: title.into(),
            schedule,
            scope,
            max_runtime: Duration::from_secs(3600),
            work: Some(work),
        }
    }

    /// A long-running worker, in each process.
    pub fn worker(name: impl Into<String>, title: impl Into<String>, worker: Worker) -> Job {
        Job {
            name: name.into(),
            title: title.into(),
            schedule: Schedule::Worker(worker),
            scope: Scope::EachProcess,
            max_runtime: Duration::ZERO,
            work: None,
        }
    }

    /// The same job with another lease length.
    pub fn with_max_runtime(mut self, max: Duration) -> Job {
        self.max_runtime = max;
        self
    }

    /// The schedule as the jobs page writes it.
    pub fn schedule_text(&self) -> String {
        match &self.schedule {
            Schedule::Every(d) => format!("每 {} 秒", d.as_secs()),
            Schedule::Cron(c) => format!("cron {c}（UTC）"),
            Schedule::Worker(_) => "常驻".to_owned(),
        }
    }

    /// The first instant of the schedule after `now` (none for a worker).
    pub fn next_after(&self, now: NaiveDateTime) -> AppResult<Option<NaiveDateTime>> {
        match &self.schedule {
            Schedule::Every(period) => {
                let period = period.as_micros().max(1_000_000) as i64;
                let at = now.and_utc().timestamp_micros();
                let next = (at.div_euclid(period) + 1) * period;
                Ok(chrono::DateTime::from_timestamp_micros(next).map(|t| t.naive_utc()))
            }
            Schedule::Cron(expr) => {
                let cron = parse_cron(&self.name, expr)?;
                let next =
                    cron.find_next_occurrence(&now.and_utc(), false).map_err(|e| bad_cron(&self.name, expr, e))?;
                Ok(Some(crate::db::truncate_micros(next.naive_utc())))
            }
            Schedule::Worker(_) => Ok(None),
        }
    }
}

fn bad_cron(name: &str, expr: &str, e: impl std::fmt::Display) -> AppError {
    AppError::invalid(
        "schedule",
        format!("后台任务 {name} 的计划“{expr}”无效：{e}"),
        format!("job {name}: bad schedule {expr:?}: {e}"),
    )
}

fn parse_cron(name: &str, expr: &str) -> AppResult<croner::Cron> {
    croner::Cron::new(expr).with_seconds_required().with_dom_and_dow().parse().map_err(|e| bad_cron(name, expr, e))
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done, with its summary.
    Succeeded(String),
    /// Failed, with the error.
    Failed(String),
    /// Another process had the occurrence (or its lease is still held).
    Skipped,
    /// The node stopped before the run finished.
    Abandoned,
}

impl Outcome {
    /// Stable name as stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Succeeded(_) => "succeeded",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Abandoned => "abandoned",
        }
    }
}

/// Where the application state keeps the supervisor: it is made after the state (its jobs
/// hold the state), so the state holds an empty cell that the composition root fills.
#[derive(Default)]
pub struct SupervisorCell(std::sync::OnceLock<Arc<Supervisor>>);

impl SupervisorCell {
    /// Puts the supervisor in (a second is ignored).
    pub fn set(&self, supervisor: Arc<Supervisor>) {
        let _ = self.0.set(supervisor);
    }

    /// The supervisor, once the node has started.
    pub fn get(&self) -> AppResult<Arc<Supervisor>> {
        self.0.get().cloned().ok_or_else(|| AppError::internal("the job supervisor has not started"))
    }
}

/// The supervisor of a node's background work.
pub struct Supervisor {
    db: Db,
    holder: String,
    jobs: Vec<Arc<Job>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<(String, JoinHandle<()>)>>,
    next: Mutex<HashMap<String, NaiveDateTime>>,
}

impl Supervisor {
    /// A supervisor of `jobs`: checks every schedule (a bad one is refused, naming the job)
    /// and that no two jobs share a name, and records each in `job_state`.
    pub fn new(db: Db, jobs: Vec<Job>) -> AppResult<Arc<Supervisor>> {
        let now = crate::db::now();
        let mut names = std::collections::HashSet::new();
        for job in &jobs {
            if !names.insert(job.name.clone()) {
                return Err(AppError::internal(format!("two jobs are named {}", job.name)));
            }
            job.next_after(now)?;
        }
        let all: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
        db.transaction_sync(|conn| store::register(conn, &all))?;
        let holder = format!("{}:{}", hostname(), std::process::id());
        let (stop, _) = watch::channel(false);
        Ok(Arc::new(Supervisor {
            db,
            holder,
            jobs: jobs.into_iter().map(Arc::new).collect(),
            stop,
            tasks: Mutex::new(Vec::new()),
            next: Mutex::new(HashMap::new()),
        }))
    }

    /// This process's name in `job_state` and `job_runs` (host and process id).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Tells every job and every waiting request (a child's long poll) that the node is
    /// stopping; [`Supervisor::shutdown`] then waits for the jobs.
    pub fn request_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// What a long wait watches to end early when the node stops.
    pub fn stopping(&self) -> Stop {
        Stop(self.stop.subscribe())
    }

    /// The jobs, in the order they were given.
    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().map(|j| j.as_ref())
    }

    /// Starts every job's timer or worker.
    pub fn start(self: &Arc<Self>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        for job in &self.jobs {
            let me = self.clone();
            let job = job.clone();
            let name = job.name.clone();
            let handle = match &job.schedule {
                Schedule::Worker(worker) => tokio::spawn(me.keep_working(job.name.clone(), worker.clone())),
                _ => tokio::spawn(async move { me.keep_scheduling(job).await }),
            };
            tasks.push((name, handle));
        }
    }

    async fn keep_scheduling(self: Arc<Self>, job: Arc<Job>) {
        let mut stop = self.stop.subscribe();
        loop {
            let now = crate::db::now();
            let fire = match job.next_after(now) {
                Ok(Some(fire)) => fire,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(job = %job.name, error = %e.message(), "job not scheduled");
                    return;
                }
            };
            self.next.lock().unwrap_or_else(|e| e.into_inner()).insert(job.name.clone(), fire);
            let wait = (fire - now).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            if *stop.borrow() {
                return;
            }
            self.execute(&job, fire).await;
        }
    }

    async fn keep_working(self: Arc<Self>, name: String, worker: Worker) {
        let mut stop = self.stop.subscribe();
        loop {
            let started = crate::db::now();
            let _ = self
                .db
                .run({
                    let name = name.clone();
                    move |conn| store::worker_started(conn, &name, started)
                })
                .await;
            // The worker stops itself between units of work when asked; the shutdown waits for
            // it up to its grace.
            let ended = AssertUnwindSafe(worker(Stop(self.stop.subscribe())))
                .catch_unwind()
                .await
                .map_err(|p| crate::audit::panic_guard::panic_message(p.as_ref()));
            if *stop.borrow() {
                let name = name.clone();
                let _ = self.db.run(move |conn| store::worker_stopped(conn, &name)).await;
                return;
            }
            if let Err(panic) = ended {
                tracing::error!(job = %name, panic = %panic, "worker panicked; starting it again");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    }

    /// Runs one occurrence of `job` (claimed first when it is once per node).
    async fn execute(&self, job: &Job, fire: NaiveDateTime) -> Outcome {
        let Some(work) = job.work.clone() else { return Outcome::Skipped };
        let claimed = {
            let (name, holder, scope, lease) = (job.name.clone(), self.holder.clone(), job.scope, job.max_runtime);
            self.db.transaction(move |conn| store::claim(conn, &name, &holder, scope, fire, lease)).await
        };
        match claimed {
            Ok(true) => {}
            Ok(false) => return Outcome::Skipped,
            Err(e) => {
                tracing::warn!(job = %job.name, error = %e.message(), "job not claimed");
                return Outcome::Failed(e.message().to_owned());
            }
        }
        let outcome = match AssertUnwindSafe(work()).catch_unwind().await {
            Ok(Ok(summary)) => Outcome::Succeeded(summary),
            Ok(Err(e)) => Outcome::Failed(e.message().to_owned()),
            Err(panic) => {
                Outcome::Failed(format!("panic: {}", crate::audit::panic_guard::panic_message(panic.as_ref())))
            }
        };
        match &outcome {
            Outcome::Failed(e) => tracing::warn!(job = %job.name, error = %e, "job failed"),
            _ => tracing::debug!(job = %job.name, "job done"),
        }
        self.finish(job, fire, &outcome).await;
        outcome
    }

    async fn finish(&self, job: &Job, fire: NaiveDateTime, outcome: &Outcome) {
        let (name, holder, scope, outcome) = (job.name.clone(), self.holder.clone(), job.scope, outcome.clone());
        if let Err(e) =
            self.db.transaction(move |conn| store::finish(conn, &name, &holder, scope, fire, &outcome)).await
        {
            tracing::error!(job = %job.name, error = %e.message(), "job outcome not recorded");
        }
    }

    /// Runs every scheduled job now, as if its time had come, and waits for them; a test's
    /// way to the work of the timers without waiting for a clock. Workers are left alone.
    pub async fn run_pending(&self) -> Vec<(String, Outcome)> {
        let mut done = Vec::new();
        for job in self.jobs.iter().filter(|j| j.work.is_some()) {
            done.push((job.name.clone(), self.execute(job, crate::db::now()).await));
        }
        done
    }

    /// Runs the job `name` now.
    pub async fn run_now(&self, name: &str) -> AppResult<Outcome> {
        let job = self.jobs.iter().find(|j| j.name == name).ok_or_else(|| AppError::not_found("后台任务", "job"))?;
        Ok(self.execute(job, crate::db::now()).await)
    }

    /// Stops every timer and worker: runs in progress get `grace` to finish, then are
    /// abandoned (recorded so, their leases released). Returns how many were abandoned.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        let _ = self.stop.send(true);
        let tasks: Vec<(String, JoinHandle<()>)> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let deadline = tokio::time::Instant::now() + grace;
        let mut abandoned = 0;
        for (name, mut handle) in tasks {
            if tokio::time::timeout_at(deadline, &mut handle).await.is_err() {
                handle.abort();
                abandoned += 1;
                let holder = self.holder.clone();
                if let Err(e) = self.db.run(move |conn| store::abandon(conn, &name, &holder)).await {
                    tracing::error!(error = %e.message(), "abandoned job not recorded");
                }
            }
        }
        tracing::info!(abandoned, "background jobs stopped");
        abandoned
    }

    /// Each job with its schedule, next run and the state recorded in the database.
    pub async fn views(&self) -> AppResult<Vec<JobView>> {
        let next = self.next.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let now = crate::db::now();
        let jobs: Vec<(String, String, String, Scope, Option<NaiveDateTime>, bool)> = self
            .jobs
            .iter()
            .map(|j| {
                let upcoming = next.get(&j.name).copied().or_else(|| j.next_after(now).ok().flatten());
                (
                    j.name.clone(),
                    j.title.clone(),
                    j.schedule_text(),
                    j.scope,
                    upcoming,
                    matches!(j.schedule, Schedule::Worker(_)),
                )
            })
            .collect();
        self.db.run(move |conn| store::views(conn, &jobs)).await
    }

    /// The newest runs of `name`, at most `limit` (≤ 200).
    pub async fn runs(&self, name: &str, limit: i64) -> AppResult<Vec<JobRun>> {
        if !self.jobs.iter().any(|j| j.name == name) {
            return Err(AppError::not_found("后台任务", "job"));
        }
        let name = name.to_owned();
        self.db.run(move |conn| store::runs(conn, &name, limit.clamp(1, store::KEPT_RUNS))).await
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(schedule: Schedule) -> Job {
        Job::scheduled("t", "测试", schedule, Scope::Once, Arc::new(|| Box::pin(async { Ok(String::new()) })))
    }

    #[test]
    fn every_fires_on_multiples_of_its_period() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).and_then(|d| d.and_hms_opt(10, 0, 7)).expect("time");
        let next = job(Schedule::Every(Duration::from_secs(10))).next_after(now).expect("ok").expect("next");
        assert_eq!(next.to_string(), "2026-12-02 10:00:10");
        let cron = job(Schedule::Cron("0 */5 * * * *".into())).next_after(now).expect("ok").expect("next");
        assert_eq!(cron.to_string(), "2026-12-02 10:05:00");
        assert!(job(Schedule::Cron("every minute".into())).next_after(now).is_err());
    }
}
