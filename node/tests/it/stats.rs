//! The counting rule of the statistics (`stats`): each trade once, from the seller's report;
//! buyers' reports shown apart; each stage's trades labelled per stage; a window of days that
//! is always bounded.

use serde_json::{json, Value};
use tracenode_adapters::records::TraceRecord;

use crate::both_backends;
use crate::ingest::{csv_of, import, json_of, parties, record};
use crate::registry::world;
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
