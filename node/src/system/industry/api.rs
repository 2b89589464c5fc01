//! JSON API of industry statistics. Staff with `industry.manage` define forms, import the
//! classification, assign units, close periods and remind units; staff with
//! `industry.review` review reports; a unit's people and machines (`industry.report`,
//! bound to the unit's tenant) fill and submit the unit's reports, as JSON or as the form's
//! workbook; staff with `statistics.read` read summaries within their data scope.

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;

use super::classification::{self, Class, Imported};
use super::form::FormInput;
use super::forms::{self, Form, FormStatus, Unit};
use super::overview::{self, Overview};
use super::reports::{self, Decision, Report, ReportFilter, ReportInput};
use super::{reminders, summary, workbook, Linked};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::ids::{IndustryReportId, TenantId};
use crate::users::Permission;

/// The most bytes a classification file or an uploaded workbook may take.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn own(state: &AppState) -> String {
    state.config.node.region.to_string()
}

/// Staff with `industry.manage`.
pub async fn require_manager(state: &AppState, caller: &Caller) -> AppResult<()> {
    caller.require_staff(state, Permission::IndustryManage, "industry", "industry.manage").await
}

/// Staff with `industry.review`.
pub async fn require_reviewer(state: &AppState, caller: &Caller) -> AppResult<()> {
    caller.require_staff(state, Permission::IndustryReview, "industry_reports", "industry_report.review").await
}

/// A unit's caller: `industry.report`, bound to a tenant; returns the tenant.
pub async fn require_unit(state: &AppState, caller: &Caller) -> AppResult<TenantId> {
    caller.require(state, Permission::IndustryReport, "industry_reports").await?;
    match &caller.tenant_id {
        Some(t) => Ok(t.clone()),
        None => Err(caller.deny(state, "industry_report.fill", "industry_reports", ErrorKind::Forbidden).await),
    }
}

/// Staff who read summaries: `statistics.read`, and the region inside their data scope.
pub async fn require_reader(state: &AppState, caller: &Caller, region: Option<&str>) -> AppResult<()> {
    caller.require(state, Permission::StatisticsRead, "industry_summaries").await?;
    if let (Some(scope), Some(region)) = (&caller.scope.region, region.filter(|r| !r.is_empty())) {
        let inside = crate::region::RegionCode::parse(region).is_ok_and(|r| scope.contains(&r));
        if !inside {
            return Err(caller.deny(state, "industry_summary.read", region, ErrorKind::OutOfScope).await);
        }
    }
    Ok(())
}

/// Asks for the summaries waiting in the outbox to go up soon.
pub fn wake(state: &AppState) {
    if let Some(linked) = state.find::<Linked>() {
        linked.0.wake_up();
    }
}

/// Which classes to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClassQuery {
    /// Edition (default 2018).
    pub edition: Option<String>,
    /// The parent class (empty: the sections).
    pub parent: Option<String>,
}

/// The classes of the 三新 classification under a parent.
#[utoipa::path(tag = "industry", params(ClassQuery), responses((status = 200, body = Vec<Class>)))]
#[get("/api/v1/industry/classes")]
pub async fn classes(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<ClassQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let edition = q.edition.unwrap_or_else(|| classification::EDITION_2018.to_owned());
    let parent = q.parent.unwrap_or_default();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| classification::children(conn, &edition, &parent)).await?))
}

/// The edition to import into.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EditionQuery {
    /// Edition (default 2018).
    pub edition: Option<String>,
}

/// Imports classes from a CSV file (`code,name,industries`), whole or not at all.
#[utoipa::path(tag = "industry", params(EditionQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Imported), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/industry/classes/import")]
pub async fn import_classes(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EditionQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let text = upload_text(&body)?;
    let edition = query.into_inner().edition.unwrap_or_else(|| classification::EDITION_2018.to_owned());
    let ctx = caller.audit();
    Ok(HttpResponse::Ok()
        .json(state.db.transaction(move |conn| classification::import(conn, &ctx, &edition, &text)).await?))
}

