//! The data quality report (数据质量报告) of a tenant for a period: what it sent, what became
//! of it, and its anomalies by rule and review — as a page, as JSON and as an XLSX workbook.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use rust_xlsxwriter::{Format, Workbook};
use serde::{Deserialize, Serialize};

use super::anomalies::{rule_zh, AnomalyStatus};
use crate::db::schema::anomalies;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::trace::row::CST_HOURS;

/// The period of a report: days in China Standard Time, both included.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// The tenant (node staff; a tenant's caller gets its own).
    pub tenant: Option<String>,
    /// First day (YYYY-MM-DD; default 30 days ago).
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD; default today).
    pub to: Option<String>,
}

/// Anomalies of one rule.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RuleCount {
    /// Rule code.
    pub rule: String,
    /// Chinese name.
    pub rule_zh: String,
    /// Not yet reviewed.
    pub open: i64,
    /// Confirmed.
    pub confirmed: i64,
    /// Dismissed.
    pub dismissed: i64,
}

/// The report.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct QualityReport {
    /// Tenant.
    pub tenant_id: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Submissions (dry runs excluded).
    pub submissions: i64,
    /// Submissions refused whole or failed.
    pub refused: i64,
    /// Records read.
    pub received: i64,
    /// Records stored.
    pub accepted: i64,
    /// Records rejected.
    pub rejected: i64,
    /// Duplicates.
    pub duplicates: i64,
    /// Quarantined.
    pub quarantined: i64,
    /// Flagged.
    pub flagged: i64,
    /// Stored ÷ read, percent (100 when nothing was read).
    pub accepted_percent: f64,
    /// Anomalies by rule.
    pub anomalies: Vec<RuleCount>,
}

fn day(field: &str, v: &Option<String>, default: NaiveDate) -> AppResult<NaiveDate> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| AppError::invalid(field, "日期应为 YYYY-MM-DD", "a date is YYYY-MM-DD")),
    }
}

/// The UTC range of a period's days.
fn range(from: NaiveDate, to: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let start = from.and_hms_opt(0, 0, 0).unwrap_or_default() - TimeDelta::hours(CST_HOURS);
    let end = to.and_hms_opt(0, 0, 0).unwrap_or_default() + TimeDelta::days(1) - TimeDelta::hours(CST_HOURS);
    (start, end)
}

/// Checks a period: its days, and at most 366 of them.
pub fn days_of(p: &Period) -> AppResult<(NaiveDate, NaiveDate)> {
    let today = (crate::db::now() + TimeDelta::hours(CST_HOURS)).date();
    let to = day("to", &p.to, today)?;
    let from = day("from", &p.from, to - TimeDelta::days(29))?;
    if from > to || (to - from).num_days() > 366 {
        return Err(AppError::invalid(
            "from",
            "起始日期应早于截止日期，且相隔不超过366天",
            "from comes before to, at most 366 days apart",
        ));
    }
    Ok((from, to))
}

/// What a tenant's submissions came to in a period (dry runs excluded; [`counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubmissionCounts {
    /// Submissions.
    pub submissions: i64,
    /// Submissions refused whole or failed.
    pub refused: i64,
    /// Records read.
    pub received: i64,
    /// Records stored.
    pub accepted: i64,
    /// Records rejected.
    pub rejected: i64,
    /// Duplicates.
    pub duplicates: i64,
    /// Quarantined.
    pub quarantined: i64,
    /// Flagged.
    pub flagged: i64,
}

/// The instants that bound the days `from` to `to` (China Standard Time, both included).
pub fn instants(from: NaiveDate, to: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    range(from, to)
}

