//! The indicators, computed from what each party reported (`party_activity`) and the
//! registry. docs/operation-monitoring.md defines each one; in short, over a window of days:
//!
//! - 数据报送率 (reporting rate): of the intervals (days, ISO weeks or months, per stage) the
//!   window holds since the entity was filed, the share on which it stored at least one record
//!   of a stage it is registered for;
//! - 商户活跃度 (merchant activity): of a site's (or tenant's, or region's) registered
//!   entities, the share that stored at least one record;
//! - 报送时效 (timeliness): the mean hours from a record's act to its arrival;
//! - 拒收率 (rejection rate): rejected records over records sent (stored + rejected);
//! - 异常率 (anomaly rate): flagged records over records stored.
//!
//! Every value is kept in thousandths, rounded half up, and is absent when its base is zero
//! (never shown as 0 % or as infinity). Monitored entities are those whose registration is
//! approved. How they are computed is in `compute`.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::region::RegionCode;

/// The longest window, days.
pub const MAX_WINDOW_DAYS: i64 = 366;

crate::text_status! {
    /// An indicator.
    pub enum Indicator {
        /// Share of expected intervals with a report.
        ReportingRate = "reporting_rate" / "数据报送率",
        /// Share of registered entities that reported.
        MerchantActivity = "merchant_activity" / "商户活跃度",
        /// Mean hours from act to arrival.
        DelayHours = "delay_hours" / "报送时效（平均延迟小时）",
        /// Rejected over sent.
        RejectionRate = "rejection_rate" / "拒收率",
        /// Flagged over stored.
        AnomalyRate = "anomaly_rate" / "异常率",
    }
}

impl Indicator {
    /// Whether a higher value is better (the bound is then a minimum).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Indicator::ReportingRate | Indicator::MerchantActivity)
    }

    /// Whether the value is a share (shown as a percentage).
    pub fn is_rate(self) -> bool {
        self != Indicator::DelayHours
    }

    /// Shows a value in thousandths as people read it: `87.5%` or `3.25 小时`.
    pub fn show(self, milli: Option<i64>) -> String {
        match milli {
            None => "—".to_owned(),
            Some(v) if self.is_rate() => format!("{}%", trim(v as f64 / 10.0, 1)),
            Some(v) => format!("{} 小时", trim(v as f64 / 1000.0, 2)),
        }
    }
}

