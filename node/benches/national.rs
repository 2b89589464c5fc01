//! National-scale benchmark of the statistics roll-up: the tree of the node's GB/T 2260 table,
//! 31 provinces, 342 city-level and 2,975 county-level codes, `TRACENODE_BENCH_HISTORY_DAYS` (default 365) days of history at
//! 44 cells per county a day, then one new day, then three weeks during which the national
//! node is away. Every figure is printed next to a floor measured in the same run.
//!
//! **What is real.** One province (Zhejiang) goes through the real code at every tier: its 90
//! counties and 11 cities are stores of their own (in-process databases, migrated like a node's); each
//! county's daily aggregates are collected by `kinds::collect` into batches with real digests,
//! applied at its city by `inbox::receive` (sequence, cursor, replace, summary, marks), the
//! cities' collections applied at the province, the province's at the national node. The
//! other 30 provinces are simulated at the national node's door: their batches carry the
//! slices their own collection would make (one per day, naming its counties), cut under the
//! same byte limit, with real digests, applied by the same `inbox::receive`.
//!
//! **Printed.** Rows held per tier; batch count and largest size per tier; CPU time and peak
//! memory growth of the province's run with one new day and of the national node's apply of
//! that day from all 31 provinces; the lag from the last county's day to the national figure
//! (the tiers in turn, on one thread: a real tree overlaps them); the indicators' time at
//! the national node; storage per year; the catch-up after three weeks away.
//!
//! **Targets** (issue: national scale): no batch over the limit; a province's run with one
//! new day ≤ 1 s and ≤ 200 MB; the national apply of one day ≤ 5 s; the indicators ≤ 200 ms;
//! the three weeks caught up by runs alone, the national figures exact.
//!
//! **Floors.** The national apply: the same rows inserted bare into a table of the same shape.
//! The province's run: the same rows read bare from its tables. The indicators: the same
//! figures summed from the daily tables (what the view read before the summary).
//!
//! SQLite everywhere by default; with `TRACENODE_BENCH_PG_URL`, the province and the
//! national node run on PostgreSQL too (a second pass; counties and cities stay on SQLite;
//! `TRACENODE_BENCH_SQLITE=0` skips the SQLite pass).
//!
//! `cargo bench -p tracenode --bench national`

mod support;
#[path = "support/tree.rs"]
mod tree;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::prelude::*;
use support::{drop_bench_databases, fresh_pg};
use tracenode::config::DatabaseUrl;
use tracenode::db::schema::{federated_statistics as fs, statistics_summary, trace_daily};
use tracenode::db::Db;
use tracenode::federation::children;
use tracenode::federation::inbox::{self, Presented, Via};
use tracenode::federation::kinds::{self, Collector, Kind};
use tracenode::pki::own::OwnCertificate;
use tracenode::region::RegionCode;
use tracenode::stats::{self, Window};
use tracenode_federation::tiers::Identity;
use tracenode_federation::wire::batch::Batch;
use tracenode_federation::wire::payload::{Figures, SliceRow, StatisticsSlice};
use tracenode_federation::wire::{Payload, DEFAULT_MAX_BATCH_BYTES};
use tree::{cpu, signer, tree};

/// Room left under the parent's limit for the batch's header and a seal.
const SLACK: usize = 64 * 1024;

/// The real province: Zhejiang, 11 cities and 90 counties.
const REAL: &str = "330000";

/// The day `d` days after the first of history.
fn day(d: u32) -> String {
    (NaiveDate::from_ymd_opt(2025, 6, 1).expect("day") + chrono::Days::new(u64::from(d))).to_string()
}

/// A county's 44 cells of day `d`: eleven categories × two stages × two directions.
fn cells(county: &str, d: u32) -> Vec<SliceRow> {
    let seed = county.parse::<u64>().unwrap_or(0).wrapping_mul(31).wrapping_add(u64::from(d) * 7);
    let mut rows = Vec::with_capacity(44);
    for c in 0..11u64 {
        for (s, stage) in ["distribution_sale", "retail"].into_iter().enumerate() {
            for (o, direction) in ["in", "out"].into_iter().enumerate() {
                let records = 1 + ((seed + c * 13 + s as u64 * 5 + o as u64 * 3) % 23) as i64;
                rows.push(SliceRow {
                    region: county.to_owned(),
                    category: format!("01{:02}", c + 1),
                    stage: stage.to_owned(),
                    direction: direction.to_owned(),
                    figures: Figures {
                        records,
                        quantity_milli: records * 1_500,
                        amount_fen: records * 1_275,
                        priced: records,
                        price_fen_sum: records * 850,
                    },
                });
            }
        }
    }
    rows
}

