//! Searching entities (检索): one filter, used by the list, the exports, the GeoJSON endpoint
//! and the analysis, so every number the console shows matches the rows a search returns.
//!
//! Region and category filters take whole subtrees: a region code matches itself and every
//! division below it, a category code every sub-category. The caller's data scope is applied
//! on top of the filter; a filter that reaches outside the scope is refused (403).

use chrono::NaiveDate;
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_adapters::codes::Stage;

use super::catalogue::family_bit;
use super::model::{Entity, EntityKind, EntityRow};
use crate::db::schema::{entities, sites};
use crate::db::{DbConnection, MultiBackend};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::TenantId;
use crate::region::RegionCode;

/// Search filters; all optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EntityQuery {
    /// Region code: the whole subtree.
    pub region: Option<String>,
    /// `enterprise`, `individual`, `cooperative` or `other`.
    pub kind: Option<String>,
    /// Product category code: the whole subtree.
    pub category: Option<String>,
    /// Supply-chain stage code.
    pub stage: Option<String>,
    /// Site code (exact) or part of a site's name.
    pub site: Option<String>,
    /// Only merchants of sites (`true`) or only others (`false`).
    #[serde(default, deserialize_with = "blank_is_none")]
    pub merchant: Option<bool>,
    /// Merchant type (exact).
    pub merchant_type: Option<String>,
    /// Merchant code (exact).
    pub merchant_code: Option<String>,
    /// Part of the varieties sold (经营品种).
    pub variety: Option<String>,
    /// Filed on or after this date (YYYY-MM-DD, UTC).
    #[serde(default, deserialize_with = "blank_is_none")]
    pub filed_from: Option<NaiveDate>,
    /// Filed on or before this date (YYYY-MM-DD, UTC).
    #[serde(default, deserialize_with = "blank_is_none")]
    pub filed_to: Option<NaiveDate>,
    /// `pending`, `approved` or `rejected`.
    pub status: Option<String>,
    /// Keyword: the start of the code (letters and digits only), or else part of the name.
    pub q: Option<String>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Rows per page, 1–200 (default 20).
    pub page_size: Option<i64>,
    /// `filed_at` (default), `name`, `code` or `region`.
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    pub order: Option<String>,
}

/// Reads an optional value from a query string where an empty field (as an HTML form sends
/// it) means "not given".
fn blank_is_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// The caller's reach, applied on top of every filter.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Only this tenant's rows (tenant callers).
    pub tenant: Option<TenantId>,
    /// Only these tenants' rows (a scope's tenant list; empty for all).
    pub tenants: Vec<TenantId>,
    /// Only this region subtree (the node's region or the caller's scope).
    pub region: Option<RegionCode>,
    /// Only entities in these category subtrees (empty for all).
    pub categories: Vec<String>,
}

/// Lists count matching rows up to this many; beyond it they say "more than" (the analysis and
/// the exports count exactly).
pub const LIST_COUNT_LIMIT: i64 = 10_000;

/// One page of results.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntityPage {
    /// The rows.
    pub rows: Vec<Entity>,
    /// Rows matching, exact up to 10,000.
    pub total: i64,
    /// Whether more than `total` rows match (the count stopped at 10,000).
    pub total_is_lower_bound: bool,
    /// Page from 1.
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
}

type Boxed<'a> = entities::BoxedQuery<'a, MultiBackend>;

/// The exclusive upper bound of a code prefix, for range scans that use the index.
pub fn prefix_upper(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// A region subtree is a range of codes: a county is itself, a city or province every code
/// that starts with its prefix. The search index leads with the region, so the range is read
/// from the index alone.
fn region_subtree<'a>(q: Boxed<'a>, region: &RegionCode) -> Boxed<'a> {
    let prefix = region.subtree_prefix().to_owned();
    match prefix.len() {
        0 => q,
        6 => q.filter(entities::region.eq(prefix)),
        _ => q.filter(entities::region.ge(prefix.clone())).filter(entities::region.lt(prefix_upper(&prefix))),
    }
}

pub use crate::db::fold::escape_like;

