//! 对接监控: how each filed platform is doing, from what the node already keeps about its
//! tenant — its traffic over the last seven days (last contact, volume, rejection rate, mean
//! processing time), its open alerts, its API keys (last use) and client certificates (the
//! earliest expiry among those in force).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::{Application, ApplicationStatus};
use crate::db::schema::issued_certificates as ic;
use crate::db::{self, DbConnection};
use crate::error::AppResult;
use crate::ingest::monitor::alerts::{self, AlertQuery};
use crate::ingest::monitor::{self, SenderTraffic};

/// The window of the traffic figures, days.
pub const WINDOW_DAYS: i64 = 7;

/// One filed platform's figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlatformConnection {
    /// The application.
    pub application: Application,
    /// Traffic over the window (absent: nothing sent).
    pub traffic: Option<SenderTraffic>,
    /// Records rejected per thousand read over the window.
    pub rejected_per_mille: Option<i64>,
    /// Open alerts.
    pub open_alerts: usize,
    /// API keys in force.
    pub keys: usize,
    /// The latest use of any of its keys (UTC).
    pub key_last_used: Option<NaiveDateTime>,
    /// The earliest expiry of its client certificates in force (UTC).
    pub certificate_expires: Option<NaiveDateTime>,
}

/// Every filed, suspended or revoked platform's figures, newest filing first.
pub fn connections(conn: &mut DbConnection) -> AppResult<Vec<PlatformConnection>> {
    let since = db::now() - chrono::TimeDelta::days(WINDOW_DAYS);
    let mut out = Vec::new();
    for a in super::list_all(conn, None)? {
        if !matches!(a.status, ApplicationStatus::Filed | ApplicationStatus::Suspended | ApplicationStatus::Revoked) {
            continue;
        }
        let Some(tenant) = a.tenant_id.clone() else { continue };
        out.push(connection(conn, a, &tenant, since)?);
    }
    Ok(out)
}

fn connection(
    conn: &mut DbConnection,
    a: Application,
    tenant: &str,
    since: NaiveDateTime,
) -> AppResult<PlatformConnection> {
    let traffic = monitor::traffic(conn, Some(tenant), since)?.into_iter().next();
    let rejected_per_mille = traffic.as_ref().filter(|t| t.records > 0).map(|t| t.rejected * 1000 / t.records);
    let open = AlertQuery { status: Some(alerts::status::OPEN.to_owned()) };
    let open_alerts = alerts::list(conn, &open, Some(tenant))?.len();
    let id = crate::ids::TenantId::from_db(tenant.to_owned());
    let keys: Vec<_> =
        crate::auth::api_key::list(conn, Some(&id))?.into_iter().filter(|k| k.revoked_at.is_none()).collect();
    let certificate_expires: Option<NaiveDateTime> = ic::table
        .filter(ic::tenant_id.eq(tenant))
        .filter(ic::revoked_at.is_null())
        .filter(ic::not_after.gt(db::now()))
        .select(diesel::dsl::min(ic::not_after))
        .first(conn)?;
    Ok(PlatformConnection {
        application: a,
        traffic,
        rejected_per_mille,
        open_alerts,
        key_last_used: keys.iter().filter_map(|k| k.last_used_at).max(),
        keys: keys.len(),
        certificate_expires,
    })
}
