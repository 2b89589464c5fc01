//! Sites (节点 in the standard): markets, slaughterhouses, supermarkets and other places where
//! entities trade. A site belongs to a tenant (usually the platform that runs it); its merchants
//! are entities that name it.

pub mod api;
pub mod pages;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::sites;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::{SiteId, TenantId};
use crate::region::RegionCode;
use tracenode_adapters::identifiers::Gln;

/// Kinds of site.
pub const SITE_KINDS: [(&str, &str); 6] = [
    ("farmers_market", "农贸市场"),
    ("wholesale_market", "批发市场"),
    ("slaughterhouse", "屠宰场"),
    ("supermarket", "超市"),
    ("cold_storage", "冷库"),
    ("other", "其他"),
];

/// A site.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = sites)]
pub struct Site {
    /// Id.
    pub id: SiteId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Code, unique in the node.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind (see the list of kinds).
    pub kind: String,
    /// Region.
    pub region: String,
    /// Address.
    pub address: String,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Created (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Updated (UTC).
    pub updated_at: chrono::NaiveDateTime,
    /// Its GS1 GLN (13 digits), by which EPCIS events name it as their location.
    pub gln: Option<String>,
}

/// A request to create a site.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    /// Code: 2–32 of letters, digits, `_` and `-`.
    pub code: String,
    /// Name, 1–100 characters.
    pub name: String,
    /// `farmers_market`, `wholesale_market`, `slaughterhouse`, `supermarket`, `cold_storage` or `other`.
    pub kind: String,
    /// Region inside the caller's reach.
    pub region: String,
    /// Address.
    #[serde(default)]
    pub address: String,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Owning tenant, for node staff; tenant callers own their sites.
    pub tenant_id: Option<TenantId>,
    /// Its GS1 GLN (13 digits with a valid check digit), unique in the node: an EPCIS event
    /// whose `bizLocation` or `readPoint` is an SGLN of this GLN happens at this site.
    #[serde(default)]
    #[schema(example = "6901234000023")]
    pub gln: Option<String>,
}

/// Creates a site for `tenant`.
pub fn create(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    within: &RegionCode,
    new: &NewSite,
) -> AppResult<Site> {
    let ok_code = (2..=32).contains(&new.code.len())
        && new.code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok_code {
        return Err(AppError::invalid(
            "code",
            "节点代码应为2到32个字母、数字、下划线或连字符",
            "site code must be 2 to 32 of letters, digits, _ and -",
        ));
    }
    let n = new.name.trim().chars().count();
    if n == 0 || n > 100 {
        return Err(AppError::invalid("name", "节点名称应为1到100个字符", "site name must be 1 to 100 characters"));
    }
    if !SITE_KINDS.iter().any(|(k, _)| *k == new.kind) {
        return Err(AppError::invalid("kind", "未知的节点类型", "unknown site kind"));
    }
    if new.address.chars().count() > 200 {
        return Err(AppError::invalid("address", "地址不能超过200个字符", "address must be at most 200 characters"));
    }
    let region =
        RegionCode::parse(&new.region).map_err(|e| AppError::invalid("region", e.to_string(), e.to_string()))?;
    if !within.contains(&region) {
        return Err(AppError::invalid(
            "region",
            format!("地区 {region} 不在 {within} 范围内"),
            format!("region {region} is outside {within}"),
        ));
    }
    match (new.longitude, new.latitude) {
        (None, None) => {}
        (Some(lon), Some(lat)) if (73.0..=136.0).contains(&lon) && (3.0..=54.0).contains(&lat) => {}
        _ => {
            return Err(AppError::invalid(
                "longitude",
                "经纬度须同时填写且在中国境内",
                "give both coordinates, inside China",
            ))
        }
    }
    let gln = gln_of(conn, new.gln.as_deref())?;
    let taken: i64 = sites::table.filter(sites::code.eq(&new.code)).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::conflict(
            format!("节点代码 {} 已存在", new.code),
            format!("site code {} already exists", new.code),
        ));
    }
    let id = SiteId::generate();
    let now = crate::db::now();
    diesel::insert_into(sites::table)
        .values((
            sites::id.eq(&id),
            sites::tenant_id.eq(tenant.as_str()),
            sites::code.eq(&new.code),
            sites::name.eq(new.name.trim()),
            sites::kind.eq(&new.kind),
            sites::region.eq(region.as_str()),
            sites::address.eq(new.address.trim()),
            sites::longitude.eq(new.longitude),
            sites::latitude.eq(new.latitude),
            sites::gln.eq(&gln),
            sites::created_at.eq(now),
            sites::updated_at.eq(now),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "site.create",
        &format!("site:{}", new.code),
        Outcome::Success,
        serde_json::json!({"tenant": tenant, "gln": gln}),
    )?;
    Ok(sites::table.find(&id).select(Site::as_select()).first(conn)?)
}

/// A site's GLN checked: 13 digits with a valid check digit that no other site holds.
fn gln_of(conn: &mut DbConnection, given: Option<&str>) -> AppResult<Option<String>> {
    let Some(text) = given.map(str::trim).filter(|g| !g.is_empty()) else { return Ok(None) };
    let gln = Gln::parse(text).map_err(|e| AppError::invalid("gln", e.to_string(), e.to_string()))?;
    let taken: i64 = sites::table.filter(sites::gln.eq(gln.as_str())).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::conflict(
            format!("全球位置码 {gln} 已登记给其他节点"),
            format!("GLN {gln} is already registered to another site"),
        ));
    }
    Ok(Some(gln.as_str().to_owned()))
}

/// Sites visible to a tenant (all when `tenant` is `None`), by code.
pub fn list(conn: &mut DbConnection, tenant: Option<&TenantId>) -> AppResult<Vec<Site>> {
    let mut q = sites::table.select(Site::as_select()).order(sites::code.asc()).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(sites::tenant_id.eq(t.as_str()));
    }
    Ok(q.limit(5000).load(conn)?)
}