/// A store of one tier, with its sequence of statistics batches.
struct Store {
    region: String,
    db: Db,
    /// The collection cursor.
    through: i64,
    /// Batches made so far.
    made: i64,
    _dir: Option<tempfile::TempDir>,
}

impl Store {
    fn sqlite(region: &str) -> Store {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::parse(&format!("sqlite://{}/node.db", dir.path().display())).expect("url");
        let db = Db::open(&url, dir.path(), 2, true).expect("open");
        Store { region: region.to_owned(), db, through: 0, made: 0, _dir: Some(dir) }
    }

    fn postgres(region: &str, server: &str) -> Store {
        let url = DatabaseUrl::parse(&fresh_pg(server)).expect("url");
        let db = Db::open(&url, std::path::Path::new("."), 4, true).expect("open");
        Store { region: region.to_owned(), db, through: 0, made: 0, _dir: None }
    }

    fn on(region: &str, pg: Option<&str>) -> Store {
        match pg {
            Some(server) => Store::postgres(region, server),
            None => Store::sqlite(region),
        }
    }

    fn enrol(&self, children: &[String]) {
        self.db
            .transaction_sync(|conn| {
                for c in children {
                    children::enrol(conn, &RegionCode::parse(c).expect("region"), "-", "file", None)?;
                }
                Ok(())
            })
            .expect("enrol");
    }

    /// Every batch its statistics collection makes now, as the uplink would make them.
    fn collect(&mut self, signer: &OwnCertificate) -> Vec<Batch> {
        let identity = Identity::Node { region: self.region.clone() };
        let mut out = Vec::new();
        loop {
            let by = Collector {
                identity: &identity,
                region: &self.region,
                signer,
                batch_items: 5_000,
                max_body_bytes: DEFAULT_MAX_BATCH_BYTES as usize - SLACK,
                batch_no: self.made + 1,
            };
            let collected = {
                let mut conn = self.db.conn().expect("conn");
                kinds::collect(Kind::Statistics, &mut conn, self.through, &by).expect("collect")
            };
            let Some(c) = collected else { break };
            let no = self.made + 1;
            self.db.transaction_sync(|conn| kinds::settle(conn, &c.settle, no)).expect("settle");
            self.through = c.collected_through;
            if c.payload.items() > 0 {
                self.made = no;
                out.push(batch(&self.region, no, &c.payload));
            }
            if !c.more {
                break;
            }
        }
        out
    }

    /// Applies `batches` from `child` as the inbox does.
    fn receive(&self, child: &str, batches: &[Batch]) {
        let sender = Identity::Node { region: child.to_owned() };
        let presented = Presented { receiver: &self.region, ..Presented::default() };
        for b in batches {
            let receipt = inbox::receive(&self.db, &sender, presented, b, Via::File).expect("apply");
            assert_eq!(receipt.outcome.as_str(), "applied", "{child} batch {}", b.header.batch_no);
        }
    }

    fn count(&self, table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.conn().expect("conn");
        let n: N =
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(&mut *conn).expect("count");
        n.n
    }

    /// Bytes on disk (SQLite: the file and its journal) or of the database (PostgreSQL).
    fn bytes(&self) -> u64 {
        if let Some(dir) = &self._dir {
            let _ = self.db.conn().map(|mut c| diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *c));
            return ["node.db", "node.db-wal"]
                .iter()
                .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
                .map(|m| m.len())
                .sum();
        }
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.conn().expect("conn");
        let n: N =
            diesel::sql_query("SELECT pg_database_size(current_database()) AS n").get_result(&mut *conn).expect("size");
        n.n as u64
    }
}

fn batch(sender: &str, no: i64, payload: &Payload) -> Batch {
    Batch::new(
        "statistics",
        &Identity::Node { region: sender.to_owned() },
        no,
        payload.items() as i64,
        payload.to_body(),
        "2026-12-02T00:00:00Z".into(),
    )
}

fn size(b: &Batch) -> usize {
    serde_json::to_string(b).expect("json").len()
}

