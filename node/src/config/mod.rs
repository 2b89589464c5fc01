//! Node configuration: built-in defaults → TOML file → `TRACENODE_…` environment variables.
//!
//! Rules this module keeps:
//! - one typed struct, `deny_unknown_fields` everywhere, so a typo fails at start;
//! - environment variables are `TRACENODE_<SECTION>_<KEY>` (e.g. `TRACENODE_HTTP_LISTEN`);
//!   an unknown one is an error just like an unknown key in the file. `TRACENODE_CONFIG`
//!   names the file, `TRACENODE_BACKUP_PASSPHRASE` is a backup's passphrase, and
//!   `TRACENODE_TEST_*` / `TRACENODE_BENCH_*` belong to the test suite and the benchmarks;
//!   none of them are settings;
//! - relative paths are resolved against the directory of the configuration file;
//! - secrets (the database URL's password) never appear in `Debug` output or logs;
//! - ambiguous settings are refused rather than guessed (see [`DatabaseUrl::parse`]).

pub mod address_range;
mod database_url;
mod pull_source;

pub use pull_source::PullSource;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use database_url::{Backend, DatabaseUrl};

use crate::error::{AppError, AppResult};
use crate::region::{RegionCode, RegionLevel};

/// The tier a node serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// A node with no federation, for a single organisation or for trying tracenode out.
    Standalone,
    /// 县级 county node.
    County,
    /// 市级 city (prefecture) node.
    City,
    /// 省级 province node.
    Province,
    /// 国家级 national node.
    National,
}

impl Tier {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standalone => "standalone",
            Tier::County => "county",
            Tier::City => "city",
            Tier::Province => "province",
            Tier::National => "national",
        }
    }

    /// The Chinese label shown in the console.
    pub fn label_zh(self) -> &'static str {
        match self {
            Tier::Standalone => "独立节点",
            Tier::County => "县级节点",
            Tier::City => "市级节点",
            Tier::Province => "省级节点",
            Tier::National => "国家级节点",
        }
    }

    /// Checks that `region` is of the level this tier serves.
    pub fn check_region(self, region: &RegionCode) -> Result<(), AppError> {
        let expected = match self {
            Tier::Standalone => return Ok(()),
            Tier::County => RegionLevel::County,
            Tier::City => RegionLevel::City,
            Tier::Province => RegionLevel::Province,
            Tier::National => RegionLevel::National,
        };
        if region.level() == expected {
            return Ok(());
        }
        Err(AppError::invalid(
            "region",
            format!(
                "{}需要{}行政区划代码，而 {}（{}）是{}代码",
                self.label_zh(),
                expected.label_zh(),
                region,
                region.name(),
                region.level().label_zh()
            ),
            format!(
                "a {} node needs a {} region code, but {} ({}) is a {} code",
                self.as_str(),
                expected.as_str(),
                region,
                region.name(),
                region.level().as_str()
            ),
        ))
    }
}

/// The whole configuration of a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who this node is.
    pub node: NodeSection,
    /// Where its data lives.
    #[serde(default)]
    pub storage: StorageSection,
    /// The console and API listener.
    #[serde(default)]
    pub http: HttpSection,
    /// Sign-in and session rules.
    #[serde(default)]
    pub auth: AuthSection,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
    /// Trace data intake.
    #[serde(default)]
    pub ingest: IngestSection,
    /// Outgoing mail.
    #[serde(default)]
    pub mail: MailSection,
    /// Alerts of transmission monitoring.
    #[serde(default)]
    pub alerts: AlertsSection,
    /// Federation with the parent and children.
    #[serde(default)]
    pub federation: FederationSection,
    /// The node's secret key and the audit chain's anchors.
    #[serde(default)]
    pub security: SecuritySection,
    /// Scheduled backups.
    #[serde(default)]
    pub backup: BackupSection,
    /// The directory relative paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file this configuration was read from (none when built from parts).
    #[serde(skip)]
    pub file: Option<PathBuf>,
    /// The node's key, read from `security.key_file` when first needed.
    #[serde(skip)]
    node_key: std::sync::OnceLock<crate::keys::NodeKey>,
}

