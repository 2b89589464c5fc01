//! Federation (联邦, docs/federation.md): this node among its parent and children.
//!
//! - [`listener`]: the second, mutual-TLS listener; a caller is whoever its verified
//!   certificate names ([`peer`]), and certificates and revocation lists are reloaded while it
//!   runs.
//! - [`kinds`]: the roll-ups — registrations, statistics, audit checkpoints — each a
//!   [`kinds::Kind`] that collects batches here and applies them at the parent.
//! - [`uplink`]: batches made, kept until the parent has applied them, and sent by a worker
//!   that runs on the cron schedules, on arrival of a child's batch, and by hand; one run at a
//!   time per kind across processes (a lease row).
//! - [`inbox`]: a child's batch checked and applied with its cursor, or refused whole.
//! - [`mailbox`]: what goes down — the national catalogue, revocation lists, notices — which
//!   each child long-polls from its parent and passes on.
//! - [`offline`]: the same batches as signed files for networks without a live link.
//! - [`enrolment`]: a would-be child's request over the network, decided by an operator.
//! - [`children`]: the enrolled children and their traffic; [`api`]: the endpoints;
//!   [`cli`]: `tracenode rollup …` and `tracenode federation …`; [`pages`]: the console;
//!   the `demo` command (`cli::demo`): four tiers on loopback with one command.

pub mod api;
pub mod children;
pub mod cli;
pub mod enrolment;
pub mod inbox;
pub mod kinds;
pub mod listener;
pub mod mailbox;
pub mod offline;
pub mod pages;
pub mod references;
pub mod uplink;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tracenode_federation::tiers::Identity;
use tracenode_federation::transport::{self, LiveServer};

use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::jobs::{Job, Schedule, Scope};
use crate::pki::own::{Own, OwnCertificate, SigningCertificate};
use crate::pki::NodePki;

/// This node's place in the federation, once its CA is installed.
pub struct Federation {
    /// Who this node is.
    pub identity: Identity,
    /// Its region.
    pub region: String,
    pki: NodePki,
    names: Vec<String>,
    /// What the mutual-TLS listener serves and trusts now.
    pub live: Arc<LiveServer>,
    client: RwLock<Option<reqwest::Client>>,
    signer: RwLock<OwnCertificate>,
    /// The parent's federation listener.
    pub parent_url: Option<String>,
    timeout: Duration,
    loaded: Mutex<String>,
    due: Mutex<BTreeSet<&'static str>>,
    wake: tokio::sync::Notify,
    /// This process's name in the lease rows.
    pub holder: String,
    /// One run per kind at a time within this process (the lease row keeps other
    /// processes out): a run asked for while one is going waits for it.
    running: std::collections::HashMap<&'static str, tokio::sync::Mutex<()>>,
    /// Registrations per batch.
    pub batch_items: i64,
    /// Days an applied batch keeps its body (`federation.keep_sent_days`).
    pub keep_sent_days: u32,
    /// How long the uplink waits after it is woken, to take a burst of arrivals in one run.
    pub coalesce: std::time::Duration,
    /// The largest batch the parent takes, as its `hello` last said (0: not asked yet).
    pub parent_limit: std::sync::atomic::AtomicU64,
    /// The digest of the batches this node makes (`security.batch_digest`).
    pub batch_digest: tracenode_federation::wire::batch::BodyDigest,
    /// The SM2 key file when the node seals its batches (`security.batch_signature`).
    seal_key: Option<std::path::PathBuf>,
    sealer: RwLock<Option<Arc<SigningCertificate>>>,
    /// Whether children's batches must be sealed (`security.require_batch_signature`).
    pub require_seal: bool,
    db: Db,
}

fn transport_failed(e: transport::TransportError) -> AppError {
    AppError::invalid("federation", format!("联邦传输配置有误：{e}"), format!("federation transport: {e}"))
}

