//! User accounts: creation, listing, role assignment, data scopes, unlock and reset.
//!
//! Rules kept here:
//! - a new account or a reset gets a one-time password that must be changed at first sign-in;
//! - an account may hold roles from at most one of the three administrator lineages
//!   (三权分立), checked on every assignment;
//! - a tenant user (bound to a tenant) may only hold roles of the tenant-client lineage;
//! - a caller of the console or API ([`Actor::Online`]) never changes their own
//!   roles or resets their own password, never resets the password of an account in one of
//!   the three administrator lineages (the operator of the host does that, with
//!   `tracenode user reset-password`), and grants an administrator role only to an account
//!   whose owner has replaced the one-time password with their own. Together with the split
//!   of duties in [`super::permission`] (the one who learns passwords never grants roles), no
//!   single administrator can bring an account into a lineage and then sign in with it.

use std::collections::BTreeSet;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::permission::{builtin, tenant_bound, Permission};
use super::roles::{self, Role};
use super::scope::DataScope;
use crate::audit::{self, AuditContext, Outcome};
use crate::credentials::password;
use crate::db::schema::{password_history, tenants, user_roles, users};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{RoleId, TenantId, UserId};

/// Who changes an account's roles or password.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A caller of the console or API: a person with their account, or a machine with none.
    Online(Option<&'a UserId>),
    /// The operator of the node's host (`init` and the command line), who holds the machine
    /// and its data directory already.
    Host,
}

impl Actor<'_> {
    fn is_account(&self, id: &UserId) -> bool {
        matches!(self, Actor::Online(Some(me)) if *me == id)
    }
}

fn separation_refused(zh: &str, en: &str) -> AppError {
    AppError::with_detail(ErrorKind::SeparationOfDuties, zh.to_owned(), en.to_owned())
}

/// Whether any of `held` belongs to one of the three administrator lineages.
fn in_admin_lineage(all: &[Role], held: &[&Role]) -> bool {
    held.iter().any(|r| builtin(&roles::lineage_root(all, r).code).is_some_and(|b| b.separated_admin))
}

/// What the console and API show of an account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Id.
    pub id: UserId,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// The tenant a tenant user belongs to.
    pub tenant_id: Option<TenantId>,
    /// Role codes.
    pub roles: Vec<String>,
    /// Data scope.
    pub scope: DataScope,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Whether the account is locked now.
    pub locked: bool,
    /// Whether TOTP is enrolled.
    pub totp_enabled: bool,
    /// Whether the one-time password still has to be changed.
    pub must_change_password: bool,
}

/// A request to create an account.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Sign-in name: 3–32 of `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter.
    pub username: String,
    /// Display name, 1–50 characters.
    pub display_name: String,
    /// Bind the account to a tenant (a tenant user).
    pub tenant_id: Option<TenantId>,
}

/// A created account and its one-time password (shown once).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    /// The account.
    pub user: UserView,
    /// The one-time password; it must be changed at first sign-in.
    pub one_time_password: String,
}

/// The stored account row the sign-in flow needs.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRecord {
    /// Id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Tenant binding.
    pub tenant_id: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// One-time password not yet changed.
    pub must_change_password: bool,
    /// Failures in a row.
    pub failed_attempts: i32,
    /// Locked until.
    pub locked_until: Option<chrono::NaiveDateTime>,
    /// TOTP secret (base32).
    pub totp_secret: Option<String>,
    /// TOTP enrolled.
    pub totp_enabled: bool,
    /// Last accepted TOTP time step (replay guard).
    pub totp_last_step: Option<i64>,
    /// Scope: region.
    pub scope_region: Option<String>,
    /// Scope: categories (JSON array).
    pub scope_categories: String,
    /// Scope: tenants (JSON array).
    pub scope_tenants: String,
    /// Disabled.
    pub disabled: bool,
}

fn check_new_user(new: &NewUser) -> AppResult<()> {
    let u = &new.username;
    let ok = (3..=32).contains(&u.len())
        && u.starts_with(|c: char| c.is_ascii_lowercase())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        return Err(AppError::invalid(
            "username",
            "用户名应为3到32个小写字母、数字或 . _ -，并以字母开头",
            "user name must be 3 to 32 of a-z, 0-9, . _ - and start with a letter",
        ));
    }
    let n = new.display_name.trim().chars().count();
    if n == 0 || n > 50 {
        return Err(AppError::invalid(
            "display_name",
            "姓名应为1到50个字符",
            "display name must be 1 to 50 characters",
        ));
    }
    Ok(())
}

