//! `tracenode demo` (联邦演示): a national, a province, a city and a county node on loopback,
//! each with its own SQLite database in one folder, enrolled tier by tier through the PKI,
//! with generated registrations and trace records at the county and the city. The roll-ups
//! run, the national node holds every registration and the statistics of all four tiers,
//! and the command prints where to sign in to each console. Run again, it starts the same
//! four nodes.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use tracenode_adapters::adapter::{Format, Source};
use tracenode_adapters::exchange::Header;
use tracenode_adapters::records::TraceRecord;

use crate::audit::AuditContext;
use crate::bootstrap::{self, InitOptions, InitialAccount, CONFIG_FILE};
use crate::config::{Config, Tier};
use crate::db::schema::federated_registrations;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::federation::kinds::{statistics, Kind};
use crate::federation::{children, uplink};
use crate::pki::NodePki;
use crate::region::RegionCode;

/// The four demo nodes: tier, region and name.
const NODES: [(Tier, &str, &str); 4] = [
    (Tier::National, "100000", "国家重要产品追溯管理平台（演示）"),
    (Tier::Province, "330000", "浙江省重要产品追溯管理平台（演示）"),
    (Tier::City, "330100", "杭州市重要产品追溯管理平台（演示）"),
    (Tier::County, "330106", "西湖区重要产品追溯管理平台（演示）"),
];

/// Entities registered at each node that has data.
const ENTITIES: u32 = 4;
/// Trace records ingested at each node that has data.
const RECORDS: usize = 40;

/// `demo` arguments.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The folder of the four nodes (演示目录).
    #[arg(long, default_value = "tracenode-demo")]
    pub dir: PathBuf,
    /// The first of eight loopback ports: each node takes a console port and a federation
    /// port (起始端口).
    #[arg(long, default_value_t = 18443)]
    pub port: u16,
    /// Stop once the roll-ups have reached the national node (for scripts and tests).
    #[arg(long)]
    pub exit: bool,
}

