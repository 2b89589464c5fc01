//! Test harness: a real node on a free loopback port, over real TLS, with an isolated database
//! per test (a temporary SQLite file, or a fresh PostgreSQL database on the server named by
//! `TRACENODE_TEST_PG_URL`, which `scripts/test.sh` starts).
//!
//! `both_backends!(name)` turns `async fn name(app: TestApp)` into two tests, `name::sqlite`
//! and `name::postgres`.

use std::path::PathBuf;
use std::sync::Arc;

use diesel::Connection;
use serde_json::{json, Value};
use tracenode::bootstrap::{self, InitOptions, InitialAccount};
use tracenode::config::{Config, Tier};
use tracenode::db::Db;
use tracenode::region::RegionCode;

/// The password the initial administrators get in [`TestApp::admin`].
pub const ADMIN_PASSWORD: &str = "Secure-Node-Pass1";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one behaviour on both backends.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                $crate::support::run_test(async {
                    super::$name($crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await).await
                })
            }
            #[test]
            fn postgres() {
                $crate::support::run_test(async {
                    super::$name($crate::support::TestApp::spawn($crate::support::Backend::Postgres).await).await
                })
            }
        }
    };
}

/// Runs one behaviour on both backends on a node whose configuration ends with `$extra`
/// (TOML): `both_backends_with!(name, EXTRA)`, or `both_backends_with!(module, name, EXTRA)`
/// to run a behaviour a second time under another configuration.
#[macro_export]
macro_rules! both_backends_with {
    ($name:ident, $extra:expr) => {
        $crate::both_backends_with!($name, $name, $extra);
    };
    ($module:ident, $name:ident, $extra:expr) => {
        mod $module {
            #[test]
            fn sqlite() {
                $crate::support::run_test(async {
                    let app = $crate::support::TestApp::spawn_with($crate::support::Backend::Sqlite, $extra).await;
                    super::$name(app).await
                })
            }
            #[test]
            fn postgres() {
                $crate::support::run_test(async {
                    let app = $crate::support::TestApp::spawn_with($crate::support::Backend::Postgres, $extra).await;
                    super::$name(app).await
                })
            }
        }
    };
}

/// Runs one behaviour that starts its own node (it takes the backend) on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                $crate::support::run_test(super::$name($crate::support::Backend::Sqlite))
            }
            #[test]
            fn postgres() {
                $crate::support::run_test(super::$name($crate::support::Backend::Postgres))
            }
        }
    };
}

/// PostgreSQL databases of nodes a running test dropped, removed once its runtime is down
/// (`None` outside [`run_test`]: a node's database is then removed with the node).
static DATABASES_LEFT: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

/// Removes the databases in [`DATABASES_LEFT`] when dropped, after the runtime (and so also
/// when the test panics).
struct DropDatabasesLeft;

impl Drop for DropDatabasesLeft {
    fn drop(&mut self) {
        let left = DATABASES_LEFT.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
        for name in left {
            drop_pg_database(&name);
        }
    }
}

/// Whether this test has the process to itself (nextest runs each test in its own; plain
/// `cargo test` runs them as threads of one process).
fn alone_in_process() -> bool {
    std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|m| m == "process-per-test")
}

/// Runs a behaviour on a two-thread runtime. With the process to itself it runs under the
/// [`watchdog`], and its PostgreSQL databases are removed only after the runtime is given a
/// second to wind down, so no background task of its nodes (roll-up workers, pollers) waits
/// out the connection timeout on a database that is gone.
pub fn run_test(body: impl std::future::Future<Output = ()>) {
    let alone = alone_in_process();
    if alone {
        watchdog();
        *DATABASES_LEFT.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
    }
    let _databases = DropDatabasesLeft;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("test runtime");
    runtime.block_on(body);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
}

/// How long a behaviour may run before [`watchdog`] stops it.
const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(240);

/// Stops a test that runs longer than [`WATCHDOG`]: it prints every thread's stack (through
/// gdb, when the machine has it) to stderr, which the runner shows with the test's output,
/// and aborts, so a test that hangs fails and says where.
pub fn watchdog() {
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("the test still runs after {} s; every thread's stack follows", WATCHDOG.as_secs());
        let pid = std::process::id().to_string();
        let dumped = std::process::Command::new("gdb")
            .args(["-p", &pid, "-batch", "-ex", "thread apply all bt"])
            .stdin(std::process::Stdio::null())
            .status();
        if let Err(e) = dumped {
            eprintln!("no stacks: gdb could not run ({e})");
        }
        std::process::abort();
    });
}

