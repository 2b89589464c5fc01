//! JSON API of product registrations.

use actix_web::{get, post, put, web, HttpResponse};

use super::{Product, ProductInput, ProductPage, ProductQuery, ProductRegistered, ProductRow};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, ErrorKind, Problem};
use crate::ids::ProductId;
use crate::registry::access::owning_tenant;
use crate::registry::entities::EntityVersion;
use crate::registry::reach_of;
use crate::registry::review::{self, ChangeOutcome, Decision, Reviewed};
use crate::users::Permission;

/// The product `id` if it lies within the caller's reach; a refusal is audited as `action`.
pub async fn product_in_reach(
    state: &AppState,
    caller: &Caller,
    id: &ProductId,
    action: &str,
) -> AppResult<ProductRow> {
    let key = id.clone();
    let reach = reach_of(state, caller);
    let (row, ok) = state
        .db
        .run(move |conn| {
            let row = ProductRow::load(conn, &key)?;
            let ok = super::within_reach(conn, &reach, &row)?;
            Ok((row, ok))
        })
        .await?;
    if !ok {
        return Err(caller.deny(state, action, &format!("product:{}", row.code), ErrorKind::OutOfScope).await);
    }
    Ok(row)
}

/// Registers a product. 201 with the pending product, or 202 when another tenant registered
/// the code and the submission waits for review as a duplicate claim.
#[utoipa::path(tag = "registry", request_body = ProductInput, responses(
    (status = 201, description = "Registered, pending review", body = ProductRegistered),
    (status = 202, description = "Duplicate of another tenant's product: put to review", body = ProductRegistered),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/products")]
pub async fn product_register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ProductInput>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "products").await?;
    let input = body.into_inner();
    let tenant = owning_tenant(&state, &caller, input.tenant_id.as_ref(), "product.register").await?;
    let ctx = caller.audit();
    let outcome = state.db.transaction(move |conn| super::register(conn, &ctx, &tenant, &input)).await?;
    Ok(match outcome {
        ProductRegistered::Created { .. } => HttpResponse::Created().json(outcome),
        ProductRegistered::DuplicateClaim { .. } => HttpResponse::Accepted().json(outcome),
    })
}

/// Searches products within the caller's reach, newest first.
#[utoipa::path(tag = "registry", params(ProductQuery), responses((status = 200, body = ProductPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/products")]
pub async fn product_search(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ProductQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "products").await?;
    let reach = reach_of(&state, &caller);
    let q = query.into_inner();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| super::search(conn, &q, &reach)).await?))
}

/// One product.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Product id")), responses((status = 200, body = Product), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/products/{id}")]
pub async fn product_get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "products").await?;
    let row = product_in_reach(&state, &caller, &ProductId::parse(&path.into_inner())?, "product.read").await?;
    Ok(HttpResponse::Ok().json(row.view()))
}

/// What a product change led to.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProductChanged {
    /// The product as now in force.
    pub product: Product,
    /// What was applied and what waits.
    #[serde(flatten)]
    pub outcome: ChangeOutcome,
}

/// Changes a product: free fields apply at once, reviewed fields wait for review.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Product id")), request_body = ProductInput, responses((status = 200, body = ProductChanged), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/registry/products/{id}")]
pub async fn product_change(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ProductInput>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryWrite, "products").await?;
    let id = ProductId::parse(&path.into_inner())?;
    let row = product_in_reach(&state, &caller, &id, "product.change").await?;
    let owner = row.tenant_id.clone();
    let ctx = caller.audit();
    let input = body.into_inner();
    let (product, outcome) = state.db.transaction(move |conn| super::change(conn, &ctx, &owner, &id, &input)).await?;
    Ok(HttpResponse::Ok().json(ProductChanged { product, outcome }))
}

/// Approves or rejects a pending product registration.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Product id")), request_body = Decision, responses((status = 200, body = Product), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/products/{id}/review")]
pub async fn product_review(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Decision>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "products").await?;
    let id = ProductId::parse(&path.into_inner())?;
    product_in_reach(&state, &caller, &id, "product.review").await?;
    let ctx = caller.audit();
    let d = body.into_inner();
    let row = state.db.transaction(move |conn| review::review::<ProductRow>(conn, &ctx, &id, &d)).await?;
    Ok(HttpResponse::Ok().json(row.view()))
}

/// Every version of a product.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Product id")), responses((status = 200, body = Vec<EntityVersion>)))]
#[get("/api/v1/registry/products/{id}/versions")]
pub async fn product_versions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "products").await?;
    let id = ProductId::parse(&path.into_inner())?;
    product_in_reach(&state, &caller, &id, "product.read").await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| super::versions(conn, &id)).await?))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(product_register)
        .service(product_search)
        .service(product_versions)
        .service(product_review)
        .service(product_get)
        .service(product_change);
}
