//! The intake endpoints: `POST /api/v1/exchange` (the XML envelope), `POST /api/v1/imports`
//! (any format), the submissions and their receipts, and each tenant's ingestion policy.
//!
//! A body is streamed, never held whole beyond the asynchronous threshold: a small one is
//! ingested at once and answered with its receipt; a large one (or `async=true`) is spooled
//! to disk and answered `202 Accepted` with the submission's status URL. Limits come from the
//! tenant's policy or the node's `[ingest]` section: body size (413) and submissions a minute
//! (429).

use std::io::Write;

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde::Deserialize;
use tracenode_adapters::adapter::{Format, Source};

use super::policy::{self, IngestPolicy};
use super::receipt::Receipt;
use super::submissions::{self, Channel, Submission, SubmissionStatus};
use super::{jobs, Intake, Job, Mode};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::ids::TenantId;
use crate::registry::access::owning_tenant;
use crate::users::Permission;

/// Options of a submission.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SubmitParams {
    /// `xml`, `csv`, `json`, `ndjson`, `epcis`, or `vendor:<mapping>` for a vendor's format
    /// declared in the node's vendor mappings (imports only; the exchange endpoint takes XML).
    pub format: Option<String>,
    /// `atomic` (all or nothing) or `best_effort` (the default).
    pub mode: Option<Mode>,
    /// Check and report only; store nothing.
    pub dry_run: Option<bool>,
    /// The tenant (node staff only; a tenant's caller submits for itself).
    pub tenant: Option<TenantId>,
    /// Run as a job and answer 202 at once (large bodies always do).
    #[serde(rename = "async")]
    pub run_async: Option<bool>,
}

