//! JSON API of operation monitoring. Callers with `monitoring.read` read the indicators,
//! trends and warnings within their reach (a tenant's: its own entities; staff: their data
//! scope); staff with `monitoring.manage` set thresholds and run a round of warnings.

use actix_web::{delete, get, post, put, web, HttpResponse};
use serde::Deserialize;

use super::indicators::{Filter, Indicator, SubjectKind};
use super::listing::{self, ListQuery, Listing};
use super::thresholds::{self, Threshold, ThresholdInput};
use super::trend::{self, Point};
use super::verify::Verification;
use super::warnings::{self, Round, Warning, WarningQuery};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::region::RegionCode;
use crate::users::Permission;

/// Staff with `monitoring.manage`.
pub async fn require_manager(state: &AppState, caller: &Caller) -> AppResult<()> {
    caller.require_staff(state, Permission::MonitoringManage, "monitoring", "monitoring.manage").await
}

/// The filter, window and view a list query asks for, within the caller's reach; and the
/// region whose divisions the `regions` view shows.
pub async fn listed(
    state: &AppState,
    caller: &Caller,
    q: &ListQuery,
) -> AppResult<(Filter, super::indicators::Window, listing::Asked, RegionCode)> {
    let reach = super::require_reader(state, caller).await?;
    let mut f = super::narrow(state, caller, reach, q.region.as_deref(), q.tenant.as_deref()).await?;
    let asked = listing::asked(q, &mut f)?;
    let window = super::indicators::Window::ask(
        q.month.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
        super::last_whole_day(),
    )?;
    let shown = f.region.clone().unwrap_or_else(|| state.config.node.region.clone());
    Ok((f, window, asked, shown))
}

/// The indicators of one view (entities, sites, tenants or regions) over a window, worst
/// first when sorted, 100 rows a page.
#[utoipa::path(tag = "monitoring", params(ListQuery),
    responses((status = 200, body = Listing), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/monitoring/indicators")]
pub async fn indicators(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let (f, w, asked, shown) = listed(&state, &caller, &q).await?;
    let page = q.page.unwrap_or(1);
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| listing::page(conn, &f, w, &asked, &shown, page)).await?))
}

/// The whole view as CSV.
#[utoipa::path(tag = "monitoring", params(ListQuery), responses((status = 200, content_type = "text/csv")))]
#[get("/api/v1/monitoring/indicators.csv")]
pub async fn indicators_csv(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let (f, w, asked, shown) = listed(&state, &caller, &q).await?;
    let bytes = state.db.run(move |conn| listing::csv(conn, &f, w, &asked, &shown)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"monitoring-{}-{}.csv\"", w.from, w.to)))
        .body(bytes))
}

/// Whose trend.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct TrendQuery {
    /// `entity`, `site`, `tenant` or `region` (default: the whole reach).
    pub kind: Option<String>,
    /// Its id (a region's code).
    pub id: Option<String>,
    /// `day` (the last 30 days, default) or `month` (the last 12 months).
    pub granularity: Option<String>,
    /// One stage.
    pub stage: Option<String>,
    /// The indicator the console draws (default: the reporting rate).
    pub indicator: Option<String>,
}

/// The filter of a trend's subject, inside the caller's reach (refused, audited, outside).
pub async fn trend_filter(state: &AppState, caller: &Caller, q: &TrendQuery) -> AppResult<Filter> {
    let reach = super::require_reader(state, caller).await?;
    let id = q.id.as_deref().map(str::trim).unwrap_or("").to_owned();
    let mut f = match q.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => reach,
        Some(k) => match SubjectKind::parse(k) {
            Some(SubjectKind::Region) => super::narrow(state, caller, reach, Some(&id), None).await?,
            Some(SubjectKind::Tenant) => super::narrow(state, caller, reach, None, Some(&id)).await?,
            Some(SubjectKind::Site) => {
                let site = crate::ids::SiteId::parse(&id).map_err(|e| e.on_field("id"))?;
                let (tenant, region) = owner(state, SubjectKind::Site, site.as_str().to_owned()).await?;
                let mut f = super::narrow(state, caller, reach, Some(&region), Some(&tenant)).await?;
                f.site = Some(site.as_str().to_owned());
                f
            }
            Some(SubjectKind::Entity) => {
                let entity = crate::ids::EntityId::parse(&id).map_err(|e| e.on_field("id"))?;
                let (tenant, region) = owner(state, SubjectKind::Entity, entity.as_str().to_owned()).await?;
                let mut f = super::narrow(state, caller, reach, Some(&region), Some(&tenant)).await?;
                f.entity = Some(entity.as_str().to_owned());
                f
            }
            None => {
                return Err(AppError::invalid(
                    "kind",
                    "对象类型应为 entity、site、tenant 或 region",
                    "kind is entity, site, tenant or region",
                ))
            }
        },
    };
    if let Some(s) = q.stage.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if tracenode_adapters::codes::Stage::from_code(s).is_none() {
            return Err(AppError::invalid("stage", format!("未知的追溯环节“{s}”"), format!("unknown stage {s:?}")));
        }
        f.stage = Some(s.to_owned());
    }
    Ok(f)
}

