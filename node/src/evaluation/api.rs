//! JSON API of monitoring evaluation. Staff with `evaluation.manage` define indicator sets
//! and run them; callers with `evaluation.read` read runs and results within their reach (a
//! tenant's callers: their own tenant's objects; staff: their data scope's region).

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::report::{self, Report, Sent};
use super::runs::{self, ObjectResult, ResultQuery, Run};
use super::set::SetInput;
use super::sets::{self, Set};
use super::{held, jurisdiction};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, ErrorKind, Problem};
use crate::users::Permission;

/// Staff with `evaluation.manage`.
pub async fn require_manager(state: &AppState, caller: &Caller) -> AppResult<()> {
    caller.require_staff(state, Permission::EvaluationManage, "evaluation", "evaluation.manage").await
}

/// Every set, its latest version.
#[utoipa::path(tag = "evaluation", responses((status = 200, body = Vec<Set>)))]
#[get("/api/v1/evaluation/sets")]
pub async fn list_sets(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::EvaluationRead, "evaluation_sets").await?;
    Ok(HttpResponse::Ok().json(state.db.run(sets::latest).await?))
}

/// Saves a set as its next version (the first is 1).
#[utoipa::path(tag = "evaluation", request_body = SetInput,
    responses((status = 201, body = Set), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/evaluation/sets")]
pub async fn save_set(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<SetInput>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    Ok(HttpResponse::Created().json(super::save_set(&state, caller.audit(), body.into_inner()).await?))
}

/// Which version.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Version (default: the latest).
    pub version: Option<i32>,
}

/// One version of a set.
#[utoipa::path(tag = "evaluation", params(("code" = String, Path), VersionQuery),
    responses((status = 200, body = Set), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/evaluation/sets/{code}")]
pub async fn get_set(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<VersionQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::EvaluationRead, "evaluation_sets").await?;
    let code = path.into_inner();
    let version = query.version;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| sets::get(conn, &code, version)).await?))
}

/// What to run.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    /// The set's code.
    pub set: String,
    /// Its version (default: the latest).
    pub version: Option<i32>,
    /// The period: `YYYY-MM` for a monthly set, `YYYY-Qn` for a quarterly one; it must have
    /// ended.
    pub period: String,
}

/// Evaluates a period; an earlier run of the same set and period is kept, superseded.
#[utoipa::path(tag = "evaluation", request_body = RunInput,
    responses((status = 201, body = Run), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/evaluation/runs")]
pub async fn start_run(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<RunInput>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let input = body.into_inner();
    Ok(HttpResponse::Created()
        .json(super::run_now(&state, caller.audit(), input.set, input.version, input.period).await?))
}

/// Which runs.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// One set's.
    pub set: Option<String>,
}

/// The latest 200 runs.
#[utoipa::path(tag = "evaluation", params(RunQuery), responses((status = 200, body = Vec<Run>)))]
#[get("/api/v1/evaluation/runs")]
pub async fn list_runs(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<RunQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::EvaluationRead, "evaluation_runs").await?;
    let set = query.into_inner().set;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| runs::list(conn, set.as_deref())).await?))
}

/// A run and one page of its results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunResults {
    /// The run.
    pub run: Run,
    /// Results, ranked.
    pub results: Vec<ObjectResult>,
}

/// The results the caller may see: a tenant's callers their own, staff within the region of
/// their data scope (a region outside it is refused and audited).
pub async fn reach(state: &AppState, caller: &Caller, mut q: ResultQuery) -> AppResult<(ResultQuery, Option<String>)> {
    caller.require(state, Permission::EvaluationRead, "evaluation_results").await?;
    if let Some(scope) = &caller.scope.region {
        match q.region.as_deref().filter(|r| !r.is_empty()) {
            None => q.region = Some(scope.as_str().to_owned()),
            Some(r) => {
                let inside = crate::region::RegionCode::parse(r).is_ok_and(|r| scope.contains(&r));
                if !inside {
                    return Err(caller.deny(state, "evaluation.read", r, ErrorKind::OutOfScope).await);
                }
            }
        }
    }
    Ok((q, caller.tenant_id.as_ref().map(|t| t.as_str().to_owned())))
}