/// `[node]`: the identity of this deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The tier: standalone, county, city, province or national.
    pub tier: Tier,
    /// The GB/T 2260 region code this node serves (national: 100000).
    pub region: RegionCode,
    /// The name shown in the console, e.g. 杭州市西湖区重要产品追溯管理平台.
    pub name: String,
}

/// `[storage]`: the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// `sqlite://PATH` (relative to the config directory) or `postgres://…`.
    pub database_url: DatabaseUrl,
    /// Connections in the pool.
    pub pool_size: u32,
    /// Run pending PostgreSQL migrations at start (SQLite always migrates at start).
    pub migrate_on_start: bool,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection { database_url: DatabaseUrl::default_sqlite(), pool_size: 8, migrate_on_start: true }
    }
}

/// `[http]`: the console and API listener (HTTPS).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Address and port to listen on; port 0 picks a free port.
    pub listen: String,
    /// PEM certificate chain of the TLS server certificate.
    pub tls_cert: PathBuf,
    /// PEM private key of the TLS server certificate.
    pub tls_key: PathBuf,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Worker threads (0: one per core).
    pub workers: usize,
    /// Longest gap, in seconds, between two pieces of a request body; also the time after
    /// which a body must arrive at `body_min_bytes_per_second` on average.
    pub body_idle_seconds: u64,
    /// Slowest average rate a request body may arrive at, bytes a second.
    pub body_min_bytes_per_second: u64,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: "127.0.0.1:8443".into(),
            tls_cert: PathBuf::from("certs/server.pem"),
            tls_key: PathBuf::from("certs/server.key"),
            body_limit_bytes: 1024 * 1024,
            workers: 0,
            body_idle_seconds: 30,
            body_min_bytes_per_second: 1024,
        }
    }
}

/// `[security]`: the node's secret key and the audit chain's anchors outside the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySection {
    /// The node's secret key (created 0600 at first start; back it up with the database).
    pub key_file: PathBuf,
    /// Where the audit checkpoints are appended, one MAC'd line each: a copy of the chain's
    /// head the database cannot rewrite. Copy it off the machine to keep it from an attacker
    /// of the machine too.
    pub audit_checkpoints_file: PathBuf,
    /// Seconds between audit checkpoints (one is written only when the chain grew).
    pub audit_checkpoint_seconds: u64,
    /// Checkpoints kept in the file; older lines are dropped (the newest anchors every row
    /// before it).
    pub audit_checkpoints_kept: usize,
    /// The digest of new audit rows: `sha256` or `sm3` (GB/T 32905). Each row records its
    /// own, so a chain that changes digest verifies throughout.
    pub audit_digest: crate::keys::Digest,
    /// The digest of the batches this node sends its parent: `sha256` or `sm3`. Each batch
    /// header names its digest, so a parent checks either.
    pub batch_digest: tracenode_federation::wire::batch::BodyDigest,
    /// The cipher of secrets sealed at rest: `aes-256-gcm` or `sm4` (GB/T 32907, CTR with
    /// HMAC-SM3). Each value names its cipher, so a change reads what was sealed before.
    pub secret_cipher: crate::keys::SecretCipher,
    /// What vouches for each audit checkpoint: `hmac-sha256` under the node key (only this
    /// node can check it) or `sm2`, a signature (GB/T 32918) anyone holding the public key
    /// can check.
    pub checkpoint_signature: crate::keys::CheckpointSignature,
    /// The node's SM2 signing key (PKCS#8 PEM), created at first use.
    pub sm2_key_file: PathBuf,
    /// Whether the batches this node sends its parent are sealed with an SM2 signature
    /// (`none` or `sm2`), under a signing certificate its CA issues for the SM2 key.
    pub batch_signature: crate::keys::BatchSignature,
    /// Whether this node refuses a child's batch that is not sealed (a seal that is there
    /// is always checked).
    pub require_batch_signature: bool,
}

