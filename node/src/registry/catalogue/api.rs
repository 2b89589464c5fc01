//! JSON API of the product catalogue: list, local sub-categories, export and import.

use actix_web::{get, post, web, HttpResponse};

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};
use crate::registry::catalogue::{self, Category, NewCategory};
use crate::users::Permission;

/// The product catalogue.
#[utoipa::path(tag = "registry", responses((status = 200, body = Vec<Category>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/catalogue")]
pub async fn catalogue_list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "catalogue").await?;
    let (version, list) = state.db.run(|conn| Ok((catalogue::version(conn)?, catalogue::list(conn)?))).await?;
    Ok(HttpResponse::Ok().insert_header(("X-Catalogue-Version", version.to_string())).json(list))
}

/// Adds a local sub-category (on the national node, a national one with a segment 01–49).
#[utoipa::path(tag = "registry", request_body = NewCategory, responses((status = 201, body = Category), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/catalogue")]
pub async fn catalogue_add(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewCategory>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::CatalogueWrite, "catalogue").await?;
    let ctx = caller.audit();
    let new = body.into_inner();
    let national = state.config.node.tier == crate::config::Tier::National;
    let c = state.db.transaction(move |conn| catalogue::add(conn, &ctx, &new, national)).await?;
    Ok(HttpResponse::Created().json(c))
}

/// The catalogue as a JSON document (parents before children), for another node or a file.
#[utoipa::path(tag = "registry", responses((status = 200, body = catalogue::CatalogueDocument)))]
#[get("/api/v1/registry/catalogue/export")]
pub async fn catalogue_export(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "catalogue").await?;
    let doc = state.db.run(catalogue::export).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Disposition", format!("attachment; filename=\"catalogue-v{}.json\"", doc.version)))
        .json(doc))
}

/// Imports local categories from a catalogue document: all or nothing.
#[utoipa::path(tag = "registry", request_body = catalogue::CatalogueDocument, responses((status = 200, body = catalogue::ImportReceipt), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/catalogue/import")]
pub async fn catalogue_import(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<catalogue::CatalogueDocument>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::CatalogueWrite, "catalogue").await?;
    let ctx = caller.audit();
    let doc = body.into_inner();
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| catalogue::import(conn, &ctx, &doc)).await?))
}