/// The checked form of a query.
#[derive(Debug, Clone)]
pub struct CheckedQuery {
    region: Option<RegionCode>,
    kind: Option<EntityKind>,
    category: Option<String>,
    stage: Option<Stage>,
    site: Option<String>,
    merchant: Option<bool>,
    merchant_type: Option<String>,
    merchant_code: Option<String>,
    variety: Option<String>,
    filed_from: Option<chrono::NaiveDateTime>,
    filed_to: Option<chrono::NaiveDateTime>,
    status: Option<String>,
    keyword: Option<String>,
    /// Page from 1.
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
    sort: String,
    descending: bool,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl EntityQuery {
    /// Checks every filter, naming the field at fault.
    pub fn check(&self) -> AppResult<CheckedQuery> {
        let region = match non_empty(&self.region) {
            Some(r) => {
                Some(RegionCode::parse(&r).map_err(|e| AppError::invalid("region", e.to_string(), e.to_string()))?)
            }
            None => None,
        };
        let kind = match non_empty(&self.kind) {
            Some(k) => Some(EntityKind::parse(&k).ok_or_else(|| {
                AppError::invalid(
                    "kind",
                    "主体类型只能是 enterprise、individual、cooperative 或 other",
                    "kind must be enterprise, individual, cooperative or other",
                )
            })?),
            None => None,
        };
        let stage = match non_empty(&self.stage) {
            Some(s) => Some(Stage::from_code(&s).ok_or_else(|| {
                AppError::invalid("stage", format!("未知的追溯环节 {s}"), format!("unknown stage {s}"))
            })?),
            None => None,
        };
        let category = non_empty(&self.category);
        if category.as_deref().is_some_and(|c| c.len() > 20 || !c.bytes().all(|b| b.is_ascii_digit())) {
            return Err(AppError::invalid("category", "产品类目代码应为数字", "a category code is digits"));
        }
        let status = non_empty(&self.status);
        if status.as_deref().is_some_and(|s| super::review::ReviewStatus::parse(s).is_none()) {
            return Err(AppError::invalid(
                "status",
                "审核状态只能是 pending、approved 或 rejected",
                "status must be pending, approved or rejected",
            ));
        }
        for (name, v) in [
            ("site", &self.site),
            ("q", &self.q),
            ("merchant_type", &self.merchant_type),
            ("merchant_code", &self.merchant_code),
            ("variety", &self.variety),
        ] {
            if v.as_deref().is_some_and(|s| s.chars().count() > 50) {
                return Err(AppError::invalid(
                    name,
                    "检索词不能超过50个字符",
                    "search text must be at most 50 characters",
                ));
            }
        }
        let page = self.page.unwrap_or(1);
        let page_size = self.page_size.unwrap_or(20);
        if !(1..=100_000).contains(&page) {
            return Err(AppError::invalid("page", "页码应在1到100000之间", "page must be 1 to 100000"));
        }
        if !(1..=200).contains(&page_size) {
            return Err(AppError::invalid("page_size", "每页条数应在1到200之间", "page_size must be 1 to 200"));
        }
        let sort = self.sort.clone().unwrap_or_else(|| "filed_at".into());
        if !["filed_at", "name", "code", "region"].contains(&sort.as_str()) {
            return Err(AppError::invalid(
                "sort",
                "排序字段只能是 filed_at、name、code 或 region",
                "sort must be filed_at, name, code or region",
            ));
        }
        let descending = match self.order.as_deref().unwrap_or("desc") {
            "desc" => true,
            "asc" => false,
            _ => return Err(AppError::invalid("order", "排序方向只能是 asc 或 desc", "order must be asc or desc")),
        };
        if let (Some(a), Some(b)) = (self.filed_from, self.filed_to) {
            if a > b {
                return Err(AppError::invalid("filed_to", "结束日期早于开始日期", "filed_to is before filed_from"));
            }
        }
        Ok(CheckedQuery {
            region,
            kind,
            category,
            stage,
            site: non_empty(&self.site),
            merchant: self.merchant,
            merchant_type: non_empty(&self.merchant_type),
            merchant_code: non_empty(&self.merchant_code),
            variety: non_empty(&self.variety),
            filed_from: self.filed_from.and_then(|d| d.and_hms_opt(0, 0, 0)),
            filed_to: self.filed_to.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)),
            status,
            keyword: non_empty(&self.q),
            page,
            page_size,
            sort,
            descending,
        })
    }
}

impl CheckedQuery {
    /// Refuses a region filter outside the caller's reach.
    pub fn check_reach(&self, reach: &Reach) -> AppResult<()> {
        if let (Some(wanted), Some(allowed)) = (&self.region, &reach.region) {
            if !allowed.contains(wanted) && !wanted.contains(allowed) {
                return Err(AppError::with_detail(
                    ErrorKind::OutOfScope,
                    format!("地区 {} 超出您的数据范围 {}", wanted, allowed),
                    format!("region {wanted} is outside your scope {allowed}"),
                ));
            }
        }
        Ok(())
    }

    /// A copy with another region filter (for drill-down).
    pub fn with_region(&self, region: RegionCode) -> CheckedQuery {
        CheckedQuery { region: Some(region), ..self.clone() }
    }

