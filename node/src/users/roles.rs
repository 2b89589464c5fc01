//! The role tree: built-in roots and local roles beneath them.
//!
//! Rules kept here:
//! - every local role has a parent, and its permissions are a subset of its parent's;
//! - narrowing a role is refused while a child still holds a permission being removed
//!   (narrow the children first), so the subset rule holds for the whole tree at all times;
//! - built-in roles cannot be changed.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::permission::{Permission, BUILTIN_ROLES};
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{role_permissions, roles};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::RoleId;

/// A role with its permissions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Role {
    /// Id.
    pub id: RoleId,
    /// Stable code, e.g. `sysadmin` or a local `inspector`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Parent role; `None` for the built-in roots.
    pub parent_id: Option<RoleId>,
    /// Whether this is a built-in root.
    pub builtin: bool,
    /// Permissions, sorted.
    pub permissions: BTreeSet<Permission>,
}

/// A request to create a local role.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    /// Stable code: 2–40 of `a-z`, `0-9`, `_`.
    pub code: String,
    /// Display name, 1–50 characters.
    pub name: String,
    /// The parent role's id.
    pub parent_id: RoleId,
    /// Permissions: a subset of the parent's.
    pub permissions: BTreeSet<Permission>,
}

/// Inserts the built-in roles that are missing, and the permissions a newer release gave a
/// built-in role that an existing node's copy lacks (idempotent).
pub fn seed_builtin(conn: &mut DbConnection) -> AppResult<()> {
    for b in BUILTIN_ROLES {
        let existing: Option<String> =
            roles::table.filter(roles::code.eq(b.code)).select(roles::id).first(conn).optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                let id = RoleId::generate();
                diesel::insert_into(roles::table)
                    .values((
                        roles::id.eq(id.as_str()),
                        roles::code.eq(b.code),
                        roles::name.eq(b.name),
                        roles::parent_id.eq(None::<String>),
                        roles::builtin.eq(true),
                        roles::created_at.eq(crate::db::now()),
                    ))
                    .execute(conn)?;
                id.as_str().to_owned()
            }
        };
        let held: Vec<String> = role_permissions::table
            .filter(role_permissions::role_id.eq(&id))
            .select(role_permissions::permission)
            .load(conn)?;
        for p in b.permissions.iter().filter(|p| !held.iter().any(|h| h == p.code())) {
            diesel::insert_into(role_permissions::table)
                .values((role_permissions::role_id.eq(&id), role_permissions::permission.eq(p.code())))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Every role, parents before children.
pub fn list(conn: &mut DbConnection) -> AppResult<Vec<Role>> {
    let rows: Vec<(String, String, String, Option<String>, bool)> = roles::table
        .select((roles::id, roles::code, roles::name, roles::parent_id, roles::builtin))
        .order(roles::created_at.asc())
        .load(conn)?;
    let perms: Vec<(String, String)> =
        role_permissions::table.select((role_permissions::role_id, role_permissions::permission)).load(conn)?;
    let mut by_role: HashMap<String, BTreeSet<Permission>> = HashMap::new();
    for (role, code) in perms {
        if let Some(p) = Permission::from_code(&code) {
            by_role.entry(role).or_default().insert(p);
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, code, name, parent, builtin)| Role {
            permissions: by_role.remove(&id).unwrap_or_default(),
            id: RoleId::from_db(id),
            code,
            name,
            parent_id: parent.map(RoleId::from_db),
            builtin,
        })
        .collect())
}

/// The role with `id`.
pub fn get(conn: &mut DbConnection, id: &RoleId) -> AppResult<Role> {
    list(conn)?.into_iter().find(|r| &r.id == id).ok_or_else(|| AppError::not_found("角色", "role"))
}

/// The role with `code`.
pub fn by_code(conn: &mut DbConnection, code: &str) -> AppResult<Role> {
    list(conn)?.into_iter().find(|r| r.code == code).ok_or_else(|| AppError::not_found("角色", "role"))
}

/// The built-in root at the top of `role`'s lineage.
pub fn lineage_root<'a>(all: &'a [Role], role: &'a Role) -> &'a Role {
    let mut current = role;
    let mut hops = 0;
    while let Some(parent) = current.parent_id.as_ref().and_then(|p| all.iter().find(|r| &r.id == p)) {
        current = parent;
        hops += 1;
        if hops > 64 {
            break;
        }
    }
    current
}

