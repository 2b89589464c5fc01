//! Anomaly rules (异常数据监测规则) as data. Each rule has a kind, a name and parameters,
//! and applies node-wide (no tenant) or to one tenant; operators add, edit, disable and
//! delete rules in the console or the API, each change with an audit row.
//!
//! Kinds:
//! - `range`: a quantity, price, amount or shelf life outside a range (optionally for one
//!   category prefix, stage or unit);
//! - `repeated_trace_code`: a single-item trace code at the same stage and direction more
//!   often than allowed (a cloned code);
//! - `sales_beyond_stock`: a party's sales of a batch beyond what it bought of it;
//! - `price_outlier`: a unit price whose z-score against the trailing window of the same
//!   category, region and stage exceeds a limit;
//! - `time_order`: a stage of a batch before an earlier stage of the same batch (an act
//!   before the production date is rejected by validation already).
//!
//! [`RuleSet`] is what one submission is checked against: [`record`] holds the checks of a
//! record alone (run while validating), [`history`] those against the stored records (run
//! after each step is stored, inside the submission's transaction).

pub mod api;
pub mod history;
pub mod pages;
pub mod record;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_adapters::codes::Stage;
use tracenode_adapters::identifiers::CodeScheme;

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::anomaly_rules;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// Longest rule name, characters.
pub const MAX_NAME: usize = 60;

/// The kinds of rule.
pub const KINDS: [&str; 5] = ["range", "repeated_trace_code", "sales_beyond_stock", "price_outlier", "time_order"];

/// Chinese label of a kind.
pub fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "range" => "数值范围",
        "repeated_trace_code" => "追溯码重复",
        "sales_beyond_stock" => "销售超过库存",
        "price_outlier" => "价格离群（z 分数）",
        "time_order" => "时间顺序异常",
        "unknown_reference" => "引用未注册主体",
        _ => "其他规则",
    }
}

/// What a range rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Quantity, in the record's unit.
    Quantity,
    /// Unit price, yuan.
    Price,
    /// Amount, yuan.
    Amount,
    /// Shelf life, days.
    ShelfLifeDays,
}

impl Measure {
    /// The code, as in the parameters.
    pub fn code(self) -> &'static str {
        match self {
            Measure::Quantity => "quantity",
            Measure::Price => "price",
            Measure::Amount => "amount",
            Measure::ShelfLifeDays => "shelf_life_days",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Measure::Quantity => "数量",
            Measure::Price => "单价（元）",
            Measure::Amount => "金额（元）",
            Measure::ShelfLifeDays => "保质期（天）",
        }
    }
}

/// Parameters of a `range` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    /// What is measured.
    pub field: Measure,
    /// Least allowed value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Greatest allowed value.
    #[serde(default)]
    pub max: Option<f64>,
    /// Only records whose category code starts with this (empty: all).
    #[serde(default)]
    pub category: String,
    /// Only this stage (empty: all).
    #[serde(default)]
    pub stage: String,
    /// Only this unit (empty: all).
    #[serde(default)]
    pub unit: String,
}

/// Parameters of a `repeated_trace_code` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatedCodeParams {
    /// The stage.
    pub stage: String,
    /// `in` or `out`.
    pub direction: String,
    /// How often one code may appear there.
    pub max_count: u32,
    /// The code schemes that name single items (`gs1` counts only codes with a serial).
    pub schemes: Vec<String>,
}

/// Parameters of a `sales_beyond_stock` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockParams {
    /// The stages whose sales are checked (parties there sell what they bought).
    pub stages: Vec<String>,
    /// How far sales may exceed purchases, percent.
    #[serde(default)]
    pub tolerance_percent: f64,
}

/// Parameters of a `price_outlier` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceParams {
    /// Days before the record's day that form the window.
    pub window_days: u32,
    /// The largest allowed |z|.
    pub z: f64,
    /// Priced records the window needs before it judges.
    pub min_samples: u32,
}

