//! The bulk path: many entities from a tenant's system in one request (the path adapters
//! feed). Every record is validated with the same rules as a single registration, against the
//! catalogue and sites loaded once; validation runs on one core while the rows go in on
//! another, and a code the node already holds is skipped by the insert itself.
//!
//! `atomic` stores nothing unless every record is accepted; `best_effort` stores the accepted
//! records. Either way the receipt names every rejected record by index, field and reason, and
//! every duplicate (a code another tenant registered) becomes a claim for review. A record
//! this tenant registered before with the same content is `unchanged` (a batch sent again
//! answers as it did, rejecting nothing); one with other content is rejected, naming the
//! entity to change instead. One audit row records the batch.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::entities;
use super::model::{validate_shape, EntityData, EntityInput, EntityInsert, EntityRow};
use super::review::Fields;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{entities as entities_table, product_categories, sites};
use crate::db::{self, DbConnection, Undo};
use crate::error::{AppError, AppResult};
use crate::ids::{EntityId, SiteId, TenantId};
use crate::region::RegionCode;

/// The most records one request may carry.
pub const MAX_BATCH: usize = 250_000;

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
    /// The entities (at most 250,000; over HTTP the body limit, `http.body_limit_bytes`, is
    /// usually reached first).
    pub entities: Vec<EntityInput>,
}

/// A rejected record.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = BulkRejection)]
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

/// A record the tenant registered before, with the same content.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unchanged {
    /// Index in the batch.
    pub index: usize,
    /// The code.
    pub code: String,
    /// The registered entity.
    pub entity_id: EntityId,
}

/// What happened to a batch.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = BulkReceipt)]
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
    /// Records registered before by this tenant with the same content (nothing changed).
    pub unchanged: Vec<Unchanged>,
}

fn reject(index: usize, e: AppError) -> Rejection {
    Rejection { index, field: e.field, reason_zh: e.detail_zh, reason: e.detail_en }
}

struct Lookups {
    categories: HashSet<String>,
    sites: HashMap<String, (SiteId, TenantId)>,
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
        .load::<(String, SiteId, TenantId)>(conn)?
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
            Some((id, owner)) if owner == tenant => data.site_id = Some(id.clone()),
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

/// The rows the node holds for the given codes, by code.
fn existing(conn: &mut DbConnection, codes: &[&str]) -> AppResult<HashMap<String, EntityRow>> {
    let mut out = HashMap::new();
    for chunk in codes.chunks(500) {
        let rows: Vec<EntityRow> = entities_table::table
            .filter(entities_table::code.eq_any(chunk))
            .select(EntityRow::as_select())
            .load(conn)?;
        out.extend(rows.into_iter().map(|r| (r.code.clone(), r)));
    }
    Ok(out)
}

/// Whether `sent` says nothing `held` does not already say (a filing time left out is the
/// one held).
fn same_content(held: &EntityRow, sent: &EntityRow, filed_at_given: bool) -> bool {
    let mut sent = sent.data();
    if !filed_at_given {
        sent.filed_at = held.filed_at;
    }
    held.data() == sent
}

/// Registers a batch in its own transaction and keeps the planner's statistics fresh. A
/// refused batch rolls back whole; its refusal is audited in a transaction of its own.
pub fn register_batch(
    db: &db::Db,
    ctx: &AuditContext,
    tenant: &TenantId,
    within: &RegionCode,
    req: &BulkRequest,
) -> AppResult<Receipt> {
    match db.bulk_transaction_sync(|conn| register(conn, ctx, tenant, within, req)) {
        Ok(receipt) => {
            db.note_bulk_rows("entities", receipt.accepted)?;
            Ok(receipt)
        }
        Err(Undo::Refused(receipt)) => {
            if !req.dry_run {
                db.transaction_sync(|conn| {
                    audit::record(
                        conn,
                        ctx,
                        "entity.bulk_register",
                        &format!("tenant:{tenant}"),
                        Outcome::Failure,
                        serde_json::json!({"received": receipt.received, "rejected": receipt.rejected.len(), "mode": "atomic"}),
                    )
                })?;
            }
            Ok(receipt)
        }
        Err(Undo::Failed(e)) => Err(e),
    }
}

/// Registers a batch for `tenant` inside the caller's transaction. The rows go in as they
/// are: a code the node already holds is skipped by the insert itself (no lookup per record)
/// and only those records are looked up afterwards, to tell this tenant's own codes
/// (rejected) from other tenants' (duplicate claims). A dry run or a refused atomic batch
/// returns [`Undo::Refused`], and the caller rolls its transaction back.
pub fn register(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    within: &RegionCode,
    req: &BulkRequest,
) -> Result<Receipt, Undo<Receipt>> {
    if req.entities.len() > MAX_BATCH {
        return Err(AppError::invalid(
            "entities",
            format!("每批最多{MAX_BATCH}条，本批{}条", req.entities.len()),
            format!("at most {MAX_BATCH} records a batch, got {}", req.entities.len()),
        )
        .into());
    }
    let l = lookups(conn)?;
    let received = req.entities.len();
    let (mut rejected, skipped, accepted) = validate_and_insert(conn, ctx, tenant, within, &l, &req.entities)?;
    let codes: Vec<&str> = skipped.iter().map(|(_, row)| row.code.as_str()).collect();
    let found = existing(conn, &codes)?;
    let mut claims = Vec::new();
    let mut unchanged = Vec::new();
    for (i, row) in &skipped {
        match found.get(&row.code) {
            Some(held) if held.tenant_id != *tenant => claims.push((*i, row.data(), held.id.clone())),
            Some(held) if same_content(held, row, req.entities[*i].filed_at.is_some()) => {
                unchanged.push(Unchanged { index: *i, code: row.code.clone(), entity_id: held.id.clone() })
            }
            held => {
                let id = held.map(|h| h.id.to_string()).unwrap_or_default();
                rejected.push(reject(
                    *i,
                    AppError::conflict(
                        format!("代码 {} 已由本租户登记（主体 {id}），内容不同：请以变更提交", row.code),
                        format!(
                            "code {} is registered by this tenant already (entity {id}) with other content: send a change instead",
                            row.code
                        ),
                    ),
                ))
            }
        }
    }
    rejected.sort_by_key(|r| r.index);
    if req.dry_run || (req.mode == BulkMode::Atomic && !rejected.is_empty()) {
        return Err(Undo::Refused(Receipt {
            received,
            accepted: 0,
            stored: false,
            rejected,
            duplicates: vec![],
            unchanged,
        }));
    }
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
        serde_json::json!({"received": received, "accepted": accepted, "rejected": rejected.len(),
            "duplicates": duplicates.len(), "unchanged": unchanged.len()}),
    )?;
    Ok(Receipt { received, accepted, stored: true, rejected, duplicates, unchanged })
}

