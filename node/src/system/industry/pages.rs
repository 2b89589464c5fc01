//! Console pages of industry statistics (行业统计): the forms with a form to define one, the
//! classification with its import, a form's definition, units and periods, a period's
//! summary with drill-down, completion, reminders and export, the review queue, and — for a
//! unit — its forms and the page that fills a report. Every action goes through the same
//! services as the API.

use std::collections::{BTreeMap, HashMap};

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::classification::{self, Class};
use super::form::{FormInput, Indicator};
use super::forms::{self, Form, FormStatus, Unit};
use super::overview::{self, Overview};
use super::period::{Frequency, Period};
use super::reports::{self, Decision, Report, ReportFilter, ReportInput, ReportStatus};
use super::value::{Aggregation, ValueInput, ValueKind};
use super::{api, summary, Linked};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, ButtonForm, Shell};
use crate::error::{AppError, AppResult};
use crate::ids::IndustryReportId;
use crate::tenants::Tenant;
use crate::users::Permission;

const SECTION: &str = "/system-building";

type Values = HashMap<String, String>;

fn field(form: &Values, key: &str) -> String {
    form.get(key).map(|s| s.trim().to_owned()).unwrap_or_default()
}

fn own(state: &AppState) -> String {
    state.config.node.region.to_string()
}

/// A unit's form and where its latest period stands.
struct Pending {
    form: Form,
    period: String,
    due: chrono::NaiveDate,
    status: Option<ReportStatus>,
    reason: String,
}

#[derive(Template)]
#[template(path = "system/industry/index.html")]
struct IndexPage {
    shell: Shell,
    forms: Vec<Form>,
    mine: Vec<Pending>,
    own: String,
    can_manage: bool,
    waiting: usize,
    form: Values,
    notice: String,
    error: String,
}

impl IndexPage {
    fn value(&self, key: &str) -> &str {
        self.form.get(key).map_or("", String::as_str)
    }

    fn status_of(&self, p: &Pending) -> &'static str {
        p.status.map_or("未填报", ReportStatus::label_zh)
    }
}

