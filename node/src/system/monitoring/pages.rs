//! The console pages of operation monitoring (体系建设 › 主体运行监测): the indicators of
//! one view with its filters, a tile map of the divisions below the region shown (each tile
//! coloured by whether its value is past the threshold), the trend of one subject, the
//! thresholds (staff with `monitoring.manage` change them), and the warnings.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use tracenode_adapters::codes::Stage;

use super::api::{self, TrendQuery};
use super::indicators::{Indicator, Interval, SubjectIndicators};
use super::listing::{self, ListQuery, Listing, View};
use super::thresholds::{self, Threshold, ThresholdInput};
use super::trend::{self, Point};
use super::warnings::{self, Warning, WarningQuery};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, ButtonForm, Shell};
use crate::error::AppResult;
use crate::users::Permission;

const SECTION: &str = "/system-building";

/// One tile of the map: a division and its value of the indicator shown.
struct Tile {
    x: f64,
    y: f64,
    code: String,
    name: String,
    value: String,
    fill: &'static str,
}

const TILE_W: f64 = 150.0;
const TILE_H: f64 = 52.0;
const COLUMNS: usize = 5;

fn tiles(rows: &[SubjectIndicators], shown: Indicator, all: &[Threshold], stage: &str) -> Vec<Tile> {
    rows.iter()
        .enumerate()
        .map(|(k, r)| {
            let v = r.figures(stage).and_then(|f| f.value(shown));
            let fill = match (v, thresholds::of(all, stage, shown)) {
                (None, _) => "#eef2f6",
                (Some(v), Some(t)) if t.breached(v) => "#fde2e1",
                (Some(_), _) => "#dcf5e7",
            };
            Tile {
                x: (k % COLUMNS) as f64 * TILE_W,
                y: (k / COLUMNS) as f64 * (TILE_H + 4.0),
                code: r.subject.code.clone(),
                name: r.subject.name.clone(),
                value: shown.show(v),
                fill,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "system/monitoring/index.html")]
struct IndexPage {
    shell: Shell,
    q: ListQuery,
    listing: Listing,
    all: Vec<Threshold>,
    tiles: Vec<Tile>,
    tiles_height: f64,
    shown: Indicator,
    region_name: String,
    open_warnings: usize,
    export: String,
    error: String,
}

impl IndexPage {
    fn stage(&self) -> String {
        self.q.stage.clone().unwrap_or_default()
    }

    fn text(&self, r: &SubjectIndicators, i: &Indicator) -> String {
        i.show(r.figures(&self.stage()).and_then(|f| f.value(*i)))
    }

    fn past(&self, r: &SubjectIndicators, i: &Indicator) -> bool {
        let stage = self.stage();
        let t = thresholds::of(&self.all, &stage, *i);
        let f = r.figures(&stage);
        matches!((t, f), (Some(t), Some(f)) if f.base(*i) >= t.min_base && f.value(*i).is_some_and(|v| t.breached(v)))
    }

    fn count(&self, r: &SubjectIndicators, what: &str) -> i64 {
        let f = r.figures(&self.stage()).copied().unwrap_or_default();
        match what {
            "records" => f.records,
            "rejected" => f.rejected,
            "entities" => f.entities,
            _ => 0,
        }
    }

    fn indicators(&self) -> Vec<Indicator> {
        Indicator::ALL.to_vec()
    }

    fn stages(&self) -> Vec<(&'static str, &'static str)> {
        Stage::ALL.iter().map(|s| (s.code(), s.label_zh())).collect()
    }

    fn views(&self) -> Vec<(&'static str, &'static str)> {
        View::ALL.iter().map(|v| (v.as_str(), v.label_zh())).collect()
    }

    fn is(&self, field: &str, value: &str) -> bool {
        let got = match field {
            "stage" => &self.q.stage,
            "view" => &self.q.view,
            "sort" => &self.q.sort,
            _ => &None,
        };
        got.as_deref().unwrap_or("") == value
    }

    fn field(&self, field: &str) -> String {
        match field {
            "month" => self.q.month.clone(),
            "from" => self.q.from.clone(),
            "to" => self.q.to.clone(),
            "region" => self.q.region.clone(),
            "tenant" => self.q.tenant.clone(),
            "site" => self.q.site.clone(),
            _ => None,
        }
        .unwrap_or_default()
    }

    /// The query of this page without its page number, for the pager and the links.
    fn query(&self) -> String {
        query_of(&self.q)
    }

    fn trend_link(&self, r: &SubjectIndicators) -> String {
        format!("/system-building/monitoring/trend?kind={}&id={}", r.subject.kind.as_str(), r.subject.id)
    }

    fn tile_width(&self) -> f64 {
        TILE_W - 4.0
    }
}

fn query_of(q: &ListQuery) -> String {
    let parts = [
        ("view", &q.view),
        ("month", &q.month),
        ("from", &q.from),
        ("to", &q.to),
        ("stage", &q.stage),
        ("tenant", &q.tenant),
        ("site", &q.site),
        ("region", &q.region),
        ("sort", &q.sort),
        ("beyond", &q.beyond),
    ];
    parts
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref().filter(|v| !v.is_empty()).map(|v| {
                format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC))
            })
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn index_view(state: &AppState, caller: &Caller, q: ListQuery, error: String) -> AppResult<HttpResponse> {
    let (f, w, asked, shown_region) = api::listed(state, caller, &q).await?;
    let page = q.page.unwrap_or(1);
    let shown = asked.sort.unwrap_or(Indicator::ReportingRate);
    let stage = f.stage.clone().unwrap_or_default();
    let map_asked = listing::Asked { view: View::Regions, sort: None, beyond: None };
    let reach = super::reach(caller);
    let (listing, regions, all, open_warnings) = {
        let (f, shown_region) = (f.clone(), shown_region.clone());
        state
            .db
            .run(move |conn| {
                // One computation serves the list and the map.
                let (all, c) = listing::computed(conn, &f, w)?;
                let rows = listing::view_rows(&c, &all, &f, &asked, &shown_region);
                let regions = listing::view_rows(&c, &all, &f, &map_asked, &shown_region);
                let listing = listing::paged(w, asked.view, c.total, rows, page);
                let open = WarningQuery { status: Some("open".into()), ..Default::default() };
                Ok((listing, regions, all, warnings::list(conn, &open, &reach)?.len()))
            })
            .await?
    };
    let tiles = tiles(&regions, shown, &all, &stage);
    let tiles_height = tiles.len().div_ceil(COLUMNS) as f64 * (TILE_H + 4.0);
    let export = format!("/api/v1/monitoring/indicators.csv?{}", query_of(&q));
    render(&IndexPage {
        shell: Shell::new(state, caller, "主体运行监测", SECTION),
        region_name: format!("{} {}", shown_region, shown_region.name()),
        q,
        listing,
        all,
        tiles,
        tiles_height,
        shown,
        open_warnings,
        export,
        error,
    })
}

/// 主体运行监测: the indicators of one view, the map and the links to trends and warnings.
#[get("/system-building/monitoring")]
pub async fn index(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let q = query.into_inner();
    match index_view(&state, &caller, q.clone(), String::new()).await {
        Err(e) if e.is_for_the_form() && e.field.is_some() => {
            index_view(&state, &caller, ListQuery::default(), e.detail_zh).await
        }
        other => other,
    }
}

#[derive(Template)]
#[template(path = "system/monitoring/trend.html")]
struct TrendPage {
    shell: Shell,
    title: String,
    points: Vec<Point>,
    chart: String,
    shown: Indicator,
    q: TrendQuery,
}

impl TrendPage {
    fn indicators(&self) -> Vec<Indicator> {
        Indicator::ALL.to_vec()
    }

    fn text(&self, p: &Point, i: &Indicator) -> String {
        i.show(p.figures.value(*i))
    }

    fn link(&self, granularity: &str, indicator: &str) -> String {
        format!(
            "/system-building/monitoring/trend?kind={}&id={}&granularity={granularity}&indicator={indicator}",
            self.q.kind.clone().unwrap_or_default(),
            self.q.id.clone().unwrap_or_default()
        )
    }

    fn monthly(&self) -> bool {
        self.q.granularity.as_deref() == Some("month")
    }
}

/// The trend's heading: the subject's kind, name and code.
fn title_of(conn: &mut crate::db::DbConnection, f: &super::indicators::Filter) -> AppResult<String> {
    use crate::db::schema::{entities as e, sites as s, tenants as t};
    use diesel::prelude::*;
    let named =
        |found: Option<(String, String)>, kind: &str| found.map(|(name, code)| format!("{kind} {name}（{code}）"));
    let title = if let Some(id) = &f.entity {
        named(e::table.find(id).select((e::name, e::code)).first(conn).optional()?, "主体")
    } else if let Some(id) = &f.site {
        named(s::table.find(id).select((s::name, s::code)).first(conn).optional()?, "节点")
    } else if let Some(id) = &f.tenant {
        named(t::table.find(id).select((t::name, t::code)).first(conn).optional()?, "租户")
    } else {
        f.region.as_ref().map(|r| format!("地区 {} {}", r, r.name()))
    };
    Ok(title.unwrap_or_else(|| "本节点全部主体".to_owned()))
}

/// 监测趋势: one subject's indicators over the last 30 days or 12 months.
#[get("/system-building/monitoring/trend")]
pub async fn trend_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<TrendQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let q = query.into_inner();
    let f = api::trend_filter(&state, &caller, &q).await?;
    let monthly = api::monthly(&q)?;
    let shown = api::drawn(&q)?;
    let last = super::last_whole_day();
    let (points, title) = state
        .db
        .run(move |conn| {
            let intervals = thresholds::intervals(&thresholds::list(conn)?);
            let points = trend::series(conn, &f, monthly, last, &intervals)?;
            let title = title_of(conn, &f)?;
            Ok((points, title))
        })
        .await?;
    render(&TrendPage {
        shell: Shell::new(&state, &caller, "监测趋势", SECTION),
        chart: trend::chart(&points, shown),
        title,
        points,
        shown,
        q,
    })
}

