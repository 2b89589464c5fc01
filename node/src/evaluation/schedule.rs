//! Runs made by the node itself: each hour (job `evaluation.runs`, once per node) every set's
//! latest version is run for the latest period of its frequency that has ended, unless a run
//! of that set and period exists already — so each month (or quarter) is evaluated once, the
//! day after it ends, and a period staff ran or re-ran by hand is left as they left it. The
//! report of each run made so goes out at once to those responsible ([`super::report::send`]).

use chrono::NaiveDate;
use diesel::prelude::*;

use super::runs::{self, Run};
use super::sets;
use crate::audit::AuditContext;
use crate::db::schema::evaluation_runs as ev;
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::system::industry::period::Period;

/// Runs what is due on `today` (China Standard Time) at the node of region `own` named
/// `node`, and queues each run's report; returns the runs made.
pub fn due(conn: &mut DbConnection, own: &str, node: &str, today: NaiveDate) -> AppResult<Vec<Run>> {
    let last = today - chrono::TimeDelta::days(1);
    let mut made = Vec::new();
    for set in sets::latest(conn)? {
        let period = Period::latest_ended(set.definition.frequency, today).to_string();
        let exists: i64 =
            ev::table.filter(ev::set_code.eq(&set.code)).filter(ev::period.eq(&period)).count().get_result(conn)?;
        if exists == 0 {
            let run = runs::run(conn, &AuditContext::system(), own, &set.code, Some(set.version), &period, last)?;
            super::report::send(conn, &AuditContext::system(), node, &run.id)?;
            made.push(run);
        }
    }
    Ok(made)
}