impl Federation {
    /// The federation of the node `config` describes: `None` when it has neither a
    /// federation listener nor a parent, or its CA is not installed yet.
    pub fn load(config: &Config, db: &Db) -> AppResult<Option<Arc<Federation>>> {
        let section = &config.federation;
        if section.listen.is_empty() && section.parent_url.is_empty() {
            return Ok(None);
        }
        let pki = NodePki::of(config);
        if !pki.installed() {
            tracing::warn!(
                "federation configured but this node has no certificate authority yet: run `tracenode pki …`"
            );
            return Ok(None);
        }
        let names = section.names();
        let digest = pki.files_digest();
        let server = pki.own(Own::Server, &names)?;
        let client = pki.own(Own::Client, &names)?;
        keep_register(db, &pki, &server, &client)?;
        let trust = pki.trust()?;
        let live = LiveServer::new(server.credentials()?, &trust).map_err(transport_failed)?;
        let parent_url = Some(section.parent_url.trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
        let timeout = Duration::from_secs(section.timeout_seconds.max(1));
        let http = parent_client(&client, &trust, timeout)?;
        let seal_key = (config.security.batch_signature == crate::keys::BatchSignature::Sm2)
            .then(|| config.resolve(&config.security.sm2_key_file));
        let sealer = seal_key.as_deref().map(|k| current_sealer(db, &pki, k).map(Arc::new)).transpose()?;
        Ok(Some(Arc::new(Federation {
            identity: pki.identity()?,
            region: config.node.region.as_str().to_owned(),
            loaded: Mutex::new(digest),
            pki,
            names,
            live,
            client: RwLock::new(Some(http)),
            signer: RwLock::new(client),
            parent_url,
            timeout,
            due: Mutex::new(BTreeSet::new()),
            wake: tokio::sync::Notify::new(),
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            running: kinds::Kind::ALL.iter().map(|k| (k.as_str(), tokio::sync::Mutex::new(()))).collect(),
            batch_items: section.batch_items,
            keep_sent_days: section.keep_sent_days,
            parent_limit: std::sync::atomic::AtomicU64::new(0),
            coalesce: std::time::Duration::from_millis(section.coalesce_ms),
            batch_digest: config.security.batch_digest,
            seal_key,
            sealer: RwLock::new(sealer),
            require_seal: config.security.require_batch_signature,
            db: db.clone(),
        })))
    }

    /// Takes up new certificates and revocation lists if the files changed (or the node's
    /// own certificates need renewing); returns whether anything was reloaded. On an error
    /// the listener keeps what it had.
    pub fn reload(&self) -> AppResult<bool> {
        self.write_children_lists()?;
        // The digest before the files are read: a file that changes while it is read (a
        // rotation from the command line) changes the digest again, and the next tick
        // reads it once more.
        let digest = self.pki.files_digest();
        let server = self.pki.own(Own::Server, &self.names)?;
        let client = self.pki.own(Own::Client, &self.names)?;
        keep_register(&self.db, &self.pki, &server, &client)?;
        if let Some(key) = &self.seal_key {
            let sealer = current_sealer(&self.db, &self.pki, key)?;
            *self.sealer.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(sealer));
        }
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if *loaded == digest {
            return Ok(false);
        }
        let trust = self.pki.trust()?;
        self.live.update(server.credentials()?, &trust).map_err(transport_failed)?;
        let http = parent_client(&client, &trust, self.timeout)?;
        *self.client.write().unwrap_or_else(|e| e.into_inner()) = Some(http);
        *self.signer.write().unwrap_or_else(|e| e.into_inner()) = client;
        *loaded = digest;
        tracing::info!("federation certificates and revocation lists reloaded");
        Ok(true)
    }

