//! Benchmark of monitoring evaluation at the scale the issue names.
//!
//! **A month's run.** One month's evaluation of 100,000 entities (the activity of the
//! monitoring benchmark: about 2.4 million rows of `party_activity`) by a set of four
//! indicators — `runs::run`: the monitoring figures computed, every entity scored, graded and
//! ranked, its result and inputs stored, the jurisdiction's summary recomputed — beside the
//! floor: the same aggregates queried bare (the month's activity summed per party in one
//! `GROUP BY`, and the watched entities). Target ≤ 10 s on SQLite.
//!
//! **Through the tiers.** A set defined at the national node, evaluated in each of the 2,975
//! county-level codes of the GB/T 2260 table, its results going up tier by tier. One province
//! (Zhejiang: 11 cities, 90 counties) runs the real code at every tier, each node a store of its
//! own: the set as the mailbox delivers it (`sets::receive`), each county's run of its 20
//! entities (`runs::run`), `kinds::collect` into batches with real digests, `inbox::receive` at
//! the city (its summary recomputed, what it passes on queued), and so up to the national node.
//! The other 30 provinces are simulated at the national node's door with what their own
//! roll-up would carry (every county's results and summary, every city's and the province's
//! summary). Printed: the national node's apply of those (wall, CPU, memory) beside a floor —
//! the same results inserted bare and summed in one query — and the lag from the last county's
//! run to the national node's ranking of provinces counting it (target ≤ 2 s).
//!
//! SQLite by default; with `TRACENODE_BENCH_PG_URL` a second pass on PostgreSQL
//! (`TRACENODE_BENCH_SQLITE=0` skips SQLite).
//!
//! `cargo bench -p tracenode --bench evaluation`

#[path = "support/activity.rs"]
mod activity;
#[path = "support/rollup.rs"]
mod rollup;
mod support;
#[path = "support/tree.rs"]
mod tree;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rollup::{cut, open, peak_mib, Store};
use support::drop_bench_databases;
use tracenode::audit::AuditContext;
use tracenode::evaluation::jurisdiction::{self, Key};
use tracenode::evaluation::runs;
use tracenode::evaluation::set::SetInput;
use tracenode::evaluation::sets::{self, Set};
use tracenode::federation::kinds::Kind;
use tracenode::pki::own::OwnCertificate;
use tracenode::system::monitoring::indicators::Window;
use tracenode_federation::wire::batch::Batch;
use tracenode_federation::wire::payload::{
    EvaluatedObject, EvaluationItem, EvaluationResults, EvaluationSummary, IndicatorScore,
};
use tracenode_federation::wire::Payload;
use tree::{cpu, signer, tree, Province, PROVINCES};

const REAL: &str = "330000";
const NATIONAL: &str = "100000";
const SET: &str = "EV-BENCH";
const PERIOD: &str = "2026-11";
/// Entities evaluated in each county of the tiers pass.
const PER_COUNTY: i64 = 20;

fn set_input() -> SetInput {
    serde_json::from_value(serde_json::json!({
        "code": SET, "name": "基准评价", "frequency": "month", "object_kind": "entity",
        "indicators": [
            {"code": "R", "name": "数据报送率", "formula": "reporting_rate", "weight": 40,
             "scoring": {"kind": "linear", "zero_at": 0, "full_at": 100}},
            {"code": "J", "name": "拒收率", "formula": "rejection_rate", "weight": 20,
             "scoring": {"kind": "steps", "steps": [{"bound": 0, "score": 100}, {"bound": 5, "score": 60}], "otherwise": 0}},
            {"code": "D", "name": "报送时效", "formula": "delay_hours", "weight": 20,
             "scoring": {"kind": "linear", "zero_at": 48, "full_at": 1}},
            {"code": "A", "name": "异常率", "formula": "anomaly_rate", "weight": 20,
             "scoring": {"kind": "linear", "zero_at": 20, "full_at": 0}}
        ],
        "grades": {"excellent": 85, "good": 75, "pass": 60}
    }))
    .expect("set")
}

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 2).expect("day")
}

