//! Tenants (租户): the organisations a node serves — its own departments, third-party
//! traceability platforms and enterprise systems.
//!
//! Rules kept here:
//! - a tenant's code is unique in the node and never changes (it appears in certificate
//!   identities, `urn:tracenode:tenant:<region>:<code>`);
//! - a tenant's region lies inside the node's region;
//! - callers see only the tenants their data scope allows; a tenant user sees only its own.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::tenants;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use crate::region::RegionCode;

/// The kinds of tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TenantKind {
    /// A government department of this tier (商务、市场监管、农业农村 …).
    Department,
    /// A third-party traceability platform.
    Platform,
    /// An enterprise's own system.
    Enterprise,
}

impl TenantKind {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantKind::Department => "department",
            TenantKind::Platform => "platform",
            TenantKind::Enterprise => "enterprise",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            TenantKind::Department => "政府部门",
            TenantKind::Platform => "第三方追溯平台",
            TenantKind::Enterprise => "企业系统",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> AppResult<Self> {
        match s {
            "department" => Ok(TenantKind::Department),
            "platform" => Ok(TenantKind::Platform),
            "enterprise" => Ok(TenantKind::Enterprise),
            _ => Err(AppError::invalid(
                "kind",
                "租户类型只能是 department、platform 或 enterprise",
                "tenant kind must be department, platform or enterprise",
            )),
        }
    }
}

/// Whether a tenant may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    /// Its keys, certificates and people work.
    Active,
    /// Stopped: nothing of it is accepted until it is activated again.
    Suspended,
}

impl TenantStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    /// Parses the stored form; anything else reads as suspended (a tenant acts only when its
    /// row says so).
    pub fn parse(s: &str) -> TenantStatus {
        match s {
            "active" => TenantStatus::Active,
            _ => TenantStatus::Suspended,
        }
    }
}

/// A tenant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Stable code, unique in the node.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: TenantKind,
    /// Region (GB/T 2260).
    #[schema(value_type = String)]
    pub region: RegionCode,
    /// Contact person and phone.
    pub contact: String,
    /// Whether it may act.
    pub status: TenantStatus,
    /// Created (UTC).
    pub created_at: chrono::NaiveDateTime,
}

/// A request to create a tenant.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Code: 2–32 of `a-z`, `0-9`, `_`, `-`.
    pub code: String,
    /// Name, 1–100 characters.
    pub name: String,
    /// Kind.
    pub kind: TenantKind,
    /// Region code inside the node's region.
    pub region: String,
    /// Contact person and phone (at most 100 characters).
    #[serde(default)]
    pub contact: String,
}

type TenantRow = (String, String, String, String, String, String, String, chrono::NaiveDateTime);

impl Tenant {
    /// Whether it may act (its keys, certificates and people work).
    pub fn is_active(&self) -> bool {
        self.status == TenantStatus::Active
    }
}

fn from_row(r: TenantRow) -> Tenant {
    Tenant {
        id: TenantId::from_db(r.0),
        code: r.1,
        name: r.2,
        kind: TenantKind::parse(&r.3).unwrap_or(TenantKind::Enterprise),
        region: RegionCode::parse(&r.4).unwrap_or_else(|_| RegionCode::national()),
        contact: r.5,
        status: TenantStatus::parse(&r.6),
        created_at: r.7,
    }
}

fn columns() -> (
    tenants::id,
    tenants::code,
    tenants::name,
    tenants::kind,
    tenants::region,
    tenants::contact,
    tenants::status,
    tenants::created_at,
) {
    (
        tenants::id,
        tenants::code,
        tenants::name,
        tenants::kind,
        tenants::region,
        tenants::contact,
        tenants::status,
        tenants::created_at,
    )
}

