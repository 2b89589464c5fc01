//! Thresholds (预警阈值), per stage and indicator: the bound past which a warning opens, the
//! trailing window of whole days it is judged over, the smallest base worth judging (a
//! rejection rate of one record in one is no signal), and for the reporting rate how often the
//! stage is expected to report. A row for the empty stage holds for every stage without its
//! own; the five defaults come with the node and can be changed but not removed. Every change
//! is an audit row with the row before and after.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_adapters::codes::Stage;

use super::indicators::{Indicator, Interval, Intervals};
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::monitoring_thresholds as mt;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};

/// The longest window a threshold is judged over, days.
pub const MAX_WINDOW_DAYS: i32 = 90;
/// The largest base a threshold may ask for.
pub const MAX_BASE: i64 = 1_000_000;

/// A threshold as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = mt)]
#[schema(as = MonitoringThreshold)]
pub struct Threshold {
    /// Stage code; empty for every stage without its own.
    pub stage: String,
    /// Indicator code.
    pub indicator: String,
    /// The bound, thousandths of the indicator's value (a rate of 80 % is 800, 24 hours is
    /// 24000); absent: no warning.
    pub bound_milli: Option<i64>,
    /// The trailing window of whole days it is judged over.
    pub window_days: i32,
    /// The smallest base judged (records, expected intervals or entities).
    pub min_base: i64,
    /// How often the stage is expected to report (the reporting rate's interval).
    pub reporting_interval: String,
    /// Who set it.
    pub updated_by: String,
    /// When (UTC).
    pub updated_at: NaiveDateTime,
}

impl Threshold {
    /// The indicator.
    pub fn indicator(&self) -> Option<Indicator> {
        Indicator::parse(&self.indicator)
    }

    /// Whether `value` lies past the bound.
    pub fn breached(&self, value: i64) -> bool {
        match (self.bound_milli, self.indicator()) {
            (Some(b), Some(i)) if i.higher_is_better() => value < b,
            (Some(b), Some(_)) => value > b,
            _ => false,
        }
    }
}

/// A threshold as set: the bound in the indicator's own unit (percent for a rate, hours for
/// timeliness).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MonitoringThresholdInput)]
pub struct ThresholdInput {
    /// Stage code; empty for every stage without its own.
    #[serde(default)]
    pub stage: String,
    /// Indicator code.
    pub indicator: String,
    /// The bound: percent for a rate (80 = 80 %), hours for timeliness; absent: no warning.
    pub bound: Option<f64>,
    /// Trailing window, days (1–90).
    pub window_days: i32,
    /// Smallest base judged (0–1,000,000).
    pub min_base: i64,
    /// `day`, `week` or `month` (reporting rate only; default `day`).
    pub reporting_interval: Option<String>,
}

/// Every threshold, the defaults first.
pub fn list(conn: &mut DbConnection) -> AppResult<Vec<Threshold>> {
    Ok(mt::table.order((mt::stage, mt::indicator)).select(Threshold::as_select()).load(conn)?)
}

/// The threshold of `indicator` for `stage`: its own, else the default.
pub fn of<'t>(all: &'t [Threshold], stage: &str, indicator: Indicator) -> Option<&'t Threshold> {
    let find = |s: &str| all.iter().find(|t| t.stage == s && t.indicator == indicator.as_str());
    find(stage).or_else(|| find(""))
}

/// The reporting interval of every stage.
pub fn intervals(all: &[Threshold]) -> Intervals {
    Stage::ALL
        .iter()
        .map(|s| {
            let interval = of(all, s.code(), Indicator::ReportingRate)
                .and_then(|t| Interval::parse(&t.reporting_interval))
                .unwrap_or(Interval::Day);
            (s.code().to_owned(), interval)
        })
        .collect()
}

