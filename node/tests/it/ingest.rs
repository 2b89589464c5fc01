//! Ingestion of trace records: the exchange envelope and imports in every format, receipts,
//! idempotency and corrections, atomic and best-effort modes, dry runs, asynchronous jobs,
//! reference policies, per-tenant limits, tenant isolation, search and the daily aggregates.

use serde_json::{json, Value};
use tracenode::trace::daily;
use tracenode_adapters::adapter::Format;
use tracenode_adapters::exchange::Header;
use tracenode_adapters::records::TraceRecord;

use crate::both_backends;
use crate::registry::{code, entity, world, Machine, World};
use crate::support::{expect_problem, TestApp};

/// A sale by `seller` (registered, 330106) to `buyer`.
pub(crate) fn record(
    id: &str,
    trace_code: &str,
    seller: &str,
    buyer: &str,
    quantity: f64,
    price: Option<f64>,
) -> TraceRecord {
    serde_json::from_value(json!({
        "id": id, "corrects": null,
        "from": {"code": seller, "name": "西湖鲜果有限公司", "region": "330106"},
        "to": {"code": buyer, "name": "城西超市", "region": "330106"},
        "product": {"trace_code": trace_code, "scheme": "local", "name": "红富士苹果", "category": "01",
                    "specification": "5kg/箱", "batch": "B20261120", "production_date": "2026-11-01",
                    "shelf_life_days": 60, "origin": "山东烟台"},
        "act": {"stage": "distribution_sale", "direction": "out", "quantity": quantity, "unit": "箱",
                "price": price, "amount": null, "time": "2026-11-20T10:00:00+08:00", "place": "杭州"}
    }))
    .expect("record")
}

pub(crate) fn csv_of(records: &[TraceRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    Format::Csv.encode(&mut out, &Header::default(), records).expect("csv");
    out
}

pub(crate) fn envelope(sender: &str, records: &[TraceRecord]) -> Vec<u8> {
    let header = Header {
        sender: sender.into(),
        receiver: "330100".into(),
        message_id: uuid::Uuid::now_v7().to_string(),
        operation: "push".into(),
        created: "2026-11-20T10:00:00+08:00".into(),
        resource_type: "trace".into(),
        ..Header::default()
    };
    let mut out = Vec::new();
    Format::Exchange.encode(&mut out, &header, records).expect("xml");
    out
}

/// Two registered entities of tenant A: a seller and a buyer.
pub(crate) async fn parties(app: &TestApp, w: &World) -> (String, String) {
    let seller = code("330106", 501);
    let buyer = code("330106", 502);
    for (c, name) in [(&seller, "西湖鲜果有限公司"), (&buyer, "城西超市")] {
        let res = w.key_a.post(app, "/api/v1/registry/entities", entity(c, name, "330106")).await;
        assert_eq!(res.status(), 201);
    }
    (seller, buyer)
}

pub(crate) async fn import(app: &TestApp, m: &Machine, query: &str, body: Vec<u8>) -> reqwest::Response {
    m.send(app, &format!("/api/v1/imports?{query}"), "text/plain", body).await
}

pub(crate) async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(got, status, "{body}");
    body
}

fn records_stored(app: &TestApp) -> i64 {
    let mut conn = app.db.conn().expect("conn");
    use diesel::prelude::*;
    tracenode::db::schema::trace_records::table.count().get_result(&mut *conn).expect("count")
}

fn aggregates_equal_recount(app: &TestApp) {
    let mut conn = app.db.conn().expect("conn");
    let kept = daily::stored(&mut conn, None).expect("stored");
    let recounted = daily::recount(&mut conn, None).expect("recount");
    assert!(!recounted.is_empty());
    assert_eq!(kept, recounted);
    // The indicators' summary follows the aggregates through every correction.
    let summary = tracenode::stats::summary::stored(&mut conn).expect("summary");
    assert!(!summary.is_empty());
    assert_eq!(summary, tracenode::stats::summary::recount(&mut conn).expect("recount"));
}