/// Parameters of a `time_order` rule (none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TimeOrderParams {}

/// A rule's check, parsed and validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// See [`RangeParams`].
    Range(RangeParams),
    /// See [`RepeatedCodeParams`].
    RepeatedTraceCode(RepeatedCodeParams),
    /// See [`StockParams`].
    SalesBeyondStock(StockParams),
    /// See [`PriceParams`].
    PriceOutlier(PriceParams),
    /// See [`TimeOrderParams`].
    TimeOrder,
}

fn bad(zh: impl Into<String>, en: impl Into<String>) -> AppError {
    AppError::invalid("params", zh, en)
}

fn check_stage(stage: &str) -> AppResult<()> {
    if Stage::from_code(stage).is_none() {
        return Err(bad(format!("环节“{stage}”不是有效的环节代码"), format!("{stage:?} is not a stage code")));
    }
    Ok(())
}

impl Check {
    /// Parses and checks the parameters of a rule of `kind`.
    pub fn parse(kind: &str, params: &serde_json::Value) -> AppResult<Check> {
        fn of<T: serde::de::DeserializeOwned>(params: &serde_json::Value) -> AppResult<T> {
            serde_json::from_value(params.clone())
                .map_err(|e| bad(format!("规则参数有误：{e}"), format!("the rule's parameters are wrong: {e}")))
        }
        let check = match kind {
            "range" => Check::Range(of(params)?),
            "repeated_trace_code" => Check::RepeatedTraceCode(of(params)?),
            "sales_beyond_stock" => Check::SalesBeyondStock(of(params)?),
            "price_outlier" => Check::PriceOutlier(of(params)?),
            "time_order" => {
                of::<TimeOrderParams>(params)?;
                Check::TimeOrder
            }
            other => {
                return Err(AppError::invalid(
                    "kind",
                    format!("规则类型“{other}”不存在，可选：{}", KINDS.join("、")),
                    format!("rule kind {other:?} does not exist; one of {}", KINDS.join(", ")),
                ))
            }
        };
        check.validate()?;
        Ok(check)
    }

    fn validate(&self) -> AppResult<()> {
        match self {
            Check::Range(p) => {
                let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
                if p.min.is_none() && p.max.is_none() {
                    return Err(bad("请至少填写下限或上限", "give a minimum, a maximum or both"));
                }
                if !finite(p.min) || !finite(p.max) || p.min.zip(p.max).is_some_and(|(a, b)| a > b) {
                    return Err(bad("下限不能大于上限", "the minimum is not above the maximum"));
                }
                if !p.stage.is_empty() {
                    check_stage(&p.stage)?;
                }
                if !p.category.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(bad("品类代码只含字母和数字", "a category code has letters and digits only"));
                }
            }
            Check::RepeatedTraceCode(p) => {
                check_stage(&p.stage)?;
                if !["in", "out"].contains(&p.direction.as_str()) {
                    return Err(bad("方向应为 in（购进）或 out（销售）", "direction is in or out"));
                }
                if p.max_count < 1 {
                    return Err(bad("允许次数至少为1", "max_count is at least 1"));
                }
                if p.schemes.is_empty() {
                    return Err(bad("请至少选择一种编码体系", "name at least one code scheme"));
                }
                for s in &p.schemes {
                    if CodeScheme::parse(s).is_none() {
                        return Err(bad(format!("编码体系“{s}”不存在"), format!("code scheme {s:?} does not exist")));
                    }
                }
            }
            Check::SalesBeyondStock(p) => {
                if p.stages.is_empty() {
                    return Err(bad("请至少选择一个环节", "name at least one stage"));
                }
                p.stages.iter().try_for_each(|s| check_stage(s))?;
                if !(0.0..=1000.0).contains(&p.tolerance_percent) {
                    return Err(bad("容差应在0到1000（%）之间", "tolerance_percent is 0 to 1000"));
                }
            }
            Check::PriceOutlier(p) => {
                if !(1..=366).contains(&p.window_days) {
                    return Err(bad("窗口天数应在1到366之间", "window_days is 1 to 366"));
                }
                if !(p.z.is_finite() && p.z > 0.0 && p.z <= 100.0) {
                    return Err(bad("z 分数上限应大于0且不超过100", "z is above 0 and at most 100"));
                }
                if p.min_samples < 2 {
                    return Err(bad("最少样本数至少为2", "min_samples is at least 2"));
                }
            }
            Check::TimeOrder => {}
        }
        Ok(())
    }

    /// The kind's code.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Range(_) => "range",
            Check::RepeatedTraceCode(_) => "repeated_trace_code",
            Check::SalesBeyondStock(_) => "sales_beyond_stock",
            Check::PriceOutlier(_) => "price_outlier",
            Check::TimeOrder => "time_order",
        }
    }

    /// Whether the check looks at stored records or aggregates.
    pub fn needs_history(&self) -> bool {
        !matches!(self, Check::Range(_))
    }
}

