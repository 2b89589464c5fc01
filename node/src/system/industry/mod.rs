//! Industry statistics (行业统计管理) under the 新产业新业态新商业模式统计分类 (2018).
//!
//! - [`classification`]: the 三新 code list by edition (sections seeded, the rest imported);
//! - [`form`] and [`forms`]: statistical report forms (报表制度) defined as data — indicators,
//!   units, aggregation, check rules ([`rules`]), frequency ([`period`]) and deadline — and
//!   the units (tenants) that report each at this node;
//! - [`reports`]: what the units fill, submit, and staff review;
//! - [`summary`]: the summary of the jurisdiction, the roll-up kind `industry-statistics`;
//! - [`workbook`]: each form as an XLSX workbook to fill and upload, and the summaries
//!   exported in the form's own layout.
//!
//! A form published at a node goes down the mailbox to every node below, so every tier
//! reports the same form, and summaries come back up tier by tier; a node links to the
//! tiers only through [`Tiers`], which the federation provides.

pub mod api;
pub mod classification;
pub mod form;
pub mod forms;
pub mod overview;
pub mod pages;
pub mod period;
pub mod reminders;
pub mod reports;
pub mod rules;
pub mod summary;
pub mod value;
pub mod workbook;

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use crate::db::DbConnection;
use crate::error::AppResult;

/// What industry statistics need of the node's tiers (the federation provides it; a node
/// without parent or children has none).
pub trait Tiers: Send + Sync {
    /// Sends a form published or withdrawn here down to every node below, inside the
    /// transaction that changed it.
    fn send_down(&self, conn: &mut DbConnection, form: &forms::Form) -> AppResult<()>;
    /// Asks for the summaries waiting in the outbox to go up soon.
    fn wake_up(&self);
}

/// The registered [`Tiers`] of a node.
#[derive(Clone)]
pub struct Linked(pub Arc<dyn Tiers>);

/// Hours China Standard Time is ahead of UTC.
const CST_HOURS: i64 = 8;

/// The China Standard Time day of a UTC time.
pub fn cst_day(utc: NaiveDateTime) -> NaiveDate {
    (utc + TimeDelta::hours(CST_HOURS)).date()
}

/// Today in China Standard Time.
pub fn today() -> NaiveDate {
    cst_day(chrono::Utc::now().naive_utc())
}

/// The reminders' round each hour, once per node.
pub fn background(state: &actix_web::web::Data<crate::app::AppState>) -> Vec<crate::jobs::Job> {
    use crate::jobs::{Job, Schedule, Scope};
    let db = state.db.clone();
    vec![Job::scheduled(
        "industry.reminders",
        "行业统计催报",
        Schedule::Every(std::time::Duration::from_secs(3600)),
        Scope::Once,
        Arc::new(move || {
            let db = db.clone();
            Box::pin(async move {
                let today = today();
                let told = db.transaction(move |conn| reminders::round(conn, today)).await?;
                Ok(format!("提醒 {told} 个报送单位或下级节点"))
            })
        }),
    )]
}