/// A month's run of 100,000 entities beside the bare aggregates.
fn month(pg: Option<&str>) {
    let label = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    let (db, _dir) = open(pg);
    let t = Instant::now();
    activity::fill(&db, pg.is_some());
    println!("[{label}] filled in {:.1} s", t.elapsed().as_secs_f64());
    let w = Window { from: activity::first(), to: activity::first() + chrono::TimeDelta::days(activity::DAYS - 1) };
    let mut floor_s = f64::MAX;
    {
        let mut conn = db.conn().expect("conn");
        for _ in 0..3 {
            let t = Instant::now();
            activity::floor(&mut conn, &w);
            floor_s = floor_s.min(t.elapsed().as_secs_f64());
        }
    }
    db.transaction_sync(|conn| sets::save(conn, &AuditContext::system(), &set_input(), None)).expect("set");
    let mut run_s = f64::MAX;
    let mut made = None;
    for _ in 0..3 {
        let t = Instant::now();
        let r = db
            .transaction_sync(|conn| runs::run(conn, &AuditContext::system(), REAL, SET, None, PERIOD, last_day()))
            .expect("run");
        run_s = run_s.min(t.elapsed().as_secs_f64());
        made = Some(r);
    }
    let r = made.expect("run");
    assert_eq!((r.objects, r.evaluated), (activity::ENTITIES, activity::ENTITIES), "every entity scored");
    println!(
        "[{label}] one month's evaluation of {} entities (scored, ranked, stored with inputs): {run_s:.2} s \
         (target <= 10 s); floor (the same aggregates queried bare) {floor_s:.2} s; ratio {:.1}",
        r.objects,
        run_s / floor_s
    );
}

/// What a node of the tree does with evaluation.
trait Evaluating {
    fn take_set(&self, set: &Set);
    fn entities(&self);
    fn run(&self);
}

impl Evaluating for Store {
    fn take_set(&self, set: &Set) {
        self.db.transaction_sync(|conn| sets::receive(conn, NATIONAL, set)).expect("set");
    }

    /// Twenty approved entities of the county with a month of activity, generated in SQL.
    fn entities(&self) {
        let region = &self.region;
        let stages = tracenode_adapters::codes::Stage::to_bits(&[tracenode_adapters::codes::Stage::DistributionSale]);
        let sql = format!(
            "INSERT INTO tenants (id, code, name, kind, region, contact, status, created_at, updated_at)
                VALUES ('t-{region}', 'platform-{region}', '平台', 'platform', '{region}', '', 'active',
                        '2026-01-01 00:00:00', '2026-01-01 00:00:00');
             CREATE TABLE bench_n (i BIGINT PRIMARY KEY);
             INSERT INTO bench_n (i) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 29)
                SELECT i FROM n;
             INSERT INTO entities (id, tenant_id, code, name, kind, region, address, longitude, latitude,
                    contact_person, contact_phone, stages, categories, site_id, merchant_code, merchant_type,
                    varieties, filed_at, status, status_reason, version, version_actor, version_note, created_at,
                    updated_at, category_families, gln)
                SELECT 'e-{region}-' || n.i, 't-{region}', 'E{region}' || n.i, '主体 ' || n.i, 'enterprise',
                    '{region}', '', NULL, NULL, '', '', {stages}, '01', NULL, NULL, NULL, '', '2026-01-01 00:00:00',
                    'approved', '', 1, 'bench', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, NULL
                FROM bench_n n WHERE n.i < {PER_COUNTY};
             INSERT INTO party_activity (tenant_id, day, party_code, stage, records, rejected, flagged,
                    delay_seconds_sum, delay_seconds_max)
                SELECT 't-{region}', '2026-11-' || substr('0' || (d.i + 1), -2), 'E{region}' || n.i,
                    'distribution_sale', 1 + (n.i + d.i) % 3, (n.i + d.i) % 11 / 10, (n.i + d.i) % 13 / 12,
                    3600 * (1 + n.i % 6), 3600 * (1 + n.i % 6)
                FROM bench_n n CROSS JOIN bench_n d WHERE n.i < {PER_COUNTY} AND (n.i + d.i * 7) % 10 < 2 + n.i % 8;"
        );
        self.db.transaction_sync(|conn| Ok(conn.batch_execute(&sql)?)).expect("entities");
    }

    fn run(&self) {
        let region = self.region.clone();
        self.db
            .transaction_sync(|conn| runs::run(conn, &AuditContext::system(), &region, SET, None, PERIOD, last_day()))
            .expect("run");
    }
}

/// The summary a simulated node sends: `objects` entities, half good, half passing.
fn summary(region: &str, objects: i64, children: i64) -> EvaluationItem {
    let counters = [("entities", objects), ("active", objects), ("expected", 30 * objects), ("reported", 24 * objects)];
    EvaluationItem::Summary(EvaluationSummary {
        source_region: region.to_owned(),
        set: SET.into(),
        version: 1,
        period: PERIOD.into(),
        revision: 1,
        objects,
        evaluated: objects,
        grades: [0, objects / 2, objects - objects / 2, 0, 0],
        basis: counters.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        children_expected: children,
        children_reported: children,
    })
}

