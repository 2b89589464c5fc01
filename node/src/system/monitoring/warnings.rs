//! Warnings (运行监测预警). A round computes the indicators over each threshold's trailing
//! window, ending on the last whole day, and compares every entity, site and tenant, stage by
//! stage, with the threshold of that stage (or the default). A value past its bound, on a base
//! at least the threshold's smallest, opens a warning — one open per subject, stage and
//! indicator, which a unique index keeps so even with several processes — and a warning whose
//! value came back (or whose threshold was lifted) is resolved. The merchant activity of a
//! single entity means nothing, so entities are judged on the four other indicators.
//!
//! The channels hear of a round as one digest per tenant (opened and resolved, the first 50 of
//! each named): ten thousand entities falling silent on one day make ten thousand rows in the
//! console, not ten thousand mails.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::indicators::{Filter, Indicator, SubjectIndicators, SubjectKind, Window};
use super::thresholds::{self, Threshold};
use crate::db::schema::monitoring_warnings as mw;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ingest::monitor::alerts::Origin;
use crate::notify::{self, Event};
use crate::trace::row::day_text;

crate::text_status! {
    /// Status of a warning.
    pub enum WarningStatus {
        /// The value is past its bound.
        Open = "open" / "预警中",
        /// The value came back.
        Resolved = "resolved" / "已解除",
    }
}

/// The most warnings named in one digest, of each of opened and resolved.
const NAMED_IN_DIGEST: usize = 50;
/// The most warnings one list returns.
pub const LIST_LIMIT: i64 = 200;

/// A warning.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = mw)]
#[schema(as = MonitoringWarning)]
pub struct Warning {
    /// Id.
    pub id: String,
    /// `entity`, `site` or `tenant`.
    pub subject_kind: String,
    /// The subject's id.
    pub subject_id: String,
    /// Its code.
    pub subject_code: String,
    /// Its name.
    pub subject_name: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Its region.
    pub region: String,
    /// Stage code.
    pub stage: String,
    /// Indicator code.
    pub indicator: String,
    /// The value when it opened, thousandths.
    pub value_milli: i64,
    /// The bound it passed, thousandths.
    pub bound_milli: i64,
    /// First day of the window judged.
    pub window_from: String,
    /// Last day of the window judged.
    pub window_to: String,
    /// `open` or `resolved`.
    pub status: String,
    /// Opened (UTC).
    pub opened_at: NaiveDateTime,
    /// Resolved (UTC).
    pub resolved_at: Option<NaiveDateTime>,
    /// The value when it was resolved (absent: no base left, or the threshold lifted).
    pub resolved_value_milli: Option<i64>,
}

impl Warning {
    /// The indicator's Chinese name.
    pub fn indicator_zh(&self) -> &'static str {
        Indicator::label_zh_of(&self.indicator)
    }

    /// The stage's Chinese name.
    pub fn stage_zh(&self) -> &'static str {
        tracenode_adapters::codes::Stage::from_code(&self.stage).map_or("全部环节", |s| s.label_zh())
    }

    /// The value, as people read it.
    pub fn value_text(&self) -> String {
        Indicator::parse(&self.indicator).map(|i| i.show(Some(self.value_milli))).unwrap_or_default()
    }

    /// The bound, as people read it.
    pub fn bound_text(&self) -> String {
        let Some(i) = Indicator::parse(&self.indicator) else { return String::new() };
        format!("{}{}", if i.higher_is_better() { "不低于 " } else { "不高于 " }, i.show(Some(self.bound_milli)))
    }

    /// The subject kind's Chinese name.
    pub fn kind_zh(&self) -> &'static str {
        SubjectKind::label_zh_of(&self.subject_kind)
    }

    fn line(&self) -> String {
        format!(
            "{}“{}”（{}）{}·{}：{}，阈值{}（{} 至 {}）",
            self.kind_zh(),
            self.subject_name,
            self.subject_code,
            self.stage_zh(),
            self.indicator_zh(),
            self.value_text(),
            self.bound_text(),
            self.window_from,
            self.window_to
        )
    }
}

