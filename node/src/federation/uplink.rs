//! Sending to the parent (向上级上报).
//!
//! A run of a kind takes the kind's lease (one run at a time, even with several processes
//! on one database), collects what is new into numbered batches that are stored before
//! anything is sent, then sends every batch the parent has not applied, in order. The
//! parent answers with the last number it applied; a batch is marked applied only then.
//! If the parent cannot be reached the batches wait and the worker tries again, so nothing
//! is lost and — the parent ignoring resends — nothing is counted twice.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use serde::Serialize;
use tracenode_federation::wire::batch::Batch;
use tracenode_federation::wire::receipt::Cursor;
use tracenode_federation::wire::{Receipt, Refusal};

use super::kinds::{self, Collector, Kind};
use super::Federation;
use crate::db::schema::{federation_outgoing as fo, federation_uplink as fu};
use crate::db::{self, Db, DbConnection};
use crate::error::{AppError, AppResult, ErrorKind, Problem};

/// Minutes a run's lease lasts; a crashed process's lease lapses after it.
const LEASE_MINUTES: i64 = 5;

/// What one run did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    /// The kind.
    pub kind: String,
    /// Batches made.
    pub made: i64,
    /// Batches the parent applied (or had applied) in this run.
    pub sent: i64,
    /// The parent's last applied batch number, when it answered.
    pub applied_through: Option<i64>,
    /// Batches still waiting.
    pub pending: i64,
    /// Applied batches whose bodies this run emptied (`federation.keep_sent_days`).
    pub pruned: i64,
    /// Batches unmade and cut again because the parent found one too large.
    pub rebatched: i64,
    /// Another process held the lease; nothing was done.
    pub busy: bool,
    /// Why sending stopped, if it did.
    pub error: Option<String>,
}

