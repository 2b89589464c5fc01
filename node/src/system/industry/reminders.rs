//! Reminders (催报). Each hour the node looks at the latest ended period of every published
//! form: three days before its deadline it reminds each unit that has not submitted, and
//! after the deadline it reminds them again and tells the node's own channels which
//! children have not sent a summary. Each reminder goes once per (form, period, unit, kind),
//! through the unit's own notification channels (mail, webhook). Staff can also remind the
//! missing units of any period at once.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::forms::{self, Form, FormStatus};
use super::period::Period;
use super::reports::ReportStatus;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{
    federation_children as fc, industry_reminders as ir, industry_reports as r, industry_summaries as s,
};
use crate::db::{self, DbConnection};
use crate::error::AppResult;
use crate::notify::{self, Event};
use crate::pki::registry::ChildStatus;

/// Days before the deadline the first reminder goes.
pub const DAYS_BEFORE: i64 = 3;

/// The units of a form that have not submitted a report for `period` (submitted or
/// approved), as (tenant id, name).
pub fn missing_units(conn: &mut DbConnection, form: &str, period: &str) -> AppResult<Vec<(String, String)>> {
    let done: Vec<String> = r::table
        .filter(r::form_code.eq(form))
        .filter(r::period.eq(period))
        .filter(r::status.eq_any([ReportStatus::Submitted.as_str(), ReportStatus::Approved.as_str()]))
        .select(r::tenant_id)
        .load(conn)?;
    Ok(forms::units(conn, form)?
        .into_iter()
        .filter(|u| !done.contains(&u.tenant_id))
        .map(|u| (u.tenant_id, u.name))
        .collect())
}

/// The active children without a summary of a form's period, as (region, name).
pub fn missing_children(conn: &mut DbConnection, form: &str, period: &str) -> AppResult<Vec<(String, String)>> {
    let sent: Vec<String> =
        s::table.filter(s::form_code.eq(form)).filter(s::period.eq(period)).select(s::source_region).load(conn)?;
    let children: Vec<(String, String)> = fc::table
        .filter(fc::status.eq(ChildStatus::Active.as_str()))
        .order(fc::region.asc())
        .select((fc::region, fc::name))
        .load(conn)?;
    Ok(children.into_iter().filter(|(region, _)| !sent.contains(region)).collect())
}

fn sent_before(conn: &mut DbConnection, form: &str, period: &str, tenant: &str, kind: &str) -> AppResult<bool> {
    Ok(ir::table.find((form, period, tenant, kind)).count().get_result::<i64>(conn)? > 0)
}

fn mark(conn: &mut DbConnection, form: &str, period: &str, tenant: &str, kind: &str) -> AppResult<()> {
    diesel::delete(ir::table.find((form, period, tenant, kind))).execute(conn)?;
    diesel::insert_into(ir::table)
        .values((
            ir::form_code.eq(form),
            ir::period.eq(period),
            ir::tenant_id.eq(tenant),
            ir::kind.eq(kind),
            ir::sent_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

fn unit_event(form: &Form, period: &Period, tenant: &str, name: &str, late: bool) -> Event {
    let due = period.due(form.deadline_days);
    let (subject, lead) = if late {
        (format!("【催报】{}（{period}）已过报送期限", form.name), format!("报送期限 {due} 已过"))
    } else {
        (format!("【提醒】{}（{period}）将于 {due} 截止报送", form.name), format!("报送期限为 {due}"))
    };
    Event {
        topic: "industry.reminder",
        tenant_id: Some(tenant.to_owned()),
        subject,
        body: format!(
            "{name}：\n\n报表“{}”（{}）{period} 期尚未提交，{lead}。请登录管理平台“体系建设 › 行业统计”填报，或通过接口提交。\n",
            form.name, form.code
        ),
        payload: serde_json::json!({"form": form.code, "period": period.to_string(), "due": due.to_string(), "late": late}),
    }
}

/// Reminds every unit of a form that has not submitted `period` (each once per kind unless
/// `again`); returns how many units were reminded.
pub fn remind_units(
    conn: &mut DbConnection,
    form: &Form,
    period: &Period,
    late: bool,
    again: bool,
) -> AppResult<usize> {
    let p = period.to_string();
    let kind = if late { "late" } else { "due" };
    let mut told = 0;
    for (tenant, name) in missing_units(conn, &form.code, &p)? {
        if !again && sent_before(conn, &form.code, &p, &tenant, kind)? {
            continue;
        }
        notify::enqueue_for_tenant(conn, &unit_event(form, period, &tenant, &name, late))?;
        mark(conn, &form.code, &p, &tenant, kind)?;
        told += 1;
    }
    Ok(told)
}

/// Reminds every unit that has not submitted a form's `period` now (staff's 催报), whether or
/// not it was reminded before, with an audit row; returns how many units were reminded.
pub fn remind_now(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    form: &Form,
    period: &Period,
    today: NaiveDate,
) -> AppResult<usize> {
    let n = remind_units(conn, form, period, today > period.due(form.deadline_days), true)?;
    audit::record(
        conn,
        ctx,
        "industry_period.remind",
        &format!("industry_form:{}:{period}", form.code),
        Outcome::Success,
        serde_json::json!({"reminded": n}),
    )?;
    Ok(n)
}

/// Tells the node's own channels, once, which children have not sent a summary of a form's
/// period after its deadline; returns how many children are missing.
fn tell_about_children(conn: &mut DbConnection, form: &Form, period: &Period) -> AppResult<usize> {
    let p = period.to_string();
    let missing = missing_children(conn, &form.code, &p)?;
    if missing.is_empty() || sent_before(conn, &form.code, &p, "", "late")? {
        return Ok(0);
    }
    let names = missing.iter().map(|(r, n)| format!("{n}（{r}）")).collect::<Vec<_>>().join("、");
    notify::enqueue(
        conn,
        &Event {
            topic: "industry.children_missing",
            tenant_id: None,
            subject: format!("【催报】{}（{p}）尚有 {} 个下级节点未报送汇总", form.name, missing.len()),
            body: format!(
                "报表“{}”（{}）{p} 期报送期限已过，以下下级节点尚未报送汇总：{names}。\n",
                form.name, form.code
            ),
            payload: serde_json::json!({"form": form.code, "period": p, "missing": missing.iter().map(|(r, _)| r).collect::<Vec<_>>()}),
        },
    )?;
    mark(conn, &form.code, &p, "", "late")?;
    Ok(missing.len())
}

/// The scheduled round on `today`: the latest ended period of every published form.
pub fn round(conn: &mut DbConnection, today: NaiveDate) -> AppResult<usize> {
    let mut told = 0;
    for form in forms::list(conn)?.into_iter().filter(|f| f.status == FormStatus::Published) {
        let period = Period::latest_ended(form.frequency, today);
        if forms::is_closed(conn, &form.code, &period)? {
            continue;
        }
        let due = period.due(form.deadline_days);
        let days_left = (due - today).num_days();
        if today > due {
            told += remind_units(conn, &form, &period, true, false)?;
            told += tell_about_children(conn, &form, &period)?;
        } else if days_left <= DAYS_BEFORE {
            told += remind_units(conn, &form, &period, false, false)?;
        }
    }
    Ok(told)
}
