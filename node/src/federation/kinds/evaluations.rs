//! `evaluations`: each jurisdiction's evaluation and each node's run results, from the outbox
//! monitoring evaluation keeps (`evaluation::jurisdiction`), in order. The parent keeps the
//! newest of each, recomputes its own jurisdiction from its children's, and passes everything
//! on up.

use tracenode_federation::wire::payload::EvaluationItem;
use tracenode_federation::wire::Payload;

use super::{Child, Collected, Collector, Settle};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::evaluation::jurisdiction;

/// The next items after outbox number `from`, at most a batch (under the byte budget).
pub fn collect(conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
    let mut entries = jurisdiction::outbox_since(conn, from, by.batch_items)?;
    let full = entries.len() as i64 >= by.batch_items;
    let fits = super::fitting(entries.iter().map(|(_, text)| super::sent_size(text)), by.max_body_bytes);
    let cut = fits < entries.len();
    entries.truncate(fits);
    let (Some(first), Some(last)) = (entries.first().map(|e| e.0), entries.last().map(|e| e.0)) else {
        return Ok(None);
    };
    let items = entries
        .iter()
        .map(|(_, text)| serde_json::from_str::<EvaluationItem>(text).map_err(AppError::internal))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Some(Collected {
        payload: Payload::Evaluations(items),
        seqs: Some((first, last)),
        collected_through: last,
        more: full || cut,
        settle: Settle::Nothing,
    }))
}

/// Applies a child's items.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, items: Vec<EvaluationItem>) -> AppResult<i64> {
    jurisdiction::apply(conn, child.receiver, child.region, &items)
}

/// What evaluation needs of the tiers, as this node's federation provides it: a set goes
/// down the mailbox, and the outbox is sent up at once.
pub struct Tiers(pub std::sync::Arc<crate::federation::Federation>);

impl crate::evaluation::tiers::Tiers for Tiers {
    fn send_down(&self, conn: &mut DbConnection, set: &crate::evaluation::sets::Set) -> AppResult<()> {
        crate::federation::mailbox::send_set_down(conn, &self.0.region, set).map(|_| ())
    }

    fn wake_up(&self) {
        self.0.trigger(tracenode_federation::wire::Kind::Evaluations.as_str());
    }
}