/// Records checked per step of the pipeline.
const STEP: usize = 2_048;

/// What validation and insertion found: rejections, rows skipped because the node holds
/// their code (with their batch index), and how many rows went in.
type Inserted = (Vec<Rejection>, Vec<(usize, EntityRow)>, usize);

/// Validates the records and inserts the valid ones as a pipeline: one thread checks the
/// next step's records and builds their rows (no database needed) while this one inserts
/// the step before, so validation costs no time of its own on a machine with two cores.
fn validate_and_insert(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    tenant: &TenantId,
    within: &RegionCode,
    l: &Lookups,
    inputs: &[EntityInput],
) -> AppResult<Inserted> {
    let now = db::now();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(usize, AppResult<EntityRow>)>>(4);
        scope.spawn(move || {
            for (n, step) in inputs.chunks(STEP).enumerate() {
                let checked = step
                    .iter()
                    .enumerate()
                    .map(|(k, input)| {
                        let row = validate_one(input, within, tenant, l).map(|d| {
                            let id = EntityId::generate();
                            EntityRow::new(
                                id,
                                tenant,
                                &d,
                                super::review::ReviewStatus::Pending.as_str(),
                                &ctx.actor,
                                "registered (bulk)",
                                now,
                            )
                        });
                        (n * STEP + k, row)
                    })
                    .collect();
                if tx.send(checked).is_err() {
                    break; // the inserting side stopped on an error
                }
            }
        });
        let mut seen = HashSet::new();
        let (mut rejected, mut skipped, mut inserted) = (Vec::new(), Vec::new(), 0);
        for checked in rx {
            let mut rows = Vec::with_capacity(checked.len());
            let mut indexes = Vec::with_capacity(checked.len());
            for (i, row) in checked {
                match row {
                    Ok(r) if !seen.insert(r.code.clone()) => rejected.push(reject(
                        i,
                        AppError::invalid(
                            "code",
                            format!("本批中重复的代码 {}", r.code),
                            format!("code {} appears twice in the batch", r.code),
                        ),
                    )),
                    Ok(r) => {
                        indexes.push(i);
                        rows.push(r);
                    }
                    Err(e) => rejected.push(reject(i, e)),
                }
            }
            let skips = insert_new(conn, &rows)?;
            inserted += rows.len() - skips.len();
            skipped.extend(skips.into_iter().map(|k| (indexes[k], rows[k].clone())));
        }
        Ok((rejected, skipped, inserted))
    })
}

/// Inserts the rows whose code the node does not hold yet; returns the positions of the rows
/// it skipped.
fn insert_new(conn: &mut DbConnection, rows: &[EntityRow]) -> AppResult<Vec<usize>> {
    let inserts: Vec<_> = rows.iter().map(EntityRow::for_insert).collect();
    crate::insert_or_skip!(conn, entities_table::table, &inserts, entities_table::code, EntityInsert::code)
}