/// Creates an account with a one-time password and no roles (roles are granted by the
/// security administrator).
pub fn create(conn: &mut DbConnection, ctx: &AuditContext, new: &NewUser) -> AppResult<CreatedUser> {
    check_new_user(new)?;
    if let Some(t) = &new.tenant_id {
        let exists: i64 = tenants::table.filter(tenants::id.eq(t.as_str())).count().get_result(conn)?;
        if exists == 0 {
            return Err(AppError::invalid("tenant_id", "租户不存在", "tenant does not exist"));
        }
    }
    let taken: i64 = users::table.filter(users::username.eq(&new.username)).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::conflict("用户名已存在", "user name already exists"));
    }
    let one_time = password::generate_one_time();
    let hash = password::hash(&one_time)?;
    let id = UserId::generate();
    let now = crate::db::now();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id.as_str()),
            users::username.eq(&new.username),
            users::display_name.eq(new.display_name.trim()),
            users::tenant_id.eq(new.tenant_id.as_ref().map(TenantId::as_str)),
            users::password_hash.eq(&hash),
            users::must_change_password.eq(true),
            users::password_changed_at.eq(now),
            users::failed_attempts.eq(0),
            users::totp_enabled.eq(false),
            users::scope_categories.eq("[]"),
            users::scope_tenants.eq("[]"),
            users::disabled.eq(false),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    remember_password(conn, &id, &hash)?;
    audit::record(
        conn,
        ctx,
        "user.create",
        &format!("user:{}", new.username),
        Outcome::Success,
        serde_json::json!({"tenant_id": new.tenant_id}),
    )?;
    Ok(CreatedUser { user: view(conn, &id)?, one_time_password: one_time })
}

