//! Console page of anomaly rules (异常规则): the rules with what they check, and for node
//! staff a form to add or edit one (fields for each kind), enable or disable it, or delete
//! it.

use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use tracenode_adapters::codes::Stage;
use tracenode_adapters::identifiers::CodeScheme;

use super::{kind_zh, Rule, RuleInput, KINDS};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, ButtonForm, Shell};
use crate::error::{AppError, AppResult};
use crate::tenants::Tenant;
use crate::users::Permission;

/// The form's values: posted, or those of the rule being edited.
type Values = HashMap<String, String>;

#[derive(Template)]
#[template(path = "quality/rules/list.html")]
struct RulesPage {
    shell: Shell,
    rows: Vec<Rule>,
    tenants: Vec<Tenant>,
    kinds: Vec<(&'static str, &'static str)>,
    stages: Vec<(&'static str, &'static str)>,
    schemes: Vec<&'static str>,
    can_manage: bool,
    editing: Option<String>,
    form: Values,
    notice: String,
    error: String,
}

impl RulesPage {
    fn kind_zh(&self, kind: &str) -> &'static str {
        kind_zh(kind)
    }

    fn summary(&self, rule: &Rule) -> String {
        summary_zh(&rule.kind, &rule.params)
    }

    fn scope(&self, rule: &Rule) -> String {
        match &rule.tenant_id {
            None => "全部租户".into(),
            Some(id) => self
                .tenants
                .iter()
                .find(|t| t.id.as_str() == id)
                .map_or_else(|| id.clone(), |t| format!("{}（{}）", t.name, t.code)),
        }
    }

    fn value(&self, key: &str) -> &str {
        self.form.get(key).map_or("", String::as_str)
    }

    fn is(&self, key: &str, value: &str) -> bool {
        self.value(key) == value
    }

    fn checked(&self, key: &str) -> bool {
        !self.value(key).is_empty()
    }
}

fn stage_list(v: &serde_json::Value) -> String {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).map(super::record::stage_zh).collect::<Vec<_>>().join("、"))
        .unwrap_or_default()
}

/// What a rule checks, in Chinese.
pub fn summary_zh(kind: &str, p: &serde_json::Value) -> String {
    let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let n = |k: &str| match p.get(k).and_then(serde_json::Value::as_f64) {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => v.to_string(),
        None => "—".into(),
    };
    match kind {
        "range" => {
            let field = match s("field").as_str() {
                "quantity" => "数量",
                "price" => "单价（元）",
                "amount" => "金额（元）",
                _ => "保质期（天）",
            };
            let mut text = format!("{field}应在 [{}, {}] 之内", n("min"), n("max"));
            if !s("category").is_empty() {
                text.push_str(&format!("；品类 {}*", s("category")));
            }
            if !s("stage").is_empty() {
                text.push_str(&format!("；{}环节", super::record::stage_zh(&s("stage"))));
            }
            if !s("unit").is_empty() {
                text.push_str(&format!("；单位 {}", s("unit")));
            }
            text
        }
        "repeated_trace_code" => format!(
            "单品码在{}环节{}最多 {} 次（编码体系：{}）",
            super::record::stage_zh(&s("stage")),
            if s("direction") == "in" { "购进" } else { "销售" },
            n("max_count"),
            p.get("schemes")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("、"))
                .unwrap_or_default()
        ),
        "sales_beyond_stock" => format!(
            "{}环节卖方同批次累计销售不超过累计购进（容差 {}%）",
            p.get("stages").map(stage_list).unwrap_or_default(),
            n("tolerance_percent")
        ),
        "price_outlier" => format!(
            "单价与本地区同品类同环节前 {} 天均价的 z 分数绝对值不超过 {}（至少 {} 笔样本）",
            n("window_days"),
            n("z"),
            n("min_samples")
        ),
        "time_order" => "同一追溯码同一批次的后一环节不早于前一环节".into(),
        _ => p.to_string(),
    }
}