fn trim(v: f64, places: usize) -> String {
    let s = format!("{v:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

crate::text_status! {
    /// How often a stage is expected to report.
    pub enum Interval {
        /// Every day.
        Day = "day" / "每日",
        /// Every ISO week.
        Week = "week" / "每周",
        /// Every month.
        Month = "month" / "每月",
    }
}

impl Interval {
    /// The interval a day falls in, as a number that grows with time.
    pub(super) fn key(self, d: NaiveDate) -> i32 {
        match self {
            Interval::Day => d.num_days_from_ce(),
            Interval::Week => d.iso_week().year() * 100 + d.iso_week().week() as i32,
            Interval::Month => d.year() * 100 + d.month() as i32,
        }
    }
}

/// A window of whole days (China Standard Time), both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoringWindow)]
pub struct Window {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

impl Window {
    /// The window asked for: a month (`YYYY-MM`), or `from`/`to` days; by default the current
    /// month. Days after `last` (yesterday, the last whole day) are left out; a window that
    /// starts after it, runs backwards or is longer than [`MAX_WINDOW_DAYS`] is refused.
    pub fn ask(month: Option<&str>, from: Option<&str>, to: Option<&str>, last: NaiveDate) -> AppResult<Window> {
        let (from, to) = match month.map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) => {
                let first = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
                    .map_err(|_| AppError::invalid("month", "月份应为 YYYY-MM", "a month is YYYY-MM"))?;
                (first, next_month(first) - TimeDelta::days(1))
            }
            None => {
                let (f, t) = crate::period::day_range(from, to)?;
                // The month of the last whole day: on the 1st, the month just ended.
                let first = NaiveDate::from_ymd_opt(last.year(), last.month(), 1).unwrap_or(last);
                (f.unwrap_or(first), t.unwrap_or(last))
            }
        };
        if from > last {
            return Err(AppError::invalid(
                "from",
                format!("所选期间尚未开始：最近一个完整的日子是 {last}"),
                format!("the window has not begun: the last whole day is {last}"),
            ));
        }
        if from > to {
            return Err(AppError::invalid("from", "起始日期不能晚于截止日期", "from must not come after to"));
        }
        let to = to.min(last);
        if (to - from).num_days() + 1 > MAX_WINDOW_DAYS {
            return Err(AppError::invalid(
                "to",
                format!("期间最长 {MAX_WINDOW_DAYS} 天"),
                format!("a window is at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        Ok(Window { from, to })
    }

    /// The `days` whole days ending on `last`.
    pub fn trailing(last: NaiveDate, days: i64) -> Window {
        Window { from: last - TimeDelta::days(days.clamp(1, MAX_WINDOW_DAYS) - 1), to: last }
    }

    /// Days in the window.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

/// The first day of the month after `first`'s.
pub fn next_month(first: NaiveDate) -> NaiveDate {
    let (y, m) = if first.month() == 12 { (first.year() + 1, 1) } else { (first.year(), first.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(first)
}

/// The counts an indicator is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = MonitoringFigures)]
#[serde(default)]
pub struct Figures {
    /// Registered entities counted (0 for a single entity).
    pub entities: i64,
    /// Of those, the ones that stored a record.
    pub active: i64,
    /// Intervals on which a report was expected.
    pub expected: i64,
    /// Of those, the ones with a report.
    pub reported: i64,
    /// Records stored.
    pub records: i64,
    /// Records rejected.
    pub rejected: i64,
    /// Stored records flagged as anomalies.
    pub flagged: i64,
    /// Stored records that correct an earlier one.
    pub corrections: i64,
    /// Sum of delays from act to arrival, seconds.
    pub delay_seconds_sum: i64,
    /// Longest delay, seconds.
    pub delay_seconds_max: i64,
}

impl Figures {
    /// Adds `o`.
    pub fn add(&mut self, o: &Figures) {
        self.entities += o.entities;
        self.active += o.active;
        self.expected += o.expected;
        self.reported += o.reported;
        self.add_counts(o);
    }

    /// Adds the record counts of `o` (not its entities and intervals).
    pub(super) fn add_counts(&mut self, o: &Figures) {
        self.records += o.records;
        self.rejected += o.rejected;
        self.flagged += o.flagged;
        self.corrections += o.corrections;
        self.delay_seconds_sum = self.delay_seconds_sum.saturating_add(o.delay_seconds_sum);
        self.delay_seconds_max = self.delay_seconds_max.max(o.delay_seconds_max);
    }

    /// An indicator's value, thousandths; `None` when its base is zero.
    pub fn value(&self, i: Indicator) -> Option<i64> {
        match i {
            Indicator::ReportingRate => ratio(self.reported, self.expected, 1000),
            Indicator::MerchantActivity => ratio(self.active, self.entities, 1000),
            Indicator::DelayHours => ratio(self.delay_seconds_sum, self.records * 3600, 1000),
            Indicator::RejectionRate => ratio(self.rejected, self.records + self.rejected, 1000),
            Indicator::AnomalyRate => ratio(self.flagged, self.records, 1000),
        }
    }

    /// The base an indicator's value rests on (what `min_base` is compared with).
    pub fn base(&self, i: Indicator) -> i64 {
        match i {
            Indicator::ReportingRate => self.expected,
            Indicator::MerchantActivity => self.entities,
            Indicator::DelayHours | Indicator::AnomalyRate => self.records,
            Indicator::RejectionRate => self.records + self.rejected,
        }
    }

    /// Every indicator's value.
    pub fn values(&self) -> Values {
        Values {
            reporting_rate: self.value(Indicator::ReportingRate),
            merchant_activity: self.value(Indicator::MerchantActivity),
            delay_hours: self.value(Indicator::DelayHours),
            rejection_rate: self.value(Indicator::RejectionRate),
            anomaly_rate: self.value(Indicator::AnomalyRate),
        }
    }
}

/// `num / den × scale`, rounded half up; `None` when `den` is zero.
pub fn ratio(num: i64, den: i64, scale: i64) -> Option<i64> {
    if den <= 0 {
        return None;
    }
    let (n, d) = (i128::from(num) * i128::from(scale), i128::from(den));
    Some(((2 * n + d) / (2 * d)) as i64)
}

/// The indicators' values, thousandths (a rate of 87.5 % is 875; 3.25 hours is 3250).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoringValues)]
pub struct Values {
    /// 数据报送率.
    pub reporting_rate: Option<i64>,
    /// 商户活跃度.
    pub merchant_activity: Option<i64>,
    /// 报送时效, hours.
    pub delay_hours: Option<i64>,
    /// 拒收率.
    pub rejection_rate: Option<i64>,
    /// 异常率.
    pub anomaly_rate: Option<i64>,
}

crate::text_status! {
    /// What a row of indicators is about.
    pub enum SubjectKind {
        /// A registered entity.
        Entity = "entity" / "主体",
        /// A site and its merchants.
        Site = "site" / "节点（市场）",
        /// A tenant and its entities.
        Tenant = "tenant" / "租户",
        /// A division below the region shown.
        Region = "region" / "地区",
    }
}

/// A subject.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoringSubject)]
pub struct Subject {
    /// Kind.
    pub kind: SubjectKind,
    /// Id (the region code for a region).
    pub id: String,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Tenant (empty for a region).
    pub tenant_id: String,
    /// Region.
    pub region: String,
}

/// The indicators of one subject over the window: in all and by stage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectIndicators {
    /// Who.
    pub subject: Subject,
    /// All stages together.
    pub total: Figures,
    /// Values of `total`.
    pub values: Values,
    /// By stage code.
    pub by_stage: BTreeMap<String, Figures>,
}

impl SubjectIndicators {
    /// A subject with no figures yet.
    pub fn new(subject: Subject) -> SubjectIndicators {
        SubjectIndicators { subject, total: Figures::default(), values: Values::default(), by_stage: BTreeMap::new() }
    }

    /// The figures of `stage` (`""`: all stages).
    pub fn figures(&self, stage: &str) -> Option<&Figures> {
        if stage.is_empty() {
            Some(&self.total)
        } else {
            self.by_stage.get(stage)
        }
    }

    pub(super) fn absorb(&mut self, o: &SubjectIndicators) {
        self.total.add(&o.total);
        for (stage, f) in &o.by_stage {
            self.by_stage.entry(stage.clone()).or_default().add(f);
        }
    }

    pub(super) fn finish(&mut self) {
        self.values = self.total.values();
    }
}

/// What to compute over.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One tenant.
    pub tenant: Option<String>,
    /// Only these tenants (a data scope); empty for all.
    pub tenants: Vec<String>,
    /// Entities in this region's subtree.
    pub region: Option<RegionCode>,
    /// One site's merchants.
    pub site: Option<String>,
    /// One entity.
    pub entity: Option<String>,
    /// One stage.
    pub stage: Option<String>,
}

impl Filter {
    pub(super) fn tenant_allowed(&self, t: &str) -> bool {
        self.tenant.as_deref().is_none_or(|x| x == t)
            && (self.tenants.is_empty() || self.tenants.iter().any(|x| x == t))
    }

    /// Whether the filter is narrower than whole tenants (then activity no entity of the
    /// filter owns is left out of the tenants' rows).
    pub(super) fn narrows_entities(&self) -> bool {
        self.region.is_some() || self.site.is_some() || self.entity.is_some()
    }
}

/// The reporting interval of each stage.
pub type Intervals = HashMap<String, Interval>;

/// Everything computed for a window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoringComputed)]
pub struct Computed {
    /// The window.
    pub window: Window,
    /// Each entity.
    pub entities: Vec<SubjectIndicators>,
    /// Each site with merchants.
    pub sites: Vec<SubjectIndicators>,
    /// Each tenant.
    pub tenants: Vec<SubjectIndicators>,
    /// The whole of what was computed.
    pub total: SubjectIndicators,
}
