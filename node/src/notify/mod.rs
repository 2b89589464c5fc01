//! Notifications (通知): where they go and how they get there.
//!
//! A **channel** is an e-mail address or a webhook URL, for every tenant's events or for one
//! tenant's. Whoever raises an event calls [`enqueue`] inside its own transaction: one row per
//! matching channel lands in the `notifications` outbox, so an event that is committed is
//! never lost. The [`dispatch`] loop then delivers due rows at least once — mail through the
//! SMTP server of `[mail]`, webhooks as a signed JSON POST — retrying with backoff until it
//! succeeds or `alerts.max_attempts` is spent. A row is leased while it is being sent, so a
//! crash mid-delivery only delays it.

pub mod api;
pub mod channels;
pub mod mail;
pub mod pages;
pub mod target;
pub mod webhook;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{notifications, notify_channels};
use crate::db::{Db, DbConnection};
use crate::error::AppResult;
pub use channels::{Channel, ChannelKind};

crate::text_status! {
    /// What became of a notification.
    pub enum NotificationStatus {
        /// Waiting for its (next) attempt.
        Pending = "pending" / "待发送",
        /// Delivered.
        Sent = "sent" / "已送达",
        /// Given up after the last attempt.
        Failed = "failed" / "已放弃",
    }
}

/// How long a notification being sent is held before another dispatcher may try it.
const LEASE_SECONDS: i64 = 300;
/// Notifications taken per round.
const BATCH: i64 = 50;

/// An event to tell the channels of a tenant (and the node-wide ones) about.
#[derive(Debug, Clone)]
pub struct Event {
    /// Topic, e.g. `alert.opened`.
    pub topic: &'static str,
    /// The tenant it concerns (`None`: node-wide channels only).
    pub tenant_id: Option<String>,
    /// Mail subject.
    pub subject: String,
    /// Mail body (plain text).
    pub body: String,
    /// Webhook payload.
    pub payload: serde_json::Value,
}

/// Writes one notification per enabled channel the event concerns; returns how many.
pub fn enqueue(conn: &mut DbConnection, event: &Event) -> AppResult<usize> {
    use notify_channels::dsl as c;
    let mut q = notify_channels::table.filter(c::enabled.eq(true)).into_boxed();
    q = match &event.tenant_id {
        Some(t) => q.filter(c::tenant_id.is_null().or(c::tenant_id.eq(t.clone()))),
        None => q.filter(c::tenant_id.is_null()),
    };
    let ids: Vec<String> = q.select(c::id).load(conn)?;
    enqueue_to(conn, &ids, event)?;
    Ok(ids.len())
}

/// Writes one notification per enabled channel of the event's tenant alone (not the
/// node-wide ones: a message meant for the tenant's people); returns how many.
pub fn enqueue_for_tenant(conn: &mut DbConnection, event: &Event) -> AppResult<usize> {
    use notify_channels::dsl as c;
    let Some(tenant) = &event.tenant_id else { return Ok(0) };
    let ids: Vec<String> =
        notify_channels::table.filter(c::enabled.eq(true)).filter(c::tenant_id.eq(tenant)).select(c::id).load(conn)?;
    enqueue_to(conn, &ids, event)?;
    Ok(ids.len())
}