/// The form's fields for `rule`.
fn values_of(rule: &Rule) -> Values {
    let mut v = Values::new();
    let p = &rule.params;
    let text = |x: Option<&serde_json::Value>| match x {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    v.insert("name".into(), rule.name.clone());
    v.insert("tenant_id".into(), rule.tenant_id.clone().unwrap_or_default());
    v.insert("kind".into(), rule.kind.clone());
    if rule.enabled {
        v.insert("enabled".into(), "on".into());
    }
    let prefix = match rule.kind.as_str() {
        "range" => "range",
        "repeated_trace_code" => "repeated",
        "sales_beyond_stock" => "stock",
        "price_outlier" => "price",
        _ => "",
    };
    if let Some(map) = p.as_object() {
        for (k, x) in map {
            match x {
                serde_json::Value::Array(items) => {
                    for item in items.iter().filter_map(|i| i.as_str()) {
                        v.insert(format!("{prefix}_{k}_{item}"), "on".into());
                    }
                }
                _ => {
                    v.insert(format!("{prefix}_{k}"), text(Some(x)));
                }
            }
        }
    }
    v
}

fn number(form: &Values, key: &str, label: &str) -> AppResult<serde_json::Value> {
    let raw = form.get(key).map(|s| s.trim()).unwrap_or("");
    if raw.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    raw.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| serde_json::json!(v))
        .ok_or_else(|| AppError::invalid(key, format!("{label}应为数字"), format!("{key} is a number")))
}

fn whole(form: &Values, key: &str, label: &str) -> AppResult<serde_json::Value> {
    let raw = form.get(key).map(|s| s.trim()).unwrap_or("");
    raw.parse::<u32>()
        .map(|v| serde_json::json!(v))
        .map_err(|_| AppError::invalid(key, format!("{label}应为非负整数"), format!("{key} is a whole number")))
}

fn ticked(form: &Values, prefix: &str, choices: &[&str]) -> Vec<String> {
    choices.iter().filter(|c| form.contains_key(&format!("{prefix}_{c}"))).map(|c| (*c).to_owned()).collect()
}

fn field(form: &Values, key: &str) -> String {
    form.get(key).map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// The rule the form describes.
fn input_of(form: &Values) -> AppResult<RuleInput> {
    let kind = field(form, "kind");
    let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.code()).collect();
    let params = match kind.as_str() {
        "range" => serde_json::json!({
            "field": field(form, "range_field"),
            "min": number(form, "range_min", "下限")?,
            "max": number(form, "range_max", "上限")?,
            "category": field(form, "range_category"),
            "stage": field(form, "range_stage"),
            "unit": field(form, "range_unit"),
        }),
        "repeated_trace_code" => {
            let schemes: Vec<&str> = CodeScheme::ALL.iter().map(|s| s.as_str()).collect();
            serde_json::json!({
                "stage": field(form, "repeated_stage"),
                "direction": field(form, "repeated_direction"),
                "max_count": whole(form, "repeated_max_count", "允许次数")?,
                "schemes": ticked(form, "repeated_schemes", &schemes),
            })
        }
        "sales_beyond_stock" => serde_json::json!({
            "stages": ticked(form, "stock_stages", &stages),
            "tolerance_percent": number(form, "stock_tolerance_percent", "容差")?.as_f64().unwrap_or(0.0),
        }),
        "price_outlier" => serde_json::json!({
            "window_days": whole(form, "price_window_days", "窗口天数")?,
            "z": number(form, "price_z", "z 分数上限")?,
            "min_samples": whole(form, "price_min_samples", "最少样本数")?,
        }),
        _ => serde_json::json!({}),
    };
    Ok(RuleInput {
        name: field(form, "name"),
        tenant_id: Some(field(form, "tenant_id")).filter(|t| !t.is_empty()),
        kind,
        params,
        enabled: form.contains_key("enabled"),
    })
}

struct Outcome {
    notice: String,
    error: String,
    editing: Option<String>,
    form: Values,
}

impl Outcome {
    fn fresh() -> Outcome {
        let mut form = Values::new();
        form.insert("enabled".into(), "on".into());
        form.insert("kind".into(), "range".into());
        Outcome { notice: String::new(), error: String::new(), editing: None, form }
    }

    fn notice(text: String) -> Outcome {
        Outcome { notice: text, ..Outcome::fresh() }
    }
}