/// Filters of the warning list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct WarningQuery {
    /// `open` or `resolved`.
    pub status: Option<String>,
    /// Indicator code.
    pub indicator: Option<String>,
    /// `entity`, `site` or `tenant`.
    pub subject_kind: Option<String>,
}

/// The latest [`LIST_LIMIT`] warnings the filter and the caller's reach allow (a tenant's
/// caller: its own; staff: their data scope's tenants and region).
pub fn list(conn: &mut DbConnection, q: &WarningQuery, reach: &Filter) -> AppResult<Vec<Warning>> {
    let mut query = mw::table.order((mw::opened_at.desc(), mw::id.desc())).limit(LIST_LIMIT).into_boxed();
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        let s = WarningStatus::parse(s)
            .ok_or_else(|| AppError::invalid("status", "状态应为 open 或 resolved", "status is open or resolved"))?;
        query = query.filter(mw::status.eq(s.as_str()));
    }
    if let Some(i) = q.indicator.as_deref().filter(|s| !s.is_empty()) {
        let i =
            Indicator::parse(i).ok_or_else(|| AppError::invalid("indicator", "未知的监测指标", "unknown indicator"))?;
        query = query.filter(mw::indicator.eq(i.as_str()));
    }
    if let Some(k) = q.subject_kind.as_deref().filter(|s| !s.is_empty()) {
        let k = SubjectKind::parse(k).ok_or_else(|| {
            AppError::invalid("subject_kind", "对象类型应为 entity、site 或 tenant", "unknown subject kind")
        })?;
        query = query.filter(mw::subject_kind.eq(k.as_str()));
    }
    if let Some(t) = &reach.tenant {
        query = query.filter(mw::tenant_id.eq(t.clone()));
    }
    if !reach.tenants.is_empty() {
        query = query.filter(mw::tenant_id.eq_any(reach.tenants.clone()));
    }
    if let Some(r) = &reach.region {
        query = query.filter(mw::region.like(format!("{}%", r.subtree_prefix())));
    }
    Ok(query.select(Warning::as_select()).load(conn)?)
}

/// What one round did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = WarningRound)]
pub struct Round {
    /// The last day judged.
    pub last_day: String,
    /// Subjects judged (entities, sites and tenants, over every window).
    pub judged: usize,
    /// Warnings opened.
    pub opened: usize,
    /// Warnings resolved.
    pub resolved: usize,
    /// Notifications written.
    pub notifications: usize,
    /// Deliveries made right after the round (when it was run on demand).
    pub delivered: notify::Delivered,
}

type Key = (String, String, String, String);

fn key_of(kind: &str, id: &str, stage: &str, indicator: &str) -> Key {
    (kind.to_owned(), id.to_owned(), stage.to_owned(), indicator.to_owned())
}

/// What a round found: the breaches, and the current value of every open warning judged.
#[derive(Default)]
struct Findings {
    breaches: BTreeMap<Key, Warning>,
    current: HashMap<Key, Option<i64>>,
    judged: usize,
}

impl Findings {
    fn judge(&mut self, all: &[Threshold], s: &SubjectIndicators, w: &Window, days: i32, open: &HashSet<Key>) {
        self.judged += 1;
        for (stage, figures) in &s.by_stage {
            for &indicator in Indicator::ALL {
                if s.subject.kind == SubjectKind::Entity && indicator == Indicator::MerchantActivity {
                    continue;
                }
                let Some(t) = thresholds::of(all, stage, indicator) else { continue };
                if t.window_days != days {
                    continue;
                }
                let key = key_of(s.subject.kind.as_str(), &s.subject.id, stage, indicator.as_str());
                let value = figures.value(indicator).filter(|_| figures.base(indicator) >= t.min_base);
                if open.contains(&key) {
                    self.current.insert(key.clone(), value);
                }
                let (Some(v), Some(bound)) = (value, t.bound_milli) else { continue };
                if t.breached(v) {
                    self.breaches.insert(key, warning(s, stage, indicator, v, bound, w));
                }
            }
        }
    }
}