/// `n` consecutive loopback ports free now, taken below the range the kernel hands out for
/// port 0 and for outgoing connections (32768 and up on Linux), so that neither another
/// test's listener nor a client's connection takes one before the node binds it, or while
/// a stopped node is away.
pub fn free_ports(n: u16) -> u16 {
    use rand::Rng;
    for _ in 0..1000 {
        let base = rand::thread_rng().gen_range(20_000..32_000 - n);
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no {n} free consecutive loopback ports between 20000 and 32000");
}

/// The PostgreSQL server URL for tests; a clear failure when it is missing.
pub fn pg_server_url() -> String {
    std::env::var("TRACENODE_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "PostgreSQL tests need TRACENODE_TEST_PG_URL (postgres://user:pass@host:port/postgres, a role with CREATEDB). \
             scripts/test.sh starts PostgreSQL and sets it."
        )
    })
}

/// Creates an empty PostgreSQL database and returns its URL.
pub fn fresh_pg_database() -> String {
    tracenode_federation::pki::init_crypto();
    let server = pg_server_url();
    let mut conn = diesel::pg::PgConnection::establish(&server).expect("connect to the PostgreSQL test server");
    let name = format!("tn_test_{}", uuid::Uuid::new_v4().simple());
    diesel::connection::SimpleConnection::batch_execute(&mut conn, &format!("CREATE DATABASE {name}"))
        .expect("create test database");
    let base = server.rsplit_once('/').map(|(b, _)| b.to_owned()).expect("URL with a database");
    format!("{base}/{name}")
}

/// Sends the nodes' logs to the test's stderr, which the runner shows when a test fails or
/// is stopped for taking too long.
fn log_to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,actix_server=warn"))
        .try_init();
}

/// A running node.
pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub db: Db,
    pub config: Arc<Config>,
    pub dir: tempfile::TempDir,
    pub accounts: Vec<InitialAccount>,
    ca_pem: Vec<u8>,
    /// The federation listener's address, if it runs.
    pub federation_addr: Option<std::net::SocketAddr>,
    /// What stops the node.
    pub stopper: tracenode::routes::Stopper,
    /// The task serving the node, until [`TestApp::stop`].
    pub serving: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The PostgreSQL database made for this node, dropped with it.
    pg_database: Option<String>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            match DATABASES_LEFT.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                Some(left) => left.push(name),
                None => drop_pg_database(&name),
            }
        }
    }
}

/// Drops a test database (and the sessions still on it).
pub fn drop_pg_database(name: &str) {
    if let Ok(mut conn) = diesel::pg::PgConnection::establish(&pg_server_url()) {
        let _ = diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
}

/// Drops the test database of a URL when it goes out of scope.
pub struct DatabaseGuard(pub String);

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        if let Some((_, name)) = self.0.rsplit_once('/') {
            drop_pg_database(name);
        }
    }
}