/// The uplink row of `kind` (a roll-up kind, or the mailbox cursor), made if missing.
pub(crate) fn ensure_row(conn: &mut DbConnection, kind: &str) -> AppResult<()> {
    let present = fu::table.find(kind).count().get_result::<i64>(conn)? > 0;
    if !present {
        let inserted = diesel::insert_into(fu::table)
            .values((fu::kind.eq(kind), fu::collected_through.eq(0i64), fu::failures_in_a_row.eq(0)))
            .execute(conn);
        match inserted.map_err(AppError::from) {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn take_lease(db: &Db, kind: &str, holder: &str) -> AppResult<bool> {
    db.transaction_sync(|conn| ensure_row(conn, kind))?;
    db.transaction_sync(|conn| {
        let now = db::now();
        let taken = diesel::update(
            fu::table
                .find(kind)
                .filter(fu::lease_until.is_null().or(fu::lease_until.lt(now)).or(fu::lease_holder.eq(holder))),
        )
        .set((
            fu::lease_holder.eq(Some(holder)),
            fu::lease_until.eq(Some(now + chrono::Duration::minutes(LEASE_MINUTES))),
            fu::last_run_at.eq(Some(now)),
        ))
        .execute(conn)?;
        Ok(taken == 1)
    })
}

fn end_run(db: &Db, kind: &str, holder: &str, error: Option<&str>) -> AppResult<()> {
    db.transaction_sync(|conn| {
        let now = db::now();
        let target = fu::table.find(kind).filter(fu::lease_holder.eq(holder));
        match error {
            None => diesel::update(target)
                .set((
                    fu::lease_holder.eq(None::<String>),
                    fu::lease_until.eq(None::<chrono::NaiveDateTime>),
                    fu::last_ok_at.eq(Some(now)),
                    fu::last_error.eq(None::<String>),
                    fu::failures_in_a_row.eq(0),
                ))
                .execute(conn)?,
            Some(e) => diesel::update(target)
                .set((
                    fu::lease_holder.eq(None::<String>),
                    fu::lease_until.eq(None::<chrono::NaiveDateTime>),
                    fu::last_error.eq(Some(e)),
                    fu::failures_in_a_row.eq(fu::failures_in_a_row + 1),
                ))
                .execute(conn)?,
        };
        Ok(())
    })
}

/// Collects everything new of `kind` into stored batches; returns how many were made.
///
/// Each batch is collected on a connection of its own with no write lock held — reading the
/// slices or registrations, taking the digest, sealing — and only stored under the lock, in a
/// short transaction that first checks nothing moved meanwhile (the cursor and the batch
/// number are still those it read; another process collecting the same kind would have moved
/// them) and settles what the kind took. So a child's batch applied meanwhile never waits for
/// a collect. What moved is collected again.
pub fn collect(db: &Db, fed: &Federation, kind: Kind) -> AppResult<i64> {
    let mut made = 0;
    loop {
        let (from, batch_no, collected) = {
            let mut conn = db.conn()?;
            let from: i64 =
                fu::table.find(kind.as_str()).select(fu::collected_through).first(&mut *conn).optional()?.unwrap_or(0);
            let batch_no = next_batch_no(&mut conn, kind)?;
            let signer = fed.signer();
            let by = Collector {
                identity: &fed.identity,
                region: &fed.region,
                signer: &signer,
                batch_items: fed.batch_items,
                max_body_bytes: body_budget(fed),
                batch_no,
            };
            (from, batch_no, kinds::collect(kind, &mut conn, from, &by)?)
        };
        let Some(c) = collected else { return Ok(made) };
        let items = c.payload.items() as i64;
        let batch = match items {
            0 => None,
            _ => Some(seal(fed, kind, batch_no, items, &c)?),
        };
        let stored = db.transaction_sync(|conn| {
            db::lock_sequence(conn, db::Sequence::Federation)?;
            ensure_row(conn, kind.as_str())?;
            let now: i64 = fu::table.find(kind.as_str()).select(fu::collected_through).first(conn)?;
            if now != from || next_batch_no(conn, kind)? != batch_no {
                return Ok(false);
            }
            kinds::settle(conn, &c.settle, batch_no)?;
            let Some(batch) = &batch else { return Ok(true) };
            diesel::insert_into(fo::table)
                .values((
                    fo::kind.eq(kind.as_str()),
                    fo::batch_no.eq(batch_no),
                    fo::batch_id.eq(&batch.header.batch_id),
                    fo::items.eq(items),
                    fo::first_seq.eq(c.seqs.map(|s| s.0)),
                    fo::last_seq.eq(c.seqs.map(|s| s.1)),
                    fo::digest.eq(&batch.header.digest),
                    fo::batch.eq(serde_json::to_string(batch).map_err(AppError::internal)?),
                    fo::created_at.eq(db::now()),
                    fo::attempts.eq(0),
                ))
                .execute(conn)?;
            diesel::update(fu::table.find(kind.as_str()))
                .set(fu::collected_through.eq(c.collected_through))
                .execute(conn)?;
            Ok(true)
        })?;
        match (stored, batch.is_some(), c.more) {
            // Moved meanwhile: collect again from where it is now.
            (false, _, _) => continue,
            // Only marks cleared (the days changed back): look at the next ones.
            (true, false, _) => continue,
            (true, true, more) => {
                made += 1;
                if !more {
                    return Ok(made);
                }
            }
        }
    }
}

/// The number the next batch of `kind` gets.
fn next_batch_no(conn: &mut DbConnection, kind: Kind) -> AppResult<i64> {
    let last: Option<i64> =
        fo::table.filter(fo::kind.eq(kind.as_str())).select(diesel::dsl::max(fo::batch_no)).first(conn)?;
    Ok(last.unwrap_or(0) + 1)
}

/// The batch of what was collected: numbered, digested and (when the node seals) sealed.
fn seal(fed: &Federation, kind: Kind, batch_no: i64, items: i64, c: &kinds::Collected) -> AppResult<Batch> {
    let batch =
        Batch::new(kind.as_str(), &fed.identity, batch_no, items, c.payload.to_body(), chrono::Utc::now().to_rfc3339())
            .digested_with(fed.batch_digest)
            .map_err(AppError::internal)?;
    match fed.sealer() {
        Some(s) => batch.sealed(&s.pem, s.key.secret()).map_err(AppError::internal),
        None => Ok(batch),
    }
}

/// Room a batch keeps under the parent's limit for its header, its seal and the JSON around
/// its body (a quarter of a small limit).
const BATCH_SLACK: u64 = 64 * 1024;

/// The most bytes a batch's body may take: the parent's limit as its `hello` said (or the
/// protocol's default before it was asked), less [`BATCH_SLACK`].
fn body_budget(fed: &Federation) -> usize {
    let said = fed.parent_limit.load(std::sync::atomic::Ordering::Relaxed);
    let limit = if said == 0 { tracenode_federation::wire::DEFAULT_MAX_BATCH_BYTES } else { said };
    let budget = limit.saturating_sub(BATCH_SLACK.min(limit / 4)).max(1024);
    usize::try_from(budget).unwrap_or(usize::MAX)
}

/// Asks the parent for the largest batch it takes; keeps what it said before when it cannot
/// be asked (the send that follows reports why).
async fn learn_limit(fed: &Federation) {
    let (Some(parent), Some(client)) = (fed.parent_url.clone(), fed.parent_client()) else { return };
    let Ok(res) = client.get(format!("{parent}/federation/v1/hello")).send().await else { return };
    if let Ok(hello) = res.json::<tracenode_federation::wire::Hello>().await {
        let limit = hello.max_batch_bytes.unwrap_or(tracenode_federation::wire::DEFAULT_MAX_BATCH_BYTES);
        fed.parent_limit.store(limit, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Unmakes the batches of `kind` from number `from` on, none of which the parent applied
/// (the first was larger than it takes), so the next collection cuts them again under its
/// limit: the days a statistics batch carried are marked changed and forgotten as sent; the
/// registrations' cursor goes back to where the first of them began. Returns how many.
pub fn rebatch(conn: &mut DbConnection, kind: Kind, from: i64) -> AppResult<i64> {
    db::lock_sequence(conn, db::Sequence::Federation)?;
    let unmade: Vec<(Option<i64>, String)> = fo::table
        .filter(fo::kind.eq(kind.as_str()))
        .filter(fo::batch_no.ge(from))
        .filter(fo::acked_at.is_null())
        .order(fo::batch_no.asc())
        .select((fo::first_seq, fo::batch))
        .load(conn)?;
    match kind {
        Kind::Statistics => {
            let mut slices = Vec::new();
            for (_, json) in &unmade {
                let batch: Batch = serde_json::from_str(json).map_err(AppError::internal)?;
                if let tracenode_federation::wire::Payload::Statistics(taken) =
                    tracenode_federation::wire::Payload::parse(kind, &batch.body).map_err(AppError::internal)?
                {
                    slices.extend(taken);
                }
            }
            kinds::statistics::unsend(conn, &slices)?;
        }
        Kind::Registrations | Kind::IndustryStatistics | Kind::Evaluations => {
            if let Some(Some(first)) = unmade.first().map(|(seq, _)| *seq) {
                diesel::update(fu::table.find(kind.as_str())).set(fu::collected_through.eq(first - 1)).execute(conn)?;
            }
        }
        // Single small items: a batch of them is never near a limit.
        Kind::AuditCheckpoints | Kind::RevocationLists => return Ok(0),
    }
    diesel::delete(
        fo::table.filter(fo::kind.eq(kind.as_str())).filter(fo::batch_no.ge(from)).filter(fo::acked_at.is_null()),
    )
    .execute(conn)?;
    Ok(unmade.len() as i64)
}

/// Stored batches of `kind` the parent has not applied, oldest first.
pub fn pending(conn: &mut DbConnection, kind: &str, limit: i64) -> AppResult<Vec<(i64, String)>> {
    Ok(fo::table
        .filter(fo::kind.eq(kind))
        .filter(fo::acked_at.is_null())
        .order(fo::batch_no.asc())
        .limit(limit)
        .select((fo::batch_no, fo::batch))
        .load(conn)?)
}

/// How many batches of `kind` wait for the parent.
pub fn waiting(conn: &mut DbConnection, kind: &str) -> AppResult<i64> {
    Ok(fo::table.filter(fo::kind.eq(kind)).filter(fo::acked_at.is_null()).count().get_result(conn)?)
}

/// Stored batches of `kind` in order: only those waiting, or all that still have their body
/// (see [`prune`]).
pub fn batches(conn: &mut DbConnection, kind: &str, waiting_only: bool) -> AppResult<Vec<(i64, String)>> {
    if waiting_only {
        return pending(conn, kind, i64::MAX);
    }
    Ok(fo::table
        .filter(fo::kind.eq(kind))
        .filter(fo::batch.ne(""))
        .order(fo::batch_no.asc())
        .select((fo::batch_no, fo::batch))
        .load(conn)?)
}

/// Batches one prune empties at most (the rest wait for the next run).
const PRUNE_BATCHES: i64 = 1_000;

/// Empties the bodies of `kind`'s batches the parent applied `days` or more days ago: their
/// number, id, digest, item count and times stay, for the audit trail. For registrations it
/// also deletes the outbox entries forwarded from below that those batches carried, which the
/// node holds as the registrations it keeps (so each is stored once at each tier); the newest
/// entry, which numbers the next, keeps its place with its content emptied. Returns
/// how many batches it emptied; at most [`PRUNE_BATCHES`] a call.
pub fn prune(conn: &mut DbConnection, kind: &str, days: u32) -> AppResult<i64> {
    use crate::db::schema::registry_outbox as ro;
    let cutoff = db::now() - chrono::Duration::days(i64::from(days));
    let done: Vec<(i64, Option<i64>)> = fo::table
        .filter(fo::kind.eq(kind))
        .filter(fo::acked_at.le(cutoff))
        .filter(fo::batch.ne(""))
        .order(fo::batch_no.asc())
        .limit(PRUNE_BATCHES)
        .select((fo::batch_no, fo::last_seq))
        .load(conn)?;
    let (Some(first), Some(last)) = (done.first(), done.last()) else { return Ok(0) };
    diesel::update(
        fo::table
            .filter(fo::kind.eq(kind))
            .filter(fo::batch_no.between(first.0, last.0))
            .filter(fo::acked_at.le(cutoff)),
    )
    .set(fo::batch.eq(""))
    .execute(conn)?;
    let through = done.iter().filter_map(|(_, seq)| *seq).max();
    if let (Kind::Registrations, Some(through)) = (kinds::require(kind)?, through) {
        // The newest entry numbers the next one (the sequence has no gaps), so it stays, its
        // content emptied.
        let top: i64 = ro::table.select(diesel::dsl::max(ro::seq)).first::<Option<i64>>(conn)?.unwrap_or(0);
        let forwarded = || ro::table.filter(ro::seq.le(through)).filter(ro::source_region.is_not_null());
        diesel::delete(forwarded().filter(ro::seq.lt(top))).execute(conn)?;
        diesel::update(forwarded().filter(ro::seq.eq(top))).set(ro::payload.eq("")).execute(conn)?;
    }
    if let (Kind::IndustryStatistics, Some(through)) = (kinds::require(kind)?, through) {
        // Each entry is a snapshot the parent holds now; the newest stays to number the next.
        crate::system::industry::summary::prune_outbox(conn, through)?;
    }
    if let (Kind::Evaluations, Some(through)) = (kinds::require(kind)?, through) {
        crate::evaluation::jurisdiction::prune_outbox(conn, through)?;
    }
    Ok(done.len() as i64)
}

fn mark_applied(db: &Db, kind: &str, through: i64) -> AppResult<i64> {
    db.transaction_sync(|conn| {
        Ok(diesel::update(
            fo::table.filter(fo::kind.eq(kind)).filter(fo::batch_no.le(through)).filter(fo::acked_at.is_null()),
        )
        .set(fo::acked_at.eq(Some(db::now())))
        .execute(conn)? as i64)
    })
}

fn note_failure(db: &Db, kind: &str, batch_no: i64, error: &str) -> AppResult<()> {
    db.transaction_sync(|conn| {
        diesel::update(fo::table.find((kind, batch_no)))
            .set((fo::attempts.eq(fo::attempts + 1), fo::last_error.eq(Some(error))))
            .execute(conn)?;
        Ok(())
    })
}

/// What the parent said to one batch.
enum Answer {
    Applied(Receipt),
    OutOfOrder,
    /// Larger than the parent takes (HTTP 413).
    TooLarge,
    Refused(String),
}

async fn post(client: &reqwest::Client, parent: &str, batch_json: String) -> AppResult<Answer> {
    let res = client
        .post(format!("{parent}/federation/v1/batches"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(batch_json)
        .send()
        .await
        .map_err(unreachable)?;
    if res.status().is_success() {
        return Ok(Answer::Applied(res.json().await.map_err(unreachable)?));
    }
    let status = res.status();
    if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
        return Ok(Answer::TooLarge);
    }
    let problem: Option<Problem> = res.json().await.ok();
    match problem {
        Some(p) if p.reason.as_deref().is_some_and(Refusal::is_out_of_sequence) => Ok(Answer::OutOfOrder),
        Some(p) => Ok(Answer::Refused(format!(
            "{} [{}{}]",
            p.detail,
            p.code,
            p.reason.map(|r| format!("/{r}")).unwrap_or_default()
        ))),
        None => Err(upstream(format!("HTTP {status}"))),
    }
}

/// The parent could not be reached: the error with its causes, down to what the system said
/// (`Connection refused`, a TLS alert, a timeout).
pub(crate) fn unreachable(e: reqwest::Error) -> AppError {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    upstream(text)
}

pub(crate) fn upstream(e: String) -> AppError {
    AppError::with_detail(
        ErrorKind::UpstreamFailed,
        format!("无法连接上级节点：{e}"),
        format!("the parent cannot be reached: {e}"),
    )
}

/// The parent's cursor for this node and `kind`.
async fn parent_cursor(client: &reqwest::Client, parent: &str, kind: &str) -> AppResult<i64> {
    let res = client.get(format!("{parent}/federation/v1/cursors/{kind}")).send().await.map_err(unreachable)?;
    if !res.status().is_success() {
        return Err(upstream(format!("HTTP {}", res.status())));
    }
    let cursor: Cursor = res.json().await.map_err(unreachable)?;
    Ok(cursor.applied_through)
}

/// Sends every pending batch of `kind` in order until none is left or the parent stops
/// taking them.
async fn send(db: &Db, fed: &Arc<Federation>, kind: &str, report: &mut RunReport) -> AppResult<()> {
    let (Some(parent), Some(client)) = (fed.parent_url.clone(), fed.parent_client()) else { return Ok(()) };
    let mut resynced = false;
    let mut rebatched = false;
    loop {
        let k = kind.to_owned();
        let next = db.run(move |conn| pending(conn, &k, 1)).await?;
        let Some((batch_no, json)) = next.into_iter().next() else { return Ok(()) };
        match post(&client, &parent, json).await? {
            Answer::Applied(receipt) => {
                report.applied_through = Some(receipt.applied_through);
                report.sent += mark_applied(db, kind, receipt.applied_through.max(batch_no))?;
                resynced = false;
            }
            Answer::OutOfOrder if !resynced => {
                let through = parent_cursor(&client, &parent, kind).await?;
                report.applied_through = Some(through);
                report.sent += mark_applied(db, kind, through)?;
                resynced = true;
            }
            Answer::OutOfOrder => {
                let msg = format!(
                    "上级节点不接受批次 {batch_no} 的序号 / the parent does not take batch {batch_no}'s number"
                );
                note_failure(db, kind, batch_no, &msg)?;
                return Err(AppError::batch_refused("batch_gap", msg.clone(), msg));
            }
            Answer::TooLarge if !rebatched => {
                // Made under a larger limit (or before the parent said its own): cut again.
                learn_limit(fed).await;
                let Some(k) = Kind::parse(kind) else { return Ok(()) };
                let unmade = db.transaction(move |conn| rebatch(conn, k, batch_no)).await?;
                let (d, f) = (db.clone(), fed.clone());
                report.made +=
                    tokio::task::spawn_blocking(move || collect(&d, &f, k)).await.map_err(AppError::internal)??;
                report.rebatched += unmade;
                rebatched = true;
            }
            Answer::TooLarge => {
                let limit = fed.parent_limit.load(std::sync::atomic::Ordering::Relaxed);
                let msg = format!(
                    "批次 {batch_no} 超过上级节点的批次上限 {limit} 字节（单项即超限，请调大上级的 federation.max_batch_bytes） / batch {batch_no} is larger than the parent takes ({limit} bytes) even cut to one item: raise the parent's federation.max_batch_bytes"
                );
                note_failure(db, kind, batch_no, &msg)?;
                return Err(AppError::batch_refused("payload_too_large", msg.clone(), msg));
            }
            Answer::Refused(why) => {
                note_failure(db, kind, batch_no, &why)?;
                return Err(AppError::batch_refused(
                    "refused_by_parent",
                    format!("上级节点拒收：{why}"),
                    format!("refused by the parent: {why}"),
                ));
            }
        }
    }
}

/// One run of `kind`: collect, then send what waits.
pub async fn run(db: &Db, fed: &Arc<Federation>, kind: Kind) -> AppResult<RunReport> {
    run_detailed(db, fed, kind).await.map(|(report, _)| report)
}

/// [`run`], with the error that stopped sending as it was (the report keeps its text).
pub async fn run_detailed(db: &Db, fed: &Arc<Federation>, kind: Kind) -> AppResult<(RunReport, Option<AppError>)> {
    let mut report = RunReport { kind: kind.as_str().to_owned(), ..RunReport::default() };
    let _one_at_a_time = fed.run_slot(kind.as_str()).await;
    let (d, holder) = (db.clone(), fed.holder.clone());
    let taken = tokio::task::spawn_blocking(move || take_lease(&d, kind.as_str(), &holder))
        .await
        .map_err(AppError::internal)??;
    if !taken {
        report.busy = true;
        return Ok((report, None));
    }
    learn_limit(fed).await;
    let (d, f) = (db.clone(), fed.clone());
    let made = tokio::task::spawn_blocking(move || collect(&d, &f, kind)).await.map_err(AppError::internal)?;
    let outcome = match made {
        Ok(n) => {
            report.made = n;
            send(db, fed, kind.as_str(), &mut report).await
        }
        Err(e) => Err(e),
    };
    if outcome.is_ok() {
        let days = fed.keep_sent_days;
        report.pruned = db.transaction(move |conn| prune(conn, kind.as_str(), days)).await?;
    }
    if let Err(e) = &outcome {
        report.error = Some(e.message());
    }
    end_run(db, kind.as_str(), &fed.holder, report.error.as_deref())?;
    let k = kind.as_str().to_owned();
    report.pending = db.run(move |conn| waiting(conn, &k)).await?;
    Ok((report, outcome.err()))
}

/// The uplink worker: runs the kinds that are due, and retries after failures. Woken by an
/// arrival or a schedule, it first waits [`Federation::coalesce`], so the batches of many
/// children arriving together make one run (and one batch of this node's own) instead of one
/// each.
pub async fn worker(fed: Arc<Federation>, db: Db, retry: Duration, mut stop: crate::jobs::Stop) {
    fed.trigger_all();
    while !stop.is_requested() {
        let due = fed.take_due();
        let mut failed = false;
        for name in due {
            let Some(kind) = Kind::parse(name) else { continue };
            match run(&db, &fed, kind).await {
                Ok(r) if r.error.is_some() || r.busy => {
                    failed = true;
                    fed.due.lock().unwrap_or_else(|e| e.into_inner()).insert(name);
                    tracing::warn!(kind = name, error = ?r.error, busy = r.busy, "roll-up not finished; will retry");
                }
                Ok(r) => tracing::debug!(kind = name, made = r.made, sent = r.sent, "roll-up"),
                Err(e) => {
                    failed = true;
                    fed.due.lock().unwrap_or_else(|e| e.into_inner()).insert(name);
                    tracing::warn!(kind = name, error = %e.message(), "roll-up failed; will retry");
                }
            }
        }
        // A run is never cut short: the node stops between runs, with no lease held.
        tokio::select! {
            _ = tokio::time::sleep(retry), if failed => {}
            _ = fed.wake.notified(), if !failed => {
                tokio::select! {
                    _ = tokio::time::sleep(fed.coalesce) => {}
                    _ = stop.requested() => return,
                }
            }
            _ = stop.requested() => return,
        }
    }
}
