//! Anomaly rules as data: each kind finds what it describes while records are stored, rules
//! are edited, disabled and deleted with audit rows, bad rules are refused, and a tenant's
//! rule applies to that tenant alone.

use serde_json::{json, Value};
use tracenode_adapters::records::TraceRecord;

use crate::both_backends;
use crate::ingest::{import, json_of, parties, record};
use crate::registry::{code, world, Machine};
use crate::support::{expect_problem, TestApp};

/// A record of `seller`'s: `direction` at `stage`, on `day` of November 2026 at 10:00.
fn act(id: &str, code: &str, seller: &str, buyer: &str, stage: &str, direction: &str, day: u32) -> TraceRecord {
    let mut r = record(id, code, seller, buyer, 10.0, None);
    r.act.stage = stage.into();
    r.act.direction = direction.into();
    r.act.time = format!("2026-11-{day:02}T10:00:00+08:00");
    r
}

async fn send(app: &TestApp, key: &Machine, records: &[TraceRecord]) -> Value {
    let body = serde_json::to_vec(records).expect("json");
    json_of(import(app, key, "format=json", body).await, 200).await
}

/// The open anomalies of record `id`, by rule.
async fn rules_hit(app: &TestApp, key: &Machine, id: &str) -> Vec<String> {
    let list = json_of(key.get(app, "/api/v1/quality/anomalies").await, 200).await;
    let mut rules: Vec<String> = list
        .as_array()
        .expect("list")
        .iter()
        .filter(|a| a["record_id"] == id)
        .map(|a| a["rule"].as_str().expect("rule").to_owned())
        .collect();
    rules.sort();
    rules
}

fn flagged_in_store(app: &TestApp, id: &str) -> bool {
    use diesel::prelude::*;
    use tracenode::db::schema::trace_records::dsl as t;
    let mut conn = app.db.conn().expect("conn");
    t::trace_records.filter(t::record_id.eq(id)).select(t::flagged).first(&mut *conn).expect("record")
}

