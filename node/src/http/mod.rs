//! The HTTP layer: the HTTPS listener, the application (every capability's API and console
//! routes), request ids and logging, metrics, error rendering and the OpenAPI document.
//!
//! Every route is registered through `utoipa_actix_web`, which takes each handler's
//! `#[utoipa::path]` into the OpenAPI document as it registers it, so the document covers
//! every route by construction.

pub mod body_deadline;
pub mod health;
pub mod metrics;
pub mod panic_guard;
pub mod request_id;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::{Server, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult, ErrorKind};

pub use metrics::Metrics;

/// What every handler can reach.
pub struct AppState {
    /// The configuration the node started with.
    pub config: Arc<Config>,
    /// The database.
    pub db: Db,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Asynchronous import jobs.
    pub jobs: Arc<crate::ingest::jobs::Jobs>,
    /// The vendor mappings (`ingest.vendors_dir`).
    pub vendors: Vec<Arc<tracenode_adapters::vendor::Mapping>>,
    /// Delivers notifications (mail and webhooks).
    pub notifier: Arc<crate::notify::Dispatcher>,
    /// This node's place in the federation, once it has a CA and a parent or listener.
    pub federation: Option<Arc<crate::federation::Federation>>,
    /// The audit chain's checkpoints outside the database.
    pub anchors: Arc<crate::audit::anchor::Anchors>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tracenode",
        description = "重要产品追溯管理平台节点 API / API of a node of the important-product traceability management platform (GB/T 38157). \
Errors are application/problem+json documents with a stable `code`, English `title`/`detail` and Chinese `title_zh`/`detail_zh`. \
Machine clients authenticate with `Authorization: Bearer <API key>`; console sessions use the `tn_session` cookie and must echo \
their CSRF token in `X-CSRF-Token` on state-changing requests."
    ),
    components(schemas(crate::error::Problem)),
    tags(
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "auth", description = "登录与会话 Sign-in and sessions"),
        (name = "tenants", description = "租户 Tenants"),
        (name = "users", description = "用户、角色与数据范围 Users, roles and data scopes"),
        (name = "apikeys", description = "接口密钥 API keys"),
        (name = "audit", description = "审计日志 Audit trail"),
        (name = "registry", description = "主体注册、检索、分析与产品目录 Registry: entities, sites, catalogue, search, analysis"),
        (name = "ingest", description = "数据接入、报送回执、接入策略、传输监控与告警 Ingestion, receipts, policies, transmission monitoring and alerts"),
        (name = "trace", description = "追溯信息查询 Trace records"),
        (name = "quality", description = "异常数据、异常规则与数据质量报告 Anomalies, anomaly rules and the quality report"),
        (name = "notify", description = "通知渠道与投递记录 Notification channels and deliveries"),
        (name = "federation", description = "上下级联邦：下级节点、上报批次、汇总指标 Federation: children, batches, rolled-up indicators"),
        (name = "console", description = "管理控制台页面（HTML）Console pages (HTML)")
    )
)]
struct ApiDoc;

pub(crate) fn json_error(err: actix_web::error::JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let e = match &err {
        J::Overflow { .. } | J::OverflowKnownLength { .. } => AppError::new(ErrorKind::PayloadTooLarge),
        J::ContentType => AppError::with_detail(
            ErrorKind::MalformedBody,
            "请求体必须是 application/json",
            "the request body must be application/json",
        ),
        J::Deserialize(d) => AppError::with_detail(
            ErrorKind::MalformedBody,
            format!("JSON 格式或字段有误：{d}"),
            format!("malformed JSON or wrong fields: {d}"),
        ),
        other => AppError::with_detail(
            ErrorKind::MalformedBody,
            format!("请求体无法读取：{other}"),
            format!("unreadable body: {other}"),
        ),
    };
    e.into()
}

