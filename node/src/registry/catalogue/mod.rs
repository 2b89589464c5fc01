//! The product catalogue (产品目录).
//!
//! Rules kept here:
//! - the seven national families of the standard are the top level (codes `01`–`07`), seeded
//!   at migration time; lower national levels arrive from the national node later;
//! - a child's code is its parent's code plus two digits; national segments are `01`–`49` and
//!   local segments `50`–`99`, so a local sub-category can never collide with a national one
//!   that arrives later, and national codes are never renumbered;
//! - every change bumps the catalogue version; products may only reference leaf categories;
//! - `origin` keeps the national and local parts apart.

pub mod api;
pub mod pages;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{catalogue_versions, product_categories};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// The national top level: the seven product families of GB/T 38157.
pub const NATIONAL_FAMILIES: [(&str, &str); 7] = [
    ("01", "食用农产品"),
    ("02", "食品"),
    ("03", "药品"),
    ("04", "农业生产资料"),
    ("05", "特种设备"),
    ("06", "危险品"),
    ("07", "稀土产品"),
];

/// The bit of the family (top-level category) that `code` belongs to: family `01` is bit 0.
/// Top-level codes are national segments `01`–`49`, so the bits fit a 64-bit column.
pub fn family_bit(code: &str) -> Option<i64> {
    let n: u32 = code.get(..2)?.parse().ok()?;
    (1..=63).contains(&n).then(|| 1i64 << (n - 1))
}

/// The families of `categories` as bits (what `entities.category_families` stores).
pub fn family_bits(categories: &[String]) -> i64 {
    categories.iter().filter_map(|c| family_bit(c)).fold(0, |acc, b| acc | b)
}

/// A category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = product_categories)]
pub struct Category {
    /// Code: the parent's code plus two digits.
    pub code: String,
    /// Parent code; `None` at the top level.
    pub parent_code: Option<String>,
    /// Name.
    pub name: String,
    /// Level from 1.
    pub level: i32,
    /// `national` or `local`.
    pub origin: String,
    /// Catalogue version that last changed it.
    pub catalogue_version: i64,
    /// Retired categories stay for old references but take no new ones.
    pub retired: bool,
    /// Created (UTC).
    #[serde(skip)]
    pub created_at: chrono::NaiveDateTime,
    /// Updated (UTC).
    #[serde(skip)]
    pub updated_at: chrono::NaiveDateTime,
}

/// A request to add a local sub-category.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    /// The parent's code.
    pub parent_code: String,
    /// The new code: the parent's code plus a local segment `50`–`99`.
    pub code: String,
    /// Name, 1–50 characters.
    pub name: String,
}

