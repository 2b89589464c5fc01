//! The command line (命令行): `init`, `serve`, `migrate`, `user`, `tenant`, `audit`, `import`,
//! `pki`, `rollup`, `federation`, `backup`, `demo`.
//!
//! Commands that change data write audit rows as the actor `cli`, the node's operator at the
//! machine itself. Errors print their bilingual message and exit with status 1.

pub mod apikey;
pub mod backup;
pub mod demo;
pub mod pki;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::audit::AuditContext;
use crate::bootstrap::{self, InitOptions, CONFIG_FILE, DEFAULT_DIR};
use crate::config::{Config, LogFormat, Tier};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::region::RegionCode;
use crate::tenants::{self, NewTenant, TenantKind};
use crate::users::accounts::{self, NewUser};

/// tracenode — 重要产品追溯管理平台节点 / a node of the important-product traceability
/// management platform (GB/T 38157).
#[derive(Debug, Parser)]
#[command(name = "tracenode", version)]
pub struct Cli {
    /// Configuration file (配置文件). Default: ./tracenode-data/tracenode.toml
    #[arg(long, global = true, env = "TRACENODE_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node: configuration, data directory, development certificates and the three
    /// administrators with one-time passwords (初始化节点).
    Init(InitArgs),
    /// Run the node (运行节点). With no configuration, first initialises a standalone node in
    /// ./tracenode-data.
    Serve,
    /// Apply pending database migrations (数据库迁移).
    Migrate,
    /// Manage user accounts (用户管理).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage tenants (租户管理).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Tenants' API keys: create, list, revoke (接口密钥).
    #[command(subcommand)]
    Apikey(apikey::ApiKeyCommand),
    /// The audit trail (审计日志).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import trace records from a file, with a progress bar (导入追溯信息).
    Import(ImportArgs),
    /// The node's certificates: root, requests, signing children, installing (证书管理).
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Roll-ups to the parent, by hand (上报).
    #[command(subcommand)]
    Rollup(crate::federation::cli::RollupCommand),
    /// The federation: offline files and status (联邦).
    #[command(subcommand)]
    Federation(crate::federation::cli::FederationCommand),
    /// Four nodes — national, province, city, county — on loopback with generated data,
    /// enrolled and rolled up; prints where to sign in to each (联邦演示).
    Demo(demo::DemoArgs),
    /// Backups: make one of this node, check one, restore one (备份与恢复).
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Seal a secret read from standard input under the node's key, for a setting such as
    /// `mail.password`; prints the sealed text (加密配置中的密钥).
    Seal,
}

/// `import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file (XML exchange envelope, CSV, JSON array or NDJSON).
    pub file: PathBuf,
    /// Format: xml, csv, json, ndjson, epcis, or vendor:<mapping> (格式).
    #[arg(long)]
    pub format: String,
    /// Code of the tenant the records belong to (租户代码).
    #[arg(long)]
    pub tenant: String,
    /// atomic (all or nothing) or best_effort (store what passes).
    #[arg(long, default_value = "best_effort")]
    pub mode: String,
    /// Check and report only; store nothing (仅校验).
    #[arg(long)]
    pub dry_run: bool,
}

/// `init` arguments.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Tier of this node (节点层级).
    #[arg(long, value_enum)]
    pub tier: Tier,
    /// GB/T 2260 region code of this node, e.g. 330106 (行政区划代码; national: 100000).
    #[arg(long)]
    pub region: String,
    /// Name shown in the console (节点名称).
    #[arg(long)]
    pub name: String,
    /// Directory to create (数据目录).
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// Database URL: sqlite://PATH (default, inside DIR) or postgres://… (数据库地址).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Address of the HTTPS listener (监听地址).
    #[arg(long)]
    pub listen: Option<String>,
    /// Sign-in name of the system administrator (系统管理员用户名); choose one that is not
    /// guessable.
    #[arg(long, default_value = "sysadmin")]
    pub sysadmin_name: String,
    /// Sign-in name of the security administrator (安全管理员用户名).
    #[arg(long, default_value = "secadmin")]
    pub secadmin_name: String,
    /// Sign-in name of the audit administrator (审计管理员用户名).
    #[arg(long, default_value = "auditadmin")]
    pub auditadmin_name: String,
    /// Address of the mutual-TLS listener for child nodes, e.g. 0.0.0.0:9443 (联邦监听地址);
    /// writes the `[federation]` section.
    #[arg(long)]
    pub federation_listen: Option<String>,
    /// The parent node's federation listener, https://host:port (上级节点地址).
    #[arg(long)]
    pub parent_url: Option<String>,
    /// DNS names and addresses of the federation listener's certificate, comma-separated
    /// (联邦证书名称; default localhost,127.0.0.1).
    #[arg(long)]
    pub server_names: Option<String>,
}

