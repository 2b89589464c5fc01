//! Analysis of registered entities (分析): totals and shares of enterprises and merchants, by
//! stage, product category, region (with drill-down to the next level) and filing month. Every
//! figure is a count of the same filter the search uses, so it equals the number of rows the
//! matching search returns.

pub mod api;
pub mod pages;

use serde::Serialize;
use tracenode_adapters::codes::Stage;

use super::catalogue;
use super::search::{self, count, CheckedQuery, Reach};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::region::RegionCode;

/// One bar of a breakdown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// Code (stage, category, region or month `YYYY-MM`).
    pub key: String,
    /// Chinese label.
    pub label: String,
    /// Matching entities.
    pub count: i64,
    /// Share of the total, 0–1.
    pub share: f64,
}

/// The analysis of a filter.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Analysis {
    /// Matching entities.
    pub total: i64,
    /// Of which merchants of sites.
    pub merchants: i64,
    /// Merchants' share, 0–1.
    pub merchant_share: f64,
    /// By supply-chain stage (an entity may be in several).
    pub by_stage: Vec<Bucket>,
    /// By product category one level below the filter's category (or the families).
    pub by_category: Vec<Bucket>,
    /// By region one level below the filter's region (or the node's).
    pub by_region: Vec<Bucket>,
    /// By filing month.
    pub by_month: Vec<Bucket>,
}

fn share(part: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

/// A bucket of `count` out of `total`.
pub fn bucket(key: String, label: String, count: i64, total: i64) -> Bucket {
    Bucket { key, label, count, share: share(count, total) }
}

/// Analyses the rows matching `q` within `reach`; `base_region` is where region drill-down
/// starts when the filter names no region.
pub fn analyse(
    conn: &mut DbConnection,
    q: &CheckedQuery,
    reach: &Reach,
    base_region: &RegionCode,
) -> AppResult<Analysis> {
    let total = count(conn, q, reach)?;
    let merchants = count(conn, &q.with_merchant(true), reach)?;
    let mut by_stage = Vec::new();
    for s in Stage::ALL {
        let n = count(conn, &q.with_stage(s), reach)?;
        by_stage.push(bucket(s.code().into(), s.label_zh().into(), n, total));
    }
    let all_categories = catalogue::list(conn)?;
    let parent = q.category().map(str::to_owned);
    let mut by_category = Vec::new();
    for c in all_categories.iter().filter(|c| c.parent_code == parent) {
        let n = count(conn, &q.with_category(&c.code), reach)?;
        by_category.push(bucket(c.code.clone(), c.name.clone(), n, total));
    }
    let mut by_region: Vec<Bucket> =
        region_counts(conn, q, reach, base_region)?.into_iter().filter(|b| b.count > 0).collect();
    for b in &mut by_region {
        b.share = share(b.count, total);
    }
    by_region.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    let by_month =
        months(conn, q, reach)?.into_iter().map(|(month, n)| bucket(month.clone(), month, n, total)).collect();
    Ok(Analysis {
        total,
        merchants,
        merchant_share: share(merchants, total),
        by_stage,
        by_category,
        by_region,
        by_month,
    })
}

/// Counts for every division one level below the filter's region (or `base_region`), zeros
/// included, in code order.
pub fn region_counts(
    conn: &mut DbConnection,
    q: &CheckedQuery,
    reach: &Reach,
    base_region: &RegionCode,
) -> AppResult<Vec<Bucket>> {
    let region = q.region().cloned().unwrap_or_else(|| base_region.clone());
    let mut out = Vec::new();
    for child in region.children() {
        let n = count(conn, &q.with_region(child.clone()), reach)?;
        out.push(bucket(child.as_str().into(), child.name().into(), n, 0));
    }
    Ok(out)
}

/// Months shown one by one; earlier filings are summed in one bucket.
const MONTHS_SHOWN: usize = 24;

/// Counts by filing month, newest [`MONTHS_SHOWN`] months one by one and the rest together,
/// each a range count on the indexed filing time.
fn months(conn: &mut DbConnection, q: &CheckedQuery, reach: &Reach) -> AppResult<Vec<(String, i64)>> {
    use chrono::{Datelike, NaiveDate};
    let Some((first, last)) = search::filed_range(conn, q, reach)? else { return Ok(vec![]) };
    let mut starts = Vec::new();
    let mut m = NaiveDate::from_ymd_opt(last.year(), last.month(), 1).unwrap_or_default();
    let first_month = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).unwrap_or_default();
    while m >= first_month && starts.len() < MONTHS_SHOWN {
        starts.push(m);
        m = m.checked_sub_months(chrono::Months::new(1)).unwrap_or(first_month);
        if starts.last() == Some(&m) {
            break;
        }
    }
    let mut out = Vec::new();
    if let Some(oldest) = starts.last().copied() {
        if first_month < oldest {
            let n = count(conn, &q.with_filed_range(None, oldest.and_hms_opt(0, 0, 0)), reach)?;
            out.push((format!("{}以前", oldest.format("%Y-%m")), n));
        }
    }
    for start in starts.into_iter().rev() {
        let end = start.checked_add_months(chrono::Months::new(1)).unwrap_or(start);
        let n = count(conn, &q.with_filed_range(start.and_hms_opt(0, 0, 0), end.and_hms_opt(0, 0, 0)), reach)?;
        out.push((start.format("%Y-%m").to_string(), n));
    }
    Ok(out)
}