/// A simulated county's results: one part of its twenty entities.
fn results(region: &str) -> EvaluationItem {
    let objects = (0..PER_COUNTY)
        .map(|i| EvaluatedObject {
            id: format!("e-{region}-{i}"),
            code: format!("E{region}{i}"),
            name: format!("主体 {i}"),
            region: region.to_owned(),
            score_milli: Some(60_000 + 1_000 * i),
            grade: if i >= 15 { "good" } else { "pass" }.into(),
            rank: Some(PER_COUNTY - i),
            indicators: vec![IndicatorScore {
                code: "R".into(),
                value_milli: Some(80_000),
                points_milli: Some(80_000),
            }],
        })
        .collect();
    EvaluationItem::Results(EvaluationResults {
        source_region: region.to_owned(),
        set: SET.into(),
        version: 1,
        period: PERIOD.into(),
        run: format!("run-{region}"),
        part: 0,
        parts: 1,
        results: objects,
    })
}

/// What a simulated province's roll-up carries, in the order it would arrive, cut under the
/// byte limit.
fn simulated(province: &Province) -> Vec<Batch> {
    let mut items = Vec::new();
    let mut all = 0;
    for (city, counties) in &province.1 {
        for c in counties {
            items.push(results(c));
            items.push(summary(c, PER_COUNTY, 0));
        }
        let n = counties.len() as i64 * PER_COUNTY;
        if city != &province.0 {
            items.push(summary(city, n, counties.len() as i64));
        }
        all += n;
    }
    let children = province.1.iter().map(|(c, k)| if c == &province.0 { k.len() } else { 1 }).sum::<usize>();
    items.push(summary(&province.0, all, children as i64));
    cut(Kind::Evaluations, &province.0, &items, Payload::Evaluations)
}

/// The floor: every result of the simulated provinces inserted bare into a table of their
/// shape, then counted by grade in one query.
fn floor(store: &Store, batches: &[(String, Vec<Batch>)]) -> Duration {
    let mut rows: Vec<(String, String, i64, String, i64)> = Vec::new();
    for (_, bs) in batches {
        for b in bs {
            let Ok(Payload::Evaluations(items)) = Payload::parse(Kind::Evaluations, &b.body) else { panic!("body") };
            for item in items {
                if let EvaluationItem::Results(r) = item {
                    for o in r.results {
                        rows.push((
                            r.source_region.clone(),
                            o.id,
                            o.score_milli.unwrap_or(0),
                            o.grade,
                            o.rank.unwrap_or(0),
                        ));
                    }
                }
            }
        }
    }
    let mut conn = store.db.conn().expect("conn");
    diesel::sql_query(
        "CREATE TABLE bench_results (source TEXT NOT NULL, id TEXT NOT NULL, score BIGINT NOT NULL, \
         grade TEXT NOT NULL, rank BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .expect("table");
    let started = Instant::now();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for chunk in rows.chunks(500) {
            let values = chunk
                .iter()
                .map(|(s, i, sc, g, r)| format!("('{s}','{i}',{sc},'{g}',{r})"))
                .collect::<Vec<_>>()
                .join(",");
            diesel::sql_query(format!("INSERT INTO bench_results VALUES {values}")).execute(conn)?;
        }
        Ok(())
    })
    .expect("insert");
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let counts: Vec<Count> =
        diesel::sql_query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM bench_results GROUP BY grade")
            .load(&mut *conn)
            .expect("count");
    assert_eq!(counts.iter().map(|c| c.n).sum::<i64>(), rows.len() as i64);
    started.elapsed()
}

