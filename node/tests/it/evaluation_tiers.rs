//! Monitoring evaluation across the tiers: a set defined at the national node comes down the
//! mailbox to every node, which may not change it; a county and a province evaluate their
//! entities with it; each jurisdiction's evaluation and the county's results go up tier by
//! tier; the national node ranks the provinces by the scores the test computes from the
//! records it stored, drills down to the county and finds its results unchanged. Batches a
//! parent cannot take are refused whole, as the protocol says.

use chrono::{NaiveDate, TimeDelta};
use serde_json::{json, Value};
use tracenode::config::Tier;
use tracenode_federation::tiers::{Identity, Leaf};
use tracenode_federation::wire::batch::Batch;

use crate::evaluation::last_month;
use crate::federation::{child_node, client_with, desk_in, free_port, national, post_batch, Desk};
use crate::ingest::{import, json_of};
use crate::monitoring::milli;
use crate::on_both_backends;
use crate::registry::{code, entity};
use crate::support::{expect_problem, Backend, TestApp};

/// One indicator, the reporting rate, scored linearly: the score is the rate in percent.
fn set() -> Value {
    json!({
        "code": "EV-NAT", "name": "全国主体月度评价", "frequency": "month", "object_kind": "entity",
        "indicators": [{"code": "R", "name": "数据报送率", "formula": "reporting_rate", "weight": 100,
                        "scoring": {"kind": "linear", "zero_at": 0, "full_at": 100}}],
        "grades": {"excellent": 85, "good": 75, "pass": 60}
    })
}

/// A sale by `seller` in `region` at 10:00 on `day`.
fn sale(id: &str, seller: &str, region: &str, day: NaiveDate) -> Value {
    json!({
        "id": id, "corrects": null,
        "from": {"code": seller, "name": "卖方", "region": region},
        "to": {"code": code(region, 999), "name": "买方", "region": region},
        "product": {"trace_code": format!("TC-{id}"), "scheme": "local", "name": "红富士苹果", "category": "01",
                    "specification": "5kg/箱", "batch": "B1", "production_date": null,
                    "shelf_life_days": null, "origin": "山东烟台"},
        "act": {"stage": "distribution_sale", "direction": "out", "quantity": 1.0, "unit": "箱",
                "price": 50.0, "amount": null, "time": format!("{day}T10:00:00+08:00"), "place": "本地"}
    })
}

/// Registers and approves entities of `region` filed long ago, each reporting on the first
/// `days` days of last month; returns their codes.
async fn entities(app: &TestApp, d: &Desk, region: &str, plan: &[i64]) -> Vec<String> {
    let (first, _) = last_month();
    let mut codes = Vec::new();
    let mut batch = Vec::new();
    for (k, reported) in plan.iter().enumerate() {
        let c = code(region, 900 + k as u32);
        let mut body = entity(&c, &format!("评价主体{region}-{k}"), region);
        body["filed_at"] = json!("2026-01-01T00:00:00");
        let made = json_of(d.key.post(app, "/api/v1/registry/entities", body).await, 201).await;
        if made["entity"]["status"] != "approved" {
            let path = format!("/api/v1/registry/entities/{}/review", made["entity"]["id"].as_str().expect("id"));
            json_of(d.reviewer.post(app, &path, json!({"approve": true})).await, 200).await;
        }
        for day in 0..*reported {
            batch.push(sale(&format!("{region}-{k}-{day}"), &c, region, first + TimeDelta::days(day)));
        }
        codes.push(c);
    }
    let receipt =
        json_of(import(app, &d.key, "format=json", serde_json::to_vec(&batch).expect("json")).await, 200).await;
    assert_eq!(receipt["rejected"], 0, "{receipt}");
    codes
}

