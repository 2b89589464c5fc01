//! JSON API of users, roles and data scopes.

use std::collections::BTreeSet;

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::ids::{RoleId, UserId};
use crate::users::accounts::{self, CreatedUser, NewUser, UserView};
use crate::users::roles::{self, NewRole, Role};
use crate::users::{DataScope, Permission};

/// Role assignment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    /// The roles the account holds afterwards.
    pub role_ids: Vec<RoleId>,
}

/// A role's new permissions.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePermissions {
    /// Permissions (a subset of the parent's).
    pub permissions: BTreeSet<Permission>,
}

/// Whether `caller` may see or act on the account `target`: a tenant caller only on its own
/// tenant's accounts; others on accounts of tenants in their scope and on node accounts.
async fn visible(state: &AppState, caller: &Caller, target: &UserView) -> AppResult<bool> {
    match (&caller.tenant_id, &target.tenant_id) {
        (Some(own), Some(t)) => Ok(own == t),
        (Some(_), None) => Ok(false),
        (None, None) => Ok(true),
        (None, Some(t)) => {
            let t = t.clone();
            let tenant = state.db.run(move |conn| crate::tenants::get(conn, &t)).await?;
            Ok(caller.sees_tenant(&tenant))
        }
    }
}

async fn target(state: &AppState, caller: &Caller, id: &str, action: &str) -> AppResult<UserId> {
    let id = UserId::parse(id)?;
    let lookup = id.clone();
    let user = state.db.run(move |conn| accounts::view(conn, &lookup)).await?;
    if !visible(state, caller, &user).await? {
        return Err(caller.deny(state, action, &format!("user:{}", user.username), ErrorKind::OutOfScope).await);
    }
    Ok(id)
}

/// Lists the accounts the caller may see.
#[utoipa::path(tag = "users", responses((status = 200, body = Vec<UserView>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/users")]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::UserRead, "users").await?;
    let all = state.db.run(accounts::list).await?;
    let mut shown = Vec::new();
    for u in all {
        if visible(&state, &caller, &u).await? {
            shown.push(u);
        }
    }
    Ok(HttpResponse::Ok().json(shown))
}

/// Creates an account with a one-time password (shown in this response only).
#[utoipa::path(tag = "users", request_body = NewUser, responses((status = 201, body = CreatedUser), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/users")]
pub async fn create(state: web::Data<AppState>, caller: Caller, body: web::Json<NewUser>) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::UserWrite, "users").await?;
    let new = body.into_inner();
    if let Some(own) = &caller.tenant_id {
        if new.tenant_id.as_ref() != Some(own) {
            return Err(caller
                .deny(&state, "user.create", &format!("user:{}", new.username), ErrorKind::OutOfScope)
                .await);
        }
    }
    let ctx = caller.audit();
    let created = state.db.transaction(move |conn| accounts::create(conn, &ctx, &new)).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Replaces an account's roles (security administrator).
#[utoipa::path(tag = "users", params(("id" = String, Path, description = "User id")), request_body = RoleAssignment, responses((status = 200, body = UserView), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/users/{id}/roles")]
pub async fn assign_roles(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<RoleAssignment>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RoleAssign, "users").await?;
    let id = target(&state, &caller, &path.into_inner(), "role.assign").await?;
    let ctx = caller.audit();
    let roles = body.into_inner().role_ids;
    let me = caller.user_id.clone();
    let object = format!("user:{id}");
    let assigned = state
        .db
        .transaction(move |conn| accounts::assign_roles(conn, &ctx, accounts::Actor::Online(me.as_ref()), &id, &roles))
        .await;
    let user = caller.audit_refusal(&state, "role.assign", &object, assigned).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Sets an account's data scope (security administrator).
#[utoipa::path(tag = "users", params(("id" = String, Path, description = "User id")), request_body = DataScope, responses((status = 200, body = UserView), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/users/{id}/scope")]
pub async fn set_scope(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<DataScope>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::UserSecurity, "users").await?;
    let id = target(&state, &caller, &path.into_inner(), "user.scope").await?;
    let scope = body.into_inner();
    if let Some(region) = &scope.region {
        if !state.config.node.region.contains(region) {
            return Err(AppError::invalid(
                "region",
                "数据范围超出本节点辖区",
                "the scope's region is outside this node's region",
            ));
        }
    }
    let ctx = caller.audit();
    let user = state.db.transaction(move |conn| accounts::set_scope(conn, &ctx, &id, &scope)).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Unlocks an account.