/// A simulated province's batches for `days`: one slice a day naming its counties, cut under
/// the limit as the province's own collection cuts them.
fn simulated(province: &str, counties: &[String], days: &[u32], first_no: i64) -> Vec<Batch> {
    let budget = DEFAULT_MAX_BATCH_BYTES as usize - SLACK;
    let mut out = Vec::new();
    let mut slices: Vec<StatisticsSlice> = Vec::new();
    let mut used = 0usize;
    let flush = |slices: &mut Vec<StatisticsSlice>, out: &mut Vec<Batch>| {
        if !slices.is_empty() {
            let no = first_no + out.len() as i64;
            out.push(batch(province, no, &Payload::Statistics(std::mem::take(slices))));
        }
    };
    for &d in days {
        let rows: Vec<SliceRow> = counties.iter().flat_map(|c| cells(c, d)).collect();
        let slice = StatisticsSlice { day: day(d), regions: Some(counties.to_vec()), rows };
        let bytes = kinds::sent_size(&serde_json::to_string(&slice).expect("json")) + 1;
        if used + bytes > budget {
            flush(&mut slices, &mut out);
            used = 0;
        }
        used += bytes;
        slices.push(slice);
    }
    flush(&mut slices, &mut out);
    out
}

/// Fills a county's own daily aggregates for `days`, marking them as an import does.
fn fill_county(store: &Store, days: &[u32]) {
    store
        .db
        .transaction_sync(|conn| {
            for &d in days {
                let today = day(d);
                for row in cells(&store.region, d) {
                    tracenode::on_backend!(&mut *conn, |c| diesel::insert_into(trace_daily::table)
                        .values((
                            trace_daily::tenant_id.eq("t"),
                            trace_daily::day.eq(&today),
                            trace_daily::region.eq(&row.region),
                            trace_daily::category.eq(&row.category),
                            trace_daily::stage.eq(&row.stage),
                            trace_daily::direction.eq(&row.direction),
                            trace_daily::records.eq(row.figures.records),
                            trace_daily::quantity_milli.eq(row.figures.quantity_milli),
                            trace_daily::amount_fen.eq(row.figures.amount_fen),
                            trace_daily::priced.eq(row.figures.priced),
                            trace_daily::price_fen_sum.eq(row.figures.price_fen_sum),
                            trace_daily::price_fen_sumsq.eq(0.0f64),
                        ))
                        .execute(c))?;
                }
                tracenode::trace::daily::mark_changed(conn, &[(today, store.region.clone())])?;
            }
            Ok(())
        })
        .expect("fill");
}

/// The process's resident memory now and its peak since the last reset, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

/// Resets the peak to the resident memory now (Linux: `clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Wall time, CPU seconds and peak memory growth (MiB) of `work`.
fn measured<T>(work: impl FnOnce() -> T) -> (T, Duration, f64, f64) {
    reset_peak();
    let (rss, _) = memory();
    let (cpu0, started) = (cpu(), Instant::now());
    let out = work();
    let took = started.elapsed();
    let (_, peak) = memory();
    (out, took, cpu() - cpu0, (peak - rss).max(0.0))
}

/// Records held at the national node, by day (summed by the database).
fn national_records(store: &Store) -> BTreeMap<String, i64> {
    #[derive(QueryableByName)]
    struct Day {
        #[diesel(sql_type = diesel::sql_types::Text)]
        day: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        records: i64,
    }
    let mut conn = store.db.conn().expect("conn");
    let rows: Vec<Day> =
        diesel::sql_query("SELECT day, CAST(SUM(records) AS BIGINT) AS records FROM federated_statistics GROUP BY day")
            .load(&mut *conn)
            .expect("rows");
    rows.into_iter().map(|d| (d.day, d.records)).collect()
}

fn expected_records(days: &[u32]) -> BTreeMap<String, i64> {
    let mut by_day = BTreeMap::new();
    for (_, cities) in tree() {
        for (_, counties) in cities {
            for c in counties {
                for &d in days {
                    *by_day.entry(day(d)).or_insert(0) += cells(&c, d).iter().map(|r| r.figures.records).sum::<i64>();
                }
            }
        }
    }
    by_day
}