/// Writes the event's notification for each of `channel_ids`.
pub fn enqueue_to(conn: &mut DbConnection, channel_ids: &[String], event: &Event) -> AppResult<()> {
    let now = crate::db::now();
    let payload = event.payload.to_string();
    for channel in channel_ids {
        diesel::insert_into(notifications::table)
            .values((
                notifications::id.eq(uuid::Uuid::now_v7().to_string()),
                notifications::channel_id.eq(channel),
                notifications::topic.eq(event.topic),
                notifications::subject.eq(&event.subject),
                notifications::body.eq(&event.body),
                notifications::payload.eq(&payload),
                notifications::status.eq(NotificationStatus::Pending.as_str()),
                notifications::attempts.eq(0),
                notifications::next_attempt_at.eq(now),
                notifications::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A notification as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, Queryable)]
pub struct Notification {
    /// Id (also sent as the webhook's delivery id).
    pub id: String,
    /// The channel.
    pub channel_id: String,
    /// Topic.
    pub topic: String,
    /// Subject.
    pub subject: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Next attempt (UTC).
    pub next_attempt_at: NaiveDateTime,
    /// Written (UTC).
    pub created_at: NaiveDateTime,
    /// Delivered (UTC).
    pub sent_at: Option<NaiveDateTime>,
}

/// The latest notifications, newest first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> AppResult<Vec<Notification>> {
    use notifications::dsl as n;
    Ok(notifications::table
        .order(n::id.desc())
        .limit(limit)
        .select((
            n::id,
            n::channel_id,
            n::topic,
            n::subject,
            n::status,
            n::attempts,
            n::last_error,
            n::next_attempt_at,
            n::created_at,
            n::sent_at,
        ))
        .load(conn)?)
}

/// One notification taken for delivery.
#[derive(Debug, Clone)]
struct Due {
    id: String,
    topic: String,
    subject: String,
    body: String,
    payload: String,
    attempts: i32,
    channel: Channel,
}

/// What one dispatch round did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Delivered {
    /// Delivered now.
    pub sent: usize,
    /// Failed now and to be tried again.
    pub retrying: usize,
    /// Failed for the last time.
    pub failed: usize,
}

/// Takes the due notifications, leasing each so no other dispatcher sends it meanwhile.
fn take_due(conn: &mut DbConnection) -> AppResult<Vec<Due>> {
    use notifications::dsl as n;
    let now = crate::db::now();
    let rows: Vec<(String, String, String, String, String, i32, String)> = notifications::table
        .filter(n::status.eq(NotificationStatus::Pending.as_str()))
        .filter(n::next_attempt_at.le(now))
        .order(n::id)
        .limit(BATCH)
        .select((n::id, n::topic, n::subject, n::body, n::payload, n::attempts, n::channel_id))
        .load(conn)?;
    let mut due = Vec::new();
    for (id, topic, subject, body, payload, attempts, channel_id) in rows {
        let leased = diesel::update(
            notifications::table
                .filter(n::id.eq(&id))
                .filter(n::status.eq(NotificationStatus::Pending.as_str()))
                .filter(n::next_attempt_at.le(now)),
        )
        .set((n::next_attempt_at.eq(now + TimeDelta::seconds(LEASE_SECONDS)), n::attempts.eq(attempts + 1)))
        .execute(conn)?;
        if leased == 1 {
            let channel = channels::get(conn, &channel_id)?;
            due.push(Due { id, topic, subject, body, payload, attempts: attempts + 1, channel });
        }
    }
    Ok(due)
}

/// Seconds before attempt `n + 1`: 30 s doubling to at most an hour.
fn backoff(attempts: i32) -> i64 {
    (30i64 << attempts.clamp(0, 7)).min(3600)
}

