//! Searching trace records by stage, product variety (category subtree), region subtree,
//! reporting node, batch number, trace code, status and time, newest first, in pages. A
//! tenant's caller sees its own records; staff see what their scope reaches.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_adapters::codes::Stage;
use tracenode_adapters::records::TraceRecord;

use super::row::{StoredRecord, CST_HOURS};
use super::store;
use crate::db::schema::trace_records;
use crate::db::{DbConnection, MultiBackend};
use crate::error::{AppError, AppResult};
use crate::region::RegionCode;
use crate::registry::search::{prefix_upper, Reach};

/// Lists count matching rows up to this many.
pub const COUNT_CAP: i64 = 10_000;
/// Largest page.
pub const MAX_PAGE_SIZE: i64 = 200;

/// Filters of a search. Empty strings are the same as absent.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct TraceQuery {
    /// Exact trace code.
    pub trace_code: Option<String>,
    /// Exact batch number.
    pub batch: Option<String>,
    /// Stage code.
    pub stage: Option<String>,
    /// Product category (variety) code; its sub-categories match too.
    pub category: Option<String>,
    /// Region code; its subtree matches.
    pub region: Option<String>,
    /// Reporting node (region code of the node that reported it).
    pub reporter: Option<String>,
    /// `stored`, `quarantined` or `superseded`.
    pub status: Option<String>,
    /// Acts on or after this day (YYYY-MM-DD, China Standard Time).
    pub from: Option<String>,
    /// Acts on or before this day.
    pub to: Option<String>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Rows per page (at most 200).
    pub page_size: Option<i64>,
}

/// A stored record as listed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TraceHit {
    /// Storage sequence.
    pub seq: i64,
    /// Tenant.
    pub tenant_id: String,
    /// Reporting node.
    pub reporter: String,
    /// Status.
    pub status: String,
    /// Flagged by an anomaly.
    pub flagged: bool,
    /// Region of the acting party.
    pub region: String,
    /// Time of the act (UTC).
    pub act_time: NaiveDateTime,
    /// Quantity (thousandths).
    pub quantity_milli: i64,
    /// Amount, fen.
    pub amount_fen: Option<i64>,
    /// The record as received (canonical form).
    #[schema(value_type = Object)]
    pub record: TraceRecord,
}

/// One page of results.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TracePage {
    /// Rows.
    pub rows: Vec<TraceHit>,
    /// Matching rows, exact up to 10,000.
    pub total: i64,
    /// Whether more than `total` match.
    pub total_is_lower_bound: bool,
    /// Page from 1.
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
}

type Boxed<'a> = trace_records::BoxedQuery<'a, MultiBackend>;

fn text(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn day_start_utc(field: &str, d: &str) -> AppResult<NaiveDateTime> {
    let day = NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .map_err(|_| AppError::invalid(field, "日期应为 YYYY-MM-DD", "a date is YYYY-MM-DD"))?;
    Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default() - chrono::TimeDelta::hours(CST_HOURS))
}

fn subtree<'a>(q: Boxed<'a>, region: &RegionCode) -> Boxed<'a> {
    let prefix = region.subtree_prefix().to_owned();
    match prefix.len() {
        0 => q,
        6 => q.filter(trace_records::region.eq(prefix)),
        _ => q.filter(trace_records::region.ge(prefix.clone())).filter(trace_records::region.lt(prefix_upper(&prefix))),
    }
}

