//! Console pages of sign-in (登录、修改密码、双因子认证、退出) and API keys (接口密钥).

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::audit::AuditContext;
use crate::auth::caller::{source_ip, ConsoleCaller, PendingSession};
use crate::auth::{api_key, removal_cookie, session_cookie, signin, stage_path};
use crate::console::{render, Shell};
use crate::credentials::session::Stage;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{ApiKeyId, RoleId, TenantId};
use crate::users::permission::tenant_bound;
use crate::users::{roles, Permission};

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_owned())).finish()
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    title: &'static str,
    node_name: String,
    error: String,
    username: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct LoginForm {
    username: String,
    password: String,
}

/// 登录页.
#[get("/login")]
pub async fn login_page(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    render(&LoginPage {
        title: "登录",
        node_name: state.config.node.name.clone(),
        error: String::new(),
        username: String::new(),
    })
}

/// Signs in from the form.
#[post("/login")]
pub async fn login_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> AppResult<HttpResponse> {
    let ctx = AuditContext::anonymous(&source_ip(&req), &crate::error::request_id().unwrap_or_default(), "");
    let cfg = state.config.auth.clone();
    let LoginForm { username, password } = form.into_inner();
    let name = username.clone();
    match state.db.transaction(move |conn| signin::sign_in(conn, &cfg, &ctx, &name, &password)).await? {
        Ok(signed) => Ok(HttpResponse::SeeOther()
            .cookie(session_cookie(&signed.token))
            .insert_header((header::LOCATION, stage_path(signed.session.stage)))
            .finish()),
        Err(e) => {
            let page =
                LoginPage { title: "登录", node_name: state.config.node.name.clone(), error: e.detail_zh, username };
            let html = page.render().map_err(AppError::internal)?;
            Ok(HttpResponse::Unauthorized().content_type("text/html; charset=utf-8").body(html))
        }
    }
}