/// The indicators over the raw daily tables, as the view read them before the summary.
fn raw_by_province(store: &Store, window: &Window) -> Vec<(String, i64)> {
    #[derive(QueryableByName)]
    struct G {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        records: i64,
    }
    let mut conn = store.db.conn().expect("conn");
    let sql = "SELECT substr(region, 1, 2) AS key, CAST(SUM(CASE WHEN direction = 'out' THEN records ELSE 0 END) AS BIGINT) AS records \
               FROM (SELECT day, region, direction, records FROM trace_daily WHERE day >= ? AND day <= ? \
               UNION ALL SELECT day, region, direction, records FROM federated_statistics WHERE day >= ? AND day <= ?) AS j \
               GROUP BY substr(region, 1, 2) ORDER BY 1";
    let sql = tracenode::db::placeholders_for(tracenode::db::backend_of(&conn), sql.to_owned());
    let (from, to) = (window.from.to_string(), window.to.to_string());
    let rows: Vec<G> = diesel::sql_query(sql)
        .bind::<diesel::sql_types::Text, _>(&from)
        .bind::<diesel::sql_types::Text, _>(&to)
        .bind::<diesel::sql_types::Text, _>(&from)
        .bind::<diesel::sql_types::Text, _>(&to)
        .load(&mut *conn)
        .expect("raw");
    rows.into_iter().map(|g| (g.key, g.records)).collect()
}

/// The floor of the national apply: the same rows inserted bare into a table of the same
/// shape, in one transaction — prepared single-row inserts on SQLite, `INSERT … SELECT FROM
/// unnest(…)` of 10,000 rows at a time on PostgreSQL (the apply's own way of loading rows).
fn bare_insert(store: &Store, batches: &[Batch]) -> Duration {
    let rows: Vec<(String, String, SliceRow)> = batches
        .iter()
        .flat_map(|b| match Payload::parse(Kind::Statistics, &b.body).expect("body") {
            Payload::Statistics(slices) => slices
                .into_iter()
                .flat_map(|s| s.rows.into_iter().map(move |r| (b.header.sender.clone(), s.day.clone(), r)))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    store
        .db
        .transaction_sync(|conn| {
            let create = "CREATE TABLE IF NOT EXISTS bare_statistics AS SELECT * FROM federated_statistics WHERE 1 = 0";
            tracenode::on_backend!(&mut *conn, |c| diesel::sql_query(create).execute(c))?;
            Ok(())
        })
        .expect("bare table");
    let started = Instant::now();
    store
        .db
        .transaction_sync(|conn| {
            if let Some(pg) = tracenode::db::postgres(conn) {
                for chunk in rows.chunks(10_000) {
                    bare_unnested(pg, chunk)?;
                }
                return Ok(());
            }
            let insert =
                "INSERT INTO bare_statistics (child_region, day, region, category, stage, direction, records, \
                 quantity_milli, amount_fen, priced, price_fen_sum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            for (sender, d, r) in &rows {
                tracenode::on_backend!(&mut *conn, |c| diesel::sql_query(insert)
                    .bind::<diesel::sql_types::Text, _>(sender)
                    .bind::<diesel::sql_types::Text, _>(d)
                    .bind::<diesel::sql_types::Text, _>(&r.region)
                    .bind::<diesel::sql_types::Text, _>(&r.category)
                    .bind::<diesel::sql_types::Text, _>(&r.stage)
                    .bind::<diesel::sql_types::Text, _>(&r.direction)
                    .bind::<diesel::sql_types::BigInt, _>(r.figures.records)
                    .bind::<diesel::sql_types::BigInt, _>(r.figures.quantity_milli)
                    .bind::<diesel::sql_types::BigInt, _>(r.figures.amount_fen)
                    .bind::<diesel::sql_types::BigInt, _>(r.figures.priced)
                    .bind::<diesel::sql_types::BigInt, _>(r.figures.price_fen_sum)
                    .execute(c))?;
            }
            Ok(())
        })
        .expect("bare insert");
    started.elapsed()
}

/// PostgreSQL: rows from one array per column, in one statement.
fn bare_unnested(
    pg: &mut diesel::PgConnection,
    rows: &[(String, String, SliceRow)],
) -> Result<usize, tracenode::error::AppError> {
    use diesel::sql_types::{Array, BigInt, Text};
    let text = |f: &dyn Fn(&(String, String, SliceRow)) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let number = |f: &dyn Fn(&SliceRow) -> i64| rows.iter().map(|r| f(&r.2)).collect::<Vec<i64>>();
    Ok(diesel::sql_query(
        "INSERT INTO bare_statistics (child_region, day, region, category, stage, direction, records, quantity_milli, \
         amount_fen, priced, price_fen_sum) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
         $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])",
    )
    .bind::<Array<Text>, _>(text(&|r| r.0.clone()))
    .bind::<Array<Text>, _>(text(&|r| r.1.clone()))
    .bind::<Array<Text>, _>(text(&|r| r.2.region.clone()))
    .bind::<Array<Text>, _>(text(&|r| r.2.category.clone()))
    .bind::<Array<Text>, _>(text(&|r| r.2.stage.clone()))
    .bind::<Array<Text>, _>(text(&|r| r.2.direction.clone()))
    .bind::<Array<BigInt>, _>(number(&|r| r.figures.records))
    .bind::<Array<BigInt>, _>(number(&|r| r.figures.quantity_milli))
    .bind::<Array<BigInt>, _>(number(&|r| r.figures.amount_fen))
    .bind::<Array<BigInt>, _>(number(&|r| r.figures.priced))
    .bind::<Array<BigInt>, _>(number(&|r| r.figures.price_fen_sum))
    .execute(pg)?)
}

