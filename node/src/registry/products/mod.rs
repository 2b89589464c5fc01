//! Product registrations (产品注册): a product code under its scheme (GS1 GTIN checked by its
//! check digit; Ecode, Handle, drug and local codes by syntax), name, one **leaf** category of
//! the catalogue, specification, brand, shelf life and the owning entity. Reviewed, versioned
//! and changed under the same rules as entities ([`crate::registry::review`]); the code is unique per
//! scheme in the node, and the same code from another tenant becomes a duplicate claim.

use std::collections::BTreeSet;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_adapters::identifiers::{CodeScheme, ProductCode};

pub mod api;
pub mod pages;

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{entities, product_categories, product_versions, products};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::{EntityId, ProductId, TenantId};
use crate::registry::catalogue;
use crate::registry::model::text;
use crate::registry::review::{self, Fields, Reviewed};
use crate::registry::search::{escape_like, prefix_upper, Reach};

/// A product as submitted.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// `gs1`, `ecode`, `handle`, `drug` or `local`.
    #[schema(value_type = String)]
    pub scheme: CodeScheme,
    /// The code under its scheme (a GTIN-8/12/13/14 for `gs1`).
    pub code: String,
    /// Name, 1–100 characters.
    pub name: String,
    /// A leaf category of the catalogue.
    pub category: String,
    /// Specification (规格), e.g. 500g/袋; at most 100 characters.
    #[serde(default)]
    pub specification: String,
    /// Brand, at most 50 characters.
    #[serde(default)]
    pub brand: String,
    /// Shelf life in days, 1–36,500.
    pub shelf_life_days: Option<i32>,
    /// The owning entity's unified social credit code; it must be registered by the same
    /// tenant.
    pub entity_code: String,
    /// The tenant, for node staff registering on a tenant's behalf; tenant callers always
    /// register for their own tenant.
    pub tenant_id: Option<TenantId>,
}

/// Validated product content: what versions store and roll-ups send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductData {
    /// Scheme.
    pub scheme: CodeScheme,
    /// Code in its normal form.
    pub code: String,
    /// Name.
    pub name: String,
    /// Leaf category.
    pub category: String,
    /// Specification.
    pub specification: String,
    /// Brand.
    pub brand: String,
    /// Shelf life (days).
    pub shelf_life_days: Option<i32>,
    /// Owning entity id.
    pub entity_id: EntityId,
}

impl Fields for ProductData {
    const FIELDS: &'static [&'static str] = &["name", "category", "specification", "brand", "shelf_life", "entity"];
    const REVIEWED_BY_DEFAULT: &'static [&'static str] = &["name", "category", "entity"];

    fn changed_fields(&self, other: &Self) -> BTreeSet<&'static str> {
        [
            (self.name != other.name, "name"),
            (self.category != other.category, "category"),
            (self.specification != other.specification, "specification"),
            (self.brand != other.brand, "brand"),
            (self.shelf_life_days != other.shelf_life_days, "shelf_life"),
            (self.entity_id != other.entity_id, "entity"),
        ]
        .into_iter()
        .filter_map(|(changed, f)| changed.then_some(f))
        .collect()
    }

    fn with_fields_from(&self, other: &Self, fields: &BTreeSet<&str>) -> Self {
        let mut out = self.clone();
        for f in fields {
            match *f {
                "name" => out.name = other.name.clone(),
                "category" => out.category = other.category.clone(),
                "specification" => out.specification = other.specification.clone(),
                "brand" => out.brand = other.brand.clone(),
                "shelf_life" => out.shelf_life_days = other.shelf_life_days,
                "entity" => out.entity_id = other.entity_id.clone(),
                _ => {}
            }
        }
        out
    }
}

/// The stored row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = products, treat_none_as_default_value = false)]
pub struct ProductRow {
    /// Id.
    pub id: ProductId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Owning entity.
    pub entity_id: EntityId,
    /// Scheme.
    pub scheme: String,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Leaf category.
    pub category_code: String,
    /// Specification.
    pub specification: String,
    /// Brand.
    pub brand: String,
    /// Shelf life (days).
    pub shelf_life_days: Option<i32>,
    /// Review status.
    pub status: String,
    /// Rejection reason.
    pub status_reason: String,
    /// Version.
    pub version: i32,
    /// Who made the version in force.
    pub version_actor: String,
    /// What made it.
    pub version_note: String,
    /// Created.
    pub created_at: chrono::NaiveDateTime,
    /// Updated.
    pub updated_at: chrono::NaiveDateTime,
}

