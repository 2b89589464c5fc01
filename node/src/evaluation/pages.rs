//! The console pages of monitoring evaluation (监测评价): the indicator sets with their
//! latest versions and a form to run one for a period, the runs, and one run's results —
//! grade counts and the ranked list.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::runs::{self, ObjectResult, ResultQuery, Run};
use super::set::Grade;
use super::sets::{self, Set};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, NavItem, Shell};
use crate::error::AppResult;
use crate::users::Permission;

/// The capability's entry in the navigation.
pub const NAV: NavItem = NavItem::page("/evaluation", "监测评价");

#[derive(Template)]
#[template(path = "evaluation/index.html")]
struct IndexPage {
    shell: Shell,
    sets: Vec<Set>,
    runs: Vec<Run>,
    can_manage: bool,
    notice: String,
    error: String,
}

async fn index_view(state: &AppState, caller: &Caller, notice: String, error: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::EvaluationRead, "evaluation").await?;
    let (sets, runs) = state.db.run(|conn| Ok((sets::latest(conn)?, runs::list(conn, None)?))).await?;
    render(&IndexPage {
        shell: Shell::new(state, caller, "监测评价", "/evaluation"),
        sets,
        runs,
        can_manage: caller.tenant_id.is_none() && caller.can(Permission::EvaluationManage),
        notice,
        error,
    })
}

/// 监测评价: the sets and the runs.
#[get("/evaluation")]
pub async fn index(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    index_view(&state, &caller.0, String::new(), String::new()).await
}

/// A run asked for in the console.
#[derive(Debug, Deserialize)]
pub struct RunForm {
    csrf: String,
    set: String,
    period: String,
}

/// Runs a set for a period from the console.
#[post("/evaluation/runs")]
pub async fn start_run(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<RunForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    super::api::require_manager(&state, &caller).await?;
    let (set, period) = (form.set.clone(), form.period.trim().to_owned());
    match super::run_now(&state, caller.audit(), set, None, period).await {
        Ok(r) => results_view(&state, &caller, r.id, ResultQuery::default()).await,
        Err(e) if e.is_for_the_form() => index_view(&state, &caller, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "evaluation/run.html")]
struct RunPage {
    shell: Shell,
    run: Run,
    results: Vec<ObjectResult>,
    counts: Vec<(&'static str, i64)>,
    regions: Vec<(String, [i64; 5])>,
}

impl RunPage {
    /// The width of a grade's bar, of 400.
    fn bar(&self, n: &i64) -> i64 {
        let top = self.counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
        n * 400 / top
    }

    fn region_name(&self, code: &str) -> String {
        crate::region::RegionCode::parse(code).map(|r| r.name().to_owned()).unwrap_or_default()
    }

    fn trend_link(&self, r: &ObjectResult) -> String {
        format!("/evaluation/objects/{}?set={}", r.object_id, self.run.set_code)
    }

    fn score(&self, r: &ObjectResult) -> String {
        r.score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into())
    }

    fn rank(&self, r: &ObjectResult) -> String {
        r.rank.map(|k| k.to_string()).unwrap_or_default()
    }
}

async fn results_view(state: &AppState, caller: &Caller, id: String, q: ResultQuery) -> AppResult<HttpResponse> {
    let (q, tenant) = super::api::reach(state, caller, q).await?;
    let digits = match state.config.node.region.level() {
        crate::region::RegionLevel::National => 2,
        crate::region::RegionLevel::Province => 4,
        _ => 6,
    };
    let (run, results, regions) = state
        .db
        .run(move |conn| {
            Ok((
                runs::get(conn, &id)?,
                runs::results(conn, &id, &q, tenant.as_deref())?,
                runs::by_region(conn, &id, digits, tenant.as_deref())?,
            ))
        })
        .await?;
    let counts =
        Grade::ALL.iter().enumerate().map(|(k, g)| (g.label_zh(), regions.iter().map(|(_, n)| n[k]).sum())).collect();
    render(&RunPage { shell: Shell::new(state, caller, "评价结果", "/evaluation"), run, results, counts, regions })
}

/// 评价结果: one run's results, ranked.
#[get("/evaluation/runs/{id}")]
pub async fn run_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    query: web::Query<ResultQuery>,
) -> AppResult<HttpResponse> {
    results_view(&state, &caller.0, path.into_inner(), query.into_inner()).await
}

