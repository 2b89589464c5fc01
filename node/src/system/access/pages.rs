//! Console pages of platform access: the public application form and status page (no
//! sign-in, the bare layout), and for staff the applications with their review, filing,
//! suspension and revocation, and 对接监控.

use std::collections::HashMap;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use tracenode_adapters::codes::Stage;

use super::monitor::{self, PlatformConnection};
use super::{api, Application, ApplicationInput, ApplicationReview, ApplicationStatus, Filing, FORMATS};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::users::Permission;

type Values = HashMap<String, String>;

fn field(form: &Values, key: &str) -> String {
    form.get(key).map(|s| s.trim().to_owned()).unwrap_or_default()
}

fn lines(form: &Values, key: &str) -> Vec<String> {
    field(form, key)
        .split(['\n', ',', '，', '、'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Template)]
#[template(path = "system/access/apply.html")]
struct ApplyPage {
    title: &'static str,
    node_name: String,
    region: String,
    error: String,
    form: Values,
    stages: Vec<(&'static str, &'static str)>,
    formats: Vec<(&'static str, &'static str)>,
    token: String,
}

impl ApplyPage {
    fn value(&self, key: &str) -> &str {
        self.form.get(key).map_or("", String::as_str)
    }

    fn ticked(&self, key: &str) -> bool {
        self.form.contains_key(key)
    }
}

fn apply_page(state: &AppState, form: Values, error: String, token: String) -> AppResult<HttpResponse> {
    render(&ApplyPage {
        title: "平台接入申请",
        node_name: state.config.node.name.clone(),
        region: state.config.node.region.to_string(),
        error,
        form,
        stages: Stage::ALL.iter().map(|s| (s.code(), s.label_zh())).collect(),
        formats: FORMATS.to_vec(),
        token,
    })
}

/// 平台接入申请: the public form.
#[get("/access/apply")]
pub async fn apply_form(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let mut form = Values::new();
    form.insert("kind".into(), "platform".into());
    apply_page(&state, form, String::new(), String::new())
}

fn input_of(form: &Values) -> ApplicationInput {
    ApplicationInput {
        kind: field(form, "kind"),
        org_name: field(form, "org_name"),
        org_code: field(form, "org_code"),
        region: field(form, "region"),
        contact_name: field(form, "contact_name"),
        contact_phone: field(form, "contact_phone"),
        contact_email: field(form, "contact_email"),
        system_name: field(form, "system_name"),
        system_operator: field(form, "system_operator"),
        families: lines(form, "families"),
        stages: Stage::ALL
            .iter()
            .map(|s| s.code())
            .filter(|c| form.contains_key(&format!("stage_{c}")))
            .map(str::to_owned)
            .collect(),
        volume_per_day: field(form, "volume_per_day").parse().unwrap_or(-1),
        formats: FORMATS
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| form.contains_key(&format!("format_{c}")))
            .map(str::to_owned)
            .collect(),
        addresses: lines(form, "addresses"),
        note: field(form, "note"),
    }
}

/// Files the public form; shows the token once.
#[post("/access/apply")]
pub async fn apply(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> AppResult<HttpResponse> {
    if body.len() > super::MAX_BODY_BYTES {
        return apply_page(&state, Values::new(), "提交的内容过长".into(), String::new());
    }
    let form: Values = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (ctx, own, input) = (api::applicant(&req), state.config.node.region.clone(), input_of(&form));
    match state.db.transaction(move |conn| super::submit(conn, &ctx, &own, &input)).await {
        Ok((_, token)) => apply_page(&state, Values::new(), String::new(), token),
        Err(e) if e.is_for_the_form() => apply_page(&state, form, e.detail_zh, String::new()),
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "system/access/status.html")]
struct StatusPage {
    title: &'static str,
    node_name: String,
    error: String,
    standing: Option<super::ApplicationStanding>,
}

/// 接入申请进度查询.
#[get("/access/status")]
pub async fn status_form(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    render(&StatusPage {
        title: "接入申请进度查询",
        node_name: state.config.node.name.clone(),
        error: String::new(),
        standing: None,
    })
}

/// Shows where the application of the token stands.
#[post("/access/status")]
pub async fn look_up(state: web::Data<AppState>, form: web::Form<Values>) -> AppResult<HttpResponse> {
    let token = field(&form, "token");
    let found =
        if token.len() > 128 { None } else { state.db.run(move |conn| super::standing(conn, &token)).await.ok() };
    let error = if found.is_none() {
        "没有找到与此查询码对应的申请，请核对后重试。".to_owned()
    } else {
        String::new()
    };
    render(&StatusPage {
        title: "接入申请进度查询", node_name: state.config.node.name.clone(), error, standing: found
    })
}

#[derive(Template)]
#[template(path = "system/access/list.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Application>,
    connections: Vec<PlatformConnection>,
    filter: String,
    statuses: Vec<ApplicationStatus>,
}

