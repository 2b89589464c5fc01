//! Ingestion benchmark: `TRACENODE_BENCH_RECORDS` (default 1,000,000) generated trace records
//! written as one GB/T 21062-style XML envelope (and as one CSV file), each ingested through
//! the whole pipeline — decode, validate (identifiers, code lists, references to the 500
//! registered parties, time sanity), anomaly flags, idempotency, indexes, daily aggregates,
//! the submission row and its audit — in one submission, the way `tracenode import` runs it.
//! Peak memory is the process's resident high-water mark, reset just before the ingestion.
//!
//! Floor, measured in the same run: the same rows, already validated and built, inserted into
//! an empty database of the same schema in one transaction — by a prepared single-row
//! statement on SQLite, by `COPY … FROM STDIN (FORMAT binary)` on PostgreSQL — timing only the
//! inserts.
//!
//! Runs on SQLite; on PostgreSQL too when `TRACENODE_BENCH_PG_URL` names a server.
//!
//! `cargo bench -p tracenode --bench ingest`

mod support;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use diesel::{ExecuteCopyFromDsl, RunQueryDsl};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{drop_bench_databases, fresh_pg};
use tracenode::audit::AuditContext;
use tracenode::bootstrap::{self, InitOptions};
use tracenode::config::{Config, Tier};
use tracenode::db::schema::trace_records;
use tracenode::db::{Db, DbConnection};
use tracenode::ingest::policy::ReferencePolicy;
use tracenode::ingest::submissions::{Channel, Meta};
use tracenode::ingest::validate::Validator;
use tracenode::ingest::{self, Job, Mode};
use tracenode::quality::rules::RuleSet;
use tracenode::region::{self, RegionCode, RegionLevel};
use tracenode::registry::bulk::{self, BulkMode, BulkRequest};
use tracenode::registry::model::EntityInput;
use tracenode_adapters::adapter::{Format, Source};
use tracenode_adapters::codes::Stage;
use tracenode_adapters::exchange::{write_streamed, Header, Limits};
use tracenode_adapters::identifiers::Uscc;
use tracenode_adapters::records::{Act, Party, PayloadDigest, TraceRecord, TracedProduct};

/// The allocator the node binary uses (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTIES: usize = 500;
const SEED: u64 = 21062;

struct Node {
    db: Db,
    tenant_id: String,
    tenant_code: String,
    _dir: tempfile::TempDir,
}

/// The registered parties: (code, region).
fn parties() -> Vec<(String, String)> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let counties: Vec<String> = region::all()
        .filter(|(code, _)| {
            code.starts_with("33") && RegionCode::parse(code).is_ok_and(|r| r.level() == RegionLevel::County)
        })
        .map(|(c, _)| c.to_owned())
        .collect();
    (0..PARTIES)
        .map(|i| {
            let county = counties[rng.gen_range(0..counties.len())].clone();
            (Uscc::generate("91", &county, i as u32 + 1).expect("code").as_str().to_owned(), county)
        })
        .collect()
}

fn node(database_url: Option<String>, parties: &[(String, String)]) -> Node {
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
                    region: "330000".into(),
                    contact: String::new(),
                },
            )
        })
        .expect("tenant");
    let entities: Vec<EntityInput> = parties
        .iter()
        .enumerate()
        .map(|(i, (code, county))| {
            serde_json::from_value(serde_json::json!({
                "code": code, "name": format!("第{i}号商户"), "kind": "enterprise", "region": county,
                "stages": ["distribution_sale"], "categories": ["01"],
                "contact_person": "王经理", "contact_phone": "0571-87000000"}))
            .expect("entity")
        })
        .collect();
    let req = BulkRequest { mode: BulkMode::Atomic, dry_run: false, entities };
    let receipt = bulk::register_batch(&db, &ctx, &tenant.id, &RegionCode::national(), &req).expect("parties");
    assert_eq!(receipt.accepted, parties.len());
    Node { db, tenant_id: tenant.id.as_str().to_owned(), tenant_code: tenant.code, _dir: dir }
}

