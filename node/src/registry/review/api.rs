//! JSON API of review: pending changes and duplicate claims, decisions, and tenants' change policies.

use actix_web::{get, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};

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

/// The most registrations one bulk decision covers.
pub const MAX_BULK_REVIEW: usize = 1000;

/// One decision for many pending registrations.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDecision {
    /// The registrations' ids (1–1000; a repeated id counts once).
    pub ids: Vec<String>,
    /// Approve (`true`) or reject (`false`) them all.
    pub approve: bool,
    /// Required when rejecting, at most 200 characters; recorded with each.
    #[serde(default)]
    pub reason: String,
}

/// What became of one registration of a bulk decision.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    /// The id as sent.
    pub id: String,
    /// `approved` or `rejected` when decided; absent when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why it was refused: the stable code (`conflict` when it was not pending,
    /// `not_found`, `out_of_scope` outside the caller's reach, `validation_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The refusal in Chinese.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_zh: Option<String>,
    /// The refusal in English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The outcome of a bulk decision.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkReview {
    /// Registrations decided.
    pub decided: usize,
    /// Registrations refused (each with its reason).
    pub refused: usize,
    /// One result per distinct id, in the order sent.
    pub results: Vec<BulkResult>,
}

/// The ids of a bulk decision, checked: 1 to [`MAX_BULK_REVIEW`], each once; and its reason.
pub fn bulk_ids(d: &BulkDecision) -> AppResult<Vec<String>> {
    if d.ids.is_empty() || d.ids.len() > MAX_BULK_REVIEW {
        return Err(AppError::invalid(
            "ids",
            format!("一次批量审核 1 到 {MAX_BULK_REVIEW} 条，本次 {} 条", d.ids.len()),
            format!("a bulk decision covers 1 to {MAX_BULK_REVIEW} registrations, got {}", d.ids.len()),
        ));
    }
    review::check_decision(&Decision { approve: d.approve, reason: d.reason.clone() })?;
    let mut seen = std::collections::HashSet::new();
    Ok(d.ids.iter().filter(|id| seen.insert(id.as_str())).cloned().collect())
}

fn result_of(id: String, outcome: AppResult<String>) -> BulkResult {
    match outcome {
        Ok(status) => BulkResult { id, status: Some(status), code: None, reason_zh: None, reason: None },
        Err(e) => BulkResult {
            id,
            status: None,
            code: Some(e.code().to_owned()),
            reason_zh: Some(e.detail_zh.clone()),
            reason: Some(e.detail_en.clone()),
        },
    }
}

fn summary(results: Vec<BulkResult>) -> BulkReview {
    let decided = results.iter().filter(|r| r.status.is_some()).count();
    BulkReview { decided, refused: results.len() - decided, results }
}

/// Which registrations a bulk decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkKind {
    /// Entities (主体).
    Entities,
    /// Products (产品).
    Products,
}

/// Decides each of `ids` (checked by [`bulk_ids`]) on its own, as its single review would be
/// (reach, pending state, an audit row of its own); one that cannot be decided is named with
/// why and the others go on.
pub async fn decide_each(
    state: &AppState,
    caller: &Caller,
    kind: BulkKind,
    ids: Vec<String>,
    d: &Decision,
) -> BulkReview {
    use crate::registry::products::{api::product_in_reach, ProductRow};
    let mut results = Vec::with_capacity(ids.len());
    for raw in ids {
        let decision = Decision { approve: d.approve, reason: d.reason.clone() };
        let ctx = caller.audit();
        let outcome: AppResult<String> = async {
            match kind {
                BulkKind::Entities => {
                    let id = crate::ids::EntityId::parse(&raw)?;
                    entity_in_reach(state, caller, &id, "entity.review").await?;
                    let done = state
                        .db
                        .transaction(move |conn| crate::registry::entities::review(conn, &ctx, &id, &decision))
                        .await?;
                    Ok(done.status)
                }
                BulkKind::Products => {
                    let id = crate::ids::ProductId::parse(&raw)?;
                    product_in_reach(state, caller, &id, "product.review").await?;
                    let done = state
                        .db
                        .transaction(move |conn| review::review::<ProductRow>(conn, &ctx, &id, &decision))
                        .await?;
                    Ok(done.status)
                }
            }
        }
        .await;
        results.push(result_of(raw, outcome));
    }
    summary(results)
}

/// Approves or rejects many pending entity registrations with one reason. Each is decided
/// on its own, as its single review would be (reach, pending state, an audit row of its own);
/// one that cannot be decided is named with why and the others go on.
#[utoipa::path(tag = "registry", request_body = BulkDecision, responses((status = 200, body = BulkReview), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/review/entities")]
pub async fn entities_bulk_review(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BulkDecision>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "entities").await?;
    let d = body.into_inner();
    let ids = bulk_ids(&d)?;
    let decision = Decision { approve: d.approve, reason: d.reason };
    Ok(HttpResponse::Ok().json(decide_each(&state, &caller, BulkKind::Entities, ids, &decision).await))
}

/// Approves or rejects many pending product registrations with one reason, each on its own
/// (see the entities').
#[utoipa::path(tag = "registry", request_body = BulkDecision, responses((status = 200, body = BulkReview), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/review/products")]
pub async fn products_bulk_review(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BulkDecision>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryReview, "products").await?;
    let d = body.into_inner();
    let ids = bulk_ids(&d)?;
    let decision = Decision { approve: d.approve, reason: d.reason };
    Ok(HttpResponse::Ok().json(decide_each(&state, &caller, BulkKind::Products, ids, &decision).await))
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
