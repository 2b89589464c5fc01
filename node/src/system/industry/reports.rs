//! Reports (报表填报): what one reporting unit (a tenant) states for one form and period.
//!
//! A unit saves a draft as often as it likes and submits it; a submitted report is checked
//! whole (every required indicator, every rule) and waits for review; staff approve it or
//! send it back with a reason, and may reopen an approved report with a reason. Only
//! approved reports count in the summary. A unit reports a period once it has ended, late
//! after its deadline, and not at all once staff close it.
//!
//! Each save keeps a SHA-256 digest of the figures with the report, and the audit row of
//! each step carries it, so a figure changed in the database afterwards no longer matches
//! the trail ([`tampered`]).

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::forms::{self, Form, FormStatus};
use super::period::Period;
use super::value::{self, ValueInput};
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{industry_reports as r, tenants};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{IndustryReportId, TenantId};

/// Reports one list returns at most.
pub const PAGE: i64 = 500;
/// Longest reason for sending a report back, characters.
pub const MAX_REASON: usize = 500;

crate::text_status! {
    /// Where a report stands.
    pub enum ReportStatus {
        /// Being filled by its unit.
        Draft = "draft" / "草稿",
        /// Submitted, waiting for review.
        Submitted = "submitted" / "待审核",
        /// Sent back to its unit with a reason.
        Returned = "returned" / "已退回",
        /// Approved: it counts in the summary.
        Approved = "approved" / "已通过",
    }
}

/// A unit's report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// Id.
    #[schema(value_type = String)]
    pub id: IndustryReportId,
    /// The form.
    pub form_code: String,
    /// The period.
    pub period: String,
    /// The unit.
    pub tenant_id: String,
    /// The unit's name.
    pub tenant_name: String,
    /// Status.
    pub status: ReportStatus,
    /// Values by indicator code, as decimal text in the indicator's unit.
    pub values: BTreeMap<String, String>,
    /// SHA-256 of the figures as saved.
    pub digest: String,
    /// Saves so far.
    pub version: i32,
    /// Who saved it last.
    pub filled_by: String,
    /// When (UTC).
    pub filled_at: NaiveDateTime,
    /// When it was last submitted (UTC).
    pub submitted_at: Option<NaiveDateTime>,
    /// Who reviewed it last.
    pub reviewed_by: Option<String>,
    /// When (UTC).
    pub reviewed_at: Option<NaiveDateTime>,
    /// Why it was sent back.
    pub reason: String,
    /// Whether it was (last) submitted after the form's deadline.
    pub late: bool,
}

/// What a unit sends.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// Values by indicator code: a number, decimal text, or `{"value": …, "unit": …}`.
    #[schema(value_type = std::collections::BTreeMap<String, Object>)]
    pub values: BTreeMap<String, ValueInput>,
    /// Submit for review (default: keep as a draft).
    #[serde(default)]
    pub submit: bool,
}

/// A report's row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = r)]
struct Row {
    id: String,
    form_code: String,
    period: String,
    tenant_id: String,
    status: String,
    figures: String,
    digest: String,
    version: i32,
    filled_by: String,
    filled_at: NaiveDateTime,
    submitted_at: Option<NaiveDateTime>,
    reviewed_by: Option<String>,
    reviewed_at: Option<NaiveDateTime>,
    reason: String,
}

/// The figures of a stored report, thousandths by indicator code.
pub fn figures_of(text: &str) -> AppResult<BTreeMap<String, i64>> {
    serde_json::from_str(text).map_err(AppError::internal)
}

fn from_row(row: Row, tenant_name: String, due: Option<NaiveDate>) -> AppResult<Report> {
    let Row {
        id,
        form_code,
        period,
        tenant_id,
        status,
        figures,
        digest,
        version,
        filled_by,
        filled_at,
        submitted_at,
        reviewed_by,
        reviewed_at,
        reason,
    } = row;
    let values = figures_of(&figures)?.into_iter().map(|(k, v)| (k, value::format(v))).collect();
    let late = match (submitted_at, due) {
        (Some(at), Some(due)) => super::cst_day(at) > due,
        _ => false,
    };
    Ok(Report {
        id: IndustryReportId::from_db(id),
        status: ReportStatus::parse(&status).ok_or_else(|| AppError::internal(format!("report status {status}")))?,
        form_code,
        period,
        tenant_id,
        tenant_name,
        values,
        digest,
        version,
        filled_by,
        filled_at,
        submitted_at,
        reviewed_by,
        reviewed_at,
        reason,
        late,
    })
}