/// The `i`-th record of the run: a sale or purchase between two registered parties.
fn record(i: usize, rng: &mut StdRng, parties: &[(String, String)]) -> TraceRecord {
    let (a, b) = (rng.gen_range(0..parties.len()), rng.gen_range(0..parties.len()));
    let stage = Stage::ALL[rng.gen_range(0..Stage::ALL.len())];
    let family = rng.gen_range(1..=7);
    let day = rng.gen_range(1..=28);
    let price = if rng.gen_bool(0.8) { Some((rng.gen_range(100..100_000) as f64) / 100.0) } else { None };
    let party =
        |k: usize| Party { code: parties[k].0.clone(), name: format!("第{k}号商户"), region: parties[k].1.clone() };
    TraceRecord {
        id: format!("R{i:09}"),
        corrects: None,
        retraction: false,
        from: party(a),
        to: party(b),
        product: TracedProduct {
            trace_code: format!("TC{:012}", i),
            scheme: "local".into(),
            name: "红富士苹果".into(),
            category: format!("0{family}"),
            specification: "5kg/箱".into(),
            batch: format!("B2026{:05}", i / 500),
            production_date: Some("2026-09-01".into()),
            shelf_life_days: Some(60),
            origin: "山东烟台".into(),
        },
        act: Act {
            stage: stage.code().into(),
            direction: if rng.gen_bool(0.5) { "out" } else { "in" }.into(),
            quantity: (rng.gen_range(1..10_000) as f64) / 10.0,
            unit: "箱".into(),
            price,
            amount: None,
            time: format!("2026-10-{day:02}T{:02}:{:02}:00+08:00", rng.gen_range(0..24), rng.gen_range(0..60)),
            place: "杭州".into(),
            voucher: String::new(),
        },
    }
}

fn records(n: usize, parties: &[(String, String)]) -> impl Iterator<Item = TraceRecord> + '_ {
    let mut rng = StdRng::seed_from_u64(SEED + 1);
    (0..n).map(move |i| record(i, &mut rng, parties))
}

/// Writes the XML envelope (two passes: the digest, then the file) and the CSV file.
fn write_files(dir: &Path, n: usize, parties: &[(String, String)]) -> (PathBuf, PathBuf) {
    let mut digest = PayloadDigest::default();
    records(n, parties).for_each(|r| digest.add(&r));
    let header = Header {
        sender: "bench-platform".into(),
        receiver: "100000".into(),
        message_id: uuid::Uuid::now_v7().to_string(),
        correlation_id: String::new(),
        operation: "push".into(),
        created: "2026-11-26T10:00:00+08:00".into(),
        resource_type: "trace".into(),
        record_count: n as u64,
        payload_digest: digest.finish(),
    };
    let xml = dir.join("records.xml");
    let mut out = BufWriter::new(std::fs::File::create(&xml).expect("xml"));
    write_streamed(&mut out, &header, records(n, parties)).expect("write xml");
    out.flush().expect("flush");
    let csv = dir.join("records.csv");
    let mut out = BufWriter::new(std::fs::File::create(&csv).expect("csv"));
    let mut source = records(n, parties);
    let mut first = true;
    loop {
        let chunk: Vec<TraceRecord> = source.by_ref().take(100_000).collect();
        if chunk.is_empty() {
            break;
        }
        let mut body = Vec::new();
        Format::Csv.encode(&mut body, &header, &chunk).expect("csv");
        // Each chunk is written with the header row; the file keeps the first one only.
        let skip = if first { 0 } else { body.iter().position(|&c| c == b'\n').map_or(0, |p| p + 1) };
        out.write_all(&body[skip..]).expect("write csv");
        first = false;
    }
    out.flush().expect("flush");
    (xml, csv)
}

fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Resident memory now (`VmRSS`) or at its peak since the last reset (`VmHWM`), MiB.
fn memory_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn job(n: &Node, format: Format, bytes: u64) -> Job {
    Job {
        meta: Meta {
            id: tracenode::ids::SubmissionId::generate(),
            tenant_id: tracenode::ids::TenantId::from_db(n.tenant_id.clone()),
            sender: n.tenant_code.clone(),
            channel: Channel::Cli,
            format: format.name().into(),
            mode: Mode::BestEffort,
            dry_run: false,
            bytes: bytes as i64,
            actor: "cli".into(),
        },
        source: Source::Format(format),
        within: RegionCode::national(),
        tenant_region: None,
        reporter: "100000".into(),
        policy: ReferencePolicy::Flag,
        sender: Some(n.tenant_code.clone()),
        limits: Limits::default(),
        earliest_act_year: tracenode::ingest::validate::EARLIEST_ACT_YEAR,
        upward: None,
    }
}

