//! What the monitoring and evaluation benchmarks share: a month of per-party activity at the
//! scale the issues name — 100,000 approved entities (20 tenants, 1,000 markets of 50
//! merchants each, spread over Zhejiang's counties), each reporting on four days in five,
//! about 2.4 million rows of `party_activity` — and the floor: the same rows read by bare SQL.

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tracenode::audit::AuditContext;
use tracenode::db::{Db, DbConnection};
use tracenode::region::RegionCode;
use tracenode::system::monitoring::indicators::Window;
use tracenode::tenants::{self, NewTenant, TenantKind};
use tracenode_adapters::codes::Stage;

pub const ENTITIES: i64 = 100_000;
pub const TENANTS: i64 = 20;
pub const SITES: i64 = 1_000;
pub const DAYS: i64 = 30;

pub fn first() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).expect("day")
}

/// Fills the store: tenants through the node's own code, then sites, entities and a month of
/// activity generated in SQL.
pub fn fill(db: &Db, pg: bool) {
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
pub fn floor(conn: &mut DbConnection, w: &Window) -> (usize, i64) {
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