fn settle(conn: &mut DbConnection, due: &Due, outcome: &Result<(), String>, max_attempts: u32) -> AppResult<()> {
    use notifications::dsl as n;
    let now = crate::db::now();
    let row = notifications::table.filter(n::id.eq(&due.id));
    match outcome {
        Ok(()) => diesel::update(row)
            .set((
                n::status.eq(NotificationStatus::Sent.as_str()),
                n::sent_at.eq(now),
                n::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        Err(e) if due.attempts as u32 >= max_attempts => diesel::update(row)
            .set((n::status.eq(NotificationStatus::Failed.as_str()), n::last_error.eq(e)))
            .execute(conn)?,
        Err(e) => diesel::update(row)
            .set((n::next_attempt_at.eq(now + TimeDelta::seconds(backoff(due.attempts))), n::last_error.eq(e)))
            .execute(conn)?,
    };
    Ok(())
}

/// What delivers notifications: the mail transport (when `[mail]` names a server) and the
/// HTTP client for webhooks.
pub struct Dispatcher {
    mailer: Option<mail::Mailer>,
    targets: target::TargetPolicy,
    sealer: crate::keys::Sealer,
    node: String,
    max_attempts: u32,
}

impl Dispatcher {
    /// A dispatcher for the node's configuration.
    pub fn new(config: &crate::config::Config) -> AppResult<Dispatcher> {
        Ok(Dispatcher {
            mailer: mail::Mailer::from_config(config)?,
            targets: target::TargetPolicy::new(&config.alerts.webhook_allowed_ranges),
            sealer: config.sealer()?,
            node: config.node.region.as_str().to_owned(),
            max_attempts: config.alerts.max_attempts.max(1),
        })
    }

    async fn deliver(&self, due: &Due) -> Result<(), String> {
        match due.channel.kind {
            ChannelKind::Email => match &self.mailer {
                Some(m) => m.send(&due.channel.target, &due.subject, &due.body).await,
                None => {
                    Err("节点未配置邮件服务器（[mail] smtp_host） / no SMTP server is configured ([mail] smtp_host)"
                        .into())
                }
            },
            ChannelKind::Webhook => {
                let secret = match due.channel.secret.as_deref().map(|s| self.sealer.open(s)).transpose() {
                    Ok(secret) => secret,
                    Err(e) => return Err(e.detail_en),
                };
                webhook::post(
                    &self.targets,
                    &due.channel,
                    secret.as_deref(),
                    &due.id,
                    &due.topic,
                    &self.node,
                    &due.payload,
                )
                .await
            }
        }
    }

    /// Delivers what is due, one round.
    pub async fn dispatch(&self, db: &Db) -> AppResult<Delivered> {
        let due = db.transaction(take_due).await?;
        let mut done = Delivered::default();
        for d in due {
            let outcome = self.deliver(&d).await;
            if let Err(e) = &outcome {
                tracing::warn!(notification = %d.id, channel = %d.channel.id, error = %e, "notification not delivered");
            }
            match &outcome {
                Ok(()) => done.sent += 1,
                Err(_) if d.attempts as u32 >= self.max_attempts => done.failed += 1,
                Err(_) => done.retrying += 1,
            }
            let max = self.max_attempts;
            db.transaction(move |conn| settle(conn, &d, &outcome, max)).await?;
        }
        Ok(done)
    }
}

/// Delivers what is due (for callers that hold the app state).
pub async fn dispatch(state: &crate::app::AppState) -> AppResult<Delivered> {
    state.service::<Dispatcher>()?.dispatch(&state.db).await
}

/// Node staff with `quality.manage` manage channels and alerts; a tenant's caller is refused.
pub async fn require_manager(state: &crate::app::AppState, caller: &crate::auth::caller::Caller) -> AppResult<()> {
    caller.require_staff(state, crate::users::Permission::QualityManage, "notify", "notify.manage").await
}

/// Delivery of queued notifications every `alerts.dispatch_every_seconds` (0: none), once
/// per node (each notification is leased besides, so no two dispatchers send one twice).
pub fn background(state: &actix_web::web::Data<crate::app::AppState>) -> Vec<crate::jobs::Job> {
    use crate::jobs::{Job, Schedule, Scope};
    let every = state.config.alerts.dispatch_every_seconds;
    if every == 0 {
        return Vec::new();
    }
    let s = state.clone();
    vec![Job::scheduled(
        "notify.dispatch",
        "投递通知（邮件、Webhook）",
        Schedule::Every(std::time::Duration::from_secs(every)),
        Scope::Once,
        std::sync::Arc::new(move || {
            let s = s.clone();
            Box::pin(async move {
                let d = dispatch(&s).await?;
                Ok(format!("送达 {}，待重试 {}，失败 {}", d.sent, d.retrying, d.failed))
            })
        }),
    )]
}
