//! Alerts of transmission monitoring (数据传输监控告警): a sender that falls silent past
//! the interval its tenant's policy expects, or whose last `alerts.failures_in_a_row`
//! submissions were all refused or failed. An alert opens once per tenant and kind (a
//! unique index keeps it so, even with several processes), tells the notification channels,
//! and resolves — telling them again — when the sender is back.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::dsl::max;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{alerts, ingest_policies, submissions};
use crate::db::DbConnection;
use crate::db::SubmissionStatus;
use crate::error::{AppError, AppResult};
use crate::notify::{self, Event};
use crate::tenants::Tenant;
use crate::trace::row::CST_HOURS;

/// The kinds of alert.
pub mod kind {
    /// Silent past the expected interval.
    pub const SILENT: &str = "silent";
    /// Refused or failed submissions in a row.
    pub const FAILING: &str = "failing";
}

/// Status of an alert.
pub mod status {
    /// The condition holds.
    pub const OPEN: &str = "open";
    /// The sender is back.
    pub const RESOLVED: &str = "resolved";
}

/// Chinese label of a kind.
pub fn kind_zh(k: &str) -> &'static str {
    match k {
        kind::SILENT => "超时未报送",
        kind::FAILING => "连续报送失败",
        _ => "其他",
    }
}

/// An alert.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, Queryable, Selectable)]
#[diesel(table_name = alerts)]
pub struct Alert {
    /// Id.
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Sender (the tenant's code).
    pub sender: String,
    /// `silent` or `failing`.
    pub kind: String,
    /// Chinese detail.
    pub detail_zh: String,
    /// English detail.
    pub detail_en: String,
    /// `open` or `resolved`.
    pub status: String,
    /// Opened (UTC).
    pub opened_at: NaiveDateTime,
    /// Resolved (UTC).
    pub resolved_at: Option<NaiveDateTime>,
}

/// Filters of the alert list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct AlertQuery {
    /// `open` or `resolved`.
    pub status: Option<String>,
}

/// The latest 200 alerts of `tenant` (all when `None`).
pub fn list(conn: &mut DbConnection, q: &AlertQuery, tenant: Option<&str>) -> AppResult<Vec<Alert>> {
    let mut query = alerts::table.order((alerts::opened_at.desc(), alerts::id.desc())).limit(200).into_boxed();
    if let Some(t) = tenant {
        query = query.filter(alerts::tenant_id.eq(t.to_owned()));
    }
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        if ![status::OPEN, status::RESOLVED].contains(&s) {
            return Err(AppError::invalid("status", "状态应为 open 或 resolved", "status is open or resolved"));
        }
        query = query.filter(alerts::status.eq(s.to_owned()));
    }
    Ok(query.select(Alert::as_select()).load(conn)?)
}

/// What one check did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct CheckReport {
    /// Alerts opened.
    pub opened: usize,
    /// Alerts resolved.
    pub resolved: usize,
    /// Notifications written.
    pub notifications: usize,
    /// Deliveries of this round.
    pub delivered: notify::Delivered,
}

/// The node an alert comes from, named in its mail.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The node's name.
    pub name: String,
    /// Its region code.
    pub region: String,
}

/// A condition found for one tenant.
struct Finding {
    kind: &'static str,
    zh: String,
    en: String,
}

fn beijing(t: NaiveDateTime) -> String {
    (t + TimeDelta::hours(CST_HOURS)).format("%Y-%m-%d %H:%M").to_string()
}

