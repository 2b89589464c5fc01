//! JSON API of duplicate claims across nodes: the list for reviewers and their decision.

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{ClaimDecision, ClaimStatus, ClaimView};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, Problem};
use crate::ids::DuplicateClaimId;
use crate::registry::access::entity_in_reach;
use crate::users::Permission;

/// Which claims.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClaimParams {
    /// `open`, `kept` or `withdrawn`; default all.
    pub status: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Claims per page, 1–200; default 50.
    pub page_size: Option<i64>,
}

/// One page of claims.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClaimPage {
    /// Claims that match, in all pages.
    pub total: i64,
    /// This page: open claims first, newest first.
    pub rows: Vec<ClaimView>,
}

/// Duplicate claims across nodes (跨辖区重复登记): codes this node registered that another
/// node registered too, as the node where they meet announced them, with this node's entity.
/// A tenant's caller sees the claims on its own registrations.
#[utoipa::path(tag = "registry", params(ClaimParams), responses((status = 200, body = ClaimPage),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/registry/duplicate-claims")]
pub async fn claims_list(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<ClaimParams>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RegistryRead, "duplicate_claims").await?;
    let p = p.into_inner();
    let status = match p.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(ClaimStatus::parse(s).ok_or_else(|| {
            AppError::invalid("status", "状态只能是 open、kept 或 withdrawn", "status must be open, kept or withdrawn")
        })?),
    };
    let (page, page_size) = (p.page.unwrap_or(1), p.page_size.unwrap_or(50));
    if page < 1 || !(1..=super::MAX_PAGE).contains(&page_size) {
        return Err(AppError::invalid(
            "page_size",
            "页码从 1 开始，每页 1 到 200 条",
            "page starts at 1, page_size is 1 to 200",
        ));
    }
    let tenant = caller.tenant_id.clone();
    let (total, rows) = state.db.run(move |conn| super::list(conn, status, tenant.as_ref(), page, page_size)).await?;
    Ok(HttpResponse::Ok().json(ClaimPage { total, rows }))
}

/// Decides a claim: `keep` this node's registration, or `withdraw` it (a new version, rejected
/// with the reason, sent up as withdrawn so the duplicate clears above). Reviewers within whose
/// reach the entity lies; audited.
#[utoipa::path(tag = "registry", params(("id" = String, Path, description = "Claim id")), request_body = ClaimDecision,
    responses((status = 200, body = ClaimView), (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/registry/duplicate-claims/{id}/decision")]
pub async fn claim_decide(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ClaimDecision>,
) -> AppResult<HttpResponse> {
    let view = decide(&state, &caller, &path.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Decides claim `id` for `caller`: the permission, the entity's reach, then the decision in
/// one transaction (shared with the console's form).
pub async fn decide(state: &AppState, caller: &Caller, id: &str, d: ClaimDecision) -> AppResult<ClaimView> {
    caller.require(state, Permission::RegistryReview, "duplicate_claims").await?;
    let id = DuplicateClaimId::parse(id)?;
    let key = id.clone();
    let claim = state.db.run(move |conn| super::get(conn, &key)).await?;
    if let Some(entity) = &claim.entity {
        entity_in_reach(state, caller, &entity.id, "duplicate_claim.decide").await?;
    }
    let ctx = caller.audit();
    state.db.transaction(move |conn| super::decide(conn, &ctx, &id, &d)).await
}
