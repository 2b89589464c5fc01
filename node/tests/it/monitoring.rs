//! Entity operation monitoring: the indicators of entities, sites, tenants and regions equal
//! what the test counts from the records it sent (reporting rate by day and by week, merchant
//! activity, timeliness, rejection and anomaly rates); thresholds refuse bad input and are
//! audited; warnings open past a threshold, reach a real SMTP server as one digest per tenant,
//! and resolve when the value comes back; each caller sees only its reach.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta};
use serde_json::{json, Value};

use crate::both_backends;
use crate::industry::{example, page, post_form, unit_user};
use crate::ingest::{import, json_of};
use crate::registry::{code, entity, world, World};
use crate::smtp::SmtpServer;
use crate::support::{expect_problem, Backend, TestApp};

const STAGE: &str = "distribution_sale";

/// Today and yesterday, China Standard Time.
pub(crate) fn days() -> (NaiveDate, NaiveDate) {
    let today = (chrono::Utc::now().naive_utc() + TimeDelta::hours(8)).date();
    (today, today - TimeDelta::days(1))
}

/// 10:00 Beijing time on `d`, as UTC.
fn ten_o_clock(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(2, 0, 0).expect("time")
}

/// A sale by `seller` to `buyer` at 10:00 on `day`, `quantity` boxes.
pub(crate) fn sale(id: &str, seller: &str, buyer: &str, day: NaiveDate, quantity: f64) -> Value {
    json!({
        "id": id, "corrects": null,
        "from": {"code": seller, "name": "卖方", "region": "330106"},
        "to": {"code": buyer, "name": "买方", "region": "330106"},
        "product": {"trace_code": format!("TC-{id}"), "scheme": "local", "name": "红富士苹果", "category": "01",
                    "specification": "5kg/箱", "batch": "B1", "production_date": null,
                    "shelf_life_days": null, "origin": "山东烟台"},
        "act": {"stage": STAGE, "direction": "out", "quantity": quantity, "unit": "箱",
                "price": 50.0, "amount": null, "time": format!("{day}T10:00:00+08:00"), "place": "杭州"}
    })
}

/// Registers an entity of tenant A filed on `filed`, in the site `site` when given, and has
/// the reviewer approve it; returns its id.
pub(crate) async fn registered(
    app: &TestApp,
    w: &World,
    c: &str,
    name: &str,
    filed: NaiveDate,
    site: Option<&str>,
) -> String {
    let mut body = entity(c, name, "330106");
    body["filed_at"] = json!(format!("{filed}T00:00:00"));
    if let Some(s) = site {
        body["site_code"] = json!(s);
    }
    let made = json_of(w.key_a.post(app, "/api/v1/registry/entities", body).await, 201).await;
    let id = made["entity"]["id"].as_str().expect("id").to_owned();
    if made["entity"]["status"] != "approved" {
        let path = format!("/api/v1/registry/entities/{id}/review");
        json_of(w.reviewer.post(app, &path, json!({"approve": true})).await, 200).await;
    }
    id
}

/// The parties of the tests: four approved entities of tenant A (E1, E3 and E4 merchants of
/// one market, E4 filed two days ago) and one waiting for review.
struct Parties {
    e: [String; 4],
    ids: [String; 4],
    site: String,
    pending: String,
}

async fn parties(app: &TestApp, w: &World, last: NaiveDate) -> Parties {
    let market = json!({"code": "xh-market", "name": "西湖农贸市场", "kind": "farmers_market", "region": "330106"});
    let site = json_of(w.key_a.post(app, "/api/v1/registry/sites", market).await, 201).await;
    let long_ago = NaiveDate::from_ymd_opt(2026, 1, 1).expect("day");
    let e: [String; 4] = std::array::from_fn(|k| code("330106", 700 + k as u32));
    let ids = [
        registered(app, w, &e[0], "一号摊位", long_ago, Some("xh-market")).await,
        registered(app, w, &e[1], "二号商行", long_ago, None).await,
        registered(app, w, &e[2], "三号摊位", long_ago, Some("xh-market")).await,
        registered(app, w, &e[3], "四号摊位", last - TimeDelta::days(2), Some("xh-market")).await,
    ];
    let pending = code("330106", 799);
    let mut body = entity(&pending, "待审主体", "330106");
    body["filed_at"] = json!("2026-01-01T00:00:00");
    let made = json_of(w.key_a.post(app, "/api/v1/registry/entities", body).await, 201).await;
    assert_eq!(made["entity"]["status"], "pending", "{made}");
    Parties { e, ids, site: site["id"].as_str().expect("id").to_owned(), pending }
}

