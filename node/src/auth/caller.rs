//! Who is calling: the [`Caller`] extractor for API handlers and [`ConsoleCaller`] for console
//! pages.
//!
//! A caller is a machine presenting `Authorization: Bearer tnk_…` (an API key), a tenant's
//! machine presenting its client certificate on the mutual-TLS listener, or a person with a
//! session cookie whose session is fully signed in. Identity never comes from
//! other headers. Session callers must echo their CSRF token on state-changing requests, which
//! [`super::csrf`] checks for every route before any handler runs.
//!
//! Refusals for lack of permission or scope are audited ([`Caller::require`], [`Caller::deny`]).

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use super::api_key;
use crate::app::AppState;
use crate::audit::{self, AuditContext, Outcome};
use crate::credentials::session;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{TenantId, UserId};
use crate::tenants::Tenant;
use crate::users::{accounts, roles, DataScope, Permission};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User name, or `api-key:<prefix>`.
    pub name: String,
    /// Display name for the console.
    pub display_name: String,
    /// The account, for people.
    pub user_id: Option<UserId>,
    /// Role codes held.
    pub roles: Vec<String>,
    /// Permissions held.
    pub permissions: BTreeSet<Permission>,
    /// The tenant a tenant user or API key acts for.
    pub tenant_id: Option<TenantId>,
    /// Data scope.
    pub scope: DataScope,
    /// Source IP address.
    pub source_ip: String,
    /// The request's correlation id.
    pub correlation_id: String,
    /// CSRF token of the session (people only).
    pub csrf_token: Option<String>,
    /// The session row id (people only).
    pub session_id: Option<String>,
}

impl Caller {
    /// The audit context of this caller.
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            actor: self.name.clone(),
            actor_role: if self.roles.is_empty() { "none".into() } else { self.roles.join(",") },
            tenant_id: self.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
            source_ip: self.source_ip.clone(),
            correlation_id: self.correlation_id.clone(),
        }
    }

    /// Whether the caller holds `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Requires `p`; a refusal is audited with `object` and returned as 403.
    pub async fn require(&self, state: &AppState, p: Permission, object: &str) -> AppResult<()> {
        if self.can(p) {
            return Ok(());
        }
        Err(self.deny(state, p.code(), object, ErrorKind::Forbidden).await)
    }

    /// Requires `p` of node staff: a caller bound to a tenant is refused too, audited as
    /// `action` on `object`.
    pub async fn require_staff(&self, state: &AppState, p: Permission, object: &str, action: &str) -> AppResult<()> {
        self.require(state, p, object).await?;
        if self.tenant_id.is_some() {
            return Err(self.deny(state, action, object, ErrorKind::Forbidden).await);
        }
        Ok(())
    }

    /// Audits a refusal and returns the error to send.
    pub async fn deny(&self, state: &AppState, action: &str, object: &str, kind: ErrorKind) -> AppError {
        let ctx = self.audit();
        let action = action.to_owned();
        let object = object.to_owned();
        let written = state
            .db
            .transaction(move |conn| {
                audit::record(conn, &ctx, &action, &object, Outcome::Denied, serde_json::json!({}))
            })
            .await;
        match written {
            Ok(_) => AppError::new(kind),
            Err(e) => e,
        }
    }

    /// Passes `outcome` through, auditing a refusal by the separation of duties as a denied
    /// `action` on `object` (the refused transaction itself wrote nothing).
    pub async fn audit_refusal<T>(
        &self,
        state: &AppState,
        action: &str,
        object: &str,
        outcome: AppResult<T>,
    ) -> AppResult<T> {
        match outcome {
            Err(e) if e.kind == ErrorKind::SeparationOfDuties => {
                let denied = self.deny(state, action, object, e.kind).await;
                Err(if denied.kind == e.kind { e } else { denied })
            }
            other => other,
        }
    }

    /// Whether the caller's tenant binding and data scope let it see `tenant`.
    pub fn sees_tenant(&self, tenant: &Tenant) -> bool {
        match &self.tenant_id {
            Some(own) => own == &tenant.id,
            None => self.scope.allows(&tenant.id, &tenant.region),
        }
    }

    /// Checks the CSRF token a console form echoed.
    pub fn check_csrf(&self, token: &str) -> AppResult<()> {
        match &self.csrf_token {
            Some(expected) if super::csrf::constant_time_eq(expected.as_bytes(), token.as_bytes()) => Ok(()),
            Some(_) => Err(AppError::new(ErrorKind::CsrfRejected)),
            None => Ok(()),
        }
    }
}

