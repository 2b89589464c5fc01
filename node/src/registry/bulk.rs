//! The bulk path: many entities from a tenant's system in one request (the path adapters
//! feed). Every record is validated with the same rules as a single registration, against the
//! catalogue and sites loaded once; new rows are written with multi-row inserts.
//!
//! `atomic` stores nothing unless every record is accepted; `best_effort` stores the accepted
//! records. Either way the receipt names every rejected record by index, field and reason, and
//! every duplicate (a code another tenant registered) becomes a claim for review. One audit
//! row records the batch.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::entities;
use super::model::{validate_shape, EntityData, EntityInput, EntityRow};
use super::review::Fields;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{entities as entities_table, entity_categories, product_categories, sites};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use crate::region::RegionCode;

/// The most records one request may carry.
pub const MAX_BATCH: usize = 100_000;

/// How a batch treats rejected records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkMode {
    /// All or nothing.
    Atomic,
    /// Store what is valid.
    BestEffort,
}

/// A batch of entities.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// `atomic` or `best_effort`.
    pub mode: BulkMode,
    /// Validate and report only; store nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The entities (at most 100,000).
    pub entities: Vec<EntityInput>,
}

/// A rejected record.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rejection {
    /// Index in the batch, from 0.
    pub index: usize,
    /// The field at fault.
    pub field: Option<String>,
    /// Chinese reason.
    pub reason_zh: String,
    /// English reason.
    pub reason: String,
}

/// A record put to review because another tenant registered its code.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Duplicate {
    /// Index in the batch.
    pub index: usize,
    /// The code.
    pub code: String,
    /// The claim awaiting review.
    pub change_id: String,
}

/// What happened to a batch.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// Records received.
    pub received: usize,
    /// Records stored (0 for a dry run or a refused atomic batch).
    pub accepted: usize,
    /// Whether anything was stored.
    pub stored: bool,
    /// Rejected records.
    pub rejected: Vec<Rejection>,
    /// Records put to review as duplicates.
    pub duplicates: Vec<Duplicate>,
}

fn reject(index: usize, e: AppError) -> Rejection {
    Rejection { index, field: e.field, reason_zh: e.detail_zh, reason: e.detail_en }
}

struct Lookups {
    categories: HashSet<String>,
    sites: HashMap<String, (String, String)>,
}

fn lookups(conn: &mut DbConnection) -> AppResult<Lookups> {
    let categories = product_categories::table
        .filter(product_categories::retired.eq(false))
        .select(product_categories::code)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let sites = sites::table
        .select((sites::code, sites::id, sites::tenant_id))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(code, id, tenant)| (code, (id, tenant)))
        .collect();
    Ok(Lookups { categories, sites })
}

fn validate_one(input: &EntityInput, within: &RegionCode, tenant: &TenantId, l: &Lookups) -> AppResult<EntityData> {
    let mut data = validate_shape(input, within)?;
    if let Some(missing) = data.categories.iter().find(|c| !l.categories.contains(*c)) {
        return Err(AppError::invalid(
            "categories",
            format!("未知的产品类目：{missing}"),
            format!("unknown product category: {missing}"),
        ));
    }
    if let Some(code) = input.site_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        match l.sites.get(code) {
            Some((id, owner)) if owner == tenant.as_str() => data.site_id = Some(id.clone()),
            _ => {
                return Err(AppError::invalid(
                    "site_code",
                    format!("节点 {code} 不存在或不属于本租户"),
                    format!("site {code} does not exist or belongs to another tenant"),
                ))
            }
        }
    }
    Ok(data)
}

/// Existing (code → owning tenant, id) for the given codes.
fn existing(conn: &mut DbConnection, codes: &[&str]) -> AppResult<HashMap<String, (String, String)>> {
    let mut out = HashMap::new();
    for chunk in codes.chunks(500) {
        let rows: Vec<(String, String, String)> = entities_table::table
            .filter(entities_table::code.eq_any(chunk))
            .select((entities_table::code, entities_table::tenant_id, entities_table::id))
            .load(conn)?;
        for (code, tenant, id) in rows {
            out.insert(code, (tenant, id));
        }
    }
    Ok(out)
}

/// Registers a batch in its own transaction, then keeps the planner's statistics fresh.
pub fn register_batch(
    db: &db::Db,
    ctx: &AuditContext,
    tenant: &TenantId,
    within: &RegionCode,
    req: &BulkRequest,
) -> AppResult<Receipt> {
    let receipt = db.bulk_transaction_sync(|conn| register(conn, ctx, tenant, within, req))?;
    if receipt.stored {
        db.note_bulk_rows("entities", receipt.accepted)?;
        db.note_bulk_rows("entity_categories", receipt.accepted)?;
    }
    Ok(receipt)
}

