//! Responsible entities (追溯责任主体) as the API receives them ([`EntityInput`]), as they are
//! validated and versioned ([`EntityData`]) and as they are shown ([`Entity`]).

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_adapters::codes::Stage;
use tracenode_adapters::identifiers::{Gln, Uscc};

use crate::db::schema::{entities, sites};
use crate::db::time::StoredTime;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::{EntityId, SiteId, TenantId};
use crate::region::RegionCode;

use super::catalogue;
use super::review::Fields;

/// The kinds of responsible entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// 企业.
    Enterprise,
    /// 个体工商户.
    Individual,
    /// 农民专业合作社.
    Cooperative,
    /// 其他.
    Other,
}

impl EntityKind {
    /// Every kind.
    pub const ALL: [EntityKind; 4] =
        [EntityKind::Enterprise, EntityKind::Individual, EntityKind::Cooperative, EntityKind::Other];

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Enterprise => "enterprise",
            EntityKind::Individual => "individual",
            EntityKind::Cooperative => "cooperative",
            EntityKind::Other => "other",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            EntityKind::Enterprise => "企业",
            EntityKind::Individual => "个体工商户",
            EntityKind::Cooperative => "农民专业合作社",
            EntityKind::Other => "其他",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An entity as submitted.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityInput {
    /// Unified social credit code (统一社会信用代码), 18 characters with check character.
    pub code: String,
    /// Name, 1–100 characters.
    pub name: String,
    /// Kind.
    pub kind: EntityKind,
    /// GB/T 2260 region inside the node's region.
    pub region: String,
    /// Address, at most 200 characters.
    #[serde(default)]
    pub address: String,
    /// Longitude (WGS-84), 73–136; give both or neither.
    pub longitude: Option<f64>,
    /// Latitude (WGS-84), 3–54.
    pub latitude: Option<f64>,
    /// Contact person, at most 50 characters.
    #[serde(default)]
    pub contact_person: String,
    /// Contact phone: digits, spaces, `+`, `-`; at most 30 characters.
    #[serde(default)]
    pub contact_phone: String,
    /// Supply-chain stages.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub stages: Vec<Stage>,
    /// Product category codes from the catalogue.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Code of the site (market, slaughterhouse …) the entity belongs to.
    pub site_code: Option<String>,
    /// Merchant code inside the site (商户编码); needs `site_code`.
    pub merchant_code: Option<String>,
    /// Merchant type, e.g. 蔬菜、肉类 (at most 50 characters); needs `site_code`.
    pub merchant_type: Option<String>,
    /// Varieties sold (经营品种), at most 200 characters.
    #[serde(default)]
    pub varieties: String,
    /// The entity's GS1 Global Location Number (13 digits), by which EPCIS documents name it
    /// (as a PGLN, an SGLN or a Digital Link); one entity per GLN in the node.
    pub gln: Option<String>,
    /// Filing time (UTC); default now.
    pub filed_at: Option<NaiveDateTime>,
    /// The tenant the entity belongs to, for node staff registering on a tenant's behalf;
    /// tenant callers always register for their own tenant.
    pub tenant_id: Option<TenantId>,
}

/// Validated entity content: what versions store and roll-ups send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityData {
    /// USCC.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: EntityKind,
    /// Region.
    pub region: String,
    /// Address.
    pub address: String,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Contact person.
    pub contact_person: String,
    /// Contact phone.
    pub contact_phone: String,
    /// Stages.
    pub stages: Vec<Stage>,
    /// Category codes, sorted.
    pub categories: Vec<String>,
    /// Site id.
    pub site_id: Option<SiteId>,
    /// Merchant code.
    pub merchant_code: Option<String>,
    /// Merchant type.
    pub merchant_type: Option<String>,
    /// Varieties.
    pub varieties: String,
    /// GLN (left out when there is none, so content without one reads as it always did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gln: Option<String>,
    /// Filing time.
    pub filed_at: NaiveDateTime,
}

/// The fields a change can touch, as tenants' change policies name them.
const FIELDS: [&str; 14] = [
    "name",
    "kind",
    "region",
    "address",
    "location",
    "contact_person",
    "contact_phone",
    "stages",
    "categories",
    "site",
    "merchant",
    "varieties",
    "gln",
    "filed_at",
];

/// Fields that need review unless a tenant's policy frees them.
const REVIEWED_BY_DEFAULT: [&str; 7] = ["name", "kind", "region", "site", "stages", "categories", "gln"];