fn warning(s: &SubjectIndicators, stage: &str, indicator: Indicator, value: i64, bound: i64, w: &Window) -> Warning {
    Warning {
        id: uuid::Uuid::now_v7().to_string(),
        subject_kind: s.subject.kind.as_str().to_owned(),
        subject_id: s.subject.id.clone(),
        subject_code: s.subject.code.clone(),
        subject_name: s.subject.name.clone(),
        tenant_id: s.subject.tenant_id.clone(),
        region: s.subject.region.clone(),
        stage: stage.to_owned(),
        indicator: indicator.as_str().to_owned(),
        value_milli: value,
        bound_milli: bound,
        window_from: day_text(w.from),
        window_to: day_text(w.to),
        status: WarningStatus::Open.as_str().to_owned(),
        opened_at: crate::db::now(),
        resolved_at: None,
        resolved_value_milli: None,
    }
}

/// One round over the windows ending on `last` (the last whole day): opens and resolves
/// warnings and queues one digest per tenant that had either.
pub fn evaluate(conn: &mut DbConnection, origin: &Origin, last: NaiveDate) -> AppResult<Round> {
    let all = thresholds::list(conn)?;
    let intervals = thresholds::intervals(&all);
    let open_now: Vec<Warning> =
        mw::table.filter(mw::status.eq(WarningStatus::Open.as_str())).select(Warning::as_select()).load(conn)?;
    let open_keys: HashSet<Key> =
        open_now.iter().map(|w| key_of(&w.subject_kind, &w.subject_id, &w.stage, &w.indicator)).collect();
    let mut windows: Vec<i32> = all.iter().filter(|t| t.bound_milli.is_some()).map(|t| t.window_days).collect();
    windows.sort_unstable();
    windows.dedup();
    let mut found = Findings::default();
    for days in windows {
        let w = Window::trailing(last, i64::from(days));
        let c = super::compute::compute(conn, &Filter::default(), w, &intervals)?;
        for s in c.entities.iter().chain(&c.sites).chain(&c.tenants) {
            found.judge(&all, s, &w, days, &open_keys);
        }
    }
    let mut opened = Vec::new();
    for (key, w) in &found.breaches {
        if !open_keys.contains(key) && open(conn, w)? {
            opened.push(w.clone());
        }
    }
    let now = crate::db::now();
    let mut resolved = Vec::new();
    for mut w in open_now {
        let key = key_of(&w.subject_kind, &w.subject_id, &w.stage, &w.indicator);
        if found.breaches.contains_key(&key) {
            continue;
        }
        w.resolved_value_milli = found.current.get(&key).copied().flatten();
        w.resolved_at = Some(now);
        if resolve(conn, &w)? {
            w.status = WarningStatus::Resolved.as_str().to_owned();
            resolved.push(w);
        }
    }
    let notifications = tell(conn, origin, &opened, &resolved)?;
    Ok(Round {
        last_day: day_text(last),
        judged: found.judged,
        opened: opened.len(),
        resolved: resolved.len(),
        notifications,
        delivered: notify::Delivered::default(),
    })
}