/// The tenant and region of a site or entity, for the scope check.
async fn owner(state: &AppState, kind: SubjectKind, id: String) -> AppResult<(String, String)> {
    use crate::db::schema::{entities, sites};
    use diesel::prelude::*;
    let found: Option<(String, String)> = state
        .db
        .run(move |conn| {
            Ok(match kind {
                SubjectKind::Site => {
                    sites::table.find(id).select((sites::tenant_id, sites::region)).first(conn).optional()?
                }
                _ => entities::table.find(id).select((entities::tenant_id, entities::region)).first(conn).optional()?,
            })
        })
        .await?;
    found.ok_or_else(|| AppError::new(ErrorKind::NotFound))
}

/// Whether a trend is monthly.
pub fn monthly(q: &TrendQuery) -> AppResult<bool> {
    match q.granularity.as_deref().map(str::trim).unwrap_or("") {
        "" | "day" => Ok(false),
        "month" => Ok(true),
        _ => Err(AppError::invalid("granularity", "粒度应为 day 或 month", "granularity is day or month")),
    }
}

/// The indicator a trend draws.
pub fn drawn(q: &TrendQuery) -> AppResult<Indicator> {
    match q.indicator.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Indicator::ReportingRate),
        Some(s) => {
            Indicator::parse(s).ok_or_else(|| AppError::invalid("indicator", "未知的监测指标", "unknown indicator"))
        }
    }
}

/// One subject's indicators over the last 30 days or 12 months, window by window.
#[utoipa::path(tag = "monitoring", params(TrendQuery),
    responses((status = 200, body = Vec<Point>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/monitoring/trend")]
pub async fn get_trend(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<TrendQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let f = trend_filter(&state, &caller, &q).await?;
    let monthly = monthly(&q)?;
    drawn(&q)?;
    let last = super::last_whole_day();
    let points = state
        .db
        .run(move |conn| {
            let intervals = thresholds::intervals(&thresholds::list(conn)?);
            trend::series(conn, &f, monthly, last, &intervals)
        })
        .await?;
    Ok(HttpResponse::Ok().json(points))
}

/// Every threshold.
#[utoipa::path(tag = "monitoring", responses((status = 200, body = Vec<Threshold>)))]
#[get("/api/v1/monitoring/thresholds")]
pub async fn list_thresholds(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    super::require_reader(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(state.db.run(thresholds::list).await?))
}

/// Sets a threshold of a stage (or the default, stage empty).
#[utoipa::path(tag = "monitoring", request_body = ThresholdInput,
    responses((status = 200, body = Threshold), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/monitoring/thresholds")]
pub async fn set_threshold(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ThresholdInput>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let ctx = caller.audit();
    let input = body.into_inner();
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| thresholds::set(conn, &ctx, &input)).await?))
}

/// Removes a stage's own threshold (the default then holds for it).
#[utoipa::path(tag = "monitoring", params(("stage" = String, Path), ("indicator" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[delete("/api/v1/monitoring/thresholds/{stage}/{indicator}")]
pub async fn remove_threshold(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let ctx = caller.audit();
    let (stage, indicator) = path.into_inner();
    state.db.transaction(move |conn| thresholds::remove(conn, &ctx, &stage, &indicator)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The latest warnings within the caller's reach.
#[utoipa::path(tag = "monitoring", params(WarningQuery), responses((status = 200, body = Vec<Warning>)))]
#[get("/api/v1/monitoring/warnings")]
pub async fn list_warnings(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<WarningQuery>,
) -> AppResult<HttpResponse> {
    let reach = super::require_reader(&state, &caller).await?;
    let q = query.into_inner();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| warnings::list(conn, &q, &reach)).await?))
}

/// Runs a round of warnings now (the job `monitoring.warnings` runs one each hour), queues its
/// digests and delivers what is due.
#[utoipa::path(tag = "monitoring", responses((status = 200, body = Round)))]
#[post("/api/v1/monitoring/warnings/evaluate")]
pub async fn evaluate(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let round = super::round_on_demand(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(round))
}

/// The window a check reads.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyQuery {
    /// A month, `YYYY-MM`.
    pub month: Option<String>,
    /// First day.
    pub from: Option<String>,
    /// Last day (at most 31 days in all).
    pub to: Option<String>,
}

/// Checks the activity rows of a window (at most 31 days) against a recount of the trace
/// records, naming the first 100 differences; audited.
#[utoipa::path(tag = "monitoring", params(VerifyQuery),
    responses((status = 200, body = Verification), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/monitoring/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<VerifyQuery>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let q = query.into_inner();
    let w = super::indicators::Window::ask(
        q.month.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
        super::last_whole_day(),
    )?;
    let ctx = caller.audit();
    let found = state
        .db
        .transaction(move |conn| {
            let found = super::verify::verify(conn, w)?;
            let outcome = if found.differences == 0 { crate::audit::Outcome::Success } else { crate::audit::Outcome::Failure };
            let detail = serde_json::json!({"from": w.from, "to": w.to, "records": found.records, "differences": found.differences});
            crate::audit::record(conn, &ctx, "monitoring.verify", "party_activity", outcome, detail)?;
            Ok(found)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(indicators)
        .service(indicators_csv)
        .service(get_trend)
        .service(list_thresholds)
        .service(set_threshold)
        .service(remove_threshold)
        .service(list_warnings)
        .service(evaluate)
        .service(verify);
}