impl InitArgs {
    /// The `[federation]` section the arguments ask for.
    fn federation(&self) -> crate::bootstrap::FederationInit {
        crate::bootstrap::FederationInit {
            listen: self.federation_listen.clone().unwrap_or_default(),
            parent_url: self.parent_url.clone().unwrap_or_default(),
            server_names: self.server_names.clone().unwrap_or_default(),
        }
    }
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account with a one-time password (新建用户).
    Add {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// Display name (姓名).
        #[arg(long)]
        display_name: String,
        /// Code of the tenant the account belongs to.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List accounts (用户列表).
    List,
    /// Give an account a new one-time password (重置密码).
    ResetPassword {
        /// Sign-in name.
        username: String,
    },
    /// Clear a lockout (解锁).
    Unlock {
        /// Sign-in name.
        username: String,
    },
}

/// `tenant` subcommands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (新建租户).
    Add {
        /// Code: 2–32 of a-z, 0-9, _ and -.
        #[arg(long)]
        code: String,
        /// Name (名称).
        #[arg(long)]
        name: String,
        /// department, platform or enterprise (类型).
        #[arg(long)]
        kind: String,
        /// Region code inside the node's region (地区).
        #[arg(long)]
        region: String,
        /// Contact person and phone (联系人).
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// List tenants (租户列表).
    List,
    /// Create an API key for a tenant's system, holding the built-in tenant-client role;
    /// prints the secret this once (新建接口密钥; the same as `apikey create`).
    Key {
        /// The tenant's code.
        #[arg(long)]
        tenant: String,
        /// A name for people, 1–50 characters.
        #[arg(long)]
        name: String,
    },
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain and name the first broken sequence number (校验审计链).
    Verify,
    /// Print the public SM2 key that checks the audit checkpoints, for an auditor who
    /// verifies the checkpoint file on their own (导出审计检查点验签公钥).
    PublicKey,
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    if !matches!(cli.command, Command::Serve | Command::Demo(_)) {
        // A command's warnings and the cause of an internal error go to stderr, so the
        // operator sees why it failed; `serve` logs as its configuration says.
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .try_init();
    }
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("错误 error: {}", e.message());
            1
        }
    }
}

fn config_path(cli_config: &Option<PathBuf>) -> PathBuf {
    cli_config.clone().unwrap_or_else(|| Path::new(DEFAULT_DIR).join(CONFIG_FILE))
}

fn load(cli_config: &Option<PathBuf>) -> AppResult<Config> {
    let path = config_path(cli_config);
    if !path.exists() {
        return Err(AppError::invalid(
            "config",
            format!("找不到配置文件 {}。请先运行 tracenode init，或用 --config 指定", path.display()),
            format!("no configuration at {}: run `tracenode init` first or pass --config", path.display()),
        ));
    }
    Config::load(&path)
}

fn open(cli_config: &Option<PathBuf>) -> AppResult<(Config, Db)> {
    let config = load(cli_config)?;
    let db = bootstrap::open_db(&config)?;
    Ok((config, db))
}

fn dispatch(cli: Cli) -> AppResult<()> {
    match cli.command {
        Command::Init(args) => init(args),
        Command::Serve => serve(&cli.config),
        Command::Migrate => {
            let config = load(&cli.config)?;
            let db = Db::open(&config.storage.database_url, &config.base_dir, 1, false)?;
            let applied = db.migrate()?;
            println!("已应用 {applied} 个迁移 / applied {applied} migration(s)");
            Ok(())
        }
        Command::User(cmd) => user(&cli.config, cmd),
        Command::Tenant(cmd) => tenant(&cli.config, cmd),
        Command::Apikey(cmd) => {
            let (_, db) = open(&cli.config)?;
            apikey::run(&db, cmd)
        }
        Command::Audit(AuditCommand::Verify) => audit_verify(&cli.config),
        Command::Audit(AuditCommand::PublicKey) => audit_public_key(&cli.config),
        Command::Seal => seal(&cli.config),
        Command::Backup(cmd) => backup::run(&config_path(&cli.config), cmd),
        Command::Import(args) => import(&cli.config, args),
        Command::Pki(cmd) => {
            let (config, db) = open(&cli.config)?;
            pki::run(&config, &db, cmd)
        }
        Command::Rollup(cmd) => {
            let (config, db) = open(&cli.config)?;
            crate::federation::cli::rollup(&config, &db, cmd)
        }
        Command::Demo(args) => demo::run(args),
        Command::Federation(cmd) => {
            let (config, db) = open(&cli.config)?;
            crate::federation::cli::run(&config, &db, cmd)
        }
    }
}