fn form_error(err: actix_web::error::UrlencodedError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError as U;
    let e = match &err {
        U::Overflow { .. } => AppError::new(ErrorKind::PayloadTooLarge),
        other => AppError::with_detail(
            ErrorKind::MalformedBody,
            format!("表单有误：{other}"),
            format!("malformed form: {other}"),
        ),
    };
    e.into()
}

fn query_error(err: actix_web::error::QueryPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    AppError::with_detail(
        ErrorKind::Validation,
        format!("查询参数有误：{err}"),
        format!("invalid query parameters: {err}"),
    )
    .into()
}

pub(crate) fn path_error(err: actix_web::error::PathError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    AppError::with_detail(
        ErrorKind::Validation,
        format!("路径参数有误：{err}"),
        format!("invalid path parameter: {err}"),
    )
    .into()
}

/// Whether a path belongs to the machine interfaces (JSON API and operator endpoints) rather
/// than the console.
fn is_machine_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/federation/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Error responses: actix's own plain-text 404/405 become problem documents, and on console
/// paths every error becomes a Chinese page (the problem document stays for the API).
pub(crate) fn render_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (req, res) = res.into_parts();
    let error = res.extensions().get::<AppError>().cloned();
    let error = match error {
        Some(e) => e,
        None if res.headers().get(actix_web::http::header::CONTENT_TYPE).is_none() => AppError::with_detail(
            ErrorKind::NotFound,
            format!("没有这个地址：{}", req.path()),
            format!("no such route: {}", req.path()),
        ),
        None => return Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, res).map_into_left_body())),
    };
    let replacement = if is_machine_path(req.path()) {
        actix_web::ResponseError::error_response(&error)
    } else {
        crate::console::error_page(&error, res.status())
    };
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, replacement).map_into_right_body()))
}

/// Builds the application and its OpenAPI document.
pub fn build_app(
    state: web::Data<AppState>,
    openapi_json: Option<web::Data<health::OpenApiDocument>>,
) -> (
    App<
        impl actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    utoipa::openapi::OpenApi,
) {
    let limit = state.config.http.body_limit_bytes;
    let doc = openapi_json.unwrap_or_else(|| web::Data::new(health::OpenApiDocument(String::new())));
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(state)
        .app_data(doc)
        .app_data(web::JsonConfig::default().limit(limit).error_handler(json_error))
        .app_data(web::FormConfig::default().limit(limit).error_handler(form_error))
        .app_data(web::PayloadConfig::default().limit(limit))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .configure(health::routes)
        .configure(crate::auth::api::routes)
        .configure(crate::tenants::api::routes)
        .configure(crate::users::api::routes)
        .configure(crate::audit::api::routes)
        .configure(crate::registry::api::routes)
        .configure(crate::ingest::api::routes)
        .configure(crate::trace::api::routes)
        .configure(crate::quality::api::routes)
        .configure(crate::quality::rules::api::routes)
        .configure(crate::notify::api::routes)
        .configure(crate::federation::api::routes)
        .configure(crate::console::routes)
        .map(|app| {
            app.wrap(from_fn(panic_guard::middleware))
                .wrap(from_fn(body_deadline::middleware))
                .wrap(from_fn(crate::auth::gate::middleware))
                .wrap(from_fn(crate::auth::csrf::middleware))
                .wrap(ErrorHandlers::new().default_handler_client(render_errors).default_handler_server(render_errors))
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("Referrer-Policy", "no-referrer"))
                        .add((
                            "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
                        ))
                        .add(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
                        // Pages and answers hold personal and business data: no cache keeps
                        // them (a route that may be cached, such as the style sheet, says so).
                        .add(("Cache-Control", "no-store")),
                )
                .wrap(from_fn(request_id::middleware))
        })
        .split_for_parts()
}

/// The OpenAPI document as served at `/api/v1/openapi.json`.
pub fn openapi_document(state: web::Data<AppState>) -> AppResult<String> {
    let (_, doc) = build_app(state, None);
    doc.to_pretty_json().map_err(AppError::internal)
}