/// The digest of a report's figures: form, period, unit and the figures' JSON text.
pub fn digest(form: &str, period: &str, tenant: &str, figures: &str) -> String {
    hex::encode(Sha256::digest(format!("{form}\n{period}\n{tenant}\n{figures}").as_bytes()))
}

/// Filter of a list of reports.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ReportFilter {
    /// Only this form.
    pub form: Option<String>,
    /// Only this period.
    pub period: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this unit.
    pub tenant_id: Option<String>,
}

/// Reports matching `filter`, those waiting longest first (at most [`PAGE`]).
pub fn list(conn: &mut DbConnection, filter: &ReportFilter) -> AppResult<Vec<Report>> {
    let mut q = r::table.inner_join(tenants::table.on(tenants::id.eq(r::tenant_id))).into_boxed();
    if let Some(form) = filter.form.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(r::form_code.eq(form.to_owned()));
    }
    if let Some(period) = filter.period.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(r::period.eq(period.to_owned()));
    }
    if let Some(status) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        let s = ReportStatus::parse(status).ok_or_else(|| {
            AppError::invalid("status", format!("未知的状态 {status}"), format!("unknown status {status}"))
        })?;
        q = q.filter(r::status.eq(s.as_str()));
    }
    if let Some(t) = filter.tenant_id.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(r::tenant_id.eq(t.to_owned()));
    }
    let rows: Vec<(Row, String)> = q
        .order((r::submitted_at.asc(), r::filled_at.asc()))
        .limit(PAGE)
        .select((Row::as_select(), tenants::name))
        .load(conn)?;
    let mut due = BTreeMap::new();
    rows.into_iter()
        .map(|(row, name)| {
            let d = due_of(conn, &mut due, &row.form_code, &row.period)?;
            from_row(row, name, d)
        })
        .collect()
}

fn due_of(
    conn: &mut DbConnection,
    cache: &mut BTreeMap<(String, String), Option<NaiveDate>>,
    form: &str,
    period: &str,
) -> AppResult<Option<NaiveDate>> {
    let key = (form.to_owned(), period.to_owned());
    if let Some(d) = cache.get(&key) {
        return Ok(*d);
    }
    let d = forms::find(conn, form)?.and_then(|f| f.period("period", period).ok().map(|p| p.due(f.deadline_days)));
    cache.insert(key, d);
    Ok(d)
}

/// The report `id`.
pub fn get(conn: &mut DbConnection, id: &IndustryReportId) -> AppResult<Report> {
    let row: Option<(Row, String)> = r::table
        .inner_join(tenants::table.on(tenants::id.eq(r::tenant_id)))
        .filter(r::id.eq(id.as_str()))
        .select((Row::as_select(), tenants::name))
        .first(conn)
        .optional()?;
    let (row, name) = row.ok_or_else(|| AppError::not_found("报表", "report"))?;
    let due = due_of(conn, &mut BTreeMap::new(), &row.form_code, &row.period)?;
    from_row(row, name, due)
}

/// The report of `tenant` for a form's period, if there is one.
pub fn of_unit(conn: &mut DbConnection, form: &str, period: &str, tenant: &TenantId) -> AppResult<Option<Report>> {
    let id: Option<String> = r::table
        .filter(r::form_code.eq(form))
        .filter(r::period.eq(period))
        .filter(r::tenant_id.eq(tenant.as_str()))
        .select(r::id)
        .first(conn)
        .optional()?;
    id.map(|id| get(conn, &IndustryReportId::from_db(id))).transpose()
}

/// The form and period a unit may report now: a published form whose period has ended by
/// `today`, is not closed, and names `tenant` among its units.
pub fn reportable(
    conn: &mut DbConnection,
    today: NaiveDate,
    tenant: &TenantId,
    form_code: &str,
    period: &str,
) -> AppResult<(Form, Period)> {
    let form = forms::get(conn, form_code)?;
    if form.status != FormStatus::Published {
        return Err(AppError::conflict(
            format!("报表 {form_code} {}，不接受填报", form.status.label_zh()),
            format!("form {form_code} is {} and takes no report", form.status),
        ));
    }
    let p = form.period("period", period)?;
    if !p.has_ended(today) {
        return Err(AppError::invalid(
            "period",
            format!("报告期 {p} 尚未结束（{} 结束）", p.last_day()),
            format!("period {p} has not ended yet (it ends {})", p.last_day()),
        ));
    }
    if forms::is_closed(conn, form_code, &p)? {
        return Err(AppError::invalid(
            "period",
            format!("报告期 {p} 已关闭，不再接受填报"),
            format!("period {p} is closed"),
        ));
    }
    if !forms::is_unit(conn, form_code, tenant)? {
        return Err(AppError::with_detail(
            ErrorKind::Forbidden,
            format!("本单位不是报表 {form_code} 的报送单位"),
            format!("this unit does not report form {form_code}"),
        ));
    }
    Ok((form, p))
}