/// Registers a batch for `tenant` inside the caller's transaction.
pub fn register(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    within: &RegionCode,
    req: &BulkRequest,
) -> AppResult<Receipt> {
    if req.entities.len() > MAX_BATCH {
        return Err(AppError::invalid(
            "entities",
            format!("每批最多{MAX_BATCH}条，本批{}条", req.entities.len()),
            format!("at most {MAX_BATCH} records a batch, got {}", req.entities.len()),
        ));
    }
    let l = lookups(conn)?;
    let mut rejected = Vec::new();
    let mut valid: Vec<(usize, EntityData)> = Vec::with_capacity(req.entities.len());
    let mut seen = HashSet::new();
    for (i, input) in req.entities.iter().enumerate() {
        match validate_one(input, within, tenant, &l) {
            Ok(d) if !seen.insert(d.code.clone()) => rejected.push(reject(
                i,
                AppError::invalid(
                    "code",
                    format!("本批中重复的代码 {}", d.code),
                    format!("code {} appears twice in the batch", d.code),
                ),
            )),
            Ok(d) => valid.push((i, d)),
            Err(e) => rejected.push(reject(i, e)),
        }
    }
    let codes: Vec<&str> = valid.iter().map(|(_, d)| d.code.as_str()).collect();
    let found = existing(conn, &codes)?;
    let mut fresh = Vec::with_capacity(valid.len());
    let mut claims = Vec::new();
    for (i, d) in valid {
        match found.get(&d.code) {
            Some((owner, _)) if owner == tenant.as_str() => rejected.push(reject(
                i,
                AppError::conflict(
                    format!("代码 {} 已由本租户登记", d.code),
                    format!("code {} is already registered by this tenant", d.code),
                ),
            )),
            Some((_, id)) => claims.push((i, d, id.clone())),
            None => fresh.push(d),
        }
    }
    rejected.sort_by_key(|r| r.index);
    let refuse = req.dry_run || (req.mode == BulkMode::Atomic && !rejected.is_empty());
    if refuse {
        if !req.dry_run {
            audit::record(
                conn,
                ctx,
                "entity.bulk_register",
                &format!("tenant:{tenant}"),
                Outcome::Failure,
                serde_json::json!({"received": req.entities.len(), "rejected": rejected.len(), "mode": "atomic"}),
            )?;
        }
        return Ok(Receipt { received: req.entities.len(), accepted: 0, stored: false, rejected, duplicates: vec![] });
    }
    let accepted = store(conn, ctx, tenant, &fresh)?;
    let mut duplicates = Vec::new();
    let fields = EntityData::FIELDS.iter().copied().collect();
    for (index, data, entity_id) in claims {
        let change_id = entities::create_claim(conn, ctx, &entity_id, tenant, &data, &fields)?;
        duplicates.push(Duplicate { index, code: data.code, change_id });
    }
    audit::record(
        conn,
        ctx,
        "entity.bulk_register",
        &format!("tenant:{tenant}"),
        Outcome::Success,
        serde_json::json!({"received": req.entities.len(), "accepted": accepted, "rejected": rejected.len(), "duplicates": duplicates.len()}),
    )?;
    Ok(Receipt { received: req.entities.len(), accepted, stored: true, rejected, duplicates })
}

/// Writes new pending entities with their categories, in multi-row inserts.
fn store(conn: &mut DbConnection, ctx: &AuditContext, tenant: &TenantId, fresh: &[EntityData]) -> AppResult<usize> {
    let now = db::now();
    for chunk in fresh.chunks(500) {
        let rows: Vec<EntityRow> = chunk
            .iter()
            .map(|d| {
                EntityRow::new(
                    uuid::Uuid::now_v7().to_string(),
                    tenant,
                    d,
                    "pending",
                    &ctx.actor,
                    "registered (bulk)",
                    now,
                )
            })
            .collect();
        crate::batch_insert!(conn, entities_table::table, &rows)?;
        let categories: Vec<(String, String)> =
            rows.iter().zip(chunk).flat_map(|(r, d)| d.categories.iter().map(|c| (r.id.clone(), c.clone()))).collect();
        let category_values: Vec<_> = categories
            .iter()
            .map(|(e, c)| (entity_categories::entity_id.eq(e), entity_categories::category_code.eq(c)))
            .collect();
        if !category_values.is_empty() {
            crate::batch_insert!(conn, entity_categories::table, category_values)?;
        }
    }
    Ok(fresh.len())
}
