//! Console pages of data intake (数据接入与管理): the submissions with their receipts, a quick
//! import of pasted CSV or JSON, and the tenants' ingestion policies.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use tracenode_adapters::adapter::{Format, Source};

use super::policy::{self, IngestPolicy, ReferencePolicy};
use super::receipt::Receipt;
use super::submissions::{self, Channel, Submission, SubmissionStatus};
use super::{Intake, Job, Mode};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use crate::tenants::Tenant;
use crate::users::Permission;

/// Chinese label of a channel.
pub fn channel_zh(s: &str) -> &'static str {
    match s {
        "exchange" => "交换报文",
        "import" => "文件导入",
        "cli" => "命令行导入",
        "pull" => "主动拉取",
        _ => "其他",
    }
}

#[derive(Template)]
#[template(path = "ingest/list.html")]
struct ListPage {
    shell: Shell,
    submissions: Vec<Submission>,
    tenants: Vec<Tenant>,
    vendors: Vec<(String, String)>,
    can_write: bool,
    error: String,
}

impl ListPage {
    fn state_zh(&self, s: &str) -> &'static str {
        SubmissionStatus::label_zh_of(s)
    }

    fn channel_zh(&self, s: &str) -> &'static str {
        channel_zh(s)
    }
}

async fn list_view(state: &AppState, caller: &Caller, error: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::TraceRead, "submissions").await?;
    let own = caller.tenant_id.clone();
    let (list, tenants) = state
        .db
        .run(move |conn| Ok((submissions::list(conn, own.as_ref(), 100)?, crate::tenants::list_all(conn)?)))
        .await?;
    render(&ListPage {
        shell: Shell::new(state, caller, "数据接入与管理", "/ingest"),
        submissions: list,
        tenants: tenants.into_iter().filter(|t| caller.sees_tenant(t) && t.is_active()).collect(),
        vendors: state
            .service::<super::jobs::Jobs>()?
            .vendors()
            .iter()
            .map(|m| (format!("vendor:{}", m.name), m.title.clone()))
            .collect(),
        can_write: caller.can(Permission::TraceWrite),
        error,
    })
}

/// 数据接入与管理: the latest submissions and a quick import.
#[get("/ingest")]
pub async fn list_page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    list_view(&state, &caller.0, String::new()).await
}

/// A quick import as posted: pasted CSV, JSON or NDJSON.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ImportForm {
    csrf: String,
    #[serde(default)]
    tenant_id: String,
    format: String,
    mode: String,
    #[serde(default)]
    dry_run: Option<String>,
    content: String,
}

/// Runs a quick import and shows its receipt.
#[post("/ingest/import")]
pub async fn import_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<ImportForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::TraceWrite, "trace").await?;
    let named = match form.tenant_id.trim() {
        "" => None,
        t => Some(TenantId::parse(t)?),
    };
    let outcome = async {
        let tenant_id = crate::registry::access::owning_tenant(&state, &caller, named.as_ref(), "trace.ingest").await?;
        let source = Source::resolve(&form.format, state.service::<super::jobs::Jobs>()?.vendors())
            .filter(|s| !matches!(s, Source::Format(Format::Exchange)))
            .ok_or_else(|| AppError::invalid("format", "请选择格式", "choose a format"))?;
        let mode =
            Mode::parse(&form.mode).ok_or_else(|| AppError::invalid("mode", "请选择处理方式", "choose a mode"))?;
        if form.content.trim().is_empty() {
            return Err(AppError::invalid("content", "请粘贴要导入的数据", "paste the records to import"));
        }
        let id = tenant_id.clone();
        let (tenant, rules) =
            state.db.run(move |conn| Ok((crate::tenants::get(conn, &id)?, policy::of(conn, id.as_str())?))).await?;
        let intake = Intake {
            channel: Channel::Import,
            mode,
            dry_run: form.dry_run.is_some(),
            bytes: form.content.len() as i64,
            actor: caller.name.clone(),
        };
        let within = crate::registry::region_of(&state, &caller);
        let job = Job::for_tenant(&tenant, &rules, source, within, &state.config, intake)
            .asking(state.find::<crate::registry::references::Upward>());
        let db = state.db.clone();
        let ctx = caller.audit();
        let bytes = form.content.clone().into_bytes();
        web::block(move || super::run(&db, &ctx, &job, Box::new(std::io::Cursor::new(bytes)), &|_| {}))
            .await
            .map_err(AppError::internal)?
    }
    .await;
    match outcome {
        Ok(receipt) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("/ingest/submissions/{}", receipt.submission_id)))
            .finish()),
        Err(e) if e.is_for_the_form() => list_view(&state, &caller, e.detail_zh).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "ingest/submission.html")]
struct SubmissionPage {
    shell: Shell,
    submission: Submission,
    receipt: Option<Receipt>,
    progress: Option<u64>,
}

impl SubmissionPage {
    fn truncated(&self, r: &Receipt) -> bool {
        r.rejected > r.rejections.len() as u64
    }