#[derive(Template)]
#[template(path = "auth/password.html")]
struct PasswordPage {
    title: &'static str,
    node_name: String,
    error: String,
    csrf: String,
    forced: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// 修改密码页.
#[get("/password")]
pub async fn password_page(state: web::Data<AppState>, p: PendingSession) -> AppResult<HttpResponse> {
    render(&PasswordPage {
        title: "修改密码",
        node_name: state.config.node.name.clone(),
        error: String::new(),
        csrf: p.session.csrf_token.clone(),
        forced: p.session.stage == Stage::PasswordChange,
    })
}

/// Changes the password from the form.
#[post("/password")]
pub async fn password_submit(
    state: web::Data<AppState>,
    p: PendingSession,
    form: web::Form<PasswordForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    if !crate::auth::csrf::constant_time_eq(form.csrf.as_bytes(), p.session.csrf_token.as_bytes()) {
        return Err(AppError::new(ErrorKind::CsrfRejected));
    }
    let page_with = |error: String| PasswordPage {
        title: "修改密码",
        node_name: state.config.node.name.clone(),
        error,
        csrf: p.session.csrf_token.clone(),
        forced: p.session.stage == Stage::PasswordChange,
    };
    if form.new_password != form.confirm_password {
        let html = page_with("两次输入的新密码不一致".into()).render().map_err(AppError::internal)?;
        return Ok(HttpResponse::UnprocessableEntity().content_type("text/html; charset=utf-8").body(html));
    }
    let cfg = state.config.auth.clone();
    let s = p.session.clone();
    let audit = p.audit.clone();
    let outcome = state
        .db
        .transaction(move |conn| {
            signin::change_password(conn, &cfg, &audit, &s, &form.current_password, &form.new_password)
        })
        .await?;
    match outcome {
        Ok(next) => Ok(see_other(stage_path(next))),
        Err(e) => {
            let html = page_with(e.detail_zh).render().map_err(AppError::internal)?;
            Ok(HttpResponse::UnprocessableEntity().content_type("text/html; charset=utf-8").body(html))
        }
    }
}

#[derive(Template)]
#[template(path = "auth/totp.html")]
struct TotpPage {
    title: &'static str,
    node_name: String,
    error: String,
    csrf: String,
    enrolling: bool,
    secret: String,
    uri: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct TotpForm {
    csrf: String,
    code: String,
}

async fn totp_page_for(state: &AppState, p: &PendingSession, error: String) -> AppResult<TotpPage> {
    let enrolling = p.session.stage == Stage::TotpEnrol;
    let (secret, uri) = if enrolling {
        let issuer = state.config.node.name.clone();
        let sealer = state.config.sealer()?;
        let s = p.session.clone();
        state.db.transaction(move |conn| signin::totp_enrolment(conn, &sealer, &s, &issuer)).await?
    } else {
        (String::new(), String::new())
    };
    Ok(TotpPage {
        title: if enrolling { "启用双因子认证" } else { "双因子认证" },
        node_name: state.config.node.name.clone(),
        error,
        csrf: p.session.csrf_token.clone(),
        enrolling,
        secret,
        uri,
    })
}

/// 双因子认证页 (enrolment or verification).
#[get("/totp")]
pub async fn totp_page(state: web::Data<AppState>, p: PendingSession) -> AppResult<HttpResponse> {
    if !matches!(p.session.stage, Stage::TotpEnrol | Stage::TotpVerify) {
        return Ok(see_other(stage_path(p.session.stage)));
    }
    render(&totp_page_for(&state, &p, String::new()).await?)
}

/// Checks the TOTP code from the form.
#[post("/totp")]
pub async fn totp_submit(
    state: web::Data<AppState>,
    p: PendingSession,
    form: web::Form<TotpForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    if !crate::auth::csrf::constant_time_eq(form.csrf.as_bytes(), p.session.csrf_token.as_bytes()) {
        return Err(AppError::new(ErrorKind::CsrfRejected));
    }
    if !matches!(p.session.stage, Stage::TotpEnrol | Stage::TotpVerify) {
        return Ok(see_other(stage_path(p.session.stage)));
    }
    let cfg = state.config.auth.clone();
    let sealer = state.config.sealer()?;
    let s = p.session.clone();
    let audit = p.audit.clone();
    match state.db.transaction(move |conn| signin::totp_submit(conn, &cfg, &sealer, &audit, &s, &form.code)).await? {
        Ok(()) => Ok(see_other("/")),
        Err(e) => {
            let html = totp_page_for(&state, &p, e.detail_zh).await?.render().map_err(AppError::internal)?;
            Ok(HttpResponse::UnprocessableEntity().content_type("text/html; charset=utf-8").body(html))
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CsrfOnly {
    csrf: String,
}

/// Signs out.
#[post("/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    p: PendingSession,
    form: web::Form<CsrfOnly>,
) -> AppResult<HttpResponse> {
    if !crate::auth::csrf::constant_time_eq(form.csrf.as_bytes(), p.session.csrf_token.as_bytes()) {
        return Err(AppError::new(ErrorKind::CsrfRejected));
    }
    let s = p.session.clone();
    state.db.transaction(move |conn| signin::sign_out(conn, &p.audit, &s)).await?;
    Ok(HttpResponse::SeeOther().cookie(removal_cookie()).insert_header((header::LOCATION, "/login")).finish())
}

#[derive(Template)]
#[template(path = "auth/api_keys.html")]
struct ApiKeysPage {
    shell: Shell,
    keys: Vec<api_key::ApiKeyView>,
    tenants: Vec<crate::tenants::Tenant>,
    roles: Vec<roles::Role>,
    can_write: bool,
    created_secret: String,
    error: String,
}

async fn api_keys_page(
    state: &AppState,
    caller: &crate::auth::caller::Caller,
    created_secret: String,
    error: String,
) -> AppResult<HttpResponse> {
    let own = caller.tenant_id.clone();
    let (keys, tenants, client_roles) = state
        .db
        .run(move |conn| {
            let keys = api_key::list(conn, own.as_ref())?;
            let tenants = crate::tenants::list_all(conn)?;
            let all = roles::list(conn)?;
            let client_roles: Vec<roles::Role> =
                all.iter().filter(|r| tenant_bound(&roles::lineage_root(&all, r).code)).cloned().collect();
            Ok((keys, tenants, client_roles))
        })
        .await?;
    let tenants = tenants.into_iter().filter(|t| caller.sees_tenant(t)).collect();
    render(&ApiKeysPage {
        shell: Shell::new(state, caller, "接口密钥", "/api-keys"),
        keys,
        tenants,
        roles: client_roles,
        can_write: caller.can(Permission::ApiKeyWrite),
        created_secret,
        error,
    })
}

/// 接口密钥 list.
#[get("/api-keys")]
pub async fn api_keys_list(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::ApiKeyRead, "apikeys").await?;
    api_keys_page(&state, &caller, String::new(), String::new()).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NewKeyForm {
    csrf: String,
    tenant_id: String,
    role_id: String,
    name: String,
}

/// Creates an API key from the form and shows its secret once.
#[post("/api-keys")]
pub async fn api_keys_create(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<NewKeyForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::ApiKeyWrite, "apikeys").await?;
    let new = match (TenantId::parse(&form.tenant_id), RoleId::parse(&form.role_id)) {
        (Ok(tenant_id), Ok(role_id)) => api_key::NewApiKey { tenant_id, role_id, name: form.name },
        (Err(e), _) | (_, Err(e)) => return api_keys_page(&state, &caller, String::new(), e.detail_zh).await,
    };
    let ctx = caller.audit();
    match state.db.transaction(move |conn| api_key::create(conn, &ctx, &new)).await {
        Ok(created) => api_keys_page(&state, &caller, created.secret, String::new()).await,
        Err(e) if e.is_for_the_form() => api_keys_page(&state, &caller, String::new(), e.detail_zh).await,
        Err(e) => Err(e),
    }
}

/// Revokes an API key from the list.
#[post("/api-keys/{id}/revoke")]
pub async fn api_keys_revoke(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::ApiKeyWrite, "apikeys").await?;
    let id = ApiKeyId::parse(&path.into_inner())?;
    let ctx = caller.audit();
    let own = caller.tenant_id.clone();
    state
        .db
        .transaction(move |conn| {
            if !api_key::list(conn, own.as_ref())?.into_iter().any(|k| k.id == id) {
                return Err(AppError::not_found("接口密钥", "API key"));
            }
            api_key::revoke(conn, &ctx, &id)
        })
        .await?;
    Ok(see_other("/api-keys"))
}

/// This page's entry in the console navigation.
pub const API_KEYS_NAV: crate::console::NavItem =
    crate::console::NavItem::administration("/api-keys", "接口密钥", Permission::ApiKeyRead);

/// Registers these pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(login_page)
        .service(login_submit)
        .service(password_page)
        .service(password_submit)
        .service(totp_page)
        .service(totp_submit)
        .service(logout)
        .service(api_keys_list)
        .service(api_keys_create)
        .service(api_keys_revoke);
}
