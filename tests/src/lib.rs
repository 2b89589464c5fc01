//! End-to-end scenarios run against real `tracenode` processes, the way an operator runs the
//! node: `tracenode init`, `tracenode serve`, SIGTERM and `kill -9`, the command line for
//! tenants and keys, and HTTPS with the development certificates. What a single node does
//! over HTTP is tested in `node/tests`; what needs processes — a crash in the middle of a
//! write, two processes on one database, an upgrade from an earlier schema — is here.
//!
//! [`Node`] is one node: its directory, configuration and process. The binary is the
//! workspace's own `target/<profile>/tracenode`, built by the test command before the tests
//! run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use diesel::Connection as _;

/// Which database a node keeps its data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: a SQLite file in the node's directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server `TRACENODE_TEST_PG_URL` names.
    Postgres,
}

/// The `tracenode` binary beside the test's own executable (`target/<profile>/deps/…`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's executable");
    let profile = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let bin = profile.join("tracenode");
    assert!(bin.exists(), "{} is missing: build it first (cargo build -p tracenode --bin tracenode)", bin.display());
    bin
}

/// Runs `tracenode` with `args`.
pub fn tracenode(args: &[&str]) -> Output {
    Command::new(binary()).args(args).env_remove("TRACENODE_CONFIG").output().expect("run tracenode")
}

/// Both output streams of a command, for assertion messages.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `n` free consecutive loopback ports.
pub fn free_ports(n: u16) -> u16 {
    let seed = std::process::id() as u64 ^ uuid::Uuid::new_v4().as_u128() as u64;
    for i in 0..2000u64 {
        let base = 20_000 + ((seed.wrapping_add(i * 7919)) % (12_000 - u64::from(n))) as u16;
        if (0..n).all(|k| std::net::TcpListener::bind(("127.0.0.1", base + k)).is_ok()) {
            return base;
        }
    }
    panic!("no {n} free consecutive loopback ports between 20000 and 32000");
}

/// The PostgreSQL server of the tests.
pub fn pg_server_url() -> String {
    std::env::var("TRACENODE_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "PostgreSQL scenarios need TRACENODE_TEST_PG_URL (postgres://user:pass@host:port/postgres, a role with \
             CREATEDB); scripts/test.sh starts PostgreSQL and sets it"
        )
    })
}

/// A PostgreSQL database made for one scenario and dropped with it.
pub struct PgDatabase {
    /// Its URL.
    pub url: String,
    name: String,
}

impl PgDatabase {
    /// A fresh, empty database.
    pub fn fresh() -> PgDatabase {
        let server = pg_server_url();
        let mut conn = diesel::pg::PgConnection::establish(&server).expect("connect to the PostgreSQL test server");
        let name = format!("tn_e2e_{}", uuid::Uuid::new_v4().simple());
        diesel::connection::SimpleConnection::batch_execute(&mut conn, &format!("CREATE DATABASE {name}"))
            .expect("create database");
        let base = server.rsplit_once('/').map(|(b, _)| b.to_owned()).expect("URL with a database");
        PgDatabase { url: format!("{base}/{name}"), name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::pg::PgConnection::establish(&pg_server_url()) {
            let _ = diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            );
        }
    }
}

/// One node: its directory and, while it runs, its process.
pub struct Node {
    /// The node's directory (configuration, certificates, keys, SQLite file).
    pub dir: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
    /// The console/API port.
    pub port: u16,
    /// Extra `TRACENODE_…` settings for its processes.
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    log: PathBuf,
    _pg: Option<PgDatabase>,
}

impl Node {
    /// A county node made by `tracenode init` in `dir` on `backend` (an empty PostgreSQL
    /// database, or the SQLite file the node makes).
    pub fn init(dir: &Path, backend: Backend) -> Node {
        Node::init_as(dir, "county", "330106", backend)
    }