/// Whether `tenant` is silent: its policy expects a submission every `every` minutes and the
/// last one (or, without one, the policy itself) is older than that.
fn silence(
    t: &Tenant,
    every: i32,
    since: NaiveDateTime,
    last: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Option<Finding> {
    let lag = (now - last.unwrap_or(since)).num_minutes();
    if lag <= i64::from(every) {
        return None;
    }
    let (last_zh, last_en) = match last {
        Some(l) => (
            format!("最近一次报送于 {}（北京时间）", beijing(l)),
            format!("last submission {} (Beijing time)", beijing(l)),
        ),
        None => ("尚未报送过".to_owned(), "never submitted".to_owned()),
    };
    Some(Finding {
        kind: kind::SILENT,
        zh: format!("发送方“{}”（{}）已 {lag} 分钟未报送，应报周期为 {every} 分钟；{last_zh}。", t.code, t.name),
        en: format!(
            "sender {} ({}) has not submitted for {lag} minutes; expected every {every} minutes; {last_en}.",
            t.code, t.name
        ),
    })
}

/// Whether `tenant`'s last `n` finished submissions were all refused or failed.
fn failing(conn: &mut DbConnection, t: &Tenant, n: u32) -> AppResult<Option<Finding>> {
    use submissions::dsl as s;
    if n == 0 {
        return Ok(None);
    }
    let last: Vec<String> = submissions::table
        .filter(s::tenant_id.eq(t.id.as_str()))
        .filter(s::dry_run.eq(false))
        .filter(s::status.eq_any([
            SubmissionStatus::Stored.as_str(),
            SubmissionStatus::Refused.as_str(),
            SubmissionStatus::Failed.as_str(),
        ]))
        .order((s::created_at.desc(), s::id.desc()))
        .limit(i64::from(n))
        .select(s::status)
        .load(conn)?;
    let all_bad = last.len() == n as usize && last.iter().all(|st| SubmissionStatus::is_failure_text(st));
    Ok(all_bad.then(|| Finding {
        kind: kind::FAILING,
        zh: format!("发送方“{}”（{}）最近连续 {n} 次报送被整批拒收或处理失败。", t.code, t.name),
        en: format!("sender {} ({}): the last {n} submissions were refused whole or failed.", t.code, t.name),
    }))
}

fn event(topic: &'static str, origin: &Origin, alert: &Alert, tenant: &Tenant) -> Event {
    let opened = topic == "alert.opened";
    let subject = format!(
        "【{}】{}：{}（{}）{}",
        origin.name,
        if opened { "告警" } else { "已恢复" },
        tenant.name,
        tenant.code,
        kind_zh(&alert.kind)
    );
    let body = if opened {
        format!(
            "{}\n{}\n\n发生时间：{}（北京时间）\n节点：{}（{}）\n请在控制台“数据传输监控”页面查看（/ingest/monitor）。\n",
            alert.detail_zh,
            alert.detail_en,
            beijing(alert.opened_at),
            origin.name,
            origin.region
        )
    } else {
        format!(
            "发送方“{}”已恢复正常报送，告警解除。\nSender {} is back; the alert is resolved.\n\n原告警：{}\n恢复时间：{}（北京时间）\n节点：{}（{}）\n",
            tenant.code,
            tenant.code,
            alert.detail_zh,
            alert.resolved_at.map(beijing).unwrap_or_default(),
            origin.name,
            origin.region
        )
    };
    Event {
        topic,
        tenant_id: Some(alert.tenant_id.clone()),
        subject,
        body,
        payload: serde_json::json!({"topic": topic, "alert": alert, "node": {"name": origin.name, "region": origin.region}}),
    }
}

/// Opens the alert of `finding` unless one is open; returns the notifications written.
fn open(conn: &mut DbConnection, origin: &Origin, t: &Tenant, f: &Finding, now: NaiveDateTime) -> AppResult<usize> {
    let alert = Alert {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: t.id.as_str().to_owned(),
        sender: t.code.clone(),
        kind: f.kind.to_owned(),
        detail_zh: f.zh.clone(),
        detail_en: f.en.clone(),
        status: status::OPEN.to_owned(),
        opened_at: now,
        resolved_at: None,
    };
    let row = (
        alerts::id.eq(&alert.id),
        alerts::tenant_id.eq(&alert.tenant_id),
        alerts::sender.eq(&alert.sender),
        alerts::kind.eq(&alert.kind),
        alerts::detail_zh.eq(&alert.detail_zh),
        alerts::detail_en.eq(&alert.detail_en),
        alerts::status.eq(status::OPEN),
        alerts::opened_at.eq(now),
    );
    // Another process may have opened it meanwhile: the unique index of open alerts decides.
    let inserted: usize = crate::on_backend!(conn, |c| diesel::insert_into(alerts::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 0 {
        return Ok(0);
    }
    tracing::warn!(tenant = %t.code, kind = f.kind, "alert opened");
    notify::enqueue(conn, &event("alert.opened", origin, &alert, t))
}

fn resolve(conn: &mut DbConnection, origin: &Origin, t: &Tenant, id: &str, now: NaiveDateTime) -> AppResult<usize> {
    let done = diesel::update(alerts::table.find(id).filter(alerts::status.eq(status::OPEN)))
        .set((alerts::status.eq(status::RESOLVED), alerts::resolved_at.eq(now)))
        .execute(conn)?;
    if done == 0 {
        return Ok(0);
    }
    let alert: Alert = alerts::table.find(id).select(Alert::as_select()).first(conn)?;
    tracing::info!(tenant = %t.code, kind = %alert.kind, "alert resolved");
    notify::enqueue(conn, &event("alert.resolved", origin, &alert, t))
}

/// Looks at every active tenant: opens the alerts whose condition holds and resolves those
/// whose condition has passed.
pub fn evaluate(conn: &mut DbConnection, origin: &Origin, failures_in_a_row: u32) -> AppResult<CheckReport> {
    let now = crate::db::now();
    let tenants: Vec<Tenant> = crate::tenants::list_all(conn)?.into_iter().filter(|t| t.is_active()).collect();
    let schedules: HashMap<String, (i32, NaiveDateTime)> = ingest_policies::table
        .filter(ingest_policies::expected_every_minutes.is_not_null())
        .select((ingest_policies::tenant_id, ingest_policies::expected_every_minutes, ingest_policies::updated_at))
        .load::<(String, Option<i32>, NaiveDateTime)>(conn)?
        .into_iter()
        .filter_map(|(t, every, at)| every.map(|e| (t, (e, at))))
        .collect();
    let last_seen: HashMap<String, Option<NaiveDateTime>> = submissions::table
        .filter(submissions::dry_run.eq(false))
        .group_by(submissions::tenant_id)
        .select((submissions::tenant_id, max(submissions::created_at)))
        .load(conn)?
        .into_iter()
        .collect();
    let open_now: HashMap<(String, String), String> = alerts::table
        .filter(alerts::status.eq(status::OPEN))
        .select((alerts::tenant_id, alerts::kind, alerts::id))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(t, k, id)| ((t, k), id))
        .collect();
    let mut report = CheckReport::default();
    for t in &tenants {
        let key = t.id.as_str();
        let last = last_seen.get(key).copied().flatten();
        let silent = schedules.get(key).and_then(|&(every, since)| silence(t, every, since, last, now));
        let failed = failing(conn, t, failures_in_a_row)?;
        for (k, finding) in [(kind::SILENT, silent), (kind::FAILING, failed)] {
            let open_id = open_now.get(&(key.to_owned(), k.to_owned()));
            match (finding, open_id) {
                (Some(f), None) => {
                    let n = open(conn, origin, t, &f, now)?;
                    report.opened += 1;
                    report.notifications += n;
                }
                (None, Some(id)) => {
                    report.notifications += resolve(conn, origin, t, id, now)?;
                    report.resolved += 1;
                }
                _ => {}
            }
        }
    }
    Ok(report)
}

/// One check: evaluates the senders, then delivers what is due.
pub async fn check(state: &crate::app::AppState) -> AppResult<CheckReport> {
    let mut report = evaluate_now(state).await?;
    report.delivered = notify::dispatch(state).await?;
    Ok(report)
}

/// Evaluates the alert conditions and queues their notifications (the job `ingest.alerts`;
/// the job `notify.dispatch` delivers them on its own timer).
pub async fn evaluate_now(state: &crate::app::AppState) -> AppResult<CheckReport> {
    let origin = Origin { name: state.config.node.name.clone(), region: state.config.node.region.as_str().to_owned() };
    let n = state.config.alerts.failures_in_a_row;
    state.db.transaction(move |conn| evaluate(conn, &origin, n)).await
}
