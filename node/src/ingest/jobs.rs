//! Asynchronous imports. A large body is written to the spool directory and synced, its
//! submission row committed as `queued`, and only then acknowledged (202 with a status URL),
//! so an acknowledged submission survives a crash: at start the node takes up every queued
//! or running job again (a job's records go in one transaction, so a rerun starts clean).
//! Jobs run one at a time; their progress (records read) is kept in memory for the status
//! endpoint.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tracenode_adapters::adapter::Source;
use tracenode_adapters::exchange::Limits;
use tracenode_adapters::vendor::Mapping;

use super::policy::ReferencePolicy;
use super::receipt::Receipt;
use super::submissions::{self, Channel, Meta, SubmissionStatus};
use super::{Job, Mode};
use crate::audit::AuditContext;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::region::RegionCode;

/// The running and queued jobs of this process.
pub struct Jobs {
    progress: Mutex<HashMap<String, Arc<AtomicU64>>>,
    one_at_a_time: tokio::sync::Semaphore,
    vendors: Vec<Arc<Mapping>>,
    upward: Option<Arc<crate::registry::references::Upward>>,
}

impl Jobs {
    /// The vendor mappings (`ingest.vendors_dir`) the node loaded at start.
    pub fn vendors(&self) -> &[Arc<Mapping>] {
        &self.vendors
    }

    /// No jobs yet; jobs in a vendor's format read it through `vendors`.
    pub fn new(vendors: Vec<Arc<Mapping>>) -> Jobs {
        Jobs { progress: Mutex::default(), one_at_a_time: tokio::sync::Semaphore::new(1), vendors, upward: None }
    }

    /// Jobs look counterparts this node does not know up the tree through `upward`.
    pub fn asking(mut self, upward: Option<Arc<crate::registry::references::Upward>>) -> Jobs {
        self.upward = upward;
        self
    }

    /// Records read so far by job `id`, while it runs in this process.
    pub fn progress_of(&self, id: &str) -> Option<u64> {
        self.progress.lock().ok()?.get(id).map(|p| p.load(Ordering::Relaxed))
    }
}

/// What a job file keeps beside the spooled body, to run the job after a restart.
#[derive(Debug, Serialize, Deserialize)]
struct JobFile {
    id: String,
    tenant_id: String,
    sender: String,
    format: String,
    mode: Mode,
    dry_run: bool,
    bytes: i64,
    within: String,
    reporter: String,
    policy: ReferencePolicy,
    envelope_sender: Option<String>,
    /// Files written before the act-time window was configurable hold none: the default.
    #[serde(default = "super::validate::default_earliest_act_year")]
    earliest_act_year: i32,
    /// The tenant's region (files written before it was kept hold none).
    #[serde(default)]
    tenant_region: Option<String>,
    ctx: AuditContext,
}

impl JobFile {
    fn of(job: &Job, ctx: &AuditContext) -> JobFile {
        JobFile {
            id: job.meta.id.to_string(),
            tenant_id: job.meta.tenant_id.to_string(),
            sender: job.meta.sender.clone(),
            format: job.source.name(),
            mode: job.meta.mode,
            dry_run: job.meta.dry_run,
            bytes: job.meta.bytes,
            within: job.within.as_str().into(),
            reporter: job.reporter.clone(),
            policy: job.policy,
            envelope_sender: job.sender.clone(),
            earliest_act_year: job.earliest_act_year,
            tenant_region: job.tenant_region.as_ref().map(|r| r.as_str().to_owned()),
            ctx: ctx.clone(),
        }
    }

    fn job(self, vendors: &[Arc<Mapping>]) -> AppResult<(Job, AuditContext)> {
        let source = Source::resolve(&self.format, vendors)
            .ok_or_else(|| AppError::internal(format!("job file: unknown format {}", self.format)))?;
        let within = RegionCode::parse(&self.within).map_err(AppError::internal)?;
        let meta = Meta {
            id: crate::ids::SubmissionId::parse(&self.id)?,
            tenant_id: crate::ids::TenantId::parse(&self.tenant_id)?,
            sender: self.sender,
            channel: Channel::Import,
            format: self.format,
            mode: self.mode,
            dry_run: self.dry_run,
            bytes: self.bytes,
            actor: self.ctx.actor.clone(),
        };
        let job = Job {
            meta,
            source,
            within,
            reporter: self.reporter,
            policy: self.policy,
            sender: self.envelope_sender,
            limits: Limits::default(),
            earliest_act_year: self.earliest_act_year,
            tenant_region: self.tenant_region.as_deref().and_then(|r| RegionCode::parse(r).ok()),
            upward: None,
        };
        Ok((job, self.ctx))
    }
}

/// The path of job `id`'s body in `dir`.
pub fn spool_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.body"))
}

fn job_file_path(body: &Path) -> PathBuf {
    body.with_extension("job.json")
}

