//! The downward mailbox (下行信箱). A parent never calls its children: each child long-polls
//! its parent for what came down since the last message it took — the national product
//! catalogue, revocation lists of the CAs above it, industry statistics forms, evaluation
//! indicator sets, and notices (a generic kind that emergency alerts and federated trace
//! queries will use) — applies each in order with its
//! cursor, and passes it on to its own children. A message names a target region (empty:
//! everyone); it goes down only the branch that leads there.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use serde::Serialize;
use tracenode_federation::tiers::{self, lies_inside};
pub use tracenode_federation::wire::mailbox::{
    CrlPayload, DuplicateHolder, DuplicateNotice, Mail, Message, MessageKind, NoticePayload,
};

use super::Federation;
use crate::db::schema::{federation_messages as fm, federation_received as fr, federation_uplink as fu};
use crate::db::{self, Db, DbConnection};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::pki::NodePki;

/// The cursor's row in `federation_uplink`.
const CURSOR: &str = "mailbox";
/// Messages per answer.
const PAGE: i64 = 100;

/// Sends a revocation list this node's CA just published down to the children.
pub fn send_crl_down(conn: &mut DbConnection, published: &crate::pki::registry::PublishedCrl) -> AppResult<()> {
    let payload = CrlPayload { issuer: published.issuer.clone(), pem: published.pem.clone() };
    let payload = serde_json::to_string(&payload).map_err(AppError::internal)?;
    publish(conn, MessageKind::Crl, "", &published.issuer, &payload)?;
    Ok(())
}

/// Puts a message in this node's mailbox for its children; returns its number.
pub fn publish(
    conn: &mut DbConnection,
    kind: MessageKind,
    target: &str,
    origin: &str,
    payload: &str,
) -> AppResult<i64> {
    forward(conn, kind.as_str(), target, origin, payload)
}

/// Puts a message from above in this node's mailbox, its kind as it came (a kind this node
/// does not know yet still goes on down).
fn forward(conn: &mut DbConnection, kind: &str, target: &str, origin: &str, payload: &str) -> AppResult<i64> {
    db::lock_sequence(conn, db::Sequence::Federation)?;
    let last: Option<i64> = fm::table.select(diesel::dsl::max(fm::seq)).first(conn)?;
    let seq = last.unwrap_or(0) + 1;
    diesel::insert_into(fm::table)
        .values((
            fm::seq.eq(seq),
            fm::kind.eq(kind),
            fm::target.eq(target),
            fm::origin.eq(origin),
            fm::payload.eq(payload),
            fm::created_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(seq)
}

/// Whether a message for `target` goes down to the child of `child` region.
fn reaches(child: &str, target: &str) -> bool {
    target.is_empty() || target == child || lies_inside(child, target)
}

/// Whether a message for `target` concerns the node of `region` itself.
fn concerns(region: &str, target: &str) -> bool {
    target.is_empty() || target == region
}

/// The messages after `after` for the child of `child` region, and the last number looked
/// at (so a child skips what is not for it).
pub fn for_child(conn: &mut DbConnection, child: &str, after: i64) -> AppResult<(Vec<Message>, i64)> {
    let page: Vec<(i64, String, String, String, String)> = fm::table
        .filter(fm::seq.gt(after))
        .order(fm::seq.asc())
        .limit(PAGE)
        .select((fm::seq, fm::kind, fm::target, fm::origin, fm::payload))
        .load(conn)?;
    let last = page.last().map_or(after, |m| m.0);
    let messages = page
        .into_iter()
        .filter(|(_, _, target, _, _)| reaches(child, target))
        .map(|(seq, kind, target, origin, payload)| Message { seq, kind, target, origin, payload })
        .collect();
    Ok((messages, last))
}

/// Waits up to `wait` for messages after `after` for `child` (the parent's side of the long
/// poll): answers as soon as there are any, or at once with what there is when the node
/// stops (so that a stopping parent is not held by its children's polls).
pub async fn wait_for(
    db: &Db,
    child: String,
    after: i64,
    wait: Duration,
    mut stopping: crate::jobs::Stop,
) -> AppResult<Mail> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let c = child.clone();
        let (messages, through) = db.run(move |conn| for_child(conn, &c, after)).await?;
        if !messages.is_empty() || through > after || tokio::time::Instant::now() >= deadline {
            return Ok(Mail { messages, through });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stopping.requested() => return Ok(Mail { messages, through }),
        }
    }
}

