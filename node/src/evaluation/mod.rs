//! Monitoring evaluation (监测评价, GB/T 38157 §6.8): indicator sets as versioned data
//! ([`set`], [`sets`]), and runs that score every entity or tenant for a period from the
//! operation monitoring figures, with grades, ranks and the inputs each result rests on
//! ([`runs`]); their reports, shown, exported and mailed ([`report`]); each period evaluated by the node itself the day after it ends ([`schedule`]).
//! docs/evaluation.md.

pub mod api;
pub mod chart;
pub mod pages;
pub mod report;
pub mod runs;
pub mod schedule;
pub mod set;
pub mod sets;

use std::sync::Arc;

/// The hourly job that runs each set for the latest period that has ended.
pub fn background(state: &actix_web::web::Data<crate::app::AppState>) -> Vec<crate::jobs::Job> {
    use crate::jobs::{Job, Schedule, Scope};
    let db = state.db.clone();
    vec![Job::scheduled(
        "evaluation.runs",
        "监测评价定期评价",
        Schedule::Every(std::time::Duration::from_secs(3600)),
        Scope::Once,
        Arc::new(move || {
            let db = db.clone();
            Box::pin(async move {
                let today = crate::trace::row::day_of(crate::db::now());
                let made = db.transaction(move |conn| schedule::due(conn, today)).await?;
                Ok(format!("完成评价 {} 次", made.len()))
            })
        }),
    )]
}