/// A running server and the address it listens on.
pub struct Running {
    /// The console/API server.
    pub server: Server,
    /// The bound address.
    pub addr: SocketAddr,
    /// The federation listener, if it runs.
    pub federation_server: Option<Server>,
    /// Its address.
    pub federation_addr: Option<SocketAddr>,
    /// This node's place in the federation.
    pub federation: Option<Arc<crate::federation::Federation>>,
}

/// Binds the HTTPS listener and starts serving.
pub fn start(config: Arc<Config>, db: Db) -> AppResult<Running> {
    let tls = tls::server_config(&config.resolve(&config.http.tls_cert), &config.resolve(&config.http.tls_key))?;
    let vendors = crate::ingest::vendors(&config)?;
    let federation = crate::federation::Federation::load(&config, &db)?;
    let anchors = Arc::new(crate::audit::anchor::Anchors::open(&config)?);
    crate::audit::anchor::check_at_start(&db, &anchors)?;
    db.transaction_sync(|conn| crate::audit::use_digest(conn, config.security.audit_digest))?;
    let state = web::Data::new(AppState {
        config: config.clone(),
        db,
        metrics: Arc::new(Metrics::new()),
        jobs: Arc::new(crate::ingest::jobs::Jobs::new(vendors.clone())),
        vendors,
        notifier: Arc::new(crate::notify::Dispatcher::new(&config)?),
        federation,
        anchors: anchors.clone(),
    });
    tokio::spawn(crate::audit::anchor::schedule(
        state.db.clone(),
        anchors,
        std::time::Duration::from_secs(config.security.audit_checkpoint_seconds),
    ));
    tokio::spawn(crate::ingest::monitor::alerts::schedule(state.clone()));
    let scheduled = state.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::ingest::pull::schedule(scheduled).await {
            tracing::error!(error = %e, "pull schedules not started");
        }
    });
    let resumed = crate::ingest::jobs::resume(&state.db, &state.jobs, &config.resolve(&config.ingest.spool_dir))?;
    if resumed > 0 {
        tracing::info!(jobs = resumed, "import jobs taken up again");
    }
    let doc = web::Data::new(health::OpenApiDocument(openapi_document(state.clone())?));
    let workers = if config.http.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        config.http.workers
    };
    let served = state.clone();
    let server = HttpServer::new(move || build_app(served.clone(), Some(doc.clone())).0)
        .workers(workers)
        .bind_rustls_0_23(&config.http.listen, tls)
        .map_err(|e| {
            AppError::invalid(
                "http.listen",
                format!("无法监听 {}：{e}", config.http.listen),
                format!("cannot listen on {}: {e}", config.http.listen),
            )
        })?;
    let addr = server.addrs().first().copied().ok_or_else(|| AppError::internal("no listening address"))?;
    let federation = state.federation.clone();
    let (federation_server, federation_addr) = match &federation {
        Some(fed) if !config.federation.listen.is_empty() => {
            let (second, addr) = crate::federation::listener::start(state.clone(), fed)?;
            (Some(second), Some(addr))
        }
        _ => (None, None),
    };
    if let Some(fed) = &federation {
        crate::federation::spawn(fed.clone(), state.db.clone(), &config);
    }
    Ok(Running { server: server.run(), addr, federation_server, federation_addr, federation })
}

impl Running {
    /// Handles to stop the listeners.
    pub fn handles(&self) -> Vec<actix_web::dev::ServerHandle> {
        std::iter::once(self.server.handle()).chain(self.federation_server.as_ref().map(Server::handle)).collect()
    }

    /// Serves until a listener stops; stopping one stops the other.
    pub async fn serve(self) -> std::io::Result<()> {
        let Some(second) = self.federation_server else { return self.server.await };
        let (h1, h2) = (self.server.handle(), second.handle());
        let outcome = tokio::select! {
            r = self.server => r,
            r = second => r,
        };
        h1.stop(true).await;
        h2.stop(true).await;
        outcome
    }
}
