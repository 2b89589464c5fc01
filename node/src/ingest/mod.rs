//! Ingestion (数据接入): a byte stream in any adapter's format becomes stored trace records
//! and a receipt. docs/architecture.md, "Adapters and ingestion".
//!
//! The pipeline runs on two cores: one thread decodes and validates the next step of records
//! (no database writes), while this one stores the step before — idempotently, with
//! corrections, anomalies and the daily aggregates — inside one transaction per submission.
//! A broken stream, a dry run or an atomic submission with a rejection rolls the whole
//! transaction back, so nothing of it is stored; the submission row and its receipt are then
//! written on their own.

pub mod activity;
pub mod api;
pub mod jobs;
pub mod monitor;
pub mod pages;
mod parties;
pub mod policy;
pub mod pull;
pub mod receipt;
pub mod submissions;
pub mod units;
pub mod validate;

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use serde::{Deserialize, Serialize};
use tracenode_adapters::adapter::{DecodeError, Source};
use tracenode_adapters::exchange::{Header, Limits};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::{self, Db, DbConnection, Undo};
use crate::error::{AppError, AppResult};
use crate::quality::anomalies::{self, Found};
use crate::quality::rules::history::History;
use crate::quality::rules::RuleSet;
use crate::region::RegionCode;
use crate::trace::daily::DailyChanges;
use crate::trace::row::TraceRow;
use crate::trace::{status, store};
use activity::{Acting, ActivityChanges};
use policy::ReferencePolicy;
use receipt::{Receipt, Refusal, Rejection};
use submissions::{Meta, SubmissionStatus};
use validate::{Checked, Validator};

/// The vendor mappings of the node (`ingest.vendors_dir`); a bad mapping stops the start with
/// its file and reason.
pub fn vendors(config: &crate::config::Config) -> AppResult<Vec<std::sync::Arc<tracenode_adapters::vendor::Mapping>>> {
    let dir = config.resolve(&config.ingest.vendors_dir);
    let loaded = tracenode_adapters::vendor::Mapping::load_dir(&dir)
        .map_err(|e| AppError::invalid("ingest.vendors_dir", e.zh.clone(), e.to_string()))?;
    Ok(loaded.into_iter().map(std::sync::Arc::new).collect())
}

/// Records validated per step of the pipeline.
const STEP: usize = 1_024;

/// How a submission treats rejected records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// All or nothing.
    Atomic,
    /// Store what passes.
    #[default]
    BestEffort,
}

impl Mode {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Atomic => "atomic",
            Mode::BestEffort => "best_effort",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "atomic" => Some(Mode::Atomic),
            "best_effort" => Some(Mode::BestEffort),
            _ => None,
        }
    }
}

/// Everything a submission is ingested under.
#[derive(Debug, Clone)]
pub struct Job {
    /// The submission.
    pub meta: Meta,
    /// What the body is: a format, or a vendor's format through its mapping.
    pub source: Source,
    /// The region the tenant's records must lie in.
    pub within: RegionCode,
    /// The tenant's own region: the acting party's when a record and the registry give none.
    pub tenant_region: Option<RegionCode>,
    /// The reporting node (this node's region for local submissions).
    pub reporter: String,
    /// What an unknown reference does.
    pub policy: ReferencePolicy,
    /// The envelope sender the caller may use (its tenant's code); `None` accepts any.
    pub sender: Option<String>,
    /// Decoder limits.
    pub limits: Limits,
    /// Acts before this year are refused (`ingest.earliest_act_year`).
    pub earliest_act_year: i32,
    /// Where counterparts not registered in this node's subtree are looked up (the parent).
    pub upward: Option<std::sync::Arc<crate::registry::references::Upward>>,
}

/// How a submission arrived and what its sender asked for.
#[derive(Debug, Clone)]
pub struct Intake {
    /// The channel.
    pub channel: submissions::Channel,
    /// Atomic or best effort.
    pub mode: Mode,
    /// Check only.
    pub dry_run: bool,
    /// Body size, bytes (0 while it is still being read).
    pub bytes: i64,
    /// Who sent it.
    pub actor: String,
}

