//! Registry benchmark: bulk registration of generated entities and mixed searches, each printed
//! next to its floor measured in the same run.
//!
//! - **Bulk**: `TRACENODE_BENCH_ENTITIES` (default 1,000,000) realistic entities — valid unified
//!   social credit codes, real county codes with a skewed distribution, skewed categories,
//!   merchants of sites — through the bulk registration path (validation, duplicate detection,
//!   audit) in batches of 250,000, in filing order (as a registry receives them).
//!   Floor: the same rows, already validated, inserted bare (a prepared single-row statement
//!   on SQLite, multi-row statements on PostgreSQL) in one transaction per batch, into an
//!   empty database of the same schema.
//! - **Search**: 1,000 (`TRACENODE_BENCH_SEARCHES`) mixed searches over HTTPS (API key, JSON),
//!   p50/p95/p99, overall and by kind. Floor: the same SQL run directly against the database.
//!
//! Runs on SQLite; on PostgreSQL too when `TRACENODE_BENCH_PG_URL` names a server
//! (`postgres://user:pass@host/postgres`, a role that may create databases).
//!
//! `cargo bench -p tracenode --bench registry`

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use diesel::connection::SimpleConnection;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{drop_bench_databases, fresh_pg};
use tracenode::audit::AuditContext;
use tracenode::bootstrap::{self, InitOptions};
use tracenode::config::{Config, Tier};
use tracenode::db::schema::entities;
use tracenode::db::Db;
use tracenode::ids::TenantId;
use tracenode::region::{self, RegionCode, RegionLevel};
use tracenode::registry::bulk::{self, BulkMode, BulkRequest};
use tracenode::registry::model::{validate_shape, EntityInput, EntityKind, EntityRow};
use tracenode::registry::search::{self, EntityQuery, Reach};
use tracenode::registry::sites::{self, NewSite};
use tracenode_adapters::codes::Stage;
use tracenode_adapters::identifiers::Uscc;

