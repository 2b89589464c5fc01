//! Benchmark of entity operation monitoring at the scale the issue names: the indicators of
//! 100,000 approved entities (20 tenants, 1,000 markets of 50 merchants each, spread over
//! Zhejiang's counties) over one month of per-party activity — about 2.4 million rows of
//! `party_activity`, each entity reporting on four days in five.
//!
//! **Printed.** The month's indicators computed by `compute::compute` (every entity, site
//! and tenant, with reporting rates against their expected days) beside the floor: the same
//! rows read by bare SQL — the month's activity summed per party and stage in one `GROUP BY`,
//! and the watched entities read once — into plain tuples. Then one round of warnings over the
//! default 7-day windows (`warnings::evaluate`), for reference. The computed totals are checked
//! against the bare sums.
//!
//! SQLite by default; with `TRACENODE_BENCH_PG_URL` a second pass on PostgreSQL
//! (`TRACENODE_BENCH_SQLITE=0` skips SQLite).
//!
//! `cargo bench -p tracenode --bench monitoring`

#[path = "support/activity.rs"]
mod activity;
mod support;

use std::time::Instant;

use activity::{fill, first, floor, DAYS, ENTITIES};
use diesel::prelude::*;
use support::{drop_bench_databases, fresh_pg};
use tracenode::config::DatabaseUrl;
use tracenode::db::Db;
use tracenode::ingest::monitor::alerts::Origin;
use tracenode::system::monitoring::compute;
use tracenode::system::monitoring::indicators::{Filter, Window};
use tracenode::system::monitoring::{thresholds, warnings};

fn pass(label: &str, db: &Db, pg: bool) {
    let t = Instant::now();
    fill(db, pg);
    println!("[{label}] filled in {:.1} s", t.elapsed().as_secs_f64());
    let w = Window { from: first(), to: first() + chrono::TimeDelta::days(DAYS - 1) };
    let mut conn = db.conn().expect("conn");
    let rows: i64 = tracenode::db::schema::party_activity::table.count().get_result(&mut *conn).expect("count");
    // Warm the cache with one pass of each, then time the best of three.
    let mut floor_s = f64::MAX;
    let mut floor_out = (0, 0);
    for _ in 0..3 {
        let t = Instant::now();
        floor_out = floor(&mut conn, &w);
        floor_s = floor_s.min(t.elapsed().as_secs_f64());
    }
    let all = thresholds::list(&mut conn).expect("thresholds");
    let intervals = thresholds::intervals(&all);
    let mut compute_s = f64::MAX;
    let mut computed = None;
    for _ in 0..3 {
        let t = Instant::now();
        let c = compute::compute(&mut conn, &Filter::default(), w, &intervals).expect("compute");
        compute_s = compute_s.min(t.elapsed().as_secs_f64());
        computed = Some(c);
    }
    let c = computed.expect("computed");
    assert_eq!(c.entities.len() as i64, ENTITIES, "every entity watched");
    assert_eq!(c.total.total.records, floor_out.1, "the computed records equal the bare sum");
    println!(
        "[{label}] {rows} activity rows, {ENTITIES} entities, {} sites, {} tenants: month's indicators {compute_s:.2} s \
         (target <= 10 s); floor (bare GROUP BY + entities, {} rows) {floor_s:.2} s; ratio {:.1}",
        c.sites.len(),
        c.tenants.len(),
        floor_out.0,
        compute_s / floor_s
    );
    drop(conn);
    let origin = Origin { name: "bench".into(), region: "330000".into() };
    let t = Instant::now();
    let round = db.transaction_sync(|conn| warnings::evaluate(conn, &origin, w.to)).expect("round");
    println!(
        "[{label}] one round of warnings over 7 days: {:.2} s, {} subjects judged, {} warnings opened",
        t.elapsed().as_secs_f64(),
        round.judged,
        round.opened
    );
}

fn main() {
    if std::env::var("TRACENODE_BENCH_SQLITE").as_deref() != Ok("0") {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::parse(&format!("sqlite://{}/node.db", dir.path().display())).expect("url");
        let db = Db::open(&url, dir.path(), 2, true).expect("open");
        pass("SQLite", &db, false);
    }
    if let Ok(server) = std::env::var("TRACENODE_BENCH_PG_URL") {
        let url = DatabaseUrl::parse(&fresh_pg(&server)).expect("url");
        let db = Db::open(&url, std::path::Path::new("."), 4, true).expect("open");
        pass("PostgreSQL", &db, true);
        drop(db);
        drop_bench_databases(&server);
    }
}