async fn receipts_idempotency_and_corrections(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let batch: Vec<TraceRecord> = (0..5)
        .map(|i| record(&format!("r{i}"), &format!("TC-{i:04}"), &seller, &buyer, 2.0 + i as f64, Some(12.5)))
        .collect();
    let r = json_of(import(&app, &w.key_a, "format=csv", csv_of(&batch)).await, 200).await;
    assert_eq!(
        (r["status"].as_str(), r["received"].as_u64(), r["accepted"].as_u64()),
        (Some("stored"), Some(5), Some(5))
    );
    assert_eq!(r["stored"], true);
    // Resending changes nothing and is reported as duplicates, in any format.
    let again =
        json_of(import(&app, &w.key_a, "format=json", serde_json::to_vec(&batch).expect("json")).await, 200).await;
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(5)));
    assert_eq!(again["duplicate_records"][0]["record_id"], "r0");
    assert_eq!(records_stored(&app), 5);
    // A record repeated within one submission is stored once; the repeat is a duplicate.
    let twice =
        vec![record("d1", "TC-D1", &seller, &buyer, 1.0, None), record("d1", "TC-D1", &seller, &buyer, 1.0, None)];
    let r = json_of(import(&app, &w.key_a, "format=csv", csv_of(&twice)).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(r["duplicate_records"][0]["index"], 1);
    assert_eq!(records_stored(&app), 6);
    // The same id with other content is refused, naming the record.
    let mut changed = batch[1].clone();
    changed.act.quantity = 99.0;
    let r =
        json_of(import(&app, &w.key_a, "format=json", serde_json::to_vec(&[changed]).expect("json")).await, 200).await;
    assert_eq!(r["rejected"], 1);
    assert_eq!(r["rejections"][0]["code"], "record_id_reused");
    assert_eq!(r["rejections"][0]["field"], "id");
    // A correction supersedes the record it names; the aggregates follow.
    let mut fix = batch[1].clone();
    fix.id = "r1-fix".into();
    fix.corrects = Some("r1".into());
    fix.act.quantity = 30.0;
    let r =
        json_of(import(&app, &w.key_a, "format=json", serde_json::to_vec(&[fix.clone()]).expect("json")).await, 200)
            .await;
    assert_eq!((r["accepted"].as_u64(), r["corrected"].as_u64()), (Some(1), Some(1)));
    // Correcting it again, or correcting an unknown record, is refused.
    let mut twice = fix.clone();
    twice.id = "r1-fix2".into();
    let mut unknown = fix.clone();
    unknown.id = "r9-fix".into();
    unknown.corrects = Some("r9".into());
    let r =
        json_of(import(&app, &w.key_a, "format=json", serde_json::to_vec(&[twice, unknown]).expect("json")).await, 200)
            .await;
    assert_eq!(r["rejected"], 2);
    assert_eq!(r["rejections"][0]["field"], "corrects");
    assert_eq!(r["rejections"][1]["code"], "correction_target");
    let page = json_of(w.key_a.get(&app, "/api/v1/trace/records?trace_code=TC-0001").await, 200).await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["rows"][0]["record"]["corrects"], "r1");
    assert_eq!(page["rows"][0]["record"]["act"]["quantity"], 30.0);
    let statuses: Vec<&str> =
        page["rows"].as_array().expect("rows").iter().filter_map(|r| r["status"].as_str()).collect();
    assert!(statuses.contains(&"superseded") && statuses.contains(&"stored"), "{statuses:?}");
    aggregates_equal_recount(&app);
    let mut conn = app.db.conn().expect("conn");
    let totals = daily::stored(&mut conn, None).expect("stored");
    assert_eq!(totals.len(), 1);
    let t = totals[0].1;
    // 2+3+4+5+6 = 20 boxes, with record r1 (3) corrected to 30, and d1's one box: 48 boxes,
    // 6 records; d1 has no price.
    assert_eq!((t.records, t.quantity_milli), (6, 48_000));
    assert_eq!(t.amount_fen, 47 * 1250);
    assert_eq!((t.priced, t.price_fen_sum), (5, 5 * 1250));
    assert_eq!(totals[0].0.day.to_string(), "2026-11-20");
    // Each submission has an audit row and a receipt a tenant may read, and only its own.
    assert!(app.audit_count("trace.ingest", "success") >= 5);
    let id = r["submission_id"].as_str().expect("id").to_owned();
    let mine = json_of(w.key_a.get(&app, &format!("/api/v1/submissions/{id}")).await, 200).await;
    assert_eq!(mine["receipt"]["rejected"], 2);
    expect_problem(w.key_b.get(&app, &format!("/api/v1/submissions/{id}")).await, 404, "not_found").await;
    let theirs = json_of(w.key_b.get(&app, "/api/v1/trace/records?trace_code=TC-0001").await, 200).await;
    assert_eq!(theirs["total"], 0);
    let list = json_of(w.key_b.get(&app, "/api/v1/submissions").await, 200).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0));
    // Transmission monitoring counts the sender's batches and records; a tenant sees itself.
    let traffic = json_of(w.key_a.get(&app, "/api/v1/ingest/monitor?days=1").await, 200).await;
    assert_eq!(traffic.as_array().map(Vec::len), Some(1), "{traffic}");
    assert_eq!(traffic[0]["sender"], "platform-a");
    assert_eq!(traffic[0]["batches"], 6);
    assert_eq!(traffic[0]["records"], 5 + 5 + 2 + 1 + 1 + 2);
    assert_eq!(traffic[0]["accepted"], 5 + 1 + 1);
    assert_eq!((traffic[0]["silent"].as_bool(), traffic[0]["lag_minutes"].as_i64()), (Some(false), Some(0)));
    // A sender expected every 30 minutes and last seen two hours ago is silent.
    let a_id = w.a["id"].as_str().expect("id");
    let res = w
        .reviewer
        .put(
            &app,
            &format!("/api/v1/ingest/policies/{a_id}"),
            json!({"unknown_reference": "flag", "expected_every_minutes": 30}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let past = (chrono::Utc::now() - chrono::TimeDelta::hours(2)).naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
    app.sql(&format!("UPDATE submissions SET created_at = '{past}'")).expect("age the submissions");
    let traffic = json_of(w.key_a.get(&app, "/api/v1/ingest/monitor?days=1").await, 200).await;
    assert_eq!(
        (traffic[0]["silent"].as_bool(), traffic[0]["expected_every_minutes"].as_i64()),
        (Some(true), Some(30)),
        "{traffic}"
    );
    assert!(traffic[0]["lag_minutes"].as_i64().is_some_and(|m| (119..=121).contains(&m)), "{traffic}");
    let none = json_of(w.key_b.get(&app, "/api/v1/ingest/monitor").await, 200).await;
    assert_eq!(none.as_array().map(Vec::len), Some(0));
    let p = expect_problem(w.key_a.get(&app, "/api/v1/ingest/monitor?days=0").await, 422, "validation_failed").await;
    assert_eq!(p["field"], "days");
}
both_backends!(receipts_idempotency_and_corrections);

/// NDJSON is recorded as NDJSON: the submission keeps the format its sender named, and the
/// same records sent again as a JSON array are duplicates.
async fn ndjson_is_recorded_as_sent(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let batch: Vec<TraceRecord> =
        (0..3).map(|i| record(&format!("n{i}"), &format!("TC-N{i}"), &seller, &buyer, 1.0, None)).collect();
    let mut lines = Vec::new();
    Format::Ndjson.encode(&mut lines, &Header::default(), &batch).expect("ndjson");
    assert_eq!(lines.iter().filter(|b| **b == b'\n').count(), 3, "one record a line");
    let r = json_of(import(&app, &w.key_a, "format=ndjson", lines).await, 200).await;
    assert_eq!((r["status"].as_str(), r["accepted"].as_u64()), (Some("stored"), Some(3)), "{r}");
    let id = r["submission_id"].as_str().expect("id").to_owned();
    let sent = json_of(w.key_a.get(&app, &format!("/api/v1/submissions/{id}")).await, 200).await;
    assert_eq!(sent["submission"]["format"], "ndjson", "{sent}");
    let again =
        json_of(import(&app, &w.key_a, "format=json", serde_json::to_vec(&batch).expect("json")).await, 200).await;
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(3)));
    let id = again["submission_id"].as_str().expect("id").to_owned();
    let sent = json_of(w.key_a.get(&app, &format!("/api/v1/submissions/{id}")).await, 200).await;
    assert_eq!(sent["submission"]["format"], "json");
}
both_backends!(ndjson_is_recorded_as_sent);