/// Sends the records of the tests through the API; returns the records stored with their act
/// time, and the moments just before and after they were sent.
async fn send(
    app: &TestApp,
    w: &World,
    p: &Parties,
    last: NaiveDate,
) -> (Vec<(String, NaiveDateTime)>, NaiveDateTime, NaiveDateTime) {
    let a_id = w.a["id"].as_str().expect("id");
    // A counterpart registered nowhere is flagged, not refused.
    let policy = json!({"unknown_reference": "flag"});
    json_of(w.reviewer.put(app, &format!("/api/v1/ingest/policies/{a_id}"), policy).await, 200).await;
    let d = |back: i64| last - TimeDelta::days(back);
    let stranger = code("330106", 900);
    let mut unreadable = sale("r-x", &p.e[0], &p.e[1], d(4), 1.0);
    unreadable["act"]["direction"] = json!("sideways");
    let batch = vec![
        sale("r1", &p.e[0], &stranger, d(6), 1.0),  // E1, flagged
        sale("r2", &p.e[0], &p.e[1], d(5), 2.0),    // E1
        sale("r3", &p.e[0], &p.e[1], d(3), 1.0),    // E1
        sale("r4", &p.e[0], &p.e[1], d(3), 3.0),    // E1, same day
        sale("r5", &p.e[0], &p.e[1], d(5), -1.0),   // E1, rejected
        sale("r6", &p.e[1], &p.e[0], d(1), 1.0),    // E2
        sale("r7", &p.e[3], &p.e[0], d(0), 1.0),    // E4
        sale("r8", &p.pending, &p.e[0], d(2), 1.0), // the entity waiting for review
        unreadable,                                 // no acting party: the tenant's
    ];
    let before = chrono::Utc::now().naive_utc() - TimeDelta::seconds(1);
    let receipt =
        json_of(import(app, &w.key_a, "format=json", serde_json::to_vec(&batch).expect("json")).await, 200).await;
    let after = chrono::Utc::now().naive_utc() + TimeDelta::seconds(1);
    assert_eq!((receipt["accepted"].as_i64(), receipt["rejected"].as_i64()), (Some(7), Some(2)), "{receipt}");
    assert_eq!(receipt["flagged"], 1, "{receipt}");
    let stored = [("r1", 6), ("r2", 5), ("r3", 3), ("r4", 3), ("r6", 1), ("r7", 0), ("r8", 2)];
    (stored.iter().map(|(id, back)| ((*id).to_owned(), ten_o_clock(d(*back)))).collect(), before, after)
}

pub(crate) fn milli(num: i64, den: i64) -> Option<i64> {
    (den > 0).then(|| (2 * num * 1000 + den) / (2 * den))
}

fn row<'a>(list: &'a Value, code: &str) -> &'a Value {
    list["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["subject"]["code"] == code)
        .unwrap_or_else(|| panic!("{code} in {list}"))
}

fn value(r: &Value, indicator: &str) -> Option<i64> {
    r["values"][indicator].as_i64()
}