    /// A copy with another stage filter.
    pub fn with_stage(&self, stage: Stage) -> CheckedQuery {
        CheckedQuery { stage: Some(stage), ..self.clone() }
    }

    /// A copy with another category filter.
    pub fn with_category(&self, category: &str) -> CheckedQuery {
        CheckedQuery { category: Some(category.to_owned()), ..self.clone() }
    }

    /// A copy restricted to merchants or non-merchants.
    pub fn with_merchant(&self, merchant: bool) -> CheckedQuery {
        CheckedQuery { merchant: Some(merchant), ..self.clone() }
    }

    /// A copy narrowed to filings in `[from, to)` (within any range already set).
    pub fn with_filed_range(
        &self,
        from: Option<chrono::NaiveDateTime>,
        to: Option<chrono::NaiveDateTime>,
    ) -> CheckedQuery {
        CheckedQuery {
            filed_from: self.filed_from.max(from),
            filed_to: match (self.filed_to, to) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            ..self.clone()
        }
    }

    /// The region filter in force.
    pub fn region(&self) -> Option<&RegionCode> {
        self.region.as_ref()
    }

    /// The category filter in force.
    pub fn category(&self) -> Option<&str> {
        self.category.as_deref()
    }

    /// The filtered query, before sorting and paging.
    fn build<'a>(&'a self, reach: &'a Reach, conn: &DbConnection) -> Boxed<'a> {
        self.build_with(reach, Plan::on(conn))
    }

