//! Console page of transmission monitoring (数据传输监控): the receiver's load with its
//! charts, the alerts (and a button for staff to check now), and each sender's traffic, with
//! the XLSX export.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::alerts::{self, Alert, AlertQuery};
use super::load::ReceiverLoad;
use super::SenderTraffic;
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, ButtonForm, Shell};
use crate::error::AppResult;
use crate::trace::row::CST_HOURS;
use crate::users::Permission;

#[derive(Template)]
#[template(path = "ingest/monitor/page.html")]
struct MonitorPage {
    shell: Shell,
    rows: Vec<SenderTraffic>,
    load: ReceiverLoad,
    alerts: Vec<Alert>,
    records_chart: String,
    busy_chart: String,
    days: i64,
    can_manage: bool,
    notice: String,
}

impl MonitorPage {
    fn state_zh(&self, s: &str) -> &'static str {
        crate::db::SubmissionStatus::label_zh_of(s)
    }

    fn kind_zh(&self, k: &str) -> &'static str {
        alerts::kind_zh(k)
    }

    fn when(&self, t: &chrono::NaiveDateTime) -> String {
        (*t + chrono::TimeDelta::hours(CST_HOURS)).format("%Y-%m-%d %H:%M").to_string()
    }

    fn seen(&self, t: &Option<chrono::NaiveDateTime>) -> String {
        t.as_ref().map(|t| self.when(t)).unwrap_or_default()
    }

    /// The share of records that were stored, in percent.
    fn stored_share(&self, r: &SenderTraffic) -> String {
        if r.records == 0 {
            return "-".into();
        }
        format!("{:.1}%", r.accepted as f64 * 100.0 / r.records as f64)
    }

    fn open_alerts(&self) -> usize {
        self.alerts.iter().filter(|a| a.status == alerts::status::OPEN).count()
    }
}

/// The window of the monitor page and its export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MonitorQuery {
    /// Days back (1–366, default 30).
    pub days: Option<i64>,
}

/// Everything the page and the export show, for `caller` (a tenant sees its own).
pub async fn gather(
    state: &AppState,
    caller: &Caller,
    days: i64,
) -> AppResult<(Vec<SenderTraffic>, ReceiverLoad, Vec<Alert>)> {
    caller.require(state, Permission::TraceRead, "monitor").await?;
    let since = crate::db::now() - chrono::TimeDelta::days(days);
    let tenant = caller.tenant_id.as_ref().map(|t| t.as_str().to_owned());
    state
        .db
        .run(move |conn| {
            let t = tenant.as_deref();
            Ok((
                super::traffic(conn, t, since)?,
                super::load::load(conn, t)?,
                alerts::list(conn, &AlertQuery::default(), t)?,
            ))
        })
        .await
}

async fn view(state: &AppState, caller: &Caller, days: i64, notice: String) -> AppResult<HttpResponse> {
    let (rows, load, alerts) = gather(state, caller, days).await?;
    render(&MonitorPage {
        shell: Shell::new(state, caller, "数据传输监控", "/ingest"),
        records_chart: super::chart::records(&load.hourly),
        busy_chart: super::chart::busy(&load.hourly),
        rows,
        load,
        alerts: alerts.into_iter().take(20).collect(),
        days,
        can_manage: caller.can(Permission::QualityManage) && caller.tenant_id.is_none(),
        notice,
    })
}

/// 数据传输监控: load, alerts and each sender's traffic.
#[get("/ingest/monitor")]
pub async fn page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<MonitorQuery>,
) -> AppResult<HttpResponse> {
    view(&state, &caller.0, query.days.unwrap_or(30).clamp(1, 366), String::new()).await
}

/// Checks the senders now (node staff).
#[post("/ingest/monitor/check")]
pub async fn check(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    crate::notify::require_manager(&state, &caller).await?;
    let r = alerts::check(&state).await?;
    let notice = format!(
        "检查完成：新告警 {} 条，恢复 {} 条；通知送达 {} 条，待重试 {} 条。",
        r.opened, r.resolved, r.delivered.sent, r.delivered.retrying
    );
    view(&state, &caller, 30, notice).await
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(page).service(check);
}