impl Job {
    /// A new submission of `tenant` under its `policy`: an envelope must name the tenant as
    /// its sender, the records must lie within `within`, and this node (configured by `node`)
    /// reports them and sets the act-time window.
    pub fn for_tenant(
        tenant: &crate::tenants::Tenant,
        policy: &policy::IngestPolicy,
        source: Source,
        within: RegionCode,
        node: &crate::config::Config,
        intake: Intake,
    ) -> Job {
        Job {
            meta: Meta {
                id: crate::ids::SubmissionId::generate(),
                tenant_id: tenant.id.clone(),
                sender: tenant.code.clone(),
                channel: intake.channel,
                format: source.name(),
                mode: intake.mode,
                dry_run: intake.dry_run,
                bytes: intake.bytes,
                actor: intake.actor,
            },
            source,
            within,
            tenant_region: Some(tenant.region.clone()),
            reporter: node.node.region.as_str().to_owned(),
            policy: policy.unknown_reference,
            sender: Some(tenant.code.clone()),
            limits: Limits::default(),
            earliest_act_year: node.ingest.earliest_act_year,
            upward: None,
        }
    }

    /// Looks counterparts this node does not know up the tree through `upward`.
    pub fn asking(mut self, upward: Option<std::sync::Arc<crate::registry::references::Upward>>) -> Job {
        self.upward = upward;
        self
    }
}

/// What the decoding thread hands over. Records are by far the most common item, so they
/// travel unboxed.
#[allow(clippy::large_enum_variant)]
enum Item<'a> {
    Record(Checked<'a>),
    Rejected(Rejection, Acting),
    Broken(DecodeError),
    Failed(AppError),
}

/// Ingests `input` as `job` says and returns the receipt; the submission row holds it too.
/// `progress` is told the records read after each step.
pub fn run(
    db: &Db,
    ctx: &AuditContext,
    job: &Job,
    input: Box<dyn Read + Send>,
    progress: &(dyn Fn(u64) + Sync),
) -> AppResult<Receipt> {
    let lookups = db.conn()?;
    match db.bulk_transaction_sized(db::TRACE_CACHE_KIB, |conn| ingest(conn, ctx, job, lookups, input, progress)) {
        Ok(receipt) => {
            db.note_bulk_rows("trace_records", receipt.accepted as usize)?;
            Ok(receipt)
        }
        Err(Undo::Refused(receipt)) => {
            let receipt = *receipt;
            db.transaction_sync(|conn| {
                submissions::finish(conn, &job.meta, &receipt)?;
                audit_submission(conn, ctx, job, &receipt)
            })?;
            Ok(receipt)
        }
        Err(Undo::Failed(e)) => Err(e),
    }
}

fn audit_submission(conn: &mut DbConnection, ctx: &AuditContext, job: &Job, r: &Receipt) -> AppResult<()> {
    let outcome = if r.stored || r.status == SubmissionStatus::DryRun { Outcome::Success } else { Outcome::Failure };
    audit::record(
        conn,
        ctx,
        "trace.ingest",
        &format!("submission:{}", job.meta.id),
        outcome,
        serde_json::json!({
            "tenant": job.meta.tenant_id, "format": job.meta.format, "channel": job.meta.channel.as_str(),
            "status": r.status, "received": r.received, "accepted": r.accepted, "duplicates": r.duplicates,
            "rejected": r.rejected, "quarantined": r.quarantined, "flagged": r.flagged,
            "refusal": r.refusal.as_ref().map(|f| f.code.clone()),
        }),
    )?;
    Ok(())
}