#[derive(Template)]
#[template(path = "system/monitoring/thresholds.html")]
struct ThresholdsPage {
    shell: Shell,
    rows: Vec<Threshold>,
    can_manage: bool,
    notice: String,
    error: String,
}

impl ThresholdsPage {
    fn stage_zh(&self, s: &str) -> &'static str {
        Stage::from_code(s).map_or("全部环节（默认）", |s| s.label_zh())
    }

    fn indicator_zh(&self, i: &str) -> &'static str {
        Indicator::label_zh_of(i)
    }

    fn bound(&self, t: &Threshold) -> String {
        match (t.bound_milli, t.indicator()) {
            (Some(b), Some(i)) => {
                format!("{}{}", if i.higher_is_better() { "低于 " } else { "高于 " }, i.show(Some(b)))
            }
            _ => "不预警".to_owned(),
        }
    }

    fn interval_zh(&self, t: &Threshold) -> &'static str {
        if t.indicator == Indicator::ReportingRate.as_str() {
            Interval::label_zh_of(&t.reporting_interval)
        } else {
            ""
        }
    }

    fn stages(&self) -> Vec<(&'static str, &'static str)> {
        Stage::ALL.iter().map(|s| (s.code(), s.label_zh())).collect()
    }

    fn indicators(&self) -> Vec<(&'static str, &'static str)> {
        Indicator::ALL.iter().map(|i| (i.as_str(), i.label_zh())).collect()
    }
}