impl TraceQuery {
    /// Builds the filtered query, checking each filter; names the field at fault.
    fn build(&self, reach: &Reach) -> AppResult<Boxed<'static>> {
        use trace_records::dsl as r;
        let mut q = trace_records::table.into_boxed::<MultiBackend>();
        if let Some(t) = &reach.tenant {
            q = q.filter(r::tenant_id.eq(t.clone()));
        }
        if !reach.tenants.is_empty() {
            q = q.filter(r::tenant_id.eq_any(reach.tenants.clone()));
        }
        if let Some(region) = &reach.region {
            q = subtree(q, region);
        }
        if let Some(region) = text(&self.region) {
            let code = RegionCode::parse(&region)?;
            if reach.region.as_ref().is_some_and(|own| !own.contains(&code) && !code.contains(own)) {
                return Err(AppError::invalid(
                    "region",
                    "所选行政区划超出您的数据范围",
                    "the region lies outside your scope",
                ));
            }
            q = subtree(q, &code);
        }
        if let Some(code) = text(&self.trace_code) {
            q = q.filter(r::trace_code.eq(code));
        }
        if let Some(batch) = text(&self.batch) {
            q = q.filter(r::batch.eq(batch));
        }
        if let Some(stage) = text(&self.stage) {
            if Stage::from_code(&stage).is_none() {
                return Err(AppError::invalid(
                    "stage",
                    format!("未知的追溯环节“{stage}”"),
                    format!("unknown stage {stage:?}"),
                ));
            }
            q = q.filter(r::stage.eq(stage));
        }
        if let Some(c) = text(&self.category) {
            if !c.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                return Err(AppError::invalid(
                    "category",
                    "类目代码只含字母和数字",
                    "a category code is letters and digits",
                ));
            }
            q = q.filter(r::category.ge(c.clone())).filter(r::category.lt(prefix_upper(&c)));
        }
        for c in &reach.categories {
            q = q.filter(r::category.ge(c.clone())).filter(r::category.lt(prefix_upper(c)));
        }
        if let Some(rep) = text(&self.reporter) {
            q = q.filter(r::reporter.eq(rep));
        }
        if let Some(s) = text(&self.status) {
            if ![
                super::status::STORED,
                super::status::QUARANTINED,
                super::status::SUPERSEDED,
                super::status::RETRACTION,
            ]
            .contains(&s.as_str())
            {
                return Err(AppError::invalid(
                    "status",
                    "状态应为 stored、quarantined 或 superseded",
                    "status is stored, quarantined or superseded",
                ));
            }
            q = q.filter(r::status.eq(s));
        }
        if let Some(d) = text(&self.from) {
            q = q.filter(r::act_time.ge(day_start_utc("from", &d)?));
        }
        if let Some(d) = text(&self.to) {
            q = q.filter(r::act_time.lt(day_start_utc("to", &d)? + chrono::TimeDelta::days(1)));
        }
        Ok(q)
    }
}

/// One page of matching records, newest act first.
pub fn page(conn: &mut DbConnection, query: &TraceQuery, reach: &Reach) -> AppResult<TracePage> {
    use trace_records::dsl as r;
    let page = query.page.unwrap_or(1).max(1);
    let page_size = query.page_size.unwrap_or(50).clamp(1, MAX_PAGE_SIZE);
    let counted: Vec<i64> = query.build(reach)?.select(r::seq).limit(COUNT_CAP + 1).load(conn)?;
    let total = (counted.len() as i64).min(COUNT_CAP);
    let stored: Vec<StoredRecord> = query
        .build(reach)?
        .select(StoredRecord::as_select())
        .order((r::act_time.desc(), r::seq.desc()))
        .offset((page - 1) * page_size)
        .limit(page_size)
        .load(conn)?;
    let keys: Vec<(&str, &str)> = stored.iter().map(|s| (s.tenant_id.as_str(), s.record_id.as_str())).collect();
    let mut corrections = store::corrections_of(conn, &keys)?;
    let mut vouchers = store::vouchers_of(conn, &keys)?;
    let rows = stored
        .iter()
        .map(|s| {
            let key = (s.tenant_id.clone(), s.record_id.clone());
            let (corrects, voucher) = (corrections.remove(&key), vouchers.remove(&key).unwrap_or_default());
            TraceHit {
                seq: s.seq,
                tenant_id: s.tenant_id.clone(),
                reporter: s.reporter.clone(),
                status: s.status.clone(),
                flagged: s.flagged,
                region: s.region.clone(),
                act_time: s.act_time,
                quantity_milli: s.quantity_milli,
                amount_fen: s.amount_fen,
                record: s.record(corrects, voucher),
            }
        })
        .collect();
    Ok(TracePage { rows, total, total_is_lower_bound: counted.len() as i64 > COUNT_CAP, page, page_size })
}