    /// The filtered query under a plan.
    fn build_with<'a>(&'a self, reach: &'a Reach, plan: Plan) -> Boxed<'a> {
        let mut q = entities::table.into_boxed();
        if let Some(t) = &reach.tenant {
            q = q.filter(entities::tenant_id.eq(t));
        }
        if !reach.tenants.is_empty() {
            q = q.filter(entities::tenant_id.eq_any(&reach.tenants));
        }
        if let Some(r) = &reach.region {
            q = region_subtree(q, r);
        }
        if !reach.categories.is_empty() {
            // A scope's categories are few: match them in the entity's own category list.
            let mut any: Box<dyn BoxableExpression<entities::table, MultiBackend, SqlType = diesel::sql_types::Bool>> =
                Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0"));
            for c in &reach.categories {
                let pattern = format!("%\"{}%", escape_like(c));
                any = Box::new(any.or(entities::categories.like(pattern).escape('\\')));
            }
            q = q.filter(any);
        }
        if let Some(r) = &self.region {
            q = region_subtree(q, r);
        }
        if let Some(k) = self.kind {
            q = q.filter(entities::kind.eq(k.as_str()));
        }
        if let Some(c) = &self.category {
            // The family is a bit the search index holds; a sub-category is matched in the
            // entity's own category list (codes extend their parent's, so a prefix match is
            // the whole subtree).
            if let Some(bit) = family_bit(c) {
                q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                    "(entities.category_families & {bit}) <> 0"
                )));
            }
            if c.len() > 2 {
                q = q.filter(entities::categories.like(format!("%\"{}%", escape_like(c))).escape('\\'));
            }
        }
        if let Some(s) = self.stage {
            // The bit is a constant of the code, not input.
            q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("(entities.stages & {}) <> 0", s.bit())));
        }
        if let Some(site) = &self.site {
            // A site by its code or part of its name (`db/fold.rs`: the column itself on
            // SQLite, folded on PostgreSQL), written out per backend for the subquery.
            let pattern = crate::db::fold::containing(site);
            q = match plan.backend {
                crate::config::Backend::Sqlite => q.filter(
                    entities::site_id.eq_any(
                        sites::table
                            .filter(sites::code.eq(site).or(sites::name.like(pattern).escape('\\')))
                            .select(sites::id.nullable()),
                    ),
                ),
                crate::config::Backend::Postgres => q.filter(
                    entities::site_id.eq_any(
                        sites::table
                            .filter(
                                sites::code
                                    .eq(site)
                                    .or(crate::db::fold::fold_ascii(sites::name).like(pattern).escape('\\')),
                            )
                            .select(sites::id.nullable()),
                    ),
                ),
            };
        }
        match self.merchant {
            Some(true) => q = q.filter(entities::site_id.is_not_null()),
            Some(false) => q = q.filter(entities::site_id.is_null()),
            None => {}
        }
        if let Some(t) = &self.merchant_type {
            q = q.filter(entities::merchant_type.eq(t));
        }
        if let Some(m) = &self.merchant_code {
            q = q.filter(entities::merchant_code.eq(m));
        }
        if let Some(v) = &self.variety {
            q = q.filter(crate::text_contains!(plan.backend, entities::table, entities::varieties, v));
        }
        if let Some(t) = self.filed_from {
            q = q.filter(entities::filed_at.ge(t));
        }
        if let Some(t) = self.filed_to {
            q = q.filter(entities::filed_at.lt(t));
        }
        if let Some(s) = &self.status {
            q = q.filter(entities::status.eq(s));
        }
        if let Some(k) = &self.keyword {
            if k.bytes().all(|b| b.is_ascii_alphanumeric()) {
                // Letters and digits: the start of a code, a range on the unique index, unless
                // the prefix is broad and SQLite should rather walk the sort order.
                let prefix = k.to_ascii_uppercase();
                if plan.code_range_without_index {
                    q = q.filter(
                        diesel::dsl::sql::<diesel::sql_types::Bool>("+entities.code >= ")
                            .bind::<diesel::sql_types::Text, _>(prefix.clone())
                            .sql(" AND +entities.code < ")
                            .bind::<diesel::sql_types::Text, _>(prefix_upper(&prefix)),
                    );
                } else {
                    q = q.filter(entities::code.ge(prefix.clone())).filter(entities::code.lt(prefix_upper(&prefix)));
                }
            } else {
                q = q.filter(crate::text_contains!(plan.backend, entities::table, entities::name, k));
            }
        }
        q
    }

    fn sorted<'a>(&'a self, q: Boxed<'a>, tie: Tiebreak) -> Boxed<'a> {
        use diesel::dsl::sql;
        use diesel::sql_types::BigInt;
        // Rows that sort equal are ordered by their key: the rowid on SQLite, which every index
        // carries, so sorting never has to read the rows themselves.
        let key = || sql::<BigInt>("entities.rowid");
        match (self.sort.as_str(), self.descending, tie) {
            ("code", true, _) => q.order(entities::code.desc()),
            ("code", false, _) => q.order(entities::code.asc()),
            ("name", true, Tiebreak::Rowid) => q.order((entities::name.desc(), key().desc())),
            ("name", false, Tiebreak::Rowid) => q.order((entities::name.asc(), key().asc())),
            ("region", true, Tiebreak::Rowid) => q.order((entities::region.desc(), key().desc())),
            ("region", false, Tiebreak::Rowid) => q.order((entities::region.asc(), key().asc())),
            (_, true, Tiebreak::Rowid) => q.order((entities::filed_at.desc(), key().desc())),
            (_, false, Tiebreak::Rowid) => q.order((entities::filed_at.asc(), key().asc())),
            ("name", true, Tiebreak::Id) => q.order((entities::name.desc(), entities::id.desc())),
            ("name", false, Tiebreak::Id) => q.order((entities::name.asc(), entities::id.asc())),
            ("region", true, Tiebreak::Id) => q.order((entities::region.desc(), entities::id.desc())),
            ("region", false, Tiebreak::Id) => q.order((entities::region.asc(), entities::id.asc())),
            (_, true, Tiebreak::Id) => q.order((entities::filed_at.desc(), entities::id.desc())),
            (_, false, Tiebreak::Id) => q.order((entities::filed_at.asc(), entities::id.asc())),
        }
    }

    /// Whether the keyword is a code prefix.
    fn keyword_is_code(&self) -> bool {
        self.keyword.as_deref().is_some_and(|k| k.bytes().all(|b| b.is_ascii_alphanumeric()))
    }
}

/// Choices the search makes from what it has counted.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Test a code prefix on each row instead of ranging over the code index (SQLite, when
    /// the prefix matches so many rows that walking the sort order finds a page sooner).
    code_range_without_index: bool,
    /// The backend the query runs on (how text is matched).
    backend: crate::config::Backend,
}

impl Plan {
    fn on(conn: &DbConnection) -> Plan {
        Plan { code_range_without_index: false, backend: crate::db::backend_of(conn) }
    }
}

/// What orders rows that sort equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tiebreak {
    /// SQLite's rowid (in every index).
    Rowid,
    /// The entity id (PostgreSQL).
    Id,
}

impl Tiebreak {
    fn of(conn: &DbConnection) -> Tiebreak {
        match crate::db::backend_of(conn) {
            crate::config::Backend::Sqlite => Tiebreak::Rowid,
            crate::config::Backend::Postgres => Tiebreak::Id,
        }
    }
}

/// A code prefix matching at least this many rows is broad.
const BROAD_CODE_PREFIX: i64 = 1_000;

