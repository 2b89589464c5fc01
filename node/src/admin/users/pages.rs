//! Console pages of users (用户) and roles (角色, shown as a tree).

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::{AppResult, ErrorKind};
use crate::ids::{RoleId, TenantId, UserId};
use crate::users::accounts::{self, NewUser, UserView};
use crate::users::roles::{self, Role};
use crate::users::Permission;

#[derive(Template)]
#[template(path = "users/users.html")]
struct UsersPage {
    shell: Shell,
    users: Vec<UserView>,
    roles: Vec<Role>,
    can_write: bool,
    can_assign: bool,
    can_secure: bool,
    error: String,
    notice: String,
    one_time_password: String,
}

async fn users_page(
    state: &AppState,
    caller: &Caller,
    error: String,
    notice: String,
    one_time_password: String,
) -> AppResult<HttpResponse> {
    let own = caller.tenant_id.clone();
    let (users, all_roles) = state.db.run(|conn| Ok((accounts::list(conn)?, roles::list(conn)?))).await?;
    let users = users
        .into_iter()
        .filter(|u| match (&own, &u.tenant_id) {
            (Some(o), Some(t)) => o == t,
            (Some(_), None) => false,
            _ => true,
        })
        .collect();
    render(&UsersPage {
        shell: Shell::new(state, caller, "用户", "/users"),
        users,
        roles: all_roles,
        can_write: caller.can(Permission::UserWrite),
        can_assign: caller.can(Permission::RoleAssign),
        can_secure: caller.can(Permission::UserSecurity),
        error,
        notice,
        one_time_password,
    })
}

/// 用户 list.
#[get("/users")]
pub async fn users_list(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::UserRead, "users").await?;
    users_page(&state, &caller, String::new(), String::new(), String::new()).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct NewUserForm {
    csrf: String,
    username: String,
    display_name: String,
    #[serde(default)]
    tenant_id: String,
}

/// Creates an account from the form and shows its one-time password.
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<NewUserForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::UserWrite, "users").await?;
    let tenant_id = match form.tenant_id.trim() {
        "" => None,
        t => match TenantId::parse(t) {
            Ok(t) => Some(t),
            Err(e) => return users_page(&state, &caller, e.detail_zh, String::new(), String::new()).await,
        },
    };
    let new = NewUser { username: form.username.trim().to_owned(), display_name: form.display_name, tenant_id };
    let ctx = caller.audit();
    match state.db.transaction(move |conn| accounts::create(conn, &ctx, &new)).await {
        Ok(c) => {
            users_page(
                &state,
                &caller,
                String::new(),
                format!("已创建用户 {}，请将一次性密码告知本人：", c.user.username),
                c.one_time_password,
            )
            .await
        }
        Err(e) if e.is_for_the_form() => users_page(&state, &caller, e.detail_zh, String::new(), String::new()).await,
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct AssignForm {
    csrf: String,
    role_id: String,
}

/// Gives an account one role (replacing its roles) from the form.
#[post("/users/{id}/roles")]
pub async fn assign_role(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<AssignForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RoleAssign, "users").await?;
    let parsed = UserId::parse(&path.into_inner())
        .and_then(|u| Ok((u, if form.role_id.is_empty() { vec![] } else { vec![RoleId::parse(&form.role_id)?] })));
    let (id, role_ids) = match parsed {
        Ok(v) => v,
        Err(e) => return users_page(&state, &caller, e.detail_zh, String::new(), String::new()).await,
    };
    let ctx = caller.audit();
    let me = caller.user_id.clone();
    let object = format!("user:{id}");
    let assigned = state
        .db
        .transaction(move |conn| {
            accounts::assign_roles(conn, &ctx, accounts::Actor::Online(me.as_ref()), &id, &role_ids)
        })
        .await;
    match caller.audit_refusal(&state, "role.assign", &object, assigned).await {
        Ok(u) => {
            users_page(&state, &caller, String::new(), format!("已更新用户 {} 的角色。", u.username), String::new())
                .await
        }
        Err(e) if e.is_for_the_form() => users_page(&state, &caller, e.detail_zh, String::new(), String::new()).await,
        Err(e) => Err(e),
    }
}