/// A product as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Product {
    /// Id.
    pub id: ProductId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Owning entity.
    pub entity_id: EntityId,
    /// Scheme.
    pub scheme: String,
    /// Chinese name of the scheme.
    pub scheme_label: String,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Leaf category.
    pub category: String,
    /// Specification.
    pub specification: String,
    /// Brand.
    pub brand: String,
    /// Shelf life (days).
    pub shelf_life_days: Option<i32>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Reason of a rejection.
    pub status_reason: String,
    /// Version in force.
    pub version: i32,
    /// Registered (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl Product {
    /// The kind name of products in changes, policies, the outbox and audit rows.
    pub const KIND_NAME: &'static str = "product";

    /// Chinese label of the review status.
    pub fn status_label(&self) -> &'static str {
        crate::registry::vocabulary::status_zh(&self.status)
    }
}

impl ProductRow {
    fn new(id: ProductId, tenant: &TenantId, data: &ProductData, status: &str, actor: &str, note: &str) -> ProductRow {
        let now = crate::db::now();
        ProductRow {
            id,
            tenant_id: tenant.clone(),
            entity_id: data.entity_id.clone(),
            scheme: data.scheme.as_str().to_owned(),
            code: data.code.clone(),
            name: data.name.clone(),
            category_code: data.category.clone(),
            specification: data.specification.clone(),
            brand: data.brand.clone(),
            shelf_life_days: data.shelf_life_days,
            status: status.to_owned(),
            status_reason: String::new(),
            version: 1,
            version_actor: actor.to_owned(),
            version_note: note.to_owned(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The row as shown.
    pub fn view(&self) -> Product {
        let scheme = CodeScheme::parse(&self.scheme);
        Product {
            id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            entity_id: self.entity_id.clone(),
            scheme: self.scheme.clone(),
            scheme_label: scheme.map(|s| s.label_zh().to_owned()).unwrap_or_default(),
            code: self.code.clone(),
            name: self.name.clone(),
            category: self.category_code.clone(),
            specification: self.specification.clone(),
            brand: self.brand.clone(),
            shelf_life_days: self.shelf_life_days,
            status: self.status.clone(),
            status_reason: self.status_reason.clone(),
            version: self.version,
            created_at: self.created_at,
        }
    }
}

impl Reviewed for ProductRow {
    const KIND: &'static str = Product::KIND_NAME;
    const NOUN_ZH: &'static str = "产品";
    type Data = ProductData;
    type Id = ProductId;

    fn load(conn: &mut DbConnection, id: &ProductId) -> AppResult<Self> {
        products::table
            .find(id)
            .select(ProductRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("产品", "product"))
    }
    fn id(&self) -> &ProductId {
        &self.id
    }
    fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }
    fn code(&self) -> &str {
        &self.code
    }
    fn status(&self) -> &str {
        &self.status
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn data(&self) -> ProductData {
        ProductData {
            scheme: CodeScheme::parse(&self.scheme).unwrap_or(CodeScheme::Local),
            code: self.code.clone(),
            name: self.name.clone(),
            category: self.category_code.clone(),
            specification: self.specification.clone(),
            brand: self.brand.clone(),
            shelf_life_days: self.shelf_life_days,
            entity_id: self.entity_id.clone(),
        }
    }

    fn write_version(
        conn: &mut DbConnection,
        actor: &str,
        current: &Self,
        data: &ProductData,
        status: &str,
        tenant: &TenantId,
        note: &str,
    ) -> AppResult<Self> {
        diesel::insert_into(product_versions::table)
            .values((
                product_versions::product_id.eq(&current.id),
                product_versions::version.eq(current.version),
                product_versions::data.eq(serde_json::to_string(&current.data()).map_err(AppError::internal)?),
                product_versions::actor.eq(&current.version_actor),
                product_versions::note.eq(&current.version_note),
                product_versions::created_at.eq(current.updated_at),
            ))
            .execute(conn)?;
        let mut next = ProductRow::new(current.id.clone(), tenant, data, status, actor, note);
        next.version = current.version + 1;
        next.created_at = current.created_at;
        diesel::update(products::table.find(&current.id))
            .set((
                products::tenant_id.eq(&next.tenant_id),
                products::entity_id.eq(&next.entity_id),
                products::name.eq(&next.name),
                products::category_code.eq(&next.category_code),
                products::specification.eq(&next.specification),
                products::brand.eq(&next.brand),
                products::shelf_life_days.eq(next.shelf_life_days),
                products::status.eq(status),
                products::status_reason.eq(""),
                products::version.eq(next.version),
                products::version_actor.eq(&next.version_actor),
                products::version_note.eq(&next.version_note),
                products::updated_at.eq(next.updated_at),
            ))
            .execute(conn)?;
        Ok(next)
    }

    fn set_status(conn: &mut DbConnection, id: &ProductId, status: &str, reason: &str) -> AppResult<()> {
        diesel::update(products::table.find(id))
            .set((
                products::status.eq(status),
                products::status_reason.eq(reason),
                products::updated_at.eq(crate::db::now()),
            ))
            .execute(conn)?;
        Ok(())
    }
}

fn check_category(conn: &mut DbConnection, code: &str) -> AppResult<String> {
    let code = code.trim().to_owned();
    let found: Option<bool> =
        product_categories::table.find(&code).select(product_categories::retired).first(conn).optional()?;
    match found {
        Some(false) if catalogue::is_leaf(conn, &code)? => Ok(code),
        Some(false) => Err(AppError::invalid(
            "category",
            format!("产品只能归入末级类目，{code} 还有下级类目"),
            format!("a product belongs to a leaf category; {code} has sub-categories"),
        )),
        _ => Err(AppError::invalid(
            "category",
            format!("未知或已停用的产品类目：{code}"),
            format!("unknown or retired product category: {code}"),
        )),
    }
}

/// Validates a submission for `tenant`: code under its scheme, texts, leaf category and the
/// owning entity (registered by the same tenant).
pub fn validate(conn: &mut DbConnection, input: &ProductInput, tenant: &TenantId) -> AppResult<ProductData> {
    let code = ProductCode::parse(input.scheme, &input.code).map_err(|e| {
        AppError::from_identifier(
            "code",
            &format!("{}无效：", input.scheme.label_zh()),
            &format!("invalid {} code: ", input.scheme),
            &e,
        )
    })?;
    let name = text("name", &input.name, 100, true)?;
    let specification = text("specification", &input.specification, 100, false)?;
    let brand = text("brand", &input.brand, 50, false)?;
    if input.shelf_life_days.is_some_and(|d| !(1..=36_500).contains(&d)) {
        return Err(AppError::invalid(
            "shelf_life_days",
            "保质期应在1到36500天之间",
            "shelf_life_days must be 1 to 36500",
        ));
    }
    let category = check_category(conn, &input.category)?;
    let owner: Option<(EntityId, TenantId)> = entities::table
        .filter(entities::code.eq(input.entity_code.trim().to_ascii_uppercase()))
        .select((entities::id, entities::tenant_id))
        .first(conn)
        .optional()?;
    let entity_id = match owner {
        Some((id, t)) if t == *tenant => id,
        _ => {
            return Err(AppError::invalid(
                "entity_code",
                format!("主体 {} 未登记或不属于本租户", input.entity_code.trim()),
                format!("entity {} is not registered by this tenant", input.entity_code.trim()),
            ))
        }
    };
    Ok(ProductData {
        scheme: code.scheme,
        code: code.value,
        name,
        category,
        specification,
        brand,
        shelf_life_days: input.shelf_life_days,
        entity_id,
    })
}

/// What a product registration led to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ProductRegistered {
    /// A new product, pending review.
    Created {
        /// The product.
        product: Box<Product>,
    },
    /// Another tenant registered the code: the submission waits for review.
    DuplicateClaim {
        /// The change awaiting review.
        change_id: String,
        /// The existing product: another tenant's, so its id is never sent to the claimant.
        #[serde(skip_serializing)]
        product_id: ProductId,
    },
}

/// The row registered under `scheme` and `code`, if any.
pub fn by_code(conn: &mut DbConnection, scheme: CodeScheme, code: &str) -> AppResult<Option<ProductRow>> {
    Ok(products::table
        .filter(products::scheme.eq(scheme.as_str()))
        .filter(products::code.eq(code))
        .select(ProductRow::as_select())
        .first(conn)
        .optional()?)
}

/// Registers a product for `tenant`.
pub fn register(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    input: &ProductInput,
) -> AppResult<ProductRegistered> {
    let data = validate(conn, input, tenant)?;
    let target = format!("product:{}:{}", data.scheme, data.code);
    if let Some(existing) = by_code(conn, data.scheme, &data.code)? {
        if existing.tenant_id == *tenant {
            return Err(AppError::conflict(
                format!("产品编码 {} 已由本租户登记，请修改原登记", data.code),
                format!("product code {} is already registered by this tenant: change that registration", data.code),
            ));
        }
        let change_id = review::create_claim(conn, ctx, &existing, tenant, &data)?;
        audit::record(
            conn,
            ctx,
            "product.duplicate_claim",
            &target,
            Outcome::Success,
            serde_json::json!({"change_id": change_id, "owner": existing.tenant_id}),
        )?;
        return Ok(ProductRegistered::DuplicateClaim { change_id, product_id: existing.id });
    }
    let row = ProductRow::new(
        ProductId::generate(),
        tenant,
        &data,
        crate::registry::review::ReviewStatus::Pending.as_str(),
        &ctx.actor,
        "registered",
    );
    diesel::insert_into(products::table).values(&row).execute(conn)?;
    audit::record(conn, ctx, "product.register", &target, Outcome::Success, serde_json::json!({"id": row.id}))?;
    Ok(ProductRegistered::Created { product: Box::new(row.view()) })
}

/// Changes a product owned by `tenant` (see [`review::change`]); the code and scheme cannot
/// change.
pub fn change(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    id: &ProductId,
    input: &ProductInput,
) -> AppResult<(Product, review::ChangeOutcome)> {
    let current = ProductRow::load(conn, id)?;
    let proposed = validate(conn, input, &current.tenant_id.clone())?;
    if proposed.scheme.as_str() != current.scheme || proposed.code != current.code {
        return Err(AppError::invalid("code", "产品编码不能修改", "the code of a product cannot change"));
    }
    let (row, outcome) = review::change(conn, ctx, tenant, current, &proposed)?;
    Ok((row.view(), outcome))
}

/// Every version of a product, oldest first.
pub fn versions(conn: &mut DbConnection, id: &ProductId) -> AppResult<Vec<crate::registry::entities::EntityVersion>> {
    let current = ProductRow::load(conn, id)?;
    let mut list: Vec<crate::registry::entities::EntityVersion> = product_versions::table
        .filter(product_versions::product_id.eq(id))
        .select((
            product_versions::version,
            product_versions::data,
            product_versions::actor,
            product_versions::note,
            product_versions::created_at,
        ))
        .order(product_versions::version.asc())
        .load(conn)?;
    list.push(crate::registry::entities::EntityVersion {
        version: current.version,
        data: serde_json::to_string(&current.data()).map_err(AppError::internal)?,
        actor: current.version_actor.clone(),
        note: current.version_note.clone(),
        created_at: current.updated_at,
    });
    Ok(list)
}

/// Product search filters; all optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProductQuery {
    /// The start of the code, or part of the name or brand.
    pub q: Option<String>,
    /// Category code: the whole subtree.
    pub category: Option<String>,
    /// Scheme.
    pub scheme: Option<String>,
    /// The owning entity's id.
    pub entity_id: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: Option<String>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Rows per page, 1–200 (default 20).
    pub page_size: Option<i64>,
}

/// One page of products.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductPage {
    /// The rows, newest first.
    pub rows: Vec<Product>,
    /// Rows matching.
    pub total: i64,
    /// Page from 1.
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
}