    /// Writes the children's newest revocation lists into `pki/crls/` where they differ, and
    /// takes out a list past its next update: the listener refuses every certificate whose
    /// issuer's list has lapsed, and the child could then not send a fresh one. Also asks
    /// for this node's own newest list to go up when it has not.
    fn write_children_lists(&self) -> AppResult<()> {
        let mut conn = self.db.conn()?;
        for (region, pem) in kinds::revocations::of_children(&mut conn)? {
            if kinds::revocations::lapsed(pem.as_bytes()) {
                self.pki.remove_crl(&region);
            } else if self.pki.stored_crl(&region).as_deref() != Some(pem.as_bytes()) {
                self.pki.store_crl(&region, pem.as_bytes())?;
            }
        }
        if self.parent_url.is_some() && kinds::revocations::waiting(&mut conn)? {
            self.trigger(kinds::revocations::NAME);
        }
        Ok(())
    }

    /// The serial number (hex) of the client certificate the node calls its parent with.
    pub fn client_serial(&self) -> String {
        self.signer().chain.first().and_then(|c| crate::pki::registry::serial_hex(c).ok()).unwrap_or_default()
    }

    /// Waits until no other run of `kind` goes on in this process and holds that until
    /// the guard is dropped.
    pub async fn run_slot(&self, kind: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.running.get(kind) {
            Some(slot) => Some(slot.lock().await),
            None => None,
        }
    }

