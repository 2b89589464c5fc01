//! Federation benchmark, each figure printed next to a floor measured in the same run.
//!
//! - **Registration sync**: `TRACENODE_BENCH_CHANGES` (default 100,000) registry changes
//!   queued at a county go to its city over mutual TLS (collect into batches, send, apply
//!   with cursor, pass on into the city's own outbox). Target: at least 20,000 changes/s.
//!   Floor: the same batches applied at a city directly, without the network.
//! - **Statistics through four tiers**: a county with `TRACENODE_BENCH_DAYS` (default 90)
//!   days of daily aggregates (40 tenants × 10 categories × 2 stages a day) sends its
//!   statistics; each tier passes its own slice on as the child's arrives. Measured: from the
//!   trigger until the national node's figures equal the county's. Target: within 2 s.
//!   The tiers pass on at once (`federation.coalesce_ms = 0`): this measures the pipeline,
//!   not the wait a node adds to take its children's arrivals together (1 s a tier by default).
//!   Floor: the same three hops done locally (compute the slice, apply it) without the network.
//!
//! Runs on SQLite; on PostgreSQL too when `TRACENODE_BENCH_PG_URL` names a server.
//!
//! `cargo bench -p tracenode --bench federation`

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use support::{drop_bench_databases, fresh_pg};
use tracenode::bootstrap::{self, InitOptions};
use tracenode::config::{Config, Tier};
use tracenode::db::schema::{federation_outgoing, trace_daily};
use tracenode::db::Db;
use tracenode::federation::inbox::{self, Via};
use tracenode::federation::kinds::{self, statistics};
use tracenode::federation::{children, uplink, Federation};
use tracenode::pki::NodePki;
use tracenode::region::RegionCode;
use tracenode_federation::wire::batch::Batch;

struct Node {
    config: Arc<Config>,
    db: Db,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn database(pg: Option<&str>) -> Option<String> {
    pg.map(fresh_pg)
}

/// A node of `tier` for `region`, its CA signed by `parent` (or the root), listening for
/// children on `listen` and sending to `parent_port`.
fn node(
    pg: Option<&str>,
    tier: Tier,
    region: &str,
    parent: Option<&Node>,
    listen: Option<u16>,
    parent_port: Option<u16>,
) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = bootstrap::init(&InitOptions {
        tier,
        region: RegionCode::parse(region).expect("region"),
        name: format!("基准 {region}"),
        dir: dir.path().join("node"),
        database_url: database(pg),
        listen: Some("127.0.0.1:0".into()),
        admin_names: Default::default(),
        federation: Default::default(),
    })
    .expect("init");
    let listen = listen.map(|p| format!("127.0.0.1:{p}")).unwrap_or_default();
    let parent_url = parent_port.map(|p| format!("https://127.0.0.1:{p}")).unwrap_or_default();
    let text = std::fs::read_to_string(&made.config_path).expect("config");
    let extra = format!(
        "\n[federation]\nlisten = \"{listen}\"\nparent_url = \"{parent_url}\"\nbatch_items = 5000\n\
         coalesce_ms = 0\nregistrations_cron = \"\"\nstatistics_cron = \"\"\ncheckpoints_cron = \"\"\n"
    );
    std::fs::write(&made.config_path, text + &extra).expect("config");
    let config = Config::load(&made.config_path).expect("config");
    match parent {
        None => {
            NodePki::of(&config).init_root().expect("root");
        }
        Some(p) => children::enrol_on_one_machine(&p.config, &p.db, &config).expect("enrol"),
    }
    let db = bootstrap::open_db(&config).expect("db");
    Node { config: Arc::new(config), db, _dir: dir }
}