/// Submits a GB/T 21062-style exchange envelope of trace records. The envelope's sender must
/// be the caller's tenant code; its record count and payload digest are checked, and a
/// broken envelope stores nothing.
#[utoipa::path(tag = "ingest", params(SubmitParams), request_body(content = String, content_type = "application/xml"),
    responses((status = 200, description = "Receipt", body = Receipt), (status = 202, description = "Queued as a job", body = Receipt),
    (status = 413, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/exchange")]
pub async fn exchange(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    params: web::Query<SubmitParams>,
    body: web::Payload,
) -> AppResult<HttpResponse> {
    submit(state, caller, req, params.into_inner(), Channel::Exchange, body).await
}

/// Imports trace records in any supported format (`format=xml|csv|json|ndjson|epcis|vendor:<name>`):
/// a JSON array of trace records, NDJSON (one record a line), CSV with a header row, the XML
/// envelope, or an EPCIS 2.0 document (docs/integration.md describes each with an example).
#[utoipa::path(tag = "ingest", params(SubmitParams),
    request_body(description = "The records, in the format the query names",
        content((Vec<tracenode_adapters::records::TraceRecord> = "application/json"),
                (String = "application/x-ndjson"), (String = "text/csv"), (String = "application/xml"),
                (String = "application/ld+json"))),
    responses((status = 200, description = "Receipt", body = Receipt), (status = 202, description = "Queued as a job", body = Receipt),
    (status = 413, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/imports")]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    params: web::Query<SubmitParams>,
    body: web::Payload,
) -> AppResult<HttpResponse> {
    submit(state, caller, req, params.into_inner(), Channel::Import, body).await
}

fn source_of(state: &AppState, channel: Channel, named: Option<&str>) -> AppResult<Source> {
    let envelope = Source::Format(Format::Exchange);
    match (channel, named) {
        (Channel::Exchange, None) => Ok(envelope),
        (Channel::Exchange, Some(f)) if Format::parse(f) == Some(Format::Exchange) => Ok(envelope),
        (Channel::Exchange, Some(_)) => Err(AppError::invalid(
            "format",
            "交换接口只接收XML报文",
            "the exchange endpoint takes the XML envelope only",
        )),
        (_, None) => Err(AppError::invalid(
            "format",
            "请指定格式：xml、csv、json、ndjson、epcis 或 vendor:<映射名>",
            "name the format: xml, csv, json, ndjson, epcis or vendor:<mapping>",
        )),
        (_, Some(f)) => Source::resolve(f, state.service::<super::jobs::Jobs>()?.vendors()).ok_or_else(|| {
            AppError::invalid(
                "format",
                format!("不支持的格式“{f}”，应为 xml、csv、json、ndjson、epcis 或 vendor:<映射名>"),
                format!("unsupported format {f:?}: xml, csv, json, ndjson, epcis or vendor:<mapping>"),
            )
        }),
    }
}

fn too_large(limit: u64) -> AppError {
    AppError::with_detail(
        ErrorKind::PayloadTooLarge,
        format!("请求体超过上限{limit}字节，未存储任何数据"),
        format!("the body exceeds the limit of {limit} bytes; nothing was stored"),
    )
}

/// A refused document as a problem, with the receipt's refusal as reason.
pub fn refused(receipt: &Receipt) -> AppError {
    let mut e = match &receipt.refusal {
        Some(r) => AppError::with_detail(ErrorKind::DocumentRefused, r.message_zh.clone(), r.message.clone()),
        None => AppError::new(ErrorKind::DocumentRefused),
    };
    e.reason = receipt.refusal.as_ref().map(|r| r.code.clone());
    e
}

async fn submit(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    params: SubmitParams,
    channel: Channel,
    mut body: web::Payload,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceWrite, "trace").await?;
    let source = source_of(&state, channel, params.format.as_deref())?;
    let tenant_id = owning_tenant(&state, &caller, params.tenant.as_ref(), "trace.ingest").await?;
    let (tenant, rules, recent) = {
        let id = tenant_id.clone();
        let since = crate::db::now() - chrono::TimeDelta::seconds(60);
        state
            .db
            .run(move |conn| {
                Ok((
                    crate::tenants::get(conn, &id)?,
                    policy::of(conn, id.as_str())?,
                    submissions::count_since(conn, &id, since)?,
                ))
            })
            .await?
    };
    let cfg = &state.config.ingest;
    let per_minute = rules.submissions_per_minute.map(|n| n as i64).unwrap_or(cfg.submissions_per_minute as i64);
    if recent >= per_minute {
        return Err(AppError::with_detail(
            ErrorKind::RateLimited,
            format!("每分钟最多报送{per_minute}次，请稍后重试"),
            format!("at most {per_minute} submissions a minute; retry later"),
        ));
    }
    let limit = rules.max_body_bytes.map(|b| b as u64).unwrap_or(cfg.max_body_bytes);
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let spooled = params.run_async.unwrap_or(false) || declared.is_none_or(|n| n > cfg.async_threshold_bytes);
    let intake = Intake {
        channel,
        mode: params.mode.unwrap_or_default(),
        dry_run: params.dry_run.unwrap_or(false),
        bytes: 0,
        actor: caller.name.clone(),
    };
    let within = crate::registry::region_of(&state, &caller);
    let mut job = Job::for_tenant(&tenant, &rules, source, within, &state.config, intake)
        .asking(state.find::<crate::registry::references::Upward>());
    let tenant_code = tenant.code;
    let ctx = caller.audit();
    if !spooled {
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| AppError::with_detail(ErrorKind::MalformedBody, "请求体读取失败", e.to_string()))?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > limit {
                return Err(too_large(limit));
            }
        }
        job.meta.bytes = bytes.len() as i64;
        let db = state.db.clone();
        let receipt = web::block(move || super::run(&db, &ctx, &job, Box::new(std::io::Cursor::new(bytes)), &|_| {}))
            .await
            .map_err(AppError::internal)??;
        if receipt.refusal.is_some() {
            return Err(refused(&receipt));
        }
        if channel == Channel::Exchange && wants_xml(&req) {
            return ack(&state, &tenant_code, &receipt);
        }
        return Ok(HttpResponse::Ok().json(receipt));
    }
    let dir = state.config.resolve(&cfg.spool_dir);
    crate::files::private_dir(&dir)?;
    let path = jobs::spool_path(&dir, job.meta.id.as_str());
    let mut file = std::io::BufWriter::new(crate::files::private_file(&path).map_err(AppError::internal)?);
    let mut n = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| AppError::with_detail(ErrorKind::MalformedBody, "请求体读取失败", e.to_string()));
        let written = chunk.and_then(|c| {
            n += c.len() as u64;
            if n > limit {
                return Err(too_large(limit));
            }
            file.write_all(&c).map_err(AppError::internal)
        });
        if let Err(e) = written {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    }
    file.flush().map_err(AppError::internal)?;
    drop(file);
    job.meta.bytes = n as i64;
    let db = state.db.clone();
    let (queued_job, queued_ctx, queued_path) = (job.clone(), ctx.clone(), path.clone());
    web::block(move || jobs::enqueue(&db, &queued_job, &queued_ctx, &queued_path))
        .await
        .map_err(AppError::internal)??;
    tokio::spawn(jobs::launch(state.service::<super::jobs::Jobs>()?, state.db.clone(), path));
    let receipt = Receipt::of(job.meta.id.clone(), SubmissionStatus::Queued);
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/v1/submissions/{}", job.meta.id)))
        .json(receipt))
}