struct Node {
    config: Arc<Config>,
    db: Db,
    accounts: Vec<InitialAccount>,
    console: String,
    federation: Option<Arc<crate::federation::Federation>>,
    stopper: crate::routes::Stopper,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn federation_section(fed_port: u16, parent_port: Option<u16>) -> String {
    let parent = parent_port.map(|p| format!("https://127.0.0.1:{p}")).unwrap_or_default();
    format!(
        "\n[federation]\nlisten = \"127.0.0.1:{fed_port}\"\nparent_url = \"{parent}\"\n\
         registrations_cron = \"*/10 * * * * *\"\nstatistics_cron = \"*/30 * * * * *\"\ncheckpoints_cron = \"0 * * * * *\"\n"
    )
}

fn make(dir: &Path, i: usize, port: u16) -> AppResult<(Config, Vec<InitialAccount>, bool)> {
    let (tier, region, name) = NODES[i];
    let node_dir = dir.join(region);
    let fresh = !node_dir.join(CONFIG_FILE).exists();
    let console_port = port + 2 * i as u16;
    let mut accounts = Vec::new();
    if fresh {
        let made = bootstrap::init(&InitOptions {
            tier,
            region: RegionCode::parse(region)?,
            name: name.into(),
            dir: node_dir.clone(),
            database_url: None,
            listen: Some(format!("127.0.0.1:{console_port}")),
            admin_names: Default::default(),
            federation: Default::default(),
        })?;
        let parent_port = (i > 0).then(|| port + 2 * (i as u16 - 1) + 1);
        let text = std::fs::read_to_string(&made.config_path).map_err(AppError::internal)?;
        std::fs::write(&made.config_path, text + &federation_section(console_port + 1, parent_port))
            .map_err(AppError::internal)?;
        accounts = made.accounts;
    }
    Ok((Config::load(&node_dir.join(CONFIG_FILE))?, accounts, fresh))
}

fn record(i: usize, seller: &str, buyer: &str, region: &str) -> AppResult<TraceRecord> {
    serde_json::from_value(serde_json::json!({
        "id": format!("demo-{region}-{i}"), "corrects": null,
        "from": {"code": seller, "name": "演示销售方", "region": region},
        "to": {"code": buyer, "name": "演示采购方", "region": region},
        "product": {"trace_code": format!("DEMO-{region}-{i:04}"), "scheme": "local", "name": "红富士苹果", "category": "01",
                    "specification": "5kg/箱", "batch": format!("B{}", 20261100 + i % 20), "production_date": "2026-11-01",
                    "shelf_life_days": 60, "origin": "山东烟台"},
        "act": {"stage": "distribution_sale", "direction": "out", "quantity": 1.0 + (i % 7) as f64, "unit": "箱",
                "price": 8.0 + (i % 5) as f64, "amount": null,
                "time": format!("2026-11-{:02}T10:00:00+08:00", 1 + i % 20), "place": "杭州"}
    }))
    .map_err(AppError::internal)
}

/// A tenant, approved entities and trace records at a node.
fn seed(node: &Node, region: &str) -> AppResult<()> {
    use crate::registry::{entities, model, review};
    let ctx = AuditContext::cli();
    let config = &node.config;
    let (tenant, codes) = node.db.transaction_sync(|conn| {
        let new = crate::tenants::NewTenant {
            code: "demo-platform".into(),
            name: "演示第三方追溯平台".into(),
            kind: crate::tenants::TenantKind::Platform,
            region: region.into(),
            contact: String::new(),
        };
        let tenant = crate::tenants::create(conn, &ctx, &config.node.region, &new)?;
        let mut codes = Vec::new();
        for serial in 1..=ENTITIES {
            let code = tracenode_adapters::identifiers::Uscc::generate("91", region, serial)
                .ok_or_else(|| AppError::internal("code"))?
                .as_str()
                .to_owned();
            let input: model::EntityInput = serde_json::from_value(serde_json::json!({
                "code": code, "name": format!("演示商户{serial}号"), "kind": "enterprise", "region": region,
                "longitude": 120.13, "latitude": 30.27, "stages": ["distribution_sale"], "categories": ["01"],
                "contact_person": "王经理", "contact_phone": "0571-87000000"}))
            .map_err(AppError::internal)?;
            let cx = model::ValidationContext { region: &config.node.region, tenant: &tenant.id };
            if let entities::Registered::Created { entity } = entities::register(conn, &ctx, &tenant.id, &input, &cx)? {
                entities::review(conn, &ctx, &entity.id, &review::Decision { approve: true, reason: String::new() })?;
            }
            codes.push(code);
        }
        Ok((tenant, codes))
    })?;
    let records = (0..RECORDS).map(|i| record(i, &codes[0], &codes[1], region)).collect::<AppResult<Vec<_>>>()?;
    let mut csv = Vec::new();
    Format::Csv.encode(&mut csv, &Header::default(), &records).map_err(AppError::internal)?;
    let rules = node.db.transaction_sync(|conn| crate::ingest::policy::of(conn, tenant.id.as_str()))?;
    let intake = crate::ingest::Intake {
        channel: crate::ingest::submissions::Channel::Cli,
        mode: crate::ingest::Mode::BestEffort,
        dry_run: false,
        bytes: csv.len() as i64,
        actor: "cli".into(),
    };
    let job = crate::ingest::Job::for_tenant(
        &tenant,
        &rules,
        Source::Format(Format::Csv),
        config.node.region.clone(),
        config,
        intake,
    );
    crate::ingest::run(&node.db, &ctx, &job, Box::new(Cursor::new(csv)), &|_| {})?;
    Ok(())
}

fn held(db: &Db) -> AppResult<i64> {
    db.transaction_sync(|conn| Ok(federated_registrations::table.count().get_result(conn)?))
}

fn records(db: &Db) -> AppResult<i64> {
    let all = db.transaction_sync(statistics::jurisdiction)?;
    Ok(all.values().flat_map(|rows| rows.values()).map(|f| f.records).sum())
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> AppResult<()> {
    std::fs::create_dir_all(&args.dir).map_err(|e| {
        AppError::invalid(
            "dir",
            format!("无法创建 {}：{e}", args.dir.display()),
            format!("cannot create {}: {e}", args.dir.display()),
        )
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(AppError::internal)?;
    runtime.block_on(async move {
        let mut nodes: Vec<Node> = Vec::new();
        for (i, (tier, region, _)) in NODES.iter().enumerate() {
            let (config, accounts, fresh) = make(&args.dir, i, args.port)?;
            if fresh {
                match nodes.last() {
                    None => {
                        NodePki::of(&config).init_root()?;
                    }
                    Some(parent) => children::enrol_on_one_machine(&parent.config, &parent.db, &config)?,
                }
            }
            let db = bootstrap::open_db(&config)?;
            let config = Arc::new(config);
            let running = crate::routes::start(config.clone(), db.clone())?;
            let node = Node {
                console: format!("https://127.0.0.1:{}/login", running.addr.port()),
                federation: running.federation.clone(),
                stopper: running.stopper(),
                config,
                db,
                accounts,
                serving: tokio::spawn(running.serve()),
            };
            if fresh && matches!(tier, Tier::City | Tier::County) {
                // The city's own data is in one of its districts; the county's in itself.
                let at = if *tier == Tier::City { "330102" } else { region };
                seed(&node, at)?;
            }
            nodes.push(node);
        }
        // The roll-ups, from the bottom up; each tier passes on what arrives.
        for node in nodes.iter().rev() {
            if let Some(fed) = &node.federation {
                for kind in Kind::ALL {
                    let report = uplink::run(&node.db, fed, kind).await?;
                    if let Some(e) = report.error {
                        return Err(AppError::with_detail(crate::error::ErrorKind::UpstreamFailed, e.clone(), e));
                    }
                }
            }
        }
        let national = &nodes[0];
        for _ in 0..300 {
            if held(&national.db)? >= i64::from(ENTITIES) * 2 && records(&national.db)? >= 2 * RECORDS as i64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        print_summary(&nodes, &args.dir)?;
        if !args.exit {
            println!("\n按 Ctrl-C 停止全部节点 / press Ctrl-C to stop all four nodes");
            let _ = tokio::signal::ctrl_c().await;
        }
        // From the county up: a node whose children are gone has no long poll of theirs to
        // finish, and each node is gone (its connections with it) before its parent stops.
        while let Some(node) = nodes.pop() {
            node.stopper.stop();
            node.serving.await.map_err(AppError::internal)?.map_err(AppError::internal)?;
        }
        Ok(())
    })
}

fn print_summary(nodes: &[Node], dir: &Path) -> AppResult<()> {
    println!("tracenode 联邦演示 / federation demo ({})", dir.display());
    for node in nodes {
        let c = &node.config.node;
        println!("\n{}（{} {} {}）", c.name, c.tier.label_zh(), c.region, c.region.name());
        println!("  控制台 console: {}", node.console);
        if !node.config.federation.listen.is_empty() {
            println!("  联邦端口 federation: https://{}", node.config.federation.listen);
        }
        for a in &node.accounts {
            println!("  {}（{}）一次性密码 one-time password: {}", a.username, a.role, a.one_time_password);
        }
        if node.accounts.is_empty() {
            println!("  账号见首次运行时的输出 / accounts as printed on the first run");
        }
    }
    let national = &nodes[0];
    let held = held(&national.db)?;
    let records = records(&national.db)?;
    println!(
        "\n全国汇总 / at the national node: 注册信息 {held} 条 registrations, 追溯记录 {records} 条 trace records"
    );
    let by_county = national.db.transaction_sync(|conn| {
        let window = crate::stats::Window::resolve(conn, None, None)?;
        crate::stats::by_region(conn, 6, "", &window)
    })?;
    for (region, v) in by_county {
        let name = RegionCode::parse(&region).map(|r| r.name().to_owned()).unwrap_or_default();
        println!(
            "  {region} {name}: {} 笔交易 trades, 金额 {:.2} 元",
            v.trades.records,
            v.trades.amount_fen as f64 / 100.0
        );
    }
    Ok(())
}