async fn indicators_are_what_the_test_counts(app: TestApp) {
    let w = world(&app).await;
    let (_, last) = days();
    let p = parties(&app, &w, last).await;
    let (stored, before, after) = send(&app, &w, &p, last).await;
    let from = last - TimeDelta::days(6);
    let q = format!("/api/v1/monitoring/indicators?from={from}&to={last}");

    // Entities: by day, E1 reported on 3 of 7 days, E2 on 1, E3 on none, E4 on 1 of the 3
    // days since it was filed; the entity waiting for review is not watched.
    let list = json_of(w.reviewer.get(&app, &q).await, 200).await;
    assert_eq!(list["total_rows"], 4, "{list}");
    assert!(list["rows"].as_array().expect("rows").iter().all(|r| r["subject"]["code"] != p.pending.as_str()));
    let expect = [(3, 7), (1, 7), (0, 7), (1, 3)];
    for (k, (reported, expected)) in expect.into_iter().enumerate() {
        let r = row(&list, &p.e[k]);
        assert_eq!(
            (r["total"]["reported"].as_i64(), r["total"]["expected"].as_i64()),
            (Some(reported), Some(expected)),
            "{r}"
        );
        assert_eq!(value(r, "reporting_rate"), milli(reported, expected), "E{} {r}", k + 1);
        assert!(r["values"]["merchant_activity"].is_null(), "one entity has no merchant activity");
    }
    let e1 = row(&list, &p.e[0]);
    assert_eq!(
        (e1["total"]["records"].as_i64(), e1["total"]["rejected"].as_i64(), e1["total"]["flagged"].as_i64()),
        (Some(4), Some(1), Some(1))
    );
    assert_eq!(value(e1, "rejection_rate"), milli(1, 5));
    assert_eq!(value(e1, "anomaly_rate"), milli(1, 4));
    let e3 = row(&list, &p.e[2]);
    for i in ["delay_hours", "rejection_rate", "anomaly_rate"] {
        assert!(e3["values"][i].is_null(), "no base, no value: {e3}");
    }
    // Timeliness: each record's delay lies between its act and the moments around the send.
    let e1_acts: Vec<NaiveDateTime> =
        stored.iter().filter(|(id, _)| ["r1", "r2", "r3", "r4"].contains(&id.as_str())).map(|(_, t)| *t).collect();
    let low: i64 = e1_acts.iter().map(|t| (before - *t).num_seconds()).sum();
    let high: i64 = e1_acts.iter().map(|t| (after - *t).num_seconds()).sum();
    let sum = e1["total"]["delay_seconds_sum"].as_i64().expect("sum");
    assert!((low..=high).contains(&sum), "{low} <= {sum} <= {high}");
    let hours = value(e1, "delay_hours").expect("hours");
    assert!((milli(low, 4 * 3600).expect("low")..=milli(high, 4 * 3600).expect("high")).contains(&hours), "{hours}");
    let longest = e1["total"]["delay_seconds_max"].as_i64().expect("max");
    assert!(((before - e1_acts[0]).num_seconds()..=(after - e1_acts[0]).num_seconds()).contains(&longest));

    // The market: E1, E3 and E4 are its merchants, two of them reported.
    let sites = json_of(w.reviewer.get(&app, &format!("{q}&view=sites")).await, 200).await;
    let market = row(&sites, "xh-market");
    assert_eq!((market["total"]["entities"].as_i64(), market["total"]["active"].as_i64()), (Some(3), Some(2)));
    assert_eq!(value(market, "merchant_activity"), milli(2, 3));
    assert_eq!(value(market, "reporting_rate"), milli(4, 7 + 7 + 3), "E1 3 days, E3 none, E4 one");

    // The tenant: four entities, three active; its records and rejections include the
    // record of the entity waiting for review and the one with no readable party.
    let tenants = json_of(w.reviewer.get(&app, &format!("{q}&view=tenants")).await, 200).await;
    let a = row(&tenants, "platform-a");
    assert_eq!(value(a, "merchant_activity"), milli(3, 4));
    assert_eq!(value(a, "reporting_rate"), milli(5, 24));
    assert_eq!((a["total"]["records"].as_i64(), a["total"]["rejected"].as_i64()), (Some(7), Some(2)), "{a}");
    assert_eq!(value(a, "rejection_rate"), milli(2, 9));
    assert_eq!(value(a, "anomaly_rate"), milli(1, 7));

    // Regions: 西湖区 holds the four; 上城区 none.
    let regions = json_of(w.reviewer.get(&app, &format!("{q}&view=regions")).await, 200).await;
    let xihu = row(&regions, "330106");
    assert_eq!(value(xihu, "merchant_activity"), milli(3, 4));
    assert!(row(&regions, "330102")["values"]["reporting_rate"].is_null());

    // Sorted worst first, and only those past the threshold (80 % by default).
    let sorted = json_of(w.reviewer.get(&app, &format!("{q}&sort=reporting_rate")).await, 200).await;
    let order: Vec<&str> =
        sorted["rows"].as_array().expect("rows").iter().map(|r| r["subject"]["code"].as_str().expect("code")).collect();
    assert_eq!(order, [p.e[2].as_str(), p.e[1].as_str(), p.e[3].as_str(), p.e[0].as_str()]);
    let beyond = json_of(w.reviewer.get(&app, &format!("{q}&view=sites&beyond=merchant_activity")).await, 200).await;
    assert_eq!(beyond["total_rows"], 0, "66.7 % is above the 60 % default: {beyond}");

    // A weekly stage: each ISO week of the window with a record counts once.
    let weekly = json!({"stage": STAGE, "indicator": "reporting_rate", "bound": 80, "window_days": 7, "min_base": 1, "reporting_interval": "week"});
    json_of(w.reviewer.put(&app, "/api/v1/monitoring/thresholds", weekly).await, 200).await;
    let weeks = |days: &[NaiveDate]| {
        let mut k: Vec<(i32, u32)> = days.iter().map(|d| (d.iso_week().year(), d.iso_week().week())).collect();
        k.dedup();
        k.len() as i64
    };
    let window: Vec<NaiveDate> = (0..7).map(|i| from + TimeDelta::days(i)).collect();
    let e1_days = [last - TimeDelta::days(6), last - TimeDelta::days(5), last - TimeDelta::days(3)];
    let list = json_of(w.reviewer.get(&app, &q).await, 200).await;
    let e1 = row(&list, &p.e[0]);
    assert_eq!(
        (e1["total"]["reported"].as_i64(), e1["total"]["expected"].as_i64()),
        (Some(weeks(&e1_days)), Some(weeks(&window))),
        "{e1}"
    );

    // A month, a stage, a tenant's own view, and the CSV agree with the lists.
    let csv =
        w.reviewer.get(&app, &format!("/api/v1/monitoring/indicators.csv?from={from}&to={last}&view=tenants")).await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.expect("csv");
    assert!(text.starts_with('\u{feff}') && text.contains("platform-a") && text.contains("数据报送率"), "{text}");
    let mine = json_of(w.key_a.get(&app, &format!("{q}&view=tenants")).await, 200).await;
    assert_eq!(mine["total_rows"], 1);
    let theirs = json_of(w.key_b.get(&app, &q).await, 200).await;
    assert_eq!(theirs["total_rows"], 0, "B sees none of A's entities: {theirs}");
    let other = format!("{q}&tenant={}", w.a["id"].as_str().expect("id"));
    expect_problem(w.key_b.get(&app, &other).await, 403, "out_of_scope").await;
    let production = json_of(w.reviewer.get(&app, &format!("{q}&stage=primary_production")).await, 200).await;
    assert_eq!(production["total"]["total"]["records"], 0, "{production}");

    // The trend of E1 by day equals the records of each day.
    let trend =
        json_of(w.reviewer.get(&app, &format!("/api/v1/monitoring/trend?kind=entity&id={}", p.ids[0])).await, 200)
            .await;
    let points = trend.as_array().expect("points");
    assert_eq!(points.len(), 30);
    for pt in points {
        let day = NaiveDate::parse_from_str(pt["label"].as_str().expect("label"), "%Y-%m-%d").expect("day");
        let records = stored
            .iter()
            .filter(|(id, t)| {
                ["r1", "r2", "r3", "r4"].contains(&id.as_str()) && (*t + TimeDelta::hours(8)).date() == day
            })
            .count();
        assert_eq!(pt["figures"]["records"].as_i64(), Some(records as i64), "{pt}");
    }
    let site_trend = format!("/api/v1/monitoring/trend?kind=site&id={}&granularity=month", p.site);
    assert_eq!(json_of(w.reviewer.get(&app, &site_trend).await, 200).await.as_array().map(Vec::len), Some(12));
}
both_backends!(indicators_are_what_the_test_counts);