fn print_accounts(accounts: &[bootstrap::InitialAccount]) {
    if accounts.is_empty() {
        println!(
            "数据库中已有账号，未创建新的管理员。 / The database already has accounts; no administrators were created."
        );
        return;
    }
    println!("一次性密码（仅显示这一次，首次登录时必须修改）/ one-time passwords (shown once; must be changed at first sign-in):");
    for a in accounts {
        println!("  {:<12} {:<8} {}", a.username, a.role, a.one_time_password);
    }
}

fn init(args: InitArgs) -> AppResult<()> {
    let region =
        RegionCode::parse(&args.region).map_err(|e| AppError::invalid("region", e.to_string(), e.to_string()))?;
    let federation = args.federation();
    let made = bootstrap::init(&InitOptions {
        tier: args.tier,
        region,
        federation,
        name: args.name,
        dir: args.dir,
        database_url: args.database_url,
        listen: args.listen,
        admin_names: bootstrap::AdminNames {
            system: args.sysadmin_name,
            security: args.secadmin_name,
            audit: args.auditadmin_name,
        },
    })?;
    println!("已初始化节点 / node initialised: {}", made.config_path.display());
    println!("证书仅供开发使用 / the certificates are for development only");
    print_accounts(&made.accounts);
    Ok(())
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A panic is one log line with its place and message, never a raw backtrace.
    std::panic::set_hook(Box::new(|info| {
        let place = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let message = crate::audit::panic_guard::panic_message(info.payload());
        tracing::error!(%place, panic = %message, "panic");
    }));
}

fn serve(cli_config: &Option<PathBuf>) -> AppResult<()> {
    if cli_config.is_none() && !Path::new(DEFAULT_DIR).join(CONFIG_FILE).exists() {
        println!("未找到配置，正在 ./{DEFAULT_DIR} 中初始化独立节点 / no configuration: initialising a standalone node in ./{DEFAULT_DIR}");
        let made = bootstrap::init(&InitOptions {
            tier: Tier::Standalone,
            region: RegionCode::national(),
            name: "重要产品追溯管理平台（独立节点）".into(),
            dir: PathBuf::from(DEFAULT_DIR),
            database_url: None,
            listen: None,
            admin_names: Default::default(),
            federation: Default::default(),
        })?;
        print_accounts(&made.accounts);
    }
    let (config, db) = open(cli_config)?;
    init_logging(&config);
    bootstrap::record_configuration(&db, &config)?;
    let config = Arc::new(config);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(AppError::internal)?;
    runtime.block_on(async move {
        let running = crate::routes::start(config.clone(), db)?;
        tracing::info!(database = %config.storage.database_url.redacted(), "database ready");
        println!(
            "tracenode 已启动 / running: https://{}/  (控制台 console: https://{}/login)",
            running.addr, running.addr
        );
        if let Some(addr) = running.federation_addr {
            println!("联邦接口（双向 TLS）/ federation listener (mutual TLS): https://{addr}/");
        }
        running.serve().await.map_err(AppError::internal)
    })
}

