//! The roll-up kinds (上报类型): what a node collects for its parent and how the parent
//! applies it. Each kind is one [`Kind`]; adding a kind (evaluation results, later) is one
//! more file and one more entry in [`KINDS`].

pub mod checkpoints;
pub mod registrations;
pub mod revocations;
pub mod statistics;

use openssl::x509::X509;
use tracenode_federation::tiers::Identity;

use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::pki::own::OwnCertificate;

/// What a kind collected for one batch.
#[derive(Debug, Clone)]
pub struct Collected {
    /// Items in the body.
    pub items: i64,
    /// The body (JSON text).
    pub body: String,
    /// The first and last local sequence numbers it covers, for sequenced kinds.
    pub seqs: Option<(i64, i64)>,
    /// Where the next collection starts.
    pub collected_through: i64,
    /// Whether more may wait to be collected (the batch is full).
    pub more: bool,
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
    /// The number the batch will get.
    pub batch_no: i64,
}

/// The child a batch came from.
pub struct Child<'a> {
    /// Its region.
    pub region: &'a str,
    /// Its client certificate (from the TLS handshake or the bundle).
    pub certificate: Option<&'a X509>,
    /// The CA certificate that issued [`Child::certificate`].
    pub authority: Option<&'a X509>,
}

/// One roll-up kind.
pub trait Kind: Sync {
    /// Its name in batches, schedules and the command line.
    fn name(&self) -> &'static str;
    /// The Chinese name for the console.
    fn label_zh(&self) -> &'static str;
    /// The next batch's body from what lies after `from`, or nothing when nothing is new.
    fn collect(&self, conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>>;
    /// Applies a child's batch body; returns how many items changed something.
    fn apply(&self, conn: &mut DbConnection, child: &Child<'_>, body: &str) -> AppResult<i64>;
}

/// Every kind, in the order a run sends them.
pub const KINDS: [&dyn Kind; 4] = [
    &registrations::Registrations,
    &statistics::Statistics,
    &checkpoints::AuditCheckpoints,
    &revocations::RevocationLists,
];

/// The kind called `name`.
pub fn kind(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// The kind called `name`, or a validation error listing the kinds.
pub fn require(name: &str) -> AppResult<&'static dyn Kind> {
    kind(name).ok_or_else(|| {
        let known = KINDS.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ");
        AppError::invalid(
            "kind",
            format!("未知的上报类型 {name}（可选：{known}）"),
            format!("unknown kind {name} (one of: {known})"),
        )
    })
}

/// A body that is not the kind's JSON.
pub fn malformed(kind: &str, e: impl std::fmt::Display) -> AppError {
    AppError::batch_refused(
        "malformed_batch",
        format!("{kind} 批次内容格式错误：{e}"),
        format!("the {kind} batch body is malformed: {e}"),
    )
}