fn next_version(conn: &mut DbConnection, origin: &str, note: &str) -> AppResult<i64> {
    let current: Option<i64> =
        catalogue_versions::table.select(diesel::dsl::max(catalogue_versions::version)).first(conn)?;
    let version = current.unwrap_or(0) + 1;
    diesel::insert_into(catalogue_versions::table)
        .values((
            catalogue_versions::version.eq(version),
            catalogue_versions::origin.eq(origin),
            catalogue_versions::note.eq(note),
            catalogue_versions::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(version)
}

/// Inserts the national families if the catalogue is empty (idempotent).
pub fn seed_national(conn: &mut DbConnection) -> AppResult<()> {
    let count: i64 = product_categories::table.count().get_result(conn)?;
    if count > 0 {
        return Ok(());
    }
    let version = next_version(conn, "national", "GB/T 38157 product families")?;
    let now = crate::db::now();
    for (code, name) in NATIONAL_FAMILIES {
        diesel::insert_into(product_categories::table)
            .values((
                product_categories::code.eq(code),
                product_categories::parent_code.eq(None::<String>),
                product_categories::name.eq(name),
                product_categories::level.eq(1),
                product_categories::origin.eq("national"),
                product_categories::catalogue_version.eq(version),
                product_categories::retired.eq(false),
                product_categories::created_at.eq(now),
                product_categories::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The whole catalogue, by code (parents before children).
pub fn list(conn: &mut DbConnection) -> AppResult<Vec<Category>> {
    Ok(product_categories::table.select(Category::as_select()).order(product_categories::code.asc()).load(conn)?)
}

/// The current catalogue version.
pub fn version(conn: &mut DbConnection) -> AppResult<i64> {
    Ok(catalogue_versions::table
        .select(diesel::dsl::max(catalogue_versions::version))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// Adds a local sub-category.
pub fn add_local(conn: &mut DbConnection, ctx: &AuditContext, new: &NewCategory) -> AppResult<Category> {
    add(conn, ctx, new, false)
}

/// Adds a category: a local one (segment 50–99) on any node, or — on the national node
/// (`national_node`) — a national one (segment 01–49), which then goes down to every node.
pub fn add(conn: &mut DbConnection, ctx: &AuditContext, new: &NewCategory, national_node: bool) -> AppResult<Category> {
    let parent: Option<Category> =
        product_categories::table.find(&new.parent_code).select(Category::as_select()).first(conn).optional()?;
    let parent =
        parent.ok_or_else(|| AppError::invalid("parent_code", "上级类目不存在", "parent category does not exist"))?;
    let segment = new.code.strip_prefix(&parent.code).unwrap_or("");
    let number = if segment.len() == 2 { segment.parse::<u8>().ok() } else { None };
    let origin = match number {
        Some(50..=99) => "local",
        Some(1..=49) if national_node => "national",
        _ if national_node => {
            return Err(AppError::invalid(
                "code",
                format!("类目代码应为上级代码 {} 加两位数字：01–49 为全国类目，50–99 为本级类目", parent.code),
                format!(
                    "a category code is its parent's code {} plus two digits: 01–49 national, 50–99 local",
                    parent.code
                ),
            ))
        }
        _ => {
            return Err(AppError::invalid(
                "code",
                format!("本级类目代码应为上级代码 {} 加两位 50–99 的数字", parent.code),
                format!("a local category code is its parent's code {} plus two digits 50–99", parent.code),
            ))
        }
    };
    let n = new.name.trim().chars().count();
    if n == 0 || n > 50 {
        return Err(AppError::invalid("name", "类目名称应为1到50个字符", "category name must be 1 to 50 characters"));
    }
    if parent.retired {
        return Err(AppError::invalid("parent_code", "上级类目已停用", "the parent category is retired"));
    }
    let exists: i64 = product_categories::table.find(&new.code).count().get_result(conn)?;
    if exists > 0 {
        return Err(AppError::conflict("类目代码已存在", "category code already exists"));
    }
    let version = next_version(conn, origin, &format!("add {}", new.code))?;
    let now = crate::db::now();
    diesel::insert_into(product_categories::table)
        .values((
            product_categories::code.eq(&new.code),
            product_categories::parent_code.eq(Some(&parent.code)),
            product_categories::name.eq(new.name.trim()),
            product_categories::level.eq(parent.level + 1),
            product_categories::origin.eq(origin),
            product_categories::catalogue_version.eq(version),
            product_categories::retired.eq(false),
            product_categories::created_at.eq(now),
            product_categories::updated_at.eq(now),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "catalogue.add",
        &format!("category:{}", new.code),
        Outcome::Success,
        serde_json::json!({"name": new.name.trim(), "parent": parent.code, "version": version}),
    )?;
    Ok(product_categories::table.find(&new.code).select(Category::as_select()).first(conn)?)
}

/// Checks that every code names an existing, unretired category; returns the codes sorted
/// and de-duplicated.
pub fn check_codes(conn: &mut DbConnection, field: &str, codes: &[String]) -> AppResult<Vec<String>> {
    let mut wanted: Vec<String> = codes.iter().map(|c| c.trim().to_owned()).collect();
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return Ok(wanted);
    }
    let found: Vec<String> = product_categories::table
        .filter(product_categories::code.eq_any(&wanted))
        .filter(product_categories::retired.eq(false))
        .select(product_categories::code)
        .load(conn)?;
    if let Some(missing) = wanted.iter().find(|c| !found.contains(c)) {
        return Err(AppError::invalid(
            field,
            format!("未知的产品类目：{missing}"),
            format!("unknown product category: {missing}"),
        ));
    }
    Ok(wanted)
}

/// Whether `code` is a leaf (has no children).
pub fn is_leaf(conn: &mut DbConnection, code: &str) -> AppResult<bool> {
    let children: i64 =
        product_categories::table.filter(product_categories::parent_code.eq(code)).count().get_result(conn)?;
    Ok(children == 0)
}

/// One category in an exported or imported catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueEntry {
    /// Code.
    pub code: String,
    /// Parent code; `None` at the top level.
    pub parent_code: Option<String>,
    /// Name.
    pub name: String,
    /// `national` or `local`.
    pub origin: String,
    /// Retired categories take no new references.
    #[serde(default)]
    pub retired: bool,
}

/// The catalogue as a document: what export writes and import reads.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueDocument {
    /// The catalogue version exported (informative on import).
    #[serde(default)]
    pub version: i64,
    /// Categories, parents before children.
    pub categories: Vec<CatalogueEntry>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReceipt {
    /// Local categories added.
    pub added: usize,
    /// Categories already present with the same name.
    pub unchanged: usize,
    /// The catalogue version after the import.
    pub version: i64,
}

/// The most categories one import may carry.
pub const MAX_IMPORT: usize = 5_000;

/// The whole catalogue, parents before children.
pub fn export(conn: &mut DbConnection) -> AppResult<CatalogueDocument> {
    let mut categories: Vec<CatalogueEntry> = list(conn)?
        .into_iter()
        .map(|c| CatalogueEntry {
            code: c.code,
            parent_code: c.parent_code,
            name: c.name,
            origin: c.origin,
            retired: c.retired,
        })
        .collect();
    categories.sort_by(|a, b| (a.code.len(), &a.code).cmp(&(b.code.len(), &b.code)));
    Ok(CatalogueDocument { version: version(conn)?, categories })
}

/// Imports a catalogue document inside the caller's transaction: local categories that are
/// new are added under the code rule; categories already present with the same name are left
/// as they are. A national category this node lacks, a name that differs from the one in
/// force, or any rule broken refuses the whole import (the caller's transaction rolls back),
/// naming the entry.
pub fn import(conn: &mut DbConnection, ctx: &AuditContext, doc: &CatalogueDocument) -> AppResult<ImportReceipt> {
    if doc.categories.len() > MAX_IMPORT {
        return Err(AppError::invalid(
            "categories",
            format!("一次最多导入{MAX_IMPORT}个类目"),
            format!("at most {MAX_IMPORT} categories an import"),
        ));
    }
    let mut entries: Vec<(usize, &CatalogueEntry)> = doc.categories.iter().enumerate().collect();
    entries.sort_by_key(|(_, e)| e.code.len());
    let (mut added, mut unchanged) = (0, 0);
    for (i, e) in entries {
        let field = format!("categories[{i}]");
        let existing: Option<Category> =
            product_categories::table.find(&e.code).select(Category::as_select()).first(conn).optional()?;
        match existing {
            Some(c) if c.name == e.name.trim() => unchanged += 1,
            Some(c) => {
                return Err(AppError::invalid(
                    &field,
                    format!("类目 {} 在本节点名为“{}”，导入文件中为“{}”", e.code, c.name, e.name),
                    format!("category {} is named {:?} here but {:?} in the file", e.code, c.name, e.name),
                ))
            }
            None if e.origin != "local" => {
                return Err(AppError::invalid(
                    &field,
                    format!("全国类目 {} 只能由国家节点下发，不能导入", e.code),
                    format!("national category {} comes from the national node and cannot be imported", e.code),
                ))
            }
            None => {
                let parent = e.parent_code.clone().unwrap_or_default();
                let new = NewCategory { parent_code: parent, code: e.code.clone(), name: e.name.clone() };
                add_local(conn, ctx, &new).map_err(|err| {
                    AppError::invalid(
                        &field,
                        format!("类目 {}：{}", e.code, err.detail_zh),
                        format!("category {}: {}", e.code, err.detail_en),
                    )
                })?;
                added += 1;
            }
        }
    }
    audit::record(
        conn,
        ctx,
        "catalogue.import",
        "catalogue",
        Outcome::Success,
        serde_json::json!({"added": added, "unchanged": unchanged}),
    )?;
    Ok(ImportReceipt { added, unchanged, version: version(conn)? })
}

/// The national part of the catalogue, parents before children: what the national node
/// sends down.
pub fn national_document(conn: &mut DbConnection) -> AppResult<CatalogueDocument> {
    let mut doc = export(conn)?;
    doc.categories.retain(|c| c.origin == "national");
    Ok(doc)
}

/// Takes the national catalogue as it came down: national categories this node lacks are
/// added, names and retirements of national ones follow the document; local sub-categories
/// are never touched. Returns how many categories changed.
pub fn apply_national(conn: &mut DbConnection, doc: &CatalogueDocument) -> AppResult<usize> {
    let mut entries: Vec<&CatalogueEntry> = doc.categories.iter().filter(|e| e.origin == "national").collect();
    entries.sort_by(|a, b| (a.code.len(), &a.code).cmp(&(b.code.len(), &b.code)));
    let mut changed = Vec::new();
    for e in entries {
        let existing: Option<Category> =
            product_categories::table.find(&e.code).select(Category::as_select()).first(conn).optional()?;
        match existing {
            Some(c) if c.origin != "national" => {
                return Err(AppError::invalid(
                    "categories",
                    format!("全国类目 {} 与本级类目冲突", e.code),
                    format!("national category {} collides with a local one", e.code),
                ))
            }
            Some(c) if c.name == e.name && c.retired == e.retired => {}
            Some(_) => changed.push((e, false)),
            None => changed.push((e, true)),
        }
    }
    if changed.is_empty() {
        return Ok(0);
    }
    let version = next_version(conn, "national", &format!("national catalogue {}", doc.version))?;
    let now = crate::db::now();
    for (e, new) in &changed {
        if *new {
            let level = match &e.parent_code {
                Some(p) => {
                    product_categories::table
                        .find(p)
                        .select(product_categories::level)
                        .first::<i32>(conn)
                        .optional()?
                        .ok_or_else(|| {
                        AppError::invalid(
                            "categories",
                            format!("类目 {} 的上级不存在", e.code),
                            format!("category {}: parent missing", e.code),
                        )
                    })? + 1
                }
                None => 1,
            };
            diesel::insert_into(product_categories::table)
                .values((
                    product_categories::code.eq(&e.code),
                    product_categories::parent_code.eq(e.parent_code.as_ref()),
                    product_categories::name.eq(&e.name),
                    product_categories::level.eq(level),
                    product_categories::origin.eq("national"),
                    product_categories::catalogue_version.eq(version),
                    product_categories::retired.eq(e.retired),
                    product_categories::created_at.eq(now),
                    product_categories::updated_at.eq(now),
                ))
                .execute(conn)?;
        } else {
            diesel::update(product_categories::table.find(&e.code))
                .set((
                    product_categories::name.eq(&e.name),
                    product_categories::retired.eq(e.retired),
                    product_categories::catalogue_version.eq(version),
                    product_categories::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    Ok(changed.len())
}