type Boxed<'a> = products::BoxedQuery<'a, crate::db::MultiBackend>;

fn filtered<'a>(q: &'a ProductQuery, reach: &'a Reach, backend: crate::config::Backend) -> AppResult<Boxed<'a>> {
    let mut b = products::table.into_boxed();
    if let Some(t) = &reach.tenant {
        b = b.filter(products::tenant_id.eq(t));
    }
    if !reach.tenants.is_empty() {
        b = b.filter(products::tenant_id.eq_any(&reach.tenants));
    }
    if let Some(prefix) = reach.region.as_ref().map(|r| r.subtree_prefix().to_owned()).filter(|p| !p.is_empty()) {
        // A product is in the region of its owning entity.
        let owners = entities::table
            .filter(entities::region.ge(prefix.clone()))
            .filter(entities::region.lt(prefix_upper(&prefix)))
            .select(entities::id);
        b = b.filter(products::entity_id.eq_any(owners));
    }
    for c in &reach.categories {
        b = b.filter(products::category_code.like(format!("{}%", escape_like(c))).escape('\\'));
    }
    let trimmed = |v: &'a Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(k) = trimmed(&q.q) {
        if k.chars().count() > 50 {
            return Err(AppError::invalid("q", "检索词不能超过50个字符", "search text must be at most 50 characters"));
        }
        b = b.filter(
            products::code
                .ge(k.to_owned())
                .and(products::code.lt(prefix_upper(k)))
                .or(crate::text_contains!(backend, products::table, products::name, k))
                .or(crate::text_contains!(backend, products::table, products::brand, k)),
        );
    }
    if let Some(c) = trimmed(&q.category) {
        if c.len() > 20 || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::invalid("category", "产品类目代码应为数字", "a category code is digits"));
        }
        b = b.filter(products::category_code.ge(c.to_owned())).filter(products::category_code.lt(prefix_upper(c)));
    }
    if let Some(s) = trimmed(&q.scheme) {
        let scheme = CodeScheme::parse(s).ok_or_else(|| {
            AppError::invalid("scheme", format!("未知的编码体系 {s}"), format!("unknown code scheme {s}"))
        })?;
        b = b.filter(products::scheme.eq(scheme.as_str()));
    }
    if let Some(e) = trimmed(&q.entity_id) {
        b = b.filter(products::entity_id.eq(e.to_owned()));
    }
    if let Some(s) = trimmed(&q.status) {
        if crate::registry::review::ReviewStatus::parse(s).is_none() {
            return Err(AppError::invalid(
                "status",
                "审核状态只能是 pending、approved 或 rejected",
                "status must be pending, approved or rejected",
            ));
        }
        b = b.filter(products::status.eq(s.to_owned()));
    }
    Ok(b)
}

