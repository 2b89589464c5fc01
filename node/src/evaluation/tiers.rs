//! What evaluation needs of the node's tiers, which the federation provides (a node without
//! parent or children has none): a set version saved here goes down the mailbox to every node
//! below, inside the transaction that saved it; what waits in the outbox goes up soon.

use std::sync::Arc;

use super::sets::Set;
use crate::db::DbConnection;
use crate::error::AppResult;

/// The link to the tiers above and below.
pub trait Tiers: Send + Sync {
    /// Sends a set version saved here down to every node below.
    fn send_down(&self, conn: &mut DbConnection, set: &Set) -> AppResult<()>;
    /// Asks for the evaluation outbox to go up soon.
    fn wake_up(&self);
}

/// The registered [`Tiers`] of a node.
#[derive(Clone)]
pub struct Linked(pub Arc<dyn Tiers>);