fn serve(n: &Node) {
    let running = tracenode::routes::start(n.config.clone(), n.db.clone()).expect("start");
    tokio::spawn(running.serve());
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Queues `n` entity changes in the node's registry outbox.
fn queue_changes(db: &Db, n: usize) {
    db.transaction_sync(|conn| {
        for i in 0..n {
            let data = serde_json::json!({
                "code": format!("91330106MA{:07}X", i), "name": format!("基准商户{i}号"), "kind": "enterprise",
                "region": "330106", "address": "杭州市西湖区文三路100号", "longitude": 120.13, "latitude": 30.27,
                "contact_person": "王经理", "contact_phone": "0571-87000000", "stages": ["distribution_sale"], "categories": ["0101"]
            });
            tracenode::registry::outbox::append_versioned(conn, "entity", &format!("e{i:08}"), "tenant-bench", 1, &data)?;
        }
        Ok(())
    })
    .expect("queue");
}

fn registration_sync(pg: Option<&str>, changes: usize, runtime: &tokio::runtime::Runtime) {
    let (national, province) = {
        let n = node(pg, Tier::National, "100000", None, None, None);
        let p = node(pg, Tier::Province, "330000", Some(&n), None, None);
        (n, p)
    };
    let city_port = free_port();
    let city = node(pg, Tier::City, "330100", Some(&province), Some(city_port), None);
    let county = node(pg, Tier::County, "330106", Some(&city), None, Some(city_port));
    // A second city of the same region, for the floor: the same batches, applied directly.
    let floor_city = node(pg, Tier::City, "330100", Some(&province), None, None);
    let region = RegionCode::parse("330106").expect("region");
    let fingerprint = {
        let mut conn = city.db.conn().expect("conn");
        children::list(&mut conn).expect("children")[0].fingerprint.clone()
    };
    floor_city.db.transaction_sync(|conn| children::enrol(conn, &region, &fingerprint, "file", None)).expect("enrol");
    queue_changes(&county.db, changes);

    let pipeline = runtime.block_on(async {
        serve(&city);
        let fed = Federation::load(&county.config, &county.db).expect("load").expect("federated");
        let kind = kinds::require("registrations").expect("kind");
        let started = Instant::now();
        let report = uplink::run(&county.db, &fed, kind).await.expect("run");
        let took = started.elapsed();
        assert!(report.error.is_none() && report.pending == 0, "{report:?}");
        took
    });
    let batches: Vec<Batch> = {
        let mut conn = county.db.conn().expect("conn");
        let texts: Vec<String> = federation_outgoing::table
            .filter(federation_outgoing::kind.eq("registrations"))
            .order(federation_outgoing::batch_no.asc())
            .select(federation_outgoing::batch)
            .load(&mut *conn)
            .expect("batches");
        texts.iter().map(|t| serde_json::from_str(t).expect("batch")).collect()
    };
    let sender = tracenode_federation::tiers::Identity::Node { region: "330106".into() };
    let started = Instant::now();
    for b in &batches {
        inbox::receive(&floor_city.db, &sender, inbox::Presented::default(), b, Via::File).expect("apply");
    }
    let floor = started.elapsed();
    println!(
        "  registration sync county → city over mutual TLS: {changes} changes in {} batches, {:.2} s, {:.0} changes/s \
         (target ≥ 20,000)\n  floor, the same batches applied locally: {:.2} s, {:.0} changes/s — ratio {:.2}",
        batches.len(),
        pipeline.as_secs_f64(),
        rate(changes, pipeline),
        floor.as_secs_f64(),
        rate(changes, floor),
        rate(changes, pipeline) / rate(changes, floor),
    );
    drop((national, province));
}

/// Fills the county's daily aggregates: `days` days × 40 tenants × 10 categories × 2 stages,
/// every tenant's categories its own (the county's slice of a day is 800 rows).
fn fill_daily(db: &Db, days: u32) -> usize {
    let mut rows = 0;
    db.transaction_sync(|conn| {
        for d in 0..days {
            let day = (chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("day") + chrono::Days::new(u64::from(d)))
                .to_string();
            for r in 0..40 {
                for c in 0..10 {
                    for (stage, direction) in [("distribution_sale", "out"), ("retail", "out")] {
                        diesel::insert_into(trace_daily::table)
                            .values((
                                trace_daily::tenant_id.eq(format!("t{r}")),
                                trace_daily::day.eq(&day),
                                trace_daily::region.eq("330106"),
                                trace_daily::category.eq(format!("01{r:02}{c:02}")),
                                trace_daily::stage.eq(stage),
                                trace_daily::direction.eq(direction),
                                trace_daily::records.eq(3i64),
                                trace_daily::quantity_milli.eq(3000i64),
                                trace_daily::amount_fen.eq(2400i64),
                                trace_daily::priced.eq(3i64),
                                trace_daily::price_fen_sum.eq(2400i64),
                                trace_daily::price_fen_sumsq.eq(1_920_000.0f64),
                            ))
                            .execute(conn)?;
                        rows += 1;
                    }
                }
            }
            // As an import marks what it changes, for the statistics roll-up.
            tracenode::trace::daily::mark_changed(conn, &[(day, "330106".to_owned())])?;
        }
        Ok(())
    })
    .expect("daily");
    rows
}

fn total(db: &Db) -> i64 {
    let all = db.transaction_sync(statistics::jurisdiction).expect("jurisdiction");
    all.values().flat_map(|r| r.values()).map(|f| f.records).sum()
}

/// Days the node holds a child's slice of. Each day goes up once, whole (a month of days a
/// batch), so a day present at the national node is final.
fn days_arrived(db: &Db) -> i64 {
    use tracenode::db::schema::federated_statistics as fs;
    let mut conn = db.conn().expect("conn");
    fs::table
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>("COUNT(DISTINCT day)"))
        .first(&mut *conn)
        .expect("count")
}