/// Builds the report of `tenant` for the days `from` to `to`, from its submissions' counts
/// and the anomalies found in those days.
pub fn build(
    conn: &mut DbConnection,
    tenant: &str,
    from: NaiveDate,
    to: NaiveDate,
    counts: SubmissionCounts,
) -> AppResult<QualityReport> {
    let (start, end) = range(from, to);
    let SubmissionCounts { submissions, refused, received, accepted, rejected, duplicates, quarantined, flagged } =
        counts;
    let mut r = QualityReport {
        tenant_id: tenant.to_owned(),
        from,
        to,
        submissions,
        refused,
        received,
        accepted,
        rejected,
        duplicates,
        quarantined,
        flagged,
        ..QualityReport::default()
    };
    r.accepted_percent =
        if r.received == 0 { 100.0 } else { (r.accepted as f64 * 1000.0 / r.received as f64).round() / 10.0 };
    let found: Vec<(String, String)> = anomalies::table
        .filter(anomalies::tenant_id.eq(tenant))
        .filter(anomalies::created_at.ge(start))
        .filter(anomalies::created_at.lt(end))
        .select((anomalies::rule, anomalies::status))
        .load(conn)?;
    for (rule, status) in found {
        let i = match r.anomalies.iter().position(|c| c.rule == rule) {
            Some(i) => i,
            None => {
                r.anomalies.push(RuleCount { rule_zh: rule_zh(&rule).to_owned(), rule, ..RuleCount::default() });
                r.anomalies.len() - 1
            }
        };
        let c = &mut r.anomalies[i];
        match AnomalyStatus::parse(&status) {
            Some(AnomalyStatus::Confirmed) => c.confirmed += 1,
            Some(AnomalyStatus::Dismissed) => c.dismissed += 1,
            Some(AnomalyStatus::Open) | None => c.open += 1,
        }
    }
    Ok(r)
}

/// The report as an XLSX workbook (one sheet, labels in Chinese).
pub fn xlsx(r: &QualityReport, tenant_name: &str) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("数据质量报告").map_err(AppError::internal)?;
    let bold = Format::new().set_bold();
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal(e);
    sheet.write_string_with_format(0, 0, "数据质量报告", &bold).map_err(x)?;
    sheet.write_string(1, 0, "租户").map_err(x)?;
    sheet.write_string(1, 1, tenant_name).map_err(x)?;
    sheet.write_string(2, 0, "期间").map_err(x)?;
    sheet.write_string(2, 1, format!("{} 至 {}", r.from, r.to)).map_err(x)?;
    let figures: [(&str, f64); 9] = [
        ("报送批次", r.submissions as f64),
        ("整批拒收或失败", r.refused as f64),
        ("读取记录", r.received as f64),
        ("入库记录", r.accepted as f64),
        ("拒收记录", r.rejected as f64),
        ("重复记录", r.duplicates as f64),
        ("隔离记录", r.quarantined as f64),
        ("标记异常", r.flagged as f64),
        ("入库率（%）", r.accepted_percent),
    ];
    for (i, (label, v)) in figures.iter().enumerate() {
        let row = 4 + i as u32;
        sheet.write_string(row, 0, *label).map_err(x)?;
        sheet.write_number(row, 1, *v).map_err(x)?;
    }
    let top = 5 + figures.len() as u32;
    for (c, h) in ["异常规则", "待审核", "已确认", "已排除"].iter().enumerate() {
        sheet.write_string_with_format(top, c as u16, *h, &bold).map_err(x)?;
    }
    for (i, a) in r.anomalies.iter().enumerate() {
        let row = top + 1 + i as u32;
        sheet.write_string(row, 0, &a.rule_zh).map_err(x)?;
        sheet.write_number(row, 1, a.open as f64).map_err(x)?;
        sheet.write_number(row, 2, a.confirmed as f64).map_err(x)?;
        sheet.write_number(row, 3, a.dismissed as f64).map_err(x)?;
    }
    sheet.set_column_width(0, 18).map_err(x)?;
    sheet.set_column_width(1, 24).map_err(x)?;
    book.save_to_buffer().map_err(AppError::internal)
}

/// Counts what `tenant`'s submissions between `start` and `end` came to (dry runs excluded): a
/// submission refused whole or failed counts its read and rejected records only.
pub fn counts(
    conn: &mut DbConnection,
    tenant: &str,
    start: chrono::NaiveDateTime,
    end: chrono::NaiveDateTime,
) -> AppResult<SubmissionCounts> {
    use crate::db::schema::submissions as s;
    type Row = (String, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = s::table
        .filter(s::tenant_id.eq(tenant))
        .filter(s::dry_run.eq(false))
        .filter(s::created_at.ge(start))
        .filter(s::created_at.lt(end))
        .select((s::status, s::received, s::accepted, s::rejected, s::duplicates, s::quarantined, s::flagged))
        .load(conn)?;
    let mut c = SubmissionCounts::default();
    for (status, received, accepted, rejected, duplicates, quarantined, flagged) in rows {
        c.submissions += 1;
        c.received += received;
        c.rejected += rejected;
        if crate::db::SubmissionStatus::is_failure_text(&status) {
            c.refused += 1;
            continue;
        }
        c.accepted += accepted;
        c.duplicates += duplicates;
        c.quarantined += quarantined;
        c.flagged += flagged;
    }
    Ok(c)
}
