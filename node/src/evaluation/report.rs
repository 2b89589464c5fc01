//! Evaluation reports (报告生成与发送). A run's report has three sections, computed from the
//! results and the inputs they keep:
//!
//! - 企业运行情况: objects by grade, the mean composite score, the five best and worst;
//! - 上报数据质量情况: records stored, rejected and flagged over all objects, with the rates
//!   they give (from the same figures the scores used);
//! - 日常运维与监测评价: the operation-monitoring warnings opened during the period and how
//!   many of them were resolved.
//!
//! It is shown as a printable page and exported as XLSX (the report, then every result).
//! Sending queues one mail per tenant with results in the run — to the tenant's own
//! notification channels, so each platform hears of its own objects only — and one summary to
//! the node-wide channels (the tier's staff); the notification outbox delivers and retries.
//! A tenant's mail names its first 50 objects; the rest are in the console.

use diesel::prelude::*;
use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;

use super::runs::{self, ObjectResult, ResultQuery, Run};
use super::set::Grade;
use super::sets;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{evaluation_results as er, monitoring_warnings as mw};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::notify::{self, Event};
use crate::system::industry::period::Period;
use crate::system::monitoring::indicators::{ratio, Figures};

/// The most results a report reads (a run of more is reported from its first 100,000 by rank).
pub const MAX_RESULTS: i64 = 100_000;
/// Objects named in a tenant's mail.
const NAMED: usize = 50;

/// A run's report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationReport)]
pub struct Report {
    /// The run.
    pub run: Run,
    /// The set's name.
    pub set_name: String,
    /// Objects per grade, best first (with 无数据 last).
    pub grades: Vec<(String, i64)>,
    /// Mean composite score of the objects with one.
    pub mean_score: Option<f64>,
    /// The five best.
    pub best: Vec<ObjectResult>,
    /// The five worst with a score.
    pub worst: Vec<ObjectResult>,
    /// All objects' figures summed.
    pub figures: Figures,
    /// Rejected over sent, thousandths.
    pub rejection_rate: Option<i64>,
    /// Flagged over stored, thousandths.
    pub anomaly_rate: Option<i64>,
    /// Warnings opened during the period.
    pub warnings_opened: i64,
    /// Of those, resolved by now.
    pub warnings_resolved: i64,
}

/// Every result of a run, by rank (at most [`MAX_RESULTS`]), within `tenant` when given.
pub fn all_results(conn: &mut DbConnection, run: &str, tenant: Option<&str>) -> AppResult<Vec<ObjectResult>> {
    let mut out = Vec::new();
    for page in 1..=(MAX_RESULTS / runs::PAGE) {
        let q = ResultQuery { page: Some(page), ..ResultQuery::default() };
        let got = runs::results(conn, run, &q, tenant)?;
        let last = (got.len() as i64) < runs::PAGE;
        out.extend(got);
        if last {
            break;
        }
    }
    Ok(out)
}

/// Builds the report of run `id` (over the objects of `tenant` when given).
pub fn build(conn: &mut DbConnection, id: &str, tenant: Option<&str>) -> AppResult<(Report, Vec<ObjectResult>)> {
    let run = runs::get(conn, id)?;
    let set = sets::get(conn, &run.set_code, Some(run.set_version))?;
    let results = all_results(conn, id, tenant)?;
    let grades = Grade::ALL
        .iter()
        .map(|g| (g.label_zh().to_owned(), results.iter().filter(|r| r.grade == g.as_str()).count() as i64))
        .collect();
    let scored: Vec<&ObjectResult> = results.iter().filter(|r| r.score.is_some()).collect();
    let mean_score =
        (!scored.is_empty()).then(|| scored.iter().filter_map(|r| r.score).sum::<f64>() / scored.len() as f64);
    let mut figures = Figures::default();
    for r in &results {
        figures.add(&r.inputs.figures);
    }
    let period = Period::parse("period", set.definition.frequency, &run.period)?;
    let (from, to) = (period.first_day(), period.last_day() + chrono::TimeDelta::days(1));
    let start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default() - chrono::TimeDelta::hours(8);
    let mut opened = mw::table.filter(mw::opened_at.ge(start(from))).filter(mw::opened_at.lt(start(to))).into_boxed();
    if let Some(t) = tenant {
        opened = opened.filter(mw::tenant_id.eq(t.to_owned()));
    }
    let statuses: Vec<String> = opened.select(mw::status).load(conn)?;
    let report = Report {
        set_name: set.definition.name.clone(),
        grades,
        mean_score,
        best: scored.iter().take(5).map(|r| (*r).clone()).collect(),
        worst: scored.iter().rev().take(5).map(|r| (*r).clone()).collect(),
        rejection_rate: ratio(figures.rejected, figures.records + figures.rejected, 1000),
        anomaly_rate: ratio(figures.flagged, figures.records, 1000),
        figures,
        warnings_opened: statuses.len() as i64,
        warnings_resolved: statuses.iter().filter(|s| *s == "resolved").count() as i64,
        run,
    };
    Ok((report, results))
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::internal(e.to_string())
}

