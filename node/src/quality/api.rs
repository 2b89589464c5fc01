//! JSON API of data quality: anomalies and their review.

use actix_web::{get, post, web, HttpResponse};

use super::anomalies::{self, Anomaly, AnomalyQuery, Review};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};
use crate::users::Permission;

/// The latest anomalies (a tenant sees its own).
#[utoipa::path(tag = "quality", params(AnomalyQuery), responses((status = 200, body = Vec<Anomaly>)))]
#[get("/api/v1/quality/anomalies")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AnomalyQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "anomalies").await?;
    let tenant = caller.tenant_id.as_ref().map(|t| t.as_str().to_owned());
    let q = query.into_inner();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| anomalies::list(conn, &q, tenant.as_deref())).await?))
}

/// Confirms or dismisses an open anomaly (node staff), with an audit row.
#[utoipa::path(tag = "quality", params(("id" = String, Path, description = "Anomaly id")), request_body = Review,
    responses((status = 200, body = Anomaly), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/quality/anomalies/{id}/review")]
pub async fn review(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Review>,
) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::QualityManage, "anomalies", "anomaly.review").await?;
    let id = path.into_inner();
    let r = body.into_inner();
    let ctx = caller.audit();
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| anomalies::review(conn, &ctx, &id, None, &r)).await?))
}

/// A tenant's report for the days `from` to `to`: its submissions and its anomalies.
pub fn assemble(
    conn: &mut crate::db::DbConnection,
    tenant: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> AppResult<super::report::QualityReport> {
    let (start, end) = super::report::instants(from, to);
    let counts = super::report::counts(conn, tenant, start, end)?;
    super::report::build(conn, tenant, from, to, counts)
}

/// The tenant and days of a report request.
pub async fn report_for(
    state: &AppState,
    caller: &Caller,
    p: &super::report::Period,
) -> AppResult<(crate::tenants::Tenant, chrono::NaiveDate, chrono::NaiveDate)> {
    caller.require(state, Permission::TraceRead, "quality_report").await?;
    let named = match p.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(crate::ids::TenantId::parse(t)?),
        None => None,
    };
    let id = crate::registry::access::owning_tenant(state, caller, named.as_ref(), "quality.report").await?;
    let (from, to) = super::report::days_of(p)?;
    let tenant = state.db.run(move |conn| crate::tenants::get(conn, &id)).await?;
    Ok((tenant, from, to))
}

/// A tenant's data quality report for a period.
#[utoipa::path(tag = "quality", params(super::report::Period), responses((status = 200, body = super::report::QualityReport), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/quality/report")]
pub async fn report(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<super::report::Period>,
) -> AppResult<HttpResponse> {
    let (tenant, from, to) = report_for(&state, &caller, &query).await?;
    let id = tenant.id.as_str().to_owned();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| assemble(conn, &id, from, to)).await?))
}

/// The same report as an XLSX workbook.
#[utoipa::path(tag = "quality", params(super::report::Period), responses((status = 200, description = "XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
#[get("/api/v1/quality/report.xlsx")]
pub async fn report_xlsx(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<super::report::Period>,
) -> AppResult<HttpResponse> {
    let (tenant, from, to) = report_for(&state, &caller, &query).await?;
    let id = tenant.id.as_str().to_owned();
    let r = state.db.run(move |conn| assemble(conn, &id, from, to)).await?;
    let bytes = super::report::xlsx(&r, &tenant.name)?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"quality-{}-{from}-{to}.xlsx\"", tenant.code),
        ))
        .body(bytes))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(review).service(report).service(report_xlsx);
}