async fn thresholds_view(state: &AppState, caller: &Caller, notice: String, error: String) -> AppResult<HttpResponse> {
    super::require_reader(state, caller).await?;
    let rows = state.db.run(thresholds::list).await?;
    render(&ThresholdsPage {
        shell: Shell::new(state, caller, "预警阈值", SECTION),
        rows,
        can_manage: caller.tenant_id.is_none() && caller.can(Permission::MonitoringManage),
        notice,
        error,
    })
}

/// 预警阈值: every threshold, and forms to change them.
#[get("/system-building/monitoring/thresholds")]
pub async fn thresholds_page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    thresholds_view(&state, &caller.0, String::new(), String::new()).await
}

/// A threshold as the console's form sends it (blank bound: no warning).
#[derive(Debug, Deserialize)]
pub struct ThresholdForm {
    csrf: String,
    stage: String,
    indicator: String,
    bound: String,
    window_days: String,
    min_base: String,
    #[serde(default)]
    reporting_interval: String,
}

impl ThresholdForm {
    fn input(&self) -> AppResult<ThresholdInput> {
        let number = |field: &str, v: &str| {
            v.trim().parse::<f64>().map_err(|_| {
                crate::error::AppError::invalid(field, format!("“{v}”不是数字"), format!("{v:?} is not a number"))
            })
        };
        let bound = match self.bound.trim() {
            "" => None,
            b => Some(number("bound", b)?),
        };
        Ok(ThresholdInput {
            stage: self.stage.clone(),
            indicator: self.indicator.clone(),
            bound,
            window_days: number("window_days", &self.window_days)? as i32,
            min_base: number("min_base", &self.min_base)? as i64,
            reporting_interval: Some(self.reporting_interval.clone()),
        })
    }
}