/// A run's results, ranked from high to low, 100 a page.
#[utoipa::path(tag = "evaluation", params(("id" = String, Path), ResultQuery),
    responses((status = 200, body = RunResults), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/evaluation/runs/{id}/results")]
pub async fn run_results(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ResultQuery>,
) -> AppResult<HttpResponse> {
    let (q, tenant) = reach(&state, &caller, query.into_inner()).await?;
    let id = path.into_inner();
    let found = state
        .db
        .run(move |conn| {
            let run = runs::get(conn, &id)?;
            let results = runs::results(conn, &id, &q, tenant.as_deref())?;
            Ok(RunResults { run, results })
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Whose trend.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TrendQuery {
    /// The set's code.
    pub set: String,
}

/// One object's score, grade and rank in each period's current run of a set (the latest 24
/// periods, oldest first).
#[utoipa::path(tag = "evaluation", params(("id" = String, Path), TrendQuery),
    responses((status = 200, body = Vec<runs::TrendPoint>)))]
#[get("/api/v1/evaluation/objects/{id}/trend")]
pub async fn object_trend(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<TrendQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::EvaluationRead, "evaluation_results").await?;
    let tenant = caller.tenant_id.as_ref().map(|t| t.as_str().to_owned());
    let (id, set) = (path.into_inner(), query.into_inner().set);
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| runs::trend(conn, &set, &id, tenant.as_deref())).await?))
}

/// A run's report (over the caller's own objects for a tenant's caller).
#[utoipa::path(tag = "evaluation", params(("id" = String, Path)),
    responses((status = 200, body = Report), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/evaluation/runs/{id}/report")]
pub async fn run_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let (_, tenant) = reach(&state, &caller, ResultQuery::default()).await?;
    let id = path.into_inner();
    let (r, _) = state.db.run(move |conn| report::build(conn, &id, tenant.as_deref())).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// A run's report as XLSX: the report, then every result by rank.
#[utoipa::path(tag = "evaluation", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
#[get("/api/v1/evaluation/runs/{id}/report.xlsx")]
pub async fn run_report_xlsx(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let (_, tenant) = reach(&state, &caller, ResultQuery::default()).await?;
    let id = path.into_inner();
    let (bytes, name) = state
        .db
        .run(move |conn| {
            let (r, results) = report::build(conn, &id, tenant.as_deref())?;
            Ok((report::workbook(&r, &results)?, format!("evaluation-{}-{}.xlsx", r.run.set_code, r.run.period)))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .body(bytes))
}

/// Mails a run's report: each tenant with results its own, the node-wide channels a summary;
/// the notification outbox delivers and retries.
#[utoipa::path(tag = "evaluation", params(("id" = String, Path)), responses((status = 200, body = Sent)))]
#[post("/api/v1/evaluation/runs/{id}/report/send")]
pub async fn send_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(send_now(&state, &caller, path.into_inner()).await?))
}

/// Queues a run's report and delivers what is due.
pub async fn send_now(state: &AppState, caller: &Caller, id: String) -> AppResult<Sent> {
    let ctx = caller.audit();
    let node = state.config.node.name.clone();
    let sent = state.db.transaction(move |conn| report::send(conn, &ctx, &node, &id)).await?;
    crate::notify::dispatch(state).await?;
    Ok(sent)
}

/// Whether a run's results are still what the run stored: their digest against the one its
/// audit row carries (a mismatch is an audit row of failure).
#[utoipa::path(tag = "evaluation", params(("id" = String, Path)),
    responses((status = 200, body = super::integrity::Integrity), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/evaluation/runs/{id}/verify")]
pub async fn verify_run(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let (ctx, id) = (caller.audit(), path.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| super::integrity::verify(conn, &ctx, &id)).await?))
}

/// Which jurisdiction.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TierQuery {
    /// The set's code.
    pub set: String,
    /// Its version (default: the latest).
    pub version: Option<i32>,
    /// The period.
    pub period: String,
    /// The region (default: this node's, or the caller's data scope).
    pub region: Option<String>,
    /// Page of results, from 1.
    pub page: Option<i64>,
}

