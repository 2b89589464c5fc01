//! Console pages of review (待审核): the queue of registrations, changes and duplicate claims, decisions, and the change policies (变更权限).

use crate::registry::review::ReviewStatus;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::ids::TenantId;
use crate::registry::entities::{Change, Decision, FieldPolicy};
use crate::registry::model::Entity;
use crate::registry::search::{self, EntityQuery};
use crate::registry::{reach_of, review};
use crate::users::Permission;

/// What a change did, in Chinese: the fields applied and the fields waiting for review.
pub fn change_notice(applied: &[String], pending: &[String]) -> String {
    let labels = |fields: &[String]| fields.iter().map(|f| field_label(f)).collect::<Vec<_>>().join("、");
    let mut parts = Vec::new();
    if !applied.is_empty() {
        parts.push(format!("已生效：{}", labels(applied)));
    }
    if !pending.is_empty() {
        parts.push(format!("待审核：{}（审核通过前原信息继续有效）", labels(pending)));
    }
    if parts.is_empty() {
        "没有修改。".to_owned()
    } else {
        parts.join("；") + "。"
    }
}

/// Chinese names of the fields change policies name.
fn field_label(field: &str) -> &'static str {
    match field {
        "name" => "名称",
        "kind" => "主体类型",
        "region" => "地区",
        "address" => "地址",
        "location" => "经纬度",
        "contact_person" => "联系人",
        "contact_phone" => "联系电话",
        "stages" => "追溯环节",
        "categories" => "产品类目",
        "site" => "所属节点",
        "merchant" => "商户编码与类型",
        "varieties" => "经营品种",
        "filed_at" => "备案时间",
        "category" => "产品类目",
        "specification" => "规格",
        "brand" => "品牌",
        "shelf_life" => "保质期",
        "entity" => "所属主体",
        _ => "其他",
    }
}

#[derive(Template)]
#[template(path = "registry/review/policies.html")]
struct PoliciesPage {
    shell: Shell,
    tenants: Vec<crate::tenants::Tenant>,
    tenant_id: String,
    kind: String,
    rows: Vec<(String, &'static str, String)>,
    can_edit: bool,
    error: String,
    notice: String,
}

impl PolicyView {
    /// The kind shown: products when asked for, else entities.
    fn kind(&self) -> review::Kind {
        if self.kind == "product" {
            review::Kind::Product
        } else {
            review::Kind::Entity
        }
    }
}

/// Which tenant's and which kind's policies a page shows.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PolicyView {
    /// Tenant id.
    #[serde(default)]
    tenant_id: String,
    /// `entity` (default) or `product`.
    #[serde(default)]
    kind: String,
}

pub(crate) async fn policies_view(
    state: &AppState,
    caller: &Caller,
    view: PolicyView,
    error: String,
    notice: String,
) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "policies").await?;
    let all = state.db.run(crate::tenants::list_all).await?;
    let tenants: Vec<_> = all.into_iter().filter(|t| caller.sees_tenant(t)).collect();
    let kind = view.kind();
    let tenant_id = match view.tenant_id.trim() {
        "" => tenants.first().map(|t| t.id.as_str().to_owned()).unwrap_or_default(),
        t => t.to_owned(),
    };
    let rows = match tenant_id.as_str() {
        "" => vec![],
        t => {
            let tenant =
                crate::registry::access::owning_tenant(state, caller, Some(&TenantId::parse(t)?), "registry.policy")
                    .await?;
            let list = state.db.run(move |conn| review::policies_of(conn, kind, &tenant)).await?;
            list.into_iter().map(|p| (p.field.clone(), field_label(&p.field), p.mode)).collect()
        }
    };
    render(&PoliciesPage {
        shell: Shell::new(state, caller, "变更权限", "/registry"),
        tenants,
        tenant_id,
        kind: if kind == review::Kind::Product { "product" } else { "entity" }.to_owned(),
        rows,
        can_edit: caller.can(Permission::RegistryReview),
        error,
        notice,
    })
}

/// 变更权限: which fields a tenant may change without review, per kind.
#[get("/registry/policies")]
pub async fn policies_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    view: web::Query<PolicyView>,
) -> AppResult<HttpResponse> {
    policies_view(&state, &caller.0, view.into_inner(), String::new(), String::new()).await
}

/// Saves a tenant's change policies from the form (`mode_<field>` = `free` or `review`).
#[post("/registry/policies")]
pub async fn policies_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<std::collections::HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(form.get("csrf").map(String::as_str).unwrap_or(""))?;
    caller.require(&state, Permission::RegistryReview, "policies").await?;
    let view = PolicyView {
        tenant_id: form.get("tenant_id").cloned().unwrap_or_default(),
        kind: form.get("kind").cloned().unwrap_or_default(),
    };
    let tenant = crate::registry::access::owning_tenant(
        &state,
        &caller,
        Some(&TenantId::parse(&view.tenant_id)?),
        "registry.policy",
    )
    .await?;
    let list: Vec<FieldPolicy> = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("mode_").map(|f| FieldPolicy { field: f.to_owned(), mode: v.clone() }))
        .collect();
    let kind = view.kind();
    let ctx = caller.audit();
    let saved = state.db.transaction(move |conn| review::set_policies_of(conn, &ctx, kind, &tenant, &list)).await;
    match saved {
        Ok(_) => policies_view(&state, &caller, view, String::new(), "变更权限已保存。".into()).await,
        Err(e) if e.is_for_the_form() => policies_view(&state, &caller, view, e.detail_zh, String::new()).await,
        Err(e) => Err(e),
    }
}

/// A review decision from a form.
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Required when rejecting.
    #[serde(default)]
    pub reason: String,
}