/// Whether the caller asked for XML (`Accept: application/xml` or `text/xml`).
fn wants_xml(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/xml") || a.contains("text/xml"))
}

/// The receipt as an `ack` envelope to the sender, correlated with its message.
fn ack(state: &AppState, tenant_code: &str, r: &Receipt) -> AppResult<HttpResponse> {
    use tracenode_adapters::exchange::{write_ack, Ack, AckRejection, Header};
    let header = Header {
        sender: state.config.node.region.as_str().to_owned(),
        receiver: tenant_code.to_owned(),
        message_id: uuid::Uuid::now_v7().to_string(),
        correlation_id: r.message_id.clone().unwrap_or_default(),
        operation: "ack".into(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        resource_type: "receipt".into(),
        record_count: 0,
        payload_digest: String::new(),
    };
    let body = Ack {
        submission: r.submission_id.to_string(),
        status: r.status.as_str().to_owned(),
        counts: [r.received, r.accepted, r.duplicates, r.rejected, r.quarantined, r.flagged, r.corrected],
        rejections: r
            .rejections
            .iter()
            .map(|x| AckRejection {
                index: x.index,
                record_id: x.record_id.clone().unwrap_or_default(),
                field: x.field.clone().unwrap_or_default(),
                code: x.code.clone(),
                reason: x.reason.clone(),
                reason_zh: x.reason_zh.clone(),
            })
            .collect(),
        duplicates: r.duplicate_records.iter().map(|d| (d.index, d.record_id.clone())).collect(),
    };
    let mut out = Vec::new();
    write_ack(&mut out, &header, &body).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().content_type("application/xml; charset=utf-8").body(out))
}

/// A submission with its receipt and, while its job runs, the records read so far.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SubmissionProgress {
    /// The submission.
    pub submission: Submission,
    /// Its receipt, once it finished.
    pub receipt: Option<Receipt>,
    /// Records read so far, while its job runs.
    pub progress: Option<u64>,
}

/// The tenant a caller's submissions are limited to (`None`: node staff see all).
fn own_tenant(caller: &Caller) -> Option<crate::ids::TenantId> {
    caller.tenant_id.clone()
}

/// A submission's status and receipt.
#[utoipa::path(tag = "ingest", params(("id" = String, Path, description = "Submission id")), responses((status = 200, body = SubmissionProgress), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/submissions/{id}")]
pub async fn submission(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "submissions").await?;
    let id = crate::ids::SubmissionId::parse(&path.into_inner())?;
    let tenant = own_tenant(&caller);
    let key = id.clone();
    let (submission, receipt) = state.db.run(move |conn| submissions::get(conn, &key, tenant.as_ref())).await?;
    let progress = state.service::<super::jobs::Jobs>()?.progress_of(id.as_str());
    Ok(HttpResponse::Ok().json(SubmissionProgress { submission, receipt, progress }))
}

/// The latest submissions (a tenant sees its own).
#[utoipa::path(tag = "ingest", responses((status = 200, body = Vec<Submission>)))]
#[get("/api/v1/submissions")]
pub async fn submission_list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "submissions").await?;
    let tenant = own_tenant(&caller);
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| submissions::list(conn, tenant.as_ref(), 200)).await?))
}