async fn bad_records_are_named_and_atomic_batches_store_nothing(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let good = record("ok-1", "TC-A1", &seller, &buyer, 1.0, None);
    type Spoil = fn(&mut TraceRecord);
    let spoilers: [(&str, Spoil); 9] = [
        ("act.stage", |r| r.act.stage = "selling".into()),
        ("from.code", |r| r.from.code = "91330106MA27XXXXX0".into()),
        ("from.region", |r| r.from.region = "110101".into()),
        ("act.time", |r| r.act.time = "20/11/2026".into()),
        ("act.time", |r| r.act.time = "2099-01-01T00:00:00+08:00".into()),
        ("product.production_date", |r| r.product.production_date = Some("2026-12-01".into())),
        ("product.trace_code", |r| {
            r.product.scheme = "gs1".into();
            r.product.trace_code = "(01)06901234567893(21)X1".into();
        }),
        ("act.quantity", |r| r.act.quantity = 0.0),
        ("product.category", |r| r.product.category = "0999".into()),
    ];
    let cases: Vec<(TraceRecord, &str)> = spoilers
        .iter()
        .enumerate()
        .map(|(k, (field, spoil))| {
            let mut r = good.clone();
            r.id = format!("bad-{k}");
            spoil(&mut r);
            (r, *field)
        })
        .collect();
    let mut all = vec![good.clone()];
    all.extend(cases.iter().map(|(r, _)| r.clone()));
    // Atomic: every rejection is listed, and nothing is stored.
    let r =
        json_of(import(&app, &w.key_a, "format=json&mode=atomic", serde_json::to_vec(&all).expect("json")).await, 200)
            .await;
    assert_eq!((r["status"].as_str(), r["stored"].as_bool()), (Some("refused"), Some(false)));
    assert_eq!(r["rejected"].as_u64(), Some(cases.len() as u64));
    for (k, (_, field)) in cases.iter().enumerate() {
        let rej = &r["rejections"][k];
        assert_eq!(rej["index"].as_u64(), Some(k as u64 + 1), "{rej}");
        assert_eq!(rej["field"], *field, "{rej}");
        assert!(
            rej["reason_zh"].as_str().is_some_and(|s| !s.is_empty())
                && rej["reason"].as_str().is_some_and(|s| !s.is_empty())
        );
    }
    assert_eq!(records_stored(&app), 0);
    // A dry run reports the same and stores nothing either.
    let r =
        json_of(import(&app, &w.key_a, "format=json&dry_run=true", serde_json::to_vec(&all).expect("json")).await, 200)
            .await;
    assert_eq!((r["status"].as_str(), r["accepted"].as_u64()), (Some("dry_run"), Some(1)));
    assert_eq!(records_stored(&app), 0);
    // Best effort stores the good record.
    let r = json_of(
        import(&app, &w.key_a, "format=json&mode=best_effort", serde_json::to_vec(&all).expect("json")).await,
        200,
    )
    .await;
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(cases.len() as u64)));
    assert_eq!(records_stored(&app), 1);
    // A short row is a bad row; the others still go in.
    let text = String::from_utf8(csv_of(&[record("q1", "TC-Q1", &seller, &buyer, 1.0, None)])).expect("utf8");
    let (header, row) = text.split_once('\n').expect("header");
    let csv = format!("{header}\nq2,TC-Q2\n{row}").into_bytes();
    let r = json_of(import(&app, &w.key_a, "format=csv", csv).await, 200).await;
    assert_eq!(r["accepted"], 1);
    assert_eq!(r["rejected"], 1);
    // JSON of the wrong shape, an unknown format, and a CSV without its columns are refused whole.
    let p =
        expect_problem(import(&app, &w.key_a, "format=json", b"12345".to_vec()).await, 422, "document_refused").await;
    assert_eq!(p["reason"], "json_shape");
    let p = expect_problem(
        import(&app, &w.key_a, "format=csv", b"id,stage\nx,retail\n".to_vec()).await,
        422,
        "document_refused",
    )
    .await;
    assert_eq!(p["reason"], "csv_missing_column");
    let p =
        expect_problem(import(&app, &w.key_a, "format=yaml", b"a: 1".to_vec()).await, 422, "validation_failed").await;
    assert_eq!(p["field"], "format");
    assert_eq!(records_stored(&app), 2);
}
both_backends!(bad_records_are_named_and_atomic_batches_store_nothing);

async fn exchange_envelopes_are_checked_whole(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let records: Vec<TraceRecord> =
        (0..3).map(|i| record(&format!("x{i}"), &format!("TX-{i}"), &seller, &buyer, 1.0, Some(3.0))).collect();
    let good = envelope("platform-a", &records);
    let r = json_of(w.key_a.send(&app, "/api/v1/exchange", "application/xml", good.clone()).await, 200).await;
    assert_eq!(r["accepted"], 3);
    assert!(r["message_id"].as_str().is_some_and(|m| !m.is_empty()));
    // Another tenant's name as sender, a tampered payload, a DOCTYPE, billion laughs: refused
    // with a stable reason, nothing stored.
    let more: Vec<TraceRecord> =
        (3..5).map(|i| record(&format!("x{i}"), &format!("TX-{i}"), &seller, &buyer, 1.0, None)).collect();
    let spoofed = envelope("platform-b", &more);
    let p = expect_problem(
        w.key_a.send(&app, "/api/v1/exchange", "application/xml", spoofed).await,
        422,
        "document_refused",
    )
    .await;
    assert_eq!(p["reason"], "sender_mismatch");
    let tampered = String::from_utf8(envelope("platform-a", &more)).expect("utf8").replace("TX-4", "TX-9").into_bytes();
    let p = expect_problem(
        w.key_a.send(&app, "/api/v1/exchange", "application/xml", tampered).await,
        422,
        "document_refused",
    )
    .await;
    assert_eq!(p["reason"], "payload_digest_mismatch");
    let doctype = String::from_utf8(envelope("platform-a", &more))
        .expect("utf8")
        .replacen("?>", "?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>", 1)
        .into_bytes();
    let p = expect_problem(
        w.key_a.send(&app, "/api/v1/exchange", "application/xml", doctype).await,
        422,
        "document_refused",
    )
    .await;
    assert_eq!(p["reason"], "xml_doctype");
    assert_eq!(records_stored(&app), 3);
    // A GB18030 envelope, as government systems send them, is decoded.
    let text = String::from_utf8(envelope("platform-a", &more)).expect("utf8").replacen("UTF-8", "GB18030", 1);
    let (encoded, _, _) = encoding_rs::GB18030.encode(&text);
    let r = json_of(w.key_a.send(&app, "/api/v1/exchange", "application/xml", encoded.into_owned()).await, 200).await;
    assert_eq!(r["accepted"], 2);
    // An XML client gets an ack envelope correlated with its message, naming what became of
    // each record.
    let again = envelope("platform-a", &more);
    let message_id = String::from_utf8(again.clone())
        .expect("utf8")
        .split("<MessageId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("id")
        .to_owned();
    let res = w
        .key_a
        .client
        .post(app.url("/api/v1/exchange"))
        .bearer_auth(&w.key_a.key)
        .header("Content-Type", "application/xml")
        .header("Accept", "application/xml")
        .body(again)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().expect("ct").starts_with("application/xml"));
    let ack = res.text().await.expect("ack");
    assert!(ack.contains("<Operation>ack</Operation>"), "{ack}");
    assert!(ack.contains(&format!("<CorrelationId>{message_id}</CorrelationId>")), "{ack}");
    assert!(ack.contains("duplicates=\"2\"") && ack.contains("<Duplicate index=\"0\" recordId=\"x3\"/>"), "{ack}");
    let page = json_of(w.key_a.get(&app, "/api/v1/trace/records?trace_code=TX-4").await, 200).await;
    assert_eq!(page["rows"][0]["record"]["from"]["name"], "西湖鲜果有限公司");
    aggregates_equal_recount(&app);
}
both_backends!(exchange_envelopes_are_checked_whole);