pub use crate::http::source_ip;

/// Authenticates a request.
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> AppResult<Caller> {
    let ip = source_ip(req);
    let correlation_id = crate::error::request_id().unwrap_or_default();
    if req.headers().get(header::AUTHORIZATION).is_none() {
        if let Some(peer) = req.conn_data::<crate::http::peer::Peer>() {
            return from_certificate(state, peer.clone(), ip, correlation_id).await;
        }
    }
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        let presented =
            auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).unwrap_or_default().to_owned();
        return from_api_key(state, presented, ip, correlation_id).await;
    }
    let token = req
        .cookie(session::COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or_else(|| AppError::new(ErrorKind::Unauthenticated))?;
    from_session(state, token, ip, correlation_id).await
}

async fn from_api_key(state: &AppState, presented: String, ip: String, correlation_id: String) -> AppResult<Caller> {
    state
        .db
        .transaction(move |conn| {
            let key =
                api_key::authenticate(conn, &presented)?.ok_or_else(|| AppError::new(ErrorKind::Unauthenticated))?;
            let role = roles::get(conn, &key.role_id)?;
            let tenant = crate::tenants::get(conn, &key.tenant_id)?;
            if !tenant.is_active() {
                return Err(AppError::new(ErrorKind::Unauthenticated));
            }
            Ok(machine(
                format!("api-key:{}", key.prefix),
                format!("{}（接口密钥 {}）", tenant.name, key.prefix),
                role,
                key.tenant_id,
                ip,
                correlation_id,
            ))
        })
        .await
}

/// A tenant's machine acting with `role`: no account, no session, no data scope beyond its
/// tenant.
fn machine(
    name: String,
    display_name: String,
    role: roles::Role,
    tenant_id: TenantId,
    source_ip: String,
    correlation_id: String,
) -> Caller {
    Caller {
        name,
        display_name,
        user_id: None,
        roles: vec![role.code.clone()],
        permissions: role.permissions,
        tenant_id: Some(tenant_id),
        scope: DataScope::default(),
        source_ip,
        correlation_id,
        csrf_token: None,
        session_id: None,
    }
}

/// A machine client on the mutual-TLS listener, named by its verified certificate: a tenant
/// of this node acts as itself with the tenant-client role; a node's certificate names no
/// tenant and is refused here (nodes call the federation endpoints only).
async fn from_certificate(
    state: &AppState,
    peer: crate::http::peer::Peer,
    ip: String,
    correlation_id: String,
) -> AppResult<Caller> {
    use tracenode_federation::tiers::Identity;
    let refused = |zh: String, en: String| AppError::with_detail(ErrorKind::Unauthenticated, zh, en);
    let Identity::Tenant { region, tenant: code } = peer.identity.clone() else {
        return Err(refused(
            format!("{} 是节点证书，只能调用联邦接口", peer.identity.uri()),
            format!("{} is a node certificate and may call federation endpoints only", peer.identity.uri()),
        ));
    };
    if region != state.config.node.region.as_str() {
        return Err(refused(
            format!("证书属于 {region} 的租户，不是本节点的租户"),
            format!("the certificate is for a tenant of {region}, not of this node"),
        ));
    }
    state
        .db
        .transaction(move |conn| {
            if !crate::credentials::certificates::usable(conn, &peer.certificate)? {
                return Err(refused(
                    "证书已被吊销或不在本节点台账中".into(),
                    "the certificate is revoked or not in this node's register".into(),
                ));
            }
            let tenant = crate::tenants::by_code(conn, &code)?;
            if !tenant.is_active() {
                return Err(AppError::new(ErrorKind::Unauthenticated));
            }
            let role = roles::by_code(conn, crate::users::permission::TENANT_CLIENT)?;
            Ok(machine(
                format!("certificate:{code}"),
                format!("{}（客户端证书）", tenant.name),
                role,
                tenant.id,
                ip,
                correlation_id,
            ))
        })
        .await
}