impl TestApp {
    /// A city node (杭州市 330100) on a free port.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, "").await
    }

    /// A city node whose configuration file ends with `extra` (TOML).
    pub async fn spawn_with(backend: Backend, extra: &str) -> TestApp {
        TestApp::spawn_node(backend, Tier::City, "330100", extra, |_| {}).await
    }

    /// A node of `tier` for `region` whose configuration ends with `extra`; `prepare` runs
    /// on its configuration before it starts (to install its certificates).
    pub async fn spawn_node(
        backend: Backend,
        tier: Tier,
        region: &str,
        extra: &str,
        prepare: impl FnOnce(&Config),
    ) -> TestApp {
        tracenode_federation::pki::init_crypto();
        log_to_stderr();
        let dir = tempfile::tempdir().expect("tempdir");
        let node_dir = dir.path().join("node");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_pg_database()),
        };
        let region_code = RegionCode::parse(region).expect("region");
        let made = bootstrap::init(&InitOptions {
            tier,
            name: format!("{}重要产品追溯管理平台", region_code.name()),
            region: region_code,
            dir: node_dir.clone(),
            database_url: database_url.clone(),
            listen: Some("127.0.0.1:0".into()),
            admin_names: Default::default(),
            federation: Default::default(),
        })
        .expect("init");
        if !extra.is_empty() {
            let text = std::fs::read_to_string(&made.config_path).expect("config text");
            std::fs::write(&made.config_path, format!("{text}\n{extra}\n")).expect("extend config");
        }
        let config = Config::load(&made.config_path).expect("config");
        prepare(&config);
        let db = bootstrap::open_db(&config).expect("open db");
        let config = Arc::new(config);
        let running = tracenode::routes::start(config.clone(), db.clone()).expect("start");
        let federation_addr = running.federation_addr;
        let stopper = running.stopper();
        let port = running.addr.port();
        let serving = Some(tokio::spawn(running.serve()));
        let ca_pem = std::fs::read(node_dir.join("certs/ca.pem")).expect("ca");
        TestApp {
            backend,
            base: format!("https://127.0.0.1:{port}"),
            db,
            config,
            dir,
            accounts: made.accounts,
            ca_pem,
            federation_addr,
            stopper,
            serving,
            pg_database: database_url.and_then(|u| u.rsplit_once('/').map(|(_, name)| name.to_owned())),
        }
    }

    /// Stops the node's listeners and background jobs and waits until they have stopped (its
    /// database stays).
    pub async fn stop(&mut self) {
        self.stopper.stop();
        if let Some(serving) = self.serving.take() {
            serving.await.expect("serve task").expect("serve");
        }
    }

    /// Starts the node's listeners again on the same database and configuration.
    pub async fn restart(&mut self) {
        let running = tracenode::routes::start(self.config.clone(), self.db.clone()).expect("restart");
        self.base = format!("https://127.0.0.1:{}", running.addr.port());
        self.federation_addr = running.federation_addr;
        self.stopper = running.stopper();
        self.serving = Some(tokio::spawn(running.serve()));
    }

    /// The node's directory.
    pub fn node_dir(&self) -> PathBuf {
        self.dir.path().join("node")
    }

    /// A new HTTP client with its own cookie jar that trusts the node's CA.
    pub fn client(&self) -> reqwest::Client {
        self.client_from("127.0.0.1")
    }

    /// A client whose connections come from `address` (any of 127.0.0.0/8), as another
    /// machine's would.
    pub fn client_from(&self, address: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(address.parse::<std::net::IpAddr>().expect("address"))
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem).expect("ca pem"))
            .tls_built_in_root_certs(false)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .expect("client")
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The one-time password `init` printed for `username`.
    pub fn one_time_password(&self, username: &str) -> String {
        self.accounts
            .iter()
            .find(|a| a.username == username)
            .map(|a| a.one_time_password.clone())
            .expect("initial account")
    }

    /// Signs an initial administrator in through the whole first-time flow (password change
    /// and TOTP enrolment) and returns the session.
    pub async fn admin(&self, username: &str) -> Session {
        self.first_sign_in(username, &self.one_time_password(username), ADMIN_PASSWORD).await
    }

    /// Signs in with a one-time password, sets `new_password`, and completes TOTP when asked.
    pub async fn first_sign_in(&self, username: &str, one_time: &str, new_password: &str) -> Session {
        let client = self.client();
        let state = sign_in(&client, self, username, one_time).await;
        assert_eq!(state["next"], "password_change", "{state}");
        let csrf = state["csrf_token"].as_str().expect("csrf").to_owned();
        let res = client
            .post(self.url("/api/v1/auth/password"))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"current_password": one_time, "new_password": new_password}))
            .send()
            .await
            .expect("password");
        assert_eq!(res.status(), 200, "password change");
        let state: Value = res.json().await.expect("json");
        let mut session = Session { client, csrf, secret: None };
        match state["next"].as_str() {
            Some("totp_enrol") => {
                let enrol: Value = session
                    .client
                    .get(self.url("/api/v1/auth/totp"))
                    .send()
                    .await
                    .expect("totp")
                    .json()
                    .await
                    .expect("json");
                let secret = enrol["secret"].as_str().expect("secret").to_owned();
                session.submit_totp(self, &secret).await;
                session.secret = Some(secret);
            }
            Some("active") => {}
            other => panic!("unexpected next step {other:?}"),
        }
        session
    }

    /// Creates a tenant as `session` and returns its JSON.
    pub async fn tenant(&self, session: &Session, code: &str, region: &str) -> Value {
        let res = session
            .post(
                self,
                "/api/v1/tenants",
                json!({"code": code, "name": format!("{code} 租户"), "kind": "platform", "region": region}),
            )
            .await;
        assert_eq!(res.status(), 201, "create tenant {code}");
        res.json().await.expect("json")
    }

    /// Creates a staff account (业务人员) and signs it in; `scope` is its data scope (JSON).
    pub async fn staff(&self, sys: &Session, sec: &Session, username: &str, scope: Option<Value>) -> Session {
        let created: Value = sys
            .post(self, "/api/v1/users", json!({"username": username, "display_name": username}))
            .await
            .json()
            .await
            .expect("json");
        let id = created["user"]["id"].as_str().expect("id").to_owned();
        let staff = self.role_id(sec, "staff").await;
        let res = sec.put(self, &format!("/api/v1/users/{id}/roles"), json!({"role_ids": [staff]})).await;
        assert_eq!(res.status(), 200, "assign staff");
        if let Some(scope) = scope {
            let res = sec.put(self, &format!("/api/v1/users/{id}/scope"), scope).await;
            assert_eq!(res.status(), 200, "set scope");
        }
        self.first_sign_in(username, created["one_time_password"].as_str().expect("otp"), "Staff-Member-Pass1").await
    }

    /// Creates an API key for `tenant_id` with the tenant-client role; returns the secret.
    pub async fn api_key(&self, sys: &Session, sec: &Session, tenant_id: &str) -> String {
        let role = self.role_id(sec, "tenant_client").await;
        let res = sys
            .post(self, "/api/v1/api-keys", json!({"tenant_id": tenant_id, "role_id": role, "name": "registry"}))
            .await;
        assert_eq!(res.status(), 201, "create key");
        let created: Value = res.json().await.expect("json");
        created["secret"].as_str().expect("secret").to_owned()
    }

    /// The id of the role with `code`.
    pub async fn role_id(&self, session: &Session, code: &str) -> String {
        let roles: Value = session.get(self, "/api/v1/roles").await.json().await.expect("json");
        roles.as_array().expect("roles").iter().find(|r| r["code"] == code).expect("role")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// Runs raw SQL on the node's database (for tests that act as an attacker with database
    /// access).
    pub fn sql(&self, statement: &str) -> Result<(), String> {
        let mut conn = self.db.conn().map_err(|e| e.message())?;
        diesel::connection::SimpleConnection::batch_execute(&mut *conn, statement).map_err(|e| e.to_string())
    }

    /// Counts audit rows with `action` and `outcome`.
    pub fn audit_count(&self, action: &str, outcome: &str) -> i64 {
        use diesel::prelude::*;
        use tracenode::db::schema::audit_log;
        let mut conn = self.db.conn().expect("conn");
        audit_log::table
            .filter(audit_log::action.eq(action))
            .filter(audit_log::outcome.eq(outcome))
            .count()
            .get_result(&mut *conn)
            .expect("count")
    }
}

