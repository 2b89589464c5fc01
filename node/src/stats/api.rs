//! The statistics API (统计数据接口): the jurisdiction's daily and period aggregates for
//! staff with `statistics.read` and for API keys of a 数据使用方 role, each bounded to its
//! region — a staff member's data scope (else the node's jurisdiction), an API key's
//! tenant's region — and to the categories of its data scope.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use super::aggregates::{Dimension, Page, Request, Source, MAX_PAGE};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, Problem};
use crate::users::permission::Permission;

/// What to count.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatisticsQuery {
    /// First day (YYYY-MM-DD); default 365 days before the last. At most 366 days.
    pub from: Option<String>,
    /// Last day; default the latest day with data.
    pub to: Option<String>,
    /// Only regions starting with these digits (inside the caller's region).
    pub within: Option<String>,
    /// Digits of the region key: 2 (provinces), 4 (cities) or 6 (counties); default 6.
    pub digits: Option<usize>,
    /// Only categories starting with this code.
    pub category: Option<String>,
    /// Only this stage.
    pub stage: Option<String>,
    /// Only this direction: `out` (sellers' reports) or `in` (buyers' reports).
    pub direction: Option<String>,
    /// The keys of a group, comma-separated, of `day,region,category,stage,direction`
    /// (default all: the daily aggregates; without `day`, the period's).
    pub by: Option<String>,
    /// `all` (default): own records and children's slices; `own`; `children`.
    pub source: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Groups per page, 1–1000; default 100.
    pub page_size: Option<i64>,
}

/// The daily (or, without `day` in `by`, the period's) aggregates of the jurisdiction: this
/// node's records and its children's rolled-up slices, grouped as asked, in key order, a page
/// at a time. Each direction is counted apart: a trade both parties report is one `out` and
/// one `in` (the indicators count it once; docs/architecture.md, "Statistics").
#[utoipa::path(tag = "statistics", params(StatisticsQuery),
    responses((status = 200, body = Page), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/statistics/aggregates")]
pub async fn statistics(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<StatisticsQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::StatisticsRead, "statistics").await?;
    let q = q.into_inner();
    let bound = super::reach::bounding_region(&state, &caller).await?;
    let within = super::reach::within(q.within.as_deref(), &bound)?;
    let categories = categories(q.category.as_deref(), &caller.scope.categories)?;
    let digits = q.digits.unwrap_or(6);
    if ![2, 4, 6].contains(&digits) {
        return Err(AppError::invalid("digits", "按区划汇总的位数只能是 2、4 或 6", "digits must be 2, 4 or 6"));
    }
    let stage = q.stage.filter(|s| !s.trim().is_empty());
    if let Some(s) = &stage {
        if tracenode_adapters::codes::Stage::from_code(s).is_none() {
            return Err(AppError::invalid("stage", format!("未知的追溯环节“{s}”"), format!("unknown stage {s:?}")));
        }
    }
    let direction = q.direction.filter(|d| !d.trim().is_empty());
    if direction.as_deref().is_some_and(|d| d != "in" && d != "out") {
        return Err(AppError::invalid("direction", "方向只能是 in 或 out", "direction must be in or out"));
    }
    let page = q.page.unwrap_or(1);
    let page_size = q.page_size.unwrap_or(100);
    if page < 1 || !(1..=MAX_PAGE).contains(&page_size) {
        return Err(AppError::invalid(
            "page_size",
            format!("页码从 1 开始，每页 1 到 {MAX_PAGE} 组"),
            format!("page starts at 1 and page_size is 1 to {MAX_PAGE}"),
        ));
    }
    let by = Dimension::parse_list(q.by.as_deref())?;
    let source = Source::parse(q.source.as_deref())?;
    let (from, to) = crate::period::day_range(q.from.as_deref(), q.to.as_deref())?;
    let found = state
        .db
        .run(move |conn| {
            let window = super::Window::resolve(conn, from, to)?;
            let request = Request { window, within, digits, categories, stage, direction, by, source, page, page_size };
            super::aggregates::page(conn, &request)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// The categories of a request: the one asked for (inside the caller's scope, when it has
/// one), else the scope's.
fn categories(asked: Option<&str>, scope: &[String]) -> AppResult<Vec<String>> {
    let Some(asked) = asked.map(str::trim).filter(|a| !a.is_empty()) else { return Ok(scope.to_vec()) };
    if asked.len() > 12 || !asked.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::invalid("category", "品类代码格式不正确", "category must be a category code"));
    }
    if !scope.is_empty() && !scope.iter().any(|s| asked.starts_with(s.as_str())) {
        return Err(AppError::invalid(
            "category",
            format!("品类 {asked} 不在您的数据范围之内"),
            format!("category {asked} lies outside your scope"),
        ));
    }
    Ok(vec![asked.to_owned()])
}

/// Registers the API.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(statistics);
}