    /// A node of `tier` for `region` made by `tracenode init` in `dir` on `backend`.
    pub fn init_as(dir: &Path, tier: &str, region: &str, backend: Backend) -> Node {
        let pg = (backend == Backend::Postgres).then(PgDatabase::fresh);
        Node::init_full(dir, tier, region, pg)
    }

    /// A county node made by `tracenode init` in `dir` on `pg` (or SQLite), which may already
    /// hold data of an earlier schema.
    pub fn init_on(dir: &Path, pg: Option<PgDatabase>) -> Node {
        Node::init_full(dir, "county", "330106", pg)
    }

    fn init_full(dir: &Path, tier: &str, region: &str, pg: Option<PgDatabase>) -> Node {
        let d = dir.to_str().expect("path");
        let mut args = vec!["init", "--tier", tier, "--region", region, "--name", "端到端节点", "--dir", d];
        if let Some(db) = &pg {
            args.extend(["--database-url", &db.url]);
        }
        let out = tracenode(&args);
        assert!(out.status.success(), "init: {}", text(&out));
        Node::at(dir, pg)
    }

    /// A node already in `dir` (restored from a backup, say), on `pg` if its database is
    /// there; not started.
    pub fn at(dir: &Path, pg: Option<PgDatabase>) -> Node {
        Node {
            dir: dir.to_owned(),
            config: dir.join("tracenode.toml"),
            port: free_ports(1),
            env: Vec::new(),
            child: None,
            log: dir.join("serve.log"),
            _pg: pg,
        }
    }

    /// Another process of the same node: same directory, configuration and database, its own
    /// port and log (the first keeps the PostgreSQL database it made).
    pub fn second_process(&self) -> Node {
        Node {
            dir: self.dir.clone(),
            config: self.config.clone(),
            port: free_ports(1),
            env: self.env.clone(),
            child: None,
            log: self.dir.join(format!("serve-{}.log", uuid::Uuid::new_v4().simple())),
            _pg: None,
        }
    }

