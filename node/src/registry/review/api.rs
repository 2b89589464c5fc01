//! JSON API of review: pending changes and duplicate claims, decisions, and tenants' change policies.

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, Problem};
use crate::ids::TenantId;
use crate::registry::access::{entity_in_reach, owning_tenant};
use crate::registry::entities::{Change, Decision, FieldPolicy};
use crate::registry::review;
use crate::users::Permission;

/// Refuses (and audits) a review of a change whose entity or product lies outside the
/// caller's reach.
pub async fn change_in_reach(state: &AppState, caller: &Caller, change: &Change) -> AppResult<()> {
    if change.object_kind == crate::registry::products::Product::KIND_NAME {
        let id = crate::ids::ProductId::from_db(change.object_id.clone());
        crate::registry::products::api::product_in_reach(state, caller, &id, "product.review").await?;
    } else {
        let id = crate::ids::EntityId::from_db(change.object_id.clone());
        entity_in_reach(state, caller, &id, "entity.review").await?;
    }
    Ok(())
}

/// Pending changes and duplicate claims.
#[utoipa::path(tag = "registry", responses((status = 200, body = Vec<Change>)))]
#[get("/api/v1/registry/changes")]
pub async fn changes_list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "changes").await?;
    let own = caller.tenant_id.clone();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| review::pending_changes(conn, own.as_ref())).await?))
}

/// Approves or rejects a pending change or duplicate claim.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Change id")), request_body = Decision, responses((status = 200, body = Change), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/changes/{id}/review")]
pub async fn change_review(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Decision>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "changes").await?;
    let id = path.into_inner();
    let key = id.clone();
    let change = state.db.run(move |conn| review::change_by_id(conn, &key)).await?;
    change_in_reach(&state, &caller, &change).await?;
    let ctx = caller.audit();
    let d = body.into_inner();
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| review::review_change(conn, &ctx, &id, &d)).await?))
}

/// Which kind of registration a policy request is about.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PolicyKind {
    /// `entity` (default) or `product`.
    pub kind: Option<String>,
}

impl PolicyKind {
    fn kind(&self) -> AppResult<review::Kind> {
        match self.kind.as_deref().unwrap_or("entity") {
            "entity" => Ok(review::Kind::Entity),
            "product" => Ok(review::Kind::Product),
            _ => Err(AppError::invalid("kind", "kind 只能是 entity 或 product", "kind must be entity or product")),
        }
    }
}

/// A tenant's change policies (which fields change without review).
#[utoipa::path(tag = "registry", params(("tenant_id" = String, Path, description = "Tenant id"), PolicyKind), responses((status = 200, body = Vec<FieldPolicy>)))]
#[get("/api/v1/registry/policies/{tenant_id}")]
pub async fn policies_get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    kind: web::Query<PolicyKind>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "policies").await?;
    let kind = kind.kind()?;
    let tenant = owning_tenant(&state, &caller, Some(&TenantId::parse(&path.into_inner())?), "registry.policy").await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| review::policies_of(conn, kind, &tenant)).await?))
}

/// Replaces a tenant's change policies (reviewers only).
#[utoipa::path(tag = "registry", params(("tenant_id" = String, Path, description = "Tenant id"), PolicyKind), request_body = Vec<FieldPolicy>, responses((status = 200, body = Vec<FieldPolicy>), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/registry/policies/{tenant_id}")]
pub async fn policies_set(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    kind: web::Query<PolicyKind>,
    body: web::Json<Vec<FieldPolicy>>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "policies").await?;
    let kind = kind.kind()?;
    let tenant = owning_tenant(&state, &caller, Some(&TenantId::parse(&path.into_inner())?), "registry.policy").await?;
    let ctx = caller.audit();
    let list = body.into_inner();
    Ok(HttpResponse::Ok()
        .json(state.db.transaction(move |conn| review::set_policies_of(conn, &ctx, kind, &tenant, &list)).await?))
}