impl Default for SecuritySection {
    fn default() -> Self {
        SecuritySection {
            key_file: PathBuf::from("secrets/node.key"),
            audit_checkpoints_file: PathBuf::from("audit/checkpoints.log"),
            audit_checkpoint_seconds: 10,
            audit_checkpoints_kept: 10_000,
            audit_digest: crate::keys::Digest::Sha256,
            batch_digest: tracenode_federation::wire::batch::BodyDigest::Sha256,
            secret_cipher: crate::keys::SecretCipher::Aes256Gcm,
            checkpoint_signature: crate::keys::CheckpointSignature::HmacSha256,
            sm2_key_file: PathBuf::from("secrets/sm2.key"),
            batch_signature: crate::keys::BatchSignature::None,
            require_batch_signature: false,
        }
    }
}

/// `[auth]`: sign-in and session rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Minutes of inactivity after which a session ends.
    pub session_idle_minutes: i64,
    /// Failed sign-ins in a row that lock an account.
    pub lockout_threshold: i32,
    /// Minutes an account stays locked.
    pub lockout_minutes: i64,
    /// Earlier passwords a new password may not repeat.
    pub password_history: usize,
    /// Whether the three administrator roles must use TOTP.
    pub require_totp_for_admins: bool,
    /// Live sessions one account may hold; signing in once more ends the oldest.
    pub max_sessions_per_account: usize,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            session_idle_minutes: 30,
            lockout_threshold: 5,
            lockout_minutes: 15,
            password_history: 5,
            require_totp_for_admins: true,
            max_sessions_per_account: 3,
        }
    }
}

/// The earliest year an act may lie in unless `ingest.earliest_act_year` says otherwise:
/// electronic traceability records start in the 2000s, and years such as 0000, 0001 or 1900
/// are typing or conversion errors.
pub const EARLIEST_ACT_YEAR: i32 = 2000;

/// [`EARLIEST_ACT_YEAR`], for serde defaults.
pub fn default_earliest_act_year() -> i32 {
    EARLIEST_ACT_YEAR
}

/// `[ingest]`: trace data intake (`/api/v1/exchange`, `/api/v1/imports`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSection {
    /// Largest submission body, bytes (a tenant's policy may set its own).
    pub max_body_bytes: u64,
    /// Bodies larger than this become asynchronous jobs (202 and a status URL).
    pub async_threshold_bytes: u64,
    /// Submissions a tenant may make per minute (a tenant's policy may set its own).
    pub submissions_per_minute: u32,
    /// Where job bodies are kept until they are ingested.
    pub spool_dir: PathBuf,
    /// Where the vendor mappings (`*.toml`) are.
    pub vendors_dir: PathBuf,
    /// Vendors' APIs the node pulls from (`[[ingest.pull]]`).
    pub pull: Vec<PullSource>,
    /// Acts dated before this year are refused as implausible (year 0000, 0001, 1900 …).
    pub earliest_act_year: i32,
}

impl Default for IngestSection {
    fn default() -> Self {
        IngestSection {
            max_body_bytes: 1 << 30,
            async_threshold_bytes: 8 << 20,
            submissions_per_minute: 120,
            spool_dir: PathBuf::from("spool"),
            vendors_dir: PathBuf::from("vendors"),
            pull: Vec::new(),
            earliest_act_year: EARLIEST_ACT_YEAR,
        }
    }
}

/// `[mail]`: outgoing mail (SMTP) for alerts and notices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSection {
    /// The SMTP server's host name; empty: the node sends no mail (mail notifications wait,
    /// saying so).
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// How the connection is secured.
    pub tls: MailTls,
    /// PEM file of further certificate authorities the server's certificate may chain to
    /// (besides the system's trusted ones), e.g. an intranet CA.
    pub ca_file: Option<PathBuf>,
    /// User name for SMTP authentication (empty: none).
    pub username: String,
    /// Password (better given as `TRACENODE_MAIL_PASSWORD`).
    pub password: String,
    /// Sender address, e.g. `追溯平台 <trace@example.gov.cn>`.
    pub from: String,
    /// Seconds to wait for the server.
    pub timeout_seconds: u64,
}

impl Default for MailSection {
    fn default() -> Self {
        MailSection {
            smtp_host: String::new(),
            smtp_port: 25,
            tls: MailTls::Starttls,
            ca_file: None,
            username: String::new(),
            password: String::new(),
            from: "tracenode <tracenode@localhost>".into(),
            timeout_seconds: 10,
        }
    }
}