/// Signs in and returns the sign-in state JSON (asserting 200).
pub async fn sign_in(client: &reqwest::Client, app: &TestApp, username: &str, password: &str) -> Value {
    let res = client
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), 200, "sign in as {username}");
    res.json().await.expect("json")
}

/// A signed-in client.
pub struct Session {
    pub client: reqwest::Client,
    pub csrf: String,
    pub secret: Option<String>,
}

impl Session {
    pub async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client.get(app.url(path)).send().await.expect("get")
    }

    pub async fn post(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        self.client.post(app.url(path)).header("X-CSRF-Token", &self.csrf).json(&body).send().await.expect("post")
    }

    pub async fn put(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        self.client.put(app.url(path)).header("X-CSRF-Token", &self.csrf).json(&body).send().await.expect("put")
    }

    pub async fn delete(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client.delete(app.url(path)).header("X-CSRF-Token", &self.csrf).send().await.expect("delete")
    }

    /// Submits the current TOTP code (or the next step's, if the current one was used).
    pub async fn submit_totp(&self, app: &TestApp, secret: &str) {
        let now = tracenode::credentials::totp::unix_now();
        for at in [now, now + 30] {
            let code = tracenode::credentials::totp::code_at(secret, at).expect("code");
            let res = self
                .client
                .post(app.url("/api/v1/auth/totp"))
                .header("X-CSRF-Token", &self.csrf)
                .json(&json!({"code": code}))
                .send()
                .await
                .expect("totp");
            if res.status() == 200 {
                return;
            }
        }
        panic!("TOTP code not accepted");
    }
}

/// Asserts a problem document with `status` and `code`; returns it.
pub async fn expect_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(ct.starts_with("application/problem+json"), "content type {ct}");
    let body: Value = res.json().await.expect("problem json");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["detail_zh"].as_str().is_some_and(|s| !s.is_empty()), "Chinese detail: {body}");
    assert!(body["detail"].as_str().is_some_and(|s| !s.is_empty()), "English detail: {body}");
    body
}

/// Validates `document` against the XML Schema `schema` with libxml2's `xmllint` (a real
/// validator, not ours): `Err` carries what it printed. The path comes from
/// TRACENODE_TEST_XMLLINT, else `xmllint` on the PATH.
pub fn xmllint(schema: &str, document: &[u8]) -> Result<(), String> {
    let program = std::env::var("TRACENODE_TEST_XMLLINT").unwrap_or_else(|_| "xmllint".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let (xsd, doc) = (dir.path().join("schema.xsd"), dir.path().join("document.xml"));
    std::fs::write(&xsd, schema).expect("write schema");
    std::fs::write(&doc, document).expect("write document");
    let out = std::process::Command::new(&program)
        .args(["--noout", "--nonet", "--schema"])
        .arg(&xsd)
        .arg(&doc)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the schema tests need libxml2's xmllint ({program}: {e}). Install Debian's libxml2-utils \
                 (scripts/test.sh does), or point TRACENODE_TEST_XMLLINT at it"
            )
        });
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}
