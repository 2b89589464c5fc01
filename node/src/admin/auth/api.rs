//! JSON API of sign-in and API keys.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::audit::AuditContext;
use crate::auth::caller::{source_ip, Caller, PendingSession};
use crate::auth::{api_key, removal_cookie, session_cookie, signin};
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::ids::ApiKeyId;
use crate::users::Permission;

/// Sign-in request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Where the sign-in flow stands.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignInState {
    /// Next step: `password_change`, `totp_enrol`, `totp_verify` or `active`.
    pub next: String,
    /// The CSRF token to echo in `X-CSRF-Token`.
    pub csrf_token: String,
}

/// Password change request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current (or one-time) password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// TOTP enrolment data.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://` URI for authenticator apps.
    pub otpauth_uri: String,
}

/// A TOTP code.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// Six digits.
    pub code: String,
}

/// The caller as the API sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Role codes.
    pub roles: Vec<String>,
    /// Permission codes.
    pub permissions: Vec<&'static str>,
    /// Tenant.
    pub tenant_id: Option<String>,
}

fn check_header_csrf(req: &HttpRequest, p: &PendingSession) -> AppResult<()> {
    let echoed = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if crate::auth::csrf::constant_time_eq(echoed.as_bytes(), p.session.csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(AppError::new(ErrorKind::CsrfRejected))
    }
}

/// Signs in with a user name and password and starts a session (cookie `tn_session`).
#[utoipa::path(tag = "auth", request_body = SignInRequest, responses(
    (status = 200, description = "Session started; `next` says what remains", body = SignInState),
    (status = 401, description = "Wrong name or password, or account locked (deliberately the same)", body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/auth/sign-in")]
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SignInRequest>,
) -> AppResult<HttpResponse> {
    let ctx = AuditContext::anonymous(&source_ip(&req), &crate::error::request_id().unwrap_or_default(), "");
    let cfg = state.config.auth.clone();
    let SignInRequest { username, password } = body.into_inner();
    let signed = state.db.transaction(move |conn| signin::sign_in(conn, &cfg, &ctx, &username, &password)).await??;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&signed.token))
        .json(SignInState { next: signed.session.stage.as_str().into(), csrf_token: signed.session.csrf_token }))
}

/// Changes the password (required first after a one-time password).
#[utoipa::path(tag = "auth", request_body = PasswordChange, responses(
    (status = 200, description = "Changed; `next` says what remains", body = SignInState),
    (status = 422, description = "Policy not met or current password wrong", body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    p: PendingSession,
    body: web::Json<PasswordChange>,
) -> AppResult<HttpResponse> {
    check_header_csrf(&req, &p)?;
    let cfg = state.config.auth.clone();
    let PasswordChange { current_password, new_password } = body.into_inner();
    let s = p.session.clone();
    let next = state
        .db
        .transaction(move |conn| signin::change_password(conn, &cfg, &p.audit, &s, &current_password, &new_password))
        .await??;
    Ok(HttpResponse::Ok().json(SignInState { next: next.as_str().into(), csrf_token: p.session.csrf_token.clone() }))
}

/// The TOTP secret to enrol (administrators, at first sign-in).
#[utoipa::path(tag = "auth", responses((status = 200, body = TotpEnrolment), (status = 409, description = "Already enrolled", body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/auth/totp")]
pub async fn totp_enrolment(state: web::Data<AppState>, p: PendingSession) -> AppResult<HttpResponse> {
    let issuer = state.config.node.name.clone();
    let sealer = state.config.sealer()?;
    let s = p.session.clone();
    let (secret, otpauth_uri) =
        state.db.transaction(move |conn| signin::totp_enrolment(conn, &sealer, &s, &issuer)).await?;
    Ok(HttpResponse::Ok().json(TotpEnrolment { secret, otpauth_uri }))
}

/// Submits a TOTP code (confirms enrolment or completes sign-in).
#[utoipa::path(tag = "auth", request_body = TotpCode, responses((status = 200, body = SignInState), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/auth/totp")]
pub async fn totp_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    p: PendingSession,
    body: web::Json<TotpCode>,
) -> AppResult<HttpResponse> {
    check_header_csrf(&req, &p)?;
    let cfg = state.config.auth.clone();
    let sealer = state.config.sealer()?;
    let s = p.session.clone();
    let code = body.into_inner().code;
    state.db.transaction(move |conn| signin::totp_submit(conn, &cfg, &sealer, &p.audit, &s, &code)).await??;
    Ok(HttpResponse::Ok().json(SignInState { next: "active".into(), csrf_token: p.session.csrf_token.clone() }))
}

/// Ends the session.
#[utoipa::path(tag = "auth", responses((status = 204, description = "Signed out")))]
#[post("/api/v1/auth/sign-out")]
pub async fn sign_out(state: web::Data<AppState>, req: HttpRequest, p: PendingSession) -> AppResult<HttpResponse> {
    check_header_csrf(&req, &p)?;
    let s = p.session.clone();
    state.db.transaction(move |conn| signin::sign_out(conn, &p.audit, &s)).await?;
    Ok(HttpResponse::NoContent().cookie(removal_cookie()).finish())
}

/// Who the caller is.
#[utoipa::path(tag = "auth", responses((status = 200, body = Me), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/auth/me")]
pub async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        permissions: caller.permissions.iter().map(|p| p.code()).collect(),
        name: caller.name,
        display_name: caller.display_name,
        roles: caller.roles,
        tenant_id: caller.tenant_id.map(|t| t.to_string()),
    })
}

/// Lists API keys (a tenant's own caller sees only its tenant's).
#[utoipa::path(tag = "apikeys", responses((status = 200, body = Vec<api_key::ApiKeyView>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/api-keys")]
pub async fn list_keys(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::ApiKeyRead, "apikeys").await?;
    let tenant = caller.tenant_id.clone();
    let keys = state.db.run(move |conn| api_key::list(conn, tenant.as_ref())).await?;
    Ok(HttpResponse::Ok().json(keys))
}

/// Creates an API key; the secret is in this response only.
#[utoipa::path(tag = "apikeys", request_body = api_key::NewApiKey, responses((status = 201, body = api_key::CreatedApiKey), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/api-keys")]
pub async fn create_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<api_key::NewApiKey>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::ApiKeyWrite, "apikeys").await?;
    let new = body.into_inner();
    if caller.tenant_id.as_ref().is_some_and(|t| t != &new.tenant_id) {
        return Err(caller
            .deny(&state, "apikey.create", &format!("tenant:{}", new.tenant_id), ErrorKind::OutOfScope)
            .await);
    }
    let ctx = caller.audit();
    let created = state.db.transaction(move |conn| api_key::create(conn, &ctx, &new)).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revokes an API key.
#[utoipa::path(tag = "apikeys", params(("id" = String, Path, description = "API key id")), responses((status = 200, body = api_key::ApiKeyView), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/api-keys/{id}/revoke")]
pub async fn revoke_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::ApiKeyWrite, "apikeys").await?;
    let id = ApiKeyId::parse(&path.into_inner())?;
    let ctx = caller.audit();
    let own = caller.tenant_id.clone();
    let key = state
        .db
        .transaction(move |conn| {
            let visible = api_key::list(conn, own.as_ref())?.into_iter().any(|k| k.id == id);
            if !visible {
                return Err(AppError::not_found("接口密钥", "API key"));
            }
            api_key::revoke(conn, &ctx, &id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(key))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(sign_in)
        .service(change_password)
        .service(totp_enrolment)
        .service(totp_submit)
        .service(sign_out)
        .service(me)
        .service(list_keys)
        .service(create_key)
        .service(revoke_key);
}