    /// The HTTP client for calls to the parent (with the node's client certificate).
    pub fn parent_client(&self) -> Option<reqwest::Client> {
        self.client.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The node's client certificate, which also signs checkpoints and bundles.
    pub fn signer(&self) -> OwnCertificate {
        self.signer.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The signing certificate and key the node seals its batches with, when it does.
    pub fn sealer(&self) -> Option<Arc<SigningCertificate>> {
        self.sealer.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The node's PKI folder.
    pub fn pki(&self) -> &NodePki {
        &self.pki
    }

    /// Asks the worker to run `kind` soon.
    pub fn trigger(&self, kind: &'static str) {
        self.due.lock().unwrap_or_else(|e| e.into_inner()).insert(kind);
        self.wake.notify_one();
    }

    /// Asks the worker to run every kind soon.
    pub fn trigger_all(&self) {
        for k in kinds::Kind::ALL {
            self.trigger(k.as_str());
        }
    }

    fn take_due(&self) -> BTreeSet<&'static str> {
        std::mem::take(&mut *self.due.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Keeps the register in step with the files: the node's CA and current leaves entered
/// (a rotated leaf supersedes the one before) and its revocation list fresh. Certificates about
/// to expire are announced by the job `pki.expiry`.
fn keep_register(db: &Db, pki: &NodePki, server: &OwnCertificate, client: &OwnCertificate) -> AppResult<()> {
    use crate::pki::registry::{self, kind};
    db.transaction_sync(|conn| {
        let authority = pki.authority()?;
        registry::record(conn, authority.certificate(), kind::NODE_CA, None, "parent")?;
        for (own, k) in [(server, kind::NODE_SERVER), (client, kind::NODE_CLIENT)] {
            let Some(leaf) = own.chain.first() else { continue };
            // Only a leaf new to the register (issued or rotated) changes the others.
            if registry::record(conn, leaf, k, None, "node")? {
                let subject = tracenode_federation::tiers::identity_of(leaf)
                    .map_err(|e| AppError::internal(e.to_string()))?
                    .uri();
                registry::supersede(conn, &subject, k, &registry::serial_hex(leaf)?)?;
            }
        }
        if let Some(published) = registry::refresh_crl(conn, pki)? {
            mailbox::send_crl_down(conn, &published)?;
        }
        Ok(())
    })
}

/// The signing certificate for the SM2 key at `key_file`, issued again when the register
/// says it was revoked, and entered in the register (superseding the one before).
fn current_sealer(db: &Db, pki: &NodePki, key_file: &std::path::Path) -> AppResult<SigningCertificate> {
    use crate::pki::registry::{self, kind};
    let sealer = {
        let mut conn = db.conn()?;
        pki.signing_unless(key_file, |serial| registry::get(&mut conn, serial).is_ok_and(|c| c.is_revoked()))?
    };
    db.transaction_sync(|conn| {
        let cert = openssl::x509::X509::from_pem(sealer.pem.as_bytes()).map_err(AppError::internal)?;
        if registry::record(conn, &cert, kind::NODE_SIGNING, None, "node")? {
            let subject =
                tracenode_federation::tiers::identity_of(&cert).map_err(|e| AppError::internal(e.to_string()))?;
            registry::supersede(conn, &subject.uri(), kind::NODE_SIGNING, &sealer.serial)?;
        }
        Ok(())
    })?;
    Ok(sealer)
}

fn parent_client(own: &OwnCertificate, trust: &transport::Trust, timeout: Duration) -> AppResult<reqwest::Client> {
    let tls = transport::client_config(own.credentials()?, trust).map_err(transport_failed)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(AppError::internal)
}

/// The federation's background work, for the job supervisor: the reload of certificates
/// and lists (each process: they are its own TLS state), the expiry warnings (once), and
/// with a parent the uplink and mailbox workers and the roll-up schedules (once).
pub fn background(fed: Arc<Federation>, db: Db, config: &Config) -> Vec<Job> {
    let reload_every = Duration::from_secs(config.federation.reload_every_seconds.max(1));
    let reloading = fed.clone();
    let mut jobs = vec![Job::scheduled(
        "federation.reload",
        "重新载入证书与吊销列表",
        Schedule::Every(reload_every),
        Scope::EachProcess,
        Arc::new(move || {
            let f = reloading.clone();
            Box::pin(async move {
                match tokio::task::spawn_blocking(move || f.reload()).await {
                    Ok(Ok(true)) => Ok("已载入新的证书或吊销列表".to_owned()),
                    Ok(Ok(false)) => Ok("无变化".to_owned()),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(AppError::internal(format!("federation reload panicked: {e}"))),
                }
            })
        }),
    )];
    let (warning, warning_db) = (fed.clone(), db.clone());
    jobs.push(Job::scheduled(
        "pki.expiry",
        "证书到期提醒",
        Schedule::Every(reload_every),
        Scope::Once,
        Arc::new(move || {
            let (fed, db) = (warning.clone(), warning_db.clone());
            Box::pin(async move {
                let region = fed.pki.authority()?.region().to_owned();
                let told = db.transaction(move |conn| crate::pki::registry::warn_expiring(conn, &region)).await?;
                Ok(format!("提醒 {told} 张即将到期的证书"))
            })
        }),
    ));
    if fed.parent_url.is_none() {
        return jobs;
    }
    let retry = Duration::from_secs(config.federation.retry_every_seconds.max(1));
    let wait = Duration::from_secs(config.federation.timeout_seconds.saturating_sub(5).clamp(1, 25));
    let (f, d) = (fed.clone(), db.clone());
    jobs.push(Job::worker(
        "federation.uplink",
        "向上级上报",
        Arc::new(move |stop| Box::pin(uplink::worker(f.clone(), d.clone(), retry, stop))),
    ));
    let (f, d) = (fed.clone(), db);
    jobs.push(Job::worker(
        "federation.mailbox",
        "接收上级下发",
        Arc::new(move |stop| Box::pin(mailbox::poll(f.clone(), d.clone(), wait, retry, stop))),
    ));
    let schedules = [
        ("registrations", "按计划上报主体注册", config.federation.registrations_cron.clone()),
        ("statistics", "按计划上报统计数据", config.federation.statistics_cron.clone()),
        ("audit-checkpoints", "按计划上报审计检查点", config.federation.checkpoints_cron.clone()),
    ];
    for (kind, title, cron) in schedules.into_iter().filter(|(_, _, c)| !c.trim().is_empty()) {
        let f = fed.clone();
        jobs.push(Job::scheduled(
            format!("federation.rollup.{kind}"),
            title,
            Schedule::Cron(cron),
            Scope::Once,
            Arc::new(move || {
                f.trigger(kind);
                Box::pin(async move { Ok(format!("已安排上报 {kind}")) })
            }),
        ));
    }
    jobs
}
