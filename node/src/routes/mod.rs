//! The composition root: the one place that knows every capability. It registers each
//! capability's long-lived services in the [`AppState`], mounts every API and console page
//! (with the navigation the capabilities contribute), starts the background work, and binds
//! the listeners. Nothing below this layer mounts a route or names another capability's face.
//!
//! Every route is registered through `utoipa_actix_web`, which takes each handler's
//! `#[utoipa::path]` into the OpenAPI document as it registers it, so the document covers
//! every route by construction.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::{Server, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::app::AppState;
use crate::config::Config;
use crate::console::{NavItem, Navigation};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::federation::Federation;
use crate::http::{self, health};
use crate::jobs::{Job, Schedule, Scope, Supervisor, SupervisorCell};

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
        (name = "statistics", description = "统计数据：辖区逐日与区间汇总 Statistics: the jurisdiction's daily and period aggregates"),
        (name = "access", description = "平台接入：接入申请、审核、备案与对接监控 Platform access: applications, review, filing and monitoring"),
        (name = "industry", description = "行业统计：三新分类、报表制度、填报、审核与汇总 Industry statistics: the 三新 classification, forms, reports, review and summaries"),
        (name = "monitoring", description = "主体运行监测：报送率、商户活跃度、时效、拒收率、异常率、阈值与预警 Operation monitoring: indicators, thresholds and warnings"),
        (name = "evaluation", description = "监测评价：指标体系、评价、等级与排名 Monitoring evaluation: indicator sets, runs, grades and ranks"),
        (name = "federation", description = "上下级联邦：下级节点、上报批次、汇总指标 Federation: children, batches, rolled-up indicators"),
        (name = "jobs", description = "后台任务 Background jobs")
    )
)]
struct ApiDoc;

/// The console's navigation: each capability's entry, in the order of the capabilities of a
/// node (docs/architecture.md), then the administration pages.
pub fn navigation() -> Navigation {
    Navigation {
        capabilities: vec![
            crate::registry::pages::NAV,
            crate::ingest::pages::NAV,
            crate::trace::pages::NAV,
            NavItem::not_built("/emergency", "应急管理"),
            NavItem::not_built("/stats", "统计分析"),
            crate::system::pages::NAV,
            crate::evaluation::pages::NAV,
            NavItem::not_built("/disclosure", "信息公开"),
            crate::federation::pages::NAV,
        ],
        administration: vec![
            crate::admin::tenants::pages::NAV,
            crate::admin::users::pages::NAV,
            crate::admin::users::pages::ROLES_NAV,
            crate::admin::auth::pages::API_KEYS_NAV,
            crate::admin::audit::pages::NAV,
            crate::jobs::pages::NAV,
        ],
    }
}

/// Every capability's JSON API.
fn api(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    health::routes(cfg);
    crate::admin::auth::api::routes(cfg);
    crate::admin::tenants::api::routes(cfg);
    crate::admin::users::api::routes(cfg);
    crate::admin::audit::api::routes(cfg);
    crate::registry::api::routes(cfg);
    crate::ingest::api::routes(cfg);
    crate::trace::api::routes(cfg);
    crate::quality::api::routes(cfg);
    crate::quality::rules::api::routes(cfg);
    crate::notify::api::routes(cfg);
    crate::stats::api::routes(cfg);
    crate::system::access::api::routes(cfg);
    crate::system::industry::api::routes(cfg);
    crate::system::monitoring::api::routes(cfg);
    crate::evaluation::api::routes(cfg);
    crate::federation::api::routes(cfg);
    crate::jobs::api::routes(cfg);
}