/// Someone with database access lowers an entity's day, or deletes one: the check against a
/// recount of the trace records names it, and is audited as failed.
async fn a_rewritten_activity_row_is_found(app: TestApp) {
    let w = world(&app).await;
    let (_, last) = days();
    let p = parties(&app, &w, last).await;
    send(&app, &w, &p, last).await;
    let path = format!("/api/v1/monitoring/verify?from={}&to={last}", last - TimeDelta::days(6));
    let clean = json_of(w.reviewer.get(&app, &path).await, 200).await;
    assert_eq!((clean["differences"].as_i64(), clean["records"].as_i64()), (Some(0), Some(7)), "{clean}");
    expect_problem(w.key_a.get(&app, &path).await, 403, "forbidden").await;
    let day = last - TimeDelta::days(3);
    app.sql(&format!("UPDATE party_activity SET records = 1 WHERE party_code = '{}' AND day = '{day}'", p.e[0]))
        .expect("lower");
    app.sql(&format!("DELETE FROM party_activity WHERE party_code = '{}'", p.e[3])).expect("delete");
    let found = json_of(w.reviewer.get(&app, &path).await, 200).await;
    assert_eq!(found["differences"], 2, "{found}");
    let first = &found["first"][0];
    assert_eq!(
        (first["party_code"].as_str(), first["kept"].as_i64(), first["recounted"].as_i64()),
        (Some(p.e[0].as_str()), Some(1), Some(2)),
        "{found}"
    );
    assert_eq!(found["first"][1]["party_code"], p.e[3].as_str());
    assert_eq!(app.audit_count("monitoring.verify", "failure"), 1);
    assert_eq!(app.audit_count("monitoring.verify", "success"), 1);
    // Corrections are recounted too: one day of E2's raised to five shows.
    app.sql(&format!(
        "UPDATE party_activity SET corrections = 5 WHERE party_code = '{e}' \
         AND day = (SELECT MIN(day) FROM party_activity WHERE party_code = '{e}')",
        e = p.e[1]
    ))
    .expect("raise");
    let found = json_of(w.reviewer.get(&app, &path).await, 200).await;
    assert_eq!(found["differences"], 3, "{found}");
    let e2 = found["first"].as_array().expect("first").iter().find(|d| d["party_code"] == p.e[1].as_str()).expect("E2");
    assert_eq!((e2["corrections_kept"].as_i64(), e2["corrections_recounted"].as_i64()), (Some(5), Some(0)), "{e2}");
    assert_eq!(e2["kept"], e2["recounted"], "its records agree: {e2}");
    let long = format!("/api/v1/monitoring/verify?from={}&to={last}", last - TimeDelta::days(40));
    assert_eq!(expect_problem(w.reviewer.get(&app, &long).await, 422, "validation_failed").await["field"], "to");
}
both_backends!(a_rewritten_activity_row_is_found);