/// A tenant's ingestion policy.
#[utoipa::path(tag = "ingest", params(("tenant" = String, Path, description = "Tenant id")), responses((status = 200, body = IngestPolicy)))]
#[get("/api/v1/ingest/policies/{tenant}")]
pub async fn policy_get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantId>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "ingest_policy").await?;
    let tenant = owning_tenant(&state, &caller, Some(&path.into_inner()), "ingest.policy").await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| policy::of(conn, tenant.as_str())).await?))
}

/// Sets a tenant's ingestion policy (node staff).
#[utoipa::path(tag = "ingest", params(("tenant" = String, Path, description = "Tenant id")), request_body = IngestPolicy, responses((status = 200, body = IngestPolicy), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/ingest/policies/{tenant}")]
pub async fn policy_set(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<TenantId>,
    body: web::Json<IngestPolicy>,
) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::QualityManage, "ingest_policy", "ingest.policy").await?;
    let tenant = owning_tenant(&state, &caller, Some(&path.into_inner()), "ingest.policy").await?;
    let p = body.into_inner();
    let ctx = caller.audit();
    let saved = p.clone();
    state.db.transaction(move |conn| policy::set(conn, &ctx, tenant.as_str(), &saved)).await?;
    Ok(HttpResponse::Ok().json(p))
}

/// The pull sources with their cursors (node staff).
#[utoipa::path(tag = "ingest", responses((status = 200, body = Vec<super::pull::PullState>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/ingest/pulls")]
pub async fn pulls(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::QualityManage, "pull", "ingest.pull").await?;
    let list = web::block({
        let state = state.clone();
        move || super::pull::states(&state)
    })
    .await
    .map_err(AppError::internal)??;
    Ok(HttpResponse::Ok().json(list))
}

/// Pulls from a source now (node staff), page by page until it has nothing new.
#[utoipa::path(tag = "ingest", params(("name" = String, Path, description = "Pull source")), responses((status = 200, body = super::pull::PullReport), (status = 502, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ingest/pulls/{name}/run")]
pub async fn pull_run(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::QualityManage, "pull", "ingest.pull").await?;
    Ok(HttpResponse::Ok().json(super::pull::run(&state, &path.into_inner()).await?))
}

/// The window of the transmission monitor.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MonitorParams {
    /// Days back from now (1–366, default 30).
    pub days: Option<i64>,
}

fn monitor_days(params: &MonitorParams) -> AppResult<i64> {
    let days = params.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AppError::invalid("days", "天数应在1到366之间", "days is 1 to 366"));
    }
    Ok(days)
}

/// Transmission monitoring: each sender's submissions over the window (a tenant sees its own).
#[utoipa::path(tag = "ingest", params(MonitorParams), responses((status = 200, body = Vec<super::monitor::SenderTraffic>), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/ingest/monitor")]
pub async fn monitor(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<MonitorParams>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "monitor").await?;
    let days = monitor_days(&params)?;
    let since = crate::db::now() - chrono::TimeDelta::days(days);
    let tenant = own_tenant(&caller);
    Ok(HttpResponse::Ok().json(
        state.db.run(move |conn| super::monitor::traffic(conn, tenant.as_ref().map(TenantId::as_str), since)).await?,
    ))
}

/// The receiver's load: submissions waiting and running, and the last 24 hours hour by hour
/// (a tenant sees its own submissions).
#[utoipa::path(tag = "ingest", responses((status = 200, body = super::monitor::load::ReceiverLoad)))]
#[get("/api/v1/ingest/load")]
pub async fn load(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "monitor").await?;
    let tenant = own_tenant(&caller);
    Ok(HttpResponse::Ok()
        .json(state.db.run(move |conn| super::monitor::load::load(conn, tenant.as_ref().map(TenantId::as_str))).await?))
}

/// The transmission monitoring report as XLSX: senders over the window, the last 24 hours,
/// and the alerts.
#[utoipa::path(tag = "ingest", params(MonitorParams), responses((status = 200, description = "XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/ingest/monitor.xlsx")]
pub async fn monitor_xlsx(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<MonitorParams>,
) -> AppResult<HttpResponse> {
    let days = monitor_days(&params)?;
    let (senders, receiver, raised) = super::monitor::pages::gather(&state, &caller, days).await?;
    let bytes = super::monitor::export::xlsx(days, &senders, &receiver, &raised)?;
    let day = (crate::db::now() + chrono::TimeDelta::hours(crate::trace::row::CST_HOURS)).format("%Y%m%d");
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"transmission-{day}.xlsx\"")))
        .body(bytes))
}

