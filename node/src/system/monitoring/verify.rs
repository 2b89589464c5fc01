//! The check of what monitoring rests on: the `records` and `corrections` of `party_activity`
//! over a window, against a recount of the trace records of the same acts
//! (`ingest::activity::recount`). A row someone lowered or raised in the database, or a
//! party's day deleted, shows as a difference. Rejections and delays cannot be recounted (the rejected records are not kept,
//! and only the activity rows know when a record arrived).

use std::collections::{BTreeMap, HashMap};

use chrono::TimeDelta;
use diesel::prelude::*;
use serde::Serialize;

use super::indicators::Window;
use crate::db::schema::party_activity as pa;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::trace::row::{day_text, CST_HOURS};

/// The longest window one check reads, days.
pub const MAX_DAYS: i64 = 31;
/// The most differences one answer names.
pub const NAMED: usize = 100;

/// One (tenant, day, party, stage) whose stored count differs from the recount.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ActivityDifference)]
pub struct Difference {
    /// Tenant.
    pub tenant_id: String,
    /// Day.
    pub day: String,
    /// Acting party's code.
    pub party_code: String,
    /// Stage.
    pub stage: String,
    /// Records the activity row holds.
    pub kept: i64,
    /// Records the trace records hold.
    pub recounted: i64,
    /// Corrections the activity row holds.
    pub corrections_kept: i64,
    /// Corrections the trace records hold.
    pub corrections_recounted: i64,
}

/// What a check found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ActivityVerification)]
pub struct Verification {
    /// The window checked.
    pub window: Window,
    /// Records recounted.
    pub records: i64,
    /// Keys that differ.
    pub differences: usize,
    /// The first [`NAMED`] of them.
    pub first: Vec<Difference>,
}

type Key = (String, String, String, String);

/// Compares the activity rows of `w` with a recount of the trace records.
pub fn verify(conn: &mut DbConnection, w: Window) -> AppResult<Verification> {
    if w.days() > MAX_DAYS {
        return Err(AppError::invalid(
            "to",
            format!("一次核对最多 {MAX_DAYS} 天"),
            format!("one check reads at most {MAX_DAYS} days"),
        ));
    }
    let start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default() - TimeDelta::hours(CST_HOURS);
    let recounted = crate::ingest::activity::recount(conn, start(w.from), start(w.to + TimeDelta::days(1)))?;
    let kept: Vec<(String, String, String, String, i64, i64)> = pa::table
        .filter(pa::day.ge(day_text(w.from)))
        .filter(pa::day.le(day_text(w.to)))
        .select((pa::tenant_id, pa::day, pa::party_code, pa::stage, pa::records, pa::corrections))
        .load(conn)?;
    let kept: HashMap<Key, (i64, i64)> = kept.into_iter().map(|(t, d, c, s, n, k)| ((t, d, c, s), (n, k))).collect();
    let mut all: BTreeMap<&Key, [i64; 4]> = BTreeMap::new();
    for (k, (n, c)) in &kept {
        let e = all.entry(k).or_default();
        (e[0], e[2]) = (*n, *c);
    }
    for (k, n) in &recounted {
        let e = all.entry(k).or_default();
        (e[1], e[3]) = (n.records, n.corrections);
    }
    let differing: Vec<Difference> = all
        .into_iter()
        .filter(|(_, v)| v[0] != v[1] || v[2] != v[3])
        .map(|((tenant_id, day, party_code, stage), v)| Difference {
            tenant_id: tenant_id.clone(),
            day: day.clone(),
            party_code: party_code.clone(),
            stage: stage.clone(),
            kept: v[0],
            recounted: v[1],
            corrections_kept: v[2],
            corrections_recounted: v[3],
        })
        .collect();
    Ok(Verification {
        window: w,
        records: recounted.values().map(|n| n.records).sum(),
        differences: differing.len(),
        first: differing.into_iter().take(NAMED).collect(),
    })
}