/// The pipeline inside the submission's transaction.
fn ingest(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    job: &Job,
    lookups: db::PooledDb,
    input: Box<dyn Read + Send>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Receipt, Undo<Box<Receipt>>> {
    let mut receipt = Receipt::of(job.meta.id.clone(), SubmissionStatus::default());
    let tenant = job.meta.tenant_id.as_str();
    let rules = RuleSet::load(conn, tenant)?;
    let mut validator =
        Validator::new(lookups, tenant, job.meta.id.as_str(), &job.reporter, &job.within, job.policy, &rules)?
            .acts_from(job.earliest_act_year);
    if let Some(region) = &job.tenant_region {
        validator = validator.acting_region_default(region);
    }
    if let Some(up) = &job.upward {
        validator = validator.asking(up);
    }
    let mut history = History::new(&rules);
    let mut daily = DailyChanges::default();
    let mut activity = ActivityChanges::new(db::now());
    let mut broken = None;
    std::thread::scope(|scope| -> AppResult<()> {
        let (tx, rx) = sync_channel::<Vec<Item<'_>>>(4);
        let header_tx = tx.clone();
        let (htx, hrx) = sync_channel::<Option<Header>>(1);
        scope.spawn(move || decode(job, input, validator, tx, htx));
        drop(header_tx);
        if let Ok(Some(h)) = hrx.recv() {
            if let Err(refusal) = check_header(job, &h) {
                broken = Some(refusal);
                return Ok(());
            }
            receipt.message_id = Some(h.message_id);
        }
        let mut step = Step {
            conn,
            tenant,
            receipt: &mut receipt,
            daily: &mut daily,
            activity: &mut activity,
            history: &mut history,
        };
        broken = step.store_all(&rx, progress)?;
        // A pulled page may be empty (that is how a vendor says it has no more).
        if broken.is_none() && receipt.received == 0 && job.meta.channel != submissions::Channel::Pull {
            broken = Some(Refusal::empty());
        }
        Ok(())
    })?;
    if let Some(refusal) = broken {
        receipt.refusal = Some(refusal);
        receipt.status = SubmissionStatus::Refused;
        return Err(Undo::Refused(Box::new(receipt)));
    }
    if job.meta.dry_run {
        receipt.status = SubmissionStatus::DryRun;
        return Err(Undo::Refused(Box::new(receipt)));
    }
    if job.meta.mode == Mode::Atomic && receipt.rejected > 0 {
        receipt.status = SubmissionStatus::Refused;
        return Err(Undo::Refused(Box::new(receipt)));
    }
    daily.write(conn, tenant)?;
    activity.write(conn, tenant)?;
    receipt.status = SubmissionStatus::Stored;
    receipt.stored = true;
    submissions::finish(conn, &job.meta, &receipt)?;
    audit_submission(conn, ctx, job, &receipt)?;
    Ok(receipt)
}

/// An envelope must come from the caller's own tenant and push trace records.
fn check_header(job: &Job, h: &Header) -> Result<(), Refusal> {
    let refuse = |code: &str, zh: String, en: String| Err(Refusal { code: code.into(), message_zh: zh, message: en });
    if let Some(expected) = &job.sender {
        if h.sender.trim() != expected {
            return refuse(
                "sender_mismatch",
                format!("报文发送方“{}”与调用方“{expected}”不符", h.sender),
                format!("the envelope's sender {:?} is not the caller {expected:?}", h.sender),
            );
        }
    }
    if h.operation.trim() != "push" || h.resource_type.trim() != "trace" {
        return refuse(
            "unsupported_operation",
            format!("本接口只接收追溯信息推送（push/trace），实际为 {}/{}", h.operation, h.resource_type),
            format!("this endpoint takes trace pushes (push/trace), got {}/{}", h.operation, h.resource_type),
        );
    }
    Ok(())
}

/// The decoding thread: opens the decoder, sends the header, then validated steps.
fn decode<'a>(
    job: &'a Job,
    input: Box<dyn Read + Send>,
    mut validator: Validator<'a>,
    tx: SyncSender<Vec<Item<'a>>>,
    header: SyncSender<Option<Header>>,
) {
    let mut decoder = match job.source.decoder(input, job.limits) {
        Ok(d) => d,
        Err(e) => {
            let _ = header.send(None);
            let _ = tx.send(vec![Item::Broken(e)]);
            return;
        }
    };
    if header.send(decoder.header().cloned()).is_err() {
        return;
    }
    let mut index = 0u64;
    loop {
        // A step is decoded whole first, so that its counterparts are looked up in one go.
        let mut decoded = Vec::with_capacity(STEP);
        let mut ended = false;
        while decoded.len() < STEP {
            let Some(next) = decoder.next_record() else {
                ended = true;
                break;
            };
            let fatal = matches!(&next, Err(e) if e.fatal);
            decoded.push(next);
            if fatal {
                ended = true;
                break;
            }
        }
        let looked = validator.look_beyond(decoded.iter().filter_map(|d| d.as_ref().ok()));
        let mut step = Vec::with_capacity(decoded.len());
        for next in decoded {
            let item = match (next, &looked) {
                (Ok(_), Err(e)) => Item::Failed(AppError::internal(e.message())),
                (Ok(record), Ok(())) => {
                    let acting = Acting::of(&record);
                    match validator.check(index, record) {
                        Ok(Ok(checked)) => Item::Record(checked),
                        Ok(Err(rejection)) => Item::Rejected(rejection, acting),
                        Err(e) => Item::Failed(e),
                    }
                }
                (Err(e), _) if e.fatal => Item::Broken(e),
                (Err(e), _) => Item::Rejected(Rejection::undecodable(e.index.unwrap_or(index), &e), Acting::default()),
            };
            index += 1;
            let last = matches!(item, Item::Broken(_) | Item::Failed(_));
            step.push(item);
            if last {
                ended = true;
                break;
            }
        }
        if tx.send(step).is_err() || ended {
            return;
        }
    }
}