    fn state_zh(&self, s: &str) -> &'static str {
        SubmissionStatus::label_zh_of(s)
    }

    fn channel_zh(&self, s: &str) -> &'static str {
        channel_zh(s)
    }
}

/// A submission and its receipt.
#[get("/ingest/submissions/{id}")]
pub async fn submission_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::TraceRead, "submissions").await?;
    let id = crate::ids::SubmissionId::parse(&path.into_inner())?;
    let own = caller.tenant_id.clone();
    let key = id.clone();
    let (submission, receipt) = state.db.run(move |conn| submissions::get(conn, &key, own.as_ref())).await?;
    render(&SubmissionPage {
        shell: Shell::new(&state, &caller, "报送回执", "/ingest"),
        submission,
        receipt,
        progress: state.service::<super::jobs::Jobs>()?.progress_of(id.as_str()),
    })
}

#[derive(Template)]
#[template(path = "ingest/policies.html")]
struct PoliciesPage {
    shell: Shell,
    rows: Vec<(Tenant, IngestPolicy)>,
    choices: Vec<(String, String)>,
    can_manage: bool,
    notice: String,
    error: String,
}

impl PoliciesPage {
    fn reference_zh(&self, p: &ReferencePolicy) -> &'static str {
        p.label_zh()
    }

    fn or_default(&self, v: &Option<i64>) -> String {
        v.map(|n| n.to_string()).unwrap_or_default()
    }

    fn or_default32(&self, v: &Option<i32>) -> String {
        v.map(|n| n.to_string()).unwrap_or_default()
    }
}

async fn policies_view(state: &AppState, caller: &Caller, notice: String, error: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::TraceRead, "ingest_policy").await?;
    let tenants: Vec<Tenant> = state
        .db
        .run(crate::tenants::list_all)
        .await?
        .into_iter()
        .filter(|t| caller.sees_tenant(t) && t.is_active())
        .collect();
    let rows = state
        .db
        .run(move |conn| {
            tenants
                .into_iter()
                .map(|t| {
                    let p = policy::of(conn, t.id.as_str())?;
                    Ok((t, p))
                })
                .collect::<AppResult<Vec<_>>>()
        })
        .await?;
    render(&PoliciesPage {
        shell: Shell::new(state, caller, "接入策略", "/ingest"),
        rows,
        choices: [ReferencePolicy::Flag, ReferencePolicy::Quarantine, ReferencePolicy::Reject]
            .iter()
            .map(|p| (p.as_str().to_owned(), p.label_zh().to_owned()))
            .collect(),
        can_manage: caller.can(Permission::QualityManage) && caller.tenant_id.is_none(),
        notice,
        error,
    })
}

/// 接入策略: each tenant's ingestion policy.
#[get("/ingest/policies")]
pub async fn policies_page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    policies_view(&state, &caller.0, String::new(), String::new()).await
}

/// A policy as posted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PolicyForm {
    csrf: String,
    tenant_id: String,
    unknown_reference: String,
    #[serde(default)]
    max_body_bytes: String,
    #[serde(default)]
    submissions_per_minute: String,
    #[serde(default)]
    expected_every_minutes: String,
}

fn optional<T: std::str::FromStr>(field: &str, v: &str) -> AppResult<Option<T>> {
    match v.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| AppError::invalid(field, "应为整数或留空", "a whole number, or empty")),
    }
}

/// Saves a tenant's policy.
#[post("/ingest/policies")]
pub async fn policies_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<PolicyForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::QualityManage, "ingest_policy").await?;
    let saved = async {
        let named = TenantId::parse(form.tenant_id.trim())?;
        let tenant = crate::registry::access::owning_tenant(&state, &caller, Some(&named), "ingest.policy").await?;
        let p = IngestPolicy {
            unknown_reference: ReferencePolicy::parse(&form.unknown_reference).ok_or_else(|| {
                AppError::invalid("unknown_reference", "请选择处理方式", "choose what an unknown reference does")
            })?,
            max_body_bytes: optional("max_body_bytes", &form.max_body_bytes)?,
            submissions_per_minute: optional("submissions_per_minute", &form.submissions_per_minute)?,
            expected_every_minutes: optional("expected_every_minutes", &form.expected_every_minutes)?,
        };
        let ctx = caller.audit();
        state.db.transaction(move |conn| policy::set(conn, &ctx, tenant.as_str(), &p)).await
    }
    .await;
    match saved {
        Ok(()) => policies_view(&state, &caller, "接入策略已保存。".into(), String::new()).await,
        Err(e) if e.is_for_the_form() => policies_view(&state, &caller, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

/// This page's entry in the console navigation.
pub const NAV: crate::console::NavItem = crate::console::NavItem::page("/ingest", "数据接入与管理");

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(list_page)
        .service(import_submit)
        .service(submission_page)
        .service(policies_page)
        .service(policies_submit);
}
