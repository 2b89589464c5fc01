//! Benchmark of the industry statistics roll-up (`industry-statistics`) at national scale: a
//! 50-indicator monthly form defined at the national node, one approved report in each of the
//! 2,975 county-level codes of the GB/T 2260 table, summarised tier by tier. Every figure is
//! printed next to a floor measured in the same run.
//!
//! **What is real.** One province (Zhejiang: 11 cities, 90 counties) runs the real code at
//! every tier, each node a store of its own (an in-process database migrated like a node's):
//! the form arrives as the mailbox delivers it (`forms::receive`), each county's unit fills and
//! submits its report and staff approve it (`reports::fill`, `reports::review`), the county's
//! summary is recomputed and collected by `kinds::collect` into batches with real digests,
//! applied at its city by `inbox::receive` (sequence, cursor, the newer revision kept, the
//! city's summary recomputed and queued with what it passes on), and so up to the national
//! node. The other 30 provinces are simulated at the national node's door: their batches
//! carry what their own roll-up would (every county's, city's and the province's summary),
//! cut under the same byte limit, applied by the same `inbox::receive`.
//!
//! **Printed.** The national node's apply of every province's summaries (wall, CPU, memory)
//! beside the floor — the same figures inserted bare into a table and summed by indicator in
//! one query; then the lag from the last county's approval to a complete national summary,
//! through county → city → province → national on one thread (target ≤ 2 s). The national
//! figures are checked against the sums of what every county filled.
//!
//! SQLite by default; with `TRACENODE_BENCH_PG_URL` the national node and the province also
//! run on PostgreSQL (a second pass; `TRACENODE_BENCH_SQLITE=0` skips SQLite).
//!
//! `cargo bench -p tracenode --bench industry`

#[path = "support/rollup.rs"]
mod rollup;
mod support;
#[path = "support/tree.rs"]
mod tree;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rollup::{cut, peak_mib, Store};
use support::drop_bench_databases;
use tracenode::audit::AuditContext;
use tracenode::federation::kinds::Kind;
use tracenode::ids::TenantId;
use tracenode::pki::own::OwnCertificate;
use tracenode::region::RegionCode;
use tracenode::system::industry::form::{FormInput, Indicator};
use tracenode::system::industry::forms::{self, Form};
use tracenode::system::industry::period::Frequency;
use tracenode::system::industry::reports::{self, Decision, ReportInput};
use tracenode::system::industry::summary;
use tracenode::system::industry::value::{Aggregation, ValueInput, ValueKind};
use tracenode::tenants::{self, NewTenant, TenantKind};
use tracenode_federation::wire::batch::Batch;
use tracenode_federation::wire::payload::{IndicatorFigure, IndustrySummary};
use tracenode_federation::wire::Payload;
use tree::{cpu, signer, tree, Province, PROVINCES};

const REAL: &str = "330000";
const NATIONAL: &str = "100000";
const FORM: &str = "BENCH-50";
const PERIOD: &str = "2026-11";
const INDICATORS: usize = 50;

/// What the county `code` fills for indicator `i`, thousandths.
fn value(county: &str, i: usize) -> i64 {
    let seed = county.parse::<i64>().unwrap_or(0);
    (seed % 997 + i as i64 * 13) * 1_500 + (i as i64 % 7)
}

fn form_input() -> FormInput {
    FormInput {
        code: FORM.into(),
        name: "基准：五十项指标月报".into(),
        edition: "2018".into(),
        frequency: Frequency::Month,
        deadline_days: 10,
        indicators: (1..=INDICATORS)
            .map(|i| Indicator {
                code: format!("I{i:02}"),
                name: format!("指标 {i}"),
                unit: "万元".into(),
                kind: ValueKind::Decimal,
                aggregation: Aggregation::Sum,
                class_code: format!("0{}", 1 + i % 9),
                required: true,
                signed: false,
            })
            .collect(),
        rules: vec!["I02 <= I50".into()],
    }
}

/// What a node of the tree does with industry statistics.
trait Industry {
    fn take_form(&self, form: &Form);
    fn report(&self);
    fn total(&self) -> Option<IndustrySummary>;
}

impl Industry for Store {
    /// The form as the mailbox delivers it.
    fn take_form(&self, form: &Form) {
        self.db.transaction_sync(|conn| forms::receive(conn, NATIONAL, form)).expect("form");
    }