/// The earliest and latest filing time of the matching rows.
pub fn filed_range(
    conn: &mut DbConnection,
    q: &CheckedQuery,
    reach: &Reach,
) -> AppResult<Option<(chrono::NaiveDateTime, chrono::NaiveDateTime)>> {
    let first: Option<chrono::NaiveDateTime> =
        q.build(reach, conn).select(diesel::dsl::min(entities::filed_at)).first(conn)?;
    let last: Option<chrono::NaiveDateTime> =
        q.build(reach, conn).select(diesel::dsl::max(entities::filed_at)).first(conn)?;
    Ok(first.zip(last))
}

/// Counts the matching rows.
pub fn count(conn: &mut DbConnection, q: &CheckedQuery, reach: &Reach) -> AppResult<i64> {
    Ok(q.build(reach, conn).count().get_result(conn)?)
}

/// Counts the matching rows up to [`LIST_COUNT_LIMIT`]; the flag says the count stopped there.
pub fn bounded_count(conn: &mut DbConnection, q: &CheckedQuery, reach: &Reach) -> AppResult<(i64, bool)> {
    let ones: Vec<i32> = q
        .build(reach, conn)
        .select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
        .limit(LIST_COUNT_LIMIT + 1)
        .load(conn)?;
    let n = ones.len() as i64;
    Ok((n.min(LIST_COUNT_LIMIT), n > LIST_COUNT_LIMIT))
}

/// One page of matching rows.
///
/// On SQLite the page is found in two steps: the keys of the page's rows from the search
/// index (filters and sort keys are all in it, so no row is read), then those rows. A wide
/// filter then costs an index scan, not a read of every matching row.
pub fn page(conn: &mut DbConnection, q: &CheckedQuery, reach: &Reach) -> AppResult<EntityPage> {
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let (total, total_is_lower_bound) = bounded_count(conn, q, reach)?;
    let tie = Tiebreak::of(conn);
    let offset = (q.page - 1) * q.page_size;
    let rows: Vec<EntityRow> = if tie == Tiebreak::Rowid {
        let plan = Plan {
            code_range_without_index: q.keyword_is_code() && total >= BROAD_CODE_PREFIX && q.sort != "code",
            ..Plan::on(conn)
        };
        let keys: Vec<i64> = q
            .sorted(q.build_with(reach, plan), tie)
            .select(sql::<BigInt>("entities.rowid"))
            .limit(q.page_size)
            .offset(offset)
            .load(conn)?;
        let mut found: Vec<(i64, EntityRow)> = entities::table
            .filter(sql::<BigInt>("entities.rowid").eq_any(&keys))
            .select((sql::<BigInt>("entities.rowid"), EntityRow::as_select()))
            .load(conn)?;
        found.sort_by_key(|(k, _)| keys.iter().position(|x| x == k));
        found.into_iter().map(|(_, r)| r).collect()
    } else {
        q.sorted(q.build(reach, conn), tie)
            .select(EntityRow::as_select())
            .limit(q.page_size)
            .offset(offset)
            .load(conn)?
    };
    Ok(EntityPage {
        rows: rows.iter().map(EntityRow::view).collect(),
        total,
        total_is_lower_bound,
        page: q.page,
        page_size: q.page_size,
    })
}

/// Every matching row up to `limit` (for exports and maps), in the query's order.
pub fn all(conn: &mut DbConnection, q: &CheckedQuery, reach: &Reach, limit: i64) -> AppResult<Vec<Entity>> {
    let tie = Tiebreak::of(conn);
    let rows: Vec<EntityRow> =
        q.sorted(q.build(reach, conn), tie).select(EntityRow::as_select()).limit(limit).load(conn)?;
    Ok(rows.iter().map(EntityRow::view).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper("33"), "34");
        assert_eq!(prefix_upper("3301"), "3302");
        assert_eq!(prefix_upper("39"), "3:");
    }

    #[test]
    fn bad_filters_name_their_field() {
        for (q, field) in [
            (EntityQuery { region: Some("12".into()), ..Default::default() }, "region"),
            (EntityQuery { kind: Some("bank".into()), ..Default::default() }, "kind"),
            (EntityQuery { stage: Some("x".into()), ..Default::default() }, "stage"),
            (EntityQuery { category: Some("01%".into()), ..Default::default() }, "category"),
            (EntityQuery { page_size: Some(201), ..Default::default() }, "page_size"),
            (EntityQuery { sort: Some("password".into()), ..Default::default() }, "sort"),
            (EntityQuery { order: Some("sideways".into()), ..Default::default() }, "order"),
            (EntityQuery { status: Some("maybe".into()), ..Default::default() }, "status"),
        ] {
            assert_eq!(q.check().expect_err(field).field.as_deref(), Some(field));
        }
    }
}