/// What the account actions on the users page do.
#[derive(Debug, Clone, Copy)]
enum AccountAction {
    Unlock,
    ResetPassword,
    Disable,
    Enable,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CsrfForm {
    csrf: String,
}

async fn account_action(
    state: &AppState,
    caller: &Caller,
    id: &str,
    csrf: &str,
    action: AccountAction,
) -> AppResult<HttpResponse> {
    caller.check_csrf(csrf)?;
    let permission = match action {
        AccountAction::Unlock => Permission::UserSecurity,
        AccountAction::ResetPassword | AccountAction::Disable | AccountAction::Enable => Permission::UserWrite,
    };
    caller.require(state, permission, "users").await?;
    let id = match UserId::parse(id) {
        Ok(id) => id,
        Err(e) => return users_page(state, caller, e.detail_zh, String::new(), String::new()).await,
    };
    let lookup = id.clone();
    let target = state.db.run(move |conn| accounts::view(conn, &lookup)).await?;
    if caller.tenant_id.is_some() && caller.tenant_id != target.tenant_id {
        return Err(caller
            .deny(state, permission.code(), &format!("user:{}", target.username), ErrorKind::OutOfScope)
            .await);
    }
    if caller.user_id.as_ref() == Some(&id) && matches!(action, AccountAction::Disable) {
        return users_page(state, caller, "不能停用自己的账号".into(), String::new(), String::new()).await;
    }
    let ctx = caller.audit();
    let me = caller.user_id.clone();
    let object = format!("user:{}", target.username);
    let done = state
        .db
        .transaction(move |conn| match action {
            AccountAction::Unlock => accounts::unlock(conn, &ctx, &id).map(|u| (u, String::new())),
            AccountAction::ResetPassword => {
                accounts::reset_password(conn, &ctx, accounts::Actor::Online(me.as_ref()), &id)
                    .map(|c| (c.user, c.one_time_password))
            }
            AccountAction::Disable => accounts::set_disabled(conn, &ctx, &id, true).map(|u| (u, String::new())),
            AccountAction::Enable => accounts::set_disabled(conn, &ctx, &id, false).map(|u| (u, String::new())),
        })
        .await;
    let (user, one_time) = match caller.audit_refusal(state, permission.code(), &object, done).await {
        Ok(done) => done,
        Err(e) if e.kind == ErrorKind::SeparationOfDuties => {
            return users_page(state, caller, e.detail_zh, String::new(), String::new()).await
        }
        Err(e) => return Err(e),
    };
    let notice = match action {
        AccountAction::Unlock => format!("已解锁用户 {}。", user.username),
        AccountAction::ResetPassword => format!("已重置用户 {} 的密码，请将一次性密码告知本人：", user.username),
        AccountAction::Disable => format!("已停用用户 {}，其会话已全部结束。", user.username),
        AccountAction::Enable => format!("已启用用户 {}。", user.username),
    };
    users_page(state, caller, String::new(), notice, one_time).await
}

/// Unlocks an account from the users page.
#[post("/users/{id}/unlock")]
pub async fn unlock(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> AppResult<HttpResponse> {
    account_action(&state, &caller.0, &path.into_inner(), &form.csrf, AccountAction::Unlock).await
}

/// Resets an account's password from the users page and shows the one-time password.
#[post("/users/{id}/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> AppResult<HttpResponse> {
    account_action(&state, &caller.0, &path.into_inner(), &form.csrf, AccountAction::ResetPassword).await
}

/// Disables an account from the users page.
#[post("/users/{id}/disable")]
pub async fn disable(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> AppResult<HttpResponse> {
    account_action(&state, &caller.0, &path.into_inner(), &form.csrf, AccountAction::Disable).await
}

/// Re-enables an account from the users page.
#[post("/users/{id}/enable")]
pub async fn enable(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> AppResult<HttpResponse> {
    account_action(&state, &caller.0, &path.into_inner(), &form.csrf, AccountAction::Enable).await
}

/// A role and its children, for the tree.
pub struct RoleNode {
    /// The role.
    pub role: Role,
    /// Its permissions' Chinese labels.
    pub labels: Vec<&'static str>,
    /// Depth in the tree (0 for roots).
    pub depth: usize,
}

fn flatten_tree(all: &[Role]) -> Vec<RoleNode> {
    fn walk(all: &[Role], parent: Option<&RoleId>, depth: usize, out: &mut Vec<RoleNode>) {
        for r in all.iter().filter(|r| r.parent_id.as_ref() == parent) {
            out.push(RoleNode { role: r.clone(), labels: r.permissions.iter().map(|p| p.label_zh()).collect(), depth });
            if depth < 32 {
                walk(all, Some(&r.id), depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(all, None, 0, &mut out);
    out
}

#[derive(Template)]
#[template(path = "users/roles.html")]
struct RolesPage {
    shell: Shell,
    nodes: Vec<RoleNode>,
    permissions: &'static [Permission],
    can_write: bool,
    error: String,
    notice: String,
}

async fn roles_page(state: &AppState, caller: &Caller, error: String, notice: String) -> AppResult<HttpResponse> {
    let all = state.db.run(roles::list).await?;
    render(&RolesPage {
        shell: Shell::new(state, caller, "角色", "/roles"),
        nodes: flatten_tree(&all),
        permissions: &Permission::ALL,
        can_write: caller.can(Permission::RoleWrite),
        error,
        notice,
    })
}

/// 角色 tree.
#[get("/roles")]
pub async fn roles_tree(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::RoleRead, "roles").await?;
    roles_page(&state, &caller, String::new(), String::new()).await
}

/// Creates a role from the form (permissions as repeated `permission` fields).
#[post("/roles")]
pub async fn create_role(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let pairs = form.into_inner();
    let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    caller.check_csrf(&field("csrf"))?;
    caller.require(&state, Permission::RoleWrite, "roles").await?;
    let permissions =
        pairs.iter().filter(|(k, _)| k == "permission").filter_map(|(_, v)| Permission::from_code(v)).collect();
    let parent_id = match RoleId::parse(&field("parent_id")) {
        Ok(p) => p,
        Err(e) => return roles_page(&state, &caller, e.detail_zh, String::new()).await,
    };
    let new = roles::NewRole { code: field("code").trim().to_owned(), name: field("name"), parent_id, permissions };
    let ctx = caller.audit();
    match state.db.transaction(move |conn| roles::create(conn, &ctx, &new)).await {
        Ok(r) => roles_page(&state, &caller, String::new(), format!("已创建角色“{}”。", r.name)).await,
        Err(e) if e.is_for_the_form() => roles_page(&state, &caller, e.detail_zh, String::new()).await,
        Err(e) => Err(e),
    }
}

/// This page's entry in the console navigation.
pub const NAV: crate::console::NavItem =
    crate::console::NavItem::administration("/users", "用户", crate::users::Permission::UserRead);

/// This page's entry in the console navigation.
pub const ROLES_NAV: crate::console::NavItem =
    crate::console::NavItem::administration("/roles", "角色", crate::users::Permission::RoleRead);

/// Registers these pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(users_list)
        .service(create_user)
        .service(assign_role)
        .service(unlock)
        .service(reset_password)
        .service(disable)
        .service(enable)
        .service(roles_tree)
        .service(create_role);
}