impl Fields for EntityData {
    const FIELDS: &'static [&'static str] = &FIELDS;
    const REVIEWED_BY_DEFAULT: &'static [&'static str] = &REVIEWED_BY_DEFAULT;

    fn changed_fields(&self, other: &EntityData) -> BTreeSet<&'static str> {
        let mut changed = BTreeSet::new();
        let mut mark = |cond: bool, f: &'static str| {
            if cond {
                changed.insert(f);
            }
        };
        mark(self.name != other.name, "name");
        mark(self.kind != other.kind, "kind");
        mark(self.region != other.region, "region");
        mark(self.address != other.address, "address");
        mark(self.longitude != other.longitude || self.latitude != other.latitude, "location");
        mark(self.contact_person != other.contact_person, "contact_person");
        mark(self.contact_phone != other.contact_phone, "contact_phone");
        mark(self.stages != other.stages, "stages");
        mark(self.categories != other.categories, "categories");
        mark(self.site_id != other.site_id, "site");
        mark(self.merchant_code != other.merchant_code || self.merchant_type != other.merchant_type, "merchant");
        mark(self.varieties != other.varieties, "varieties");
        mark(self.gln != other.gln, "gln");
        mark(self.filed_at != other.filed_at, "filed_at");
        changed
    }

    fn with_fields_from(&self, other: &EntityData, fields: &BTreeSet<&str>) -> EntityData {
        let mut out = self.clone();
        for f in fields {
            match *f {
                "name" => out.name = other.name.clone(),
                "kind" => out.kind = other.kind,
                "region" => out.region = other.region.clone(),
                "address" => out.address = other.address.clone(),
                "location" => {
                    out.longitude = other.longitude;
                    out.latitude = other.latitude;
                }
                "contact_person" => out.contact_person = other.contact_person.clone(),
                "contact_phone" => out.contact_phone = other.contact_phone.clone(),
                "stages" => out.stages = other.stages.clone(),
                "categories" => out.categories = other.categories.clone(),
                "site" => out.site_id = other.site_id.clone(),
                "merchant" => {
                    out.merchant_code = other.merchant_code.clone();
                    out.merchant_type = other.merchant_type.clone();
                }
                "varieties" => out.varieties = other.varieties.clone(),
                "gln" => out.gln = other.gln.clone(),
                "filed_at" => out.filed_at = other.filed_at,
                _ => {}
            }
        }
        out
    }
}

/// What validation needs to know beyond the input.
pub struct ValidationContext<'a> {
    /// The region the caller may register in (the node's, or the caller's scope).
    pub region: &'a RegionCode,
    /// The tenant the entity will belong to (sites must be the same tenant's or the node's).
    pub tenant: &'a TenantId,
}

pub(super) fn text(field: &str, value: &str, max: usize, required: bool) -> AppResult<String> {
    let v = value.trim();
    let n = v.chars().count();
    if required && n == 0 {
        return Err(AppError::invalid(field, format!("{field} 不能为空"), format!("{field} is required")));
    }
    if n > max {
        return Err(AppError::invalid(
            field,
            format!("{field} 不能超过{max}个字符"),
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn optional_text(field: &str, value: &Option<String>, max: usize) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, max, true).map(Some),
    }
}

fn location(lon: Option<f64>, lat: Option<f64>) -> AppResult<(Option<f64>, Option<f64>)> {
    match (lon, lat) {
        (None, None) => Ok((None, None)),
        (Some(lon), Some(lat)) => {
            if !(73.0..=136.0).contains(&lon) {
                return Err(AppError::invalid(
                    "longitude",
                    "经度应在73到136之间（中国境内）",
                    "longitude must be 73 to 136 (inside China)",
                ));
            }
            if !(3.0..=54.0).contains(&lat) {
                return Err(AppError::invalid(
                    "latitude",
                    "纬度应在3到54之间（中国境内）",
                    "latitude must be 3 to 54 (inside China)",
                ));
            }
            Ok((Some(lon), Some(lat)))
        }
        (Some(_), None) => Err(AppError::invalid("latitude", "经纬度须同时填写", "give both longitude and latitude")),
        (None, Some(_)) => Err(AppError::invalid("longitude", "经纬度须同时填写", "give both longitude and latitude")),
    }
}

fn phone(value: &str) -> AppResult<String> {
    let v = text("contact_phone", value, 30, false)?;
    if !v.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-')) {
        return Err(AppError::invalid(
            "contact_phone",
            "联系电话只能包含数字、空格、+ 和 -",
            "contact_phone may hold digits, spaces, + and - only",
        ));
    }
    Ok(v)
}

/// Parses a USCC, naming the field and the failed rule.
pub fn parse_code(field: &str, code: &str) -> AppResult<Uscc> {
    Uscc::parse(code).map_err(|e| {
        AppError::from_identifier(field, "统一社会信用代码无效：", "invalid unified social credit code: ", &e)
    })
}