fn upload_text(body: &[u8]) -> AppResult<String> {
    if body.len() > MAX_UPLOAD_BYTES {
        return Err(AppError::new(ErrorKind::PayloadTooLarge));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| AppError::invalid("file", "文件应为 UTF-8 编码", "the file must be UTF-8"))
}

/// Every form (a unit sees the published forms it reports).
#[utoipa::path(tag = "industry", responses((status = 200, body = Vec<Form>)))]
#[get("/api/v1/industry/forms")]
pub async fn list_forms(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let tenant = caller.tenant_id.clone();
    let forms = state
        .db
        .run(move |conn| {
            let all = forms::list(conn)?;
            match tenant {
                None => Ok(all),
                Some(t) => {
                    let mut mine = Vec::new();
                    for f in all.into_iter().filter(|f| f.status == FormStatus::Published) {
                        if forms::is_unit(conn, &f.code, &t)? {
                            mine.push(f);
                        }
                    }
                    Ok(mine)
                }
            }
        })
        .await?;
    Ok(HttpResponse::Ok().json(forms))
}

/// Defines a form (a draft).
#[utoipa::path(tag = "industry", request_body = FormInput,
    responses((status = 201, body = Form), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/industry/forms")]
pub async fn create_form(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<FormInput>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let (ctx, own, input) = (caller.audit(), own(&state), body.into_inner());
    Ok(HttpResponse::Created().json(state.db.transaction(move |conn| forms::create(conn, &ctx, &own, &input)).await?))
}

/// A form with its units and the periods reported so far.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FormDetail {
    /// The form.
    pub form: Form,
    /// Its reporting units here.
    pub units: Vec<Unit>,
    /// Periods with a report or a summary, newest first.
    pub periods: Vec<String>,
}