/// The indicators of a form as the console writes them: one a line,
/// `代码,名称,单位,类型,汇总方式,三新分类[,选填]`.
fn indicators_text(indicators: &[Indicator]) -> String {
    indicators
        .iter()
        .map(|i| {
            let optional = if i.required { "" } else { ",选填" };
            format!(
                "{},{},{},{},{},{}{optional}",
                i.code,
                i.name,
                i.unit,
                i.kind.as_str(),
                i.aggregation.as_str(),
                i.class_code
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_fault(n: usize, zh: &str, en: &str) -> AppError {
    AppError::invalid("indicators", format!("指标第 {n} 行：{zh}"), format!("indicator line {n}: {en}"))
}

/// Reads the indicators a console form lists (see [`indicators_text`]).
fn indicators_of(text: &str) -> AppResult<Vec<Indicator>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        let n = i + 1;
        let parts: Vec<&str> = line.split([',', '，']).map(str::trim).collect();
        if !(6..=7).contains(&parts.len()) {
            return Err(line_fault(
                n,
                "应为“代码,名称,单位,类型,汇总方式,三新分类[,选填]”",
                "write code,name,unit,kind,aggregation,class[,optional]",
            ));
        }
        let kind = ValueKind::parse(parts[3]).ok_or_else(|| {
            line_fault(n, "类型应为 integer、decimal 或 percent", "kind is integer, decimal or percent")
        })?;
        let aggregation = Aggregation::parse(parts[4])
            .ok_or_else(|| line_fault(n, "汇总方式应为 sum、average 或 max", "aggregation is sum, average or max"))?;
        out.push(Indicator {
            code: parts[0].to_owned(),
            name: parts[1].to_owned(),
            unit: parts[2].to_owned(),
            kind,
            aggregation,
            class_code: parts[5].to_owned(),
            required: parts.get(6).is_none_or(|o| o.is_empty()),
            signed: false,
        });
    }
    Ok(out)
}

fn input_of(form: &Values) -> AppResult<FormInput> {
    let frequency = Frequency::parse(&field(form, "frequency"))
        .ok_or_else(|| AppError::invalid("frequency", "请选择报送频率", "choose a frequency"))?;
    let deadline_days = field(form, "deadline_days")
        .parse::<i32>()
        .map_err(|_| AppError::invalid("deadline_days", "报送期限应为天数", "the deadline is a number of days"))?;
    Ok(FormInput {
        code: field(form, "code"),
        name: field(form, "name"),
        edition: Some(field(form, "edition"))
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| classification::EDITION_2018.to_owned()),
        frequency,
        deadline_days,
        indicators: indicators_of(&field(form, "indicators"))?,
        rules: field(form, "rules").lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
    })
}

async fn mine(state: &AppState, caller: &Caller) -> AppResult<Vec<Pending>> {
    let Some(tenant) = caller.tenant_id.clone().filter(|_| caller.can(Permission::IndustryReport)) else {
        return Ok(Vec::new());
    };
    let today = super::today();
    state
        .db
        .run(move |conn| {
            let mut out = Vec::new();
            for form in forms::list(conn)?.into_iter().filter(|f| f.status == FormStatus::Published) {
                if !forms::is_unit(conn, &form.code, &tenant)? {
                    continue;
                }
                let p = Period::latest_ended(form.frequency, today);
                let report = reports::of_unit(conn, &form.code, &p.to_string(), &tenant)?;
                out.push(Pending {
                    due: p.due(form.deadline_days),
                    period: p.to_string(),
                    status: report.as_ref().map(|r| r.status),
                    reason: report.map(|r| r.reason).unwrap_or_default(),
                    form,
                });
            }
            Ok(out)
        })
        .await
}

async fn index_view(
    state: &AppState,
    caller: &Caller,
    form: Values,
    notice: String,
    error: String,
) -> AppResult<HttpResponse> {
    let staff = caller.tenant_id.is_none();
    let reviewer = staff && caller.can(Permission::IndustryReview);
    let (forms, waiting) = state
        .db
        .run(move |conn| {
            let forms = if staff { forms::list(conn)? } else { Vec::new() };
            let waiting = if reviewer {
                reports::list(conn, &ReportFilter { status: Some("submitted".into()), ..Default::default() })?.len()
            } else {
                0
            };
            Ok((forms, waiting))
        })
        .await?;
    render(&IndexPage {
        shell: Shell::new(state, caller, "行业统计", SECTION),
        mine: mine(state, caller).await?,
        forms,
        own: own(state),
        can_manage: staff && caller.can(Permission::IndustryManage),
        waiting,
        form,
        notice,
        error,
    })
}

fn blank_form() -> Values {
    let mut v = Values::new();
    v.insert("frequency".into(), "month".into());
    v.insert("deadline_days".into(), "10".into());
    v
}

/// 行业统计: the forms (staff) or the unit's forms to fill, and a form to define one.
#[get("/system-building/industry")]
pub async fn index(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    index_view(&state, &caller.0, blank_form(), String::new(), String::new()).await
}

/// Defines a form from the console (a draft).
#[post("/system-building/industry/forms")]
pub async fn create(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    api::require_manager(&state, &caller).await?;
    let (ctx, own) = (caller.audit(), own(&state));
    let made = match input_of(&form) {
        Ok(input) => state.db.transaction(move |conn| forms::create(conn, &ctx, &own, &input)).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(f) => {
            form_view(&state, &caller, f.code, "已保存为草稿。发布后报送单位开始填报。".into(), String::new()).await
        }
        Err(e) if e.is_for_the_form() => index_view(&state, &caller, form, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "system/industry/classes.html")]
struct ClassesPage {
    shell: Shell,
    edition: String,
    parent: Option<Class>,
    rows: Vec<Class>,
    can_manage: bool,
    text: String,
    notice: String,
    error: String,
}

/// Which classes to show.
#[derive(Debug, Deserialize)]
pub struct ClassParams {
    /// Edition.
    pub edition: Option<String>,
    /// Parent class.
    pub parent: Option<String>,
}

async fn classes_view(
    state: &AppState,
    caller: &Caller,
    edition: String,
    parent: String,
    text: String,
    notice: String,
    error: String,
) -> AppResult<HttpResponse> {
    let (e, p) = (edition.clone(), parent.clone());
    let (parent, rows) = state
        .db
        .run(move |conn| Ok((classification::find(conn, &e, &p)?, classification::children(conn, &e, &p)?)))
        .await?;
    render(&ClassesPage {
        shell: Shell::new(state, caller, "三新统计分类", SECTION),
        edition,
        parent,
        rows,
        can_manage: caller.tenant_id.is_none() && caller.can(Permission::IndustryManage),
        text,
        notice,
        error,
    })
}

/// 三新统计分类: browse by layer.
#[get("/system-building/industry/classes")]
pub async fn classes(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<ClassParams>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let edition = q.edition.filter(|e| !e.is_empty()).unwrap_or_else(|| classification::EDITION_2018.to_owned());
    classes_view(&state, &caller.0, edition, q.parent.unwrap_or_default(), String::new(), String::new(), String::new())
        .await
}

/// Imports classes pasted as CSV.
#[post("/system-building/industry/classes")]
pub async fn import_classes(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    api::require_manager(&state, &caller).await?;
    let edition = Some(field(&form, "edition"))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| classification::EDITION_2018.to_owned());
    let text = form.get("csv").cloned().unwrap_or_default();
    if text.len() > api::MAX_UPLOAD_BYTES {
        return Err(AppError::new(crate::error::ErrorKind::PayloadTooLarge));
    }
    let (ctx, e, t) = (caller.audit(), edition.clone(), text.clone());
    match state.db.transaction(move |conn| classification::import(conn, &ctx, &e, &t)).await {
        Ok(done) => {
            let notice = format!("已导入：新增 {}，修改 {}，未变 {}。", done.added, done.changed, done.unchanged);
            classes_view(&state, &caller, edition, String::new(), String::new(), notice, String::new()).await
        }
        Err(e) if e.is_for_the_form() => {
            classes_view(&state, &caller, edition, String::new(), text, String::new(), e.detail_zh).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "system/industry/form.html")]
struct FormPage {
    shell: Shell,
    form: Form,
    own: String,
    units: Vec<Unit>,
    tenants: Vec<Tenant>,
    periods: Vec<String>,
    latest: String,
    can_manage: bool,
    notice: String,
    error: String,
}

impl FormPage {
    fn is_unit(&self, t: &Tenant) -> bool {
        self.units.iter().any(|u| u.tenant_id == t.id.as_str())
    }

    fn draft(&self) -> bool {
        self.form.status == FormStatus::Draft
    }

    fn editable(&self) -> bool {
        self.can_manage && self.draft() && self.form.is_own(&self.own)
    }

    fn indicators_text(&self) -> String {
        indicators_text(&self.form.indicators)
    }

    fn rules_text(&self) -> String {
        self.form.rules.join("\n")
    }
}

async fn form_view(
    state: &AppState,
    caller: &Caller,
    code: String,
    notice: String,
    error: String,
) -> AppResult<HttpResponse> {
    caller.require_staff(state, Permission::StatisticsRead, "industry", "industry.read").await?;
    let c = code.clone();
    let (form, units, periods, tenants) = state
        .db
        .run(move |conn| {
            Ok((
                forms::get(conn, &c)?,
                forms::units(conn, &c)?,
                summary::periods(conn, &c)?,
                crate::tenants::list_all(conn)?,
            ))
        })
        .await?;
    let latest = Period::latest_ended(form.frequency, super::today()).to_string();
    render(&FormPage {
        shell: Shell::new(state, caller, &format!("报表制度 {}", form.code), SECTION),
        tenants: tenants.into_iter().filter(|t| caller.sees_tenant(t)).collect(),
        form,
        own: own(state),
        units,
        periods,
        latest,
        can_manage: caller.can(Permission::IndustryManage),
        notice,
        error,
    })
}

/// A form: its definition, units and periods.
#[get("/system-building/industry/forms/{code}")]
pub async fn form_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    form_view(&state, &caller.0, path.into_inner(), String::new(), String::new()).await
}

/// Changes a draft's definition.
#[post("/system-building/industry/forms/{code}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let (code, form) = (path.into_inner(), form.into_inner());
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    api::require_manager(&state, &caller).await?;
    let (ctx, own, c) = (caller.audit(), own(&state), code.clone());
    let saved = match input_of(&form) {
        Ok(mut input) => {
            input.code = code.clone();
            state.db.transaction(move |conn| forms::update(conn, &ctx, &own, &c, &input)).await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => form_view(&state, &caller, code, "已保存。".into(), String::new()).await,
        Err(e) if e.is_for_the_form() => form_view(&state, &caller, code, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

/// Publishes or withdraws a form (`action`: `publish` or `withdraw`).
#[post("/system-building/industry/forms/{code}/{action:publish|withdraw}")]
pub async fn status(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<(String, String)>,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    api::require_manager(&state, &caller).await?;
    let ((code, action), ctx, own, linked) = (path.into_inner(), caller.audit(), own(&state), state.find::<Linked>());
    let c = code.clone();
    let done = state
        .db
        .transaction(move |conn| {
            let tiers = linked.as_ref().map(|l| l.0.as_ref());
            if action == "publish" {
                forms::publish(conn, &ctx, &own, &c, tiers)
            } else {
                forms::withdraw(conn, &ctx, &own, &c, tiers)
            }
        })
        .await;
    match done {
        Ok(f) => form_view(&state, &caller, code, format!("报表状态：{}。", f.status.label_zh()), String::new()).await,
        Err(e) if e.is_for_the_form() => form_view(&state, &caller, code, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

/// Sets the form's units from the ticked tenants (`unit_<id>`).
#[post("/system-building/industry/forms/{code}/units")]
pub async fn set_units(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let (code, form) = (path.into_inner(), form.into_inner());
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    api::require_manager(&state, &caller).await?;
    let tenants = state.db.run(crate::tenants::list_all).await?;
    let ids: Vec<String> = tenants
        .iter()
        .filter(|t| caller.sees_tenant(t) && form.contains_key(&format!("unit_{}", t.id.as_str())))
        .map(|t| t.id.as_str().to_owned())
        .collect();
    let (ctx, c) = (caller.audit(), code.clone());
    match state.db.transaction(move |conn| forms::set_units(conn, &ctx, &c, &ids)).await {
        Ok(u) => form_view(&state, &caller, code, format!("报送单位已保存（{} 个）。", u.len()), String::new()).await,
        Err(e) if e.is_for_the_form() => form_view(&state, &caller, code, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "system/industry/period.html")]
struct PeriodPage {
    shell: Shell,
    o: Overview,
    own: String,
    can_manage: bool,
    notice: String,
    error: String,
}

impl PeriodPage {
    fn region_name(&self, code: &str) -> String {
        crate::region::RegionCode::parse(code).map(|r| r.name().to_owned()).unwrap_or_default()
    }

    fn shown(&self, h: &summary::Held, code: &str) -> String {
        let aggregation = self.o.form.indicator(code).map_or(Aggregation::Sum, |i| i.aggregation);
        let figure = h.summary.figures.iter().find(|f| f.code == code);
        super::workbook::shown_text(figure.and_then(|f| summary::shown(f, aggregation)))
    }

    fn status_of(&self, s: &Option<ReportStatus>) -> &'static str {
        s.map_or("未填报", ReportStatus::label_zh)
    }

    fn at_own(&self) -> bool {
        self.o.region == self.own
    }
}

/// Whose jurisdiction to show.
#[derive(Debug, Deserialize)]
pub struct RegionParams {
    /// A region inside this node's.
    pub region: Option<String>,
}

async fn period_view(
    state: &AppState,
    caller: &Caller,
    code: String,
    period: String,
    region: Option<String>,
    notice: String,
    error: String,
) -> AppResult<HttpResponse> {
    api::require_reader(state, caller, region.as_deref()).await?;
    if caller.tenant_id.is_some() {
        return Err(AppError::forbidden());
    }
    let own = own(state);
    let o = state
        .db
        .run({
            let own = own.clone();
            move |conn| overview::overview(conn, &own, &code, &period, region.as_deref())
        })
        .await?;
    render(&PeriodPage {
        shell: Shell::new(state, caller, &format!("{} {} 汇总", o.form.name, o.period), SECTION),
        can_manage: caller.can(Permission::IndustryManage),
        o,
        own,
        notice,
        error,
    })
}

/// A period's summary, parts and completion.
#[get("/system-building/industry/forms/{code}/periods/{period}")]
pub async fn period_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<(String, String)>,
    query: web::Query<RegionParams>,
) -> AppResult<HttpResponse> {
    let (code, period) = path.into_inner();
    period_view(&state, &caller.0, code, period, query.into_inner().region, String::new(), String::new()).await
}

/// Reminds the period's missing units or closes the period (`action`).
#[post("/system-building/industry/forms/{code}/periods/{period}/{action:remind|close}")]
pub async fn period_action(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<(String, String, String)>,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    api::require_manager(&state, &caller).await?;
    let ((code, period, action), ctx) = (path.into_inner(), caller.audit());
    let (c, p) = (code.clone(), period.clone());
    let today = super::today();
    let done = state
        .db
        .transaction(move |conn| {
            let form = forms::get(conn, &c)?;
            let period = form.period("period", &p)?;
            if action == "close" {
                forms::close(conn, &ctx, &c, &period)?;
                return Ok(format!("{period} 已关闭，不再接受填报。"));
            }
            let n = super::reminders::remind_now(conn, &ctx, &form, &period, today)?;
            Ok(format!("已向 {n} 个未提交的报送单位发出催报。"))
        })
        .await;
    match done {
        Ok(text) => period_view(&state, &caller, code, period, None, text, String::new()).await,
        Err(e) if e.is_for_the_form() => {
            period_view(&state, &caller, code, period, None, String::new(), e.detail_zh).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "system/industry/reports.html")]
struct ReportsPage {
    shell: Shell,
    rows: Vec<Report>,
    forms: BTreeMap<String, Form>,
    notice: String,
    error: String,
}

impl ReportsPage {
    fn indicators(&self, r: &Report) -> Vec<(String, String, String)> {
        let Some(form) = self.forms.get(&r.form_code) else { return Vec::new() };
        form.indicators
            .iter()
            .map(|i| {
                (
                    format!("{}（{}）", i.name, i.code),
                    r.values.get(&i.code).cloned().unwrap_or_else(|| "—".into()),
                    i.unit.clone(),
                )
            })
            .collect()
    }
}

async fn reports_view(state: &AppState, caller: &Caller, notice: String, error: String) -> AppResult<HttpResponse> {
    api::require_reviewer(state, caller).await?;
    let (rows, forms) = state
        .db
        .run(|conn| {
            let rows = reports::list(conn, &ReportFilter { status: Some("submitted".into()), ..Default::default() })?;
            let forms = forms::list(conn)?.into_iter().map(|f| (f.code.clone(), f)).collect();
            Ok((rows, forms))
        })
        .await?;
    render(&ReportsPage { shell: Shell::new(state, caller, "报表审核", SECTION), rows, forms, notice, error })
}

/// 报表审核: the submitted reports, those waiting longest first.
#[get("/system-building/industry/reports")]
pub async fn review_queue(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    reports_view(&state, &caller.0, String::new(), String::new()).await
}

/// Approves a report or sends it back (`approve` = `yes` or `no`, with `reason`).
#[post("/system-building/industry/reports/{id}")]
pub async fn decide(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    api::require_reviewer(&state, &caller).await?;
    let id = IndustryReportId::parse(&path.into_inner())?;
    let decision = Decision { approve: field(&form, "approve") == "yes", reason: field(&form, "reason") };
    let (ctx, own) = (caller.audit(), own(&state));
    let outcome = state
        .db
        .transaction(move |conn| {
            let r = reports::review(conn, &ctx, &id, &decision)?;
            summary::recount_for(conn, &own, &r)?;
            Ok(r)
        })
        .await;
    match caller.audit_refusal(&state, "industry_report.review", "industry_reports", outcome).await {
        Ok(r) => {
            api::wake(&state);
            let text = format!("{} 的 {} {} 报表{}。", r.tenant_name, r.form_code, r.period, r.status.label_zh());
            reports_view(&state, &caller, text, String::new()).await
        }
        Err(e) if e.is_for_the_form() => reports_view(&state, &caller, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "system/industry/fill.html")]
struct FillPage {
    shell: Shell,
    form: Form,
    period: String,
    due: chrono::NaiveDate,
    report: Option<Report>,
    values: Values,
    notice: String,
    error: String,
}

impl FillPage {
    fn value(&self, code: &str) -> &str {
        self.values.get(code).map_or("", String::as_str)
    }

    fn locked(&self) -> bool {
        self.report.as_ref().is_some_and(|r| matches!(r.status, ReportStatus::Submitted | ReportStatus::Approved))
    }
}

async fn fill_view(
    state: &AppState,
    caller: &Caller,
    code: String,
    period: String,
    values: Option<Values>,
    notice: String,
    error: String,
) -> AppResult<HttpResponse> {
    let tenant = api::require_unit(state, caller).await?;
    let (form, period, report) = state
        .db
        .run(move |conn| {
            let form = forms::get(conn, &code)?;
            if !forms::is_unit(conn, &code, &tenant)? {
                return Err(AppError::forbidden());
            }
            let p = form.period("period", &period)?.to_string();
            let report = reports::of_unit(conn, &code, &p, &tenant)?;
            Ok((form, p, report))
        })
        .await?;
    let due = form.period("period", &period)?.due(form.deadline_days);
    let values =
        values.unwrap_or_else(|| report.as_ref().map(|r| r.values.clone().into_iter().collect()).unwrap_or_default());
    render(&FillPage {
        shell: Shell::new(state, caller, &format!("填报 {} {period}", form.name), SECTION),
        form,
        period,
        due,
        report,
        values,
        notice,
        error,
    })
}

/// A unit's report of a period: the values to fill.
#[get("/system-building/industry/forms/{code}/periods/{period}/fill")]
pub async fn fill_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (code, period) = path.into_inner();
    fill_view(&state, &caller.0, code, period, None, String::new(), String::new()).await
}

/// Saves a unit's report from the console (`submit` = `yes`: and submits it).
#[post("/system-building/industry/forms/{code}/periods/{period}/fill")]
pub async fn fill(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<(String, String)>,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    let tenant = api::require_unit(&state, &caller).await?;
    let (code, period) = path.into_inner();
    let values: Values = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("v_").map(|c| (c.to_owned(), v.trim().to_owned())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let input = ReportInput {
        values: values.iter().map(|(k, v)| (k.clone(), ValueInput::Text(v.clone()))).collect(),
        submit: field(&form, "submit") == "yes",
    };
    let (ctx, c, p, today) = (caller.audit(), code.clone(), period.clone(), super::today());
    match state.db.transaction(move |conn| reports::fill(conn, &ctx, today, &tenant, &c, &p, &input)).await {
        Ok(r) => {
            let text =
                if r.status == ReportStatus::Submitted { "已提交，等待审核。" } else { "草稿已保存。" };
            fill_view(&state, &caller, code, period, None, text.into(), String::new()).await
        }
        Err(e) if e.is_for_the_form() => {
            fill_view(&state, &caller, code, period, Some(values), String::new(), e.detail_zh).await
        }
        Err(e) => Err(e),
    }
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(index)
        .service(create)
        .service(classes)
        .service(import_classes)
        .service(review_queue)
        .service(decide)
        .service(fill_page)
        .service(fill)
        .service(period_page)
        .service(period_action)
        .service(status)
        .service(set_units)
        .service(form_page)
        .service(update);
}
