//! Anomalies: a stored record flagged by a rule or a reference policy, open until a reviewer
//! confirms or dismisses it.

use diesel::prelude::*;

use crate::db::schema::anomalies;
use crate::db::DbConnection;
use crate::error::AppResult;

/// Status of an anomaly.
pub mod state {
    /// Not yet reviewed.
    pub const OPEN: &str = "open";
    /// A real problem.
    pub const CONFIRMED: &str = "confirmed";
    /// Not a problem.
    pub const DISMISSED: &str = "dismissed";
}

/// A new anomaly.
#[derive(Debug, Clone)]
pub struct Found {
    /// The record's id.
    pub record_id: String,
    /// Rule code.
    pub rule: &'static str,
    /// Chinese detail.
    pub zh: String,
    /// English detail.
    pub en: String,
}

/// Stores anomalies found in one submission of `tenant`.
pub fn record(conn: &mut DbConnection, tenant: &str, submission: &str, found: &[Found]) -> AppResult<()> {
    let now = crate::db::now();
    for f in found {
        diesel::insert_into(anomalies::table)
            .values((
                anomalies::id.eq(uuid::Uuid::now_v7().to_string()),
                anomalies::tenant_id.eq(tenant),
                anomalies::record_id.eq(&f.record_id),
                anomalies::submission_id.eq(submission),
                anomalies::rule.eq(f.rule),
                anomalies::detail_zh.eq(&f.zh),
                anomalies::detail_en.eq(&f.en),
                anomalies::status.eq(state::OPEN),
                anomalies::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