async fn view(state: &AppState, caller: &Caller, o: Outcome) -> AppResult<HttpResponse> {
    caller.require(state, Permission::TraceRead, "anomaly_rules").await?;
    let tenant = caller.tenant_id.as_ref().map(|t| t.as_str().to_owned());
    let rows = state.db.run(move |conn| super::list(conn, tenant.as_deref())).await?;
    let tenants: Vec<Tenant> =
        state.db.run(crate::tenants::list_all).await?.into_iter().filter(|t| caller.sees_tenant(t)).collect();
    render(&RulesPage {
        shell: Shell::new(state, caller, "异常规则", "/ingest"),
        rows,
        tenants,
        kinds: KINDS.iter().map(|k| (*k, kind_zh(k))).collect(),
        stages: Stage::ALL.iter().map(|s| (s.code(), s.label_zh())).collect(),
        schemes: CodeScheme::ALL.iter().map(|s| s.as_str()).collect(),
        can_manage: caller.can(Permission::QualityManage) && caller.tenant_id.is_none(),
        editing: o.editing,
        form: o.form,
        notice: o.notice,
        error: o.error,
    })
}

/// Which rule to edit.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EditParams {
    /// The rule's id.
    pub edit: Option<String>,
    /// The kind of a new rule (default `range`).
    pub kind: Option<String>,
}

/// 异常规则: the anomaly rules; `?edit=<id>` fills the form with one.
#[get("/quality/rules")]
pub async fn page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<EditParams>,
) -> AppResult<HttpResponse> {
    let mut o = Outcome::fresh();
    let query = query.into_inner();
    if let Some(kind) = query.kind.filter(|k| KINDS.contains(&k.as_str())) {
        o.form.insert("kind".into(), kind);
    }
    if let Some(id) = query.edit.filter(|s| !s.is_empty()) {
        let key = id.clone();
        let rule = state.db.run(move |conn| super::get(conn, &key)).await?;
        o.form = values_of(&rule);
        o.editing = Some(id);
    }
    view(&state, &caller.0, o).await
}

/// Saves the form: a new rule, or the one being edited (`id`).
#[post("/quality/rules")]
pub async fn save(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    super::api::require_manager(&state, &caller).await?;
    let editing = form.get("id").filter(|s| !s.is_empty()).cloned();
    let ctx = caller.audit();
    let target = editing.clone();
    let saved = match input_of(&form) {
        Ok(input) => {
            state
                .db
                .transaction(move |conn| match &target {
                    Some(id) => super::update(conn, &ctx, id, &input),
                    None => super::create(conn, &ctx, &input),
                })
                .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(rule) => view(&state, &caller, Outcome::notice(format!("规则“{}”已保存。", rule.name))).await,
        Err(e) if e.is_for_the_form() => {
            let o = Outcome { notice: String::new(), error: e.detail_zh, editing, form };
            view(&state, &caller, o).await
        }
        Err(e) => Err(e),
    }
}

/// Enables or disables a rule.
#[post("/quality/rules/{id}/toggle")]
pub async fn toggle(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    super::api::require_manager(&state, &caller).await?;
    let (id, ctx) = (path.into_inner(), caller.audit());
    let rule = state
        .db
        .transaction(move |conn| {
            let r = super::get(conn, &id)?;
            let input =
                RuleInput { name: r.name, tenant_id: r.tenant_id, kind: r.kind, params: r.params, enabled: !r.enabled };
            super::update(conn, &ctx, &id, &input)
        })
        .await?;
    let done = if rule.enabled { "已启用" } else { "已停用" };
    view(&state, &caller, Outcome::notice(format!("规则“{}”{done}。", rule.name))).await
}

/// Deletes a rule.
#[post("/quality/rules/{id}/delete")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    super::api::require_manager(&state, &caller).await?;
    let (id, ctx) = (path.into_inner(), caller.audit());
    let name = state
        .db
        .transaction(move |conn| {
            let r = super::get(conn, &id)?;
            super::delete(conn, &ctx, &id)?;
            Ok(r.name)
        })
        .await?;
    view(&state, &caller, Outcome::notice(format!("规则“{name}”已删除。"))).await
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(page).service(save).service(toggle).service(remove);
}
