//! An indicator set (监测评价指标体系) as data, and its checks: what is evaluated (each entity,
//! optionally of one stage, or each tenant platform), how often (month or quarter), the
//! indicators — each a formula over the node's own data, a weight and a scoring rule — and the
//! lower bounds of the grades. Weights are whole numbers summing to 100; the grades' bounds
//! fall strictly from 优秀 to 达标 inside (0, 100]; every formula names a measure the node
//! keeps. A set that fails a check is refused with the faulty field named.

use serde::{Deserialize, Serialize};
use tracenode_adapters::codes::Stage;

use super::operations::Operations;
use crate::error::{AppError, AppResult};
pub use crate::system::industry::period::Frequency;
use crate::system::monitoring::indicators::{ratio, Figures, Indicator};

/// The most indicators one set holds.
pub const MAX_INDICATORS: usize = 30;
/// The most steps one scoring rule holds.
pub const MAX_STEPS: usize = 10;

crate::text_status! {
    /// What a set evaluates.
    pub enum ObjectKind {
        /// Each approved entity (of the set's stage, when it names one).
        Entity = "entity" / "主体",
        /// Each tenant (a traceability platform or department).
        Tenant = "tenant" / "接入平台（租户）",
    }
}

crate::text_status! {
    /// The grades, best first.
    pub enum Grade {
        /// 优秀.
        Excellent = "excellent" / "优秀",
        /// 良好.
        Good = "good" / "良好",
        /// 达标.
        Pass = "pass" / "达标",
        /// 不达标.
        Fail = "fail" / "不达标",
        /// No indicator had a value.
        Unrated = "unrated" / "无数据",
    }
}

/// What a result is computed from: an object's monitoring figures over the period, and for a
/// tenant platform its day-to-day operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Basis {
    /// The monitoring figures.
    pub figures: Figures,
    /// The platform's operation (zero for an entity).
    pub operations: Operations,
}

/// A measure a formula may name besides operation monitoring's indicators: (code, name,
/// whether more is better, whether it applies to a tenant platform only).
const MORE: [(&str, &str, bool, bool); 6] = [
    ("records", "报送数据量（入库记录数）", true, false),
    ("corrections_rate", "数据更正率", false, false),
    ("pull_availability", "平台拉取可用率", true, true),
    ("alerts_raised", "传输告警次数", false, true),
    ("alert_resolution_hours", "告警平均处置时长（小时）", false, true),
    ("credentials_current", "凭证更新率（密钥与证书在有效期内）", true, true),
];

fn percent(num: i64, den: i64) -> Option<f64> {
    ratio(num, den, 1000).map(|v| v as f64 / 10.0)
}

/// The value of the measure `formula` names, in its unit (percent, hours, records, alerts);
/// `None` when it has no base (nothing to take a rate of).
pub fn measure(formula: &str, b: &Basis) -> Option<f64> {
    let (f, o) = (&b.figures, &b.operations);
    match formula {
        "records" => Some(f.records as f64),
        "corrections_rate" => percent(f.corrections, f.records),
        "pull_availability" => percent(o.pull_runs - o.pull_failures, o.pull_runs),
        // Counted only for a platform that operated in the period (sent or was pulled).
        "alerts_raised" => (f.records + f.rejected + o.pull_runs > 0).then_some(o.alerts_opened as f64),
        "alert_resolution_hours" => {
            ratio(o.resolution_seconds_sum, o.alerts_resolved * 3600, 1000).map(|v| v as f64 / 1000.0)
        }
        "credentials_current" => percent(o.credentials_current, o.credentials),
        _ => {
            let i = Indicator::parse(formula)?;
            f.value(i).map(|v| if i.is_rate() { v as f64 / 10.0 } else { v as f64 / 1000.0 })
        }
    }
}

/// Whether a higher value of the measure is better.
pub fn higher_is_better(formula: &str) -> bool {
    match MORE.iter().find(|m| m.0 == formula) {
        Some(m) => m.2,
        None => Indicator::parse(formula).is_none_or(Indicator::higher_is_better),
    }
}

/// Whether the measure applies to a tenant platform only (not to a single entity).
pub fn platform_only(formula: &str) -> bool {
    formula == Indicator::MerchantActivity.as_str() || MORE.iter().any(|m| m.0 == formula && m.3)
}

