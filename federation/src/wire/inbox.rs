//! Receiving a child's batch: the protocol's rules, apart from where the receiver keeps
//! its state. [`receive`] checks a batch — the sender it names is the one certified, the
//! body matches its digest, the kind is known, the number is the next in that sender's
//! sequence for the kind, the body is the kind's — and only then hands the parsed payload
//! to the [`Inbox`] and moves the cursor. A resend of a batch applied before (same id, same
//! number) changes nothing and answers with the cursor, so a sender that lost an answer
//! simply sends again; any other reuse of a number is a conflict.
//!
//! The node implements [`Inbox`] over its database and calls [`receive`] inside one
//! transaction, so a refused batch — or a failure half-way through applying one — leaves
//! nothing behind.

use super::batch::Batch;
use super::kind::Kind;
use super::payload::Payload;
use super::receipt::{Outcome, Receipt};
use super::refusal::Refusal;
use crate::tiers::Identity;

/// Where a receiver keeps what it took from its children.
pub trait Inbox {
    /// The store's error; a refusal converts into it.
    type Error: From<Refusal>;
    /// The last batch number applied for `child` and `kind`; 0 before the first.
    fn applied_through(&mut self, child: &str, kind: Kind) -> Result<i64, Self::Error>;
    /// The child and number a batch id was applied as, if it was.
    fn applied_as(&mut self, batch_id: &str) -> Result<Option<(String, i64)>, Self::Error>;
    /// Applies `payload` from `child`; returns how many items changed something. A refusal
    /// of the content (a registration from outside the child's region …) is an error.
    fn apply(&mut self, child: &str, payload: Payload) -> Result<i64, Self::Error>;
    /// Notes that the batch `batch_id`, number `batch_no` of `kind`, was applied for `child`.
    fn advance(&mut self, child: &str, kind: Kind, batch_no: i64, batch_id: &str) -> Result<(), Self::Error>;
}

/// Receives `batch` from the node of region `child` (whom its certificate names).
pub fn receive<S: Inbox>(store: &mut S, child: &str, batch: &Batch) -> Result<Receipt, S::Error> {
    let h = &batch.header;
    let certified = Identity::Node { region: child.to_owned() }.uri();
    if h.sender != certified {
        return Err(Refusal::SenderMismatch { named: h.sender.clone(), certified }.into());
    }
    batch.check().map_err(Refusal::from)?;
    let kind = Kind::parse(&h.kind).ok_or_else(|| Refusal::UnknownKind(h.kind.clone()))?;
    let through = store.applied_through(child, kind)?;
    let conflict =
        || Refusal::BatchConflict { child: child.to_owned(), batch_no: h.batch_no, applied_through: through };
    if let Some((from, no)) = store.applied_as(&h.batch_id)? {
        if from == child && no == h.batch_no {
            return Ok(Receipt {
                batch_id: h.batch_id.clone(),
                outcome: Outcome::Duplicate,
                applied_through: through,
                changed: 0,
            });
        }
        return Err(conflict().into());
    }
    if h.batch_no <= through {
        return Err(conflict().into());
    }
    if h.batch_no != through + 1 {
        return Err(Refusal::BatchGap { expected: through + 1, got: h.batch_no }.into());
    }
    let payload = Payload::parse(kind, &batch.body)?;
    let changed = store.apply(child, payload)?;
    store.advance(child, kind, h.batch_no, &h.batch_id)?;
    Ok(Receipt { batch_id: h.batch_id.clone(), outcome: Outcome::Applied, applied_through: h.batch_no, changed })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The protocol's state, in memory: cursors, applied ids and what was applied.
    #[derive(Default)]
    struct Memory {
        cursors: HashMap<(String, Kind), i64>,
        applied: HashMap<String, (String, i64)>,
        items: usize,
    }

    impl Inbox for Memory {
        type Error = Refusal;
        fn applied_through(&mut self, child: &str, kind: Kind) -> Result<i64, Refusal> {
            Ok(self.cursors.get(&(child.to_owned(), kind)).copied().unwrap_or(0))
        }
        fn applied_as(&mut self, batch_id: &str) -> Result<Option<(String, i64)>, Refusal> {
            Ok(self.applied.get(batch_id).cloned())
        }
        fn apply(&mut self, _child: &str, payload: Payload) -> Result<i64, Refusal> {
            self.items += payload.items();
            Ok(payload.items() as i64)
        }
        fn advance(&mut self, child: &str, kind: Kind, no: i64, id: &str) -> Result<(), Refusal> {
            self.cursors.insert((child.to_owned(), kind), no);
            self.applied.insert(id.to_owned(), (child.to_owned(), no));
            Ok(())
        }
    }

    fn batch(no: i64) -> Batch {
        let me = Identity::Node { region: "330106".into() };
        Batch::new("revocation-lists", &me, no, 1, r#"[{"number":1,"pem":"x"}]"#.into(), "2026-12-02T00:00:00Z".into())
    }

    #[test]
    fn batches_apply_in_order_and_a_resend_changes_nothing() {
        let mut inbox = Memory::default();
        let first = batch(1);
        let receipt = receive(&mut inbox, "330106", &first).expect("first");
        assert_eq!((receipt.outcome, receipt.applied_through, receipt.changed), (Outcome::Applied, 1, 1));
        let again = receive(&mut inbox, "330106", &first).expect("resend");
        assert_eq!((again.outcome, again.applied_through, again.changed), (Outcome::Duplicate, 1, 0));
        assert_eq!(inbox.items, 1, "the resend applied nothing");
        receive(&mut inbox, "330106", &batch(2)).expect("second");
        assert_eq!(inbox.cursors[&("330106".to_owned(), Kind::RevocationLists)], 2);
    }

    #[test]
    fn gaps_reused_numbers_and_strangers_are_refused_and_change_nothing() {
        let mut inbox = Memory::default();
        receive(&mut inbox, "330106", &batch(1)).expect("first");
        let refused = |inbox: &mut Memory, child: &str, b: &Batch| receive(inbox, child, b).expect_err("refused");
        assert_eq!(refused(&mut inbox, "330106", &batch(3)), Refusal::BatchGap { expected: 2, got: 3 });
        assert_eq!(refused(&mut inbox, "330106", &batch(1)).code(), "batch_conflict", "another batch, number 1");
        assert_eq!(refused(&mut inbox, "330105", &batch(2)).code(), "sender_mismatch");
        let mut tampered = batch(2);
        tampered.body = "[]".into();
        assert_eq!(refused(&mut inbox, "330106", &tampered), Refusal::DigestMismatch);
        let me = Identity::Node { region: "330106".into() };
        let unknown = Batch::new("forecasts", &me, 2, 0, "[]".into(), "2026-12-02T00:00:00Z".into());
        assert_eq!(refused(&mut inbox, "330106", &unknown), Refusal::UnknownKind("forecasts".into()));
        let malformed = Batch::new("revocation-lists", &me, 2, 1, "{}".into(), "2026-12-02T00:00:00Z".into());
        assert_eq!(refused(&mut inbox, "330106", &malformed).code(), "malformed_batch");
        assert_eq!(inbox.items, 1);
        assert_eq!(inbox.cursors.len(), 1);
        receive(&mut inbox, "330106", &batch(2)).expect("the right next batch still applies");
    }
}
