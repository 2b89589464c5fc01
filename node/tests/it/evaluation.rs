//! Monitoring evaluation: an indicator set is checked whole and versioned; a run of a month
//! that has ended scores every entity from its monitoring figures, and the scores, grades and
//! ranks equal those the test computes from the records it sent; a period run again keeps the
//! earlier run; each caller sees only its reach.

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde_json::{json, Value};

use crate::both_backends;
use crate::ingest::{import, json_of};
use crate::monitoring::{days, milli, registered, sale};
use crate::registry::{code, world};
use crate::support::{expect_problem, TestApp};

/// The month before the current one (China Standard Time): its first day and its length.
pub(crate) fn last_month() -> (NaiveDate, i64) {
    let (today, _) = days();
    let first_this = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("day");
    let last = first_this - TimeDelta::days(1);
    let first = NaiveDate::from_ymd_opt(last.year(), last.month(), 1).expect("day");
    (first, (last - first).num_days() + 1)
}

fn set(weights: (u32, u32)) -> Value {
    json!({
        "code": "EV-ENT", "name": "主体月度评价", "frequency": "month", "object_kind": "entity",
        "indicators": [
            {"code": "I1", "name": "数据报送率", "formula": "reporting_rate", "weight": weights.0,
             "scoring": {"kind": "linear", "zero_at": 0, "full_at": 100}},
            {"code": "I2", "name": "拒收率", "formula": "rejection_rate", "weight": weights.1,
             "scoring": {"kind": "steps", "steps": [{"bound": 0, "score": 100}, {"bound": 5, "score": 60}], "otherwise": 0}}
        ],
        "grades": {"excellent": 85, "good": 75, "pass": 60}
    })
}

/// What the test expects of one entity: reported days, rejected and stored records.
fn expected_score(reported: i64, days: i64, rejected: i64, stored: i64, weights: (u32, u32)) -> i64 {
    let rate = milli(reported, days).expect("rate") as f64 / 10.0;
    let mut weighted = f64::from(weights.0) * rate;
    let mut total = weights.0;
    if let Some(r) = milli(rejected, stored + rejected) {
        let pct = r as f64 / 10.0;
        let points = if pct <= 0.0 {
            100.0
        } else if pct <= 5.0 {
            60.0
        } else {
            0.0
        };
        weighted += f64::from(weights.1) * points;
        total += weights.1;
    }
    (weighted / f64::from(total) * 1000.0).round() as i64
}

fn grade(score_milli: i64) -> &'static str {
    match score_milli {
        s if s >= 85_000 => "excellent",
        s if s >= 75_000 => "good",
        s if s >= 60_000 => "pass",
        _ => "fail",
    }
}