/// One page of the products within `reach` that match `q`.
pub fn search(conn: &mut DbConnection, q: &ProductQuery, reach: &Reach) -> AppResult<ProductPage> {
    let page = q.page.unwrap_or(1);
    let page_size = q.page_size.unwrap_or(20);
    if !(1..=100_000).contains(&page) {
        return Err(AppError::invalid("page", "页码应在1到100000之间", "page must be 1 to 100000"));
    }
    if !(1..=200).contains(&page_size) {
        return Err(AppError::invalid("page_size", "每页条数应在1到200之间", "page_size must be 1 to 200"));
    }
    let total: i64 = filtered(q, reach, crate::db::backend_of(conn))?.count().get_result(conn)?;
    let rows: Vec<ProductRow> = filtered(q, reach, crate::db::backend_of(conn))?
        .select(ProductRow::as_select())
        .order((products::created_at.desc(), products::id.desc()))
        .limit(page_size)
        .offset((page - 1) * page_size)
        .load(conn)?;
    Ok(ProductPage { rows: rows.iter().map(ProductRow::view).collect(), total, page, page_size })
}

/// Whether a product lies within a caller's reach (its tenant, and its owning entity's region).
pub fn within_reach(conn: &mut DbConnection, reach: &Reach, row: &ProductRow) -> AppResult<bool> {
    let owner = crate::registry::entities::row(conn, &row.entity_id)?;
    let categories_ok =
        reach.categories.is_empty() || reach.categories.iter().any(|c| row.category_code.starts_with(c));
    Ok(crate::registry::within_reach(reach, &owner)
        && categories_ok
        && reach.tenant.as_ref().is_none_or(|t| t == &row.tenant_id))
}