/// The values of `input` checked against `form`, in thousandths; with `whole`, every
/// required indicator and every rule too. A fault names `values.CODE` or `rules[i]`.
pub fn check_values(
    form: &Form,
    input: &BTreeMap<String, ValueInput>,
    whole: bool,
) -> AppResult<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for (code, v) in input {
        let field = format!("values.{code}");
        let indicator = form.indicator(code).ok_or_else(|| {
            AppError::invalid(&field, format!("报表没有指标 {code}"), format!("the form has no indicator {code}"))
        })?;
        let (text, unit) = v.parts();
        if let Some(u) = unit.filter(|u| u.trim() != indicator.unit) {
            return Err(AppError::invalid(
                &field,
                format!("{}（{code}）的计量单位应为“{}”，不是“{u}”", indicator.name, indicator.unit),
                format!("{code} is stated in “{}”, not “{u}”", indicator.unit),
            ));
        }
        let milli = value::parse(&text, indicator.kind, indicator.signed).map_err(|e| {
            AppError::invalid(&field, format!("{}（{code}）：{}", indicator.name, e.zh), format!("{code}: {}", e.en))
        })?;
        out.insert(code.clone(), milli);
    }
    if whole {
        if let Some(missing) = form.indicators.iter().find(|i| i.required && !out.contains_key(&i.code)) {
            return Err(AppError::invalid(
                &format!("values.{}", missing.code),
                format!("{}（{}）为必填项", missing.name, missing.code),
                format!("{} is required", missing.code),
            ));
        }
        for (i, rule) in form.parsed_rules().iter().enumerate() {
            if rule.holds(&out) == Some(false) {
                return Err(AppError::invalid(
                    &format!("rules[{i}]"),
                    format!("审核关系不成立：{}", rule.text()),
                    format!("the rule does not hold: {}", rule.text()),
                ));
            }
        }
    }
    Ok(out)
}

/// Saves (and with `input.submit`, submits) the report of `tenant` for a form's period, with
/// an audit row. A submitted or approved report is not changed.
pub fn fill(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    today: NaiveDate,
    tenant: &TenantId,
    form_code: &str,
    period: &str,
    input: &ReportInput,
) -> AppResult<Report> {
    let (form, p) = reportable(conn, today, tenant, form_code, period)?;
    let figures = check_values(&form, &input.values, input.submit)?;
    let text = serde_json::to_string(&figures).map_err(AppError::internal)?;
    let period = p.to_string();
    let digest = digest(form_code, &period, tenant.as_str(), &text);
    let status = if input.submit { ReportStatus::Submitted } else { ReportStatus::Draft };
    let now = db::now();
    let submitted_at = input.submit.then_some(now);
    let held = of_unit(conn, form_code, &period, tenant)?;
    let id = match held {
        Some(h) if matches!(h.status, ReportStatus::Submitted | ReportStatus::Approved) => {
            return Err(AppError::conflict(
                format!("报表{}，不能再修改", h.status.label_zh()),
                format!("the report is {} and cannot be changed", h.status),
            ))
        }
        Some(h) => {
            diesel::update(r::table.find(h.id.as_str()))
                .set((
                    r::status.eq(status.as_str()),
                    r::figures.eq(&text),
                    r::digest.eq(&digest),
                    r::version.eq(h.version + 1),
                    r::filled_by.eq(&ctx.actor),
                    r::filled_at.eq(now),
                    r::submitted_at.eq(submitted_at.or(h.submitted_at)),
                ))
                .execute(conn)?;
            h.id
        }
        None => {
            let id = IndustryReportId::generate();
            diesel::insert_into(r::table)
                .values((
                    r::id.eq(id.as_str()),
                    r::form_code.eq(form_code),
                    r::period.eq(&period),
                    r::tenant_id.eq(tenant.as_str()),
                    r::status.eq(status.as_str()),
                    r::figures.eq(&text),
                    r::digest.eq(&digest),
                    r::version.eq(1),
                    r::filled_by.eq(&ctx.actor),
                    r::filled_at.eq(now),
                    r::submitted_at.eq(submitted_at),
                    r::reason.eq(""),
                ))
                .execute(conn)?;
            id
        }
    };
    let action = if input.submit { "industry_report.submit" } else { "industry_report.save" };
    audit::record(
        conn,
        ctx,
        action,
        &object(&id),
        Outcome::Success,
        serde_json::json!({"form": form_code, "period": period, "digest": digest}),
    )?;
    get(conn, &id)
}