/// Where the steps of one submission are stored, and what they add up to.
struct Step<'s, 'c, 'r> {
    conn: &'c mut DbConnection,
    tenant: &'s str,
    receipt: &'s mut Receipt,
    daily: &'s mut DailyChanges,
    activity: &'s mut ActivityChanges,
    history: &'s mut History<'r>,
}

impl Step<'_, '_, '_> {
    /// Stores the steps as they arrive; returns the refusal if the stream broke.
    fn store_all(
        &mut self,
        rx: &Receiver<Vec<Item<'_>>>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> AppResult<Option<Refusal>> {
        for step in rx.iter() {
            let mut plain = Vec::with_capacity(step.len());
            let mut corrections = Vec::new();
            for item in step {
                match item {
                    Item::Record(c) if c.row.corrects.is_some() => corrections.push(c),
                    Item::Record(c) => plain.push(c),
                    Item::Rejected(r, acting) => {
                        self.activity.rejected(&acting);
                        self.receipt.reject(r)
                    }
                    Item::Broken(e) => return Ok(Some(Refusal::from(&e))),
                    Item::Failed(e) => return Err(e),
                }
                self.receipt.received += 1;
            }
            let mut found = Vec::new();
            self.store_plain(plain, &mut found)?;
            for c in corrections {
                self.store_correction(c, &mut found)?;
            }
            if !found.is_empty() {
                anomalies::record(self.conn, self.tenant, self.receipt.submission_id.as_str(), &found)?;
            }
            progress(self.receipt.received);
        }
        Ok(None)
    }

    /// Runs the history rules over the rows just stored and flags those they find; then
    /// notes every stored row in the receipt, the anomalies and the aggregates.
    fn settle(
        &mut self,
        stored: Vec<(u64, TraceRow<'_>, Vec<validate::Flag>)>,
        found: &mut Vec<Found>,
    ) -> AppResult<()> {
        let rows: Vec<&TraceRow<'_>> = stored.iter().map(|(_, row, _)| row).collect();
        let extra = self.history.check(self.conn, &rows)?;
        let mut stored = stored;
        let mut newly = Vec::new();
        for (k, flag) in extra {
            let (_, row, flags) = &mut stored[k];
            if flags.is_empty() && !row.flagged {
                newly.push(row.record_id.clone());
            }
            row.flagged = true;
            flags.push(flag);
        }
        store::mark_flagged(self.conn, self.tenant, &newly)?;
        store::note_vouchers(self.conn, self.tenant, &stored.iter().map(|(_, row, _)| row).collect::<Vec<_>>())?;
        for (_, row, flags) in stored {
            accepted(self.receipt, &row, flags, found);
            self.activity.stored(&row);
            if row.status == status::STORED {
                self.daily.count(&row);
            }
        }
        Ok(())
    }

    fn store_plain<'a>(&mut self, plain: Vec<Checked<'a>>, found: &mut Vec<Found>) -> AppResult<()> {
        let (meta, rows): (Vec<_>, Vec<_>) = plain.into_iter().map(|c| ((c.index, c.flags), c.row)).unzip();
        self.history.probe(self.conn, &rows)?;
        let outcome = store::insert(self.conn, self.tenant, &rows)?;
        for &k in &outcome.duplicates {
            self.receipt.duplicate(meta[k].0, &rows[k].record_id);
        }
        for &k in &outcome.conflicts {
            self.activity.rejected(&Acting::of_row(&rows[k]));
            self.receipt.reject(conflict(meta[k].0, &rows[k].record_id));
        }
        let mut is_stored = vec![false; rows.len()];
        for &k in &outcome.inserted {
            is_stored[k] = true;
        }
        let stored = rows
            .into_iter()
            .zip(meta)
            .zip(is_stored)
            .filter(|(_, s)| *s)
            .map(|((row, (index, flags)), _)| (index, row, flags))
            .collect();
        self.settle(stored, found)
    }

    fn store_correction<'a>(&mut self, c: Checked<'a>, found: &mut Vec<Found>) -> AppResult<()> {
        self.history.probe(self.conn, std::slice::from_ref(&c.row))?;
        let outcome = store::insert(self.conn, self.tenant, std::slice::from_ref(&c.row))?;
        let id = c.row.record_id.as_str();
        if !outcome.duplicates.is_empty() {
            self.receipt.duplicate(c.index, id);
            return Ok(());
        }
        if !outcome.conflicts.is_empty() {
            self.activity.rejected(&Acting::of_row(&c.row));
            self.receipt.reject(conflict(c.index, id));
            return Ok(());
        }
        let target = c.row.corrects.clone().unwrap_or_default();
        match store::supersede(self.conn, self.tenant, &target)? {
            Ok(taken_back) => {
                if let Some((key, totals)) = taken_back {
                    self.daily.uncount(&key, &totals);
                }
                store::note_correction(self.conn, self.tenant, id, &target)?;
                self.receipt.corrected += 1;
                self.settle(vec![(c.index, c.row, c.flags)], found)
            }
            Err(why) => {
                store::remove(self.conn, self.tenant, id)?;
                self.activity.rejected(&Acting::of_row(&c.row));
                self.receipt.reject(uncorrectable(c.index, id, &target, why));
                Ok(())
            }
        }
    }
}

