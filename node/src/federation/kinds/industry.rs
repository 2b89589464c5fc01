//! `industry-statistics`: summaries of industry statistics forms, from the outbox the
//! summaries keep (`system::industry::summary`), in order. The parent keeps the newest
//! revision of each (source, form, period), recomputes its own summary from its children's,
//! and passes everything on up.

use tracenode_federation::wire::payload::IndustrySummary;
use tracenode_federation::wire::Payload;

use super::{Child, Collected, Collector, Settle};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::system::industry::summary;

/// The next summaries after outbox number `from`, at most a batch (under the byte budget).
pub fn collect(conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
    let mut entries = summary::outbox_since(conn, from, by.batch_items)?;
    let full = entries.len() as i64 >= by.batch_items;
    let sizes: Vec<usize> =
        entries.iter().map(|(_, s)| serde_json::to_string(s).map_or(0, |t| super::sent_size(&t))).collect();
    let fits = super::fitting(sizes.into_iter(), by.max_body_bytes);
    let cut = fits < entries.len();
    entries.truncate(fits);
    let (Some(first), Some(last)) = (entries.first().map(|e| e.0), entries.last().map(|e| e.0)) else {
        return Ok(None);
    };
    let items: Vec<IndustrySummary> = entries.into_iter().map(|(_, s)| s).collect();
    Ok(Some(Collected {
        payload: Payload::IndustryStatistics(items),
        seqs: Some((first, last)),
        collected_through: last,
        more: full || cut,
        settle: Settle::Nothing,
    }))
}

/// Applies a child's summaries.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, items: Vec<IndustrySummary>) -> AppResult<i64> {
    summary::apply(conn, child.receiver, child.region, &items)
}

/// What industry statistics need of the tiers, as this node's federation provides it: a
/// form goes down the mailbox, and the outbox is sent up at once.
pub struct Tiers(pub std::sync::Arc<crate::federation::Federation>);

impl crate::system::industry::Tiers for Tiers {
    fn send_down(&self, conn: &mut DbConnection, form: &crate::system::industry::forms::Form) -> AppResult<()> {
        crate::federation::mailbox::send_form_down(conn, &self.0.region, form).map(|_| ())
    }

    fn wake_up(&self) {
        self.0.trigger(tracenode_federation::wire::Kind::IndustryStatistics.as_str());
    }
}
