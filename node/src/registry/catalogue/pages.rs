//! Console page of the product catalogue (产品目录) and local sub-categories.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::registry::catalogue::{self, Category};
use crate::users::Permission;

#[derive(Template)]
#[template(path = "registry/catalogue/catalogue.html")]
struct CataloguePage {
    shell: Shell,
    categories: Vec<Category>,
    version: i64,
    can_write: bool,
    error: String,
    notice: String,
}

async fn catalogue_page(state: &AppState, caller: &Caller, error: String, notice: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "catalogue").await?;
    let (version, categories) = state.db.run(|conn| Ok((catalogue::version(conn)?, catalogue::list(conn)?))).await?;
    render(&CataloguePage {
        shell: Shell::new(state, caller, "产品目录", "/registry"),
        categories,
        version,
        can_write: caller.can(Permission::CatalogueWrite),
        error,
        notice,
    })
}

/// 产品目录.
#[get("/registry/catalogue")]
pub async fn catalogue_view(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    catalogue_page(&state, &caller.0, String::new(), String::new()).await
}

/// A local category from the form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CategoryForm {
    csrf: String,
    parent_code: String,
    code: String,
    name: String,
}

/// Adds a local sub-category from the form.
#[post("/registry/catalogue")]
pub async fn catalogue_add(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<CategoryForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::CatalogueWrite, "catalogue").await?;
    let new =
        catalogue::NewCategory { parent_code: form.parent_code, code: form.code.trim().to_owned(), name: form.name };
    let ctx = caller.audit();
    let national = state.config.node.tier == crate::config::Tier::National;
    match state.db.transaction(move |conn| catalogue::add(conn, &ctx, &new, national)).await {
        Ok(c) => {
            catalogue_page(&state, &caller, String::new(), format!("已添加类目“{}”（{}）。", c.name, c.code)).await
        }
        Err(e) if e.is_for_the_form() => catalogue_page(&state, &caller, e.detail_zh, String::new()).await,
        Err(e) => Err(e),
    }
}