/// Every capability's console pages (HTML, kept out of the OpenAPI document); the page for a
/// capability not built yet comes last so specific pages win.
fn pages(cfg: &mut web::ServiceConfig) {
    crate::console::routes(cfg);
    crate::admin::auth::pages::routes(cfg);
    crate::admin::tenants::pages::routes(cfg);
    crate::admin::users::pages::routes(cfg);
    crate::admin::audit::pages::routes(cfg);
    crate::registry::pages::routes(cfg);
    crate::trace::pages::routes(cfg);
    crate::ingest::pages::routes(cfg);
    crate::ingest::monitor::pages::routes(cfg);
    crate::quality::pages::routes(cfg);
    crate::quality::rules::pages::routes(cfg);
    crate::notify::pages::routes(cfg);
    crate::system::pages::routes(cfg);
    crate::system::access::pages::routes(cfg);
    crate::system::industry::pages::routes(cfg);
    crate::system::monitoring::pages::routes(cfg);
    crate::evaluation::pages::routes(cfg);
    crate::federation::pages::routes(cfg);
    crate::jobs::pages::routes(cfg);
    cfg.service(crate::console::capability);
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
    let doc = openapi_json.unwrap_or_else(|| web::Data::new(health::OpenApiDocument::new(String::new())));
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(state)
        .app_data(doc)
        .app_data(web::JsonConfig::default().limit(limit).error_handler(http::json_error))
        .app_data(web::FormConfig::default().limit(limit).error_handler(http::form_error))
        .app_data(web::PayloadConfig::default().limit(limit))
        .app_data(web::QueryConfig::default().error_handler(http::query_error))
        .app_data(web::PathConfig::default().error_handler(http::path_error))
        .configure(api)
        .map(|app| {
            app.configure(pages)
                .wrap(from_fn(crate::audit::panic_guard::middleware))
                .wrap(from_fn(http::body_deadline::middleware))
                .wrap(from_fn(crate::auth::gate::middleware))
                .wrap(from_fn(crate::auth::csrf::middleware))
                .wrap(ErrorHandlers::new().default_handler_client(http::render_errors).default_handler_server(http::render_errors))
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
                .wrap(from_fn(http::request_id::middleware))
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
    pub federation: Option<Arc<Federation>>,
    /// The background jobs, stopped when the listeners stop.
    pub supervisor: Arc<Supervisor>,
}

/// The state of a node: configuration, database and every capability's service.
pub fn assemble(config: Arc<Config>, db: Db) -> AppResult<AppState> {
    let vendors = crate::ingest::vendors(&config)?;
    let anchors = Arc::new(crate::audit::anchor::Anchors::open(&config)?);
    let mut state = AppState::new(config.clone(), db.clone())
        .with(Arc::new(navigation()))
        .with(anchors)
        .with(Arc::new(crate::notify::Dispatcher::new(&config)?))
        .with(Arc::new(SupervisorCell::default()));
    if let Some(federation) = Federation::load(&config, &db)? {
        // A node with a parent looks up codes it does not know up the tree.
        if let (Some(_), Ok(runtime)) = (&federation.parent_url, tokio::runtime::Handle::try_current()) {
            let parent = crate::federation::references::AskParent::new(federation.clone(), runtime);
            state = state.with(Arc::new(crate::registry::references::Upward::new(Arc::new(parent))));
        }
        let tiers = crate::federation::kinds::industry::Tiers(federation.clone());
        state = state.with(Arc::new(crate::system::industry::Linked(Arc::new(tiers))));
        let tiers = crate::federation::kinds::evaluations::Tiers(federation.clone());
        state = state.with(Arc::new(crate::evaluation::tiers::Linked(Arc::new(tiers))));
        state = state.with(federation);
    }
    let upward = state.find::<crate::registry::references::Upward>();
    state = state.with(Arc::new(crate::ingest::jobs::Jobs::new(vendors).asking(upward)));
    Ok(state)
}

/// How long runs of background jobs in progress may take to finish when the node stops.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// Every background job of the node, each capability contributing its own.
fn background(state: &web::Data<AppState>) -> AppResult<Vec<Job>> {
    let anchors = state.service::<crate::audit::anchor::Anchors>()?;
    let db = state.db.clone();
    let every = std::time::Duration::from_secs(state.config.security.audit_checkpoint_seconds.max(1));
    let mut jobs = vec![Job::scheduled(
        "audit.checkpoint",
        "审计链检查点",
        Schedule::Every(every),
        Scope::Once,
        Arc::new(move || {
            let (db, anchors) = (db.clone(), anchors.clone());
            Box::pin(async move {
                db.run(move |conn| anchors.take(conn)).await?;
                Ok("已写入检查点".to_owned())
            })
        }),
    )];
    jobs.extend(crate::ingest::background(state));
    jobs.extend(crate::notify::background(state));
    jobs.extend(crate::system::industry::background(state));
    jobs.extend(crate::system::monitoring::background(state));
    jobs.extend(crate::evaluation::background(state));
    jobs.extend(crate::backup::background(state));
    if let Some(fed) = state.find::<Federation>() {
        jobs.extend(crate::federation::background(fed, state.db.clone(), &state.config));
    }
    Ok(jobs)
}

/// Binds the HTTPS listener and starts serving.
pub fn start(config: Arc<Config>, db: Db) -> AppResult<Running> {
    let tls = http::tls::server_config(&config.resolve(&config.http.tls_cert), &config.resolve(&config.http.tls_key))?;
    let state = web::Data::new(assemble(config.clone(), db)?);
    let anchors = state.service::<crate::audit::anchor::Anchors>()?;
    crate::audit::anchor::check_at_start(&state.db, &anchors)?;
    state.db.transaction_sync(|conn| crate::audit::use_digest(conn, config.security.audit_digest))?;
    let supervisor = Supervisor::new(state.db.clone(), background(&state)?)?;
    state.service::<SupervisorCell>()?.set(supervisor.clone());
    supervisor.start();
    let jobs = state.service::<crate::ingest::jobs::Jobs>()?;
    let resumed = crate::ingest::jobs::resume(&state.db, &jobs, &config.resolve(&config.ingest.spool_dir))?;
    if resumed > 0 {
        tracing::info!(jobs = resumed, "import jobs taken up again");
    }
    let doc = web::Data::new(health::OpenApiDocument::new(openapi_document(state.clone())?));
    let workers = if config.http.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        config.http.workers
    };
    let served = state.clone();
    let server = HttpServer::new(move || build_app(served.clone(), Some(doc.clone())).0)
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .bind_rustls_0_23(&config.http.listen, tls)
        .map_err(|e| {
            AppError::invalid(
                "http.listen",
                format!("无法监听 {}：{e}", config.http.listen),
                format!("cannot listen on {}: {e}", config.http.listen),
            )
        })?;
    let addr = server.addrs().first().copied().ok_or_else(|| AppError::internal("no listening address"))?;
    let federation = state.find::<Federation>();
    let (federation_server, federation_addr) = match &federation {
        Some(fed) if !config.federation.listen.is_empty() => {
            let (second, addr) = federation_listener(state.clone(), fed)?;
            (Some(second), Some(addr))
        }
        _ => (None, None),
    };
    Ok(Running { server: server.run(), addr, federation_server, federation_addr, federation, supervisor })
}

/// Binds the mutual-TLS listener on `federation.listen` (see [`crate::federation::listener`]):
/// the same application, for machines only; returns the server and its address.
fn federation_listener(state: web::Data<AppState>, fed: &Arc<Federation>) -> AppResult<(Server, SocketAddr)> {
    let listen = state.config.federation.listen.clone();
    let tls = fed.live.config().map_err(|e| AppError::internal(format!("federation TLS: {e}")))?;
    let limit = state.config.federation.max_batch_bytes;
    let root = fed.pki().root()?;
    let server = HttpServer::new(move || {
        build_app(state.clone(), None)
            .0
            .app_data(web::JsonConfig::default().limit(limit).error_handler(http::json_error))
            .wrap(from_fn(crate::federation::listener::machines_only))
    })
    .on_connect(move |connection, data| http::peer::on_connect(connection, data, &root))
    .workers(2)
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .bind_rustls_0_23(&listen, tls)
    .map_err(|e| {
        AppError::invalid(
            "federation.listen",
            format!("无法监听 {listen}：{e}"),
            format!("cannot listen on {listen}: {e}"),
        )
    })?;
    let addr = server.addrs().first().copied().ok_or_else(|| AppError::internal("no federation address"))?;
    Ok((server.run(), addr))
}

/// Waits for SIGTERM or SIGINT (Ctrl-C); both stop the node gracefully. The listeners do not
/// watch signals themselves, so that every stop takes the same path through [`Stopper`].
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                _ = int.recv() => tracing::info!("SIGINT: stopping"),
            }
        }
        _ => {
            tracing::error!("signal handlers not installed; the node stops only through its stopper");
            std::future::pending::<()>().await
        }
    }
}