/// A rule as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rule {
    /// Id.
    pub id: String,
    /// The tenant it applies to (`None`: every tenant of the node).
    pub tenant_id: Option<String>,
    /// Kind (see the module documentation).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Parameters of the kind.
    pub params: serde_json::Value,
    /// Whether it is checked.
    pub enabled: bool,
    /// Who changed it last.
    pub updated_by: String,
    /// When (UTC).
    pub updated_at: chrono::NaiveDateTime,
}

/// A rule as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = anomaly_rules)]
struct RuleRow {
    id: String,
    tenant_id: Option<String>,
    kind: String,
    name: String,
    params: String,
    enabled: bool,
    updated_by: String,
    updated_at: chrono::NaiveDateTime,
}

impl From<RuleRow> for Rule {
    fn from(r: RuleRow) -> Rule {
        let params = serde_json::from_str(&r.params).unwrap_or(serde_json::Value::Null);
        let RuleRow { id, tenant_id, kind, name, enabled, updated_by, updated_at, .. } = r;
        Rule { id, tenant_id, kind, name, params, enabled, updated_by, updated_at }
    }
}

/// A rule as sent to create or change it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// Name.
    pub name: String,
    /// The tenant it applies to (absent: every tenant).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Kind.
    pub kind: String,
    /// Parameters of the kind.
    #[serde(default = "empty_object")]
    pub params: serde_json::Value,
    /// Whether it is checked (default yes).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

fn yes() -> bool {
    true
}

impl RuleInput {
    /// Checks the input; returns the parsed check.
    fn check(&self, conn: &mut DbConnection) -> AppResult<Check> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > MAX_NAME {
            return Err(AppError::invalid(
                "name",
                format!("规则名称为1到{MAX_NAME}个字"),
                format!("the name has 1 to {MAX_NAME} characters"),
            ));
        }
        if let Some(t) = &self.tenant_id {
            crate::tenants::get(conn, &crate::ids::TenantId::parse(t)?)?;
        }
        Check::parse(&self.kind, &self.params)
    }
}

/// The rules `tenant` sees (node-wide ones and its own), or all of them (`None`).
pub fn list(conn: &mut DbConnection, tenant: Option<&str>) -> AppResult<Vec<Rule>> {
    let mut q = anomaly_rules::table.order((anomaly_rules::kind, anomaly_rules::id)).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(anomaly_rules::tenant_id.is_null().or(anomaly_rules::tenant_id.eq(t.to_owned())));
    }
    Ok(q.select(RuleRow::as_select()).load(conn)?.into_iter().map(Rule::from).collect())
}

/// Rule `id`.
pub fn get(conn: &mut DbConnection, id: &str) -> AppResult<Rule> {
    anomaly_rules::table
        .find(id)
        .select(RuleRow::as_select())
        .first(conn)
        .optional()?
        .map(Rule::from)
        .ok_or_else(|| AppError::not_found("异常规则", "anomaly rule"))
}

