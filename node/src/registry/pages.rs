//! Console pages of the registry: the search with map and exports, and the routes of every
//! sub-feature's pages in order (entities, sites, devices, review, analysis, catalogue, products).

use actix_web::{get, web, HttpResponse};
use askama::Template;

use super::analysis::{self};
use super::catalogue::{self, Category};
use super::map::MapView;
use super::region_of;
use super::search::{self, EntityPage, EntityQuery};
use super::vocabulary::{labels, Labels};
use crate::app::AppState;
use crate::auth::caller::ConsoleCaller;
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::users::Permission;

#[derive(Template)]
#[template(path = "registry/search.html")]
struct SearchPage {
    shell: Shell,
    labels: Labels,
    query: EntityQuery,
    query_string: String,
    page: EntityPage,
    pages: i64,
    map: MapView,
    categories: Vec<Category>,
    can_write: bool,
}

fn query_string(q: &EntityQuery) -> String {
    let mut q = q.clone();
    q.page = None;
    serde_urlencoded::to_string(&q).unwrap_or_default()
}

/// 主体检索: filters, results, map and exports.
#[get("/registry")]
pub async fn search_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<EntityQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let query = query.into_inner();
    let (q, reach) = super::access::checked(&state, &caller, &query).await?;
    let base = reach.region.clone().unwrap_or_else(|| state.config.node.region.clone());
    let (page, points, by_region, categories) = state
        .db
        .run(move |conn| {
            let page = search::page(conn, &q, &reach)?;
            let points = search::all(conn, &q, &reach, super::map::MAX_POINTS)?;
            let a = analysis::region_counts(conn, &q, &reach, &base)?;
            Ok((page, points, a, catalogue::list(conn)?))
        })
        .await?;
    let pages = (page.total + page.page_size - 1) / page.page_size;
    let map_region = query
        .region
        .as_deref()
        .and_then(|r| crate::region::RegionCode::parse(r).ok())
        .unwrap_or(region_of(&state, &caller));
    render(&SearchPage {
        shell: Shell::new(&state, &caller, "主体与产品注册", "/registry"),
        labels: labels(),
        query_string: query_string(&query),
        query,
        pages,
        map: MapView::new(&map_region, &points, &by_region),
        page,
        categories,
        can_write: caller.can(Permission::RegistryWrite),
    })
}

/// This page's entry in the console navigation.
pub const NAV: crate::console::NavItem = crate::console::NavItem::page("/registry", "主体与产品注册");

/// Registers these pages (before the console's catch-all).
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(search_page)
        .service(super::entities::pages::new_form)
        .service(super::entities::pages::new_submit)
        .service(super::review::pages::review_page)
        .service(super::review::pages::change_review)
        .service(super::review::pages::bulk_review)
        .service(super::review::pages::claim_decide)
        .service(super::analysis::pages::analysis_page)
        .service(super::catalogue::pages::catalogue_view)
        .service(super::catalogue::pages::catalogue_add)
        .service(super::entities::pages::entity_detail)
        .service(super::entities::pages::entity_review)
        .service(super::sites::pages::sites_page)
        .service(super::sites::pages::sites_submit)
        .service(super::devices::pages::device_submit)
        .service(super::devices::pages::devices_page)
        .service(super::devices::pages::tenant_device_submit)
        .service(super::entities::pages::edit_form)
        .service(super::entities::pages::edit_submit)
        .service(super::review::pages::policies_page)
        .service(super::review::pages::policies_submit)
        .configure(super::products::pages::routes);
}