/// 平台接入管理: the applications and 对接监控.
#[get("/system-building/access")]
pub async fn list(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    api::require_viewer(&state, &caller).await?;
    let filter = field(&query, "status");
    let status = ApplicationStatus::parse(&filter);
    let (rows, connections) =
        state.db.run(move |conn| Ok((super::list_all(conn, status)?, monitor::connections(conn)?))).await?;
    render(&ListPage {
        shell: Shell::new(&state, &caller, "平台接入管理", "/system-building"),
        rows,
        connections,
        filter,
        statuses: ApplicationStatus::ALL.to_vec(),
    })
}

#[derive(Template)]
#[template(path = "system/access/detail.html")]
struct DetailPage {
    shell: Shell,
    a: Application,
    can_review: bool,
    can_file: bool,
    secret: String,
    tenant_code: String,
    notice: String,
    error: String,
}

impl DetailPage {
    fn stage_zh(&self, code: &str) -> &'static str {
        Stage::from_code(code).map_or("未知环节", Stage::label_zh)
    }

    fn format_zh(&self, code: &str) -> &'static str {
        FORMATS.iter().find(|(c, _)| *c == code).map_or("未知格式", |(_, l)| *l)
    }

    fn is(&self, s: &str) -> bool {
        self.a.status.as_str() == s
    }
}

struct Shown {
    secret: String,
    tenant_code: String,
    notice: String,
    error: String,
}

async fn detail_view(state: &AppState, caller: &Caller, id: String, shown: Shown) -> AppResult<HttpResponse> {
    api::require_viewer(state, caller).await?;
    let a = state.db.run(move |conn| super::get(conn, &id)).await?;
    render(&DetailPage {
        shell: Shell::new(state, caller, &format!("接入申请：{}", a.system_name), "/system-building"),
        a,
        can_review: caller.can(Permission::AccessReview),
        can_file: caller.can(Permission::AccessFile),
        secret: shown.secret,
        tenant_code: shown.tenant_code,
        notice: shown.notice,
        error: shown.error,
    })
}

fn said(notice: String) -> Shown {
    Shown { secret: String::new(), tenant_code: String::new(), notice, error: String::new() }
}

fn failed(error: String) -> Shown {
    Shown { secret: String::new(), tenant_code: String::new(), notice: String::new(), error }
}

/// An application.
#[get("/system-building/access/{id}")]
pub async fn detail(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    detail_view(&state, &caller.0, path.into_inner(), said(String::new())).await
}

/// Acts on an application (`action`: `approve`, `reject`, `file`, `suspend`, `resume`,
/// `revoke`).
#[post("/system-building/access/{id}/{action:approve|reject|file|suspend|resume|revoke}")]
pub async fn act(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<(String, String)>,
    form: web::Form<Values>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(form.get("csrf").map_or("", String::as_str))?;
    let (id, action) = path.into_inner();
    let (ctx, own, reason) = (caller.audit(), state.config.node.region.clone(), field(&form, "reason"));
    let target = id.clone();
    let outcome = match action.as_str() {
        "approve" | "reject" => {
            api::require_reviewer(&state, &caller).await?;
            let r = ApplicationReview { approve: action == "approve", reason };
            state
                .db
                .transaction(move |conn| super::review(conn, &ctx, &target, &r))
                .await
                .map(|a| said(format!("申请{}。", a.status.label_zh())))
        }
        "file" => {
            api::require_filer(&state, &caller).await?;
            let f = Filing { tenant_code: field(&form, "tenant_code") };
            let done = state.db.transaction(move |conn| super::file(conn, &ctx, &own, &target, &f)).await;
            caller.audit_refusal(&state, "access.file", "access_applications", done).await.map(|f| Shown {
                notice: format!("已备案，备案号 {}。", f.application.filing_number.unwrap_or_default()),
                secret: f.api_key,
                tenant_code: f.tenant_code,
                error: String::new(),
            })
        }
        _ => {
            api::require_filer(&state, &caller).await?;
            state
                .db
                .transaction(move |conn| match action.as_str() {
                    "suspend" => super::suspend(conn, &ctx, &target, true, &reason),
                    "resume" => super::suspend(conn, &ctx, &target, false, ""),
                    _ => super::revoke(conn, &ctx, &target, &reason),
                })
                .await
                .map(|a| said(format!("接入{}。", a.status.label_zh())))
        }
    };
    match outcome {
        Ok(shown) => detail_view(&state, &caller, id, shown).await,
        Err(e) if e.is_for_the_form() => detail_view(&state, &caller, id, failed(e.detail_zh)).await,
        Err(e) => Err(e),
    }
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(apply_form)
        .service(apply)
        .service(status_form)
        .service(look_up)
        .service(list)
        .service(detail)
        .service(act);
}