/// Stores a password hash in the history used by the no-reuse rule.
pub fn remember_password(conn: &mut DbConnection, id: &UserId, hash: &str) -> AppResult<()> {
    diesel::insert_into(password_history::table)
        .values((
            password_history::id.eq(uuid::Uuid::now_v7().to_string()),
            password_history::user_id.eq(id.as_str()),
            password_history::password_hash.eq(hash),
            password_history::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The account record by user name.
pub fn record_by_name(conn: &mut DbConnection, username: &str) -> AppResult<Option<UserRecord>> {
    Ok(users::table.filter(users::username.eq(username)).select(UserRecord::as_select()).first(conn).optional()?)
}

/// The account record by id.
pub fn record_by_id(conn: &mut DbConnection, id: &UserId) -> AppResult<UserRecord> {
    users::table
        .filter(users::id.eq(id.as_str()))
        .select(UserRecord::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("用户", "user"))
}

/// The roles an account holds.
pub fn roles_of(conn: &mut DbConnection, id: &UserId) -> AppResult<Vec<Role>> {
    let ids: Vec<String> =
        user_roles::table.filter(user_roles::user_id.eq(id.as_str())).select(user_roles::role_id).load(conn)?;
    Ok(roles::list(conn)?.into_iter().filter(|r| ids.iter().any(|i| i == r.id.as_str())).collect())
}

/// The union of the permissions of an account's roles.
pub fn permissions_of(conn: &mut DbConnection, id: &UserId) -> AppResult<BTreeSet<Permission>> {
    Ok(roles_of(conn, id)?.into_iter().flat_map(|r| r.permissions).collect())
}

/// The console/API view of an account.
pub fn view(conn: &mut DbConnection, id: &UserId) -> AppResult<UserView> {
    let r = record_by_id(conn, id)?;
    let roles = roles_of(conn, id)?.into_iter().map(|r| r.code).collect();
    let locked_somewhere = crate::credentials::throttle::locked_anywhere(conn, id)?;
    let mut v = to_view(r, roles);
    v.locked |= locked_somewhere;
    Ok(v)
}

fn to_view(r: UserRecord, roles: Vec<String>) -> UserView {
    let now = crate::db::now();
    UserView {
        scope: DataScope::from_columns(r.scope_region.as_deref(), &r.scope_categories, &r.scope_tenants),
        id: UserId::from_db(r.id),
        username: r.username,
        display_name: r.display_name,
        tenant_id: r.tenant_id.map(TenantId::from_db),
        roles,
        disabled: r.disabled,
        locked: r.locked_until.is_some_and(|t| t > now),
        totp_enabled: r.totp_enabled,
        must_change_password: r.must_change_password,
    }
}

/// Every account, sorted by user name.
pub fn list(conn: &mut DbConnection) -> AppResult<Vec<UserView>> {
    let records: Vec<UserRecord> =
        users::table.select(UserRecord::as_select()).order(users::username.asc()).load(conn)?;
    let all_roles = roles::list(conn)?;
    let links: Vec<(String, String)> =
        user_roles::table.select((user_roles::user_id, user_roles::role_id)).load(conn)?;
    let locked = crate::credentials::throttle::locked_accounts(conn)?;
    Ok(records
        .into_iter()
        .map(|r| {
            let codes = links
                .iter()
                .filter(|(u, _)| u == &r.id)
                .filter_map(|(_, role)| all_roles.iter().find(|x| x.id.as_str() == role).map(|x| x.code.clone()))
                .collect();
            let locked_somewhere = locked.contains(&r.id);
            let mut v = to_view(r, codes);
            v.locked |= locked_somewhere;
            v
        })
        .collect())
}

/// Replaces an account's roles, keeping the separation of the three administrators.
pub fn assign_roles(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    actor: Actor<'_>,
    id: &UserId,
    role_ids: &[RoleId],
) -> AppResult<UserView> {
    if actor.is_account(id) {
        return Err(separation_refused("不能给自己分配角色", "you cannot assign roles to yourself"));
    }
    let record = record_by_id(conn, id)?;
    let all = roles::list(conn)?;
    let mut chosen = Vec::new();
    for rid in role_ids {
        let role = all
            .iter()
            .find(|r| &r.id == rid)
            .ok_or_else(|| AppError::invalid("role_ids", "角色不存在", "role does not exist"))?;
        chosen.push(role);
    }
    let admin_lineages: BTreeSet<&str> = chosen
        .iter()
        .map(|r| roles::lineage_root(&all, r).code.as_str())
        .filter(|root| builtin(root).is_some_and(|b| b.separated_admin))
        .collect();
    if admin_lineages.len() > 1 {
        return Err(AppError::invalid(
            "role_ids",
            "三权分立：同一账号不能同时担任系统管理员、安全管理员、审计管理员中的两种",
            "separation of duties: one account may not hold two of the system, security and audit administrator roles",
        ));
    }
    if matches!(actor, Actor::Online(_)) && record.must_change_password && in_admin_lineage(&all, &chosen) {
        return Err(separation_refused(
            "三权分立：该账号仍在使用一次性密码，须由本人登录改为自己的密码后，才能被授予管理员角色",
            "separation of duties: an administrator role is granted only after the account's owner has replaced the one-time password with their own",
        ));
    }
    if record.tenant_id.is_some() && chosen.iter().any(|r| !tenant_bound(&roles::lineage_root(&all, r).code)) {
        return Err(AppError::invalid(
            "role_ids",
            "租户用户只能担任接入方角色",
            "a tenant user may only hold tenant-client roles",
        ));
    }
    let before: Vec<String> = roles_of(conn, id)?.into_iter().map(|r| r.code).collect();
    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(id.as_str()))).execute(conn)?;
    for role in &chosen {
        diesel::insert_into(user_roles::table)
            .values((user_roles::user_id.eq(id.as_str()), user_roles::role_id.eq(role.id.as_str())))
            .execute(conn)?;
    }
    let after: Vec<&str> = chosen.iter().map(|r| r.code.as_str()).collect();
    audit::record(
        conn,
        ctx,
        "role.assign",
        &format!("user:{}", record.username),
        Outcome::Success,
        serde_json::json!({"before": before, "after": after}),
    )?;
    view(conn, id)
}

/// Sets an account's data scope.
pub fn set_scope(conn: &mut DbConnection, ctx: &AuditContext, id: &UserId, scope: &DataScope) -> AppResult<UserView> {
    let record = record_by_id(conn, id)?;
    for t in &scope.tenants {
        let exists: i64 = tenants::table.filter(tenants::id.eq(t.as_str())).count().get_result(conn)?;
        if exists == 0 {
            return Err(AppError::invalid("tenants", "数据范围中的租户不存在", "a tenant in the scope does not exist"));
        }
    }
    let (region, categories, tenant_list) = scope.to_columns();
    diesel::update(users::table.filter(users::id.eq(id.as_str())))
        .set((
            users::scope_region.eq(region),
            users::scope_categories.eq(categories),
            users::scope_tenants.eq(tenant_list),
            users::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "user.scope",
        &format!("user:{}", record.username),
        Outcome::Success,
        serde_json::to_value(scope).unwrap_or_default(),
    )?;
    view(conn, id)
}

/// Clears a lockout.
pub fn unlock(conn: &mut DbConnection, ctx: &AuditContext, id: &UserId) -> AppResult<UserView> {
    let record = record_by_id(conn, id)?;
    diesel::update(users::table.filter(users::id.eq(id.as_str())))
        .set((users::failed_attempts.eq(0), users::locked_until.eq(None::<chrono::NaiveDateTime>)))
        .execute(conn)?;
    crate::credentials::throttle::clear_account(conn, id)?;
    audit::record(
        conn,
        ctx,
        "user.unlock",
        &format!("user:{}", record.username),
        Outcome::Success,
        serde_json::json!({}),
    )?;
    view(conn, id)
}

/// Gives an account a new one-time password, ends its sessions and clears its lockout.
pub fn reset_password(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    actor: Actor<'_>,
    id: &UserId,
) -> AppResult<CreatedUser> {
    let record = record_by_id(conn, id)?;
    if let Actor::Online(_) = actor {
        if actor.is_account(id) {
            return Err(separation_refused(
                "不能重置自己的密码，请在“修改密码”中修改",
                "you cannot reset your own password; change it instead",
            ));
        }
        let all = roles::list(conn)?;
        let held = roles_of(conn, id)?;
        if in_admin_lineage(&all, &held.iter().collect::<Vec<_>>()) {
            return Err(separation_refused(
                "三权分立：管理员账号的密码不能在线重置，请由主机运维人员执行 tracenode user reset-password",
                "separation of duties: an administrator's password is not reset online; the host's operator runs tracenode user reset-password",
            ));
        }
    }
    let one_time = password::generate_one_time();
    let hash = password::hash(&one_time)?;
    diesel::update(users::table.filter(users::id.eq(id.as_str())))
        .set((
            users::password_hash.eq(&hash),
            users::must_change_password.eq(true),
            users::password_changed_at.eq(crate::db::now()),
            users::failed_attempts.eq(0),
            users::locked_until.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    crate::credentials::session::end_all_for_user(conn, id)?;
    crate::credentials::throttle::clear_account(conn, id)?;
    audit::record(
        conn,
        ctx,
        "user.reset_password",
        &format!("user:{}", record.username),
        Outcome::Success,
        serde_json::json!({}),
    )?;
    Ok(CreatedUser { user: view(conn, id)?, one_time_password: one_time })
}

/// Disables or re-enables an account; disabling ends its sessions.
pub fn set_disabled(conn: &mut DbConnection, ctx: &AuditContext, id: &UserId, disabled: bool) -> AppResult<UserView> {
    let record = record_by_id(conn, id)?;
    diesel::update(users::table.filter(users::id.eq(id.as_str())))
        .set((users::disabled.eq(disabled), users::updated_at.eq(crate::db::now())))
        .execute(conn)?;
    if disabled {
        crate::credentials::session::end_all_for_user(conn, id)?;
    }
    let action = if disabled { "user.disable" } else { "user.enable" };
    audit::record(conn, ctx, action, &format!("user:{}", record.username), Outcome::Success, serde_json::json!({}))?;
    view(conn, id)
}

/// The id of the account named `username`.
pub fn id_by_name(conn: &mut DbConnection, username: &str) -> AppResult<UserId> {
    record_by_name(conn, username)?.map(|r| UserId::from_db(r.id)).ok_or_else(|| AppError::not_found("用户", "user"))
}