fn user(cli_config: &Option<PathBuf>, cmd: UserCommand) -> AppResult<()> {
    let (_, db) = open(cli_config)?;
    let ctx = AuditContext::cli();
    match cmd {
        UserCommand::Add { username, display_name, tenant } => {
            let created = db.transaction_sync(|conn| {
                let tenant_id = match &tenant {
                    Some(code) => Some(tenants::by_code(conn, code)?.id),
                    None => None,
                };
                accounts::create(conn, &ctx, &NewUser { username, display_name, tenant_id })
            })?;
            println!(
                "已创建用户 / created {}；一次性密码 / one-time password: {}",
                created.user.username, created.one_time_password
            );
        }
        UserCommand::List => {
            let users = db.transaction_sync(accounts::list)?;
            println!("{:<20} {:<16} {:<28} status", "username", "name", "roles");
            for u in users {
                let status = if u.disabled {
                    "disabled"
                } else if u.locked {
                    "locked"
                } else {
                    "active"
                };
                println!("{:<20} {:<16} {:<28} {}", u.username, u.display_name, u.roles.join(","), status);
            }
        }
        UserCommand::ResetPassword { username } => {
            let created = db.transaction_sync(|conn| {
                let id = accounts::id_by_name(conn, &username)?;
                accounts::reset_password(conn, &ctx, accounts::Actor::Host, &id)
            })?;
            println!(
                "已重置 / reset {}；一次性密码 / one-time password: {}",
                created.user.username, created.one_time_password
            );
        }
        UserCommand::Unlock { username } => {
            db.transaction_sync(|conn| {
                let id = accounts::id_by_name(conn, &username)?;
                accounts::unlock(conn, &ctx, &id)
            })?;
            println!("已解锁 / unlocked {username}");
        }
    }
    Ok(())
}

fn tenant(cli_config: &Option<PathBuf>, cmd: TenantCommand) -> AppResult<()> {
    let (config, db) = open(cli_config)?;
    let ctx = AuditContext::cli();
    match cmd {
        TenantCommand::Add { code, name, kind, region, contact } => {
            let kind = TenantKind::parse(&kind)?;
            let new = NewTenant { code, name, kind, region, contact };
            let t = db.transaction_sync(|conn| tenants::create(conn, &ctx, &config.node.region, &new))?;
            println!("已创建租户 / created tenant {} ({}) id {}", t.code, t.name, t.id);
        }
        TenantCommand::List => {
            for t in db.transaction_sync(tenants::list_all)? {
                println!("{:<20} {:<12} {:<8} {:<10} {}", t.code, t.kind.as_str(), t.region, t.status.as_str(), t.name);
            }
        }
        TenantCommand::Key { tenant, name } => {
            let created = apikey::create(&db, &ctx, &tenant, &name, crate::users::permission::TENANT_CLIENT)?;
            println!("已创建接口密钥 / created API key {}（只显示这一次 / shown this once）", created.key.prefix);
            println!("{}", created.secret);
        }
    }
    Ok(())
}

fn seal(cli_config: &Option<PathBuf>) -> AppResult<()> {
    let config = load(cli_config)?;
    let mut secret = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut secret).map_err(AppError::internal)?;
    let secret = secret.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(AppError::invalid("secret", "标准输入中没有要加密的内容", "nothing to seal on standard input"));
    }
    println!("{}", config.sealer()?.seal(secret)?);
    Ok(())
}

fn audit_public_key(cli_config: &Option<PathBuf>) -> AppResult<()> {
    let config = load(cli_config)?;
    let path = config.resolve(&config.security.sm2_key_file);
    if !path.is_file() {
        return Err(AppError::invalid(
            "security.sm2_key_file",
            "本节点没有 SM2 签名密钥：请设置 security.checkpoint_signature = \"sm2\"",
            "this node has no SM2 signing key: set security.checkpoint_signature = \"sm2\"",
        ));
    }
    let key = crate::keys::sm2::Sm2Key::load_or_create(&path)?;
    print!("{}", String::from_utf8_lossy(&key.public_pem()?));
    Ok(())
}

fn audit_verify(cli_config: &Option<PathBuf>) -> AppResult<()> {
    let (config, db) = open(cli_config)?;
    let anchors = crate::audit::anchor::Anchors::open(&config)?;
    let v = db.transaction_sync(|conn| crate::audit::verify_recorded(conn, &AuditContext::cli(), &anchors))?;
    if v.first_broken_seq.is_none() {
        db.transaction_sync(|conn| anchors.take(conn))?;
    }
    match v.first_broken_seq {
        None if !v.missing_triggers.is_empty() => Err(AppError::with_detail(
            crate::error::ErrorKind::Conflict,
            format!("审计表的防篡改触发器缺失或被停用：{}", v.missing_triggers.join(", ")),
            format!(
                "append-only triggers of the audit table are missing or disabled: {}",
                v.missing_triggers.join(", ")
            ),
        )),
        None => {
            println!("审计链完整 / audit chain intact: {} rows", v.rows_checked);
            Ok(())
        }
        Some(seq) => Err(AppError::with_detail(
            crate::error::ErrorKind::Conflict,
            format!(
                "审计链在第 {seq} 条断裂（{}）：{}",
                v.code.clone().unwrap_or_default(),
                v.reason.clone().unwrap_or_default()
            ),
            format!(
                "audit chain broken at sequence {seq} ({}): {}",
                v.code.clone().unwrap_or_default(),
                v.reason.unwrap_or_default()
            ),
        )),
    }
}