/// Alerts of silent or failing senders (a tenant sees its own).
#[utoipa::path(tag = "ingest", params(super::monitor::alerts::AlertQuery), responses((status = 200, body = Vec<super::monitor::alerts::Alert>)))]
#[get("/api/v1/ingest/alerts")]
pub async fn alerts(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<super::monitor::alerts::AlertQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::TraceRead, "alerts").await?;
    let tenant = own_tenant(&caller);
    let q = query.into_inner();
    Ok(HttpResponse::Ok().json(
        state.db.run(move |conn| super::monitor::alerts::list(conn, &q, tenant.as_ref().map(TenantId::as_str))).await?,
    ))
}

/// Checks the senders now and delivers due notifications (node staff); the node also does so
/// every `alerts.check_every_seconds`.
#[utoipa::path(tag = "ingest", responses((status = 200, body = super::monitor::alerts::CheckReport), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/ingest/alerts/check")]
pub async fn alerts_check(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::QualityManage, "alerts", "ingest.alerts").await?;
    Ok(HttpResponse::Ok().json(super::monitor::alerts::check(&state).await?))
}

/// One code of a list, with its Chinese name.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Code {
    /// The code as records carry it.
    pub code: String,
    /// Its name (简体中文).
    pub name: String,
}

/// A unit the node knows, with the maxima of one record in it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct KnownUnit {
    /// Its name.
    pub name: String,
    /// Every way it may be written (names, abbreviations, UN/ECE codes).
    pub written_as: Vec<String>,
    /// The largest quantity of one record.
    pub max_quantity: f64,
    /// The highest unit price, yuan.
    pub max_price_yuan: f64,
}

/// The code lists a record is checked against.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CodeLists {
    /// Supply-chain stages (`act.stage`).
    pub stages: Vec<Code>,
    /// Directions (`act.direction`).
    pub directions: Vec<Code>,
    /// Trace-code schemes (`product.scheme`).
    pub schemes: Vec<Code>,
    /// Units with maxima of their own; any other unit holds to the general maxima.
    pub units: Vec<KnownUnit>,
    /// The product categories in force (`product.category`), from the node's catalogue.
    pub categories: Vec<Code>,
}

/// The code lists of the record formats, as the node checks them (docs/integration.md): the
/// stages, directions, trace-code schemes, units with their maxima and the product
/// categories in force.
#[utoipa::path(tag = "ingest", responses((status = 200, body = CodeLists), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/code-lists")]
pub async fn code_lists(state: web::Data<AppState>, _caller: Caller) -> AppResult<HttpResponse> {
    use tracenode_adapters::codes::Stage;
    use tracenode_adapters::identifiers::CodeScheme;
    let code = |c: &str, n: &str| Code { code: c.to_owned(), name: n.to_owned() };
    let categories = state.db.run(crate::registry::catalogue::list).await?;
    let lists = CodeLists {
        stages: Stage::ALL.iter().map(|s| code(s.code(), s.label_zh())).collect(),
        directions: vec![code("out", "销售（供货方报送）"), code("in", "购进（购货方报送）")],
        schemes: CodeScheme::ALL.iter().map(|s| code(s.as_str(), s.label_zh())).collect(),
        units: super::units::known()
            .map(|(names, m)| KnownUnit {
                name: m.name_zh.to_owned(),
                written_as: names.iter().map(|n| (*n).to_owned()).collect(),
                max_quantity: m.quantity,
                max_price_yuan: m.price_yuan,
            })
            .collect(),
        categories: categories.iter().filter(|c| !c.retired).map(|c| code(&c.code, &c.name)).collect(),
    };
    Ok(HttpResponse::Ok().json(lists))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(exchange)
        .service(code_lists)
        .service(import)
        .service(submission_list)
        .service(submission)
        .service(policy_get)
        .service(policy_set)
        .service(pulls)
        .service(pull_run)
        .service(monitor)
        .service(monitor_xlsx)
        .service(load)
        .service(alerts)
        .service(alerts_check);
}