/// The report as an XLSX workbook: sheet 评价报告, then 评价结果 with every result.
pub fn workbook(report: &Report, results: &[ObjectResult]) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = book.add_worksheet().set_name("评价报告").map_err(xlsx_error)?;
    let lines: Vec<(String, String)> = [
        (
            "指标体系".to_owned(),
            format!("{}（{} 第 {} 版）", report.set_name, report.run.set_code, report.run.set_version),
        ),
        ("评价期".to_owned(), report.run.period.clone()),
        ("评价对象".to_owned(), report.run.objects.to_string()),
        ("平均综合得分".to_owned(), report.mean_score.map(|s| format!("{s:.1}")).unwrap_or_default()),
    ]
    .into_iter()
    .chain(report.grades.iter().map(|(g, n)| (format!("等级：{g}"), n.to_string())))
    .chain([
        ("入库记录".to_owned(), report.figures.records.to_string()),
        ("拒收记录".to_owned(), report.figures.rejected.to_string()),
        ("异常记录".to_owned(), report.figures.flagged.to_string()),
        ("运行监测预警（期内新增）".to_owned(), report.warnings_opened.to_string()),
        ("其中已解除".to_owned(), report.warnings_resolved.to_string()),
    ])
    .collect();
    for (row, (k, v)) in lines.iter().enumerate() {
        sheet.write_with_format(row as u32, 0, k.as_str(), &bold).map_err(xlsx_error)?;
        sheet.write(row as u32, 1, v.as_str()).map_err(xlsx_error)?;
    }
    let sheet = book.add_worksheet().set_name("评价结果").map_err(xlsx_error)?;
    for (col, h) in ["排名", "代码", "名称", "地区", "综合得分", "等级"].iter().enumerate() {
        sheet.write_with_format(0, col as u16, *h, &bold).map_err(xlsx_error)?;
    }
    for (k, r) in results.iter().enumerate() {
        let row = k as u32 + 1;
        if let Some(rank) = r.rank {
            sheet.write(row, 0, rank as f64).map_err(xlsx_error)?;
        }
        sheet.write(row, 1, r.object_code.as_str()).map_err(xlsx_error)?;
        sheet.write(row, 2, r.object_name.as_str()).map_err(xlsx_error)?;
        sheet.write(row, 3, r.region.as_str()).map_err(xlsx_error)?;
        if let Some(s) = r.score {
            sheet.write(row, 4, (s * 10.0).round() / 10.0).map_err(xlsx_error)?;
        }
        sheet.write(row, 5, r.grade_zh.as_str()).map_err(xlsx_error)?;
    }
    book.save_to_buffer().map_err(xlsx_error)
}

/// What sending did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationReportSent)]
pub struct Sent {
    /// Tenants told.
    pub tenants: usize,
    /// Notifications queued.
    pub notifications: usize,
}

fn line(r: &ObjectResult) -> String {
    format!(
        "  {}. {}（{}）综合得分 {}，{}\n",
        r.rank.map(|k| k.to_string()).unwrap_or_else(|| "—".into()),
        r.object_name,
        r.object_code,
        r.score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into()),
        r.grade_zh
    )
}

/// Queues the report of run `id`: one mail per tenant with results (its own channels), one
/// summary to the node-wide channels; audited.
pub fn send(conn: &mut DbConnection, ctx: &AuditContext, node: &str, id: &str) -> AppResult<Sent> {
    let (report, results) = build(conn, id, None)?;
    let link = format!("/evaluation/runs/{id}/report");
    let mut tenants: Vec<String> = er::table.filter(er::run_id.eq(id)).select(er::tenant_id).distinct().load(conn)?;
    tenants.sort();
    let mut sent = Sent::default();
    for t in tenants.iter().filter(|t| !t.is_empty()) {
        let own: Vec<&ObjectResult> = results.iter().filter(|r| &r.tenant_id == t).collect();
        let mut body = format!(
            "{}（{}）评价期 {} 的监测评价结果，贵单位共 {} 个评价对象：\n",
            report.set_name,
            report.run.set_code,
            report.run.period,
            own.len()
        );
        for r in own.iter().take(NAMED) {
            body.push_str(&line(r));
        }
        if own.len() > NAMED {
            body.push_str(&format!("  ……其余 {} 个请在控制台查看\n", own.len() - NAMED));
        }
        body.push_str(&format!("\n完整报告：{link}\nEvaluation results of period {}.\n", report.run.period));
        let event = Event {
            topic: "evaluation.report",
            tenant_id: Some(t.clone()),
            subject: format!("【{node}】监测评价结果：{} {}", report.set_name, report.run.period),
            body,
            payload: serde_json::json!({"topic": "evaluation.report", "run": report.run, "tenant": t,
                "results": own.iter().take(NAMED).collect::<Vec<_>>()}),
        };
        sent.notifications += notify::enqueue_for_tenant(conn, &event)?;
        sent.tenants += 1;
    }
    let mut body = format!(
        "{}（{}）评价期 {}：评价对象 {} 个，平均综合得分 {}。\n",
        report.set_name,
        report.run.set_code,
        report.run.period,
        report.run.objects,
        report.mean_score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into())
    );
    for (g, n) in &report.grades {
        body.push_str(&format!("  {g}：{n}\n"));
    }
    body.push_str(&format!("\n完整报告：{link}\n"));
    let summary = Event {
        topic: "evaluation.report",
        tenant_id: None,
        subject: format!("【{node}】监测评价报告：{} {}", report.set_name, report.run.period),
        body,
        payload: serde_json::json!({"topic": "evaluation.report", "run": report.run, "grades": report.grades}),
    };
    sent.notifications += notify::enqueue(conn, &summary)?;
    audit::record(
        conn,
        ctx,
        "evaluation.report.send",
        &format!("evaluation_run:{id}"),
        Outcome::Success,
        serde_json::json!({"tenants": sent.tenants, "notifications": sent.notifications}),
    )?;
    Ok(sent)
}