/// Validates everything that needs no database.
pub fn validate_shape(input: &EntityInput, within: &RegionCode) -> AppResult<EntityData> {
    let code = parse_code("code", &input.code)?;
    let region =
        RegionCode::parse(&input.region).map_err(|e| AppError::invalid("region", e.to_string(), e.to_string()))?;
    if !within.contains(&region) {
        return Err(AppError::invalid(
            "region",
            format!("地区 {}（{}）不在 {}（{}）范围内", region, region.name(), within, within.name()),
            format!("region {region} is outside {within}"),
        ));
    }
    let (longitude, latitude) = location(input.longitude, input.latitude)?;
    let mut stages = input.stages.clone();
    stages.sort();
    stages.dedup();
    let merchant_code = optional_text("merchant_code", &input.merchant_code, 50)?;
    let merchant_type = optional_text("merchant_type", &input.merchant_type, 50)?;
    if (merchant_code.is_some() || merchant_type.is_some())
        && input.site_code.as_deref().is_none_or(|s| s.trim().is_empty())
    {
        return Err(AppError::invalid(
            "site_code",
            "商户须属于一个节点（市场、屠宰场等）",
            "a merchant must belong to a site",
        ));
    }
    if input.categories.len() > 50 {
        return Err(AppError::invalid("categories", "产品类目不能超过50个", "at most 50 categories"));
    }
    let mut categories: Vec<String> = input.categories.iter().map(|c| c.trim().to_owned()).collect();
    categories.sort();
    categories.dedup();
    let gln = match input.gln.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        None => None,
        Some(g) => Some(
            Gln::parse(g)
                .map_err(|e| AppError::from_identifier("gln", "全球位置码（GLN）无效：", "invalid GLN: ", &e))?
                .as_str()
                .to_owned(),
        ),
    };
    Ok(EntityData {
        code: code.as_str().to_owned(),
        name: text("name", &input.name, 100, true)?,
        kind: input.kind,
        region: region.as_str().to_owned(),
        address: text("address", &input.address, 200, false)?,
        longitude,
        latitude,
        contact_person: text("contact_person", &input.contact_person, 50, false)?,
        contact_phone: phone(&input.contact_phone)?,
        stages,
        categories,
        site_id: None,
        merchant_code,
        merchant_type,
        varieties: text("varieties", &input.varieties, 200, false)?,
        gln,
        filed_at: crate::db::truncate_micros(input.filed_at.unwrap_or_else(crate::db::now)),
    })
}

/// Validates an input completely: shape, categories and site.
pub fn validate(conn: &mut DbConnection, input: &EntityInput, cx: &ValidationContext) -> AppResult<EntityData> {
    let mut data = validate_shape(input, cx.region)?;
    data.categories = catalogue::check_codes(conn, "categories", &data.categories)?;
    if let Some(site_code) = input.site_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let site: Option<(SiteId, TenantId)> = sites::table
            .filter(sites::code.eq(site_code))
            .select((sites::id, sites::tenant_id))
            .first(conn)
            .optional()?;
        match site {
            Some((id, tenant)) if tenant == *cx.tenant => data.site_id = Some(id),
            _ => {
                return Err(AppError::invalid(
                    "site_code",
                    format!("节点 {site_code} 不存在或不属于本租户"),
                    format!("site {site_code} does not exist or belongs to another tenant"),
                ))
            }
        }
    }
    if let Some(gln) = &data.gln {
        let holder: Option<String> = entities::table
            .filter(entities::gln.eq(gln))
            .filter(entities::code.ne(&data.code))
            .select(entities::code)
            .first(conn)
            .optional()?;
        if let Some(other) = holder {
            return Err(AppError::invalid(
                "gln",
                format!("全球位置码 {gln} 已登记给主体 {other}"),
                format!("GLN {gln} is registered to entity {other} already"),
            ));
        }
    }
    Ok(data)
}

/// A stored entity as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entity {
    /// Id.
    pub id: EntityId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// USCC.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: EntityKind,
    /// Region code.
    pub region: String,
    /// Region name.
    pub region_name: String,
    /// Address.
    pub address: String,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Contact person.
    pub contact_person: String,
    /// Contact phone.
    pub contact_phone: String,
    /// Stages.
    #[schema(value_type = Vec<String>)]
    pub stages: Vec<Stage>,
    /// Category codes.
    pub categories: Vec<String>,
    /// Site id.
    pub site_id: Option<SiteId>,
    /// Merchant code.
    pub merchant_code: Option<String>,
    /// Merchant type.
    pub merchant_type: Option<String>,
    /// Varieties.
    pub varieties: String,
    /// GLN.
    pub gln: Option<String>,
    /// Filing time (UTC).
    pub filed_at: NaiveDateTime,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Reason of a rejection.
    pub status_reason: String,
    /// Version in force.
    pub version: i32,
}