    /// A unit of the county fills the form, staff approve it, the summary follows.
    fn report(&self) {
        let region = RegionCode::parse(&self.region).expect("region");
        let filler = AuditContext { actor: "filler".into(), ..AuditContext::system() };
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).expect("day");
        self.db
            .transaction_sync(|conn| {
                let new = NewTenant {
                    code: format!("unit-{}", self.region),
                    name: "报送单位".into(),
                    kind: TenantKind::Platform,
                    region: self.region.clone(),
                    contact: String::new(),
                };
                let unit = tenants::create(conn, &AuditContext::system(), &region, &new)?;
                forms::set_units(conn, &AuditContext::system(), FORM, &[unit.id.as_str().to_owned()])?;
                let values = (1..=INDICATORS)
                    .map(|i| (format!("I{i:02}"), ValueInput::Text(milli_text(value(&self.region, i)))))
                    .collect();
                let tenant = TenantId::from_db(unit.id.as_str().to_owned());
                let r =
                    reports::fill(conn, &filler, today, &tenant, FORM, PERIOD, &ReportInput { values, submit: true })?;
                let approved = reports::review(
                    conn,
                    &AuditContext::system(),
                    &r.id,
                    &Decision { approve: true, reason: String::new() },
                )?;
                let form = forms::get(conn, FORM)?;
                let p = form.period("period", &approved.period)?;
                summary::recompute(conn, &self.region, &form, &p)
            })
            .expect("report");
    }

    fn total(&self) -> Option<IndustrySummary> {
        let mut conn = self.db.conn().expect("conn");
        summary::held(&mut conn, &self.region, FORM, PERIOD).expect("held").map(|h| h.summary)
    }
}

fn milli_text(m: i64) -> String {
    format!("{}.{:03}", m / 1000, m % 1000)
}

fn figures_of(counties: &[&str]) -> Vec<IndicatorFigure> {
    (1..=INDICATORS)
        .map(|i| {
            let values: Vec<i64> = counties.iter().map(|c| value(c, i)).collect();
            IndicatorFigure {
                code: format!("I{i:02}"),
                sum_milli: values.iter().sum(),
                count: values.len() as i64,
                max_milli: values.iter().copied().max().unwrap_or(0),
            }
        })
        .collect()
}

fn item(region: &str, counties: &[&str], units: i64, children: i64) -> IndustrySummary {
    IndustrySummary {
        source_region: region.to_owned(),
        form: FORM.into(),
        period: PERIOD.into(),
        revision: 1,
        units_expected: units,
        units_reported: units,
        children_expected: children,
        children_reported: children,
        figures: figures_of(counties),
    }
}

/// What a simulated province's roll-up carries: every county's summary, each city's and its
/// own, in the order they would have arrived, cut under the byte limit.
fn simulated(province: &Province) -> Vec<Batch> {
    let mut items = Vec::new();
    let mut all = Vec::new();
    for (city, counties) in &province.1 {
        let names: Vec<&str> = counties.iter().map(String::as_str).collect();
        for c in &names {
            items.push(item(c, &[c], 1, 0));
        }
        if city != &province.0 {
            items.push(item(city, &names, 0, names.len() as i64));
        }
        all.extend(names);
    }
    let children =
        province.1.iter().map(|(city, counties)| if city == &province.0 { counties.len() } else { 1 }).sum::<usize>();
    items.push(item(&province.0, &all, 0, children as i64));
    cut(Kind::IndustryStatistics, &province.0, &items, Payload::IndustryStatistics)
}

/// The floor: every summary's figures inserted bare into a table of their shape, then summed
/// by indicator over the counties in one query.
fn floor(store: &Store, batches: &[(String, Vec<Batch>)]) -> Duration {
    let mut rows: Vec<(String, String, i64, i64, i64)> = Vec::new();
    for (_, bs) in batches {
        for b in bs {
            let Ok(Payload::IndustryStatistics(items)) = Payload::parse(Kind::IndustryStatistics, &b.body) else {
                panic!("body")
            };
            for s in items {
                for f in s.figures {
                    rows.push((s.source_region.clone(), f.code, f.sum_milli, f.count, f.max_milli));
                }
            }
        }
    }
    let mut conn = store.db.conn().expect("conn");
    diesel::sql_query(
        "CREATE TABLE bench_figures (source TEXT NOT NULL, code TEXT NOT NULL, sum_milli BIGINT NOT NULL, \
         n BIGINT NOT NULL, max_milli BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .expect("table");
    let started = Instant::now();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for chunk in rows.chunks(500) {
            let values =
                chunk.iter().map(|(s, c, a, n, m)| format!("('{s}','{c}',{a},{n},{m})")).collect::<Vec<_>>().join(",");
            diesel::sql_query(format!("INSERT INTO bench_figures VALUES {values}")).execute(conn)?;
        }
        Ok(())
    })
    .expect("insert");
    #[derive(QueryableByName)]
    struct Sum {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
    }
    let sums: Vec<Sum> = diesel::sql_query(
        "SELECT CAST(SUM(sum_milli) AS BIGINT) AS total FROM bench_figures WHERE source NOT LIKE '%00' GROUP BY code",
    )
    .load(&mut *conn)
    .expect("sum");
    assert_eq!(sums.len(), INDICATORS);
    assert!(sums.iter().all(|s| s.total > 0), "every indicator summed");
    started.elapsed()
}

