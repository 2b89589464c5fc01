//! API keys for machine clients (third-party platforms, enterprise systems).
//!
//! A key is `tnk_<prefix>_<secret>`; the database keeps the prefix (to show and find it) and
//! the SHA-256 of the whole key, never the key itself, which is shown once at creation. A key
//! is bound to one tenant and one role of the tenant-client lineage, can be revoked, and
//! records when it was last used.

use diesel::prelude::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{api_keys, tenants};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::{ApiKeyId, RoleId, TenantId};
use crate::users::permission::tenant_bound;
use crate::users::roles;

/// What is shown of a key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    /// Id.
    pub id: ApiKeyId,
    /// The tenant it acts for.
    pub tenant_id: TenantId,
    /// The tenant's code.
    pub tenant_code: String,
    /// Role id.
    pub role_id: RoleId,
    /// A name for people.
    pub name: String,
    /// The visible prefix, e.g. `tnk_3f9a2c1d`.
    pub prefix: String,
    /// Who created it.
    pub created_by: String,
    /// Created (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Last used (UTC).
    pub last_used_at: Option<chrono::NaiveDateTime>,
    /// Revoked (UTC).
    pub revoked_at: Option<chrono::NaiveDateTime>,
}

/// A request to create a key.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// The tenant the key acts for.
    pub tenant_id: TenantId,
    /// A role of the tenant-client lineage.
    pub role_id: RoleId,
    /// A name for people, 1–50 characters.
    pub name: String,
}

/// A created key: the secret is shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key.
    pub key: ApiKeyView,
    /// The whole secret key for the client's configuration.
    pub secret: String,
}

/// The key as it authenticates a request.
#[derive(Debug, Clone)]
pub struct KeyIdentity {
    /// Id.
    pub id: ApiKeyId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Role.
    pub role_id: RoleId,
    /// Prefix for the audit trail.
    pub prefix: String,
}

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

type KeyRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    String,
);

fn load(conn: &mut DbConnection, tenant: Option<&TenantId>) -> AppResult<Vec<ApiKeyView>> {
    let mut q = api_keys::table
        .inner_join(tenants::table)
        .select((
            api_keys::id,
            api_keys::tenant_id,
            api_keys::role_id,
            api_keys::name,
            api_keys::prefix,
            api_keys::created_by,
            api_keys::created_at,
            api_keys::last_used_at,
            api_keys::revoked_at,
            tenants::code,
        ))
        .order(api_keys::created_at.desc())
        .into_boxed();
    if let Some(t) = tenant {
        q = q.filter(api_keys::tenant_id.eq(t.as_str()));
    }
    Ok(q.load::<KeyRow>(conn)?
        .into_iter()
        .map(|r| ApiKeyView {
            id: ApiKeyId::from_db(r.0),
            tenant_id: TenantId::from_db(r.1),
            role_id: RoleId::from_db(r.2),
            name: r.3,
            prefix: r.4,
            created_by: r.5,
            created_at: r.6,
            last_used_at: r.7,
            revoked_at: r.8,
            tenant_code: r.9,
        })
        .collect())
}

/// Every key, or the keys of one tenant, newest first.
pub fn list(conn: &mut DbConnection, tenant: Option<&TenantId>) -> AppResult<Vec<ApiKeyView>> {
    load(conn, tenant)
}

/// Creates a key.
pub fn create(conn: &mut DbConnection, ctx: &AuditContext, new: &NewApiKey) -> AppResult<CreatedApiKey> {
    let n = new.name.trim().chars().count();
    if n == 0 || n > 50 {
        return Err(AppError::invalid("name", "名称应为1到50个字符", "name must be 1 to 50 characters"));
    }
    let tenant = crate::tenants::get(conn, &new.tenant_id)
        .map_err(|_| AppError::invalid("tenant_id", "租户不存在", "tenant does not exist"))?;
    let all = roles::list(conn)?;
    let role = all
        .iter()
        .find(|r| r.id == new.role_id)
        .ok_or_else(|| AppError::invalid("role_id", "角色不存在", "role does not exist"))?;
    if !tenant_bound(&roles::lineage_root(&all, role).code) {
        return Err(AppError::invalid(
            "role_id",
            "接口密钥只能使用接入方或数据使用方角色",
            "an API key may only hold a tenant-client or data-reader role",
        ));
    }
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret_part = hex::encode(bytes);
    let prefix = format!("tnk_{}", &secret_part[..8]);
    let secret = format!("{prefix}_{}", &secret_part[8..]);
    let id = ApiKeyId::generate();
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(id.as_str()),
            api_keys::tenant_id.eq(tenant.id.as_str()),
            api_keys::role_id.eq(role.id.as_str()),
            api_keys::name.eq(new.name.trim()),
            api_keys::prefix.eq(&prefix),
            api_keys::key_hash.eq(digest(&secret)),
            api_keys::created_by.eq(&ctx.actor),
            api_keys::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "apikey.create",
        &format!("apikey:{prefix}"),
        Outcome::Success,
        serde_json::json!({"tenant": tenant.code, "role": role.code}),
    )?;
    let key = load(conn, None)?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| AppError::internal("created key not found"))?;
    Ok(CreatedApiKey { key, secret })
}

/// Revokes a key.
pub fn revoke(conn: &mut DbConnection, ctx: &AuditContext, id: &ApiKeyId) -> AppResult<ApiKeyView> {
    let key = load(conn, None)?
        .into_iter()
        .find(|k| &k.id == id)
        .ok_or_else(|| AppError::not_found("接口密钥", "API key"))?;
    if key.revoked_at.is_some() {
        return Err(AppError::conflict("接口密钥已被吊销", "the API key is already revoked"));
    }
    diesel::update(api_keys::table.filter(api_keys::id.eq(id.as_str())))
        .set(api_keys::revoked_at.eq(Some(crate::db::now())))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "apikey.revoke",
        &format!("apikey:{}", key.prefix),
        Outcome::Success,
        serde_json::json!({}),
    )?;
    load(conn, None)?.into_iter().find(|k| &k.id == id).ok_or_else(|| AppError::not_found("接口密钥", "API key"))
}

/// Finds the live key for a presented secret and records its use.
pub fn authenticate(conn: &mut DbConnection, presented: &str) -> AppResult<Option<KeyIdentity>> {
    if presented.len() > 100 || !presented.starts_with("tnk_") {
        return Ok(None);
    }
    let row: Option<(String, String, String, String)> = api_keys::table
        .filter(api_keys::key_hash.eq(digest(presented)))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::id, api_keys::tenant_id, api_keys::role_id, api_keys::prefix))
        .first(conn)
        .optional()?;
    let Some((id, tenant, role, prefix)) = row else { return Ok(None) };
    diesel::update(api_keys::table.filter(api_keys::id.eq(&id)))
        .set(api_keys::last_used_at.eq(Some(crate::db::now())))
        .execute(conn)?;
    Ok(Some(KeyIdentity {
        id: ApiKeyId::from_db(id),
        tenant_id: TenantId::from_db(tenant),
        role_id: RoleId::from_db(role),
        prefix,
    }))
}