/// The measures a formula may name: (code, name).
pub fn measures() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> =
        Indicator::ALL.iter().map(|i| (i.as_str(), i.label_zh())).collect();
    out.extend(MORE.iter().map(|m| (m.0, m.1)));
    out
}

/// One step of a scoring rule: a value at least (or, for a measure where lower is better, at
/// most) `bound` scores `score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The bound, in the measure's unit (percent, hours, records).
    pub bound: f64,
    /// Points, 0–100.
    pub score: f64,
}

/// How a value becomes points (0–100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scoring {
    /// Linear between `zero_at` (0 points) and `full_at` (100 points), held at both ends.
    Linear {
        /// The value worth 0 points.
        zero_at: f64,
        /// The value worth 100 points.
        full_at: f64,
    },
    /// The first step the value reaches, in order; none reached: `otherwise`.
    Steps {
        /// The steps, best first.
        steps: Vec<Step>,
        /// Points when no step is reached.
        otherwise: f64,
    },
}

impl Scoring {
    /// The points of `value` for a measure where higher is better (`higher`) or not.
    pub fn points(&self, value: f64, higher: bool) -> f64 {
        match self {
            Scoring::Linear { zero_at, full_at } => {
                let t = (value - zero_at) / (full_at - zero_at);
                100.0 * t.clamp(0.0, 1.0)
            }
            Scoring::Steps { steps, otherwise } => steps
                .iter()
                .find(|s| if higher { value >= s.bound } else { value <= s.bound })
                .map_or(*otherwise, |s| s.score),
        }
    }
}

/// One indicator of a set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetIndicator {
    /// Code, unique in the set (1–16 of `A-Z`, `0-9`, `_`).
    pub code: String,
    /// Name (1–50 characters).
    pub name: String,
    /// The measure it is computed from: one of operation monitoring's indicators
    /// (`reporting_rate`, `merchant_activity`, `delay_hours`, `rejection_rate`,
    /// `anomaly_rate`), `records`, `corrections_rate`, or for tenant platforms
    /// `pull_availability`, `alerts_raised`, `alert_resolution_hours`, `credentials_current`.
    pub formula: String,
    /// Weight, a whole number; a set's weights sum to 100.
    pub weight: u32,
    /// How its value becomes points.
    pub scoring: Scoring,
}

/// The lower bounds of the grades, in points; below `pass` is 不达标.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeBounds {
    /// 优秀 from.
    pub excellent: f64,
    /// 良好 from.
    pub good: f64,
    /// 达标 from.
    pub pass: f64,
}

impl GradeBounds {
    /// The grade of a composite score.
    pub fn grade(&self, score: f64) -> Grade {
        if score >= self.excellent {
            Grade::Excellent
        } else if score >= self.good {
            Grade::Good
        } else if score >= self.pass {
            Grade::Pass
        } else {
            Grade::Fail
        }
    }
}

/// A set as it is defined (a new version each time it is saved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetInput {
    /// Code (2–32 of `A-Z`, `a-z`, `0-9`, `-`, `_`).
    pub code: String,
    /// Name (1–100 characters).
    pub name: String,
    /// `month` or `quarter`.
    pub frequency: Frequency,
    /// `entity` or `tenant`.
    pub object_kind: ObjectKind,
    /// For entities: only those registered for this stage (empty: all).
    #[serde(default)]
    pub stage: String,
    /// The indicators.
    pub indicators: Vec<SetIndicator>,
    /// The grades' lower bounds.
    pub grades: GradeBounds,
}

fn bad(field: &str, zh: String, en: String) -> AppError {
    AppError::invalid(field, zh, en)
}

fn finite_points(field: &str, v: f64) -> AppResult<()> {
    if v.is_finite() && (0.0..=100.0).contains(&v) {
        Ok(())
    } else {
        Err(bad(field, format!("分值应在 0–100 之间，实际为 {v}"), format!("points are 0–100, got {v}")))
    }
}

fn check_scoring(field: &str, s: &Scoring) -> AppResult<()> {
    match s {
        Scoring::Linear { zero_at, full_at } => {
            if !zero_at.is_finite() || !full_at.is_finite() || zero_at == full_at {
                return Err(bad(
                    field,
                    "线性计分的两端应为不同的数".into(),
                    "a linear rule needs two different ends".into(),
                ));
            }
        }
        Scoring::Steps { steps, otherwise } => {
            if steps.is_empty() || steps.len() > MAX_STEPS {
                return Err(bad(
                    field,
                    format!("分档应有 1–{MAX_STEPS} 档"),
                    format!("a rule has 1–{MAX_STEPS} steps"),
                ));
            }
            finite_points(field, *otherwise)?;
            for st in steps {
                finite_points(field, st.score)?;
                if !st.bound.is_finite() {
                    return Err(bad(field, "分档界值应为数".into(), "a step's bound is a number".into()));
                }
            }
        }
    }
    Ok(())
}