impl MailSection {
    fn validate(&self) -> Result<(), AppError> {
        if self.smtp_host.is_empty() {
            return Ok(());
        }
        if self.tls == MailTls::None && !self.username.is_empty() {
            return Err(AppError::invalid(
                "mail.tls",
                "使用用户名密码登录邮件服务器时必须加密（tls = \"starttls\" 或 \"tls\"）",
                "a password is never sent in clear: set mail.tls to starttls or tls",
            ));
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(AppError::invalid(
                "mail.from",
                format!("发件人地址“{}”无效", self.from),
                format!("the sender address {:?} is not valid", self.from),
            ));
        }
        Ok(())
    }
}

/// How mail to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain text (a server on the same host only).
    None,
    /// Plain connection upgraded with STARTTLS, required.
    Starttls,
    /// TLS from the start (SMTPS).
    Tls,
}

/// `[alerts]`: alerts for silent or failing senders, and their notifications.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsSection {
    /// Seconds between checks (0: only when asked).
    pub check_every_seconds: u64,
    /// Seconds between deliveries of queued notifications (alerts, certificate expiry);
    /// 0: only when a check is asked for.
    pub dispatch_every_seconds: u64,
    /// Refused or failed submissions in a row that make a sender failing.
    pub failures_in_a_row: u32,
    /// Attempts to deliver one notification before it is given up.
    pub max_attempts: u32,
    /// Address ranges (CIDR) webhooks may reach although they are internal (loopback,
    /// private, link-local), plain `http://` included. Empty: public HTTPS targets only.
    pub webhook_allowed_ranges: Vec<String>,
}

impl Default for AlertsSection {
    fn default() -> Self {
        AlertsSection {
            check_every_seconds: 60,
            dispatch_every_seconds: 10,
            failures_in_a_row: 3,
            max_attempts: 10,
            webhook_allowed_ranges: Vec::new(),
        }
    }
}

/// `[backup]`: backups made on a schedule by the job `backup.scheduled`, and how many are
/// kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSection {
    /// When (cron with seconds, UTC); empty: no scheduled backups.
    pub cron: String,
    /// The folder backups are written to.
    pub dir: PathBuf,
    /// How many scheduled backups of this node are kept; older ones are removed.
    pub keep: u32,
    /// A file (0600) whose first line is the passphrase; needed when `cron` is set.
    pub passphrase_file: PathBuf,
}

impl Default for BackupSection {
    fn default() -> Self {
        BackupSection { cron: String::new(), dir: "backups".into(), keep: 7, passphrase_file: PathBuf::new() }
    }
}

/// `[federation]`: the mutual-TLS listener, the parent, and the roll-up schedules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationSection {
    /// Address of the mutual-TLS listener for children and machine clients; empty: none.
    pub listen: String,
    /// The parent's federation listener (`https://host:port`); empty: no parent.
    pub parent_url: String,
    /// DNS names and IP addresses of the listener's certificate, comma-separated.
    pub server_names: String,
    /// Seconds between checks for new certificates and revocation lists.
    pub reload_every_seconds: u64,
    /// Seconds before a failed send to the parent is tried again.
    pub retry_every_seconds: u64,
    /// Seconds an HTTP call to the parent may take.
    pub timeout_seconds: u64,
    /// Registrations per batch.
    pub batch_items: i64,
    /// The largest batch the listener takes, in bytes.
    pub max_batch_bytes: usize,
    /// Days a batch the parent applied keeps its body, and the registrations forwarded from
    /// below stay in the outbox; then only the batch's number, id, digest, item count and
    /// times remain (the audit trail), so each registration is stored once at each tier.
    pub keep_sent_days: u32,
    /// Milliseconds the uplink waits after a child's batch (or a schedule) wakes it before it
    /// runs, so a burst of arrivals from many children makes one run and one batch; 0: none.
    pub coalesce_ms: u64,
    /// When registrations go up (cron with seconds; empty: only by hand and on arrival).
    pub registrations_cron: String,
    /// When statistics go up.
    pub statistics_cron: String,
    /// When audit checkpoints go up.
    pub checkpoints_cron: String,
}