async fn grades_and_ranks_are_what_the_test_computes(app: TestApp) {
    let w = world(&app).await;
    let (first, n) = last_month();
    let long_ago = NaiveDate::from_ymd_opt(2026, 1, 1).expect("day");
    let e: [String; 4] = std::array::from_fn(|k| code("330106", 800 + k as u32));
    for (k, c) in e.iter().enumerate() {
        registered(&app, &w, c, &format!("评价主体{}", k + 1), long_ago, None).await;
    }
    // E1 on 20 days with one rejection, E2 on 10 days, E3 never, E4 on 20 days.
    let plan: [(i64, i64); 4] = [(20, 1), (10, 0), (0, 0), (20, 0)];
    let mut batch = Vec::new();
    for (k, (reported, rejected)) in plan.iter().enumerate() {
        for d in 0..*reported {
            batch.push(sale(&format!("e{k}-{d}"), &e[k], &e[(k + 1) % 4], first + TimeDelta::days(d), 1.0));
        }
        for d in 0..*rejected {
            batch.push(sale(&format!("e{k}-bad{d}"), &e[k], &e[(k + 1) % 4], first + TimeDelta::days(d), -1.0));
        }
    }
    let receipt =
        json_of(import(&app, &w.key_a, "format=json", serde_json::to_vec(&batch).expect("json")).await, 200).await;
    assert_eq!((receipt["accepted"].as_i64(), receipt["rejected"].as_i64()), (Some(50), Some(1)), "{receipt}");

    // The guide's set, as written (docs/examples/evaluation-set.json), is this test's set.
    let guide: Value = serde_json::from_str(&crate::industry::example("evaluation-set.json")).expect("example");
    assert_eq!(guide["indicators"], set((60, 40))["indicators"]);
    let made = json_of(w.reviewer.post(&app, "/api/v1/evaluation/sets", guide).await, 201).await;
    assert_eq!(made["version"], 1);
    let period = first.format("%Y-%m").to_string();
    let run = json_of(
        w.reviewer.post(&app, "/api/v1/evaluation/runs", json!({"set": "EV-ENT", "period": period})).await,
        201,
    )
    .await;
    assert_eq!((run["objects"].as_i64(), run["evaluated"].as_i64()), (Some(4), Some(4)), "{run}");
    let path = format!("/api/v1/evaluation/runs/{}/results", run["id"].as_str().expect("id"));
    let got = json_of(w.reviewer.get(&app, &path).await, 200).await;
    let results = got["results"].as_array().expect("results");
    let want: Vec<(String, i64)> = plan
        .iter()
        .enumerate()
        .map(|(k, (rep, rej))| (e[k].clone(), expected_score(*rep, n, *rej, *rep, (60, 40))))
        .collect();
    let mut by_score = want.clone();
    by_score.sort_by_key(|(_, s)| std::cmp::Reverse(*s));
    for r in results {
        let c = r["object_code"].as_str().expect("code");
        let (_, score) = want.iter().find(|(x, _)| x == c).expect("known");
        assert_eq!((r["score"].as_f64().expect("score") * 1000.0).round() as i64, *score, "{r}");
        assert_eq!(r["grade"], grade(*score), "{r}");
        let rank = by_score.iter().position(|(_, s)| s == score).expect("ranked") as i64 + 1;
        assert_eq!(r["rank"].as_i64(), Some(rank), "{r}");
        assert_eq!(r["inputs"]["indicators"].as_array().map(Vec::len), Some(2), "the inputs are kept: {r}");
    }
    let order: Vec<&str> = results.iter().map(|r| r["object_code"].as_str().expect("code")).collect();
    assert_eq!(order, by_score.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(), "ranked from high to low");
    let e3 = results.iter().find(|r| r["object_code"] == e[2].as_str()).expect("E3");
    assert!(e3["inputs"]["indicators"][1]["points"].is_null(), "no base, not scored 0: {e3}");

    // A new version changes the weights; the first run keeps its results, a second run of
    // the period supersedes it and scores with the new version.
    json_of(w.reviewer.post(&app, "/api/v1/evaluation/sets", set((50, 50))).await, 201).await;
    let again = json_of(
        w.reviewer.post(&app, "/api/v1/evaluation/runs", json!({"set": "EV-ENT", "period": period})).await,
        201,
    )
    .await;
    assert_eq!(again["set_version"], 2);
    let runs = json_of(w.reviewer.get(&app, "/api/v1/evaluation/runs?set=EV-ENT").await, 200).await;
    let statuses: Vec<(&str, &str)> = runs
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| (r["id"].as_str().expect("id"), r["status"].as_str().expect("status")))
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&(run["id"].as_str().expect("id"), "superseded")), "{runs}");
    let old = json_of(w.reviewer.get(&app, &path).await, 200).await;
    assert_eq!(old["results"], got["results"], "the earlier run is history, unchanged");
    let new_path = format!("/api/v1/evaluation/runs/{}/results", again["id"].as_str().expect("id"));
    let new = json_of(w.reviewer.get(&app, &new_path).await, 200).await;
    let e1 =
        new["results"].as_array().expect("results").iter().find(|r| r["object_code"] == e[0].as_str()).expect("E1");
    assert_eq!((e1["score"].as_f64().expect("score") * 1000.0).round() as i64, expected_score(20, n, 1, 20, (50, 50)));
    let v1 = json_of(w.reviewer.get(&app, "/api/v1/evaluation/sets/EV-ENT?version=1").await, 200).await;
    assert_eq!(v1["definition"]["indicators"][0]["weight"], 60, "version 1 is never rewritten");

    // A tenant's key sees its own entities' results; another tenant's, none.
    let mine = json_of(w.key_a.get(&app, &new_path).await, 200).await;
    assert_eq!(mine["results"].as_array().map(Vec::len), Some(4));
    let theirs = json_of(w.key_b.get(&app, &new_path).await, 200).await;
    assert_eq!(theirs["results"].as_array().map(Vec::len), Some(0));
    let only_pass = json_of(w.reviewer.get(&app, &format!("{new_path}?grade=fail")).await, 200).await;
    assert!(only_pass["results"].as_array().expect("results").iter().all(|r| r["grade"] == "fail"));

    // E1's trend: one period, scored with the current run's version.
    let e1_id = e1["object_id"].as_str().expect("id");
    let trend =
        json_of(w.reviewer.get(&app, &format!("/api/v1/evaluation/objects/{e1_id}/trend?set=EV-ENT")).await, 200).await;
    let points = trend.as_array().expect("points");
    assert_eq!(points.len(), 1, "{trend}");
    assert_eq!((points[0]["period"].as_str(), points[0]["set_version"].as_i64()), (Some(period.as_str()), Some(2)));
    assert_eq!(points[0]["score"], e1["score"]);

    // The console lists the set and shows the run ranked.
    let html = crate::industry::page(&app, &w.reviewer, "/evaluation").await;
    assert!(html.contains("主体月度评价") && html.contains("EV-ENT"), "the set");
    let html =
        crate::industry::page(&app, &w.reviewer, &format!("/evaluation/runs/{}", again["id"].as_str().expect("id")))
            .await;
    assert!(html.contains("评价主体1") && html.contains("不达标"), "the ranked results");
    assert!(html.contains("grade-chart") && html.contains("330106 西湖区"), "grades by region");
    let html = crate::industry::page(&app, &w.reviewer, &format!("/evaluation/objects/{e1_id}?set=EV-ENT")).await;
    assert!(html.contains("score-chart") && html.contains(&period), "the object's trend");

    // Someone with database access raises E3's score: the run no longer matches its audit
    // row, and saying so is an audit row of failure.
    let verify = format!("/api/v1/evaluation/runs/{}/verify", again["id"].as_str().expect("id"));
    let fine = json_of(w.reviewer.get(&app, &verify).await, 200).await;
    assert_eq!(fine["intact"], true, "{fine}");
    let e3_id =
        new["results"].as_array().expect("results").iter().find(|r| r["object_code"] == e[2].as_str()).expect("E3")
            ["object_id"]
            .as_str()
            .expect("id")
            .to_owned();
    app.sql(&format!(
        "UPDATE evaluation_results SET score_milli = 99000, grade = 'excellent' WHERE object_id = '{e3_id}'"
    ))
    .expect("rewrite");
    let found = json_of(w.reviewer.get(&app, &verify).await, 200).await;
    assert_eq!(found["intact"], false, "{found}");
    assert_eq!(app.audit_count("evaluation.verify", "failure"), 1);
    expect_problem(w.key_a.get(&app, &verify).await, 403, "forbidden").await;
}
both_backends!(grades_and_ranks_are_what_the_test_computes);