/// A form, its units and periods.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code")),
    responses((status = 200, body = FormDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/industry/forms/{code}")]
pub async fn get_form(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    let code = path.into_inner();
    let staff = caller.tenant_id.is_none();
    let detail = state
        .db
        .run(move |conn| {
            let form = forms::get(conn, &code)?;
            let units = if staff { forms::units(conn, &code)? } else { Vec::new() };
            Ok(FormDetail { periods: summary::periods(conn, &code)?, form, units })
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Replaces a draft's definition.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code")), request_body = FormInput,
    responses((status = 200, body = Form), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/industry/forms/{code}")]
pub async fn update_form(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<FormInput>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let (ctx, own, code, input) = (caller.audit(), own(&state), path.into_inner(), body.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| forms::update(conn, &ctx, &own, &code, &input)).await?))
}

/// Publishes a draft: its units report it, and it goes down to every node below.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code")),
    responses((status = 200, body = Form), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/industry/forms/{code}/publish")]
pub async fn publish_form(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let (ctx, own, code, linked) = (caller.audit(), own(&state), path.into_inner(), state.find::<Linked>());
    let form = state
        .db
        .transaction(move |conn| forms::publish(conn, &ctx, &own, &code, linked.as_ref().map(|l| l.0.as_ref())))
        .await?;
    Ok(HttpResponse::Ok().json(form))
}

/// Withdraws a published form of this node's, here and below.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code")),
    responses((status = 200, body = Form), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/industry/forms/{code}/withdraw")]
pub async fn withdraw_form(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let (ctx, own, code, linked) = (caller.audit(), own(&state), path.into_inner(), state.find::<Linked>());
    let form = state
        .db
        .transaction(move |conn| forms::withdraw(conn, &ctx, &own, &code, linked.as_ref().map(|l| l.0.as_ref())))
        .await?;
    Ok(HttpResponse::Ok().json(form))
}

/// The reporting units of a form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitsInput {
    /// Tenant ids (at most 10,000).
    pub tenant_ids: Vec<String>,
}

/// Sets the reporting units of a form at this node (tenants inside the caller's data scope).
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code")), request_body = UnitsInput,
    responses((status = 200, body = Vec<Unit>), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/industry/forms/{code}/units")]
pub async fn set_units(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<UnitsInput>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let (code, ids) = (path.into_inner(), body.into_inner().tenant_ids);
    let tenants = state.db.run(crate::tenants::list_all).await?;
    let outside = ids
        .iter()
        .find(|id| tenants.iter().find(|t| t.id.as_str() == id.as_str()).is_some_and(|t| !caller.sees_tenant(t)));
    if let Some(id) = outside {
        return Err(caller.deny(&state, "industry_form.units", id, ErrorKind::OutOfScope).await);
    }
    let ctx = caller.audit();
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| forms::set_units(conn, &ctx, &code, &ids)).await?))
}

/// Closes a period: no report is taken for it any more.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code"), ("period" = String, Path, description = "Period")),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/industry/forms/{code}/periods/{period}/close")]
pub async fn close_period(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let ((code, period), ctx) = (path.into_inner(), caller.audit());
    state
        .db
        .transaction(move |conn| {
            let form = forms::get(conn, &code)?;
            let p = form.period("period", &period)?;
            forms::close(conn, &ctx, &code, &p)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How many units were reminded.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Reminded {
    /// Units reminded.
    pub reminded: usize,
}

/// Reminds every unit that has not submitted the period (催报), through its notification
/// channels.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code"), ("period" = String, Path, description = "Period")),
    responses((status = 200, body = Reminded)))]
#[post("/api/v1/industry/forms/{code}/periods/{period}/remind")]
pub async fn remind(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let ((code, period), ctx) = (path.into_inner(), caller.audit());
    let today = super::today();
    let reminded = state
        .db
        .transaction(move |conn| {
            let form = forms::get(conn, &code)?;
            let p = form.period("period", &period)?;
            reminders::remind_now(conn, &ctx, &form, &p, today)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Reminded { reminded }))
}

/// Whose jurisdiction to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RegionQuery {
    /// A region inside this node's (default: this node's own).
    pub region: Option<String>,
}

async fn overview_of(
    state: &AppState,
    caller: &Caller,
    code: String,
    period: String,
    region: Option<String>,
) -> AppResult<Overview> {
    require_reader(state, caller, region.as_deref()).await?;
    let own = own(state);
    state.db.run(move |conn| overview::overview(conn, &own, &code, &period, region.as_deref())).await
}

/// The summary of a period over this node's jurisdiction or a region inside it, with its
/// parts and how far reporting has come.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code"), ("period" = String, Path, description = "Period"), RegionQuery),
    responses((status = 200, body = Overview), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/industry/forms/{code}/periods/{period}/summary")]
pub async fn get_summary(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    query: web::Query<RegionQuery>,
) -> AppResult<HttpResponse> {
    let (code, period) = path.into_inner();
    Ok(HttpResponse::Ok().json(overview_of(&state, &caller, code, period, query.into_inner().region).await?))
}

/// The summary as an XLSX workbook in the form's layout.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code"), ("period" = String, Path, description = "Period"), RegionQuery),
    responses((status = 200, description = "XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
#[get("/api/v1/industry/forms/{code}/periods/{period}/summary.xlsx")]
pub async fn summary_xlsx(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    query: web::Query<RegionQuery>,
) -> AppResult<HttpResponse> {
    let (code, period) = path.into_inner();
    let o = overview_of(&state, &caller, code, period, query.into_inner().region).await?;
    let bytes = export(&o)?;
    Ok(attachment(bytes, &format!("{}-{}-{}.xlsx", o.form.code, o.period, o.region)))
}

/// The workbook of an overview: the region's total, then each part.
pub fn export(o: &Overview) -> AppResult<Vec<u8>> {
    let empty = summary::Held {
        summary: tracenode_federation::wire::payload::IndustrySummary {
            source_region: o.region.clone(),
            form: o.form.code.clone(),
            period: o.period.clone(),
            revision: 0,
            units_expected: 0,
            units_reported: 0,
            children_expected: 0,
            children_reported: 0,
            figures: Vec::new(),
        },
        via: String::new(),
        updated_at: chrono::NaiveDateTime::default(),
    };
    let total = o.total.as_ref().unwrap_or(&empty);
    let parts: Vec<(String, &summary::Held)> = o
        .parts
        .iter()
        .map(|h| {
            let name = crate::region::RegionCode::parse(&h.summary.source_region)
                .map(|r| r.name().to_owned())
                .unwrap_or_default();
            (format!("{} {name}", h.summary.source_region), h)
        })
        .collect();
    workbook::summary(&o.form, &o.period, total, &parts)
}

fn attachment(bytes: Vec<u8>, name: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .body(bytes)
}

/// The form's workbook for a period: a unit's with what it filled so far, staff's blank.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code"), ("period" = String, Path, description = "Period")),
    responses((status = 200, description = "XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
#[get("/api/v1/industry/forms/{code}/periods/{period}/workbook.xlsx")]
pub async fn workbook_xlsx(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (code, period) = path.into_inner();
    let tenant = caller.tenant_id.clone();
    let (form, period, unit, values) = state
        .db
        .run(move |conn| {
            let form = forms::get(conn, &code)?;
            let p = form.period("period", &period)?.to_string();
            let (unit, values) = match &tenant {
                Some(t) => {
                    let name = crate::tenants::get(conn, t)?.name;
                    let values = reports::of_unit(conn, &code, &p, t)?.map(|r| r.values).unwrap_or_default();
                    (name, values)
                }
                None => (String::new(), Default::default()),
            };
            Ok((form, p, unit, values))
        })
        .await?;
    let bytes = workbook::template(&form, &period, &unit, &values)?;
    Ok(attachment(bytes, &format!("{}-{period}.xlsx", form.code)))
}

/// The caller's unit's report of a period.
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code"), ("period" = String, Path, description = "Period")),
    responses((status = 200, body = Report), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/industry/forms/{code}/periods/{period}/report")]
pub async fn my_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let tenant = require_unit(&state, &caller).await?;
    let (code, period) = path.into_inner();
    let report = state
        .db
        .run(move |conn| {
            let form = forms::get(conn, &code)?;
            let p = form.period("period", &period)?.to_string();
            reports::of_unit(conn, &code, &p, &tenant)?.ok_or_else(|| AppError::not_found("报表", "report"))
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Saves the caller's unit's report of a period (`submit`: and submits it for review).
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code"), ("period" = String, Path, description = "Period")),
    request_body = ReportInput,
    responses((status = 200, body = Report), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/industry/forms/{code}/periods/{period}/report")]
pub async fn fill(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<ReportInput>,
) -> AppResult<HttpResponse> {
    let tenant = require_unit(&state, &caller).await?;
    let ((code, period), ctx, input) = (path.into_inner(), caller.audit(), body.into_inner());
    let today = super::today();
    let report =
        state.db.transaction(move |conn| reports::fill(conn, &ctx, today, &tenant, &code, &period, &input)).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Whether to submit an uploaded workbook.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// Submit for review (default: keep as a draft).
    pub submit: Option<bool>,
}

/// Saves the caller's unit's report from the form's workbook (a fault names its cell).
#[utoipa::path(tag = "industry", params(("code" = String, Path, description = "Form code"), ("period" = String, Path, description = "Period"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    responses((status = 200, body = Report), (status = 413, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/industry/forms/{code}/periods/{period}/report.xlsx")]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    query: web::Query<UploadQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let tenant = require_unit(&state, &caller).await?;
    if body.len() > MAX_UPLOAD_BYTES {
        return Err(AppError::new(ErrorKind::PayloadTooLarge));
    }
    let ((code, period), ctx, submit) = (path.into_inner(), caller.audit(), query.into_inner().submit.unwrap_or(false));
    let today = super::today();
    let report = state
        .db
        .transaction(move |conn| fill_from_workbook(conn, &ctx, today, &tenant, &code, &period, &body, submit))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Saves a unit's report from an uploaded workbook, its faults named by cell.
#[allow(clippy::too_many_arguments)]
pub fn fill_from_workbook(
    conn: &mut crate::db::DbConnection,
    ctx: &crate::audit::AuditContext,
    today: chrono::NaiveDate,
    tenant: &TenantId,
    code: &str,
    period: &str,
    bytes: &[u8],
    submit: bool,
) -> AppResult<Report> {
    let (form, p) = reports::reportable(conn, today, tenant, code, period)?;
    let values = workbook::read(&form, &p.to_string(), bytes)?;
    reports::fill(conn, ctx, today, tenant, code, period, &ReportInput { values, submit })
        .map_err(|e| workbook::locate(&form, e))
}

/// Reports to review (staff): filtered, those waiting longest first, at most 500.
#[utoipa::path(tag = "industry", params(ReportFilter), responses((status = 200, body = Vec<Report>)))]
#[get("/api/v1/industry/reports")]
pub async fn list_reports(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ReportFilter>,
) -> AppResult<HttpResponse> {
    require_reviewer(&state, &caller).await?;
    let filter = query.into_inner();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| reports::list(conn, &filter)).await?))
}

/// One report (staff, or the unit it belongs to).
#[utoipa::path(tag = "industry", params(("id" = String, Path, description = "Report id")),
    responses((status = 200, body = Report), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/industry/reports/{id}")]
pub async fn get_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = IndustryReportId::parse(&path.into_inner())?;
    let report = match &caller.tenant_id {
        None => {
            require_reviewer(&state, &caller).await?;
            state.db.run(move |conn| reports::get(conn, &id)).await?
        }
        Some(t) => {
            require_unit(&state, &caller).await?;
            let r = state.db.run(move |conn| reports::get(conn, &id)).await?;
            if r.tenant_id != t.as_str() {
                return Err(AppError::not_found("报表", "report"));
            }
            r
        }
    };
    Ok(HttpResponse::Ok().json(report))
}

/// Approves a submitted report or sends it back with a reason.
#[utoipa::path(tag = "industry", params(("id" = String, Path, description = "Report id")), request_body = Decision,
    responses((status = 200, body = Report), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/industry/reports/{id}/review")]
pub async fn review(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Decision>,
) -> AppResult<HttpResponse> {
    require_reviewer(&state, &caller).await?;
    let id = IndustryReportId::parse(&path.into_inner())?;
    let (ctx, own, decision) = (caller.audit(), own(&state), body.into_inner());
    let outcome = state
        .db
        .transaction(move |conn| {
            let report = reports::review(conn, &ctx, &id, &decision)?;
            summary::recount_for(conn, &own, &report)?;
            Ok(report)
        })
        .await;
    let report = caller.audit_refusal(&state, "industry_report.review", "industry_reports", outcome).await?;
    wake(&state);
    Ok(HttpResponse::Ok().json(report))
}

/// Why an approved report is reopened.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reopen {
    /// The reason (required, up to 500 characters).
    pub reason: String,
}

/// Reopens an approved report: it no longer counts, and goes back to its unit.
#[utoipa::path(tag = "industry", params(("id" = String, Path, description = "Report id")), request_body = Reopen,
    responses((status = 200, body = Report), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/industry/reports/{id}/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Reopen>,
) -> AppResult<HttpResponse> {
    require_reviewer(&state, &caller).await?;
    let id = IndustryReportId::parse(&path.into_inner())?;
    let (ctx, own, reason) = (caller.audit(), own(&state), body.into_inner().reason);
    let report = state
        .db
        .transaction(move |conn| {
            let report = reports::reopen(conn, &ctx, &id, &reason)?;
            summary::recount_for(conn, &own, &report)?;
            Ok(report)
        })
        .await?;
    wake(&state);
    Ok(HttpResponse::Ok().json(report))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(classes)
        .service(import_classes)
        .service(list_forms)
        .service(create_form)
        .service(get_form)
        .service(update_form)
        .service(publish_form)
        .service(withdraw_form)
        .service(set_units)
        .service(close_period)
        .service(remind)
        .service(get_summary)
        .service(summary_xlsx)
        .service(workbook_xlsx)
        .service(my_report)
        .service(fill)
        .service(upload)
        .service(list_reports)
        .service(get_report)
        .service(review)
        .service(reopen);
}