/// Sets a threshold from the console.
#[post("/system-building/monitoring/thresholds")]
pub async fn set_threshold(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<ThresholdForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    api::require_manager(&state, &caller).await?;
    let ctx = caller.audit();
    let saved = match form.input() {
        Ok(input) => state.db.transaction(move |conn| thresholds::set(conn, &ctx, &input)).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(t) => {
            let notice = format!(
                "已保存：{} · {}。",
                Stage::from_code(&t.stage).map_or("全部环节", |s| s.label_zh()),
                Indicator::label_zh_of(&t.indicator)
            );
            thresholds_view(&state, &caller, notice, String::new()).await
        }
        Err(e) if e.is_for_the_form() => thresholds_view(&state, &caller, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

/// Which stage's own threshold to remove.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    csrf: String,
    stage: String,
    indicator: String,
}

/// Removes a stage's own threshold from the console.
#[post("/system-building/monitoring/thresholds/remove")]
pub async fn remove_threshold(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<RemoveForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    api::require_manager(&state, &caller).await?;
    let ctx = caller.audit();
    let (stage, indicator) = (form.stage.clone(), form.indicator.clone());
    match state.db.transaction(move |conn| thresholds::remove(conn, &ctx, &stage, &indicator)).await {
        Ok(()) => thresholds_view(&state, &caller, "已删除该环节的阈值，改用默认阈值。".into(), String::new()).await,
        Err(e) if e.is_for_the_form() => thresholds_view(&state, &caller, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "system/monitoring/warnings.html")]
struct WarningsPage {
    shell: Shell,
    rows: Vec<Warning>,
    status: String,
    can_manage: bool,
    notice: String,
}

impl WarningsPage {
    fn trend_link(&self, w: &Warning) -> String {
        format!(
            "/system-building/monitoring/trend?kind={}&id={}&indicator={}",
            w.subject_kind, w.subject_id, w.indicator
        )
    }

    fn resolved_text(&self, w: &Warning) -> String {
        match (w.resolved_at, Indicator::parse(&w.indicator)) {
            (Some(at), Some(i)) => format!("{}（{}）", crate::console::cst_minute(at), i.show(w.resolved_value_milli)),
            _ => String::new(),
        }
    }
}

async fn warnings_view(state: &AppState, caller: &Caller, status: String, notice: String) -> AppResult<HttpResponse> {
    let reach = super::require_reader(state, caller).await?;
    let q = WarningQuery { status: Some(status.clone()), ..Default::default() };
    let rows = state.db.run(move |conn| warnings::list(conn, &q, &reach)).await?;
    render(&WarningsPage {
        shell: Shell::new(state, caller, "运行监测预警", SECTION),
        rows,
        status,
        can_manage: caller.tenant_id.is_none() && caller.can(Permission::MonitoringManage),
        notice,
    })
}

/// Which warnings to show.
#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    status: Option<String>,
}

/// 运行监测预警: the latest warnings within the caller's reach.
#[get("/system-building/monitoring/warnings")]
pub async fn warnings_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<StatusQuery>,
) -> AppResult<HttpResponse> {
    let status = query.into_inner().status.filter(|s| s == "open" || s == "resolved").unwrap_or_default();
    warnings_view(&state, &caller.0, status, String::new()).await
}

/// Runs a round of warnings now and delivers its digests.
#[post("/system-building/monitoring/evaluate")]
pub async fn evaluate(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    api::require_manager(&state, &caller).await?;
    let r = super::round_on_demand(&state, &caller).await?;
    let notice = format!(
        "评估完成：评估对象 {} 个，新增预警 {} 条，解除 {} 条；通知送达 {} 条，待重试 {} 条。",
        r.judged, r.opened, r.resolved, r.delivered.sent, r.delivered.retrying
    );
    warnings_view(&state, &caller, "open".into(), notice).await
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(index)
        .service(trend_page)
        .service(thresholds_page)
        .service(set_threshold)
        .service(remove_threshold)
        .service(warnings_page)
        .service(evaluate);
}
