//! Console page of anomalies (异常数据): the list with filters, and the review form for staff.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::anomalies::{self, Anomaly, AnomalyQuery, Review};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::users::Permission;

#[derive(Template)]
#[template(path = "quality/anomalies.html")]
struct AnomaliesPage {
    shell: Shell,
    query: AnomalyQuery,
    rows: Vec<Anomaly>,
    can_review: bool,
    notice: String,
    error: String,
}

impl AnomaliesPage {
    fn rule_zh(&self, rule: &str) -> &'static str {
        anomalies::rule_zh(rule)
    }

    fn state_zh(&self, s: &str) -> &'static str {
        anomalies::AnomalyStatus::label_zh_of(s)
    }

    /// The rules an anomaly can come from, for the filter.
    fn rules(&self) -> Vec<(&'static str, &'static str)> {
        super::rules::KINDS.iter().chain(["unknown_reference"].iter()).map(|k| (*k, super::rules::kind_zh(k))).collect()
    }
}

async fn view(
    state: &AppState,
    caller: &Caller,
    query: AnomalyQuery,
    notice: String,
    error: String,
) -> AppResult<HttpResponse> {
    caller.require(state, Permission::TraceRead, "anomalies").await?;
    let tenant = caller.tenant_id.as_ref().map(|t| t.as_str().to_owned());
    let q = query.clone();
    let rows = state.db.run(move |conn| anomalies::list(conn, &q, tenant.as_deref())).await?;
    render(&AnomaliesPage {
        shell: Shell::new(state, caller, "异常数据", "/ingest"),
        query,
        rows,
        can_review: caller.can(Permission::QualityManage) && caller.tenant_id.is_none(),
        notice,
        error,
    })
}

/// 异常数据: anomalies found in stored records.
#[get("/quality/anomalies")]
pub async fn page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<AnomalyQuery>,
) -> AppResult<HttpResponse> {
    view(&state, &caller.0, query.into_inner(), String::new(), String::new()).await
}

/// A review as posted.
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    note: String,
}

/// Confirms or dismisses an anomaly from the list.
#[post("/quality/anomalies/{id}/review")]
pub async fn review(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ReviewForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require_staff(&state, Permission::QualityManage, "anomalies", "anomaly.review").await?;
    let id = path.into_inner();
    let ctx = caller.audit();
    let r = Review { decision: form.decision, note: form.note };
    match state.db.transaction(move |conn| anomalies::review(conn, &ctx, &id, None, &r)).await {
        Ok(a) => {
            let notice =
                format!("记录 {} 的异常已审核：{}。", a.record_id, anomalies::AnomalyStatus::label_zh_of(&a.status));
            view(&state, &caller, AnomalyQuery::default(), notice, String::new()).await
        }
        Err(e) if e.is_for_the_form() || e.kind == crate::error::ErrorKind::Conflict => {
            view(&state, &caller, AnomalyQuery::default(), String::new(), e.detail_zh).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "quality/report.html")]
struct ReportPage {
    shell: Shell,
    tenants: Vec<crate::tenants::Tenant>,
    tenant: crate::tenants::Tenant,
    report: super::report::QualityReport,
    query_string: String,
}

/// 数据质量报告: a tenant's report for a period, with the XLSX export.
#[get("/quality/report")]
pub async fn report_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<super::report::Period>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let mut p = query.into_inner();
    let tenants: Vec<crate::tenants::Tenant> = state
        .db
        .run(crate::tenants::list_all)
        .await?
        .into_iter()
        .filter(|t| caller.sees_tenant(t) && t.is_active())
        .collect();
    if p.tenant.as_deref().unwrap_or("").is_empty() && caller.tenant_id.is_none() {
        p.tenant = tenants.first().map(|t| t.id.as_str().to_owned());
    }
    let (tenant, from, to) = super::api::report_for(&state, &caller, &p).await?;
    let id = tenant.id.as_str().to_owned();
    let report = state.db.run(move |conn| super::api::assemble(conn, &id, from, to)).await?;
    let query_string = serde_urlencoded::to_string(&super::report::Period {
        tenant: Some(tenant.id.as_str().to_owned()),
        from: Some(from.to_string()),
        to: Some(to.to_string()),
    })
    .unwrap_or_default();
    render(&ReportPage {
        shell: Shell::new(&state, &caller, "数据质量报告", "/ingest"),
        tenants,
        tenant,
        report,
        query_string,
    })
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(page).service(review).service(report_page);
}
