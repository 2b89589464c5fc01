//! Making and opening a node: `init` (configuration, data directory, development PKI, the
//! three administrators with one-time passwords) and the start-up shared by every command
//! (load configuration, open and migrate the database, seed built-in roles, record a changed
//! configuration in the audit trail).

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditContext, Outcome};
use crate::config::{Config, Tier};
use crate::db::schema::{node_settings, users};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::region::RegionCode;
use crate::users::accounts::{self, NewUser};
use crate::users::permission::{AUDIT_ADMIN, SECURITY_ADMIN, SYSTEM_ADMIN};
use crate::users::roles;

/// The directory `serve` initialises when run with no configuration.
pub const DEFAULT_DIR: &str = "tracenode-data";
/// The configuration file name inside a node directory.
pub const CONFIG_FILE: &str = "tracenode.toml";

/// What `init` needs.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Tier.
    pub tier: Tier,
    /// Region.
    pub region: RegionCode,
    /// Name.
    pub name: String,
    /// Directory to create.
    pub dir: PathBuf,
    /// Database URL (default: SQLite in the directory).
    pub database_url: Option<String>,
    /// Listen address (default 127.0.0.1:8443).
    pub listen: Option<String>,
    /// Sign-in names of the three administrators (not the well-known defaults, so no one can
    /// guess the names to aim sign-in floods at).
    pub admin_names: AdminNames,
    /// The `[federation]` section to write, when the node has children or a parent.
    pub federation: FederationInit,
}

/// What `init` writes into `[federation]`; all empty: no section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FederationInit {
    /// The mutual-TLS listener for children (`host:port`).
    pub listen: String,
    /// The parent's federation listener (`https://host:port`).
    pub parent_url: String,
    /// The listener certificate's DNS names and addresses, comma-separated (empty: the
    /// default, `localhost,127.0.0.1`).
    pub server_names: String,
}

impl FederationInit {
    /// The section's text, or nothing.
    fn section(&self) -> String {
        if self.listen.is_empty() && self.parent_url.is_empty() {
            return String::new();
        }
        let mut text = format!(
            "\n[federation]\nlisten = {}\nparent_url = {}\n",
            toml_string(&self.listen),
            toml_string(&self.parent_url)
        );
        if !self.server_names.is_empty() {
            text.push_str(&format!("server_names = {}\n", toml_string(&self.server_names)));
        }
        text
    }
}

/// Sign-in names of the three administrators made by `init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminNames {
    /// The system administrator's.
    pub system: String,
    /// The security administrator's.
    pub security: String,
    /// The audit administrator's.
    pub audit: String,
}

impl Default for AdminNames {
    fn default() -> Self {
        AdminNames { system: "sysadmin".into(), security: "secadmin".into(), audit: "auditadmin".into() }
    }
}