fn checked(input: &ThresholdInput) -> AppResult<(Indicator, Option<i64>, Interval)> {
    let stage = input.stage.trim();
    if !stage.is_empty() && Stage::from_code(stage).is_none() {
        return Err(AppError::invalid("stage", format!("未知的追溯环节“{stage}”"), format!("unknown stage {stage:?}")));
    }
    let indicator = Indicator::parse(input.indicator.trim()).ok_or_else(|| {
        AppError::invalid("indicator", format!("未知的监测指标“{}”", input.indicator), "unknown indicator")
    })?;
    let bound = match input.bound {
        None => None,
        Some(b) if !b.is_finite() || b < 0.0 => {
            return Err(AppError::invalid("bound", "阈值应为非负数", "a bound is a non-negative number"))
        }
        Some(b) if indicator.is_rate() && b > 100.0 => {
            return Err(AppError::invalid("bound", "比率阈值应在 0–100（%）之间", "a rate's bound is 0–100 (%)"))
        }
        Some(b) if !indicator.is_rate() && b > 8_760.0 => {
            return Err(AppError::invalid(
                "bound",
                "时效阈值最长 8760 小时",
                "a timeliness bound is at most 8760 hours",
            ))
        }
        Some(b) => Some((b * if indicator.is_rate() { 10.0 } else { 1000.0 }).round() as i64),
    };
    if !(1..=MAX_WINDOW_DAYS).contains(&input.window_days) {
        return Err(AppError::invalid(
            "window_days",
            format!("判定窗口应为 1–{MAX_WINDOW_DAYS} 天"),
            format!("the window is 1–{MAX_WINDOW_DAYS} days"),
        ));
    }
    if !(0..=MAX_BASE).contains(&input.min_base) {
        return Err(AppError::invalid(
            "min_base",
            format!("最小样本量应为 0–{MAX_BASE}"),
            format!("the smallest base is 0–{MAX_BASE}"),
        ));
    }
    let interval = match input.reporting_interval.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Interval::Day,
        Some(text) => Interval::parse(text).ok_or_else(|| {
            AppError::invalid(
                "reporting_interval",
                "应报周期应为 day、week 或 month",
                "the interval is day, week or month",
            )
        })?,
    };
    if interval != Interval::Day && indicator != Indicator::ReportingRate {
        return Err(AppError::invalid(
            "reporting_interval",
            "应报周期只用于数据报送率",
            "the reporting interval belongs to the reporting rate alone",
        ));
    }
    Ok((indicator, bound, interval))
}

/// Sets a threshold (adding a stage's own row when it has none).
pub fn set(conn: &mut DbConnection, ctx: &AuditContext, input: &ThresholdInput) -> AppResult<Threshold> {
    let (indicator, bound, interval) = checked(input)?;
    let stage = input.stage.trim().to_owned();
    let before: Option<Threshold> =
        mt::table.find((&stage, indicator.as_str())).select(Threshold::as_select()).first(conn).optional()?;
    let row = Threshold {
        stage: stage.clone(),
        indicator: indicator.as_str().to_owned(),
        bound_milli: bound,
        window_days: input.window_days,
        min_base: input.min_base,
        reporting_interval: interval.as_str().to_owned(),
        updated_by: ctx.actor.clone(),
        updated_at: crate::db::now(),
    };
    let values = (
        mt::stage.eq(&row.stage),
        mt::indicator.eq(&row.indicator),
        mt::bound_milli.eq(row.bound_milli),
        mt::window_days.eq(row.window_days),
        mt::min_base.eq(row.min_base),
        mt::reporting_interval.eq(&row.reporting_interval),
        mt::updated_by.eq(&row.updated_by),
        mt::updated_at.eq(row.updated_at),
    );
    if before.is_some() {
        diesel::update(mt::table.find((&stage, indicator.as_str()))).set(values).execute(conn)?;
    } else {
        diesel::insert_into(mt::table).values(values).execute(conn)?;
    }
    audit::record(
        conn,
        ctx,
        "monitoring.threshold.set",
        &format!("threshold:{}/{}", stage, indicator.as_str()),
        Outcome::Success,
        serde_json::json!({"before": before, "after": row}),
    )?;
    Ok(row)
}

/// Removes a stage's own threshold, so the default holds for it again. The defaults stay.
pub fn remove(conn: &mut DbConnection, ctx: &AuditContext, stage: &str, indicator: &str) -> AppResult<()> {
    if stage.is_empty() {
        return Err(AppError::invalid(
            "stage",
            "默认阈值不能删除，可将阈值留空以停用预警",
            "a default cannot be removed; leave its bound empty to raise no warning",
        ));
    }
    let before: Option<Threshold> =
        mt::table.find((stage, indicator)).select(Threshold::as_select()).first(conn).optional()?;
    let Some(before) = before else { return Err(AppError::new(ErrorKind::NotFound)) };
    diesel::delete(mt::table.find((stage, indicator))).execute(conn)?;
    audit::record(
        conn,
        ctx,
        "monitoring.threshold.remove",
        &format!("threshold:{stage}/{indicator}"),
        Outcome::Success,
        serde_json::json!({"before": before}),
    )?;
    Ok(())
}