#[derive(Template)]
#[template(path = "evaluation/object.html")]
struct ObjectPage {
    shell: Shell,
    set: String,
    points: Vec<runs::TrendPoint>,
    chart: String,
}

impl ObjectPage {
    fn score(&self, p: &runs::TrendPoint) -> String {
        p.score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into())
    }

    fn grade_zh(&self, p: &runs::TrendPoint) -> &'static str {
        Grade::label_zh_of(&p.grade)
    }
}

/// Which set's trend.
#[derive(Debug, Deserialize)]
pub struct SetQuery {
    set: String,
}

/// 评价趋势: one object's score across periods.
#[get("/evaluation/objects/{id}")]
pub async fn object_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    query: web::Query<SetQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::EvaluationRead, "evaluation_results").await?;
    let tenant = caller.tenant_id.as_ref().map(|t| t.as_str().to_owned());
    let (id, set) = (path.into_inner(), query.into_inner().set);
    let s = set.clone();
    let points = state.db.run(move |conn| runs::trend(conn, &s, &id, tenant.as_deref())).await?;
    render(&ObjectPage {
        shell: Shell::new(&state, &caller, "评价趋势", "/evaluation"),
        chart: super::chart::scores(&points),
        set,
        points,
    })
}

#[derive(Template)]
#[template(path = "evaluation/report.html")]
struct ReportPage {
    shell: Shell,
    report: super::report::Report,
    can_manage: bool,
    notice: String,
}

impl ReportPage {
    fn score(&self, r: &ObjectResult) -> String {
        r.score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into())
    }

    fn mean(&self) -> String {
        self.report.mean_score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into())
    }

    fn rate(&self, v: &Option<i64>) -> String {
        crate::system::monitoring::indicators::Indicator::RejectionRate.show(*v)
    }
}

async fn report_view(state: &AppState, caller: &Caller, id: String, notice: String) -> AppResult<HttpResponse> {
    let (_, tenant) = super::api::reach(state, caller, ResultQuery::default()).await?;
    let (report, _) = state.db.run(move |conn| super::report::build(conn, &id, tenant.as_deref())).await?;
    render(&ReportPage {
        shell: Shell::new(state, caller, "监测评价报告", "/evaluation"),
        report,
        can_manage: caller.tenant_id.is_none() && caller.can(Permission::EvaluationManage),
        notice,
    })
}

/// 监测评价报告: a run's report, printable.
#[get("/evaluation/runs/{id}/report")]
pub async fn report_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    report_view(&state, &caller.0, path.into_inner(), String::new()).await
}

/// Mails a run's report from the console.
#[post("/evaluation/runs/{id}/send")]
pub async fn send_report(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<crate::console::ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    super::api::require_manager(&state, &caller).await?;
    let id = path.into_inner();
    let sent = super::api::send_now(&state, &caller, id.clone()).await?;
    let notice = format!(
        "已为 {} 个租户生成评价通知，共 {} 条{}。",
        sent.tenants,
        sent.notifications,
        if sent.notifications == 0 {
            "（本级和各租户尚未设置通知渠道，未发送邮件）"
        } else {
            "，由通知发件队列投递"
        }
    );
    report_view(&state, &caller, id, notice).await
}

#[derive(Template)]
#[template(path = "evaluation/tiers.html")]
struct TiersPage {
    shell: Shell,
    sets: Vec<Set>,
    set_code: String,
    period: String,
    view: Option<super::jurisdiction::TierView>,
    results: Vec<super::held::HeldResult>,
    error: String,
}

impl TiersPage {
    fn score(&self, s: &Option<f64>) -> String {
        s.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into())
    }

    fn rank(&self, r: &Option<i64>) -> String {
        r.map(|k| k.to_string()).unwrap_or_default()
    }

    fn drill(&self, region: &str) -> String {
        format!("/evaluation/tiers?set={}&period={}&region={region}", self.set_code, self.period)
    }

    fn csv(&self) -> String {
        let region = self.view.as_ref().map(|v| v.region.as_str()).unwrap_or("");
        format!(
            "/api/v1/evaluation/jurisdiction/results.csv?set={}&period={}&region={region}",
            self.set_code, self.period
        )
    }
}

/// What the tiers page shows.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TiersQuery {
    set: String,
    period: String,
    region: String,
}