impl ReviewForm {
    /// The decision the form carries.
    pub fn decision(self) -> Decision {
        Decision { approve: self.decision == "approve", reason: self.reason }
    }
}

/// What a reviewer is told after deciding: the status the registration now has.
pub fn decided_notice(status: &str) -> String {
    if status == ReviewStatus::Approved.as_str() { "已审核通过。" } else { "已驳回。" }.to_owned()
}

#[derive(Template)]
#[template(path = "registry/review/review.html")]
struct ReviewQueue {
    shell: Shell,
    pending: Vec<Entity>,
    pending_products: Vec<crate::registry::products::Product>,
    changes: Vec<Change>,
    claims: Vec<crate::registry::duplicates::ClaimView>,
    notice: String,
}

pub(crate) async fn review_queue(state: &AppState, caller: &Caller, notice: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryReview, "entities").await?;
    let query = EntityQuery {
        status: Some(ReviewStatus::Pending.as_str().into()),
        sort: Some("filed_at".into()),
        order: Some("asc".into()),
        page_size: Some(100),
        ..Default::default()
    };
    let q = query.check()?;
    let reach = reach_of(state, caller);
    let products_query = crate::registry::products::ProductQuery {
        status: Some(ReviewStatus::Pending.as_str().into()),
        page_size: Some(100),
        ..Default::default()
    };
    let own = caller.tenant_id.clone();
    let open = Some(crate::registry::duplicates::ClaimStatus::Open);
    let (pending, pending_products, changes, claims) = state
        .db
        .run(move |conn| {
            Ok((
                search::page(conn, &q, &reach)?.rows,
                crate::registry::products::search(conn, &products_query, &reach)?.rows,
                review::pending_changes(conn, None)?,
                crate::registry::duplicates::list(conn, open, own.as_ref(), 1, 100)?.1,
            ))
        })
        .await?;
    render(&ReviewQueue {
        shell: Shell::new(state, caller, "审核", "/registry"),
        pending,
        pending_products,
        changes,
        claims,
        notice,
    })
}

/// A decision on a duplicate claim from the queue's form.
#[derive(Debug, Deserialize)]
pub struct ClaimForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// `keep` or `withdraw`.
    pub decision: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// Keeps or withdraws this node's registration of a code another node registered too.
#[post("/registry/duplicate-claims/{id}/decision")]
pub async fn claim_decide(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ClaimForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    let d = crate::registry::duplicates::ClaimDecision { decision: form.decision, reason: form.reason };
    let notice = match crate::registry::duplicates::api::decide(&state, &caller, &path.into_inner(), d).await {
        Ok(v) => format!(
            "统一社会信用代码 {}：{}。",
            v.claim.code,
            crate::registry::duplicates::ClaimStatus::label_zh_of(&v.claim.status)
        ),
        Err(e) if e.is_for_the_form() => e.detail_zh,
        Err(e) => return Err(e),
    };
    review_queue(&state, &caller, notice).await
}

/// 待审核: pending registrations, changes and duplicate claims.
#[get("/registry/review")]
pub async fn review_page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    review_queue(&state, &caller.0, String::new()).await
}

/// Approves or rejects the ticked registrations of the queue with one reason, each on its
/// own as the API's bulk decision does; the notice counts what was decided and names what
/// was not.
#[post("/registry/review/{kind}")]
pub async fn bulk_review(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    use crate::registry::review::api::{bulk_ids, decide_each, BulkDecision, BulkKind};
    let caller = caller.0;
    let pairs = form.into_inner();
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
    caller.check_csrf(&value("csrf"))?;
    let kind = match path.into_inner().as_str() {
        "entities" => BulkKind::Entities,
        "products" => BulkKind::Products,
        _ => return Err(crate::error::AppError::not_found("页面", "page")),
    };
    caller.require(&state, Permission::RegistryReview, "registrations").await?;
    let decision = BulkDecision {
        ids: pairs.iter().filter(|(k, _)| k == "ids").map(|(_, v)| v.clone()).collect(),
        approve: value("decision") == "approve",
        reason: value("reason"),
    };
    let notice = match bulk_ids(&decision) {
        Err(e) => e.detail_zh,
        Ok(ids) => {
            let d = Decision { approve: decision.approve, reason: decision.reason.clone() };
            let done = decide_each(&state, &caller, kind, ids, &d).await;
            let verb = if decision.approve { "通过" } else { "驳回" };
            let mut notice = format!("已{verb} {} 条。", done.decided);
            for r in done.results.iter().filter(|r| r.status.is_none()) {
                notice.push_str(&format!(" {}：{}", r.id, r.reason_zh.as_deref().unwrap_or("")));
            }
            notice
        }
    };
    review_queue(&state, &caller, notice).await
}

/// Approves or rejects a pending change or duplicate claim from the queue.
#[post("/registry/changes/{id}/review")]
pub async fn change_review(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ReviewForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryReview, "changes").await?;
    let id = path.into_inner();
    let key = id.clone();
    let change = state.db.run(move |conn| review::change_by_id(conn, &key)).await?;
    crate::registry::review::api::change_in_reach(&state, &caller, &change).await?;
    let d = form.decision();
    let ctx = caller.audit();
    let notice = match state.db.transaction(move |conn| review::review_change(conn, &ctx, &id, &d)).await {
        Ok(c) => format!("变更已{}。", if c.status == ReviewStatus::Approved.as_str() { "通过" } else { "驳回" }),
        Err(e) if e.is_for_the_form() => e.detail_zh,
        Err(e) => return Err(e),
    };
    review_queue(&state, &caller, notice).await
}
