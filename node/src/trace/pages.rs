//! Console page of trace information (追溯信息): search with filters and pages.

use actix_web::{get, web, HttpResponse};
use askama::Template;
use tracenode_adapters::codes::Stage;

use super::search::{self, TracePage, TraceQuery};
use crate::app::AppState;
use crate::auth::caller::ConsoleCaller;
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::registry::catalogue::{self, Category};
use crate::registry::reach_of;
use crate::users::Permission;

#[derive(Template)]
#[template(path = "trace/list.html")]
struct ListPage {
    shell: Shell,
    query: TraceQuery,
    query_string: String,
    page: TracePage,
    pages: i64,
    stages: Vec<(String, String)>,
    categories: Vec<Category>,
}

/// Chinese label of a stage code.
pub fn stage_zh(code: &str) -> &'static str {
    Stage::from_code(code).map(Stage::label_zh).unwrap_or("未知环节")
}

/// Chinese label of a record status.
pub fn status_zh(s: &str) -> &'static str {
    match s {
        super::status::STORED => "已入库",
        super::status::QUARANTINED => "隔离待查",
        super::status::SUPERSEDED => "已被更正",
        super::status::RETRACTION => "撤回声明",
        _ => "未知",
    }
}

/// A quantity in thousandths as a decimal.
pub fn decimal(milli: &i64) -> String {
    let v = *milli as f64 / 1000.0;
    format!("{v}")
}

impl ListPage {
    fn stage_zh(&self, code: &str) -> &'static str {
        stage_zh(code)
    }

    fn status_zh(&self, s: &str) -> &'static str {
        status_zh(s)
    }

    fn decimal(&self, milli: &i64) -> String {
        decimal(milli)
    }

    /// A UTC time as China Standard Time, to the minute.
    fn beijing(&self, utc: &chrono::NaiveDateTime) -> String {
        (*utc + chrono::TimeDelta::hours(super::row::CST_HOURS)).format("%Y-%m-%d %H:%M").to_string()
    }
}

/// 追溯信息: trace records within reach, with filters.
#[get("/trace")]
pub async fn list_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<TraceQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::TraceRead, "trace").await?;
    let query = query.into_inner();
    let reach = reach_of(&state, &caller);
    let q = query.clone();
    let (page, categories) =
        state.db.run(move |conn| Ok((search::page(conn, &q, &reach)?, catalogue::list(conn)?))).await?;
    let mut plain = query.clone();
    plain.page = None;
    render(&ListPage {
        shell: Shell::new(&state, &caller, "追溯信息", "/trace"),
        query_string: serde_urlencoded::to_string(&plain).unwrap_or_default(),
        query,
        pages: ((page.total + page.page_size - 1) / page.page_size).max(1),
        page,
        stages: Stage::ALL.iter().map(|s| (s.code().to_owned(), s.label_zh().to_owned())).collect(),
        categories,
    })
}

/// This page's entry in the console navigation.
pub const NAV: crate::console::NavItem = crate::console::NavItem::page("/trace", "追溯查询");

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(list_page);
}