fn audit_change(conn: &mut DbConnection, ctx: &AuditContext, action: &str, rule: &Rule) -> AppResult<()> {
    audit::record(
        conn,
        ctx,
        action,
        &format!("anomaly_rule:{}", rule.id),
        Outcome::Success,
        serde_json::to_value(rule).unwrap_or_default(),
    )?;
    Ok(())
}

/// The stored columns of a rule as sent.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = anomaly_rules, treat_none_as_null = true)]
struct Stored<'a> {
    tenant_id: Option<&'a str>,
    kind: &'static str,
    name: &'a str,
    params: String,
    enabled: bool,
    updated_by: &'a str,
    updated_at: chrono::NaiveDateTime,
}

impl RuleInput {
    /// Checks the input and gives what is stored of it.
    fn stored<'a>(&'a self, conn: &mut DbConnection, ctx: &'a AuditContext) -> AppResult<Stored<'a>> {
        let check = self.check(conn)?;
        Ok(Stored {
            tenant_id: self.tenant_id.as_deref(),
            kind: check.kind(),
            name: self.name.trim(),
            params: self.params.to_string(),
            enabled: self.enabled,
            updated_by: &ctx.actor,
            updated_at: crate::db::now(),
        })
    }
}

/// Creates a rule, with an audit row.
pub fn create(conn: &mut DbConnection, ctx: &AuditContext, input: &RuleInput) -> AppResult<Rule> {
    let stored = input.stored(conn, ctx)?;
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(anomaly_rules::table).values((anomaly_rules::id.eq(&id), stored)).execute(conn)?;
    let rule = get(conn, &id)?;
    audit_change(conn, ctx, "anomaly_rule.create", &rule)?;
    Ok(rule)
}

/// Replaces rule `id`, with an audit row.
pub fn update(conn: &mut DbConnection, ctx: &AuditContext, id: &str, input: &RuleInput) -> AppResult<Rule> {
    get(conn, id)?;
    let stored = input.stored(conn, ctx)?;
    diesel::update(anomaly_rules::table.find(id)).set(stored).execute(conn)?;
    let rule = get(conn, id)?;
    audit_change(conn, ctx, "anomaly_rule.update", &rule)?;
    Ok(rule)
}

/// Deletes rule `id`, with an audit row. The anomalies it found stay.
pub fn delete(conn: &mut DbConnection, ctx: &AuditContext, id: &str) -> AppResult<()> {
    let rule = get(conn, id)?;
    diesel::delete(anomaly_rules::table.find(id)).execute(conn)?;
    audit_change(conn, ctx, "anomaly_rule.delete", &rule)
}

/// One enabled rule, ready to check.
#[derive(Debug, Clone)]
pub struct ActiveRule {
    /// Its name, quoted in what it finds.
    pub name: String,
    /// Its check.
    pub check: Check,
}

/// The enabled rules a submission of one tenant is checked against.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// The rules.
    pub rules: Vec<ActiveRule>,
}

impl RuleSet {
    /// The enabled rules of `tenant` (node-wide ones and its own). A stored rule whose
    /// parameters no longer parse is skipped with a warning.
    pub fn load(conn: &mut DbConnection, tenant: &str) -> AppResult<RuleSet> {
        let rules = list(conn, Some(tenant))?
            .into_iter()
            .filter(|r| r.enabled)
            .filter_map(|r| match Check::parse(&r.kind, &r.params) {
                Ok(check) => Some(ActiveRule { name: r.name, check }),
                Err(e) => {
                    tracing::warn!(rule = %r.id, error = %e.detail_en, "anomaly rule skipped");
                    None
                }
            })
            .collect();
        Ok(RuleSet { rules })
    }

    /// Whether any rule looks at stored records or aggregates.
    pub fn needs_history(&self) -> bool {
        self.rules.iter().any(|r| r.check.needs_history())
    }
}