async fn anomaly_rules_find_what_they_describe(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let a_id = w.a["id"].as_str().expect("id").to_owned();
    let rules = json_of(w.key_a.get(&app, "/api/v1/quality/rules").await, 200).await;
    let builtin: Vec<&str> =
        rules.as_array().expect("list").iter().map(|r| r["kind"].as_str().expect("kind")).collect();
    assert_eq!(builtin.len(), 5, "{rules}");

    // Bad rules are refused with the field named; tenants cannot edit rules.
    let range = json!({"name": "苹果单价上限", "tenant_id": a_id, "kind": "range",
        "params": {"field": "price", "max": 50, "category": "01"}});
    expect_problem(w.key_a.post(&app, "/api/v1/quality/rules", range.clone()).await, 403, "forbidden").await;
    for (bad, field) in [
        (json!({"name": "x", "kind": "magic"}), "kind"),
        (json!({"name": "", "kind": "time_order"}), "name"),
        (json!({"name": "x", "kind": "range", "params": {"field": "price"}}), "params"),
        (json!({"name": "x", "kind": "range", "params": {"field": "price", "min": 5, "max": 1}}), "params"),
        (
            json!({"name": "x", "kind": "price_outlier", "params": {"window_days": 30, "z": 3, "min_samples": 20, "extra": 1}}),
            "params",
        ),
        (
            json!({"name": "x", "kind": "repeated_trace_code", "params": {"stage": "nowhere", "direction": "out", "max_count": 1, "schemes": ["gs1"]}}),
            "params",
        ),
    ] {
        let p =
            expect_problem(w.reviewer.post(&app, "/api/v1/quality/rules", bad).await, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{p}");
    }
    let made = json_of(w.reviewer.post(&app, "/api/v1/quality/rules", range).await, 201).await;
    let range_id = made["id"].as_str().expect("id").to_owned();
    let theirs = json_of(w.key_b.get(&app, "/api/v1/quality/rules").await, 200).await;
    assert!(theirs.as_array().expect("list").iter().all(|r| r["id"] != range_id.as_str()), "B sees A's rule");

    // Price history: 25 sales on 6 November at about ten yuan.
    let history: Vec<TraceRecord> = (0..25)
        .map(|i| {
            let mut r = act(&format!("h{i}"), "TP-H", &seller, &buyer, "distribution_sale", "out", 6);
            r.act.price = Some(10.0 + f64::from(i) * 0.02);
            r
        })
        .collect();
    assert_eq!(send(&app, &w.key_a, &history).await["flagged"], 0);

    let mut pricey = act("p-high", "TP-P", &seller, &buyer, "primary_production", "out", 20);
    pricey.act.price = Some(60.0);
    let mut odd = act("p-odd", "TP-P", &seller, &buyer, "primary_production", "out", 20);
    odd.act.price = Some(14.0);
    odd.act.stage = "distribution_sale".into();
    odd.product.trace_code = "TP-O".into();
    let serial = "(01)06901234567892(21)SN0001";
    let mut item = act("c-1", serial, &seller, &buyer, "distribution_sale", "out", 21);
    item.product.scheme = "gs1".into();
    let bought = act("s-in", "TP-S", &buyer, &seller, "distribution_sale", "in", 10);
    let mut sold = act("s-out1", "TP-S", &seller, &buyer, "distribution_sale", "out", 11);
    sold.act.quantity = 6.0;
    let first = send(
        &app,
        &w.key_a,
        &[
            pricey,
            odd,
            item.clone(),
            bought,
            sold.clone(),
            act("o-proc", "TP-T", &seller, &buyer, "processing", "out", 21),
        ],
    )
    .await;
    // p-high: over the range; p-odd: 14 yuan against a mean of 10.24; s-out1 sells 6 of the
    // 10 bought: fine; c-1 is a first sale.
    assert_eq!(first["accepted"], 6, "{first}");
    assert_eq!(first["flagged"], 2, "{first}");
    assert_eq!(rules_hit(&app, &w.key_a, "p-high").await, ["range"]);
    assert_eq!(rules_hit(&app, &w.key_a, "p-odd").await, ["price_outlier"]);

    // Sales beyond stock is off by default; turn it on for the second submission.
    let stock = rules.as_array().expect("list").iter().find(|r| r["kind"] == "sales_beyond_stock").expect("stock rule");
    let stock_id = stock["id"].as_str().expect("id").to_owned();
    assert_eq!(stock["enabled"], false);
    let on = json!({"name": stock["name"], "kind": "sales_beyond_stock", "params": stock["params"], "enabled": true});
    json_of(w.reviewer.put(&app, &format!("/api/v1/quality/rules/{stock_id}"), on).await, 200).await;

    // A second submission: the same single item sold again (and never bought), more sold
    // than bought, a primary production after the processing of its batch, and a first sale
    // of a code never bought.
    let mut again = item.clone();
    again.id = "c-2".into();
    let mut more = sold.clone();
    more.id = "s-out2".into();
    let second = send(
        &app,
        &w.key_a,
        &[
            again,
            more,
            act("o-prim", "TP-T", &seller, &buyer, "primary_production", "out", 22),
            item,
            act("n-1", "TP-NEW", &seller, &buyer, "distribution_sale", "out", 22),
        ],
    )
    .await;
    assert_eq!((second["accepted"].as_u64(), second["duplicates"].as_u64()), (Some(4), Some(1)), "{second}");
    assert_eq!(second["flagged"], 4, "{second}");
    assert_eq!(rules_hit(&app, &w.key_a, "c-2").await, ["repeated_trace_code", "sales_beyond_stock"]);
    assert_eq!(rules_hit(&app, &w.key_a, "s-out2").await, ["sales_beyond_stock"]);
    assert_eq!(rules_hit(&app, &w.key_a, "o-prim").await, ["time_order"]);
    assert_eq!(rules_hit(&app, &w.key_a, "n-1").await, ["sales_beyond_stock"], "a first sale of a code never bought");
    assert!(rules_hit(&app, &w.key_a, "c-1").await.is_empty(), "the first sale stays clean");
    assert!(flagged_in_store(&app, "s-out2") && flagged_in_store(&app, "p-odd") && !flagged_in_store(&app, "s-out1"));

    // Tenant B is not held to A's price range.
    let b_seller = code("330106", 601);
    let res = w.key_b.post(&app, "/api/v1/registry/entities", crate::registry::entity(&b_seller, "乙方商户", "330106"));
    assert_eq!(res.await.status(), 201);
    let mut b_pricey = act("b-high", "TP-B", &b_seller, &buyer, "primary_production", "out", 20);
    b_pricey.act.price = Some(60.0);
    assert_eq!(send(&app, &w.key_b, &[b_pricey]).await["flagged"], 0);

    // Disabled, the range rule finds nothing; deleted, it is gone. Each change is audited.
    let off = json!({"name": "苹果单价上限", "tenant_id": a_id, "kind": "range",
        "params": {"field": "price", "max": 50, "category": "01"}, "enabled": false});
    json_of(w.reviewer.put(&app, &format!("/api/v1/quality/rules/{range_id}"), off).await, 200).await;
    let mut pricey2 = act("p-high2", "TP-P2", &seller, &buyer, "primary_production", "out", 20);
    pricey2.act.price = Some(60.0);
    assert_eq!(send(&app, &w.key_a, &[pricey2]).await["flagged"], 0);
    assert_eq!(w.reviewer.delete(&app, &format!("/api/v1/quality/rules/{range_id}")).await.status(), 204);
    expect_problem(w.reviewer.delete(&app, &format!("/api/v1/quality/rules/{range_id}")).await, 404, "not_found").await;
    assert_eq!(app.audit_count("anomaly_rule.create", "success"), 1);
    assert_eq!(app.audit_count("anomaly_rule.update", "success"), 2);
    assert_eq!(app.audit_count("anomaly_rule.delete", "success"), 1);
}
both_backends!(anomaly_rules_find_what_they_describe);