fn cursor(conn: &mut DbConnection) -> AppResult<i64> {
    Ok(fu::table.find(CURSOR).select(fu::collected_through).first(conn).optional()?.unwrap_or(0))
}

fn set_cursor(conn: &mut DbConnection, through: i64) -> AppResult<()> {
    super::uplink::ensure_row(conn, CURSOR)?;
    diesel::update(fu::table.find(CURSOR))
        .set((fu::collected_through.eq(through), fu::last_ok_at.eq(Some(db::now()))))
        .execute(conn)?;
    Ok(())
}

/// Takes one message from the parent: applies it if it concerns this node, passes it on if
/// it goes further down, and records it with the cursor — all in one transaction.
fn take(conn: &mut DbConnection, pki: &NodePki, region: &str, m: &Message) -> AppResult<()> {
    let applied = if concerns(region, &m.target) { apply(conn, pki, m) } else { Ok("passed on".to_owned()) };
    let (outcome, detail) = match applied {
        Ok(d) => ("applied", Some(d)),
        // A message this node cannot take is recorded and shown, not retried forever.
        Err(e) => ("failed", Some(e.message())),
    };
    if m.target.is_empty() || lies_inside(region, &m.target) {
        forward(conn, &m.kind, &m.target, &m.origin, &m.payload)?;
    }
    diesel::insert_into(fr::table)
        .values((
            fr::parent_seq.eq(m.seq),
            fr::kind.eq(&m.kind),
            fr::target.eq(&m.target),
            fr::origin.eq(&m.origin),
            fr::payload.eq(&m.payload),
            fr::outcome.eq(outcome),
            fr::detail.eq(detail),
            fr::received_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

fn apply(conn: &mut DbConnection, pki: &NodePki, m: &Message) -> AppResult<String> {
    match MessageKind::parse(&m.kind) {
        Some(MessageKind::Crl) => {
            let crl: CrlPayload = serde_json::from_str(&m.payload).map_err(|e| bad(m, e))?;
            let issuer = pki
                .ancestors()?
                .into_iter()
                .find(|c| tiers::identity_of(c).is_ok_and(|id| id.region() == crl.issuer))
                .ok_or_else(|| bad(m, format!("{} is not a CA above this node", crl.issuer)))?;
            let revoked = tracenode_federation::crl::read(crl.pem.as_bytes(), &issuer).map_err(|e| bad(m, e))?;
            pki.store_crl(&crl.issuer, crl.pem.as_bytes())?;
            Ok(format!("revocation list of {} ({} revoked)", crl.issuer, revoked.len()))
        }
        Some(MessageKind::Catalogue) => {
            let doc: crate::registry::catalogue::CatalogueDocument =
                serde_json::from_str(&m.payload).map_err(|e| bad(m, e))?;
            let changed = crate::registry::catalogue::apply_national(conn, &doc)?;
            Ok(format!("national catalogue {}: {changed} categories changed", doc.version))
        }
        Some(MessageKind::Notice) => {
            let n: NoticePayload = serde_json::from_str(&m.payload).map_err(|e| bad(m, e))?;
            match n.duplicate {
                Some(d) => {
                    let announced = crate::registry::duplicates::Announced {
                        code: d.code,
                        found_at: d.found_at,
                        holders: d
                            .holders
                            .into_iter()
                            .map(|h| crate::registry::duplicates::ClaimHolder { region: h.region, name: h.name })
                            .collect(),
                    };
                    Ok(format!("{}; {}", n.title, crate::registry::duplicates::receive(conn, &announced)?))
                }
                None => Ok(n.title),
            }
        }
        Some(MessageKind::IndustryForm) => {
            let form: crate::system::industry::forms::Form = serde_json::from_str(&m.payload).map_err(|e| bad(m, e))?;
            crate::system::industry::forms::receive(conn, &m.origin, &form)
        }
        Some(MessageKind::EvaluationSet) => {
            let set: crate::evaluation::sets::Set = serde_json::from_str(&m.payload).map_err(|e| bad(m, e))?;
            crate::evaluation::sets::receive(conn, &m.origin, &set)
        }
        None => Err(bad(m, format!("unknown kind {}", m.kind))),
    }
}

/// Sends a form published or withdrawn at this node down to every node below.
pub fn send_form_down(
    conn: &mut DbConnection,
    origin: &str,
    form: &crate::system::industry::forms::Form,
) -> AppResult<i64> {
    let payload = serde_json::to_string(form).map_err(AppError::internal)?;
    publish(conn, MessageKind::IndustryForm, "", origin, &payload)
}

/// Sends a version of an evaluation indicator set saved at this node down to every node below.
pub fn send_set_down(conn: &mut DbConnection, origin: &str, set: &crate::evaluation::sets::Set) -> AppResult<i64> {
    let payload = serde_json::to_string(set).map_err(AppError::internal)?;
    publish(conn, MessageKind::EvaluationSet, "", origin, &payload)
}

fn bad(m: &Message, e: impl std::fmt::Display) -> AppError {
    AppError::with_detail(
        ErrorKind::Validation,
        format!("上级消息 {}（{}）无法处理：{e}", m.seq, m.kind),
        format!("message {} ({}) from the parent cannot be taken: {e}", m.seq, m.kind),
    )
}

/// One long poll of the parent, with what came applied; returns how many messages.
pub async fn poll_once(fed: &Arc<Federation>, db: &Db, wait: Duration) -> AppResult<usize> {
    let (Some(parent), Some(client)) = (fed.parent_url.clone(), fed.parent_client()) else { return Ok(0) };
    let after = db.run(cursor).await?;
    let url = format!("{parent}/federation/v1/mailbox?after={after}&wait={}", wait.as_secs());
    let res = client.get(url).send().await.map_err(|e| super::uplink::upstream(e.to_string()))?;
    if !res.status().is_success() {
        return Err(super::uplink::upstream(format!("HTTP {}", res.status())));
    }
    let mail: Mail = res.json().await.map_err(|e| super::uplink::upstream(e.to_string()))?;
    let n = mail.messages.len();
    let (f, d) = (fed.clone(), db.clone());
    tokio::task::spawn_blocking(move || {
        d.transaction_sync(|conn| {
            for m in &mail.messages {
                take(conn, f.pki(), &f.region, m)?;
            }
            set_cursor(conn, mail.through)
        })
    })
    .await
    .map_err(AppError::internal)??;
    Ok(n)
}

/// Long-polls the parent while the node runs.
pub async fn poll(fed: Arc<Federation>, db: Db, wait: Duration, retry: Duration, mut stop: crate::jobs::Stop) {
    // A long poll is safe to leave (nothing is taken until it is applied); the node stops
    // at once rather than wait for the parent to answer.
    while !stop.is_requested() {
        let polled = tokio::select! {
            r = poll_once(&fed, &db, wait) => r,
            _ = stop.requested() => return,
        };
        if let Err(e) = polled {
            tracing::warn!(error = %e.message(), "mailbox poll failed; will retry");
            tokio::select! {
                _ = tokio::time::sleep(retry) => {}
                _ = stop.requested() => return,
            }
        }
    }
}

/// What came down from the parent, newest first.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = fr)]
pub struct Received {
    /// Its number at the parent.
    pub parent_seq: i64,
    /// See [`MessageKind`].
    pub kind: String,
    /// The region it is for.
    pub target: String,
    /// Who published it.
    pub origin: String,
    /// The content (JSON text).
    pub payload: String,
    /// `applied` or `failed`.
    pub outcome: String,
    /// What was done, or why it failed.
    pub detail: Option<String>,
    /// When (UTC).
    pub received_at: chrono::NaiveDateTime,
}

/// The latest messages received.
pub fn received(conn: &mut DbConnection, limit: i64) -> AppResult<Vec<Received>> {
    Ok(fr::table.order(fr::parent_seq.desc()).limit(limit).select(Received::as_select()).load(conn)?)
}