/// An account made by `init`.
#[derive(Debug, Clone)]
pub struct InitialAccount {
    /// User name.
    pub username: String,
    /// Role label.
    pub role: &'static str,
    /// One-time password.
    pub one_time_password: String,
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct Initialised {
    /// The configuration file.
    pub config_path: PathBuf,
    /// Accounts with their one-time passwords (empty when the database already had accounts).
    pub accounts: Vec<InitialAccount>,
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Creates a node directory: configuration, development PKI, database with the three
/// administrators.
pub fn init(opts: &InitOptions) -> AppResult<Initialised> {
    opts.tier.check_region(&opts.region)?;
    let config_path = opts.dir.join(CONFIG_FILE);
    if config_path.exists() {
        return Err(AppError::conflict(
            format!("{} 已存在，节点已初始化", config_path.display()),
            format!("{} exists: this node is already initialised", config_path.display()),
        ));
    }
    // The data directory holds the database, keys and secrets: its owner's alone.
    crate::files::private_dir(&opts.dir)?;
    let database_url = opts.database_url.clone().unwrap_or_else(|| "sqlite://data/tracenode.db".into());
    let listen = opts.listen.clone().unwrap_or_else(|| "127.0.0.1:8443".into());
    let mut text = format!(
        "# tracenode 节点配置 / node configuration. Reference: docs/configuration.md\n\
         [node]\ntier = {}\nregion = {}\nname = {}\n\n\
         [storage]\ndatabase_url = {}\npool_size = 8\nmigrate_on_start = true\n\n\
         [http]\nlisten = {}\ntls_cert = \"certs/server.pem\"\ntls_key = \"certs/server.key\"\nbody_limit_bytes = 1048576\nworkers = 0\n",
        toml_string(opts.tier.as_str()),
        toml_string(opts.region.as_str()),
        toml_string(&opts.name),
        toml_string(&database_url),
        toml_string(&listen),
    );
    text.push_str(&opts.federation.section());
    // Validate before writing anything that would make the directory look initialised.
    let config = Config::from_parts(&text, &[], &opts.dir)?;
    tracenode_federation::pki::make_development_pki(&opts.dir.join("certs"), opts.region.as_str())
        .map_err(|e| AppError::internal(format!("development PKI: {e}")))?;
    let db = open_db(&config)?;
    let accounts = create_administrators(&db, &opts.admin_names)?;
    write_vendor_examples(&config.resolve(&config.ingest.vendors_dir))?;
    crate::files::private_file(&config_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(|e| io_error(&config_path, e))?;
    Ok(Initialised { config_path, accounts })
}

/// The example vendor mappings shipped with the node (see `config/vendors/`).
const VENDOR_EXAMPLES: [(&str, &str); 2] = [
    ("hz-wholesale.toml", include_str!("../../../config/vendors/hz-wholesale.toml")),
    ("meat-csv.toml", include_str!("../../../config/vendors/meat-csv.toml")),
];

/// Writes the example vendor mappings into a new node's vendors directory.
fn write_vendor_examples(dir: &Path) -> AppResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    for (name, text) in VENDOR_EXAMPLES {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io_error(&path, e))?;
    }
    Ok(())
}

fn io_error(path: &Path, e: std::io::Error) -> AppError {
    AppError::invalid(
        "dir",
        format!("无法写入 {}：{e}", path.display()),
        format!("cannot write {}: {e}", path.display()),
    )
}

/// Opens (and migrates) the database of `config` and seeds the built-in roles.
pub fn open_db(config: &Config) -> AppResult<Db> {
    let db = Db::open(
        &config.storage.database_url,
        &config.base_dir,
        config.storage.pool_size,
        config.storage.migrate_on_start,
    )?;
    db.transaction_sync(roles::seed_builtin)?;
    db.transaction_sync(crate::registry::catalogue::seed_national)?;
    Ok(db)
}

/// Creates the three administrators (by default `sysadmin`, `secadmin` and `auditadmin`) with
/// one-time passwords, unless the database already has accounts.
pub fn create_administrators(db: &Db, names: &AdminNames) -> AppResult<Vec<InitialAccount>> {
    db.transaction_sync(|conn| {
        let existing: i64 = users::table.count().get_result(conn)?;
        if existing > 0 {
            return Ok(Vec::new());
        }
        let ctx = AuditContext { actor: "init".into(), ..AuditContext::cli() };
        let mut made = Vec::new();
        for (username, role_code, label, display) in [
            (names.system.as_str(), SYSTEM_ADMIN, "系统管理员", "系统管理员"),
            (names.security.as_str(), SECURITY_ADMIN, "安全管理员", "安全管理员"),
            (names.audit.as_str(), AUDIT_ADMIN, "审计管理员", "审计管理员"),
        ] {
            let created = accounts::create(
                conn,
                &ctx,
                &NewUser { username: username.into(), display_name: display.into(), tenant_id: None },
            )?;
            let role = roles::by_code(conn, role_code)?;
            accounts::assign_roles(conn, &ctx, accounts::Actor::Host, &created.user.id, &[role.id])?;
            made.push(InitialAccount {
                username: username.into(),
                role: label,
                one_time_password: created.one_time_password,
            });
        }
        audit::record(conn, &ctx, "node.init", "node", Outcome::Success, serde_json::json!({}))?;
        Ok(made)
    })
}

/// Records the configuration in the audit trail when it differs from the last one the node
/// started with.
pub fn record_configuration(db: &Db, config: &Config) -> AppResult<()> {
    let shown = toml::to_string(config).map_err(AppError::internal)?;
    let digest = hex::encode(Sha256::digest(shown.as_bytes()));
    db.transaction_sync(|conn| {
        let last: Option<String> = node_settings::table
            .filter(node_settings::key.eq("config_digest"))
            .select(node_settings::value)
            .first(conn)
            .optional()?;
        if last.as_deref() == Some(digest.as_str()) {
            return Ok(());
        }
        diesel::delete(node_settings::table.filter(node_settings::key.eq("config_digest"))).execute(conn)?;
        diesel::insert_into(node_settings::table)
            .values((node_settings::key.eq("config_digest"), node_settings::value.eq(&digest), node_settings::updated_at.eq(crate::db::now())))
            .execute(conn)?;
        let ctx = AuditContext { actor: "system".into(), ..AuditContext::cli() };
        audit::record(
            conn,
            &ctx,
            "config.change",
            "tracenode.toml",
            Outcome::Success,
            serde_json::json!({"before": last, "after": digest, "tier": config.node.tier.as_str(), "region": config.node.region.as_str()}),
        )?;
        Ok(())
    })
}
