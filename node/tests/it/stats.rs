//! The counting rule of the statistics (`stats`): each trade once, from the seller's report;
//! buyers' reports shown apart; each stage's trades labelled per stage; a window of days that
//! is always bounded.

use serde_json::{json, Value};
use tracenode_adapters::records::TraceRecord;

use crate::both_backends;
use crate::ingest::{csv_of, import, json_of, parties, record};
use crate::registry::{code, entity, world, Machine, World};
use crate::support::{expect_problem, TestApp};

fn at_stage(mut r: TraceRecord, stage: &str, direction: &str) -> TraceRecord {
    let mut v = serde_json::to_value(&r).expect("json");
    v["act"]["stage"] = json!(stage);
    v["act"]["direction"] = json!(direction);
    r = serde_json::from_value(v).expect("record");
    r
}

fn row<'a>(rows: &'a Value, field: &str, value: &str) -> &'a Value {
    rows.as_array()
        .and_then(|all| all.iter().find(|r| r[field] == value))
        .unwrap_or_else(|| panic!("{value} in {rows}"))
}

async fn each_trade_counts_once(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    // A trade both parties report: the seller's sale (out) and the buyer's purchase (in).
    let sale = at_stage(record("t-out", "TC-BOTH", &seller, &buyer, 10.0, Some(5.0)), "distribution_sale", "out");
    let purchase = at_stage(record("t-in", "TC-BOTH", &seller, &buyer, 10.0, Some(5.0)), "distribution_sale", "in");
    // A lot that passes five stages, sold on at each.
    let stages = ["primary_production", "processing", "warehousing", "transport", "consumption"];
    let mut records = vec![sale, purchase];
    for (i, stage) in stages.iter().enumerate() {
        records.push(at_stage(record(&format!("lot-{i}"), "LOT-5", &seller, &buyer, 2.0, Some(1.0)), stage, "out"));
    }
    let r = json_of(import(&app, &w.key_a, "format=csv", csv_of(&records)).await, 200).await;
    assert_eq!(r["accepted"], 7, "{r}");

    let by_region = json_of(w.reviewer.get(&app, "/api/v1/federation/indicators?digits=6").await, 200).await;
    let county = row(&by_region, "region", "330106");
    // Six trades: the one both reported, once; the lot's five, one a stage.
    assert_eq!(county["records"], 6, "{county}");
    assert_eq!(county["quantity_milli"], 20_000, "10 + 5 × 2: {county}");
    assert_eq!(county["amount_fen"], 5_000 + 5 * 200, "{county}");
    assert_eq!(county["buyer_reports"], 1, "{county}");
    // By stage, each stage's own trades.
    let by_stage = json_of(w.reviewer.get(&app, "/api/v1/federation/indicators/stages").await, 200).await;
    assert_eq!(by_stage.as_array().map(Vec::len), Some(6), "{by_stage}");
    let sale = row(&by_stage, "stage", "distribution_sale");
    assert_eq!((sale["records"].as_i64(), sale["buyer_reports"].as_i64()), (Some(1), Some(1)), "{sale}");
    for stage in stages {
        let s = row(&by_stage, "stage", stage);
        assert_eq!((s["records"].as_i64(), s["quantity_milli"].as_i64()), (Some(1), Some(2_000)), "{s}");
    }
    // The page says what is counted, per region and per stage.
    let html = w.reviewer.get(&app, "/federation").await.text().await.expect("html");
    for text in ["按卖方报告计，每笔交易一次", "购入报告", "按环节", "初级生产", "消费（使用）"]
    {
        assert!(html.contains(text), "{text} missing from the page");
    }

    // The window: at most 366 days, the days given or the last 366 with data.
    let p = expect_problem(
        w.reviewer.get(&app, "/api/v1/federation/indicators?from=2025-01-01&to=2026-12-31").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "from");
    let before = json_of(w.reviewer.get(&app, "/api/v1/federation/indicators?to=2026-11-19").await, 200).await;
    assert_eq!(before.as_array().map(Vec::len), Some(0), "the trades are of 2026-11-20: {before}");
    let that_day =
        json_of(w.reviewer.get(&app, "/api/v1/federation/indicators?from=2026-11-20&to=2026-11-20").await, 200).await;
    assert_eq!(row(&that_day, "region", "330106")["records"], 6);
    // Tenants do not read the jurisdiction's statistics.
    let res = w.key_a.get(&app, "/api/v1/federation/indicators/stages").await;
    assert_eq!(res.status(), 403);
}
both_backends!(each_trade_counts_once);