fn statistics_through_four_tiers(pg: Option<&str>, days: u32, runtime: &tokio::runtime::Runtime) {
    let (n_port, p_port, c_port) = (free_port(), free_port(), free_port());
    let national = node(pg, Tier::National, "100000", None, Some(n_port), None);
    let province = node(pg, Tier::Province, "330000", Some(&national), Some(p_port), Some(n_port));
    let city = node(pg, Tier::City, "330100", Some(&province), Some(c_port), Some(p_port));
    let county = node(pg, Tier::County, "330106", Some(&city), None, Some(c_port));
    let rows = fill_daily(&county.db, days);
    let expected = total(&county.db);

    let (took, floor) = runtime.block_on(async {
        for n in [&national, &province, &city] {
            serve(n);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let fed = Federation::load(&county.config, &county.db).expect("load").expect("federated");
        let kind = kinds::require("statistics").expect("kind");
        let started = Instant::now();
        let report = uplink::run(&county.db, &fed, kind).await.expect("run");
        assert!(report.error.is_none(), "{report:?}");
        // Polled cheaply (a count of the days arrived, on their index), so the poll does not
        // compete with the tiers for the machine; the figures are compared once at the end.
        loop {
            if days_arrived(&national.db) >= i64::from(days) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "the national node never caught up");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = started.elapsed();
        assert_eq!(total(&national.db), expected, "the national figures equal the county's");
        // The floor: three hops done locally — the county's batch applied at a scratch city,
        // the slice computed there and applied again, twice more.
        let scratch = node(pg, Tier::City, "330100", Some(&province), None, None);
        let region = RegionCode::parse("330106").expect("region");
        scratch.db.transaction_sync(|conn| children::enrol(conn, &region, "-", "file", None)).expect("enrol");
        // Every statistics batch the county made (a month of days each), in order.
        let batches: Vec<Batch> = {
            let mut conn = county.db.conn().expect("conn");
            let texts: Vec<String> = federation_outgoing::table
                .filter(federation_outgoing::kind.eq("statistics"))
                .order(federation_outgoing::batch_no.asc())
                .select(federation_outgoing::batch)
                .load(&mut *conn)
                .expect("batches");
            texts.iter().map(|t| serde_json::from_str(t).expect("batch")).collect()
        };
        let sender = tracenode_federation::tiers::Identity::Node { region: "330106".into() };
        let started = Instant::now();
        for _ in 0..3 {
            for batch in &batches {
                inbox::receive(&scratch.db, &sender, inbox::Presented::default(), batch, Via::File).expect("apply");
            }
            let _ = scratch.db.transaction_sync(statistics::jurisdiction).expect("slice");
            // Applied again next round as the next number.
            scratch
                .db
                .transaction_sync(|conn| {
                    diesel::sql_query("DELETE FROM federation_cursors").execute(conn)?;
                    diesel::sql_query("DELETE FROM federation_applied").execute(conn)?;
                    Ok(())
                })
                .expect("reset");
        }
        (took, started.elapsed())
    });
    println!(
        "  statistics through four tiers: {rows} daily rows ({days} days), trigger → national equal in {:.3} s (target ≤ 2 s)\n  \
         floor, the same three hops done locally: {:.3} s",
        took.as_secs_f64(),
        floor.as_secs_f64(),
    );
}

fn main() {
    tracenode_federation::pki::init_crypto();
    let changes: usize = std::env::var("TRACENODE_BENCH_CHANGES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let days: u32 = std::env::var("TRACENODE_BENCH_DAYS").ok().and_then(|v| v.parse().ok()).unwrap_or(90);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let pg = std::env::var("TRACENODE_BENCH_PG_URL").ok();
    let mut backends: Vec<(&str, Option<&str>)> = vec![("SQLite", None)];
    if let Some(server) = pg.as_deref() {
        backends.push(("PostgreSQL", Some(server)));
    }
    for (label, server) in backends {
        println!("{label}");
        registration_sync(server, changes, &runtime);
        statistics_through_four_tiers(server, days, &runtime);
    }
    match pg.as_deref() {
        Some(server) => drop_bench_databases(server),
        None => println!("\n(PostgreSQL skipped: set TRACENODE_BENCH_PG_URL to measure it too)"),
    }
}
