//! Console page of the analysis of registrations (统计分析), with bars and drill-down.

use actix_web::{get, web, HttpResponse};
use askama::Template;

use crate::app::AppState;
use crate::auth::caller::ConsoleCaller;
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::registry::analysis::{self, Analysis};
use crate::registry::search::EntityQuery;

/// One breakdown of the analysis page: title, whether its rows drill down, the bars.
type Section = (&'static str, bool, Vec<analysis::Bucket>);

#[derive(Template)]
#[template(path = "registry/analysis/analysis.html")]
struct AnalysisPage {
    shell: Shell,
    a: Analysis,
    sections: Vec<Section>,
}

/// 统计分析 of registrations, with bars and drill-down.
#[get("/registry/analysis")]
pub async fn analysis_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<EntityQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let query = query.into_inner();
    let (q, reach) = crate::registry::access::checked(&state, &caller, &query).await?;
    let base = reach.region.clone().unwrap_or_else(|| state.config.node.region.clone());
    let a = state.db.run(move |conn| analysis::analyse(conn, &q, &reach, &base)).await?;
    let _ = query;
    let sections = vec![
        ("按地区（点击下钻）", true, a.by_region.clone()),
        ("按追溯环节", false, a.by_stage.clone()),
        ("按产品类目", false, a.by_category.clone()),
        ("按备案月份", false, a.by_month.clone()),
    ];
    render(&AnalysisPage { shell: Shell::new(&state, &caller, "注册分析", "/registry"), a, sections })
}