impl Default for FederationSection {
    fn default() -> Self {
        FederationSection {
            listen: String::new(),
            parent_url: String::new(),
            server_names: "localhost,127.0.0.1".into(),
            reload_every_seconds: 10,
            retry_every_seconds: 30,
            timeout_seconds: 30,
            batch_items: 2000,
            max_batch_bytes: 16 * 1024 * 1024,
            keep_sent_days: 30,
            coalesce_ms: 1000,
            registrations_cron: "0 * * * * *".into(),
            statistics_cron: "0 */10 * * * *".into(),
            checkpoints_cron: "0 0 * * * *".into(),
        }
    }
}

impl FederationSection {
    /// The listener certificate's names.
    pub fn names(&self) -> Vec<String> {
        self.server_names.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()
    }

    fn validate(&self) -> Result<(), AppError> {
        if !self.parent_url.is_empty() && !self.parent_url.starts_with("https://") {
            return Err(AppError::invalid(
                "federation.parent_url",
                "上级节点地址必须以 https:// 开头",
                "the parent's address must start with https://",
            ));
        }
        if self.coalesce_ms > 600_000 {
            return Err(AppError::invalid(
                "federation.coalesce_ms",
                "合并等待时间须在 0 到 600000 毫秒之间",
                "coalesce_ms must be between 0 and 600000",
            ));
        }
        if self.keep_sent_days > 3_650 {
            return Err(AppError::invalid(
                "federation.keep_sent_days",
                "已上报批次的保留天数须在 0 到 3650 之间",
                "keep_sent_days must be between 0 and 3650",
            ));
        }
        if self.batch_items < 1 || self.batch_items > 50_000 {
            return Err(AppError::invalid(
                "federation.batch_items",
                "每批条数须在 1 到 50000 之间",
                "batch_items must be between 1 and 50000",
            ));
        }
        Ok(())
    }
}

/// `[log]`: logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `tracenode=debug,info`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection { format: LogFormat::Text, level: "info".into() }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The environment variables that are not settings.
/// Variables of the command line, not settings: the configuration file, and a backup's
/// passphrase (`tracenode backup`).
const NON_SETTING_VARS: &[&str] = &["TRACENODE_CONFIG", "TRACENODE_BACKUP_PASSPHRASE"];
/// Prefixes of variables that belong to the test suite and the benchmarks.
const TOOLING_PREFIXES: [&str; 2] = ["TRACENODE_TEST_", "TRACENODE_BENCH_"];
const SECTIONS: &[&str] =
    &["node", "storage", "http", "auth", "log", "ingest", "mail", "alerts", "federation", "security", "backup"];