/// The stored row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = entities, treat_none_as_default_value = false)]
pub struct EntityRow {
    /// Id.
    pub id: EntityId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Region.
    pub region: String,
    /// Address.
    pub address: String,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Contact person.
    pub contact_person: String,
    /// Contact phone.
    pub contact_phone: String,
    /// Stage bits.
    pub stages: i32,
    /// Categories as a JSON array.
    pub categories: String,
    /// Site.
    pub site_id: Option<SiteId>,
    /// Merchant code.
    pub merchant_code: Option<String>,
    /// Merchant type.
    pub merchant_type: Option<String>,
    /// Varieties.
    pub varieties: String,
    /// Filing time.
    pub filed_at: NaiveDateTime,
    /// Review status.
    pub status: String,
    /// Rejection reason.
    pub status_reason: String,
    /// Version.
    pub version: i32,
    /// Who made the version in force.
    pub version_actor: String,
    /// What made it (registered, changed, change approved …).
    pub version_note: String,
    /// Created.
    pub created_at: NaiveDateTime,
    /// Updated.
    pub updated_at: NaiveDateTime,
    /// The product families (top-level categories) of `categories` as bits, for filters the
    /// search index can test.
    pub category_families: i64,
    /// GLN.
    pub gln: Option<String>,
}

/// A row as the bulk path inserts it: borrowed from an [`EntityRow`], with timestamps bound
/// by [`StoredTime`].
#[derive(Debug, Insertable)]
#[diesel(table_name = entities, treat_none_as_default_value = false)]
pub struct EntityInsert<'a> {
    id: &'a str,
    tenant_id: &'a str,
    code: &'a str,
    name: &'a str,
    kind: &'a str,
    region: &'a str,
    address: &'a str,
    longitude: Option<f64>,
    latitude: Option<f64>,
    contact_person: &'a str,
    contact_phone: &'a str,
    stages: i32,
    categories: &'a str,
    site_id: Option<&'a str>,
    merchant_code: Option<&'a str>,
    merchant_type: Option<&'a str>,
    varieties: &'a str,
    filed_at: StoredTime,
    status: &'a str,
    status_reason: &'a str,
    version: i32,
    version_actor: &'a str,
    version_note: &'a str,
    created_at: StoredTime,
    updated_at: StoredTime,
    category_families: i64,
    gln: Option<&'a str>,
}

impl EntityInsert<'_> {
    /// The entity code.
    pub fn code(&self) -> &str {
        self.code
    }
}