/// Asks a running node to stop. Stopping is a request, never awaited through the listener:
/// a stop command that crosses a listener's own ending would be queued where no one reads it
/// and its answer would never come, so whoever stops a node waits for [`Running::serve`] to
/// return instead.
#[derive(Clone)]
pub struct Stopper {
    handles: Vec<actix_web::dev::ServerHandle>,
    supervisor: Arc<Supervisor>,
}

impl Stopper {
    /// Tells the background jobs and the children's long polls that the node is stopping,
    /// asks both listeners to stop gracefully (requests in progress finish, within
    /// [`SHUTDOWN_GRACE`]) and returns at once.
    pub fn stop(&self) {
        self.supervisor.request_stop();
        for h in &self.handles {
            // The command is sent by this call; the future only waits for its answer.
            drop(h.stop(true));
        }
    }
}

impl Running {
    /// What stops this node's listeners (and so [`Running::serve`]).
    pub fn stopper(&self) -> Stopper {
        let handles =
            std::iter::once(self.server.handle()).chain(self.federation_server.as_ref().map(Server::handle)).collect();
        Stopper { handles, supervisor: self.supervisor.clone() }
    }

    /// Serves until the node is stopped (SIGTERM, Ctrl-C or a [`Stopper`]) or a listener
    /// ends: either way both listeners are asked to stop and driven to their end, then the
    /// background jobs stop, their runs in progress given [`SHUTDOWN_GRACE`] to finish.
    pub async fn serve(self) -> std::io::Result<()> {
        let stopper = self.stopper();
        let Running { server, federation_server, supervisor, .. } = self;
        let console = async {
            let outcome = server.await;
            stopper.stop();
            outcome
        };
        let machines = async {
            let Some(second) = federation_server else { return Ok(()) };
            let outcome = second.await;
            stopper.stop();
            outcome
        };
        let both = async { tokio::join!(console, machines) };
        tokio::pin!(both);
        let (console, machines) = tokio::select! {
            ended = &mut both => ended,
            () = stop_signal() => {
                stopper.stop();
                both.await
            }
        };
        supervisor.shutdown(SHUTDOWN_GRACE).await;
        console.and(machines)
    }
}