    /// Runs a command of this node (`--config` added).
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", self.config.to_str().expect("path")]);
        tracenode(&all)
    }

    /// Adds `[[ingest.pull]]`-style TOML to the configuration.
    pub fn configure(&self, toml: &str) {
        let text = std::fs::read_to_string(&self.config).expect("config");
        std::fs::write(&self.config, format!("{text}\n{toml}\n")).expect("config");
    }

    /// A tenant (a platform in 330106) and an API key for it; returns the key.
    pub fn tenant_with_key(&self, code: &str) -> String {
        let out =
            self.cli(&["tenant", "add", "--code", code, "--name", code, "--kind", "platform", "--region", "330106"]);
        assert!(out.status.success(), "tenant add: {}", text(&out));
        let out = self.cli(&["tenant", "key", "--tenant", code, "--name", "e2e"]);
        assert!(out.status.success(), "tenant key: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).lines().last().expect("the key").trim().to_owned()
    }

    /// Starts `tracenode serve` and waits until it answers `/healthz`.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "the node runs already");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log");
        let child = Command::new(binary())
            .args(["serve", "--config", self.config.to_str().expect("path")])
            .env_remove("TRACENODE_CONFIG")
            .env("TRACENODE_HTTP_LISTEN", format!("127.0.0.1:{}", self.port))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn tracenode serve");
        self.child = Some(child);
        let client = self.client();
        for _ in 0..300 {
            if let Ok(res) = client.get(self.url("/healthz")).send().await {
                if res.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("the node exited with {status}:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the node did not answer within 30 s:\n{}", self.log_text());
    }

    /// Kills the process at once (`kill -9`): no shutdown runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM and returns whether it exited cleanly within 30 s.
    pub fn stop(&mut self) -> bool {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let Some(mut child) = self.child.take() else { return true };
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        for _ in 0..300 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// What the node's processes wrote.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A URL of the running node.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// An HTTPS client that trusts the node's development CA.
    pub fn client(&self) -> reqwest::Client {
        let ca = std::fs::read(self.dir.join("certs/ca.pem")).expect("ca.pem");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("pem"))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client")
    }

    /// The node's database, opened as the node opens it.
    pub fn db(&self) -> tracenode::db::Db {
        let config = tracenode::config::Config::load(&self.config).expect("config");
        tracenode::bootstrap::open_db(&config).expect("open the node's database")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Four nodes — national, province, city, county — each its own process, enrolled by file
/// under its parent and linked over mutual TLS, as operators set them up.
pub struct Network {
    /// National (100000), province (330000), city (330100), county (330106), in that order.
    pub nodes: Vec<Node>,
    /// The federation listener port of each node that has one (all but the county).
    pub federation_ports: Vec<Option<u16>>,
}

/// The tiers of [`Network::four_tiers`].
const TIERS: [(&str, &str); 4] =
    [("national", "100000"), ("province", "330000"), ("city", "330100"), ("county", "330106")];

impl Network {
    /// The four tiers in `dir` on `backend`, started (each after its parent).
    pub async fn four_tiers(dir: &Path, backend: Backend) -> Network {
        Network::top_tiers(dir, backend, TIERS.len()).await
    }

    /// The first `n` tiers of national, province, city, county in `dir` on `backend`,
    /// started (each after its parent). Every node but a county listens for children, so a
    /// node made outside the network can ask the lowest one to enrol it.
    pub async fn top_tiers(dir: &Path, backend: Backend, n: usize) -> Network {
        assert!((1..=TIERS.len()).contains(&n), "one to four tiers");
        let mut nodes: Vec<Node> = Vec::new();
        let mut federation_ports = Vec::new();
        for (i, (tier, region)) in TIERS.iter().take(n).enumerate() {
            let mut node = Node::init_as(&dir.join(region), tier, region, backend);
            let listen = (i < TIERS.len() - 1).then(|| free_ports(1));
            let parent_url = federation_ports.last().copied().flatten().map(federation_url).unwrap_or_default();
            node.configure(&federation_section(listen, &parent_url));
            match nodes.last() {
                None => {
                    let out = node.cli(&["pki", "init-root"]);
                    assert!(out.status.success(), "init-root: {}", text(&out));
                }
                Some(parent) => {
                    let parent_config = tracenode::config::Config::load(&parent.config).expect("config");
                    let child_config = tracenode::config::Config::load(&node.config).expect("config");
                    tracenode::federation::children::enrol_on_one_machine(&parent_config, &parent.db(), &child_config)
                        .expect("enrol under the parent");
                }
            }
            node.start().await;
            nodes.push(node);
            federation_ports.push(listen);
        }
        Network { nodes, federation_ports }
    }

    /// The federation listener of the `i`-th node (0 is national).
    pub fn federation_url(&self, i: usize) -> String {
        federation_url(self.federation_ports[i].expect("the node listens for children"))
    }

    /// Stops every node, the county first, each with SIGTERM, and fails unless each stops
    /// cleanly.
    pub fn stop_all(&mut self) {
        for node in self.nodes.iter_mut().rev() {
            assert!(node.stop(), "a clean stop on SIGTERM:\n{}", node.log_text());
        }
    }

    /// The node of `region`.
    pub fn node(&mut self, region: &str) -> &mut Node {
        let i = TIERS.iter().position(|(_, r)| *r == region).expect("a region of the network");
        &mut self.nodes[i]
    }
}

/// The address of a federation listener on loopback.
pub fn federation_url(port: u16) -> String {
    format!("https://127.0.0.1:{port}")
}

/// The `[federation]` section of a node in a test network: it listens for children on
/// `listen` (if any) and reports to `parent_url` (empty for the national node); schedules
/// are off (roll-ups run by hand), lists reload and retries run every second.
pub fn federation_section(listen: Option<u16>, parent_url: &str) -> String {
    format!(
        "[federation]\nlisten = \"{}\"\nparent_url = \"{parent_url}\"\nreload_every_seconds = 1\n\
         retry_every_seconds = 1\nregistrations_cron = \"\"\nstatistics_cron = \"\"\ncheckpoints_cron = \"\"",
        listen.map(|p| format!("127.0.0.1:{p}")).unwrap_or_default()
    )
}

/// A client calling a federation listener with `node`'s own client certificate (what it
/// holds on disk now), trusting its root.
pub fn node_client(node: &Node) -> reqwest::Client {
    let config = tracenode::config::Config::load(&node.config).expect("config");
    let pki = tracenode::pki::NodePki::of(&config);
    let own = pki.own(tracenode::pki::own::Own::Client, &[]).expect("the node's client certificate");
    client_presenting(own.credentials().expect("credentials"), &pki)
}

/// A client presenting `credentials` to a federation listener, trusting `pki`'s root.
pub fn client_presenting(
    credentials: tracenode_federation::transport::Credentials,
    pki: &tracenode::pki::NodePki,
) -> reqwest::Client {
    let trust = pki.trust().expect("trust");
    let tls = tracenode_federation::transport::client_config(credentials, &trust).expect("tls");
    reqwest::Client::builder().use_preconfigured_tls(tls).timeout(Duration::from_secs(30)).build().expect("client")
}

/// Sales of `seller` to `buyer` (both in 330106), one a record numbered by `range`, ids and
/// trace codes prefixed by `prefix`, as CSV.
pub fn sales_csv(prefix: &str, range: std::ops::Range<usize>, seller: &str, buyer: &str) -> Vec<u8> {
    let records: Vec<tracenode_adapters::records::TraceRecord> = range
        .map(|i| {
            serde_json::from_value(serde_json::json!({
                "id": format!("{prefix}-{i}"), "corrects": null,
                "from": {"code": seller, "name": "西湖鲜果有限公司", "region": "330106"},
                "to": {"code": buyer, "name": "城西超市", "region": "330106"},
                "product": {"trace_code": format!("{prefix}-{i:06}"), "scheme": "local", "name": "红富士苹果",
                            "category": "01", "specification": "5kg/箱", "batch": "B20261120",
                            "production_date": "2026-11-01", "shelf_life_days": 60, "origin": "山东烟台"},
                "act": {"stage": "distribution_sale", "direction": "out", "quantity": 2.0, "unit": "箱",
                        "price": 12.5, "amount": null, "time": "2026-11-20T10:00:00+08:00", "place": "杭州"}
            }))
            .expect("record")
        })
        .collect();
    let mut out = Vec::new();
    tracenode_adapters::adapter::Format::Csv.encode(&mut out, &Default::default(), &records).expect("csv");
    out
}

/// Registers the responsible entities `codes` (enterprises in 330106) through the API with `key`.
pub async fn register_entities(node: &Node, key: &str, codes: &[&str]) {
    for code in codes {
        let entity = serde_json::json!({"code": code, "name": "西湖商户", "kind": "enterprise", "region": "330106",
            "longitude": 120.13, "latitude": 30.27, "stages": ["distribution_sale"], "categories": ["01"],
            "contact_person": "王经理", "contact_phone": "0571-87000000"});
        let res = node.client().post(node.url("/api/v1/registry/entities")).bearer_auth(key).json(&entity).send().await;
        assert_eq!(res.expect("register").status(), 201, "{code}");
    }
}

/// A valid unified social credit code of an enterprise in `region`.
pub fn uscc(region: &str, serial: u32) -> String {
    tracenode_adapters::identifiers::Uscc::generate("91", region, serial).expect("code").as_str().to_owned()
}

/// Approves every entity waiting for review at `node`, as its reviewer would (the node's
/// own review rules, run on its database: this crate drives nodes, it has no console
/// session).
pub fn approve_pending_entities(node: &Node) -> usize {
    use diesel::prelude::*;
    use tracenode::db::schema::entities;
    use tracenode::registry::review::{self, Decision, ReviewStatus};
    let db = node.db();
    let pending: Vec<tracenode::ids::EntityId> = {
        let mut conn = db.conn().expect("conn");
        entities::table
            .filter(entities::status.eq(ReviewStatus::Pending.as_str()))
            .select(entities::id)
            .load(&mut *conn)
            .expect("pending entities")
    };
    let ctx = tracenode::audit::AuditContext::cli();
    for id in &pending {
        let approve = Decision { approve: true, reason: String::new() };
        db.transaction_sync(|conn| review::review::<tracenode::registry::model::EntityRow>(conn, &ctx, id, &approve))
            .expect("approve");
    }
    pending.len()
}

/// Where a node's federation data stands: the registrations it holds from below (source
/// region, kind, id, version) and its jurisdiction's statistics.
pub fn held_from_below(
    node: &Node,
) -> (Vec<(String, String, String, i32)>, tracenode::federation::kinds::statistics::Jurisdiction) {
    use diesel::prelude::*;
    use tracenode::db::schema::federated_registrations as fr;
    let db = node.db();
    let mut conn = db.conn().expect("conn");
    let held = fr::table
        .select((fr::source_region, fr::object_kind, fr::object_id, fr::version))
        .order((fr::source_region, fr::object_kind, fr::object_id))
        .load(&mut *conn)
        .expect("held");
    let stats = tracenode::federation::kinds::statistics::jurisdiction(&mut conn).expect("jurisdiction");
    (held, stats)
}

/// The statistics a node's own raw trace records make, counted again from the records, as
/// one slice per day: what its parent must hold for it.
pub fn recount(node: &Node) -> tracenode::federation::kinds::statistics::Jurisdiction {
    let db = node.db();
    let mut conn = db.conn().expect("conn");
    let mut all = tracenode::federation::kinds::statistics::Jurisdiction::new();
    for (key, totals) in tracenode::trace::daily::recount(&mut conn, None).expect("recount") {
        let figures = tracenode::stats::Figures {
            records: totals.records,
            quantity_milli: totals.quantity_milli,
            amount_fen: totals.amount_fen,
            priced: totals.priced,
            price_fen_sum: totals.price_fen_sum,
        };
        all.entry(key.day.format("%Y-%m-%d").to_string())
            .or_default()
            .entry((key.region, key.category, key.stage, key.direction))
            .or_default()
            .add(&figures);
    }
    all
}

impl Node {
    /// Runs SQL on the node's database, as someone with database access would.
    pub fn sql(&self, statements: &str) -> Result<(), String> {
        let db = self.db();
        let mut conn = db.conn().map_err(|e| e.message())?;
        diesel::connection::SimpleConnection::batch_execute(&mut *conn, statements).map_err(|e| e.to_string())
    }

    /// Imports `records` sales between `seller` and `buyer` (CSV) with the tenant key `key`;
    /// the numbered ids start with `prefix`.
    pub async fn sell(&self, key: &str, prefix: &str, records: std::ops::Range<usize>, seller: &str, buyer: &str) {
        let res = self
            .client()
            .post(self.url("/api/v1/imports?format=csv"))
            .bearer_auth(key)
            .body(sales_csv(prefix, records, seller, buyer))
            .send()
            .await
            .expect("import");
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    }
}

/// Adds up several jurisdictions (the recounts of the nodes below a tier).
pub fn merged(
    parts: &[tracenode::federation::kinds::statistics::Jurisdiction],
) -> tracenode::federation::kinds::statistics::Jurisdiction {
    let mut all = tracenode::federation::kinds::statistics::Jurisdiction::new();
    for part in parts {
        for (day, rows) in part {
            for (key, figures) in rows {
                all.entry(day.clone()).or_default().entry(key.clone()).or_default().add(figures);
            }
        }
    }
    all
}

/// Waits until `check` holds, for at most a minute (checked every 200 ms); fails naming
/// `what` otherwise.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..300 {
        if check() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("never happened: {what}");
}

/// Waits until the asynchronous `check` holds, for at most a minute (checked every 200 ms);
/// fails naming `what` otherwise.
pub async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("never happened: {what}");
}