fn object(id: &IndustryReportId) -> String {
    format!("industry_report:{}", id.as_str())
}

/// A reviewer's decision.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Approve (`true`) or send back (`false`).
    pub approve: bool,
    /// Why it is sent back (required then, up to 500 characters).
    #[serde(default)]
    pub reason: String,
}

fn check_reason(reason: &str) -> AppResult<String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(AppError::invalid(
            "reason",
            format!("请填写退回原因（不超过 {MAX_REASON} 字）"),
            format!("a reason of up to {MAX_REASON} characters is required"),
        ));
    }
    Ok(reason.to_owned())
}

/// Approves a submitted report or sends it back, with an audit row; the reviewer may not be
/// the one who filled it. Returns the report and whether the summary may have changed.
pub fn review(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    id: &IndustryReportId,
    decision: &Decision,
) -> AppResult<Report> {
    let report = get(conn, id)?;
    if report.status != ReportStatus::Submitted {
        return Err(AppError::conflict(
            format!("报表{}，不在待审核状态", report.status.label_zh()),
            format!("the report is {}, not waiting for review", report.status),
        ));
    }
    if report.filled_by == ctx.actor {
        return Err(AppError::with_detail(
            ErrorKind::SeparationOfDuties,
            "填报人不能审核自己填报的报表",
            "whoever filled a report cannot review it",
        ));
    }
    let (status, reason) = if decision.approve {
        (ReportStatus::Approved, String::new())
    } else {
        (ReportStatus::Returned, check_reason(&decision.reason)?)
    };
    decide(conn, ctx, &report, status, &reason)
}

/// Reopens an approved report (it no longer counts), sending it back with a reason.
pub fn reopen(conn: &mut DbConnection, ctx: &AuditContext, id: &IndustryReportId, reason: &str) -> AppResult<Report> {
    let report = get(conn, id)?;
    if report.status != ReportStatus::Approved {
        return Err(AppError::conflict(
            format!("报表{}，只有已通过的报表可以撤回", report.status.label_zh()),
            format!("the report is {}; only an approved one can be reopened", report.status),
        ));
    }
    let reason = check_reason(reason)?;
    decide(conn, ctx, &report, ReportStatus::Returned, &reason)
}

fn decide(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    report: &Report,
    status: ReportStatus,
    reason: &str,
) -> AppResult<Report> {
    diesel::update(r::table.find(report.id.as_str()))
        .set((
            r::status.eq(status.as_str()),
            r::reviewed_by.eq(Some(&ctx.actor)),
            r::reviewed_at.eq(Some(db::now())),
            r::reason.eq(reason),
        ))
        .execute(conn)?;
    let action = match (report.status, status) {
        (ReportStatus::Approved, _) => "industry_report.reopen",
        (_, ReportStatus::Approved) => "industry_report.approve",
        _ => "industry_report.return",
    };
    audit::record(
        conn,
        ctx,
        action,
        &object(&report.id),
        Outcome::Success,
        serde_json::json!({"form": report.form_code, "period": report.period, "digest": report.digest, "reason": reason}),
    )?;
    get(conn, &report.id)
}

/// The approved reports of a form's period whose figures do not hash to the digest their
/// approval's audit row carries: figures changed in the database outside the node, even with
/// the digest column rewritten to match, because the audit chain is hash-linked and
/// anchored outside the database.
pub fn tampered(conn: &mut DbConnection, form: &str, period: &str) -> AppResult<Vec<IndustryReportId>> {
    use crate::db::schema::audit_log as al;
    let rows: Vec<(String, String, String)> = r::table
        .filter(r::form_code.eq(form))
        .filter(r::period.eq(period))
        .filter(r::status.eq(ReportStatus::Approved.as_str()))
        .select((r::id, r::tenant_id, r::figures))
        .load(conn)?;
    let mut out = Vec::new();
    for (id, tenant, figures) in rows {
        let approved: Option<String> = al::table
            .filter(al::object.eq(format!("industry_report:{id}")))
            .filter(al::action.eq("industry_report.approve"))
            .order(al::seq.desc())
            .select(al::detail)
            .first(conn)
            .optional()?;
        let audited = approved
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .and_then(|d| d["digest"].as_str().map(str::to_owned));
        if audited.as_deref() != Some(digest(form, period, &tenant, &figures).as_str()) {
            out.push(IndustryReportId::from_db(id));
        }
    }
    Ok(out)
}