/// The floor of the province's run: its rows of the day read bare.
fn bare_read(store: &Store, d: &str) -> Duration {
    let started = Instant::now();
    let mut conn = store.db.conn().expect("conn");
    let rows: Vec<(String, String, String, String, i64)> = fs::table
        .filter(fs::day.eq(d))
        .select((fs::region, fs::category, fs::stage, fs::direction, fs::records))
        .load(&mut *conn)
        .expect("rows");
    assert!(!rows.is_empty());
    started.elapsed()
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Tiers {
    national: Store,
    province: Store,
    cities: Vec<Store>,
    counties: Vec<(usize, Store)>,
    /// The simulated provinces: code, counties, batches made so far.
    others: Vec<(String, Vec<String>, i64)>,
}

/// Rolls `days` up the real province and the simulated ones; returns the batches each tier
/// sent, by their sizes (counties, cities, the province, the simulated provinces): a year of
/// the simulated provinces' batches is gigabytes, so none is kept once applied.
fn roll_up(t: &mut Tiers, signer: &OwnCertificate, days: &[u32]) -> [Vec<usize>; 4] {
    let sizes = |batches: &[Batch]| batches.iter().map(size).collect::<Vec<_>>();
    let mut from_counties = Vec::new();
    for (city, county) in &mut t.counties {
        let batches = county.collect(signer);
        t.cities[*city].receive(&county.region, &batches);
        from_counties.extend(sizes(&batches));
    }
    let mut from_cities = Vec::new();
    for city in &mut t.cities {
        let batches = city.collect(signer);
        t.province.receive(&city.region, &batches);
        from_cities.extend(sizes(&batches));
    }
    let from_province = t.province.collect(signer);
    t.national.receive(&t.province.region, &from_province);
    let from_province = sizes(&from_province);
    let mut from_others = Vec::new();
    for (code, counties, made) in &mut t.others {
        let batches = simulated(code, counties, days, *made + 1);
        *made += batches.len() as i64;
        t.national.receive(code, &batches);
        from_others.extend(sizes(&batches));
    }
    [from_counties, from_cities, from_province, from_others]
}

fn report_batches(label: &str, sizes: &[usize]) {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let total: usize = sizes.iter().sum();
    println!(
        "    {label}: {} batches, {:.1} MiB in all, largest {:.2} MiB (limit {:.0} MiB){}",
        sizes.len(),
        mib(total),
        mib(largest),
        mib(DEFAULT_MAX_BATCH_BYTES as usize),
        if largest > DEFAULT_MAX_BATCH_BYTES as usize { " — OVER THE LIMIT" } else { "" }
    );
    assert!(largest <= DEFAULT_MAX_BATCH_BYTES as usize, "a batch over the limit");
}

fn run(pg: Option<&str>, history: u32, signer: &OwnCertificate) {
    let backend = if pg.is_some() { "PostgreSQL (province, national)" } else { "SQLite" };
    let shape = tree();
    let cities = shape.iter().flat_map(|p| &p.1).filter(|c| c.0.ends_with("00") && !c.0.ends_with("0000")).count();
    let counties: usize = shape.iter().flat_map(|p| &p.1).map(|c| c.1.len()).sum();
    println!("\n== {backend}: 31 provinces, {cities} cities, {counties} counties, {history} days of history ==");
    let (_, p0_cities) = shape.iter().find(|(p, _)| p == REAL).expect("the real province");
    let mut t = Tiers {
        national: Store::on("100000", pg),
        province: Store::on(REAL, pg),
        cities: Vec::new(),
        counties: Vec::new(),
        others: shape
            .iter()
            .filter(|(code, _)| code != REAL)
            .map(|(code, cities)| (code.clone(), cities.iter().flat_map(|c| c.1.clone()).collect(), 0))
            .collect(),
    };
    let provinces: Vec<String> = shape.iter().map(|(p, _)| p.clone()).collect();
    t.national.enrol(&provinces);
    let city_codes: Vec<String> = p0_cities.iter().map(|(c, _)| c.clone()).collect();
    t.province.enrol(&city_codes);
    for (i, (city, counties)) in p0_cities.iter().enumerate() {
        let store = Store::sqlite(city);
        store.enrol(counties);
        t.cities.push(store);
        for c in counties {
            t.counties.push((i, Store::sqlite(c)));
        }
    }
    println!(
        "  the real province {}: {} cities, {} counties; 30 provinces simulated",
        t.province.region,
        t.cities.len(),
        t.counties.len()
    );

    // History.
    let days: Vec<u32> = (0..history).collect();
    let started = Instant::now();
    for (_, county) in &t.counties {
        fill_county(county, &days);
    }
    println!("  history filled at the counties in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let [counties, cities, province, others] = roll_up(&mut t, signer, &days);
    println!("  history rolled up to the national node in {:.1} s", started.elapsed().as_secs_f64());
    report_batches("counties → cities", &counties);
    report_batches("cities → province", &cities);
    report_batches("province → national", &province);
    report_batches("30 simulated provinces → national", &others);
    println!(
        "  rows held: a county {} (own), a city {} (children's), the province {} (children's), the national node {} \
         (children's) + {} summary rows",
        t.counties[0].1.count("trace_daily"),
        t.cities[0].count("federated_statistics"),
        t.province.count("federated_statistics"),
        t.national.count("federated_statistics"),
        t.national.count("statistics_summary"),
    );
    let per_year = |s: &Store| s.bytes() as f64 * 365.0 / f64::from(history) / (1024.0 * 1024.0 * 1024.0);
    println!(
        "  storage per year: the national node {:.2} GiB, the province {:.3} GiB, a city {:.3} GiB",
        per_year(&t.national),
        per_year(&t.province),
        per_year(&t.cities[0])
    );

    // One new day.
    let new_day = [history];
    for (_, county) in &t.counties {
        fill_county(county, &new_day);
    }
    let lag_started = Instant::now();
    let mut from_cities = Vec::new();
    for (city, county) in &mut t.counties {
        let batches = county.collect(signer);
        t.cities[*city].receive(&county.region, &batches);
    }
    for city in &mut t.cities {
        let batches = city.collect(signer);
        t.province.receive(&city.region, &batches);
        from_cities.extend(batches);
    }
    let (from_province, took, cpu_s, mem) = measured(|| t.province.collect(signer));
    let floor = bare_read(&t.province, &day(history));
    println!(
        "  the province's run with one new day: {:.3} s, {:.2} s CPU, +{:.0} MiB peak, {} batch of {:.2} MiB \
         (target ≤ 1 s, ≤ 200 MB)\n    floor, its rows of the day read bare: {:.3} s",
        took.as_secs_f64(),
        cpu_s,
        mem,
        from_province.len(),
        mib(from_province.iter().map(size).sum()),
        floor.as_secs_f64()
    );
    let mut all_provinces: Vec<(String, Vec<Batch>)> = vec![(t.province.region.clone(), from_province)];
    for (code, counties, made) in &mut t.others {
        let batches = simulated(code, counties, &new_day, *made + 1);
        *made += batches.len() as i64;
        all_provinces.push((code.clone(), batches));
    }
    let (_, took, cpu_s, mem) = measured(|| {
        for (code, batches) in &all_provinces {
            t.national.receive(code, batches);
        }
    });
    let lag = lag_started.elapsed();
    let every: Vec<Batch> = all_provinces.iter().flat_map(|(_, b)| b.clone()).collect();
    let floor = bare_insert(&t.national, &every);
    let rows: usize = every
        .iter()
        .map(|b| match Payload::parse(Kind::Statistics, &b.body).expect("body") {
            Payload::Statistics(s) => s.iter().map(|s| s.rows.len()).sum::<usize>(),
            _ => 0,
        })
        .sum();
    println!(
        "  the national apply of one day from 31 provinces ({rows} rows, {} batches): {:.3} s, {:.2} s CPU, +{:.0} MiB \
         peak (target ≤ 5 s)\n    floor, the same rows inserted bare: {:.3} s",
        every.len(),
        took.as_secs_f64(),
        cpu_s,
        mem,
        floor.as_secs_f64()
    );
    println!(
        "  lag from the last county's day to the national figure, the tiers in turn on one thread: {:.2} s",
        lag.as_secs_f64()
    );

    // The indicators at the national node.
    let window = {
        let mut conn = t.national.db.conn().expect("conn");
        Window::resolve(&mut conn, None, None).expect("window")
    };
    let mut conn = t.national.db.conn().expect("conn");
    let view = |conn: &mut tracenode::db::DbConnection| {
        (
            stats::by_region(conn, 2, "", &window).expect("by province"),
            stats::by_stage(conn, "", &window).expect("by stage"),
        )
    };
    view(&mut conn);
    let started = Instant::now();
    let (by_province, _) = view(&mut conn);
    let took = started.elapsed();
    let started = Instant::now();
    let drill = stats::by_region(&mut conn, 6, "1101", &window).expect("drill");
    let drill_took = started.elapsed();
    drop(conn);
    let started = Instant::now();
    let raw = raw_by_province(&t.national, &window);
    let floor = started.elapsed();
    let summary: Vec<(String, i64)> = by_province.iter().map(|(r, v)| (r.clone(), v.trades.records)).collect();
    assert_eq!(summary, raw, "the summary's figures equal the daily tables'");
    println!(
        "  the indicators at the national node ({} to {}): by province and by stage {:.1} ms, the counties of one city \
         {:.1} ms ({} rows) (target ≤ 200 ms)\n    floor, the same by province summed from the daily tables: {:.0} ms",
        window.from,
        window.to,
        took.as_secs_f64() * 1000.0,
        drill_took.as_secs_f64() * 1000.0,
        drill.len(),
        floor.as_secs_f64() * 1000.0
    );

    // Three weeks away: the national node is unreachable; the province keeps collecting into
    // its marks; then runs alone catch up.
    let away: Vec<u32> = (history + 1..history + 22).collect();
    for (_, county) in &t.counties {
        fill_county(county, &away);
    }
    for (city, county) in &mut t.counties {
        let batches = county.collect(signer);
        t.cities[*city].receive(&county.region, &batches);
    }
    for city in &mut t.cities {
        let batches = city.collect(signer);
        t.province.receive(&city.region, &batches);
    }
    let started = Instant::now();
    let caught = t.province.collect(signer);
    t.national.receive(&t.province.region, &caught);
    let mut others = Vec::new();
    for (code, counties, made) in &mut t.others {
        let batches = simulated(code, counties, &away, *made + 1);
        *made += batches.len() as i64;
        t.national.receive(code, &batches);
        others.extend(batches.iter().map(size));
    }
    let took = started.elapsed();
    let all_days: Vec<u32> = (0..history + 22).collect();
    assert_eq!(national_records(&t.national), expected_records(&all_days), "the national figures are exact");
    println!(
        "  three weeks away, then one run of the province and of each simulated province: {:.1} s, exact at the \
         national node",
        took.as_secs_f64()
    );
    report_batches("the province's catch-up", &caught.iter().map(size).collect::<Vec<_>>());
    report_batches("the simulated provinces' catch-up", &others);
    let summary_rows: i64 = {
        let mut conn = t.national.db.conn().expect("conn");
        statistics_summary::table.count().get_result(&mut *conn).expect("count")
    };
    println!("  summary rows at the national node: {summary_rows}");
}

fn main() {
    let history: u32 = std::env::var("TRACENODE_BENCH_HISTORY_DAYS").ok().and_then(|v| v.parse().ok()).unwrap_or(365);
    let (signer, _dir) = signer();
    // `TRACENODE_BENCH_SQLITE=0`: PostgreSQL alone.
    if std::env::var("TRACENODE_BENCH_SQLITE").map_or(true, |v| v != "0") {
        run(None, history, &signer);
    }
    if let Ok(server) = std::env::var("TRACENODE_BENCH_PG_URL") {
        run(Some(&server), history, &signer);
        drop_bench_databases(&server);
    }
}