impl Config {
    /// Loads the file at `path`, then applies the process environment.
    pub fn load(path: &Path) -> Result<Config, AppError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            AppError::invalid(
                "config",
                format!("无法读取配置文件 {}：{e}", path.display()),
                format!("cannot read config file {}: {e}", path.display()),
            )
        })?;
        let env: Vec<(String, String)> = std::env::vars().collect();
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut config = Self::from_parts(&text, &env, &base)?;
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Builds a configuration from file text and environment pairs (testable without a process
    /// environment).
    pub fn from_parts(file_text: &str, env: &[(String, String)], base_dir: &Path) -> Result<Config, AppError> {
        let mut table: toml::Table = file_text.parse().map_err(|e: toml::de::Error| {
            AppError::invalid(
                "config",
                format!("配置文件不是有效的 TOML：{}", e.message()),
                format!("config file is not valid TOML: {}", e.message()),
            )
        })?;
        apply_env(&mut table, env)?;
        let mut config: Config = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
            AppError::invalid(
                "config",
                format!("配置有误：{}", e.message()),
                format!("invalid configuration: {}", e.message()),
            )
        })?;
        config.base_dir = base_dir.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), AppError> {
        self.node.tier.check_region(&self.node.region)?;
        if self.node.name.trim().is_empty() || self.node.name.chars().count() > 100 {
            return Err(AppError::invalid(
                "node.name",
                "节点名称不能为空且不超过100个字符",
                "the node name must be 1 to 100 characters",
            ));
        }
        if !self.backup.cron.trim().is_empty() && self.backup.passphrase_file.as_os_str().is_empty() {
            return Err(AppError::invalid(
                "backup.passphrase_file",
                "定时备份需要口令文件（backup.passphrase_file）",
                "scheduled backups need a passphrase file (backup.passphrase_file)",
            ));
        }
        if self.backup.keep == 0 {
            return Err(AppError::invalid("backup.keep", "至少保留1份备份", "keep at least one backup"));
        }
        if self.storage.pool_size == 0 {
            return Err(AppError::invalid(
                "storage.pool_size",
                "连接池至少需要1个连接",
                "pool_size must be at least 1",
            ));
        }
        if self.auth.max_sessions_per_account == 0 {
            return Err(AppError::invalid(
                "auth.max_sessions_per_account",
                "每个账号至少允许1个会话",
                "max_sessions_per_account must be at least 1",
            ));
        }
        if self.http.body_idle_seconds == 0 {
            return Err(AppError::invalid(
                "http.body_idle_seconds",
                "请求体等待时间至少1秒",
                "body_idle_seconds must be at least 1",
            ));
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(AppError::invalid(
                "http.body_limit_bytes",
                "请求体上限不能小于1024字节",
                "body_limit_bytes must be at least 1024",
            ));
        }
        if self.security.audit_checkpoint_seconds == 0 || self.security.audit_checkpoints_kept == 0 {
            return Err(AppError::invalid(
                "security",
                "审计检查点间隔和保留条数都须大于0",
                "audit_checkpoint_seconds and audit_checkpoints_kept must be above 0",
            ));
        }
        if let Some(bad) = self.alerts.webhook_allowed_ranges.iter().find(|r| address_range::Range::parse(r).is_none())
        {
            return Err(AppError::invalid(
                "alerts.webhook_allowed_ranges",
                format!("“{bad}”不是有效的地址范围（如 10.0.0.0/8）"),
                format!("{bad:?} is not an address range (such as 10.0.0.0/8)"),
            ));
        }
        self.mail.validate()?;
        self.federation.validate()
    }

    /// The node's key (`security.key_file`), read or created once.
    pub fn node_key(&self) -> AppResult<&crate::keys::NodeKey> {
        if let Some(key) = self.node_key.get() {
            return Ok(key);
        }
        let key = crate::keys::NodeKey::load_or_create(&self.resolve(&self.security.key_file))?;
        Ok(self.node_key.get_or_init(|| key))
    }

    /// The sealer of secrets at rest, under the node's key.
    pub fn sealer(&self) -> AppResult<crate::keys::Sealer> {
        Ok(crate::keys::Sealer::new(self.node_key()?, self.security.secret_cipher))
    }

    /// Resolves a path from the configuration against the config directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// Overlays `TRACENODE_<SECTION>_<KEY>` variables onto the parsed file.
fn apply_env(table: &mut toml::Table, env: &[(String, String)]) -> Result<(), AppError> {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("TRACENODE_") else { continue };
        if NON_SETTING_VARS.contains(&name.as_str()) || TOOLING_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let lower = rest.to_ascii_lowercase();
        let Some((section, key)) =
            SECTIONS.iter().find_map(|s| lower.strip_prefix(&format!("{s}_")).map(|k| (*s, k.to_owned())))
        else {
            return Err(AppError::invalid(
                "config",
                format!("未知的环境变量 {name}"),
                format!("unknown environment variable {name}"),
            ));
        };
        let entry = table.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            return Err(AppError::invalid(
                "config",
                format!("配置段 [{section}] 格式错误"),
                format!("config section [{section}] is not a table"),
            ));
        };
        section_table.insert(key, env_value(value));
    }
    Ok(())
}

