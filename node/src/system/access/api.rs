//! JSON API of platform access. Anyone may file an application and check it with its token;
//! staff with `access.review` list and review applications and watch filed platforms; the
//! system administrator (`access.file`) files, suspends and revokes.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::monitor::{self, PlatformConnection};
use super::{
    Application, ApplicationInput, ApplicationReview, ApplicationStanding, ApplicationStatus, Filed, Filing,
    MAX_BODY_BYTES,
};
use crate::app::AppState;
use crate::audit::AuditContext;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::users::Permission;

/// What the applicant gets: its application's id and the token that checks it (shown once).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApplicationReceipt {
    /// The application's id.
    pub id: String,
    /// The token (keep it: only its hash is stored).
    pub token: String,
    /// Status.
    pub status: ApplicationStatus,
}

/// Reads a small JSON body: at most [`MAX_BODY_BYTES`].
pub fn small_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> AppResult<T> {
    if body.len() > MAX_BODY_BYTES {
        return Err(AppError::new(ErrorKind::PayloadTooLarge));
    }
    serde_json::from_slice(body).map_err(|e| {
        AppError::with_detail(ErrorKind::MalformedBody, format!("请求体格式错误：{e}"), format!("malformed body: {e}"))
    })
}

/// The audit context of an anonymous applicant.
pub fn applicant(req: &HttpRequest) -> AuditContext {
    let ip = crate::http::source_ip(req);
    let id = crate::error::request_id().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    AuditContext::anonymous(&ip, &id, "applicant")
}

/// Files an access application (anonymous; at most 16 KiB, three waiting per address).
#[utoipa::path(tag = "access", request_body = ApplicationInput,
    responses((status = 201, body = ApplicationReceipt), (status = 413, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"), (status = 429, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/access/apply")]
pub async fn apply(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> AppResult<HttpResponse> {
    let input: ApplicationInput = small_json(&body)?;
    let (ctx, own) = (applicant(&req), state.config.node.region.clone());
    let (a, token) = state.db.transaction(move |conn| super::submit(conn, &ctx, &own, &input)).await?;
    Ok(HttpResponse::Created().json(ApplicationReceipt { id: a.id, token, status: a.status }))
}

/// The token of an application.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationToken {
    /// The token the application got.
    pub token: String,
}

/// Where an application stands, for the holder of its token (anonymous).
#[utoipa::path(tag = "access", request_body = ApplicationToken,
    responses((status = 200, body = ApplicationStanding), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/access/status")]
pub async fn application_status(state: web::Data<AppState>, body: web::Bytes) -> AppResult<HttpResponse> {
    let input: ApplicationToken = small_json(&body)?;
    if input.token.len() > 128 {
        return Err(AppError::not_found("接入申请", "application"));
    }
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| super::standing(conn, &input.token)).await?))
}

/// Staff with `access.review`.
pub async fn require_reviewer(state: &AppState, caller: &Caller) -> AppResult<()> {
    caller.require_staff(state, Permission::AccessReview, "access_applications", "access.read").await
}

/// The system administrator's `access.file`.
pub async fn require_filer(state: &AppState, caller: &Caller) -> AppResult<()> {
    caller.require_staff(state, Permission::AccessFile, "access_applications", "access.file").await
}

/// Staff who see applications: the filer, or a reviewer.
pub async fn require_viewer(state: &AppState, caller: &Caller) -> AppResult<()> {
    if caller.can(Permission::AccessFile) {
        require_filer(state, caller).await
    } else {
        require_reviewer(state, caller).await
    }
}

/// Which applications to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status.
    pub status: Option<String>,
}

/// Applications, newest first (at most 500).
#[utoipa::path(tag = "access", params(ListQuery), responses((status = 200, body = Vec<Application>)))]
#[get("/api/v1/access/applications")]
pub async fn list(state: web::Data<AppState>, caller: Caller, query: web::Query<ListQuery>) -> AppResult<HttpResponse> {
    require_viewer(&state, &caller).await?;
    let status = match query.into_inner().status.filter(|s| !s.is_empty()) {
        Some(s) => Some(
            ApplicationStatus::parse(&s)
                .ok_or_else(|| AppError::invalid("status", format!("未知的状态 {s}"), format!("unknown status {s}")))?,
        ),
        None => None,
    };
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| super::list_all(conn, status)).await?))
}