const BATCH: usize = 250_000;
/// Searches measured (`TRACENODE_BENCH_SEARCHES` overrides).
fn searches_wanted() -> usize {
    std::env::var("TRACENODE_BENCH_SEARCHES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000)
}
const SITES: usize = 200;
/// The kinds of search in the mix, by the index [`Generator::query`] draws.
const QUERY_KINDS: [&str; 8] = [
    "province",
    "city + kind + stage",
    "province + family + filed since",
    "busy district + name keyword",
    "site",
    "code prefix 913",
    "busy district by name",
    "province approved, page 5",
];

struct Generator {
    rng: StdRng,
    counties: Vec<(String, &'static str)>,
    county_weights: Vec<f64>,
    cities: Vec<String>,
    provinces: Vec<String>,
    total: usize,
}

fn cumulative(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect()
}

fn pick(cum: &[f64], r: f64) -> usize {
    cum.partition_point(|c| *c < r).min(cum.len() - 1)
}

const CATEGORY_CUM: [f64; 7] = [0.40, 0.70, 0.80, 0.88, 0.93, 0.97, 1.0];
const WORDS: [&str; 12] =
    ["鲜果", "蔬菜", "肉类", "水产", "粮油", "茶叶", "乳品", "药材", "农资", "调味", "冷链", "食品"];

impl Generator {
    fn new(seed: u64, total: usize) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut counties: Vec<(String, &'static str)> = region::all()
            .filter(|(code, _)| RegionCode::parse(code).is_ok_and(|r| r.level() == RegionLevel::County))
            .map(|(c, n)| (c.to_owned(), n))
            .collect();
        // Shuffle, then give the regions Zipf-like weights: a few busy districts, a long tail.
        for i in (1..counties.len()).rev() {
            let j = rng.gen_range(0..=i);
            counties.swap(i, j);
        }
        let county_weights =
            cumulative(&(0..counties.len()).map(|i| 1.0 / ((i + 1) as f64).powf(0.9)).collect::<Vec<_>>());
        let cities = region::all()
            .filter(|(code, _)| RegionCode::parse(code).is_ok_and(|r| r.level() == RegionLevel::City))
            .map(|(c, _)| c.to_owned())
            .collect();
        let provinces = region::all()
            .filter(|(code, _)| RegionCode::parse(code).is_ok_and(|r| r.level() == RegionLevel::Province))
            .map(|(c, _)| c.to_owned())
            .collect();
        Generator { rng, counties, county_weights, cities, provinces, total }
    }

    fn entity(&mut self, serial: u32, site_codes: &[String]) -> EntityInput {
        let (county, county_name) = self.counties[pick(&self.county_weights, self.rng.gen())].clone();
        let kind = match self.rng.gen_range(0..100) {
            0..=49 => EntityKind::Enterprise,
            50..=84 => EntityKind::Individual,
            85..=94 => EntityKind::Cooperative,
            _ => EntityKind::Other,
        };
        let prefix = match kind {
            EntityKind::Individual => "92",
            EntityKind::Cooperative => "93",
            _ => "91",
        };
        let code = Uscc::generate(prefix, &county, serial).map(|u| u.as_str().to_owned()).unwrap_or_default();
        let category = format!("{:02}", pick(&CATEGORY_CUM, self.rng.gen()) + 1);
        let mut stages = vec![Stage::ALL[self.rng.gen_range(0..7)]];
        if self.rng.gen_bool(0.3) {
            stages.push(Stage::ALL[self.rng.gen_range(0..7)]);
        }
        let merchant = self.rng.gen_bool(0.3);
        let word = WORDS[self.rng.gen_range(0..WORDS.len())];
        // Filings arrive in time order over four years, a few minutes apart.
        let span = (365 * 24 * 3600 * 3 + 300 * 24 * 3600) as f64;
        let filed = NaiveDate::from_ymd_opt(2023, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
            + TimeDelta::seconds((span * f64::from(serial) / self.total as f64) as i64 + self.rng.gen_range(0..60));
        EntityInput {
            code,
            name: format!("{county_name}{word}{}{serial:07}", kind.label_zh()),
            kind,
            region: county,
            address: format!("{county_name}示范路{}号", self.rng.gen_range(1..999)),
            longitude: Some(self.rng.gen_range(98.0..122.0)),
            latitude: Some(self.rng.gen_range(22.0..42.0)),
            contact_person: "张经理".into(),
            contact_phone: format!("0{}-{:08}", self.rng.gen_range(10..999), self.rng.gen_range(0..99_999_999)),
            stages,
            categories: vec![category],
            site_code: merchant.then(|| site_codes[self.rng.gen_range(0..site_codes.len())].clone()),
            merchant_code: merchant.then(|| format!("M{:05}", self.rng.gen_range(0..99_999))),
            merchant_type: merchant.then(|| word.to_owned()),
            varieties: word.into(),
            gln: None,
            filed_at: Some(filed),
            tenant_id: None,
        }
    }

    fn query(&mut self, site_codes: &[String]) -> (usize, EntityQuery) {
        let mut q = EntityQuery::default();
        let kind = self.rng.gen_range(0..QUERY_KINDS.len());
        let province = self.provinces[self.rng.gen_range(0..self.provinces.len())].clone();
        let busy_county = self.counties[pick(&self.county_weights, self.rng.gen::<f64>() * 0.2)].0.clone();
        match kind {
            0 => q.region = Some(province),
            1 => {
                q.region = Some(self.cities[self.rng.gen_range(0..self.cities.len())].clone());
                q.kind = Some("enterprise".into());
                q.stage = Some(Stage::ALL[self.rng.gen_range(0..7)].code().into());
            }
            2 => {
                q.category = Some(format!("{:02}", self.rng.gen_range(1..8)));
                q.filed_from = NaiveDate::from_ymd_opt(2025, self.rng.gen_range(1..13), 1);
                q.region = Some(province);
            }
            3 => {
                q.region = Some(busy_county);
                q.q = Some(WORDS[self.rng.gen_range(0..WORDS.len())].into());
            }
            4 => q.site = Some(site_codes[self.rng.gen_range(0..site_codes.len())].clone()),
            5 => q.q = Some("913".into()),
            6 => {
                q.region = Some(busy_county);
                q.sort = Some("name".into());
                q.order = Some("asc".into());
            }
            _ => {
                q.region = Some(province);
                q.status = Some("approved".into());
                q.page = Some(5);
            }
        }
        (kind, q)
    }
}

struct Node {
    db: Db,
    config: Arc<Config>,
    tenant: TenantId,
    api_key: String,
    ca: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn node(database_url: Option<String>) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = bootstrap::init(&InitOptions {
        tier: Tier::Standalone,
        region: RegionCode::national(),
        name: "基准测试节点".into(),
        dir: dir.path().join("node"),
        database_url,
        listen: Some("127.0.0.1:0".into()),
        admin_names: Default::default(),
        federation: Default::default(),
    })
    .expect("init");
    let config = Config::load(&made.config_path).expect("config");
    let db = bootstrap::open_db(&config).expect("db");
    let ctx = AuditContext::cli();
    let tenant = db
        .transaction_sync(|conn| {
            tracenode::tenants::create(
                conn,
                &ctx,
                &RegionCode::national(),
                &tracenode::tenants::NewTenant {
                    code: "bench-platform".into(),
                    name: "基准平台".into(),
                    kind: tracenode::tenants::TenantKind::Platform,
                    region: "100000".into(),
                    contact: String::new(),
                },
            )
        })
        .expect("tenant");
    let api_key = db
        .transaction_sync(|conn| {
            let role = tracenode::users::roles::by_code(conn, "tenant_client")?;
            tracenode::auth::api_key::create(
                conn,
                &ctx,
                &tracenode::auth::api_key::NewApiKey {
                    tenant_id: tenant.id.clone(),
                    role_id: role.id,
                    name: "bench".into(),
                },
            )
        })
        .expect("key")
        .secret;
    let ca = std::fs::read(dir.path().join("node/certs/ca.pem")).expect("ca");
    if std::env::var("TRACENODE_BENCH_KEEP").is_ok() {
        println!("node directory kept: {}", dir.path().display());
        let kept = dir.keep();
        let dir = tempfile::tempdir().expect("tempdir");
        let _ = kept;
        return Node { db, config: Arc::new(config), tenant: tenant.id, api_key, ca, _dir: dir };
    }
    Node { db, config: Arc::new(config), tenant: tenant.id, api_key, ca, _dir: dir }
}

fn make_sites(n: &Node) -> Vec<String> {
    let ctx = AuditContext::cli();
    (0..SITES)
        .map(|i| {
            let code = format!("site-{i:04}");
            n.db.transaction_sync(|conn| {
                sites::create(
                    conn,
                    &ctx,
                    &n.tenant,
                    &RegionCode::national(),
                    &NewSite {
                        code: code.clone(),
                        name: format!("第{i}农贸市场"),
                        kind: "farmers_market".into(),
                        region: "330106".into(),
                        address: String::new(),
                        longitude: None,
                        latitude: None,
                        tenant_id: None,
                        gln: None,
                    },
                )
            })
            .expect("site");
            code
        })
        .collect()
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Loads `total` entities through the bulk path; returns the elapsed time.
fn load_pipeline(n: &Node, batches: &[Vec<EntityInput>]) -> Duration {
    let ctx = AuditContext::cli();
    // The requests as the API would have decoded them, made before the clock starts.
    let requests: Vec<BulkRequest> = batches
        .iter()
        .map(|b| BulkRequest { mode: BulkMode::BestEffort, dry_run: false, entities: b.clone() })
        .collect();
    let started = Instant::now();
    for req in &requests {
        let receipt = bulk::register_batch(&n.db, &ctx, &n.tenant, &RegionCode::national(), req).expect("batch");
        assert_eq!(receipt.accepted, req.entities.len(), "rejections: {:?}", receipt.rejected.first());
    }
    started.elapsed()
}

/// The floor: the same rows, already validated, inserted bare.
fn load_floor(n: &Node, batches: &[Vec<EntityInput>]) -> Duration {
    let site_ids: std::collections::HashMap<String, tracenode::ids::SiteId> =
        n.db.transaction_sync(|conn| Ok(sites::list(conn, None)?.into_iter().map(|s| (s.code, s.id)).collect()))
            .expect("sites");
    let prepared: Vec<Vec<EntityRow>> = batches
        .iter()
        .map(|b| {
            b.iter()
                .map(|input| {
                    let mut d = validate_shape(input, &RegionCode::national()).expect("valid");
                    d.site_id = input.site_code.as_ref().and_then(|c| site_ids.get(c).cloned());
                    EntityRow::new(
                        tracenode::ids::EntityId::generate(),
                        &n.tenant,
                        &d,
                        "pending",
                        "cli",
                        "registered (bulk)",
                        tracenode::db::now(),
                    )
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for batch in &prepared {
        n.db.bulk_transaction_sync(|conn| {
            for chunk in batch.chunks(500) {
                let inserts: Vec<_> = chunk.iter().map(EntityRow::for_insert).collect();
                tracenode::insert_rows!(conn, entities::table, &inserts)?;
            }
            Ok::<(), tracenode::error::AppError>(())
        })
        .expect("floor batch");
    }
    started.elapsed()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(mut ms: Vec<f64>) -> (f64, f64, f64) {
    if ms.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    (percentile(&ms, 0.5), percentile(&ms, 0.95), percentile(&ms, 0.99))
}

type Timings = Vec<(usize, f64)>;

fn searches(n: &Node, queries: &[(usize, EntityQuery)]) -> (Timings, Timings) {
    let reach = Reach { tenant: Some(n.tenant.clone()), region: Some(RegionCode::national()), ..Default::default() };
    // Floor: the same SQL straight against the database.
    let mut floor = Vec::with_capacity(queries.len());
    let mut conn = n.db.conn().expect("conn");
    for (kind, q) in queries {
        let checked = q.check().expect("query");
        let t = Instant::now();
        search::page(&mut conn, &checked, &reach).expect("search");
        floor.push((*kind, t.elapsed().as_secs_f64() * 1000.0));
    }
    drop(conn);
    // Through the node: HTTPS, authentication, JSON.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let through = runtime.block_on(async {
        let running = tracenode::routes::start(n.config.clone(), n.db.clone()).expect("server");
        let base = format!("https://127.0.0.1:{}", running.addr.port());
        tokio::spawn(running.serve());
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&n.ca).expect("ca"))
            .build()
            .expect("client");
        let mut ms = Vec::with_capacity(queries.len());
        for (kind, q) in queries {
            let url = format!("{base}/api/v1/registry/entities?{}", serde_urlencoded::to_string(q).expect("query"));
            let t = Instant::now();
            let res = client.get(&url).bearer_auth(&n.api_key).send().await.expect("request");
            assert_eq!(res.status(), 200, "{url}");
            let _ = res.bytes().await.expect("body");
            ms.push((*kind, t.elapsed().as_secs_f64() * 1000.0));
        }
        ms
    });
    (through, floor)
}

fn run(label: &str, pipeline_url: Option<String>, floor_url: Option<String>, total: usize) {
    println!("\n== registry benchmark on {label}: {total} entities ==");
    let n = node(pipeline_url);
    let site_codes = make_sites(&n);
    let mut g = Generator::new(38157, total);
    let started = Instant::now();
    let batches: Vec<Vec<EntityInput>> = (0..total)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|c| c.iter().map(|i| g.entity(*i as u32, &site_codes)).collect())
        .collect();
    println!("generated in {:.1} s", started.elapsed().as_secs_f64());
    let pipeline = load_pipeline(&n, &batches);
    let floor_node = node(floor_url);
    make_sites(&floor_node);
    let floor = load_floor(&floor_node, &batches);
    drop(floor_node);
    println!(
        "bulk registration: {:>9.0} entities/s  ({:.1} s)   floor (bare prepared inserts): {:>9.0} rows/s  ({:.1} s)   pipeline/floor = {:.2}",
        rate(total, pipeline),
        pipeline.as_secs_f64(),
        rate(total, floor),
        floor.as_secs_f64(),
        rate(total, pipeline) / rate(total, floor)
    );
    // Reviews approve about 60% of the registrations before people search.
    n.db.conn()
        .expect("conn")
        .batch_execute("UPDATE entities SET status = 'approved' WHERE substr(code, 17, 1) < 'B'")
        .expect("approve");
    let searches_n = searches_wanted();
    let queries: Vec<(usize, EntityQuery)> = (0..searches_n).map(|_| g.query(&site_codes)).collect();
    let (through, floor) = searches(&n, &queries);
    for (kind, name) in QUERY_KINDS.iter().enumerate() {
        let of = |t: &Timings| t.iter().filter(|(k, _)| *k == kind).map(|(_, ms)| *ms).collect::<Vec<_>>();
        let (a50, a95, _) = summary(of(&through));
        let (b50, b95, _) = summary(of(&floor));
        println!("  {name:<32} p50 {a50:6.1} ms  p95 {a95:6.1} ms   floor p50 {b50:6.1} ms  p95 {b95:6.1} ms");
    }
    let all = |t: &Timings| t.iter().map(|(_, ms)| *ms).collect::<Vec<_>>();
    let ((p50, p95, p99), (f50, f95, f99)) = (summary(all(&through)), summary(all(&floor)));
    println!(
        "search ({searches_n} mixed, HTTPS+JSON): p50 {p50:6.1} ms  p95 {p95:6.1} ms  p99 {p99:6.1} ms\n\
         floor  (same SQL, bare):          p50 {f50:6.1} ms  p95 {f95:6.1} ms  p99 {f99:6.1} ms   p95 ratio = {:.2}",
        p95 / f95
    );
}

fn main() {
    tracenode_federation::pki::init_crypto();
    let total: usize = std::env::var("TRACENODE_BENCH_ENTITIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    run("SQLite", None, None, total);
    if let Ok(server) = std::env::var("TRACENODE_BENCH_PG_URL") {
        run("PostgreSQL", Some(fresh_pg(&server)), Some(fresh_pg(&server)), total);
        drop_bench_databases(&server);
    } else {
        println!("\n(PostgreSQL skipped: set TRACENODE_BENCH_PG_URL to measure it too)");
    }
}