/// Bad windows, views, filters and thresholds get a clear error naming the field, and
/// nothing changes; thresholds are staff's alone and every change is audited.
async fn bad_input_is_refused_and_thresholds_are_audited(app: TestApp) {
    let w = world(&app).await;
    let (today, last) = days();
    let base = "/api/v1/monitoring/indicators";
    for (query, field) in [
        ("month=2026-13".to_owned(), "month"),
        (format!("from={last}&to={}", last - TimeDelta::days(1)), "from"),
        (format!("from={today}"), "from"),
        (format!("from={}&to={last}", last - TimeDelta::days(400)), "to"),
        ("view=everything".to_owned(), "view"),
        ("stage=mining".to_owned(), "stage"),
        ("sort=happiness".to_owned(), "sort"),
        ("site=not-a-uuid".to_owned(), "site"),
        ("region=999999".to_owned(), "region"),
    ] {
        let p = expect_problem(w.reviewer.get(&app, &format!("{base}?{query}")).await, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{query}: {p}");
        assert!(p["detail_zh"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
    }
    let trend = "/api/v1/monitoring/trend";
    for (query, field) in
        [("kind=planet&id=x", "kind"), ("granularity=hour", "granularity"), ("kind=entity&id=nope", "id")]
    {
        let p = expect_problem(w.reviewer.get(&app, &format!("{trend}?{query}")).await, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{query}: {p}");
    }

    let before = json_of(w.reviewer.get(&app, "/api/v1/monitoring/thresholds").await, 200).await;
    assert_eq!(before.as_array().map(Vec::len), Some(5), "five defaults: {before}");
    let good = json!({"stage": "", "indicator": "rejection_rate", "bound": 5, "window_days": 7, "min_base": 20});
    for (patch, field) in [
        (json!({"bound": 150}), "bound"),
        (json!({"bound": -1}), "bound"),
        (json!({"window_days": 0}), "window_days"),
        (json!({"window_days": 91}), "window_days"),
        (json!({"min_base": -5}), "min_base"),
        (json!({"stage": "mining"}), "stage"),
        (json!({"indicator": "happiness"}), "indicator"),
        (json!({"reporting_interval": "week"}), "reporting_interval"),
        (json!({"indicator": "reporting_rate", "reporting_interval": "fortnight"}), "reporting_interval"),
        (json!({"indicator": "delay_hours", "bound": 10000}), "bound"),
    ] {
        let mut bad = good.clone();
        for (k, v) in patch.as_object().expect("patch") {
            bad[k] = v.clone();
        }
        let p =
            expect_problem(w.reviewer.put(&app, "/api/v1/monitoring/thresholds", bad).await, 422, "validation_failed")
                .await;
        assert_eq!(p["field"], field, "{p}");
    }
    let p =
        expect_problem(w.key_a.put(&app, "/api/v1/monitoring/thresholds", good.clone()).await, 403, "forbidden").await;
    assert!(p["detail_zh"].is_string());
    expect_problem(w.key_a.post(&app, "/api/v1/monitoring/warnings/evaluate", json!({})).await, 403, "forbidden").await;
    expect_problem(w.sys.get(&app, base).await, 403, "forbidden").await;
    let unchanged = json_of(w.reviewer.get(&app, "/api/v1/monitoring/thresholds").await, 200).await;
    assert_eq!(unchanged, before, "refused changes stored nothing");
    assert_eq!(app.audit_count("monitoring.threshold.set", "success"), 0);

    // The guide's example is taken as written; then removed again.
    let guide: Value = serde_json::from_str(&example("monitoring-threshold.json")).expect("example");
    let taken = json_of(w.reviewer.put(&app, "/api/v1/monitoring/thresholds", guide).await, 200).await;
    assert_eq!((taken["stage"].as_str(), taken["bound_milli"].as_i64()), (Some(STAGE), Some(900)), "{taken}");
    let path = format!("/api/v1/monitoring/thresholds/{STAGE}/reporting_rate");
    assert_eq!(w.reviewer.delete(&app, &path).await.status(), 204);
    let audited = app.audit_count("monitoring.threshold.set", "success");
    assert_eq!(audited, 1);

    // A stage's own threshold, then removed; a default cannot be removed.
    let own = json!({"stage": STAGE, "indicator": "rejection_rate", "bound": 2.5, "window_days": 3, "min_base": 10});
    let set = json_of(w.reviewer.put(&app, "/api/v1/monitoring/thresholds", own).await, 200).await;
    assert_eq!((set["bound_milli"].as_i64(), set["updated_by"].as_str()), (Some(25), Some("reviewer")), "{set}");
    assert_eq!(app.audit_count("monitoring.threshold.set", "success"), 2);
    let p = expect_problem(
        w.reviewer.delete(&app, "/api/v1/monitoring/thresholds//rejection_rate").await,
        404,
        "not_found",
    )
    .await;
    assert!(p.is_object());
    let gone = w.reviewer.delete(&app, &format!("/api/v1/monitoring/thresholds/{STAGE}/rejection_rate")).await;
    assert_eq!(gone.status(), 204);
    assert_eq!(app.audit_count("monitoring.threshold.remove", "success"), 2);
    let after = json_of(w.reviewer.get(&app, "/api/v1/monitoring/thresholds").await, 200).await;
    assert_eq!(after, before);

    // Staff scoped to 上城区 may not read 西湖区.
    let scoped = app.staff(&w.sys, &w.sec, "shangcheng", Some(json!({"region": "330102"}))).await;
    let denied = app.audit_count("monitoring.read", "denied");
    expect_problem(scoped.get(&app, &format!("{base}?region=330106")).await, 403, "out_of_scope").await;
    assert_eq!(app.audit_count("monitoring.read", "denied"), denied + 1);
    json_of(scoped.get(&app, &format!("{base}?region=330102")).await, 200).await;
}
both_backends!(bad_input_is_refused_and_thresholds_are_audited);

/// The console: the section's card, the list with its filters and map, a bad month shown
/// on the page, the trend, thresholds set through the form, and a round run from the
/// warnings page.
async fn the_console_shows_and_sets_what_the_api_does(app: TestApp) {
    let w = world(&app).await;
    let (_, last) = days();
    let p = parties(&app, &w, last).await;
    send(&app, &w, &p, last).await;
    let staff = &w.reviewer;
    let section = page(&app, staff, "/system-building").await;
    assert!(section.contains("主体运行监测"), "the section's card");
    let from = last - TimeDelta::days(6);
    let html =
        page(&app, staff, &format!("/system-building/monitoring?from={from}&to={last}&sort=reporting_rate")).await;
    for c in &p.e {
        assert!(html.contains(c.as_str()), "{c} listed");
    }
    // E1 3 of 7 days, E4 1 of 3, shown as people read them; 西湖区 on the map.
    assert!(html.contains("42.9%") && html.contains("33.3%"), "the rates");
    assert!(html.contains("region-tiles") && html.contains("西湖区"), "the map");
    assert!(html.contains(&format!("统计期间 {from} 至 {last}")), "the window");
    let bad = page(&app, staff, "/system-building/monitoring?month=2026-13").await;
    assert!(bad.contains("月份应为 YYYY-MM"), "a bad month is named on the page");
    let trend = page(&app, staff, &format!("/system-building/monitoring/trend?kind=entity&id={}", p.ids[0])).await;
    assert!(trend.contains("主体 一号摊位") && trend.contains("<svg"), "the trend and its chart");

    let form = |bound: &str| {
        vec![
            ("stage", STAGE.to_owned()),
            ("indicator", "reporting_rate".to_owned()),
            ("bound", bound.to_owned()),
            ("window_days", "7".to_owned()),
            ("min_base", "1".to_owned()),
            ("reporting_interval", "week".to_owned()),
        ]
    };
    let fields = |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let bad = fields(&form("150"));
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let html = post_form(&app, staff, "/system-building/monitoring/thresholds", &bad).await;
    assert!(html.contains("比率阈值应在"), "the bound is named");
    assert_eq!(app.audit_count("monitoring.threshold.set", "success"), 0);
    let good = fields(&form("30"));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let html = post_form(&app, staff, "/system-building/monitoring/thresholds", &good).await;
    assert!(html.contains("已保存") && html.contains("每周") && html.contains("低于 30%"), "saved");
    let html = post_form(&app, staff, "/system-building/monitoring/evaluate", &[]).await;
    assert!(html.contains("评估完成") && html.contains("三号摊位"), "the round and its warnings");
    assert_eq!(app.audit_count("monitoring.evaluate", "success"), 1);
    // A tenant's person sees its own entities, and no form to change thresholds.
    let person = unit_user(&app, &w.sys, &w.sec, w.a["id"].as_str().expect("id"), "a-person").await;
    let theirs = page(&app, &person, &format!("/system-building/monitoring?from={from}&to={last}")).await;
    assert!(theirs.contains(p.e[0].as_str()), "its own entity");
    let theirs = page(&app, &person, "/system-building/monitoring/thresholds").await;
    assert!(theirs.contains("threshold-list") && !theirs.contains("threshold-form"), "no form");
    let b_person = unit_user(&app, &w.sys, &w.sec, w.b["id"].as_str().expect("id"), "b-person").await;
    let none = page(&app, &b_person, &format!("/system-building/monitoring?from={from}&to={last}")).await;
    assert!(!none.contains(p.e[0].as_str()), "not another tenant's");
}
both_backends!(the_console_shows_and_sets_what_the_api_does);

async fn warnings_reach_mail_and_resolve(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (hook_url, hooks) = crate::alerts::receiver().await;
    let extra = format!("{}\n[alerts]\nwebhook_allowed_ranges = [\"127.0.0.0/8\"]\n", smtp.config());
    let app = TestApp::spawn_with(backend, &extra).await;
    let w = world(&app).await;
    let (_, last) = days();
    let p = parties(&app, &w, last).await;
    send(&app, &w, &p, last).await;
    let duty = json!({"name": "值班邮箱", "kind": "email", "target": "duty@node.test"});
    json_of(w.reviewer.post(&app, "/api/v1/notify/channels", duty).await, 201).await;
    let hook = json!({"name": "平台回调", "kind": "webhook", "target": hook_url, "tenant_id": w.a["id"]});
    let hook = json_of(w.reviewer.post(&app, "/api/v1/notify/channels", hook).await, 201).await;
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    // Only the reporting rate warns in this test, at 40 % over the last 7 days.
    for i in ["merchant_activity", "delay_hours", "rejection_rate", "anomaly_rate"] {
        let off = json!({"indicator": i, "bound": null, "window_days": 7, "min_base": 1});
        json_of(w.reviewer.put(&app, "/api/v1/monitoring/thresholds", off).await, 200).await;
    }
    let rate = |bound: f64| json!({"indicator": "reporting_rate", "bound": bound, "window_days": 7, "min_base": 1});
    json_of(w.reviewer.put(&app, "/api/v1/monitoring/thresholds", rate(40.0)).await, 200).await;

    // E2 (1/7), E3 (0/7), E4 (1/3), the market (4/17) and the tenant (5/24) are below 40 %;
    // E1 (3/7) is not. One digest for tenant A reaches the mailbox and the tenant's webhook.
    let evaluate = "/api/v1/monitoring/warnings/evaluate";
    let r = json_of(w.reviewer.post(&app, evaluate, json!({})).await, 200).await;
    assert_eq!(
        (r["opened"].as_i64(), r["resolved"].as_i64(), r["notifications"].as_i64()),
        (Some(5), Some(0), Some(2)),
        "{r}"
    );
    assert_eq!((r["notifications"].as_i64(), r["delivered"]["sent"].as_i64()), (Some(2), Some(2)), "{r}");
    {
        let calls = hooks.lock().expect("lock");
        assert_eq!(calls.len(), 1, "one digest to the tenant's webhook");
        let (headers, body) = &calls[0];
        assert_eq!(headers["x-tracenode-topic"], "monitoring.warning");
        assert_eq!(headers["x-tracenode-signature"], tracenode::notify::webhook::signature(&secret, body));
        let payload: Value = serde_json::from_slice(body).expect("json");
        assert_eq!((payload["opened"].as_i64(), payload["opened_first"].as_array().map(Vec::len)), (Some(5), Some(5)));
    }
    let open = json_of(w.reviewer.get(&app, "/api/v1/monitoring/warnings?status=open").await, 200).await;
    let mut got: Vec<(String, i64)> = open
        .as_array()
        .expect("warnings")
        .iter()
        .map(|x| (x["subject_code"].as_str().expect("code").to_owned(), x["value_milli"].as_i64().expect("value")))
        .collect();
    got.sort();
    let mut want = vec![
        (p.e[1].clone(), milli(1, 7).expect("v")),
        (p.e[2].clone(), 0),
        (p.e[3].clone(), milli(1, 3).expect("v")),
        ("platform-a".to_owned(), milli(5, 24).expect("v")),
        ("xh-market".to_owned(), milli(4, 17).expect("v")),
    ];
    want.sort();
    assert_eq!(got, want);
    let mail = smtp.wait_for(1).await;
    assert!(mail[0].subject.contains("运行监测预警") && mail[0].subject.contains("新增 5 条"), "{mail:?}");
    assert!(mail[0].body.contains("三号摊位") && mail[0].body.contains("数据报送率"), "{}", mail[0].body);

    // Judged again, nothing new is sent.
    let r = json_of(w.reviewer.post(&app, evaluate, json!({})).await, 200).await;
    assert_eq!((r["opened"].as_i64(), r["notifications"].as_i64()), (Some(0), Some(0)), "{r}");

    // A tenant sees its own warnings only.
    let mine = json_of(w.key_a.get(&app, "/api/v1/monitoring/warnings").await, 200).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(5));
    let theirs = json_of(w.key_b.get(&app, "/api/v1/monitoring/warnings").await, 200).await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(0));

    // The bound lowered to 10 %: all but E3 come back, and the digest says so.
    json_of(w.reviewer.put(&app, "/api/v1/monitoring/thresholds", rate(10.0)).await, 200).await;
    let r = json_of(w.reviewer.post(&app, evaluate, json!({})).await, 200).await;
    assert_eq!((r["opened"].as_i64(), r["resolved"].as_i64()), (Some(0), Some(4)), "{r}");
    let mail = smtp.wait_for(2).await;
    assert!(mail[1].subject.contains("解除 4 条"), "{mail:?}");
    let resolved = json_of(w.reviewer.get(&app, "/api/v1/monitoring/warnings?status=resolved").await, 200).await;
    let market =
        resolved.as_array().expect("resolved").iter().find(|x| x["subject_code"] == "xh-market").expect("market");
    assert_eq!(market["resolved_value_milli"].as_i64(), milli(4, 17), "{market}");
    let still = json_of(w.reviewer.get(&app, "/api/v1/monitoring/warnings?status=open").await, 200).await;
    assert_eq!(
        still.as_array().map(|a| a.iter().map(|x| x["subject_code"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(p.e[2])])
    );
}

crate::on_both_backends!(warnings_reach_mail_and_resolve);