impl SetInput {
    /// Checks the set whole; the first fault names its field.
    pub fn check(&self) -> AppResult<()> {
        let code_ok = (2..=32).contains(&self.code.len())
            && self.code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !code_ok {
            return Err(bad(
                "code",
                "指标体系代码应为 2–32 位字母、数字、- 或 _".into(),
                "a set's code is 2–32 of A-Z a-z 0-9 - _".into(),
            ));
        }
        let name = self.name.trim().chars().count();
        if name == 0 || name > 100 {
            return Err(bad("name", "名称应为 1–100 字".into(), "a name is 1–100 characters".into()));
        }
        if self.frequency == Frequency::Year {
            return Err(bad(
                "frequency",
                "评价周期应为月度或季度".into(),
                "a set is evaluated monthly or quarterly".into(),
            ));
        }
        if !self.stage.is_empty() && (self.object_kind != ObjectKind::Entity || Stage::from_code(&self.stage).is_none())
        {
            return Err(bad(
                "stage",
                format!("环节“{}”无效（只用于评价主体）", self.stage),
                format!("stage {:?} is unknown or not for this kind", self.stage),
            ));
        }
        if self.indicators.is_empty() || self.indicators.len() > MAX_INDICATORS {
            return Err(bad(
                "indicators",
                format!("指标应有 1–{MAX_INDICATORS} 项"),
                format!("a set has 1–{MAX_INDICATORS} indicators"),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (k, i) in self.indicators.iter().enumerate() {
            let field = format!("indicators[{k}]");
            let code_ok = (1..=16).contains(&i.code.len())
                && i.code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !code_ok || !seen.insert(i.code.clone()) {
                return Err(bad(
                    &format!("{field}.code"),
                    format!("第 {} 项指标代码无效或重复", k + 1),
                    format!("indicator {} has a bad or repeated code", k + 1),
                ));
            }
            let n = i.name.trim().chars().count();
            if n == 0 || n > 50 {
                return Err(bad(
                    &format!("{field}.name"),
                    format!("第 {} 项指标名称应为 1–50 字", k + 1),
                    "a name is 1–50 characters".into(),
                ));
            }
            if !measures().iter().any(|(m, _)| *m == i.formula) {
                return Err(bad(
                    &format!("{field}.formula"),
                    format!("第 {} 项指标的公式引用了未知的指标“{}”", k + 1, i.formula),
                    format!("indicator {} names an unknown measure {:?}", k + 1, i.formula),
                ));
            }
            if platform_only(&i.formula) && self.object_kind == ObjectKind::Entity {
                return Err(bad(
                    &format!("{field}.formula"),
                    format!("第 {} 项指标“{}”只用于评价接入平台，不能用于评价单个主体", k + 1, i.formula),
                    format!("indicator {} ({}) applies to a tenant platform, not to one entity", k + 1, i.formula),
                ));
            }
            check_scoring(&format!("{field}.scoring"), &i.scoring)?;
        }
        let total: u32 = self.indicators.iter().map(|i| i.weight).sum();
        if total != 100 || self.indicators.iter().any(|i| i.weight == 0) {
            return Err(bad(
                "indicators",
                format!("各指标权重应为正整数且合计 100，实际合计 {total}"),
                format!("weights are positive and sum to 100, got {total}"),
            ));
        }
        let g = self.grades;
        let ordered = [g.excellent, g.good, g.pass].iter().all(|v| v.is_finite())
            && g.excellent <= 100.0
            && g.excellent > g.good
            && g.good > g.pass
            && g.pass > 0.0;
        if !ordered {
            return Err(bad(
                "grades",
                "等级区间应满足 100 ≥ 优秀 > 良好 > 达标 > 0，不得重叠或留空".into(),
                "grade bounds must fall 100 ≥ excellent > good > pass > 0, with no overlap or gap".into(),
            ));
        }
        Ok(())
    }
}