async fn from_session(state: &AppState, token: String, ip: String, correlation_id: String) -> AppResult<Caller> {
    let idle = state.config.auth.session_idle_minutes;
    state
        .db
        .transaction(move |conn| {
            let s = session::resume(conn, &token, idle)?.ok_or_else(|| AppError::new(ErrorKind::Unauthenticated))?;
            match s.stage {
                session::Stage::Active => {}
                session::Stage::PasswordChange => return Err(AppError::new(ErrorKind::PasswordChangeRequired)),
                session::Stage::TotpEnrol | session::Stage::TotpVerify => {
                    return Err(AppError::new(ErrorKind::SecondFactorRequired))
                }
            }
            let record = accounts::record_by_id(conn, &s.user_id)?;
            if record.disabled {
                session::end(conn, &s.id)?;
                return Err(AppError::new(ErrorKind::Unauthenticated));
            }
            let held = accounts::roles_of(conn, &s.user_id)?;
            Ok(Caller {
                scope: DataScope::from_columns(
                    record.scope_region.as_deref(),
                    &record.scope_categories,
                    &record.scope_tenants,
                ),
                name: record.username,
                display_name: record.display_name,
                user_id: Some(s.user_id),
                roles: held.iter().map(|r| r.code.clone()).collect(),
                permissions: held.into_iter().flat_map(|r| r.permissions).collect(),
                tenant_id: record.tenant_id.map(TenantId::from_db),
                source_ip: ip,
                correlation_id,
                csrf_token: Some(s.csrf_token),
                session_id: Some(s.id),
            })
        })
        .await
}

fn state_of(req: &HttpRequest) -> AppResult<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| AppError::internal("application state missing"))
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        if let Some(known) = req.extensions().get::<Caller>().cloned() {
            return Box::pin(async move { Ok(known) });
        }
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            authenticate(&req, &state).await
        })
    }
}

/// A caller of a console page: instead of a problem document, an unauthenticated visitor is
/// sent to the sign-in page and an unfinished sign-in to its next step.
#[derive(Debug, Clone)]
pub struct ConsoleCaller(pub Caller);

/// Where a console visitor is sent instead of the page.
#[derive(Debug, thiserror::Error)]
#[error("redirect to {0}")]
pub struct ConsoleRedirect(pub String);

impl ResponseError for ConsoleRedirect {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::SEE_OTHER
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::SeeOther().insert_header((header::LOCATION, self.0.clone())).finish()
    }
}

/// The console page for an authentication failure, if the failure is one a page handles by
/// redirecting.
pub fn console_redirect(e: &AppError) -> Option<ConsoleRedirect> {
    match e.kind {
        ErrorKind::Unauthenticated => Some(ConsoleRedirect("/login".into())),
        ErrorKind::PasswordChangeRequired => Some(ConsoleRedirect("/password".into())),
        ErrorKind::SecondFactorRequired => Some(ConsoleRedirect("/totp".into())),
        _ => None,
    }
}

impl FromRequest for ConsoleCaller {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            match authenticate(&req, &state).await {
                Ok(c) => Ok(ConsoleCaller(c)),
                Err(e) => Err(match console_redirect(&e) {
                    Some(r) => r.into(),
                    None => e.into(),
                }),
            }
        })
    }
}

/// A session in any stage of the sign-in flow, for the password-change and TOTP pages.
#[derive(Debug, Clone)]
pub struct PendingSession {
    /// The session.
    pub session: session::Session,
    /// The account name.
    pub username: String,
    /// Audit context.
    pub audit: AuditContext,
}

impl FromRequest for PendingSession {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            let token = req.cookie(session::COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
            let idle = state.config.auth.session_idle_minutes;
            let ip = source_ip(&req);
            let correlation_id = crate::error::request_id().unwrap_or_default();
            let found = state
                .db
                .transaction(move |conn| {
                    let Some(s) = session::resume(conn, &token, idle)? else { return Ok(None) };
                    let record = accounts::record_by_id(conn, &s.user_id)?;
                    Ok(Some((s, record.username)))
                })
                .await?;
            let Some((session, username)) = found else {
                // The JSON API answers a problem document, never a redirect meant for browsers.
                if req.path().starts_with("/api/") {
                    return Err(AppError::new(ErrorKind::Unauthenticated).into());
                }
                return Err(ConsoleRedirect("/login".into()).into());
            };
            let audit = AuditContext {
                actor: username.clone(),
                actor_role: "signing-in".into(),
                tenant_id: None,
                source_ip: ip,
                correlation_id,
            };
            Ok(PendingSession { session, username, audit })
        })
    }
}