/// Weights that do not sum to 100, overlapping grades, an unknown formula, a period that has
/// not ended, a yearly set: each refused with its field named, nothing stored.
async fn bad_sets_and_periods_are_refused(app: TestApp) {
    let w = world(&app).await;
    let good = set((60, 40));
    let cases: Vec<(Value, &str)> = vec![
        (set((60, 30)), "indicators"),
        (
            {
                let mut s = good.clone();
                s["grades"] = json!({"excellent": 85, "good": 90, "pass": 60});
                s
            },
            "grades",
        ),
        (
            {
                let mut s = good.clone();
                s["grades"] = json!({"excellent": 120, "good": 80, "pass": 60});
                s
            },
            "grades",
        ),
        (
            {
                let mut s = good.clone();
                s["indicators"][0]["formula"] = json!("happiness");
                s
            },
            "indicators[0].formula",
        ),
        (
            {
                let mut s = good.clone();
                s["indicators"][1]["code"] = json!("I1");
                s
            },
            "indicators[1].code",
        ),
        (
            {
                let mut s = good.clone();
                s["indicators"][0]["scoring"] = json!({"kind": "linear", "zero_at": 5, "full_at": 5});
                s
            },
            "indicators[0].scoring",
        ),
        (
            {
                let mut s = good.clone();
                s["frequency"] = json!("year");
                s
            },
            "frequency",
        ),
        (
            {
                let mut s = good.clone();
                s["stage"] = json!("mining");
                s
            },
            "stage",
        ),
        (
            {
                let mut s = good.clone();
                s["indicators"][0]["formula"] = json!("merchant_activity");
                s
            },
            "indicators[0].formula",
        ),
        (
            {
                let mut s = good.clone();
                s["indicators"][1]["formula"] = json!("pull_availability");
                s
            },
            "indicators[1].formula",
        ),
    ];
    for (bad, field) in cases {
        let p =
            expect_problem(w.reviewer.post(&app, "/api/v1/evaluation/sets", bad).await, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{p}");
    }
    expect_problem(w.key_a.post(&app, "/api/v1/evaluation/sets", good.clone()).await, 403, "forbidden").await;
    let none = json_of(w.reviewer.get(&app, "/api/v1/evaluation/sets").await, 200).await;
    assert_eq!(none.as_array().map(Vec::len), Some(0), "nothing stored: {none}");
    assert_eq!(app.audit_count("evaluation.set.save", "success"), 0);

    json_of(w.reviewer.post(&app, "/api/v1/evaluation/sets", good).await, 201).await;
    let (today, _) = days();
    for (period, field) in [
        (today.format("%Y-%m").to_string(), "period"),
        ("2026-Q1".to_owned(), "period"),
        ("2026-13".to_owned(), "period"),
    ] {
        let p = expect_problem(
            w.reviewer.post(&app, "/api/v1/evaluation/runs", json!({"set": "EV-ENT", "period": period})).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(p["field"], field, "{period}: {p}");
    }
    expect_problem(
        w.reviewer.post(&app, "/api/v1/evaluation/runs", json!({"set": "NOPE", "period": "2026-01"})).await,
        404,
        "not_found",
    )
    .await;
    let runs = json_of(w.reviewer.get(&app, "/api/v1/evaluation/runs").await, 200).await;
    assert_eq!(runs.as_array().map(Vec::len), Some(0));
}
both_backends!(bad_sets_and_periods_are_refused);

/// A platform's operation and its corrections, scored: the availability of its pulls, the
/// alerts raised about it and their resolution, its credentials at the period's end, and the
/// share of its records that correct another — each equal to what the test put there, and
/// nothing from outside the period counted.
async fn platform_operations_and_corrections_are_scored(app: TestApp) {
    let w = world(&app).await;
    let a = w.a["id"].as_str().expect("id").to_owned();
    let (first, _) = last_month();
    let e = code("330106", 870);
    let buyer = code("330106", 871);
    registered(&app, &w, &e, "运维主体", NaiveDate::from_ymd_opt(2026, 1, 1).expect("day"), None).await;
    // Ten sales, then two corrections of the first two.
    let mut batch: Vec<Value> =
        (0..10).map(|d| sale(&format!("x{d}"), &e, &buyer, first + TimeDelta::days(d), 1.0)).collect();
    for d in 0..2 {
        let mut c = sale(&format!("x{d}c"), &e, &buyer, first + TimeDelta::days(d), 2.0);
        c["corrects"] = json!(format!("x{d}"));
        batch.push(c);
    }
    let receipt =
        json_of(import(&app, &w.key_a, "format=json", serde_json::to_vec(&batch).expect("json")).await, 200).await;
    assert_eq!(receipt["accepted"], 12, "{receipt}");
    // History the test cannot wait for: pulls and alerts of last month (and around it), a key
    // made long ago and one made in October.
    let at = |d: NaiveDate, h: u32| d.and_hms_opt(h, 0, 0).expect("time").format("%Y-%m-%d %H:%M:%S").to_string();
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let (today, _) = days();
    for (d, runs, failures) in [(first + TimeDelta::days(2), 10, 1), (first + TimeDelta::days(3), 10, 1), (today, 5, 5)]
    {
        app.sql(&format!(
            "INSERT INTO pull_days (tenant_id, source, day, runs, failures) VALUES ('{a}', 'vendor', '{}', {runs}, {failures})",
            day(d)
        ))
        .expect("pull days");
    }
    let alerts = [
        ("al1", "silent", first + TimeDelta::days(1), Some(3)),
        ("al2", "failing", first + TimeDelta::days(5), Some(5)),
        ("al3", "silent2", first + TimeDelta::days(7), None),
        ("al0", "silent3", first - TimeDelta::days(2), Some(1)),
    ];
    for (id, kind, d, hours) in alerts {
        let (status, resolved) = match hours {
            Some(h) => ("resolved", format!("'{}'", at(d, 10 + h))),
            None => ("open", "NULL".to_owned()),
        };
        app.sql(&format!(
            "INSERT INTO alerts (id, tenant_id, sender, kind, detail_zh, detail_en, status, opened_at, resolved_at) \
             VALUES ('{id}', '{a}', 'platform-a', '{kind}', '告警', 'alert', '{status}', '{}', {resolved})",
            at(d, 10)
        ))
        .expect("alert");
    }
    app.sql(&format!("UPDATE api_keys SET created_at = '2025-06-01 00:00:00' WHERE tenant_id = '{a}'"))
        .expect("old key");
    app.api_key(&w.sys, &w.sec, &a).await;
    app.sql(&format!(
        "UPDATE api_keys SET created_at = '2026-10-01 00:00:00' WHERE tenant_id = '{a}' AND created_at > '2026-01-01 00:00:00'"
    ))
    .expect("new key");

    let steps = |bounds: [(f64, f64); 2]| json!({"kind": "steps", "steps": [{"bound": bounds[0].0, "score": bounds[0].1}, {"bound": bounds[1].0, "score": bounds[1].1}], "otherwise": 0});
    let linear = |zero: f64, full: f64| json!({"kind": "linear", "zero_at": zero, "full_at": full});
    let platforms = json!({
        "code": "EV-PLAT", "name": "平台月度评价", "frequency": "month", "object_kind": "tenant",
        "indicators": [
            {"code": "P", "name": "拉取可用率", "formula": "pull_availability", "weight": 20, "scoring": linear(0.0, 100.0)},
            {"code": "A", "name": "告警次数", "formula": "alerts_raised", "weight": 20, "scoring": steps([(0.0, 100.0), (2.0, 60.0)])},
            {"code": "H", "name": "处置时长", "formula": "alert_resolution_hours", "weight": 20, "scoring": linear(24.0, 0.0)},
            {"code": "C", "name": "凭证更新率", "formula": "credentials_current", "weight": 20, "scoring": linear(0.0, 100.0)},
            {"code": "X", "name": "更正率", "formula": "corrections_rate", "weight": 20, "scoring": steps([(0.0, 100.0), (20.0, 50.0)])}
        ],
        "grades": {"excellent": 85, "good": 75, "pass": 60}
    });
    json_of(w.reviewer.post(&app, "/api/v1/evaluation/sets", platforms).await, 201).await;
    let period = first.format("%Y-%m").to_string();
    let run = json_of(
        w.reviewer.post(&app, "/api/v1/evaluation/runs", json!({"set": "EV-PLAT", "period": period})).await,
        201,
    )
    .await;
    let path = format!("/api/v1/evaluation/runs/{}/results", run["id"].as_str().expect("id"));
    let got = json_of(w.reviewer.get(&app, &path).await, 200).await;
    let mine = got["results"].as_array().expect("results").iter().find(|r| r["object_id"] == a.as_str()).expect("A");
    let values: Vec<Option<f64>> =
        mine["inputs"]["indicators"].as_array().expect("indicators").iter().map(|i| i["value"].as_f64()).collect();
    // 18 of 20 pulls; 3 alerts in the month, resolved after 3 and 5 hours; 1 of 2 keys
    // current; 2 corrections of 12 records.
    let corrections = milli(2, 12).expect("rate") as f64 / 10.0;
    assert_eq!(values, [Some(90.0), Some(3.0), Some(4.0), Some(50.0), Some(corrections)], "{mine}");
    let points = [90.0, 0.0, 100.0 * (4.0 - 24.0) / (0.0 - 24.0), 50.0, 50.0];
    let want = (points.iter().sum::<f64>() / 5.0 * 1000.0).round() as i64;
    assert_eq!((mine["score"].as_f64().expect("score") * 1000.0).round() as i64, want, "{mine}");
    assert_eq!(mine["grade"], grade(want));
    // A platform with nothing to measure is unrated, not scored 0.
    let b = got["results"].as_array().expect("results").iter().find(|r| r["object_id"] == w.b["id"]).expect("B");
    assert_eq!((b["grade"].as_str(), b["rank"].as_i64()), (Some("unrated"), None), "{b}");
}
both_backends!(platform_operations_and_corrections_are_scored);

/// The console defines a set field by field: a weight it cannot read and weights that do not
/// sum to 100 are shown on the form with what was entered, nothing stored; a good set is the
/// same as the API would have stored, and editing it saves the next version.
async fn the_console_defines_and_edits_a_set(app: TestApp) {
    let w = world(&app).await;
    let new = crate::industry::page(&app, &w.reviewer, "/evaluation/sets/new").await;
    assert!(new.contains("评价指标体系") && new.contains("数据更正率"), "the form lists every measure");
    let fields = |weight: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("code", "EV-ENT"),
            ("name", "主体月度评价"),
            ("frequency", "month"),
            ("object_kind", "entity"),
            ("stage", ""),
            ("i0_code", "I1"),
            ("i0_name", "数据报送率"),
            ("i0_formula", "reporting_rate"),
            ("i0_weight", "60"),
            ("i0_kind", "linear"),
            ("i0_zero_at", "0"),
            ("i0_full_at", "100"),
            ("i1_code", "I2"),
            ("i1_name", "拒收率"),
            ("i1_formula", "rejection_rate"),
            ("i1_weight", weight),
            ("i1_kind", "steps"),
            ("i1_steps", "0=100; 5=60"),
            ("i1_otherwise", "0"),
            ("excellent", "85"),
            ("good", "75"),
            ("pass", "60"),
        ]
    };
    let html = crate::industry::post_form(&app, &w.reviewer, "/evaluation/sets", &fields("四十")).await;
    assert!(html.contains("权重“四十”应为正整数") && html.contains("value=\"0=100; 5=60\""), "kept on the form");
    let html = crate::industry::post_form(&app, &w.reviewer, "/evaluation/sets", &fields("30")).await;
    assert!(html.contains("合计 100"), "the API's check, on the form");
    let none = json_of(w.reviewer.get(&app, "/api/v1/evaluation/sets").await, 200).await;
    assert_eq!(none.as_array().map(Vec::len), Some(0), "nothing stored: {none}");
    let html = crate::industry::post_form(&app, &w.reviewer, "/evaluation/sets", &fields("40")).await;
    assert!(html.contains("已保存指标体系 EV-ENT 第 1 版"), "saved");
    let saved = json_of(w.reviewer.get(&app, "/api/v1/evaluation/sets/EV-ENT").await, 200).await;
    let guide: Value = serde_json::from_str(&crate::industry::example("evaluation-set.json")).expect("example");
    let read = |v: &Value| -> tracenode::evaluation::set::SetInput { serde_json::from_value(v.clone()).expect("set") };
    assert_eq!(read(&saved["definition"]), read(&guide), "the console's set is the guide's");
    let edit = crate::industry::page(&app, &w.reviewer, "/evaluation/sets/EV-ENT/edit").await;
    assert!(edit.contains("value=\"0=100; 5=60\"") && edit.contains("readonly"), "the edit form is filled");
    let mut changed = fields("40");
    changed[8] = ("i0_weight", "50");
    changed[15] = ("i1_weight", "50");
    let html = crate::industry::post_form(&app, &w.reviewer, "/evaluation/sets", &changed).await;
    assert!(html.contains("第 2 版"), "the next version");
    assert_eq!(w.key_a.get(&app, "/evaluation/sets/new").await.status(), 403, "a tenant's caller may not");
}
both_backends!(the_console_defines_and_edits_a_set);