/// Counts bytes read, for the progress bar.
struct Counted<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn import(cli_config: &Option<PathBuf>, args: ImportArgs) -> AppResult<()> {
    use crate::ingest::{self, submissions};
    let (config, db) = open(cli_config)?;
    let vendors = ingest::vendors(&config)?;
    let source = tracenode_adapters::adapter::Source::resolve(&args.format, &vendors).ok_or_else(|| {
        AppError::invalid(
            "format",
            format!("不支持的格式“{}”，应为 xml、csv、json、ndjson、epcis 或 vendor:<映射名>", args.format),
            format!("unsupported format {:?}: xml, csv, json, ndjson, epcis or vendor:<mapping>", args.format),
        )
    })?;
    let mode = ingest::Mode::parse(&args.mode)
        .ok_or_else(|| AppError::invalid("mode", "模式应为 atomic 或 best_effort", "mode is atomic or best_effort"))?;
    let file = std::fs::File::open(&args.file).map_err(|e| {
        AppError::invalid(
            "file",
            format!("无法打开 {}：{e}", args.file.display()),
            format!("cannot open {}: {e}", args.file.display()),
        )
    })?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (tenant, rules) = db.transaction_sync(|conn| {
        let t = tenants::by_code(conn, &args.tenant)?;
        let p = ingest::policy::of(conn, t.id.as_str())?;
        Ok((t, p))
    })?;
    let intake = ingest::Intake {
        channel: submissions::Channel::Cli,
        mode,
        dry_run: args.dry_run,
        bytes: bytes as i64,
        actor: "cli".into(),
    };
    let job = ingest::Job::for_tenant(&tenant, &rules, source, config.node.region.clone(), &config, intake);
    let bar = indicatif::ProgressBar::new(bytes);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} 已读 {msg} 条 / records",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let input = Counted { inner: std::io::BufReader::with_capacity(256 * 1024, file), bar: bar.clone() };
    let progress = |n: u64| bar.set_message(n.to_string());
    let started = std::time::Instant::now();
    let receipt = ingest::run(&db, &AuditContext::cli(), &job, Box::new(input), &progress)?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "报送 {}：读取 {}，入库 {}，重复 {}，拒收 {}，隔离 {}，标记异常 {}，更正 {}（{:.1} 秒，{:.0} 条/秒）",
        receipt.submission_id,
        receipt.received,
        if receipt.stored { receipt.accepted } else { 0 },
        receipt.duplicates,
        receipt.rejected,
        receipt.quarantined,
        receipt.flagged,
        receipt.corrected,
        secs,
        receipt.received as f64 / secs.max(1e-9),
    );
    println!(
        "submission {}: status {}, received {}, accepted {}, duplicates {}, rejected {}",
        receipt.submission_id, receipt.status, receipt.received, receipt.accepted, receipt.duplicates, receipt.rejected
    );
    for r in receipt.rejections.iter().take(20) {
        println!(
            "  第{}条 record {} {}: {} / {}",
            r.index,
            r.record_id.as_deref().unwrap_or("-"),
            r.field.as_deref().unwrap_or(""),
            r.reason_zh,
            r.reason
        );
    }
    if let Some(f) = &receipt.refusal {
        return Err(AppError::with_detail(
            crate::error::ErrorKind::DocumentRefused,
            f.message_zh.clone(),
            f.message.clone(),
        ));
    }
    if !receipt.stored && receipt.status != crate::db::SubmissionStatus::DryRun {
        return Err(AppError::with_detail(
            crate::error::ErrorKind::DocumentRefused,
            "整批拒收（atomic 模式下有记录被拒），未存储任何数据",
            "the whole batch was refused (atomic mode with rejections); nothing was stored",
        ));
    }
    Ok(())
}