/// Writes the job file and syncs the body and the directory; then the submission row is
/// committed as `queued`. After this returns the job may be acknowledged.
pub fn enqueue(db: &Db, job: &Job, ctx: &AuditContext, body: &Path) -> AppResult<()> {
    let file = JobFile::of(job, ctx);
    let text = serde_json::to_vec(&file).map_err(AppError::internal)?;
    let path = job_file_path(body);
    let mut f = crate::files::private_file(&path).map_err(AppError::internal)?;
    f.write_all(&text).map_err(AppError::internal)?;
    f.sync_all().map_err(AppError::internal)?;
    std::fs::File::open(body).and_then(|b| b.sync_all()).map_err(AppError::internal)?;
    if let Some(dir) = body.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(AppError::internal)?;
    }
    let spool = body.to_string_lossy().into_owned();
    db.transaction_sync(|conn| submissions::create(conn, &job.meta, SubmissionStatus::Queued, Some(&spool)))
}

/// Runs the job whose body is at `body`, waiting its turn.
pub async fn launch(jobs: Arc<Jobs>, db: Db, body: PathBuf) {
    let Ok(_turn) = jobs.one_at_a_time.acquire().await else { return };
    let id = body.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let counter = Arc::new(AtomicU64::new(0));
    if let Ok(mut p) = jobs.progress.lock() {
        p.insert(id.clone(), counter.clone());
    }
    let (vendors, upward) = (jobs.vendors.clone(), jobs.upward.clone());
    let outcome = tokio::task::spawn_blocking(move || run_spooled(&db, &vendors, upward, &body, &counter)).await;
    if let Ok(mut p) = jobs.progress.lock() {
        p.remove(&id);
    }
    match outcome {
        Ok(Ok(r)) => tracing::info!(submission = %id, status = %r.status, accepted = r.accepted, "import job done"),
        Ok(Err(e)) => tracing::error!(submission = %id, error = %e, "import job failed"),
        Err(e) => tracing::error!(submission = %id, error = %e, "import job panicked"),
    }
}

fn run_spooled(
    db: &Db,
    vendors: &[Arc<Mapping>],
    upward: Option<Arc<crate::registry::references::Upward>>,
    body: &Path,
    counter: &AtomicU64,
) -> AppResult<Receipt> {
    let text = std::fs::read(job_file_path(body)).map_err(AppError::internal)?;
    let file: JobFile = serde_json::from_slice(&text).map_err(AppError::internal)?;
    let (job, ctx) = file.job(vendors)?;
    let job = job.asking(upward);
    db.transaction_sync(|conn| submissions::start(conn, &job.meta.id))?;
    let input = std::fs::File::open(body).map_err(AppError::internal)?;
    let progress = |n: u64| counter.store(n, Ordering::Relaxed);
    match super::run(db, &ctx, &job, Box::new(std::io::BufReader::with_capacity(256 * 1024, input)), &progress) {
        Ok(receipt) => {
            let _ = std::fs::remove_file(job_file_path(body));
            let _ = std::fs::remove_file(body);
            Ok(receipt)
        }
        Err(e) => {
            let receipt = Receipt {
                refusal: Some(super::receipt::Refusal {
                    code: e.code().into(),
                    message_zh: e.detail_zh.clone(),
                    message: e.detail_en.clone(),
                }),
                ..Receipt::of(job.meta.id.clone(), SubmissionStatus::Failed)
            };
            db.transaction_sync(|conn| submissions::finish(conn, &job.meta, &receipt))?;
            Err(e)
        }
    }
}

/// How long a spool file must lie untouched before it counts as left over.
pub const ORPHAN_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// Takes up the jobs a stop or a crash left queued or running (a job whose body is gone is
/// marked failed) and removes left-over spool files.
pub fn resume(db: &Db, jobs: &Arc<Jobs>, spool_dir: &Path) -> AppResult<usize> {
    let open = submissions::unfinished(&mut *db.conn()?)?;
    let mut n = 0;
    let mut kept = std::collections::HashSet::new();
    for (id, spool) in open {
        match spool.map(PathBuf::from).filter(|p| p.is_file() && job_file_path(p).is_file()) {
            Some(body) => {
                kept.insert(job_file_path(&body));
                kept.insert(body.clone());
                tokio::spawn(launch(jobs.clone(), db.clone(), body));
                n += 1;
            }
            None => {
                tracing::error!(submission = %id, "job body missing; marked failed");
                db.transaction_sync(|conn| submissions::mark_failed(conn, &id))?;
            }
        }
    }
    remove_orphans(spool_dir, &kept);
    Ok(n)
}

/// Removes what an upload cut short by a crash left in the spool: every file that belongs to
/// no job taken up again (nothing was acknowledged for it) and has not been written to for
/// [`ORPHAN_AFTER`] (another process sharing the spool may be receiving one right now).
fn remove_orphans(spool_dir: &Path, kept: &std::collections::HashSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(spool_dir) else { return };
    let stale = |p: &Path| {
        std::fs::metadata(p).and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > ORPHAN_AFTER))
    };
    for path in entries.flatten().map(|e| e.path()).filter(|p| p.is_file() && !kept.contains(p) && stale(p)) {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::warn!(file = %path.display(), "left-over spool file removed"),
            Err(e) => tracing::error!(file = %path.display(), error = %e, "left-over spool file not removed"),
        }
    }
}