/// Notes a stored record in the receipt and the anomalies.
fn accepted(receipt: &mut Receipt, row: &TraceRow<'_>, flags: Vec<validate::Flag>, found: &mut Vec<Found>) {
    receipt.accepted += 1;
    if row.status == status::QUARANTINED {
        receipt.quarantined += 1;
    }
    if !flags.is_empty() {
        receipt.flagged += 1;
    }
    found.extend(flags.into_iter().map(|f| Found {
        record_id: row.record_id.clone(),
        rule: f.rule,
        zh: f.zh,
        en: f.en,
    }));
}

fn conflict(index: u64, record_id: &str) -> Rejection {
    Rejection {
        index,
        record_id: Some(record_id.to_owned()),
        field: Some("id".into()),
        code: "record_id_reused".into(),
        reason_zh: format!("记录编号“{record_id}”已用于内容不同的记录；如需更正，请发送更正记录（corrects）"),
        reason: format!(
            "record id {record_id:?} was already used for other content; send a correction (corrects) instead"
        ),
    }
}

fn uncorrectable(index: u64, id: &str, target: &str, why: store::Uncorrectable) -> Rejection {
    let (zh, en) = match why {
        store::Uncorrectable::Unknown => {
            (format!("要更正的记录“{target}”不存在"), format!("the record to correct, {target:?}, does not exist"))
        }
        store::Uncorrectable::AlreadyCorrected => (
            format!("记录“{target}”已被更正过，请更正最新的记录"),
            format!("record {target:?} was corrected already; correct the latest record"),
        ),
    };
    Rejection {
        index,
        record_id: Some(id.to_owned()),
        field: Some("corrects".into()),
        code: "correction_target".into(),
        reason_zh: zh,
        reason: en,
    }
}

/// The ingest capability's background work, once per node: the alert check every
/// `alerts.check_every_seconds` (0: none), and each pull source that has a schedule.
pub fn background(state: &actix_web::web::Data<crate::app::AppState>) -> Vec<crate::jobs::Job> {
    use crate::jobs::{Job, Schedule, Scope};
    let mut jobs = Vec::new();
    let every = state.config.alerts.check_every_seconds;
    if every > 0 {
        let s = state.clone();
        jobs.push(Job::scheduled(
            "ingest.alerts",
            "接入告警检查",
            Schedule::Every(std::time::Duration::from_secs(every)),
            Scope::Once,
            std::sync::Arc::new(move || {
                let s = s.clone();
                Box::pin(async move {
                    let r = monitor::alerts::evaluate_now(&s).await?;
                    Ok(format!("新告警 {}，解除 {}，通知 {}", r.opened, r.resolved, r.notifications))
                })
            }),
        ));
    }
    for source in state.config.ingest.pull.iter().filter(|s| s.schedule.is_some()) {
        let (s, name) = (state.clone(), source.name.clone());
        jobs.push(Job::scheduled(
            format!("ingest.pull.{}", source.name),
            format!("拉取 {}", source.name),
            Schedule::Cron(source.schedule.clone().unwrap_or_default()),
            Scope::Once,
            std::sync::Arc::new(move || {
                let (s, name) = (s.clone(), name.clone());
                Box::pin(async move {
                    let r = pull::run(&s, &name).await?;
                    Ok(format!("{} 页，读取 {} 条，入库 {} 条", r.pages, r.received, r.accepted))
                })
            }),
        ));
    }
    jobs
}