/// The node runs each set once for the latest period that has ended, and leaves a period
/// that has a run alone.
async fn each_period_is_run_once_by_the_node(app: TestApp) {
    let w = world(&app).await;
    json_of(w.reviewer.post(&app, "/api/v1/evaluation/sets", set((60, 40))).await, 201).await;
    let (today, _) = days();
    let due = |app: &TestApp| {
        app.db
            .transaction_sync(|conn| {
                tracenode::evaluation::schedule::due(
                    conn,
                    app.config.node.region.as_str(),
                    &app.config.node.name,
                    today,
                )
            })
            .expect("due")
    };
    let made = due(&app);
    assert_eq!(made.len(), 1);
    let (first, _) = last_month();
    assert_eq!(
        (made[0].period.as_str(), made[0].run_by.as_str()),
        (first.format("%Y-%m").to_string().as_str(), "system")
    );
    assert!(due(&app).is_empty(), "a period with a run is left alone");
    assert_eq!(app.audit_count("evaluation.run", "success"), 1);
    assert_eq!(app.audit_count("evaluation.report.send", "success"), 1, "its report went out with it");
}
both_backends!(each_period_is_run_once_by_the_node);

/// A run's report: its sections agree with the results, its workbook holds every result,
/// and sending it mails each tenant its own objects and the tier's staff a summary, through a
/// real SMTP server.
async fn reports_reach_those_responsible(backend: crate::support::Backend) {
    let smtp = crate::smtp::SmtpServer::start().await;
    let app = TestApp::spawn_with(backend, &smtp.config()).await;
    let w = world(&app).await;
    let (first, _) = last_month();
    let long_ago = NaiveDate::from_ymd_opt(2026, 1, 1).expect("day");
    let e: [String; 2] = std::array::from_fn(|k| code("330106", 850 + k as u32));
    for (k, c) in e.iter().enumerate() {
        registered(&app, &w, c, &format!("报告主体{}", k + 1), long_ago, None).await;
    }
    let batch: Vec<Value> = (0..12)
        .map(|d| {
            sale(&format!("r{d}"), &e[(d % 2) as usize], &e[((d + 1) % 2) as usize], first + TimeDelta::days(d), 1.0)
        })
        .chain([sale("bad", &e[0], &e[1], first, -1.0)])
        .collect();
    json_of(import(&app, &w.key_a, "format=json", serde_json::to_vec(&batch).expect("json")).await, 200).await;
    json_of(w.reviewer.post(&app, "/api/v1/evaluation/sets", set((60, 40))).await, 201).await;
    let period = first.format("%Y-%m").to_string();
    let run = json_of(
        w.reviewer.post(&app, "/api/v1/evaluation/runs", json!({"set": "EV-ENT", "period": period})).await,
        201,
    )
    .await;
    let id = run["id"].as_str().expect("id");

    let report = json_of(w.reviewer.get(&app, &format!("/api/v1/evaluation/runs/{id}/report")).await, 200).await;
    assert_eq!(
        (report["figures"]["records"].as_i64(), report["figures"]["rejected"].as_i64()),
        (Some(12), Some(1)),
        "{report}"
    );
    assert_eq!(report["rejection_rate"].as_i64(), milli(1, 13));
    let graded: i64 = report["grades"].as_array().expect("grades").iter().map(|g| g[1].as_i64().expect("n")).sum();
    assert_eq!(graded, 2, "{report}");
    let xlsx = w.reviewer.get(&app, &format!("/api/v1/evaluation/runs/{id}/report.xlsx")).await;
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await.expect("bytes");
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    use calamine::Reader;
    let sheet = book.worksheet_range("评价结果").expect("sheet");
    assert_eq!(sheet.rows().count(), 3, "a header and both results");
    let html = crate::industry::page(&app, &w.reviewer, &format!("/evaluation/runs/{id}/report")).await;
    assert!(
        html.contains("一、企业运行情况")
            && html.contains("二、上报数据质量情况")
            && html.contains("三、日常运维与监测评价")
    );

    // Staff's channel hears the summary, tenant A's its own objects; B's nothing.
    let staff = json!({"name": "评价组", "kind": "email", "target": "staff@node.test"});
    json_of(w.reviewer.post(&app, "/api/v1/notify/channels", staff).await, 201).await;
    let a_mail =
        json!({"name": "平台A负责人", "kind": "email", "target": "owner@platform-a.test", "tenant_id": w.a["id"]});
    json_of(w.reviewer.post(&app, "/api/v1/notify/channels", a_mail).await, 201).await;
    let b_mail =
        json!({"name": "平台B负责人", "kind": "email", "target": "owner@platform-b.test", "tenant_id": w.b["id"]});
    json_of(w.reviewer.post(&app, "/api/v1/notify/channels", b_mail).await, 201).await;
    expect_problem(
        w.key_a.post(&app, &format!("/api/v1/evaluation/runs/{id}/report/send"), json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let sent =
        json_of(w.reviewer.post(&app, &format!("/api/v1/evaluation/runs/{id}/report/send"), json!({})).await, 200)
            .await;
    assert_eq!((sent["tenants"].as_i64(), sent["notifications"].as_i64()), (Some(1), Some(2)), "{sent}");
    let mails = smtp.wait_for(2).await;
    let to_a = mails.iter().find(|m| m.to.contains("owner@platform-a.test")).expect("A's mail");
    assert!(
        to_a.subject.contains("监测评价结果") && to_a.body.contains("报告主体1") && to_a.body.contains("报告主体2"),
        "{}",
        to_a.body
    );
    let to_staff = mails.iter().find(|m| m.to.contains("staff@node.test")).expect("staff's mail");
    assert!(to_staff.subject.contains("监测评价报告") && to_staff.body.contains("评价对象 2 个"), "{}", to_staff.body);
    assert!(mails.iter().all(|m| !m.to.contains("platform-b")), "B has no objects in the run");
    assert_eq!(app.audit_count("evaluation.report.send", "success"), 1);
}
crate::on_both_backends!(reports_reach_those_responsible);