/// The region a staff caller may view across the tiers: inside this node's jurisdiction and
/// the caller's data scope (outside it: refused and audited). A tenant's callers see their
/// own objects only, never other nodes'.
pub async fn tier_reach(state: &AppState, caller: &Caller, region: Option<&str>) -> AppResult<String> {
    caller.require(state, Permission::EvaluationRead, "evaluation_tiers").await?;
    if caller.tenant_id.is_some() {
        return Err(caller.deny(state, "evaluation.tiers", "evaluation_tiers", ErrorKind::Forbidden).await);
    }
    let own = state.config.node.region.clone();
    let asked = region.map(str::trim).filter(|r| !r.is_empty());
    let fallback = caller.scope.region.as_ref().unwrap_or(&own).as_str().to_owned();
    let text = asked.map(str::to_owned).unwrap_or(fallback);
    let code = crate::region::RegionCode::parse(&text)
        .map_err(|e| crate::error::AppError::invalid("region", e.to_string(), e.to_string()))?;
    if !own.contains(&code) {
        return Err(crate::error::AppError::invalid(
            "region",
            format!("地区 {text} 不在本节点辖区内"),
            format!("region {text} lies outside this node's jurisdiction"),
        ));
    }
    if caller.scope.region.as_ref().is_some_and(|s| !s.contains(&code)) {
        return Err(caller.deny(state, "evaluation.read", &text, ErrorKind::OutOfScope).await);
    }
    Ok(text)
}

/// A jurisdiction's evaluation and the jurisdictions right below it, ranked: the national
/// node ranks provinces, a province its cities, a city its counties; `region` drills down.
#[utoipa::path(tag = "evaluation", params(TierQuery),
    responses((status = 200, body = jurisdiction::TierView), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/evaluation/jurisdiction")]
pub async fn tier(state: web::Data<AppState>, caller: Caller, query: web::Query<TierQuery>) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let region = tier_reach(&state, &caller, q.region.as_deref()).await?;
    let own = state.config.node.region.as_str().to_owned();
    let view = state
        .db
        .run(move |conn| {
            let set = sets::get(conn, &q.set, q.version)?;
            jurisdiction::view(conn, &own, &set, &q.period, &region)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

async fn region_results(
    state: &AppState,
    caller: &Caller,
    q: TierQuery,
    page: i64,
) -> AppResult<(jurisdiction::Key, Vec<held::HeldResult>)> {
    let region = tier_reach(state, caller, q.region.as_deref()).await?;
    let own = state.config.node.region.as_str().to_owned();
    state
        .db
        .run(move |conn| {
            let set = sets::get(conn, &q.set, q.version)?;
            let period = crate::system::industry::period::Period::parse("period", set.definition.frequency, &q.period)?;
            let key = jurisdiction::Key { set: set.code, version: set.version, period: period.to_string() };
            let found = held::of_region(conn, &own, &key, &region, page)?;
            Ok((key, found))
        })
        .await
}

/// The results of one region's own objects, as its node ranked them (100 a page): this
/// node's own, or another node's held here.
#[utoipa::path(tag = "evaluation", params(TierQuery),
    responses((status = 200, body = Vec<held::HeldResult>), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/evaluation/jurisdiction/results")]
pub async fn tier_results(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<TierQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let page = q.page.unwrap_or(1).max(1);
    let (_, found) = region_results(&state, &caller, q, page).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// The same results as CSV (at most 100,000).
#[utoipa::path(tag = "evaluation", params(TierQuery), responses((status = 200, content_type = "text/csv")))]
#[get("/api/v1/evaluation/jurisdiction/results.csv")]
pub async fn tier_results_csv(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<TierQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let region = q.region.clone().unwrap_or_default();
    let (key, found) = region_results(&state, &caller, q, 0).await?;
    let bytes = held::csv(&found, &key)?;
    let name = format!("evaluation-{}-{}-{}.csv", key.set, key.period, region);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .body(bytes))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_sets)
        .service(save_set)
        .service(get_set)
        .service(start_run)
        .service(list_runs)
        .service(run_results)
        .service(object_trend)
        .service(run_report)
        .service(run_report_xlsx)
        .service(send_report)
        .service(verify_run)
        .service(tier)
        .service(tier_results)
        .service(tier_results_csv);
}