fn check_code_and_name(code: &str, name: &str) -> AppResult<()> {
    let ok_code = (2..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok_code {
        return Err(AppError::invalid(
            "code",
            "角色代码应为2到40个小写字母、数字或下划线",
            "role code must be 2 to 40 of a-z, 0-9 and _",
        ));
    }
    let n = name.trim().chars().count();
    if n == 0 || n > 50 {
        return Err(AppError::invalid("name", "角色名称应为1到50个字符", "role name must be 1 to 50 characters"));
    }
    Ok(())
}

/// Creates a local role under its parent; its permissions must narrow the parent's.
pub fn create(conn: &mut DbConnection, ctx: &AuditContext, new: &NewRole) -> AppResult<Role> {
    check_code_and_name(&new.code, &new.name)?;
    let parent = get(conn, &new.parent_id)
        .map_err(|_| AppError::invalid("parent_id", "上级角色不存在", "parent role does not exist"))?;
    check_subset(&new.permissions, &parent)?;
    let taken: i64 = roles::table.filter(roles::code.eq(&new.code)).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::conflict("角色代码已存在", "role code already exists"));
    }
    let id = RoleId::generate();
    diesel::insert_into(roles::table)
        .values((
            roles::id.eq(id.as_str()),
            roles::code.eq(&new.code),
            roles::name.eq(new.name.trim()),
            roles::parent_id.eq(Some(parent.id.as_str())),
            roles::builtin.eq(false),
            roles::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    write_permissions(conn, &id, &new.permissions)?;
    audit::record(
        conn,
        ctx,
        "role.create",
        &format!("role:{}", new.code),
        Outcome::Success,
        serde_json::json!({"parent": parent.code, "permissions": codes(&new.permissions)}),
    )?;
    get(conn, &id)
}

/// Replaces a local role's permissions; they must stay within the parent's and still cover
/// every child's.
pub fn set_permissions(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    id: &RoleId,
    permissions: &BTreeSet<Permission>,
) -> AppResult<Role> {
    let all = list(conn)?;
    let role = all.iter().find(|r| &r.id == id).ok_or_else(|| AppError::not_found("角色", "role"))?;
    if role.builtin {
        return Err(AppError::with_detail(
            crate::error::ErrorKind::Forbidden,
            "内置角色不能修改",
            "built-in roles cannot be changed",
        ));
    }
    if let Some(parent) = role.parent_id.as_ref().and_then(|p| all.iter().find(|r| &r.id == p)) {
        check_subset(permissions, parent)?;
    }
    for child in all.iter().filter(|r| r.parent_id.as_ref() == Some(id)) {
        if let Some(p) = child.permissions.difference(permissions).next() {
            return Err(AppError::invalid(
                "permissions",
                format!("下级角色“{}”仍拥有权限 {}，请先收窄下级角色", child.name, p.code()),
                format!("child role {} still holds {}: narrow it first", child.code, p.code()),
            ));
        }
    }
    diesel::delete(role_permissions::table.filter(role_permissions::role_id.eq(id.as_str()))).execute(conn)?;
    write_permissions(conn, id, permissions)?;
    audit::record(
        conn,
        ctx,
        "role.update",
        &format!("role:{}", role.code),
        Outcome::Success,
        serde_json::json!({"before": codes(&role.permissions), "after": codes(permissions)}),
    )?;
    get(conn, id)
}

fn check_subset(permissions: &BTreeSet<Permission>, parent: &Role) -> AppResult<()> {
    if let Some(extra) = permissions.difference(&parent.permissions).next() {
        return Err(AppError::invalid(
            "permissions",
            format!("下级角色只能收窄上级角色“{}”的权限，不能增加 {}", parent.name, extra.code()),
            format!("a child role may only narrow its parent {}: {} is not held by it", parent.code, extra.code()),
        ));
    }
    Ok(())
}

fn write_permissions(conn: &mut DbConnection, id: &RoleId, permissions: &BTreeSet<Permission>) -> AppResult<()> {
    for p in permissions {
        diesel::insert_into(role_permissions::table)
            .values((role_permissions::role_id.eq(id.as_str()), role_permissions::permission.eq(p.code())))
            .execute(conn)?;
    }
    Ok(())
}

fn codes(permissions: &BTreeSet<Permission>) -> Vec<&'static str> {
    permissions.iter().map(|p| p.code()).collect()
}