/// Environment values are text; numbers and booleans are recognised so typed fields accept them.
fn env_value(value: &str) -> toml::Value {
    if let Ok(i) = value.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match value {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[node]\ntier = \"county\"\nregion = \"330106\"\nname = \"西湖区追溯平台\"\n";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let c = Config::from_parts(MINIMAL, &[], Path::new("/etc/tn")).expect("loads");
        assert_eq!(c.http.listen, "127.0.0.1:8443");
        let c = Config::from_parts(
            &format!("{MINIMAL}[http]\nlisten = \"0.0.0.0:9443\"\n"),
            &env(&[("TRACENODE_AUTH_LOCKOUT_THRESHOLD", "7")]),
            Path::new("/etc/tn"),
        )
        .expect("loads");
        assert_eq!(c.http.listen, "0.0.0.0:9443");
        assert_eq!(c.auth.lockout_threshold, 7);
        let c = Config::from_parts(
            &format!("{MINIMAL}[http]\nlisten = \"0.0.0.0:9443\"\n"),
            &env(&[("TRACENODE_HTTP_LISTEN", "127.0.0.1:1")]),
            Path::new("/etc/tn"),
        )
        .expect("loads");
        assert_eq!(c.http.listen, "127.0.0.1:1", "environment wins over the file");
    }

    #[test]
    fn unknown_keys_and_variables_are_errors() {
        let e = Config::from_parts(&format!("{MINIMAL}[http]\nlisen = \"x\"\n"), &[], Path::new("."))
            .expect_err("typo must fail");
        assert!(e.detail_en.contains("lisen"), "{}", e.detail_en);
        let e = Config::from_parts(MINIMAL, &env(&[("TRACENODE_HTTPS_LISTEN", "x")]), Path::new("."))
            .expect_err("unknown variable must fail");
        assert!(e.detail_en.contains("TRACENODE_HTTPS_LISTEN"));
        assert!(Config::from_parts(MINIMAL, &env(&[("TRACENODE_TEST_PG_URL", "x")]), Path::new(".")).is_ok());
        let pass = env(&[("TRACENODE_BACKUP_PASSPHRASE", "a passphrase"), ("TRACENODE_BACKUP_KEEP", "3")]);
        let c = Config::from_parts(MINIMAL, &pass, Path::new(".")).expect("a backup passphrase is no setting");
        assert_eq!(c.backup.keep, 3);
        let scheduled = format!("{MINIMAL}[backup]\ncron = \"0 0 2 * * *\"\n");
        let e = Config::from_parts(&scheduled, &[], Path::new(".")).expect_err("a schedule needs a passphrase file");
        assert_eq!(e.field.as_deref(), Some("backup.passphrase_file"));
    }

    #[test]
    fn tier_must_match_region_level() {
        let text = MINIMAL.replace("330106", "330100");
        let e = Config::from_parts(&text, &[], Path::new(".")).expect_err("city code for county tier");
        assert_eq!(e.field.as_deref(), Some("region"));
        assert!(e.detail_zh.contains("县级"), "{}", e.detail_zh);
        let text = MINIMAL.replace("330106", "339999");
        assert!(Config::from_parts(&text, &[], Path::new(".")).is_err(), "unknown region");
    }

    #[test]
    fn every_setting_is_documented() {
        let doc = include_str!("../../../docs/configuration.md");
        let c = Config::from_parts(MINIMAL, &[], Path::new(".")).expect("loads");
        let value = toml::Value::try_from(&c).expect("serialise");
        let sections = value.as_table().expect("table");
        for (section, keys) in sections {
            for key in keys.as_table().expect("section").keys() {
                let name = format!("`{section}.{key}`");
                assert!(doc.contains(&name), "{name} is missing from docs/configuration.md");
            }
        }
    }

    #[test]
    fn every_example_config_loads() {
        for (name, text) in [
            ("standalone", include_str!("../../../config/standalone.toml")),
            ("county", include_str!("../../../config/county.toml")),
            ("city", include_str!("../../../config/city.toml")),
            ("province", include_str!("../../../config/province.toml")),
            ("national", include_str!("../../../config/national.toml")),
        ] {
            let c = Config::from_parts(text, &[], Path::new(".")).unwrap_or_else(|e| panic!("{name}: {}", e.message()));
            assert_eq!(c.node.tier.as_str(), name);
        }
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let text = format!("{MINIMAL}[storage]\ndatabase_url = \"postgres://tn:s3cret@db/tn\"\npool_size = 4\nmigrate_on_start = true\n");
        let c = Config::from_parts(&text, &[], Path::new(".")).expect("loads");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://tn:***@db/tn"), "{shown}");
    }
}