async fn policies_limits_jobs_and_search(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let stranger = code("330106", 599);
    let a_id = w.a["id"].as_str().expect("id").to_owned();
    // Flag (the default): stored, counted, flagged with an anomaly.
    let r = json_of(
        import(
            &app,
            &w.key_a,
            "format=json",
            serde_json::to_vec(&[record("f1", "TP-1", &seller, &stranger, 1.0, None)]).expect("json"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!((r["accepted"].as_u64(), r["flagged"].as_u64()), (Some(1), Some(1)));
    // The flag is an anomaly the tenant sees and node staff review, once, with an audit row.
    let list = json_of(w.key_a.get(&app, "/api/v1/quality/anomalies?status=open").await, 200).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!((list[0]["record_id"].as_str(), list[0]["rule"].as_str()), (Some("f1"), Some("unknown_reference")));
    let theirs = json_of(w.key_b.get(&app, "/api/v1/quality/anomalies").await, 200).await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(0));
    let anomaly = list[0]["id"].as_str().expect("id").to_owned();
    let review = format!("/api/v1/quality/anomalies/{anomaly}/review");
    expect_problem(w.key_a.post(&app, &review, json!({"decision": "dismissed"})).await, 403, "forbidden").await;
    let p =
        expect_problem(w.reviewer.post(&app, &review, json!({"decision": "maybe"})).await, 422, "validation_failed")
            .await;
    assert_eq!(p["field"], "decision");
    let done =
        json_of(w.reviewer.post(&app, &review, json!({"decision": "confirmed", "note": "下游商户未登记"})).await, 200)
            .await;
    assert_eq!((done["status"].as_str(), done["reviewed_by"].as_str()), (Some("confirmed"), Some("reviewer")));
    expect_problem(w.reviewer.post(&app, &review, json!({"decision": "dismissed"})).await, 409, "conflict").await;
    assert_eq!(app.audit_count("anomaly.review", "success"), 1);
    // The quality report counts what the tenant sent and its anomalies by review.
    let report = json_of(w.key_a.get(&app, "/api/v1/quality/report").await, 200).await;
    assert_eq!(
        (report["submissions"].as_u64(), report["accepted"].as_u64(), report["flagged"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["anomalies"][0]["confirmed"], 1);
    let staff = json_of(
        w.reviewer.get(&app, &format!("/api/v1/quality/report?tenant={a_id}&from=2026-01-01&to=2026-12-31")).await,
        200,
    )
    .await;
    assert_eq!(staff["received"], 1);
    let xlsx =
        w.reviewer.get(&app, &format!("/api/v1/quality/report.xlsx?tenant={a_id}")).await.bytes().await.expect("bytes");
    assert_eq!(&xlsx[..2], b"PK", "an XLSX is a zip");
    let p = expect_problem(
        w.key_a.get(&app, "/api/v1/quality/report?from=2026-12-01&to=2026-01-01").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "from");
    let b_id = w.b["id"].as_str().expect("id");
    expect_problem(w.key_a.get(&app, &format!("/api/v1/quality/report?tenant={b_id}")).await, 403, "out_of_scope")
        .await;
    // Quarantine: stored apart and not counted.
    let res =
        w.sys.put(&app, &format!("/api/v1/ingest/policies/{a_id}"), json!({"unknown_reference": "quarantine"})).await;
    expect_problem(res, 403, "forbidden").await;
    let res = w
        .reviewer
        .put(&app, &format!("/api/v1/ingest/policies/{a_id}"), json!({"unknown_reference": "quarantine"}))
        .await;
    assert_eq!(res.status(), 200);
    let r = json_of(
        import(
            &app,
            &w.key_a,
            "format=json",
            serde_json::to_vec(&[record("q1", "TP-2", &seller, &stranger, 1.0, None)]).expect("json"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!((r["accepted"].as_u64(), r["quarantined"].as_u64()), (Some(1), Some(1)));
    let page = json_of(w.key_a.get(&app, "/api/v1/trace/records?status=quarantined").await, 200).await;
    assert_eq!(page["total"], 1);
    aggregates_equal_recount(&app);
    // Reject: refused, naming the party.
    let res = w
        .reviewer
        .put(
            &app,
            &format!("/api/v1/ingest/policies/{a_id}"),
            json!({"unknown_reference": "reject", "max_body_bytes": 4096, "submissions_per_minute": 30}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let r = json_of(
        import(
            &app,
            &w.key_a,
            "format=json",
            serde_json::to_vec(&[record("j1", "TP-3", &seller, &stranger, 1.0, None)]).expect("json"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(r["rejections"][0]["field"], "to.code");
    // The tenant's own body limit.
    let big: Vec<TraceRecord> =
        (0..40).map(|i| record(&format!("b{i}"), &format!("TB-{i}"), &seller, &buyer, 1.0, None)).collect();
    expect_problem(
        import(&app, &w.key_a, "format=json", serde_json::to_vec(&big).expect("json")).await,
        413,
        "payload_too_large",
    )
    .await;
    let res = w
        .reviewer
        .put(
            &app,
            &format!("/api/v1/ingest/policies/{a_id}"),
            json!({"unknown_reference": "flag", "submissions_per_minute": 1}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // More submissions than the tenant's rate allows.
    expect_problem(import(&app, &w.key_a, "format=json", b"[]".to_vec()).await, 429, "rate_limited").await;
    let res =
        w.reviewer.put(&app, &format!("/api/v1/ingest/policies/{a_id}"), json!({"unknown_reference": "flag"})).await;
    assert_eq!(res.status(), 200);
    // An asynchronous job: 202, a status URL, then the receipt.
    let res = import(&app, &w.key_a, "format=csv&async=true", csv_of(&big)).await;
    assert_eq!(res.status(), 202);
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("location").to_owned();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = json_of(w.key_a.get(&app, &location).await, 200).await;
        if status["submission"]["status"] == "stored" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status["submission"]["status"], "stored", "{status}");
    assert_eq!(status["receipt"]["accepted"], 40);
    // The spooled body is removed once its records are committed.
    let spool = app.node_dir().join("spool");
    let left = || std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    for _ in 0..100 {
        if left() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left(), 0, "the spooled body is removed");
    // Search by batch, stage, region, reporter and day; a bad filter names itself.
    for q in [
        "batch=B20261120",
        "stage=distribution_sale",
        "region=330100",
        "reporter=330100",
        "from=2026-11-20&to=2026-11-20",
        "category=01",
    ] {
        let page = json_of(w.key_a.get(&app, &format!("/api/v1/trace/records?{q}&page_size=10")).await, 200).await;
        assert_eq!(page["total"], 42, "{q}");
        assert_eq!(page["rows"].as_array().map(Vec::len), Some(10), "{q}");
    }
    let page = json_of(w.key_a.get(&app, "/api/v1/trace/records?from=2026-11-21").await, 200).await;
    assert_eq!(page["total"], 0);
    let p =
        expect_problem(w.key_a.get(&app, "/api/v1/trace/records?stage=selling").await, 422, "validation_failed").await;
    assert_eq!(p["field"], "stage");
    aggregates_equal_recount(&app);
}
both_backends!(policies_limits_jobs_and_search);

async fn epcis_and_vendor_formats_come_in_too(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    // EPCIS 2.0 JSON-LD written by the adapter: stored like any other format.
    let records: Vec<TraceRecord> =
        (0..2).map(|i| record(&format!("e{i}"), &format!("TE-{i}"), &seller, &buyer, 1.0, None)).collect();
    let mut doc = Vec::new();
    Format::Epcis.encode(&mut doc, &Header::default(), &records).expect("epcis");
    let r = json_of(import(&app, &w.key_a, "format=epcis", doc).await, 200).await;
    assert_eq!(r["accepted"], 2, "{r}");
    // GS1's own example: the acting parties are the GLNs of the business locations, which
    // this node has not registered: stored, counted in the tenant's region, and flagged.
    let example = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../adapters/tests/data/epcis2/Example_9.6.1-ObjectEvent.jsonld"),
    )
    .expect("example");
    let r = json_of(import(&app, &w.key_a, "format=epcis", example).await, 200).await;
    assert_eq!(
        (r["received"].as_u64(), r["accepted"].as_u64(), r["flagged"].as_u64()),
        (Some(3), Some(3), Some(3)),
        "{r}"
    );
    // A vendor's JSON through the shipped mapping: 斤 become kilograms.
    let vendor = json!([{"billNo": "PF-1", "trade": {"type": "批发", "dir": "销售", "weight": "120", "unit": "斤",
        "unitPrice": "3.6", "time": "20261120103000"},
        "seller": {"creditCode": seller, "name": "西湖鲜果", "areaCode": "330106"},
        "buyer": {"creditCode": buyer, "name": "城西超市", "areaCode": "330106"},
        "goods": {"traceCode": "TV-1", "name": "红富士苹果", "kind": "01", "spec": "5kg/箱", "lot": "B1120"},
        "market": "杭州农副产品物流中心"}]);
    let r = json_of(
        import(&app, &w.key_a, "format=vendor:hz-wholesale", serde_json::to_vec(&vendor).expect("json")).await,
        200,
    )
    .await;
    assert_eq!(r["accepted"], 1, "{r}");
    let page = json_of(w.key_a.get(&app, "/api/v1/trace/records?trace_code=TV-1").await, 200).await;
    assert_eq!(page["rows"][0]["record"]["act"]["quantity"], 60.0);
    assert_eq!(page["rows"][0]["record"]["act"]["unit"], "千克");
    assert_eq!(page["rows"][0]["record"]["act"]["price"], 7.2);
    let p =
        expect_problem(import(&app, &w.key_a, "format=vendor:nobody", b"[]".to_vec()).await, 422, "validation_failed")
            .await;
    assert_eq!(p["field"], "format");
    aggregates_equal_recount(&app);
}
both_backends!(epcis_and_vendor_formats_come_in_too);

/// From, its region, to, its region, trace code, batch, stage, direction, quantity
/// (thousandths), unit.
type Trade = (String, String, String, String, String, String, String, String, i64, String);

/// The stored fields of a tenant's records that a format decides, in time order (without the
/// record's id, which each format names its own way).
fn stored_trades(app: &TestApp, tenant: &str) -> Vec<Trade> {
    use diesel::prelude::*;
    use tracenode::db::schema::trace_records as t;
    let mut conn = app.db.conn().expect("conn");
    t::table
        .filter(t::tenant_id.eq(tenant))
        .order(t::seq)
        .select((
            t::from_code,
            t::from_region,
            t::to_code,
            t::to_region,
            t::trace_code,
            t::batch,
            t::stage,
            t::direction,
            t::quantity_milli,
            t::unit,
        ))
        .load(&mut *conn)
        .expect("rows")
}

/// A standard EPCIS 2.0 document with no extension of ours (docs/examples/epcis-plain.jsonld:
/// parties by PGLN and Digital Link, GS1 units, an LGTIN) is taken as its publisher wrote it:
/// the parties resolve to the entities registered with those GLNs, the acting party's
/// region comes from the registry, and the records equal those of the same trades in CSV
/// (docs/examples/trade.csv). GS1's own examples are taken too, their unregistered parties
/// counted in the tenant's region and flagged; nothing is refused for a missing region.
async fn standard_epcis_counts_as_csv_does(app: TestApp) {
    let w = world(&app).await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    for (code, name, gln) in [
        ("91330106MA2H7K017H", "西湖鲜果有限公司", "6901234000016"),
        ("91330106MA2H7K025C", "城西超市", "6901234000023"),
    ] {
        let mut body = entity(code, name, "330106");
        body["gln"] = json!(gln);
        let created = json_of(w.key_a.post(&app, "/api/v1/registry/entities", body).await, 201).await;
        assert_eq!(created["entity"]["gln"], gln, "{created}");
    }
    // A GLN that is not one, and one another entity holds, are refused by field.
    let mut bad = entity(&code("330106", 703), "错码商行", "330106");
    bad["gln"] = json!("6901234000017");
    let p =
        expect_problem(w.key_a.post(&app, "/api/v1/registry/entities", bad.clone()).await, 422, "validation_failed")
            .await;
    assert_eq!(p["field"], "gln", "{p}");
    bad["gln"] = json!("6901234000016");
    let p = expect_problem(w.key_a.post(&app, "/api/v1/registry/entities", bad).await, 422, "validation_failed").await;
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("91330106MA2H7K017H")), "{p}");

    let epcis = std::fs::read(examples.join("epcis-plain.jsonld")).expect("epcis example");
    let r = json_of(import(&app, &w.key_a, "format=epcis", epcis.clone()).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["flagged"].as_u64()), (Some(2), Some(0)), "{r}");
    let tenant = w.a["id"].as_str().expect("tenant");
    let from_epcis = stored_trades(&app, tenant);
    let csv = std::fs::read(examples.join("trade.csv")).expect("csv example");
    let r = json_of(import(&app, &w.key_a, "format=csv", csv).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["flagged"].as_u64()), (Some(2), Some(0)), "{r}");
    let all = stored_trades(&app, tenant);
    assert_eq!(all[..2], all[2..], "EPCIS and CSV give the same records");
    assert_eq!(all[..2], from_epcis[..]);
    assert_eq!(
        (all[0].0.as_str(), all[0].1.as_str(), all[0].2.as_str(), all[0].7.as_str(), all[0].8),
        ("91330106MA2H7K017H", "330106", "91330106MA2H7K025C", "out", 120_000)
    );
    // Sent again: duplicates, whatever the registry says by now.
    let r = json_of(import(&app, &w.key_a, "format=epcis", epcis).await, 200).await;
    assert_eq!(r["duplicates"], 2, "{r}");
    aggregates_equal_recount(&app);

    // Every one of GS1's examples, through a platform of another district: nothing is
    // refused for a party's code or region.
    let gs1 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters/tests/data/epcis2");
    let (mut accepted, mut flagged) = (0, 0);
    for entry in std::fs::read_dir(gs1).expect("examples").flatten() {
        if entry.path().extension().is_none_or(|e| e != "jsonld") {
            continue;
        }
        let body = std::fs::read(entry.path()).expect("example");
        let r = json_of(import(&app, &w.key_b, "format=epcis&mode=best_effort", body).await, 200).await;
        accepted += r["accepted"].as_u64().unwrap_or(0);
        flagged += r["flagged"].as_u64().unwrap_or(0);
        for rejection in r["rejections"].as_array().into_iter().flatten() {
            let field = rejection["field"].as_str().unwrap_or("");
            assert!(
                !field.ends_with(".region") && !field.ends_with(".code"),
                "{}: {rejection}",
                entry.path().display()
            );
        }
    }
    assert!(accepted >= 20 && flagged > 0, "accepted {accepted}, flagged {flagged}");
    let regions: Vec<String> = {
        use diesel::prelude::*;
        use tracenode::db::schema::trace_records as t;
        let mut conn = app.db.conn().expect("conn");
        t::table
            .filter(t::tenant_id.eq(w.b["id"].as_str().expect("b")))
            .select(t::region)
            .distinct()
            .load(&mut *conn)
            .expect("regions")
    };
    assert_eq!(regions, ["330102"], "unregistered acting parties count in the tenant's region");
    aggregates_equal_recount(&app);
}
both_backends!(standard_epcis_counts_as_csv_does);

/// An EPCIS event whose lists name no party on the acting side happens at its `bizLocation`:
/// an SGLN of a registered site makes the site's sole operator the acting party, and a
/// market with no single operator gives its region (not the tenant's). The event's
/// `bizTransactionList` travels as the record's voucher, back out through the search.
async fn epcis_locations_name_registered_sites_and_vouchers_travel(app: TestApp) {
    use tracenode_adapters::identifiers::Gln;
    let w = world(&app).await;
    let c = app.tenant(&w.sys, "platform-c", "330100").await;
    let key_c = Machine { client: app.client(), key: app.api_key(&w.sys, &w.sec, c["id"].as_str().expect("id")).await };
    let (shop_sgln, market_sgln) = ("urn:epc:id:sgln:6901234.00077.0", "https://id.gs1.org/414/6901234000788");
    let shop_gln = Gln::of_identifier(shop_sgln).expect("gln").as_str().to_owned();
    let market_gln = Gln::of_identifier(market_sgln).expect("gln").as_str().to_owned();
    let site = |code: &str, kind: &str, region: &str, gln: &str| json!({"code": code, "name": format!("{code} 场所"), "kind": kind, "region": region, "gln": gln});
    let p = expect_problem(
        key_c.post(&app, "/api/v1/registry/sites", site("cx-shop", "supermarket", "330106", "6901234000772")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "gln", "a wrong check digit: {p}");
    let made = json_of(
        key_c.post(&app, "/api/v1/registry/sites", site("cx-shop", "supermarket", "330106", &shop_gln)).await,
        201,
    )
    .await;
    assert_eq!(made["gln"], shop_gln.as_str(), "{made}");
    let res = key_c.post(&app, "/api/v1/registry/sites", site("cx-shop-2", "supermarket", "330106", &shop_gln)).await;
    assert_eq!(res.status(), 409, "one GLN, one site");
    json_of(
        key_c.post(&app, "/api/v1/registry/sites", site("bj-market", "farmers_market", "330108", &market_gln)).await,
        201,
    )
    .await;
    let (operator, buyer) = (code("330106", 611), code("330106", 612));
    let mut body = entity(&operator, "城西超市有限公司", "330106");
    body["site_code"] = json!("cx-shop");
    json_of(key_c.post(&app, "/api/v1/registry/entities", body).await, 201).await;
    json_of(key_c.post(&app, "/api/v1/registry/entities", entity(&buyer, "城西饭店", "330106")).await, 201).await;

    let event = |lot: &str, step: &str, at: &str, lists: Value| {
        let mut e = json!({
            "type": "ObjectEvent", "eventID": format!("urn:example:event:{lot}"),
            "eventTime": "2026-11-20T09:00:00+08:00", "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
            "bizStep": step, "bizLocation": {"id": at},
            "quantityList": [{"epcClass": format!("urn:epc:class:lgtin:6901234.012345.{lot}"), "quantity": 12, "uom": "KGM"}]
        });
        e.as_object_mut().expect("object").extend(lists.as_object().expect("lists").clone());
        e
    };
    let sale = event(
        "S1",
        "shipping",
        shop_sgln,
        json!({
            "destinationList": [{"type": "owning_party", "destination": buyer}],
            "bizTransactionList": [
                {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:6901234000016:PO-1152"},
                {"type": "urn:epcglobal:cbv:btt:inv", "bizTransaction": "urn:epcglobal:cbv:bt:6901234000016:INV-77"}]
        }),
    );
    let intake =
        event("R22", "receiving", market_sgln, json!({"sourceList": [{"type": "owning_party", "source": buyer}]}));
    let doc = json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-20T10:00:00+08:00",
        "epcisBody": {"eventList": [sale, intake]}});
    let r = json_of(import(&app, &key_c, "format=epcis", serde_json::to_vec(&doc).expect("doc")).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["flagged"].as_u64()), (Some(2), Some(1)), "{r}");

    let page = json_of(key_c.get(&app, "/api/v1/trace/records?page_size=10").await, 200).await;
    let rows = page["rows"].as_array().expect("rows");
    let hit = |lot: &str| {
        rows.iter().find(|h| h["record"]["product"]["batch"] == lot).unwrap_or_else(|| panic!("{lot}: {page}"))
    };
    let sold = hit("S1");
    assert_eq!(sold["record"]["from"]["code"], operator.as_str(), "the shop's operator sold: {sold}");
    assert_eq!(sold["region"], "330106");
    assert_eq!(
        sold["record"]["act"]["voucher"],
        "po:urn:epcglobal:cbv:bt:6901234000016:PO-1152 inv:urn:epcglobal:cbv:bt:6901234000016:INV-77"
    );
    let taken = hit("R22");
    assert_eq!(taken["record"]["to"]["code"], market_gln.as_str(), "a market has no one operator: {taken}");
    assert_eq!(taken["region"], "330108", "counted at the market, not in the tenant's 330100: {taken}");
    assert!(taken["record"]["act"].get("voucher").is_none(), "{taken}");
    let res = import(&app, &key_c, "format=epcis", serde_json::to_vec(&doc).expect("doc")).await;
    assert_eq!(json_of(res, 200).await["duplicates"], 2, "a resend, voucher and all, is a duplicate");
}
both_backends!(epcis_locations_name_registered_sites_and_vouchers_travel);

/// The guide's exchange envelope (docs/examples/exchange.xml), its payload digest computed by
/// hand as the guide says (numbers as decimal text: `371`, `28.5`), is taken; a digest over
/// anything else is refused saying what the records hash to and the first one's canonical
/// form.
async fn the_guides_exchange_envelope_is_taken(app: TestApp) {
    let w = world(&app).await;
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/exchange.xml");
    let xml = std::fs::read_to_string(example).expect("example");
    let wrong = xml.replace("98062009a972059c4f8a0d68a113a586", "00000000000000000000000000000000");
    let p = expect_problem(
        w.key_a.send(&app, "/api/v1/exchange", "application/xml", wrong.into_bytes()).await,
        422,
        "document_refused",
    )
    .await;
    assert_eq!(p["reason"], "payload_digest_mismatch");
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("98062009a972059c4f8a0d68a113a586139b4ea52687a8d315a10f3e2b91f49e"), "{p}");
    assert!(detail.contains(r#""quantity":371,"#), "{p}");
    assert_eq!(records_stored(&app), 0);
    let r = json_of(w.key_a.send(&app, "/api/v1/exchange", "application/xml", xml.into_bytes()).await, 200).await;
    assert_eq!(r["accepted"], 1, "{r}");
}
both_backends!(the_guides_exchange_envelope_is_taken);

/// The XML Schema the node serves for its envelope holds for the guide's example, for the
/// envelopes the node's own writer makes (empty optional attributes, a correction) and for the
/// node's acknowledgement with a rejection; libxml2 refuses, as the node does, a stage outside
/// the list and a record without its act.
async fn the_exchange_envelope_matches_the_served_xsd(app: TestApp) {
    let w = world(&app).await;
    let res = app.client().get(app.url("/api/v1/schemas/exchange.xsd")).send().await.expect("anonymous");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().expect("ct").starts_with("application/xml"));
    let xsd = res.text().await.expect("xsd");
    assert!(xsd.contains(r#"targetNamespace="urn:tracenode:exchange:1""#), "{xsd}");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/exchange.xml");
    let example = std::fs::read(example).expect("example");
    crate::support::xmllint(&xsd, &example).expect("the guide's example");

    let (seller, buyer) = parties(&app, &w).await;
    let mut sale = record("s1", "TX-XSD-1", &seller, &buyer, 2.0, None);
    sale.product.production_date = None;
    sale.product.shelf_life_days = None;
    let mut fix = record("s1-fix", "TX-XSD-1", &seller, &buyer, 3.0, Some(4.25));
    fix.corrects = Some("s1".into());
    fix.act.voucher = "inv:INV-2026-0042".into();
    let mut bad = record("s2", "TX-XSD-2", &seller, &buyer, -1.0, None);
    bad.act.time = "2026-11-20 09:30".into();
    let written = envelope("platform-a", &[sale, fix, bad]);
    crate::support::xmllint(&xsd, &written).expect("the node's own writer");
    let res = w
        .key_a
        .client
        .post(app.url("/api/v1/exchange?mode=best_effort"))
        .bearer_auth(&w.key_a.key)
        .header("Content-Type", "application/xml")
        .header("Accept", "application/xml")
        .body(written)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    let ack = res.text().await.expect("ack");
    assert!(ack.contains("<Rejection index=\"2\""), "{ack}");
    crate::support::xmllint(&xsd, ack.as_bytes()).expect("the node's acknowledgement");

    let text = String::from_utf8(example).expect("utf8");
    let selling = text.replace(r#"stage="distribution_sale""#, r#"stage="selling""#);
    let said = crate::support::xmllint(&xsd, selling.as_bytes()).expect_err("a stage outside the list");
    assert!(said.contains("stage"), "{said}");
    let actless = text.lines().filter(|l| !l.trim_start().starts_with("<Act ")).collect::<Vec<_>>().join("\n");
    crate::support::xmllint(&xsd, actless.as_bytes()).expect_err("a record without its act");
    for refused in [selling, actless] {
        let res = w.key_a.send(&app, "/api/v1/exchange", "application/xml", refused.into_bytes()).await;
        assert_eq!(res.status(), 422, "the node refuses it too");
    }
    assert_eq!(records_stored(&app), 2);
}
both_backends!(the_exchange_envelope_matches_the_served_xsd);

/// The guide's JSON and NDJSON examples (docs/examples/records.json, records.ndjson): a sale,
/// then its correction and the buyer's report; the correction replaces the sale in the
/// totals, and a resend is a duplicate.
async fn the_guides_json_examples_are_taken(app: TestApp) {
    let w = world(&app).await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let sale = std::fs::read(examples.join("records.json")).expect("json example");
    let r = json_of(import(&app, &w.key_a, "format=json", sale).await, 200).await;
    assert_eq!(r["accepted"], 1, "{r}");
    let later = std::fs::read(examples.join("records.ndjson")).expect("ndjson example");
    let r = json_of(import(&app, &w.key_a, "format=ndjson", later.clone()).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["corrected"].as_u64()), (Some(2), Some(1)), "{r}");
    let totals = |direction: &str| -> (i64, i64) {
        let mut conn = app.db.conn().expect("conn");
        daily::stored(&mut conn, None)
            .expect("stored")
            .iter()
            .filter(|(k, _)| k.direction == direction)
            .fold((0, 0), |(n, q), (_, t)| (n + t.records, q + t.quantity_milli))
    };
    assert_eq!(totals("out"), (1, 85_000), "the correction replaced the sale");
    assert_eq!(totals("in"), (1, 85_000), "the buyer's report");
    let r = json_of(import(&app, &w.key_a, "format=ndjson", later).await, 200).await;
    assert_eq!(r["duplicates"], 2, "{r}");
    aggregates_equal_recount(&app);
    // The code lists the records were checked against, as a platform reads them.
    let lists = json_of(w.key_a.get(&app, "/api/v1/code-lists").await, 200).await;
    let codes = |list: &str| -> Vec<String> {
        lists[list].as_array().expect("list").iter().filter_map(|c| c["code"].as_str().map(str::to_owned)).collect()
    };
    assert_eq!(codes("stages").len(), 7);
    assert!(codes("stages").contains(&"distribution_sale".to_owned()));
    assert_eq!(codes("directions"), ["out", "in"]);
    assert!(codes("schemes").contains(&"gs1".to_owned()));
    assert!(codes("categories").contains(&"01".to_owned()), "{lists}");
    let kilo = lists["units"].as_array().expect("units").iter().find(|u| u["name"] == "千克").expect("千克");
    assert!(kilo["written_as"].as_array().is_some_and(|w| w.iter().any(|x| x == "KGM")), "{kilo}");
    let res = app.client().get(app.url("/api/v1/code-lists")).send().await.expect("anonymous");
    assert_eq!(res.status(), 401);
}
both_backends!(the_guides_json_examples_are_taken);

/// The served JSON Schema of a trace record (taken from the OpenAPI components) holds every
/// record of the guide's JSON and NDJSON examples, and refuses what the node refuses to
/// decode: an unknown field, a stage not in the code list, a missing part.
async fn the_guides_records_match_the_served_schema(app: TestApp) {
    let res = app.client().get(app.url("/api/v1/schemas/trace-record.json")).send().await.expect("get");
    assert_eq!(res.headers()["content-type"], "application/schema+json");
    let schema: serde_json::Value = res.json().await.expect("schema");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let json: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(examples.join("records.json")).expect("json")).expect("array");
    let ndjson = std::fs::read_to_string(examples.join("records.ndjson")).expect("ndjson");
    let lines: Vec<serde_json::Value> =
        ndjson.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("line")).collect();
    assert_eq!((json.len(), lines.len()), (1, 2));
    for record in json.iter().chain(&lines) {
        let errors: Vec<String> = validator.iter_errors(record).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?} in {record}");
    }
    let mut unknown_field = json[0].clone();
    unknown_field["act"]["colour"] = "red".into();
    let mut bad_stage = json[0].clone();
    bad_stage["act"]["stage"] = "teleport".into();
    let mut no_product = json[0].clone();
    no_product.as_object_mut().expect("object").remove("product");
    for bad in [unknown_field, bad_stage, no_product] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
    let missing = app.client().get(app.url("/api/v1/schemas/nothing.json")).send().await.expect("get");
    expect_problem(missing, 404, "not_found").await;
}
both_backends!(the_guides_records_match_the_served_schema);

/// An EPCIS error declaration retracts the records its event made: they stop counting and
/// nothing takes their place; a resent declaration is a duplicate; one for an event never
/// received, or a retraction naming no record, is rejected.
async fn epcis_error_declarations_retract(app: TestApp) {
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let records: Vec<TraceRecord> =
        (0..2).map(|i| record(&format!("x{i}"), &format!("TX-{i}"), &seller, &buyer, 2.0, Some(5.0))).collect();
    let mut doc = Vec::new();
    Format::Epcis.encode(&mut doc, &Header::default(), &records).expect("epcis");
    let r = json_of(import(&app, &w.key_a, "format=epcis", doc.clone()).await, 200).await;
    assert_eq!(r["accepted"], 2, "{r}");
    let records_of_day = |app: &TestApp| -> i64 {
        let mut conn = app.db.conn().expect("conn");
        daily::stored(&mut conn, None).expect("stored").iter().map(|(_, t)| t.records).sum()
    };
    assert_eq!(records_of_day(&app), 2);

    // The first event sent again, declared in error.
    let mut declared: Value = serde_json::from_slice(&doc).expect("json");
    let events = declared["epcisBody"]["eventList"].as_array_mut().expect("events");
    events.truncate(1);
    events[0]["errorDeclaration"] = json!({"declarationTime": "2026-11-21T09:00:00Z", "reason": "incorrect_data"});
    let body = serde_json::to_vec(&declared).expect("json");
    let r = json_of(import(&app, &w.key_a, "format=epcis", body.clone()).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["corrected"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(records_of_day(&app), 1, "the retracted record no longer counts");
    aggregates_equal_recount(&app);
    let page = json_of(w.key_a.get(&app, "/api/v1/trace/records?trace_code=TX-0").await, 200).await;
    let mut statuses: Vec<(String, String)> = page["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (row["record"]["id"].as_str().unwrap_or("").to_owned(), row["status"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [("x0".to_owned(), "superseded".to_owned()), ("x0/retraction".to_owned(), "retraction".to_owned())],
        "{page}"
    );

    // Sent again: a duplicate, nothing changes.
    let r = json_of(import(&app, &w.key_a, "format=epcis", body).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(1)), "{r}");
    assert_eq!(records_of_day(&app), 1);

    // A declaration of an event this node never received; a retraction naming no record.
    let mut unknown = declared.clone();
    unknown["epcisBody"]["eventList"][0]["tn:record"]["id"] = json!("never-sent");
    let r = json_of(
        import(&app, &w.key_a, "format=epcis&mode=best_effort", serde_json::to_vec(&unknown).expect("json")).await,
        200,
    )
    .await;
    assert_eq!(
        (r["accepted"].as_u64(), r["rejections"][0]["code"].as_str()),
        (Some(0), Some("correction_target")),
        "{r}"
    );
    let mut bare = serde_json::to_value(record("x9", "TX-9", &seller, &buyer, 1.0, None)).expect("json");
    bare["retraction"] = json!(true);
    let r = json_of(
        import(&app, &w.key_a, "format=json&mode=best_effort", serde_json::to_vec(&json!([bare])).expect("json")).await,
        200,
    )
    .await;
    assert_eq!(r["rejections"][0]["field"], "corrects", "{r}");
    assert_eq!(records_of_day(&app), 1);
}
both_backends!(epcis_error_declarations_retract);

/// A vendor's API serving three records in two pages after the cursor `since`, the way the
/// `hz-wholesale` mapping reads them.
async fn vendor_api(seller: String, buyer: String) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let server = HttpServer::new(move || {
        let (seller, buyer, counted) = (seller.clone(), buyer.clone(), counted.clone());
        App::new().route(
            "/trades",
            web::get().to(move |req: HttpRequest| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let since = req.query_string().split('&').find_map(|kv| kv.strip_prefix("since=")).unwrap_or("").to_owned();
                let trade = |bill: &str, code: &str| {
                    json!({"billNo": bill, "trade": {"type": "批发", "dir": "销售", "weight": "10", "unit": "公斤",
                           "unitPrice": "4", "time": "20261120103000"},
                           "seller": {"creditCode": seller, "name": "西湖鲜果", "areaCode": "330106"},
                           "buyer": {"creditCode": buyer, "name": "城西超市", "areaCode": "330106"},
                           "goods": {"traceCode": code, "name": "红富士苹果", "kind": "01", "spec": "5kg/箱", "lot": "B7"},
                           "market": "杭州农副产品物流中心"})
                };
                let (page, next) = match since.as_str() {
                    "" => (json!([trade("P-1", "TP-1"), trade("P-2", "TP-2")]), "c1"),
                    "c1" => (json!([trade("P-3", "TP-3")]), "c2"),
                    _ => (json!([]), "c2"),
                };
                async move { HttpResponse::Ok().insert_header(("X-Next-Cursor", next)).json(page) }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (port, calls)
}

async fn pulls_follow_the_vendors_cursor(backend: crate::support::Backend) {
    let (seller, buyer) = (code("330106", 501), code("330106", 502));
    let (port, calls) = vendor_api(seller.clone(), buyer.clone()).await;
    let extra = format!(
        "[[ingest.pull]]\nname = \"wholesale-api\"\ntenant = \"platform-a\"\nurl = \"http://127.0.0.1:{port}/trades\"\n\
         format = \"vendor:hz-wholesale\"\ncursor_param = \"since\"\n\n\
         [[ingest.pull]]\nname = \"gone\"\ntenant = \"platform-a\"\nurl = \"http://127.0.0.1:9/trades\"\nformat = \"json\"\n"
    );
    let app = TestApp::spawn_with(backend, &extra).await;
    let w = world(&app).await;
    parties(&app, &w).await;
    let r = json_of(w.reviewer.post(&app, "/api/v1/ingest/pulls/wholesale-api/run", json!({})).await, 200).await;
    assert_eq!(
        (r["pages"].as_u64(), r["accepted"].as_u64(), r["cursor"].as_str()),
        (Some(3), Some(3), Some("c2")),
        "{r}"
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Nothing new: one request, nothing stored, the cursor stays.
    let r = json_of(w.reviewer.post(&app, "/api/v1/ingest/pulls/wholesale-api/run", json!({})).await, 200).await;
    assert_eq!(
        (r["pages"].as_u64(), r["accepted"].as_u64(), r["cursor"].as_str()),
        (Some(1), Some(0), Some("c2")),
        "{r}"
    );
    assert_eq!(records_stored(&app), 3);
    let page = json_of(w.key_a.get(&app, "/api/v1/trace/records?trace_code=TP-3").await, 200).await;
    assert_eq!(page["total"], 1);
    // A source that cannot be reached fails clearly, and the failure is kept.
    let p =
        expect_problem(w.reviewer.post(&app, "/api/v1/ingest/pulls/gone/run", json!({})).await, 502, "upstream_failed")
            .await;
    assert!(p["detail_zh"].as_str().is_some_and(|d| d.contains("拉取 gone 失败")), "{p}");
    let states = json_of(w.reviewer.get(&app, "/api/v1/ingest/pulls").await, 200).await;
    assert_eq!(states[0]["cursor"], "c2");
    assert!(states[1]["last_error"].as_str().is_some_and(|e| e.contains("无法连接")), "{states}");
    // Each run is counted on the day for its tenant, failures apart: three runs, one failed.
    let counted: Vec<(String, i64, i64)> = {
        use diesel::prelude::*;
        use tracenode::db::schema::pull_days as pd;
        let mut conn = app.db.conn().expect("conn");
        pd::table.order(pd::source).select((pd::source, pd::runs, pd::failures)).load(&mut *conn).expect("pull days")
    };
    assert_eq!(counted, [("gone".to_owned(), 1, 1), ("wholesale-api".to_owned(), 2, 0)]);
    // Tenants do not run the node's pulls.
    expect_problem(w.key_a.post(&app, "/api/v1/ingest/pulls/wholesale-api/run", json!({})).await, 403, "forbidden")
        .await;
    expect_problem(w.reviewer.post(&app, "/api/v1/ingest/pulls/nobody/run", json!({})).await, 404, "not_found").await;
}

crate::on_both_backends!(pulls_follow_the_vendors_cursor);
