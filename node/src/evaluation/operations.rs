//! The day-to-day operation of each tenant platform over a window — what monitoring
//! evaluation scores besides the records: the availability of its pulls (`pull_days`), the
//! transmission alerts raised about it and how long they took to resolve, and whether its
//! credentials are kept current at the window's end (API keys at most [`KEY_MAX_AGE_DAYS`] old,
//! client certificates more than [`CERTIFICATE_MARGIN_DAYS`] from expiry). The counts add up,
//! so a jurisdiction's are the sum of its platforms'.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{alerts, api_keys, issued_certificates as ic, pull_days as pd};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::system::monitoring::indicators::Window;

/// The oldest an API key may be and still count as current.
pub const KEY_MAX_AGE_DAYS: i64 = 365;
/// The fewest days a client certificate must still be valid to count as current.
pub const CERTIFICATE_MARGIN_DAYS: i64 = 30;

/// One platform's operation over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = EvaluationOperations)]
#[serde(default)]
pub struct Operations {
    /// Pull runs.
    pub pull_runs: i64,
    /// Of those, failed.
    pub pull_failures: i64,
    /// Transmission alerts opened.
    pub alerts_opened: i64,
    /// Of those, resolved.
    pub alerts_resolved: i64,
    /// Seconds from opening to resolution, summed over the resolved ones.
    pub resolution_seconds_sum: i64,
    /// Credentials in force at the window's end (API keys and client certificates).
    pub credentials: i64,
    /// Of those, current.
    pub credentials_current: i64,
}

impl Operations {
    /// Whether every count is zero.
    pub fn is_zero(&self) -> bool {
        *self == Operations::default()
    }

    /// Adds `o`.
    pub fn add(&mut self, o: &Operations) {
        self.pull_runs += o.pull_runs;
        self.pull_failures += o.pull_failures;
        self.alerts_opened += o.alerts_opened;
        self.alerts_resolved += o.alerts_resolved;
        self.resolution_seconds_sum = self.resolution_seconds_sum.saturating_add(o.resolution_seconds_sum);
        self.credentials += o.credentials;
        self.credentials_current += o.credentials_current;
    }
}

/// The window's bounds in UTC: its first day's start and the next day's start, China Standard
/// Time.
fn bounds(w: Window) -> (NaiveDateTime, NaiveDateTime) {
    let start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default() - TimeDelta::hours(8);
    (start(w.from), start(w.to + TimeDelta::days(1)))
}

/// Every tenant's operation over `w`, by tenant id (a tenant with none is absent).
pub fn of_tenants(conn: &mut DbConnection, w: Window) -> AppResult<HashMap<String, Operations>> {
    let mut out: HashMap<String, Operations> = HashMap::new();
    let (from, to) = (crate::trace::row::day_text(w.from), crate::trace::row::day_text(w.to));
    let pulls: Vec<(String, i64, i64)> = pd::table
        .filter(pd::day.ge(from))
        .filter(pd::day.le(to))
        .select((pd::tenant_id, pd::runs, pd::failures))
        .load(conn)?;
    for (tenant, runs, failures) in pulls {
        let o = out.entry(tenant).or_default();
        o.pull_runs += runs;
        o.pull_failures += failures;
    }
    let (start, end) = bounds(w);
    let raised: Vec<(String, NaiveDateTime, Option<NaiveDateTime>)> = alerts::table
        .filter(alerts::opened_at.ge(start))
        .filter(alerts::opened_at.lt(end))
        .select((alerts::tenant_id, alerts::opened_at, alerts::resolved_at))
        .load(conn)?;
    for (tenant, opened, resolved) in raised {
        let o = out.entry(tenant).or_default();
        o.alerts_opened += 1;
        if let Some(r) = resolved {
            o.alerts_resolved += 1;
            o.resolution_seconds_sum += (r - opened).num_seconds().max(0);
        }
    }
    let keys: Vec<(String, NaiveDateTime)> = api_keys::table
        .filter(api_keys::created_at.lt(end))
        .filter(api_keys::revoked_at.is_null().or(api_keys::revoked_at.ge(end)))
        .select((api_keys::tenant_id, api_keys::created_at))
        .load(conn)?;
    for (tenant, created) in keys {
        let o = out.entry(tenant).or_default();
        o.credentials += 1;
        o.credentials_current += i64::from(created >= end - TimeDelta::days(KEY_MAX_AGE_DAYS));
    }
    let certificates: Vec<(Option<String>, NaiveDateTime)> = ic::table
        .filter(ic::kind.eq(crate::pki::registry::kind::TENANT_CLIENT))
        .filter(ic::tenant_id.is_not_null())
        .filter(ic::issued_at.lt(end))
        .filter(ic::revoked_at.is_null().or(ic::revoked_at.ge(end)))
        .select((ic::tenant_id, ic::not_after))
        .load(conn)?;
    for (tenant, not_after) in certificates {
        let o = out.entry(tenant.unwrap_or_default()).or_default();
        o.credentials += 1;
        o.credentials_current += i64::from(not_after > end + TimeDelta::days(CERTIFICATE_MARGIN_DAYS));
    }
    Ok(out)
}