fn run(pg: Option<&str>, signer: &OwnCertificate) {
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("\n== industry statistics, {backend} (national node and the real province) ==");
    let tree = tree();
    let counties: usize = tree.iter().map(|p| p.1.iter().map(|c| c.1.len()).sum::<usize>()).sum();
    println!(
        "  tree: {} provinces, {} city-level, {counties} county-level codes; form of {INDICATORS} indicators",
        tree.len(),
        tree.iter().map(|p| p.1.len()).sum::<usize>()
    );

    // The national node defines and publishes the form.
    let national = Store::on(Kind::IndustryStatistics, NATIONAL, pg);
    national.enrol(&PROVINCES.iter().map(|p| format!("{p}0000")).collect::<Vec<_>>());
    let form = national
        .db
        .transaction_sync(|conn| {
            forms::create(conn, &AuditContext::system(), NATIONAL, &form_input())?;
            forms::publish(conn, &AuditContext::system(), NATIONAL, FORM, None)
        })
        .expect("form");

    // The real province: stores for the province, its cities and counties, each with the form.
    let real = tree.iter().find(|p| p.0 == REAL).expect("Zhejiang");
    let mut province = Store::on(Kind::IndustryStatistics, REAL, pg);
    province.take_form(&form);
    province.enrol(&real.1.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
    let mut cities: Vec<(Store, Vec<Store>)> = Vec::new();
    for (city, names) in &real.1 {
        let c = Store::on(Kind::IndustryStatistics, city, None);
        c.take_form(&form);
        c.enrol(names);
        let counties: Vec<Store> = names
            .iter()
            .map(|n| {
                let s = Store::on(Kind::IndustryStatistics, n, None);
                s.take_form(&form);
                s
            })
            .collect();
        cities.push((c, counties));
    }
    let last = cities.last().and_then(|(_, c)| c.last()).map(|s| s.region.clone()).expect("a county");
    // Every real county but the last reports, and the province's roll-up runs.
    let started = Instant::now();
    for (city, counties) in cities.iter_mut() {
        for county in counties.iter_mut().filter(|c| c.region != last) {
            county.report();
            county.pass_up(city, signer);
        }
        city.pass_up(&province, signer);
    }
    province.pass_up(&national, signer);
    println!("  the real province's 89 counties reported and rolled up in {:.1} s", started.elapsed().as_secs_f64());

    // The other 30 provinces arrive at the national node.
    let simulated: Vec<(String, Vec<Batch>)> =
        tree.iter().filter(|p| p.0 != REAL).map(|p| (p.0.clone(), simulated(p))).collect();
    let n_batches: usize = simulated.iter().map(|s| s.1.len()).sum();
    let n_items: usize = simulated.iter().flat_map(|s| &s.1).map(|b| b.header.items as usize).sum();
    let (cpu0, wall) = (cpu(), Instant::now());
    for (p, batches) in &simulated {
        national.receive(p, batches);
    }
    let (apply, apply_cpu) = (wall.elapsed(), cpu() - cpu0);
    let floor_store = Store::on(Kind::IndustryStatistics, NATIONAL, pg);
    let bare = floor(&floor_store, &simulated);
    println!(
        "  national apply of 30 provinces ({n_batches} batches, {n_items} summaries × {INDICATORS} indicators): {:.3} s wall, {:.2} s CPU, peak RSS {:.0} MiB | floor (bare insert + sum): {:.3} s | ratio {:.1}",
        apply.as_secs_f64(),
        apply_cpu,
        peak_mib(),
        bare.as_secs_f64(),
        apply.as_secs_f64() / bare.as_secs_f64().max(1e-9)
    );

    // The last county reports: the lag to a complete national summary.
    let lag_started = Instant::now();
    let (city, counties) = cities.last_mut().expect("city");
    let county = counties.last_mut().expect("county");
    county.report();
    county.pass_up(city, signer);
    city.pass_up(&province, signer);
    province.pass_up(&national, signer);
    let lag = lag_started.elapsed();
    let total = national.total().expect("national summary");
    // Its floor: the same summing of every county's figures done locally.
    let all: Vec<String> = tree.iter().flat_map(|p| p.1.iter().flat_map(|c| c.1.clone())).collect();
    let names: Vec<&str> = all.iter().map(String::as_str).collect();
    let local = Instant::now();
    let expected = figures_of(&names);
    let local = local.elapsed();
    println!(
        "  lag from the last county's approval to the complete national summary: {:.3} s (target ≤ 2 s) | floor (the sums done locally): {:.4} s",
        lag.as_secs_f64(),
        local.as_secs_f64()
    );
    assert_eq!(total.children_reported, 31, "every province reported");
    let got: BTreeMap<&str, (i64, i64)> =
        total.figures.iter().map(|f| (f.code.as_str(), (f.sum_milli, f.count))).collect();
    for f in &expected {
        assert_eq!(
            got.get(f.code.as_str()),
            Some(&(f.sum_milli, f.count)),
            "national {} is the sum of every county",
            f.code
        );
    }
    println!(
        "  national figures exact: {} indicators, each the sum of {} counties' reports",
        expected.len(),
        expected[0].count
    );
}

fn main() {
    let (signer, _dir) = signer();
    if std::env::var("TRACENODE_BENCH_SQLITE").map_or(true, |v| v != "0") {
        run(None, &signer);
    }
    if let Ok(server) = std::env::var("TRACENODE_BENCH_PG_URL") {
        run(Some(&server), &signer);
        drop_bench_databases(&server);
    }
}