/// Ingests `file` through the pipeline; returns the time and the peak memory (MiB).
fn pipeline(n: &Node, file: &Path, format: Format, total: usize) -> (Duration, f64) {
    let bytes = std::fs::metadata(file).expect("file").len();
    let j = job(n, format, bytes);
    let input = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(file).expect("open"));
    reset_peak_memory();
    let before = memory_mib("VmRSS:");
    let started = Instant::now();
    let receipt = ingest::run(&n.db, &AuditContext::cli(), &j, Box::new(input), &|_| {}).expect("ingest");
    let elapsed = started.elapsed();
    let peak = memory_mib("VmHWM:");
    println!("  (resident before the ingestion {before:.1} MiB, peak during it {peak:.1} MiB)");
    assert_eq!(receipt.accepted as usize, total, "rejections: {:?}", receipt.rejections.first());
    assert_eq!(receipt.flagged, 0);
    (elapsed, peak)
}

/// A validator of the node's tenant under `rules`.
fn validator<'a>(n: &'a Node, submission: &'a str, within: &'a RegionCode, rules: &'a RuleSet) -> Validator<'a> {
    let conn = n.db.conn().expect("conn");
    Validator::new(conn, &n.tenant_id, submission, "100000", within, ReferencePolicy::Flag, rules).expect("validator")
}

/// The floor: the same rows, built before the clock runs, inserted bare in one transaction;
/// the clock covers the transaction from its start to its commit.
fn floor(n: &Node, parties: &[(String, String)], total: usize) -> Duration {
    let within = RegionCode::national();
    let submission = uuid::Uuid::now_v7().to_string();
    let rules = RuleSet::default();
    let mut v = validator(n, &submission, &within, &rules);
    let rows: Vec<_> = records(total, parties)
        .enumerate()
        .map(|(i, r)| v.check(i as u64, r).expect("lookups").expect("valid").row)
        .collect();
    let started = Instant::now();
    n.db.bulk_transaction_sized(tracenode::db::TRACE_CACHE_KIB, |conn: &mut DbConnection| {
        match conn {
            DbConnection::Sqlite(c) => {
                for row in &rows {
                    diesel::insert_into(trace_records::table).values(row).execute(c)?;
                }
            }
            DbConnection::Postgres(c) => {
                for chunk in rows.chunks(100_000) {
                    diesel::copy_from(trace_records::table).from_insertable(chunk).execute(c)?;
                }
            }
        }
        Ok::<(), tracenode::error::AppError>(())
    })
    .expect("floor");
    started.elapsed()
}

/// The bare decoder over the file, and the decoder with validation (no database writes):
/// what the pipeline's first core can deliver.
fn decode_only(n: &Node, file: &Path, format: Format, total: usize) -> (Duration, Duration) {
    let open = || std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(file).expect("open"));
    let started = Instant::now();
    let mut d = format.decoder(open(), Limits::default()).expect("decoder");
    let mut count = 0;
    while let Some(r) = d.next_record() {
        r.expect("record");
        count += 1;
    }
    let bare = started.elapsed();
    assert_eq!(count, total);
    let within = RegionCode::national();
    let submission = uuid::Uuid::now_v7().to_string();
    let rules = RuleSet::load(&mut n.db.conn().expect("conn"), &n.tenant_id).expect("rules");
    let mut v = validator(n, &submission, &within, &rules);
    let started = Instant::now();
    let mut d = format.decoder(open(), Limits::default()).expect("decoder");
    let mut index = 0;
    while let Some(r) = d.next_record() {
        v.check(index, r.expect("record")).expect("lookups").expect("valid");
        index += 1;
    }
    (bare, started.elapsed())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Runs one pipeline in a child process of its own (this binary again), so the peak memory