impl EntityRow {
    /// The row as the bulk path inserts it.
    pub fn for_insert(&self) -> EntityInsert<'_> {
        EntityInsert {
            id: self.id.as_str(),
            tenant_id: self.tenant_id.as_str(),
            code: &self.code,
            name: &self.name,
            kind: &self.kind,
            region: &self.region,
            address: &self.address,
            longitude: self.longitude,
            latitude: self.latitude,
            contact_person: &self.contact_person,
            contact_phone: &self.contact_phone,
            stages: self.stages,
            categories: &self.categories,
            site_id: self.site_id.as_ref().map(SiteId::as_str),
            merchant_code: self.merchant_code.as_deref(),
            merchant_type: self.merchant_type.as_deref(),
            varieties: &self.varieties,
            filed_at: StoredTime(self.filed_at),
            status: &self.status,
            status_reason: &self.status_reason,
            version: self.version,
            version_actor: &self.version_actor,
            version_note: &self.version_note,
            created_at: StoredTime(self.created_at),
            updated_at: StoredTime(self.updated_at),
            category_families: self.category_families,
            gln: self.gln.as_deref(),
        }
    }

    /// A new row for `data`.
    pub fn new(
        id: EntityId,
        tenant: &TenantId,
        data: &EntityData,
        status: &str,
        actor: &str,
        note: &str,
        now: NaiveDateTime,
    ) -> EntityRow {
        EntityRow {
            id,
            tenant_id: tenant.clone(),
            code: data.code.clone(),
            name: data.name.clone(),
            kind: data.kind.as_str().to_owned(),
            region: data.region.clone(),
            address: data.address.clone(),
            longitude: data.longitude,
            latitude: data.latitude,
            contact_person: data.contact_person.clone(),
            contact_phone: data.contact_phone.clone(),
            stages: Stage::to_bits(&data.stages),
            categories: serde_json::to_string(&data.categories).unwrap_or_else(|_| "[]".into()),
            site_id: data.site_id.clone(),
            merchant_code: data.merchant_code.clone(),
            merchant_type: data.merchant_type.clone(),
            varieties: data.varieties.clone(),
            filed_at: data.filed_at,
            status: status.to_owned(),
            status_reason: String::new(),
            version: 1,
            version_actor: actor.to_owned(),
            version_note: note.to_owned(),
            created_at: now,
            updated_at: now,
            category_families: catalogue::family_bits(&data.categories),
            gln: data.gln.clone(),
        }
    }

    /// The content of the row.
    pub fn data(&self) -> EntityData {
        EntityData {
            code: self.code.clone(),
            name: self.name.clone(),
            kind: EntityKind::parse(&self.kind).unwrap_or(EntityKind::Other),
            region: self.region.clone(),
            address: self.address.clone(),
            longitude: self.longitude,
            latitude: self.latitude,
            contact_person: self.contact_person.clone(),
            contact_phone: self.contact_phone.clone(),
            stages: Stage::from_bits(self.stages),
            categories: serde_json::from_str(&self.categories).unwrap_or_default(),
            site_id: self.site_id.clone(),
            merchant_code: self.merchant_code.clone(),
            merchant_type: self.merchant_type.clone(),
            varieties: self.varieties.clone(),
            gln: self.gln.clone(),
            filed_at: self.filed_at,
        }
    }

    /// The row as shown.
    pub fn view(&self) -> Entity {
        let d = self.data();
        Entity {
            id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            region_name: RegionCode::parse(&d.region).map(|r| r.name().to_owned()).unwrap_or_default(),
            code: d.code,
            name: d.name,
            kind: d.kind,
            region: d.region,
            address: d.address,
            longitude: d.longitude,
            latitude: d.latitude,
            contact_person: d.contact_person,
            contact_phone: d.contact_phone,
            stages: d.stages,
            categories: d.categories,
            site_id: d.site_id,
            merchant_code: d.merchant_code,
            merchant_type: d.merchant_type,
            varieties: d.varieties,
            gln: d.gln,
            filed_at: d.filed_at,
            status: self.status.clone(),
            status_reason: self.status_reason.clone(),
            version: self.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> EntityInput {
        serde_json::from_value(serde_json::json!({
            "code": "91350100M000100Y43", "name": "福州示例食品有限公司", "kind": "enterprise", "region": "350102",
            "longitude": 119.3, "latitude": 26.08, "stages": ["processing", "distribution_sale"], "categories": ["02"]
        }))
        .expect("input")
    }

    #[test]
    fn shape_rules_name_their_field() {
        let fj = RegionCode::parse("350000").expect("region");
        assert!(validate_shape(&input(), &fj).is_ok());
        let zj = RegionCode::parse("330000").expect("region");
        assert_eq!(validate_shape(&input(), &zj).expect_err("outside").field.as_deref(), Some("region"));
        let mut bad = input();
        bad.code = "91350100M000100Y44".into();
        let e = validate_shape(&bad, &fj).expect_err("check");
        assert_eq!(e.field.as_deref(), Some("code"));
        assert!(e.detail_zh.contains("校验位"), "{}", e.detail_zh);
        let mut bad = input();
        bad.latitude = None;
        assert_eq!(validate_shape(&bad, &fj).expect_err("half").field.as_deref(), Some("latitude"));
        let mut bad = input();
        bad.merchant_code = Some("A-01".into());
        assert_eq!(validate_shape(&bad, &fj).expect_err("site").field.as_deref(), Some("site_code"));
        let mut bad = input();
        bad.contact_phone = "0591-1234'; --".into();
        assert_eq!(validate_shape(&bad, &fj).expect_err("phone").field.as_deref(), Some("contact_phone"));
    }

    #[test]
    fn changed_fields_and_partial_application() {
        let fj = RegionCode::parse("350000").expect("region");
        let a = validate_shape(&input(), &fj).expect("a");
        let mut b = a.clone();
        b.name = "新名称".into();
        b.contact_phone = "0591-88888888".into();
        let changed = a.changed_fields(&b);
        assert_eq!(changed.into_iter().collect::<Vec<_>>(), vec!["contact_phone", "name"]);
        let only_phone: BTreeSet<&str> = ["contact_phone"].into_iter().collect();
        let c = a.with_fields_from(&b, &only_phone);
        assert_eq!(c.name, a.name);
        assert_eq!(c.contact_phone, b.contact_phone);
    }
}