fn tiers(pg: Option<&str>, signer: &OwnCertificate) {
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("\n== evaluation through the tiers, {backend} (national node and the real province) ==");
    let tree = tree();
    let counties: usize = tree.iter().map(|p| p.1.iter().map(|c| c.1.len()).sum::<usize>()).sum();
    println!(
        "  tree: {} provinces, {counties} county-level codes, {PER_COUNTY} entities evaluated in each",
        tree.len()
    );

    let national = Store::on(Kind::Evaluations, NATIONAL, pg);
    national.enrol(&PROVINCES.iter().map(|p| format!("{p}0000")).collect::<Vec<_>>());
    let set = national
        .db
        .transaction_sync(|conn| sets::save(conn, &AuditContext::system(), &set_input(), None))
        .expect("set");

    let real = tree.iter().find(|p| p.0 == REAL).expect("Zhejiang");
    let mut province = Store::on(Kind::Evaluations, REAL, pg);
    province.take_set(&set);
    province.enrol(&real.1.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
    let mut cities: Vec<(Store, Vec<Store>)> = Vec::new();
    for (city, names) in &real.1 {
        let c = Store::on(Kind::Evaluations, city, None);
        c.take_set(&set);
        c.enrol(names);
        let counties: Vec<Store> = names
            .iter()
            .map(|n| {
                let s = Store::on(Kind::Evaluations, n, None);
                s.take_set(&set);
                s.entities();
                s
            })
            .collect();
        cities.push((c, counties));
    }
    let last = cities.last().and_then(|(_, c)| c.last()).map(|s| s.region.clone()).expect("a county");
    let started = Instant::now();
    for (city, counties) in cities.iter_mut() {
        for county in counties.iter_mut().filter(|c| c.region != last) {
            county.run();
            county.pass_up(city, signer);
        }
        city.pass_up(&province, signer);
    }
    province.pass_up(&national, signer);
    println!(
        "  the real province's counties but one evaluated and rolled up in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let simulated: Vec<(String, Vec<Batch>)> =
        tree.iter().filter(|p| p.0 != REAL).map(|p| (p.0.clone(), simulated(p))).collect();
    let n_batches: usize = simulated.iter().map(|s| s.1.len()).sum();
    let n_items: usize = simulated.iter().flat_map(|s| &s.1).map(|b| b.header.items as usize).sum();
    let (cpu0, wall) = (cpu(), Instant::now());
    for (p, batches) in &simulated {
        national.receive(p, batches);
    }
    let (apply, apply_cpu) = (wall.elapsed(), cpu() - cpu0);
    let floor_store = Store::on(Kind::Evaluations, NATIONAL, pg);
    let bare = floor(&floor_store, &simulated);
    println!(
        "  national apply of 30 provinces ({n_batches} batches, {n_items} items, {} results): {:.3} s wall, {:.2} s CPU, \
         peak RSS {:.0} MiB | floor (bare insert + count): {:.3} s | ratio {:.1}",
        (counties as i64 - 90) * PER_COUNTY,
        apply.as_secs_f64(),
        apply_cpu,
        peak_mib(),
        bare.as_secs_f64(),
        apply.as_secs_f64() / bare.as_secs_f64().max(1e-9)
    );

    // The last county runs: the lag to the national ranking that counts it.
    let lag_started = Instant::now();
    let (city, counties) = cities.last_mut().expect("city");
    let county = counties.last_mut().expect("county");
    county.run();
    county.pass_up(city, signer);
    city.pass_up(&province, signer);
    province.pass_up(&national, signer);
    let view = {
        let mut conn = national.db.conn().expect("conn");
        jurisdiction::view(&mut conn, NATIONAL, &set, PERIOD, NATIONAL).expect("view")
    };
    let lag = lag_started.elapsed();
    let own = view.evaluation.expect("the national evaluation");
    assert_eq!(own.objects, counties_total(&tree), "every county's entities counted");
    assert_eq!(own.children_reported, 31, "every province reported");
    assert!(view.below.iter().all(|b| b.rank.is_some()), "every province ranked");
    let held = {
        let mut conn = national.db.conn().expect("conn");
        let key = Key { set: SET.into(), version: 1, period: PERIOD.into() };
        tracenode::evaluation::held::results(&mut conn, &key, &last, 1).expect("held")
    };
    assert_eq!(held.len() as i64, PER_COUNTY, "the last county's results are held at the top");
    println!(
        "  lag from the last county's run to the national ranking of provinces counting it: {:.3} s (target ≤ 2 s); \
         national: {} objects, {} provinces ranked",
        lag.as_secs_f64(),
        own.objects,
        view.below.len()
    );
}

fn counties_total(tree: &[Province]) -> i64 {
    tree.iter().map(|p| p.1.iter().map(|c| c.1.len()).sum::<usize>()).sum::<usize>() as i64 * PER_COUNTY
}

fn main() {
    let (signer, _dir) = signer();
    if std::env::var("TRACENODE_BENCH_SQLITE").map_or(true, |v| v != "0") {
        month(None);
        tiers(None, &signer);
    }
    if let Ok(server) = std::env::var("TRACENODE_BENCH_PG_URL") {
        month(Some(&server));
        tiers(Some(&server), &signer);
        drop_bench_databases(&server);
    }
}