#[utoipa::path(tag = "users", params(("id" = String, Path, description = "User id")), responses((status = 200, body = UserView), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/users/{id}/unlock")]
pub async fn unlock(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::UserSecurity, "users").await?;
    let id = target(&state, &caller, &path.into_inner(), "user.unlock").await?;
    let ctx = caller.audit();
    let user = state.db.transaction(move |conn| accounts::unlock(conn, &ctx, &id)).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Resets an account's password to a new one-time password.
#[utoipa::path(tag = "users", params(("id" = String, Path, description = "User id")), responses((status = 200, body = CreatedUser), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/users/{id}/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::UserWrite, "users").await?;
    let id = target(&state, &caller, &path.into_inner(), "user.reset_password").await?;
    let ctx = caller.audit();
    let me = caller.user_id.clone();
    let object = format!("user:{id}");
    let reset = state
        .db
        .transaction(move |conn| accounts::reset_password(conn, &ctx, accounts::Actor::Online(me.as_ref()), &id))
        .await;
    let created = caller.audit_refusal(&state, "user.reset_password", &object, reset).await?;
    Ok(HttpResponse::Ok().json(created))
}

/// Disables an account and ends its sessions.
#[utoipa::path(tag = "users", params(("id" = String, Path, description = "User id")), responses((status = 200, body = UserView), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/users/{id}/disable")]
pub async fn disable(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    set_disabled(state, caller, path, true).await
}

/// Re-enables an account.
#[utoipa::path(tag = "users", params(("id" = String, Path, description = "User id")), responses((status = 200, body = UserView), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/users/{id}/enable")]
pub async fn enable(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    set_disabled(state, caller, path, false).await
}

async fn set_disabled(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    disabled: bool,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::UserWrite, "users").await?;
    let id = target(&state, &caller, &path.into_inner(), "user.write").await?;
    if caller.user_id.as_ref() == Some(&id) {
        return Err(AppError::with_detail(
            ErrorKind::Forbidden,
            "不能停用自己的账号",
            "you cannot disable your own account",
        ));
    }
    let ctx = caller.audit();
    let user = state.db.transaction(move |conn| accounts::set_disabled(conn, &ctx, &id, disabled)).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// The role tree (parents before children).
#[utoipa::path(tag = "users", responses((status = 200, body = Vec<Role>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/roles")]
pub async fn list_roles(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RoleRead, "roles").await?;
    Ok(HttpResponse::Ok().json(state.db.run(roles::list).await?))
}

/// Creates a role beneath a parent, narrowing its permissions.
#[utoipa::path(tag = "users", request_body = NewRole, responses((status = 201, body = Role), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/roles")]
pub async fn create_role(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewRole>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RoleWrite, "roles").await?;
    let ctx = caller.audit();
    let new = body.into_inner();
    let role = state.db.transaction(move |conn| roles::create(conn, &ctx, &new)).await?;
    Ok(HttpResponse::Created().json(role))
}

/// Replaces a local role's permissions.
#[utoipa::path(tag = "users", params(("id" = String, Path, description = "Role id")), request_body = RolePermissions, responses((status = 200, body = Role), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[put("/api/v1/roles/{id}/permissions")]
pub async fn set_role_permissions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<RolePermissions>,
) -> AppResult<HttpResponse> {
    caller.require(&state, Permission::RoleWrite, "roles").await?;
    let id = RoleId::parse(&path.into_inner())?;
    let ctx = caller.audit();
    let permissions = body.into_inner().permissions;
    let role = state.db.transaction(move |conn| roles::set_permissions(conn, &ctx, &id, &permissions)).await?;
    Ok(HttpResponse::Ok().json(role))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(assign_roles)
        .service(set_scope)
        .service(unlock)
        .service(reset_password)
        .service(disable)
        .service(enable)
        .service(list_roles)
        .service(create_role)
        .service(set_role_permissions);
}