/// Polls `path` at `app` until `done` holds.
async fn until(app: &TestApp, d: &Desk, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let res = d.reviewer.get(app, path).await;
        if res.status() == 200 {
            last = res.json().await.expect("json");
            if done(&last) {
                return last;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} never came: {last}");
}

/// The score of a reporting rate of `reported` over `expected`, in thousandths of a point: the
/// rate in percent, as operation monitoring keeps it (to a tenth of a percent).
fn rate(reported: i64, expected: i64) -> Option<i64> {
    milli(reported, expected).map(|m| m * 100)
}

fn score_milli(v: &Value) -> Option<i64> {
    v.as_f64().map(|s| (s * 1000.0).round() as i64)
}

async fn a_national_set_is_evaluated_at_every_tier_and_ranked_at_the_top(backend: Backend) {
    let nation = national(backend).await;
    let zhejiang = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let hangzhou = child_node(backend, &zhejiang, Tier::City, "330100", Some(free_port())).await;
    let xihu = child_node(backend, &hangzhou, Tier::County, "330106", None).await;
    let shangcheng = child_node(backend, &hangzhou, Tier::County, "330102", None).await;
    let jiangsu = child_node(backend, &nation, Tier::Province, "320000", None).await;
    let (n, x, j) =
        (desk_in(&nation, "110105").await, desk_in(&xihu, "330106").await, desk_in(&jiangsu, "320000").await);
    let s = desk_in(&shangcheng, "330102").await;

    // The national node defines the set; it comes down to the county and the other province,
    // where it cannot be changed.
    json_of(n.reviewer.post(&nation, "/api/v1/evaluation/sets", set()).await, 201).await;
    for (app, d) in [(&xihu, &x), (&shangcheng, &s), (&jiangsu, &j)] {
        let held = until(app, d, "/api/v1/evaluation/sets/EV-NAT", |s| s["version"] == 1).await;
        assert_eq!(held["origin"], "100000", "{held}");
        expect_problem(d.reviewer.post(app, "/api/v1/evaluation/sets", set()).await, 409, "conflict").await;
    }

    // 西湖区: two entities reporting on 20 and 10 days; 上城区: one on 25 days; 江苏省: one on
    // every day.
    let (first, days) = last_month();
    let county_codes = entities(&xihu, &x, "330106", &[20, 10]).await;
    entities(&shangcheng, &s, "330102", &[25]).await;
    entities(&jiangsu, &j, "320000", &[days]).await;
    let period = first.format("%Y-%m").to_string();
    for (app, d) in [(&xihu, &x), (&shangcheng, &s), (&jiangsu, &j)] {
        json_of(d.reviewer.post(app, "/api/v1/evaluation/runs", json!({"set": "EV-NAT", "period": period})).await, 201)
            .await;
    }

    // The national node ranks the provinces by their jurisdictions' reporting rates.
    let q = format!("/api/v1/evaluation/jurisdiction?set=EV-NAT&period={period}");
    let top = until(&nation, &n, &q, |v| {
        v["below"].as_array().is_some_and(|b| b.iter().all(|r| !r["evaluation"].is_null()))
            && v["evaluation"]["objects"] == 4
    })
    .await;
    let zhejiang_rate = rate(55, 3 * days).expect("rate");
    let below: Vec<(&str, Option<i64>, Option<i64>)> = top["below"]
        .as_array()
        .expect("below")
        .iter()
        .map(|r| (r["region"].as_str().expect("region"), r["rank"].as_i64(), score_milli(&r["evaluation"]["score"])))
        .collect();
    assert_eq!(
        below,
        [("320000", Some(1), Some(100_000)), ("330000", Some(2), Some(zhejiang_rate))],
        "the provinces ranked: {top}"
    );
    let grades = [days, 25, 20, 10].map(|d| rate(d, days).expect("rate"));
    let count = |lo: i64, hi: i64| grades.iter().filter(|g| (lo..hi).contains(*g)).count();
    let want = json!([count(85_000, 100_001), count(75_000, 85_000), count(60_000, 75_000), count(0, 60_000), 0]);
    assert_eq!(top["evaluation"]["grades"], want, "{top}");
    assert_eq!(score_milli(&top["evaluation"]["score"]), rate(55 + days, 4 * days), "the nation's rate: {top}");

    // Drilled down: the province ranks its city, the city its county.
    let at = |region: &str| format!("{q}&region={region}");
    let province = json_of(n.reviewer.get(&nation, &at("330000")).await, 200).await;
    assert_eq!(province["below"][0]["region"], "330100", "{province}");
    let city = json_of(n.reviewer.get(&nation, &at("330100")).await, 200).await;
    let counties: Vec<(&str, Option<i64>)> = city["below"]
        .as_array()
        .expect("below")
        .iter()
        .map(|r| (r["region"].as_str().expect("region"), r["rank"].as_i64()))
        .collect();
    assert_eq!(counties, [("330102", Some(1)), ("330106", Some(2))], "25/30 before 30/60: {city}");
    assert_eq!(
        (city["evaluation"]["children_reported"].as_i64(), city["evaluation"]["objects"].as_i64()),
        (Some(2), Some(3))
    );

    // Each county's results at the national node are the county's own, unchanged.
    let fields = |list: &Value| -> Vec<Value> {
        list.as_array()
            .expect("results")
            .iter()
            .map(|r| json!([r["object_code"], r["object_name"], r["score"], r["grade"], r["rank"], r["indicators"]]))
            .collect()
    };
    let results_of =
        |region: &str| format!("/api/v1/evaluation/jurisdiction/results?set=EV-NAT&period={period}&region={region}");
    let upper = json_of(s.reviewer.get(&shangcheng, &results_of("330102")).await, 200).await;
    let upper_held = json_of(n.reviewer.get(&nation, &results_of("330102")).await, 200).await;
    assert_eq!(fields(&upper_held), fields(&upper), "上城区's, unchanged at the top");
    let results = results_of("330106");
    let own = json_of(x.reviewer.get(&xihu, &results).await, 200).await;
    let held = json_of(n.reviewer.get(&nation, &results).await, 200).await;
    assert_eq!(fields(&held), fields(&own), "西湖区's, unchanged at the top");
    let codes: Vec<&str> = own.as_array().expect("own").iter().filter_map(|r| r["object_code"].as_str()).collect();
    assert_eq!(codes, [county_codes[0].as_str(), county_codes[1].as_str()], "ranked at the county");
    assert_eq!(score_milli(&own[0]["score"]), rate(20, days), "{own}");
    let csv = n.reviewer.get(&nation, &results.replace("/results?", "/results.csv?")).await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.expect("csv");
    assert!(text.contains(&county_codes[1]), "the export holds what the tier holds: {text}");

    // The console shows the ranking, and drills down.
    let html =
        crate::industry::page(&nation, &n.reviewer, &format!("/evaluation/tiers?set=EV-NAT&period={period}")).await;
    assert!(html.contains(r#"data-region="320000""#) && html.contains("江苏省"), "the national console");

    // Run again at the county: the new run replaces the one held above it.
    let again = json_of(
        x.reviewer.post(&xihu, "/api/v1/evaluation/runs", json!({"set": "EV-NAT", "period": period})).await,
        201,
    )
    .await;
    let run_id = again["id"].as_str().expect("id").to_owned();
    let fresh = until(&nation, &n, &at("330106"), |v| v["run"]["run_id"] == run_id.as_str()).await;
    assert_eq!(fresh["run"]["parts_received"], fresh["run"]["parts"], "{fresh}");
}
on_both_backends!(a_national_set_is_evaluated_at_every_tier_and_ranked_at_the_top);

fn batch(sender: &str, no: i64, items: Value) -> Batch {
    let n = items.as_array().map_or(0, Vec::len) as i64;
    Batch::new(
        "evaluations",
        &Identity::Node { region: sender.into() },
        no,
        n,
        items.to_string(),
        "2026-12-03T00:00:00Z".into(),
    )
}

fn summary(source: &str, version: i32, period: &str, revision: i64, reported: i64) -> Value {
    json!({"type": "summary", "source_region": source, "set": "EV-NAT", "version": version, "period": period,
        "revision": revision, "objects": 1, "evaluated": 1, "grades": [0, 0, 0, 1, 0],
        "basis": {"expected": 30, "reported": reported}, "children_expected": 0, "children_reported": 0})
}

/// Evaluation items a parent cannot take are refused whole with the protocol's reason and
/// change nothing; a stale revision changes nothing either.
async fn evaluation_batches_are_refused_as_the_protocol_says(backend: Backend) {
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", None).await;
    let as_province = client_with(&province, Leaf::NodeClient);
    let n = desk_in(&nation, "110105").await;
    json_of(n.reviewer.post(&nation, "/api/v1/evaluation/sets", set()).await, 201).await;
    let mut bad_grade = json!({"type": "results", "source_region": "330000", "set": "EV-NAT", "version": 1,
        "period": "2026-11", "run": "r1", "part": 0, "parts": 1, "results": [{"id": "e1", "code": "c1", "name": "甲",
        "region": "330106", "score_milli": 1, "grade": "superb", "rank": 1, "indicators": []}]});
    for (item, reason) in [
        (summary("330000", 9, "2026-11", 1, 30), "unknown_evaluation_set"),
        (summary("330000", 1, "2026-Q4", 1, 30), "malformed_batch"),
        (summary("320000", 1, "2026-11", 1, 30), "source_outside_child"),
        (bad_grade.clone(), "malformed_batch"),
    ] {
        // A good item first: the whole batch is refused, the good item with it.
        let b = batch("330000", 1, json!([summary("330106", 1, "2026-11", 1, 15), item]));
        let p = expect_problem(post_batch(&as_province, &nation, &b).await, 422, "batch_refused").await;
        assert_eq!(p["reason"], reason, "{p}");
    }
    let q = "/api/v1/evaluation/jurisdiction?set=EV-NAT&period=2026-11";
    let nothing = json_of(n.reviewer.get(&nation, q).await, 200).await;
    assert!(nothing["evaluation"].is_null(), "nothing applied: {nothing}");
    assert_eq!(nothing["below"][0]["evaluation"], Value::Null, "the province is shown as not reported: {nothing}");

    // Taken; then an older revision changes nothing, and the parent's own follows the newer.
    bad_grade["results"][0]["grade"] = json!("fail");
    let good = batch("330000", 1, json!([summary("330000", 1, "2026-11", 2, 27), bad_grade]));
    json_of(post_batch(&as_province, &nation, &good).await, 200).await;
    let stale = batch("330000", 2, json!([summary("330000", 1, "2026-11", 1, 3)]));
    let r = json_of(post_batch(&as_province, &nation, &stale).await, 200).await;
    assert_eq!(r["changed"], 0, "{r}");
    let held = json_of(n.reviewer.get(&nation, q).await, 200).await;
    assert_eq!(score_milli(&held["below"][0]["evaluation"]["score"]), Some(90_000), "{held}");
    assert_eq!(score_milli(&held["evaluation"]["score"]), Some(90_000), "the nation's own follows: {held}");
    // A tenant's caller does not see the tiers.
    let tenant_key = n.key.get(&nation, q).await;
    assert_eq!(tenant_key.status(), 403);
}
on_both_backends!(evaluation_batches_are_refused_as_the_protocol_says);
