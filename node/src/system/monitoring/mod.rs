//! Entity operation monitoring (主体运行监测, GB/T 38157 §6.7.1): how the parties of the
//! jurisdiction report — reporting rate, merchant activity, timeliness, rejection and anomaly
//! rates — per entity, site, tenant and region, by stage and window of days.
//!
//! - [`indicators`]: the definitions and the types they are kept in;
//! - [`compute`]: computed from the per-party activity that ingestion keeps
//!   (`ingest::activity`) and the registry, never from the trace records themselves;
//! - [`thresholds`]: the bound of each indicator per stage, set in the console;
//! - [`warnings`]: the hourly round that opens and resolves warnings and tells the
//!   notification channels;
//! - [`listing`]: the views (entities, sites, tenants, regions), their sort, pages and CSV;
//! - [`trend`]: one subject's indicators window by window, and their chart;
//! - [`verify`]: the activity rows checked against a recount of the trace records.
//!
//! Who sees what: a tenant's people and machines their own tenant's entities; staff the
//! entities inside their data scope (region and tenants).

pub mod api;
pub mod compute;
pub mod indicators;
pub mod listing;
pub mod pages;
pub mod thresholds;
pub mod trend;
pub mod verify;
pub mod warnings;

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};

use crate::auth::caller::Caller;
use crate::error::{AppResult, ErrorKind};
use crate::ingest::monitor::alerts::Origin;
use crate::users::Permission;
use indicators::Filter;

/// The last whole day (China Standard Time): yesterday.
pub fn last_whole_day() -> NaiveDate {
    crate::trace::row::day_of(crate::db::now()) - TimeDelta::days(1)
}

/// What a caller may see: its own tenant, or the staff member's data scope.
pub fn reach(caller: &Caller) -> Filter {
    match &caller.tenant_id {
        Some(t) => Filter { tenant: Some(t.as_str().to_owned()), ..Filter::default() },
        None => Filter {
            tenants: caller.scope.tenants.iter().map(|t| t.as_str().to_owned()).collect(),
            region: caller.scope.region.clone(),
            ..Filter::default()
        },
    }
}

/// A caller with `monitoring.read`; returns its reach.
pub async fn require_reader(state: &crate::app::AppState, caller: &Caller) -> AppResult<Filter> {
    caller.require(state, Permission::MonitoringRead, "monitoring").await?;
    Ok(reach(caller))
}

/// Narrows `reach` to what the caller asked for, refusing (audited) a region or tenant
/// outside it.
pub async fn narrow(
    state: &crate::app::AppState,
    caller: &Caller,
    mut reach: Filter,
    region: Option<&str>,
    tenant: Option<&str>,
) -> AppResult<Filter> {
    if let Some(r) = region.map(str::trim).filter(|r| !r.is_empty()) {
        let code = crate::region::RegionCode::parse(r)
            .map_err(|e| crate::error::AppError::invalid("region", e.to_string(), e.to_string()))?;
        if reach.region.as_ref().is_some_and(|scope| !scope.contains(&code)) {
            return Err(caller.deny(state, "monitoring.read", r, ErrorKind::OutOfScope).await);
        }
        reach.region = Some(code);
    }
    if let Some(t) = tenant.map(str::trim).filter(|t| !t.is_empty()) {
        let outside = reach.tenant.as_deref().is_some_and(|own| own != t)
            || (!reach.tenants.is_empty() && !reach.tenants.iter().any(|x| x == t));
        if outside {
            return Err(caller.deny(state, "monitoring.read", t, ErrorKind::OutOfScope).await);
        }
        reach.tenant = Some(t.to_owned());
    }
    Ok(reach)
}

/// One round of warnings over the windows ending yesterday, in one transaction.
pub async fn round_now(state: &crate::app::AppState) -> AppResult<warnings::Round> {
    let origin = Origin { name: state.config.node.name.clone(), region: state.config.node.region.as_str().to_owned() };
    let last = last_whole_day();
    state.db.transaction(move |conn| warnings::evaluate(conn, &origin, last)).await
}

/// A round asked for by staff: run, its digests delivered at once, and audited.
pub async fn round_on_demand(state: &crate::app::AppState, caller: &Caller) -> AppResult<warnings::Round> {
    let mut round = round_now(state).await?;
    round.delivered = crate::notify::dispatch(state).await?;
    let ctx = caller.audit();
    let detail = serde_json::to_value(&round).unwrap_or_default();
    state
        .db
        .transaction(move |conn| {
            crate::audit::record(
                conn,
                &ctx,
                "monitoring.evaluate",
                "monitoring",
                crate::audit::Outcome::Success,
                detail,
            )
        })
        .await?;
    Ok(round)
}

/// The warnings' round each hour, once per node.
pub fn background(state: &actix_web::web::Data<crate::app::AppState>) -> Vec<crate::jobs::Job> {
    use crate::jobs::{Job, Schedule, Scope};
    let state = state.clone();
    vec![Job::scheduled(
        "monitoring.warnings",
        "主体运行监测预警",
        Schedule::Every(std::time::Duration::from_secs(3600)),
        Scope::Once,
        Arc::new(move || {
            let state = state.clone();
            Box::pin(async move {
                let r = round_now(&state).await?;
                Ok(format!("评估 {} 个对象，新增预警 {} 条，解除 {} 条", r.judged, r.opened, r.resolved))
            })
        }),
    )]
}
