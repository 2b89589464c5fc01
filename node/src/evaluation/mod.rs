//! Monitoring evaluation (监测评价, GB/T 38157 §6.8): indicator sets as versioned data
//! ([`set`], [`sets`]), and runs that score every entity or tenant for a period from the
//! operation monitoring figures, with grades, ranks and the inputs each result rests on
//! ([`runs`]); their reports, shown, exported and mailed ([`report`]); each period evaluated
//! by the node itself the day after it ends ([`schedule`]); and across the tiers — sets going
//! down, each jurisdiction's evaluation and each node's results going up ([`jurisdiction`],
//! [`held`]), through the federation's [`tiers::Tiers`]. docs/evaluation.md.

pub mod api;
pub mod chart;
pub mod held;
pub mod integrity;
pub mod jurisdiction;
pub mod operations;
pub mod pages;
pub mod report;
pub mod runs;
pub mod schedule;
pub mod set;
pub mod set_form;
pub mod sets;
pub mod tiers;

use std::sync::Arc;

use crate::app::AppState;
use crate::audit::AuditContext;
use crate::error::AppResult;

/// Saves a set's next version here and sends it down to the nodes below.
pub async fn save_set(state: &AppState, ctx: AuditContext, input: set::SetInput) -> AppResult<sets::Set> {
    let linked = state.find::<tiers::Linked>();
    state.db.transaction(move |conn| sets::save(conn, &ctx, &input, linked.as_ref().map(|l| l.0.as_ref()))).await
}

/// Runs a set for a period at this node, then asks for the results to go up.
pub async fn run_now(
    state: &AppState,
    ctx: AuditContext,
    code: String,
    version: Option<i32>,
    period: String,
) -> AppResult<runs::Run> {
    let last = crate::system::monitoring::last_whole_day();
    let own = state.config.node.region.as_str().to_owned();
    let made =
        state.db.transaction(move |conn| runs::run(conn, &ctx, &own, &code, version, period.trim(), last)).await?;
    wake_up(state);
    Ok(made)
}

/// Asks for the evaluation outbox to go up soon (a node without a parent has none).
pub fn wake_up(state: &AppState) {
    if let Some(linked) = state.find::<tiers::Linked>() {
        linked.0.wake_up();
    }
}

/// The hourly job that runs each set for the latest period that has ended.
pub fn background(state: &actix_web::web::Data<crate::app::AppState>) -> Vec<crate::jobs::Job> {
    use crate::jobs::{Job, Schedule, Scope};
    let db = state.db.clone();
    let own = state.config.node.region.as_str().to_owned();
    let node = state.config.node.name.clone();
    let linked = state.find::<tiers::Linked>();
    vec![Job::scheduled(
        "evaluation.runs",
        "监测评价定期评价",
        Schedule::Every(std::time::Duration::from_secs(3600)),
        Scope::Once,
        Arc::new(move || {
            let (db, own, node, linked) = (db.clone(), own.clone(), node.clone(), linked.clone());
            Box::pin(async move {
                let today = crate::trace::row::day_of(crate::db::now());
                let made = db.transaction(move |conn| schedule::due(conn, &own, &node, today)).await?;
                if let Some(l) = linked.filter(|_| !made.is_empty()) {
                    l.0.wake_up();
                }
                Ok(format!("完成评价 {} 次", made.len()))
            })
        }),
    )]
}
