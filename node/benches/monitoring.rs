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

mod support;

use std::time::Instant;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use support::{drop_bench_databases, fresh_pg};
use tracenode::audit::AuditContext;
use tracenode::config::DatabaseUrl;
use tracenode::db::{Db, DbConnection};
use tracenode::ingest::monitor::alerts::Origin;
use tracenode::region::RegionCode;
use tracenode::system::monitoring::compute;
use tracenode::system::monitoring::indicators::{Filter, Window};
use tracenode::system::monitoring::{thresholds, warnings};
use tracenode::tenants::{self, NewTenant, TenantKind};
use tracenode_adapters::codes::Stage;

const ENTITIES: i64 = 100_000;
const TENANTS: i64 = 20;
const SITES: i64 = 1_000;
const DAYS: i64 = 30;

fn first() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).expect("day")
}

/// Fills the store: tenants through the node's own code, then sites, entities and a month of
/// activity generated in SQL.
fn fill(db: &Db, pg: bool) {
    db.transaction_sync(|conn| {
        conn.batch_execute(
            "CREATE TABLE bench_tenants (k BIGINT PRIMARY KEY, id TEXT NOT NULL);
             CREATE TABLE bench_days (j BIGINT PRIMARY KEY, day TEXT NOT NULL);
             CREATE TABLE bench_n (i BIGINT PRIMARY KEY);",
        )?;
        for k in 0..TENANTS {
            let new = NewTenant {
                code: format!("platform-{k:02}"),
                name: format!("追溯平台 {k:02}"),
                kind: TenantKind::Platform,
                region: "330106".into(),
                contact: String::new(),
            };
            let t = tenants::create(conn, &AuditContext::system(), &RegionCode::parse("330000").expect("r"), &new)?;
            conn.batch_execute(&format!("INSERT INTO bench_tenants VALUES ({k}, '{}')", t.id.as_str()))?;
        }
        for j in 0..DAYS {
            let day = first() + chrono::TimeDelta::days(j);
            conn.batch_execute(&format!("INSERT INTO bench_days VALUES ({j}, '{day}')"))?;
        }
        Ok(())
    })
    .expect("tenants");
    let ts = if pg { "TIMESTAMP '2026-01-01 00:00:00'" } else { "'2026-01-01 00:00:00'" };
    let counties: Vec<String> = RegionCode::parse("330000")
        .expect("zhejiang")
        .children()
        .iter()
        .flat_map(|city| city.children())
        .map(|c| c.as_str().to_owned())
        .collect();
    let region_case =
        counties.iter().enumerate().map(|(k, c)| format!("WHEN {k} THEN '{c}'")).collect::<Vec<_>>().join(" ");
    let nc = counties.len();
    let stages = Stage::to_bits(&[Stage::DistributionSale]);
    let sql = format!(
        "INSERT INTO bench_n (i) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})
            SELECT i FROM n;
         INSERT INTO sites (id, tenant_id, code, name, kind, region, address, longitude, latitude, created_at, updated_at, gln)
            SELECT 'site-' || n.i, t.id, 'market-' || n.i, '农贸市场 ' || n.i, 'farmers_market',
                CASE n.i % {nc} {region_case} END, '', NULL, NULL, {ts}, {ts}, NULL
            FROM bench_n n JOIN bench_tenants t ON t.k = n.i % {TENANTS} WHERE n.i < {SITES};
         INSERT INTO entities (id, tenant_id, code, name, kind, region, address, longitude, latitude, contact_person,
                contact_phone, stages, categories, site_id, merchant_code, merchant_type, varieties, filed_at, status,
                status_reason, version, version_actor, version_note, created_at, updated_at, category_families, gln)
            SELECT 'entity-' || n.i, t.id, 'E' || n.i, '主体 ' || n.i, 'enterprise', CASE n.i % {nc} {region_case} END,
                '', NULL, NULL, '', '', {stages}, '01', CASE WHEN n.i < {merchants} THEN 'site-' || (n.i % {SITES}) END,
                NULL, NULL, '', {ts}, 'approved', '', 1, 'bench', '', {ts}, {ts}, 1, NULL
            FROM bench_n n JOIN bench_tenants t ON t.k = n.i % {TENANTS} WHERE n.i < {ENTITIES};
         INSERT INTO party_activity (tenant_id, day, party_code, stage, records, rejected, flagged,
                delay_seconds_sum, delay_seconds_max)
            SELECT t.id, d.day, 'E' || n.i, 'distribution_sale', 1 + (n.i + d.j) % 5, (n.i + d.j) % 17 / 16,
                (n.i * 3 + d.j) % 29 / 28, 3600 * (1 + (n.i + d.j) % 5), 3600 + (n.i % 7) * 600
            FROM bench_n n JOIN bench_tenants t ON t.k = n.i % {TENANTS} CROSS JOIN bench_days d
            WHERE n.i < {ENTITIES} AND (n.i * 7 + d.j * 13) % 10 < 8;",
        last = ENTITIES - 1,
        merchants = SITES * 50,
    );
    db.transaction_sync(|conn| Ok(conn.batch_execute(&sql)?)).expect("fill");
    if pg {
        db.transaction_sync(|conn| Ok(conn.batch_execute("ANALYZE")?)).expect("analyze");
    }
}

type Bare = (String, String, String, i64, i64, i64, i64, i64, i64);

/// The floor: the month's rows summed per party and stage, and the watched entities, by bare
/// SQL into tuples.
fn floor(conn: &mut DbConnection, w: &Window) -> (usize, i64) {
    use diesel::sql_types::{BigInt, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        tenant_id: String,
        #[diesel(sql_type = Text)]
        party_code: String,
        #[diesel(sql_type = Text)]
        stage: String,
        #[diesel(sql_type = BigInt)]
        days: i64,
        #[diesel(sql_type = BigInt)]
        records: i64,
        #[diesel(sql_type = BigInt)]
        rejected: i64,
        #[diesel(sql_type = BigInt)]
        flagged: i64,
        #[diesel(sql_type = BigInt)]
        delay: i64,
        #[diesel(sql_type = BigInt)]
        longest: i64,
    }
    let q = format!(
        "SELECT tenant_id, party_code, stage, CAST(SUM(CASE WHEN records > 0 THEN 1 ELSE 0 END) AS BIGINT) AS days,
                CAST(SUM(records) AS BIGINT) AS records, CAST(SUM(rejected) AS BIGINT) AS rejected,
                CAST(SUM(flagged) AS BIGINT) AS flagged, CAST(SUM(delay_seconds_sum) AS BIGINT) AS delay,
                MAX(delay_seconds_max) AS longest
         FROM party_activity WHERE day >= '{}' AND day <= '{}' GROUP BY tenant_id, party_code, stage",
        w.from, w.to
    );
    let rows: Vec<Row> = tracenode::on_backend!(conn, |c| diesel::sql_query(&q).load(c)).expect("floor");
    let bare: Vec<Bare> = rows
        .into_iter()
        .map(|r| (r.tenant_id, r.party_code, r.stage, r.days, r.records, r.rejected, r.flagged, r.delay, r.longest))
        .collect();
    use tracenode::db::schema::entities::dsl as e;
    type Watched = (String, String, String, i32, Option<String>, chrono::NaiveDateTime);
    let watched: Vec<Watched> = tracenode::on_backend!(conn, |c| e::entities
        .filter(e::status.eq("approved"))
        .select((e::id, e::tenant_id, e::code, e::stages, e::site_id, e::filed_at))
        .load(c))
    .expect("entities");
    let records = bare.iter().map(|b| b.4).sum();
    (watched.len() + bare.len(), records)
}

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