fn check_new(new: &NewTenant, node_region: &RegionCode) -> AppResult<RegionCode> {
    let ok_code = (2..=32).contains(&new.code.len())
        && new.code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok_code {
        return Err(AppError::invalid(
            "code",
            "租户代码应为2到32个小写字母、数字、下划线或连字符",
            "tenant code must be 2 to 32 of a-z, 0-9, _ and -",
        ));
    }
    let n = new.name.trim().chars().count();
    if n == 0 || n > 100 {
        return Err(AppError::invalid("name", "租户名称应为1到100个字符", "tenant name must be 1 to 100 characters"));
    }
    if new.contact.chars().count() > 100 {
        return Err(AppError::invalid(
            "contact",
            "联系方式不能超过100个字符",
            "contact must be at most 100 characters",
        ));
    }
    let region =
        RegionCode::parse(&new.region).map_err(|e| AppError::invalid("region", e.to_string(), e.to_string()))?;
    if !node_region.contains(&region) {
        return Err(AppError::invalid(
            "region",
            format!(
                "租户所在地区 {}（{}）不在本节点辖区 {}（{}）内",
                region,
                region.name(),
                node_region,
                node_region.name()
            ),
            format!("tenant region {region} is outside this node's region {node_region}"),
        ));
    }
    Ok(region)
}

/// Creates a tenant.
pub fn create(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    node_region: &RegionCode,
    new: &NewTenant,
) -> AppResult<Tenant> {
    let region = check_new(new, node_region)?;
    let taken: i64 = tenants::table.filter(tenants::code.eq(&new.code)).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::conflict(
            format!("租户代码 {} 已存在", new.code),
            format!("tenant code {} already exists", new.code),
        ));
    }
    let id = TenantId::generate();
    let now = crate::db::now();
    diesel::insert_into(tenants::table)
        .values((
            tenants::id.eq(id.as_str()),
            tenants::code.eq(&new.code),
            tenants::name.eq(new.name.trim()),
            tenants::kind.eq(new.kind.as_str()),
            tenants::region.eq(region.as_str()),
            tenants::contact.eq(new.contact.trim()),
            tenants::status.eq(TenantStatus::Active.as_str()),
            tenants::created_at.eq(now),
            tenants::updated_at.eq(now),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "tenant.create",
        &format!("tenant:{}", new.code),
        Outcome::Success,
        serde_json::json!({"name": new.name.trim(), "kind": new.kind.as_str(), "region": region.as_str()}),
    )?;
    get(conn, &id)
}

/// Suspends or reactivates a tenant.
pub fn set_status(conn: &mut DbConnection, ctx: &AuditContext, id: &TenantId, active: bool) -> AppResult<Tenant> {
    let tenant = get(conn, id)?;
    let status = if active { TenantStatus::Active } else { TenantStatus::Suspended }.as_str();
    diesel::update(tenants::table.filter(tenants::id.eq(id.as_str())))
        .set((tenants::status.eq(status), tenants::updated_at.eq(crate::db::now())))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        if active { "tenant.activate" } else { "tenant.suspend" },
        &format!("tenant:{}", tenant.code),
        Outcome::Success,
        serde_json::json!({}),
    )?;
    get(conn, id)
}

/// The tenant with `id`.
pub fn get(conn: &mut DbConnection, id: &TenantId) -> AppResult<Tenant> {
    tenants::table
        .filter(tenants::id.eq(id.as_str()))
        .select(columns())
        .first::<TenantRow>(conn)
        .optional()?
        .map(from_row)
        .ok_or_else(|| AppError::not_found("租户", "tenant"))
}

/// The tenant with `code`.
pub fn by_code(conn: &mut DbConnection, code: &str) -> AppResult<Tenant> {
    tenants::table
        .filter(tenants::code.eq(code))
        .select(columns())
        .first::<TenantRow>(conn)
        .optional()?
        .map(from_row)
        .ok_or_else(|| AppError::not_found("租户", "tenant"))
}

/// Every tenant, by code.
pub fn list_all(conn: &mut DbConnection) -> AppResult<Vec<Tenant>> {
    Ok(tenants::table
        .select(columns())
        .order(tenants::code.asc())
        .load::<TenantRow>(conn)?
        .into_iter()
        .map(from_row)
        .collect())
}