/// A key of the 数据使用方 role for `tenant`.
async fn reader_key(app: &TestApp, w: &World, tenant: &str) -> Machine {
    let role = app.role_id(&w.sec, "data_reader").await;
    let res = w.sys.post(app, "/api/v1/api-keys", json!({"tenant_id": tenant, "role_id": role, "name": "统计"})).await;
    let created = json_of(res, 201).await;
    Machine { client: app.client(), key: created["secret"].as_str().expect("secret").to_owned() }
}

/// A child's slice of a day, as a statistics batch leaves it.
fn child_slice(app: &TestApp, child: &str, day: &str, records: i64) {
    use tracenode::federation::kinds::{statistics, Child};
    use tracenode_federation::wire::payload::{Figures, SliceRow, StatisticsSlice};
    let figures = Figures {
        records,
        quantity_milli: records * 1000,
        amount_fen: records * 500,
        priced: records,
        price_fen_sum: records * 500,
    };
    let row = SliceRow {
        region: child.into(),
        category: "01".into(),
        stage: "distribution_sale".into(),
        direction: "out".into(),
        figures,
    };
    let slice = StatisticsSlice { day: day.into(), regions: Some(vec![child.into()]), rows: vec![row] };
    let receiver = app.config.node.region.as_str().to_owned();
    let from = Child { region: child, certificate: None, authority: None, receiver: &receiver };
    app.db.transaction_sync(|conn| statistics::apply(conn, &from, vec![slice])).expect("slice");
}