fn open(conn: &mut DbConnection, w: &Warning) -> AppResult<bool> {
    let row = (
        mw::id.eq(&w.id),
        mw::subject_kind.eq(&w.subject_kind),
        mw::subject_id.eq(&w.subject_id),
        mw::subject_code.eq(&w.subject_code),
        mw::subject_name.eq(&w.subject_name),
        mw::tenant_id.eq(&w.tenant_id),
        mw::region.eq(&w.region),
        mw::stage.eq(&w.stage),
        mw::indicator.eq(&w.indicator),
        mw::value_milli.eq(w.value_milli),
        mw::bound_milli.eq(w.bound_milli),
        mw::window_from.eq(&w.window_from),
        mw::window_to.eq(&w.window_to),
        mw::status.eq(&w.status),
        mw::opened_at.eq(w.opened_at),
    );
    // Another process may have opened it meanwhile: the unique index of open warnings decides.
    let inserted: usize =
        crate::on_backend!(conn, |c| diesel::insert_into(mw::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(inserted == 1)
}

fn resolve(conn: &mut DbConnection, w: &Warning) -> AppResult<bool> {
    let done = diesel::update(mw::table.find(&w.id).filter(mw::status.eq(WarningStatus::Open.as_str())))
        .set((
            mw::status.eq(WarningStatus::Resolved.as_str()),
            mw::resolved_at.eq(w.resolved_at),
            mw::resolved_value_milli.eq(w.resolved_value_milli),
        ))
        .execute(conn)?;
    Ok(done == 1)
}

/// Queues one digest per tenant with warnings opened or resolved; returns the notifications.
fn tell(conn: &mut DbConnection, origin: &Origin, opened: &[Warning], resolved: &[Warning]) -> AppResult<usize> {
    let mut by_tenant: BTreeMap<&str, (Vec<&Warning>, Vec<&Warning>)> = BTreeMap::new();
    for w in opened {
        by_tenant.entry(&w.tenant_id).or_default().0.push(w);
    }
    for w in resolved {
        by_tenant.entry(&w.tenant_id).or_default().1.push(w);
    }
    let mut n = 0;
    for (tenant, (o, r)) in by_tenant {
        let id = crate::ids::TenantId::from_db(tenant.to_owned());
        let name = crate::tenants::get(conn, &id).map(|t| t.name).unwrap_or_else(|_| tenant.to_owned());
        n += notify::enqueue(conn, &digest(origin, tenant, &name, &o, &r))?;
    }
    Ok(n)
}

fn digest(origin: &Origin, tenant: &str, name: &str, opened: &[&Warning], resolved: &[&Warning]) -> Event {
    let section = |title: &str, ws: &[&Warning]| {
        if ws.is_empty() {
            return String::new();
        }
        let mut s = format!("{title}（{} 条）：\n", ws.len());
        for w in ws.iter().take(NAMED_IN_DIGEST) {
            s.push_str(&format!("  - {}\n", w.line()));
        }
        if ws.len() > NAMED_IN_DIGEST {
            s.push_str(&format!("  ……其余 {} 条请在控制台查看\n", ws.len() - NAMED_IN_DIGEST));
        }
        s + "\n"
    };
    let body = format!(
        "{}{}节点：{}（{}）\n请在控制台“体系建设 › 主体运行监测 › 预警”页面查看（/system-building/monitoring/warnings）。\n\
         Operation monitoring: {} warning(s) opened, {} resolved for tenant {}.\n",
        section("新增预警", opened),
        section("已解除", resolved),
        origin.name,
        origin.region,
        opened.len(),
        resolved.len(),
        name
    );
    let named = |ws: &[&Warning]| ws.iter().take(NAMED_IN_DIGEST).map(|w| (*w).clone()).collect::<Vec<Warning>>();
    Event {
        topic: "monitoring.warning",
        tenant_id: Some(tenant.to_owned()),
        subject: format!(
            "【{}】运行监测预警：{} 新增 {} 条、解除 {} 条",
            origin.name,
            name,
            opened.len(),
            resolved.len()
        ),
        body,
        payload: serde_json::json!({
            "topic": "monitoring.warning",
            "tenant": tenant,
            "opened": opened.len(),
            "resolved": resolved.len(),
            "opened_first": named(opened),
            "resolved_first": named(resolved),
            "node": {"name": origin.name, "region": origin.region},
        }),
    }
}