/// it reports is the ingestion's and not left over from the phases before it.
fn pipeline_in_child(server: Option<&str>, file: &Path, format: Format, total: usize) -> (Duration, f64) {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("exe"));
    cmd.arg("--bench")
        .env("TRACENODE_BENCH_CHILD", format!("{}|{}|{total}", format.name(), file.display()))
        .env("TRACENODE_BENCH_RECORDS", total.to_string());
    match server {
        Some(s) => cmd.env("TRACENODE_BENCH_CHILD_PG", s),
        None => cmd.env_remove("TRACENODE_BENCH_CHILD_PG"),
    };
    let out = cmd.output().expect("child");
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{}", text.lines().filter(|l| !l.starts_with("RESULT")).map(|l| format!("{l}\n")).collect::<String>());
    let result = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("child failed: {}", String::from_utf8_lossy(&out.stderr)));
    let mut parts = result.split_whitespace().map(|v| v.parse::<f64>().expect("number"));
    let (secs, peak) = (parts.next().expect("secs"), parts.next().expect("peak"));
    (Duration::from_secs_f64(secs), peak)
}

/// The child's work: a node, then one ingestion, reported as `RESULT seconds peak-MiB`.
fn child(spec: &str) {
    let mut parts = spec.split('|');
    let format = Format::parse(parts.next().expect("format")).expect("format");
    let file = PathBuf::from(parts.next().expect("file"));
    let total: usize = parts.next().and_then(|t| t.parse().ok()).expect("total");
    let server = std::env::var("TRACENODE_BENCH_CHILD_PG").ok();
    let parties = parties();
    let n = node(server.as_deref().map(fresh_pg), &parties);
    let (bare, validated) = decode_only(&n, &file, format, total);
    println!(
        "decoder alone {:<4} {:>9.0} records/s   decoder + validation {:>9.0} records/s",
        format.name(),
        rate(total, bare),
        rate(total, validated)
    );
    let (took, peak) = pipeline(&n, &file, format, total);
    println!("RESULT {} {peak}", took.as_secs_f64());
}

fn run(label: &str, server: Option<&str>, total: usize, files: &(PathBuf, PathBuf), parties: &[(String, String)]) {
    println!("\n== ingestion benchmark on {label}: {total} trace records ==");
    let mut results = Vec::new();
    for (format, file) in [(Format::Exchange, &files.0), (Format::Csv, &files.1)] {
        let (took, peak) = pipeline_in_child(server, file, format, total);
        results.push((format, took, peak));
    }
    let floor_node = node(server.map(fresh_pg), parties);
    let f = floor(&floor_node, parties, total);
    let floor_name = if server.is_some() { "COPY (binary)" } else { "prepared single-row INSERT" };
    println!("floor ({floor_name}, one transaction): {:>9.0} rows/s  ({:.1} s)", rate(total, f), f.as_secs_f64());
    for (format, took, peak) in results {
        println!(
            "pipeline {:<4} {:>9.0} records/s  ({:.1} s)  peak memory {:>6.1} MiB   pipeline/floor = {:.2}",
            format.name(),
            rate(total, took),
            took.as_secs_f64(),
            peak,
            rate(total, took) / rate(total, f)
        );
    }
}

fn main() {
    tracenode_federation::pki::init_crypto();
    if let Ok(spec) = std::env::var("TRACENODE_BENCH_CHILD") {
        return child(&spec);
    }
    let total: usize = std::env::var("TRACENODE_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let parties = parties();
    let work = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let files = write_files(work.path(), total, &parties);
    println!(
        "generated {total} records in {:.1} s: XML {:.0} MiB, CSV {:.0} MiB",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&files.0).map_or(0, |m| m.len()) as f64 / 1048576.0,
        std::fs::metadata(&files.1).map_or(0, |m| m.len()) as f64 / 1048576.0
    );
    run("SQLite", None, total, &files, &parties);
    match std::env::var("TRACENODE_BENCH_PG_URL") {
        Ok(server) => {
            run("PostgreSQL", Some(&server), total, &files, &parties);
            drop_bench_databases(&server);
        }
        Err(_) => println!("\n(PostgreSQL skipped: set TRACENODE_BENCH_PG_URL to measure it too)"),
    }
}
