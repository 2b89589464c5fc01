//! What the roll-up benchmarks share: a node as a store of its own (an in-process database
//! migrated like a node's) that collects one roll-up kind into batches with real digests, the
//! way its uplink would, and applies its children's batches through the real inbox.

use tracenode::config::DatabaseUrl;
use tracenode::db::Db;
use tracenode::federation::children;
use tracenode::federation::inbox::{self, Presented, Via};
use tracenode::federation::kinds::{self, Collector, Kind};
use tracenode::pki::own::OwnCertificate;
use tracenode::region::RegionCode;
use tracenode_federation::tiers::Identity;
use tracenode_federation::wire::batch::Batch;
use tracenode_federation::wire::{Payload, DEFAULT_MAX_BATCH_BYTES};

/// Room left under the batch limit for the header and a seal.
pub const SLACK: usize = 64 * 1024;

/// One node of the tree, for one roll-up kind.
pub struct Store {
    /// Its region.
    pub region: String,
    /// Its database.
    pub db: Db,
    kind: Kind,
    through: i64,
    made: i64,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh database: on the PostgreSQL server `pg`, or SQLite in a folder of its own.
pub fn open(pg: Option<&str>) -> (Db, Option<tempfile::TempDir>) {
    match pg {
        Some(server) => {
            let url = DatabaseUrl::parse(&crate::support::fresh_pg(server)).expect("url");
            (Db::open(&url, std::path::Path::new("."), 4, true).expect("open"), None)
        }
        None => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = DatabaseUrl::parse(&format!("sqlite://{}/node.db", dir.path().display())).expect("url");
            (Db::open(&url, dir.path(), 2, true).expect("open"), Some(dir))
        }
    }
}

impl Store {
    /// The node of `region` rolling up `kind`.
    pub fn on(kind: Kind, region: &str, pg: Option<&str>) -> Store {
        let (db, dir) = open(pg);
        Store { region: region.to_owned(), db, kind, through: 0, made: 0, _dir: dir }
    }

    /// Enrols `children` as its child nodes.
    pub fn enrol(&self, children: &[String]) {
        self.db
            .transaction_sync(|conn| {
                for c in children {
                    children::enrol(conn, &RegionCode::parse(c).expect("region"), "-", "file", None)?;
                }
                Ok(())
            })
            .expect("enrol");
    }

    /// Everything new of its kind, in batches.
    pub fn collect(&mut self, signer: &OwnCertificate) -> Vec<Batch> {
        let identity = Identity::Node { region: self.region.clone() };
        let mut out = Vec::new();
        loop {
            let by = Collector {
                identity: &identity,
                region: &self.region,
                signer,
                batch_items: 5_000,
                max_body_bytes: DEFAULT_MAX_BATCH_BYTES as usize - SLACK,
                batch_no: self.made + 1,
            };
            let collected = {
                let mut conn = self.db.conn().expect("conn");
                kinds::collect(self.kind, &mut conn, self.through, &by).expect("collect")
            };
            let Some(c) = collected else { break };
            self.through = c.collected_through;
            if c.payload.items() > 0 {
                self.made += 1;
                out.push(batch(self.kind, &self.region, self.made, &c.payload));
            }
            if !c.more {
                break;
            }
        }
        out
    }

    /// Collects what is new here and has `parent` apply it: one hop up.
    pub fn pass_up(&mut self, parent: &Store, signer: &OwnCertificate) {
        let b = self.collect(signer);
        parent.receive(&self.region, &b);
    }

    /// Applies a child's batches, each of which must be applied.
    pub fn receive(&self, child: &str, batches: &[Batch]) {
        let sender = Identity::Node { region: child.to_owned() };
        let presented = Presented { receiver: &self.region, ..Presented::default() };
        for b in batches {
            let receipt = inbox::receive(&self.db, &sender, presented, b, Via::File).expect("apply");
            assert_eq!(receipt.outcome.as_str(), "applied", "{child} batch {}", b.header.batch_no);
        }
    }
}

/// A batch of `kind` from `sender`.
pub fn batch(kind: Kind, sender: &str, no: i64, payload: &Payload) -> Batch {
    Batch::new(
        kind.as_str(),
        &Identity::Node { region: sender.to_owned() },
        no,
        payload.items() as i64,
        payload.to_body(),
        "2026-12-03T00:00:00Z".into(),
    )
}

/// Items cut into batches of `kind` under the byte limit, as a sender's collect would.
pub fn cut<T: serde::Serialize + Clone>(
    kind: Kind,
    sender: &str,
    items: &[T],
    wrap: impl Fn(Vec<T>) -> Payload,
) -> Vec<Batch> {
    let budget = DEFAULT_MAX_BATCH_BYTES as usize - SLACK;
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let sizes = rest.iter().map(|s| serde_json::to_string(s).expect("json").len());
        let n = kinds::fitting(sizes, budget);
        out.push(batch(kind, sender, out.len() as i64 + 1, &wrap(rest[..n].to_vec())));
        rest = &rest[n..];
    }
    out
}

/// The process's peak resident memory, MiB.
pub fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}