/// The statistics API: the jurisdiction's aggregates (own records and children's slices) by
/// any of day, region, category, stage and direction, paged, for staff and for keys of the
/// 数据使用方 role, each within its region; a tenant's reporting key reads none of it.
async fn statistics_come_from_the_api_by_key_and_session(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let mut records: Vec<TraceRecord> =
        (0..3).map(|i| record(&format!("s{i}"), &format!("TS-{i}"), &seller, &buyer, 10.0, Some(2.0))).collect();
    records.push(at_stage(record("p0", "TS-0", &seller, &buyer, 10.0, Some(2.0)), "distribution_sale", "in"));
    let r = json_of(import(&app, &w.key_a, "format=csv", csv_of(&records)).await, 200).await;
    assert_eq!(r["accepted"], 4, "{r}");
    child_slice(&app, "330102", "2026-11-20", 5);
    let day = "from=2026-11-20&to=2026-11-20";

    // Staff: every group of the day, in key order, with the total.
    let all = json_of(w.reviewer.get(&app, &format!("/api/v1/statistics/aggregates?{day}")).await, 200).await;
    assert_eq!(all["total"], 3, "{all}");
    let keys: Vec<(String, String, i64)> = all["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|g| {
            (
                g["region"].as_str().unwrap_or("").to_owned(),
                g["direction"].as_str().unwrap_or("").to_owned(),
                g["records"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [("330102".into(), "out".into(), 5), ("330106".into(), "in".into(), 1), ("330106".into(), "out".into(), 3)]
    );
    assert_eq!(all["rows"][0]["day"], "2026-11-20");
    assert_eq!(all["rows"][2]["quantity_milli"], 30_000);
    // Without categories the summary answers (here from its month of November); its figures
    // are the daily rows'.
    let month = "from=2026-11-01&to=2026-11-30&by=region,direction";
    let summed = json_of(w.reviewer.get(&app, &format!("/api/v1/statistics/aggregates?{month}")).await, 200).await;
    let from_summary: Vec<(String, String, i64)> = summed["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|g| {
            let text = |k: &str| g[k].as_str().unwrap_or("").to_owned();
            (text("region"), text("direction"), g["records"].as_i64().unwrap_or(0))
        })
        .collect();
    assert_eq!(from_summary, keys, "{summed}");
    assert_eq!(summed["rows"][2]["quantity_milli"], 30_000);
    // Period aggregates by stage; pages; own data or the children's only.
    let by_stage =
        json_of(w.reviewer.get(&app, &format!("/api/v1/statistics/aggregates?{day}&by=stage")).await, 200).await;
    assert_eq!((by_stage["total"].as_i64(), by_stage["rows"][0]["records"].as_i64()), (Some(1), Some(9)), "{by_stage}");
    assert!(by_stage["rows"][0].get("day").is_none(), "not keyed by day: {by_stage}");
    let paged = json_of(
        w.reviewer
            .get(&app, &format!("/api/v1/statistics/aggregates?{day}&by=region&direction=out&page_size=1&page=2"))
            .await,
        200,
    )
    .await;
    assert_eq!((paged["total"].as_i64(), paged["rows"][0]["region"].as_str()), (Some(2), Some("330106")), "{paged}");
    let own =
        json_of(w.reviewer.get(&app, &format!("/api/v1/statistics/aggregates?{day}&source=own&by=region")).await, 200)
            .await;
    assert_eq!(own["rows"].as_array().map(Vec::len), Some(1), "{own}");
    let children =
        json_of(w.reviewer.get(&app, &format!("/api/v1/statistics/aggregates?{day}&source=children")).await, 200).await;
    assert_eq!(children["rows"][0]["region"], "330102", "{children}");

    // A reporting key reads none of it; a reader key of the city's department reads it all,
    // one of a district its district only.
    let res = w.key_a.get(&app, "/api/v1/statistics/aggregates").await;
    assert_eq!(res.status(), 403);
    let city = reader_key(&app, &w, w.dept["id"].as_str().expect("dept")).await;
    let seen = json_of(city.get(&app, &format!("/api/v1/statistics/aggregates?{day}")).await, 200).await;
    assert_eq!(seen["total"], 3, "{seen}");
    let district = reader_key(&app, &w, w.b["id"].as_str().expect("b")).await;
    let seen = json_of(district.get(&app, &format!("/api/v1/statistics/aggregates?{day}")).await, 200).await;
    assert_eq!((seen["total"].as_i64(), seen["rows"][0]["region"].as_str()), (Some(1), Some("330102")), "{seen}");
    let p =
        expect_problem(district.get(&app, "/api/v1/statistics/aggregates?within=3301").await, 422, "validation_failed")
            .await;
    assert_eq!(p["field"], "within");
    // A reader key reports nothing.
    let res =
        district.post(&app, "/api/v1/registry/entities", entity(&code("330102", 901), "滨江商行", "330102")).await;
    assert_eq!(res.status(), 403);

    // Bad input names its field and reads nothing.
    for (query, field) in [
        ("digits=3", "digits"),
        ("by=week", "by"),
        ("page_size=5000", "page_size"),
        ("direction=sideways", "direction"),
        ("stage=farming", "stage"),
        ("source=elsewhere", "source"),
        ("from=2024-01-01&to=2026-11-20", "from"),
        ("category=01%27--", "category"),
    ] {
        let p = expect_problem(
            w.reviewer.get(&app, &format!("/api/v1/statistics/aggregates?{query}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(p["field"], field, "{query}: {p}");
    }
}
both_backends!(statistics_come_from_the_api_by_key_and_session);
