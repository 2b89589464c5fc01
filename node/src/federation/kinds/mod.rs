//! The roll-up kinds (上报类型) at this node: what it collects for its parent and how it
//! applies what its children send. The kinds and their payloads are the protocol's
//! ([`tracenode_federation::wire`]); each file here reads and writes one kind's storage.
//! Adding a kind is one more variant there and one more file and arm here, as
//! `industry-statistics` and `evaluations` were.

pub mod checkpoints;
pub mod evaluations;
pub mod industry;
pub mod registrations;
pub mod revocations;
pub mod statistics;

use openssl::x509::X509;
use tracenode_federation::tiers::Identity;
pub use tracenode_federation::wire::Kind;
use tracenode_federation::wire::Payload;

use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::pki::own::OwnCertificate;

/// What a kind collected for one batch.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The body.
    pub payload: Payload,
    /// The first and last local sequence numbers it covers, for sequenced kinds.
    pub seqs: Option<(i64, i64)>,
    /// Where the next collection starts.
    pub collected_through: i64,
    /// Whether more may wait to be collected (the batch is full).
    pub more: bool,
    /// What storing the batch settles besides the cursor.
    pub settle: Settle,
}

/// What storing a batch settles besides the cursor, in the write transaction that stores
/// it: collecting only reads, outside the write lock, so a child's batch applied meanwhile
/// never waits for it.
#[derive(Debug, Clone)]
pub enum Settle {
    /// Nothing: the cursor says it all.
    Nothing,
    /// The marks of the days a statistics batch took, and the digests of what it sends.
    Statistics(statistics::Taken),
}

/// Settles what the batch numbered `batch_no` collected (see [`Settle`]).
pub fn settle(conn: &mut DbConnection, what: &Settle, batch_no: i64) -> AppResult<()> {
    match what {
        Settle::Nothing => Ok(()),
        Settle::Statistics(taken) => statistics::settle(conn, taken, batch_no),
    }
}

/// The collecting node.
pub struct Collector<'a> {
    /// Its identity.
    pub identity: &'a Identity,
    /// Its region.
    pub region: &'a str,
    /// Its client certificate and key, for kinds that sign items.
    pub signer: &'a OwnCertificate,
    /// Registrations per batch.
    pub batch_items: i64,
    /// The most bytes a batch's body may take as sent (under the parent's limit, with room
    /// for the header and a seal). A single item larger than it still makes a batch of one.
    pub max_body_bytes: usize,
    /// The number the batch will get.
    pub batch_no: i64,
}

/// How many of the items, whose sizes as sent come in order, fit `budget` bytes: at least
/// one, so an item larger than the budget still makes a batch of its own.
pub fn fitting(sizes: impl Iterator<Item = usize>, budget: usize) -> usize {
    let mut total = 0usize;
    let mut n = 0;
    for size in sizes {
        total = total.saturating_add(size);
        if total > budget && n > 0 {
            break;
        }
        n += 1;
    }
    n
}

/// The bytes `text` takes inside a batch, where the body travels as a JSON string: quotes and
/// backslashes gain an escape, a control character up to five more bytes.
pub fn sent_size(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' => 1,
                0..=0x1f => 5,
                _ => 0,
            })
            .sum::<usize>()
}

/// The child a batch came from.
pub struct Child<'a> {
    /// Its region.
    pub region: &'a str,
    /// Its client certificate (from the TLS handshake or the bundle).
    pub certificate: Option<&'a X509>,
    /// The CA certificate that issued [`Child::certificate`].
    pub authority: Option<&'a X509>,
    /// The region of this node, which receives.
    pub receiver: &'a str,
}

/// The next batch of `kind` from what lies after `from`, or nothing when nothing is new.
pub fn collect(kind: Kind, conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
    match kind {
        Kind::Registrations => registrations::collect(conn, from, by),
        Kind::Statistics => statistics::collect(conn, from, by),
        Kind::AuditCheckpoints => checkpoints::collect(conn, from, by),
        Kind::RevocationLists => revocations::collect(conn, from),
        Kind::IndustryStatistics => industry::collect(conn, from, by),
        Kind::Evaluations => evaluations::collect(conn, from, by),
    }
}

/// Applies a child's batch; returns how many items changed something.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, payload: Payload) -> AppResult<i64> {
    match payload {
        Payload::Registrations(items) => registrations::apply(conn, child, items),
        Payload::Statistics(slices) => statistics::apply(conn, child, slices),
        Payload::AuditCheckpoints(checkpoints) => checkpoints::apply(conn, child, checkpoints),
        Payload::RevocationLists(lists) => revocations::apply(conn, child, lists),
        Payload::IndustryStatistics(items) => industry::apply(conn, child, items),
        Payload::Evaluations(items) => evaluations::apply(conn, child, items),
    }
}

/// The kind called `name`, or a validation error listing the kinds.
pub fn require(name: &str) -> AppResult<Kind> {
    Kind::parse(name).ok_or_else(|| {
        let known = Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
        AppError::invalid(
            "kind",
            format!("未知的上报类型 {name}（可选：{known}）"),
            format!("unknown kind {name} (one of: {known})"),
        )
    })
}