/// One application.
#[utoipa::path(tag = "access", params(("id" = String, Path, description = "Application id")),
    responses((status = 200, body = Application), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/access/applications/{id}")]
pub async fn one(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    require_viewer(&state, &caller).await?;
    let id = path.into_inner();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| super::get(conn, &id)).await?))
}

/// Approves or rejects an application.
#[utoipa::path(tag = "access", params(("id" = String, Path, description = "Application id")), request_body = ApplicationReview,
    responses((status = 200, body = Application), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/access/applications/{id}/review")]
pub async fn review(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ApplicationReview>,
) -> AppResult<HttpResponse> {
    require_reviewer(&state, &caller).await?;
    let (ctx, id, r) = (caller.audit(), path.into_inner(), body.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| super::review(conn, &ctx, &id, &r)).await?))
}

/// Files an approved application: the tenant and its API key, whose secret is shown once.
#[utoipa::path(tag = "access", params(("id" = String, Path, description = "Application id")), request_body = Filing,
    responses((status = 201, body = Filed), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/access/applications/{id}/file")]
pub async fn file(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Filing>,
) -> AppResult<HttpResponse> {
    require_filer(&state, &caller).await?;
    let (ctx, own, id, f) = (caller.audit(), state.config.node.region.clone(), path.into_inner(), body.into_inner());
    let outcome = state.db.transaction(move |conn| super::file(conn, &ctx, &own, &id, &f)).await;
    let filed = caller.audit_refusal(&state, "access.file", "access_applications", outcome).await?;
    Ok(HttpResponse::Created().json(filed))
}

/// A reason for suspending or revoking.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessReason {
    /// Why (required to suspend or revoke, up to 500 characters).
    #[serde(default)]
    pub reason: String,
}

/// Suspends a filed platform (its tenant stops acting).
#[utoipa::path(tag = "access", params(("id" = String, Path, description = "Application id")), request_body = AccessReason,
    responses((status = 200, body = Application), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/access/applications/{id}/suspend")]
pub async fn suspend(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<AccessReason>,
) -> AppResult<HttpResponse> {
    require_filer(&state, &caller).await?;
    let (ctx, id, reason) = (caller.audit(), path.into_inner(), body.into_inner().reason);
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| super::suspend(conn, &ctx, &id, true, &reason)).await?))
}

/// Resumes a suspended platform.
#[utoipa::path(tag = "access", params(("id" = String, Path, description = "Application id")),
    responses((status = 200, body = Application), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/access/applications/{id}/resume")]
pub async fn resume(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    require_filer(&state, &caller).await?;
    let (ctx, id) = (caller.audit(), path.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| super::suspend(conn, &ctx, &id, false, "")).await?))
}

/// Revokes a filed platform for good: its keys revoked, its tenant disabled.
#[utoipa::path(tag = "access", params(("id" = String, Path, description = "Application id")), request_body = AccessReason,
    responses((status = 200, body = Application), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/access/applications/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<AccessReason>,
) -> AppResult<HttpResponse> {
    require_filer(&state, &caller).await?;
    let (ctx, id, reason) = (caller.audit(), path.into_inner(), body.into_inner().reason);
    Ok(HttpResponse::Ok().json(state.db.transaction(move |conn| super::revoke(conn, &ctx, &id, &reason)).await?))
}

/// 对接监控: each filed platform's traffic, alerts and credentials.
#[utoipa::path(tag = "access", responses((status = 200, body = Vec<PlatformConnection>)))]
#[get("/api/v1/access/connections")]
pub async fn connections(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    require_viewer(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(state.db.run(monitor::connections).await?))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(apply)
        .service(application_status)
        .service(list)
        .service(one)
        .service(review)
        .service(file)
        .service(suspend)
        .service(resume)
        .service(revoke)
        .service(connections);
}