/// 逐级评价: a jurisdiction ranked against the others of its tier, with drill-down.
#[get("/evaluation/tiers")]
pub async fn tiers_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<TiersQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let q = query.into_inner();
    let region = super::api::tier_reach(&state, &caller, Some(q.region.as_str())).await?;
    let own = state.config.node.region.as_str().to_owned();
    let (set_code, period) = (q.set.trim().to_owned(), q.period.trim().to_owned());
    let (s, p) = (set_code.clone(), period.clone());
    let (sets, shown) = state
        .db
        .run(move |conn| {
            let sets = sets::latest(conn)?;
            if s.is_empty() || p.is_empty() {
                return Ok((sets, Ok(None)));
            }
            let shown = (|| -> AppResult<Option<(super::jurisdiction::TierView, Vec<super::held::HeldResult>)>> {
                let set = sets::get(conn, &s, None)?;
                let view = super::jurisdiction::view(conn, &own, &set, &p, &region)?;
                let key = super::jurisdiction::Key { set: set.code, version: set.version, period: view.period.clone() };
                let results = super::held::of_region(conn, &own, &key, &region, 1)?;
                Ok(Some((view, results)))
            })();
            Ok((sets, shown))
        })
        .await?;
    let (view, results, error) = match shown {
        Ok(Some((v, r))) => (Some(v), r, String::new()),
        Ok(None) => (None, Vec::new(), String::new()),
        Err(e) if e.is_for_the_form() || e.kind == crate::error::ErrorKind::NotFound => {
            (None, Vec::new(), if e.detail_zh.is_empty() { "未找到该指标体系".to_owned() } else { e.detail_zh })
        }
        Err(e) => return Err(e),
    };
    render(&TiersPage {
        shell: Shell::new(&state, &caller, "逐级评价", "/evaluation"),
        sets,
        set_code,
        period,
        view,
        results,
        error,
    })
}

#[derive(Template)]
#[template(path = "evaluation/set_form.html")]
struct SetFormPage {
    shell: Shell,
    v: super::set_form::Values,
    editing: bool,
    stages: Vec<(&'static str, &'static str)>,
    measures: Vec<(&'static str, &'static str)>,
    error: String,
}

impl SetFormPage {
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

async fn set_form_view(
    state: &AppState,
    caller: &Caller,
    v: super::set_form::Values,
    editing: bool,
    error: String,
) -> AppResult<HttpResponse> {
    super::api::require_manager(state, caller).await?;
    let stages = tracenode_adapters::codes::Stage::ALL.iter().map(|s| (s.code(), s.label_zh())).collect();
    render(&SetFormPage {
        shell: Shell::new(state, caller, "评价指标体系", "/evaluation"),
        v,
        editing,
        stages,
        measures: super::set::measures(),
        error,
    })
}

/// 新建指标体系.
#[get("/evaluation/sets/new")]
pub async fn new_set(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    set_form_view(&state, &caller.0, super::set_form::Values::blank(), false, String::new()).await
}

/// 修改指标体系: the form filled with the latest version, to save the next.
#[get("/evaluation/sets/{code}/edit")]
pub async fn edit_set(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let code = path.into_inner();
    let set = state.db.run(move |conn| sets::get(conn, &code, None)).await?;
    set_form_view(&state, &caller.0, super::set_form::Values::of(&set.definition), true, String::new()).await
}

/// Saves a set from the console; a fault shows the form again with what was entered.
#[post("/evaluation/sets")]
pub async fn save_set(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<std::collections::HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(form.get("csrf").map(String::as_str).unwrap_or(""))?;
    super::api::require_manager(&state, &caller).await?;
    let v = super::set_form::Values::posted(&form);
    let editing = state
        .db
        .run({
            let code = v.code.clone();
            move |conn| Ok(sets::get(conn, &code, None).is_ok())
        })
        .await?;
    let saved = match v.input() {
        Ok(input) => super::save_set(&state, caller.audit(), input).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(s) => {
            index_view(&state, &caller, format!("已保存指标体系 {} 第 {} 版。", s.code, s.version), String::new()).await
        }
        Err(e) if e.is_for_the_form() => {
            let field = e.field.clone().map(|f| format!("（{f}）")).unwrap_or_default();
            set_form_view(&state, &caller, v, editing, format!("{}{field}", e.detail_zh)).await
        }
        Err(e) => Err(e),
    }
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(index)
        .service(start_run)
        .service(run_page)
        .service(object_page)
        .service(report_page)
        .service(send_report)
        .service(tiers_page)
        .service(new_set)
        .service(edit_set)
        .service(save_set);
}
