//! Alerts of transmission monitoring end to end: a silent sender and a failing one raise an
//! alert that reaches a real SMTP server (STARTTLS, verified certificate) and a webhook
//! (signed), once; the alert resolves when the sender is back and says so again. Channels
//! refuse bad input, a tenant sees only its own alerts, and an unreachable webhook is kept
//! for another attempt.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::ingest::{import, json_of, parties, record};
use crate::registry::world;
use crate::smtp::SmtpServer;
use crate::support::{expect_problem, Backend, TestApp};

/// A request the webhook receiver got: its headers (lower-case names) and body.
pub(crate) type Received = Arc<Mutex<Vec<(std::collections::HashMap<String, String>, Vec<u8>)>>>;

/// A webhook receiver on loopback; answers 204 to every POST.
pub(crate) async fn receiver() -> (String, Received) {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    let got: Received = Arc::default();
    let kept = got.clone();
    let server = HttpServer::new(move || {
        let kept = kept.clone();
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                kept.lock().expect("lock").push((headers, body.to_vec()));
                async { HttpResponse::NoContent().finish() }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind");
    let url = format!("http://127.0.0.1:{}/hook", server.addrs()[0].port());
    tokio::spawn(server.run());
    (url, got)
}

const CHECK: &str = "/api/v1/ingest/alerts/check";

/// Moves every submission `minutes` into the past, as if that time had gone by.
fn time_passes(app: &TestApp, minutes: i64) {
    use diesel::prelude::*;
    use tracenode::db::schema::submissions::dsl as s;
    let mut conn = app.db.conn().expect("conn");
    let rows: Vec<(String, chrono::NaiveDateTime)> =
        s::submissions.select((s::id, s::created_at)).load(&mut *conn).expect("submissions");
    for (id, at) in rows {
        diesel::update(s::submissions.find(id))
            .set(s::created_at.eq(at - chrono::TimeDelta::minutes(minutes)))
            .execute(&mut *conn)
            .expect("age");
    }
}

async fn alerts_reach_mail_and_webhooks(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (hook_url, hooks) = receiver().await;
    let extra = format!(
        "{}\n[alerts]\ncheck_every_seconds = 0\nfailures_in_a_row = 3\nwebhook_allowed_ranges = [\"127.0.0.0/8\"]\n",
        smtp.config()
    );
    let app = TestApp::spawn_with(backend, &extra).await;
    let w = world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let a_id = w.a["id"].as_str().expect("id").to_owned();

    // Channels: bad ones are refused with the field named; tenants may not make them.
    for (bad, field) in [
        (json!({"name": "x", "kind": "sms", "target": "duty@node.test"}), "kind"),
        (json!({"name": "x", "kind": "email", "target": "not an address"}), "target"),
        (json!({"name": "x", "kind": "webhook", "target": "ftp://node.test/hook"}), "target"),
        (json!({"name": "", "kind": "email", "target": "duty@node.test"}), "name"),
    ] {
        let p =
            expect_problem(w.reviewer.post(&app, "/api/v1/notify/channels", bad).await, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{p}");
    }
    let duty = json!({"name": "值班邮箱", "kind": "email", "target": "duty@node.test"});
    expect_problem(w.key_a.post(&app, "/api/v1/notify/channels", duty.clone()).await, 403, "forbidden").await;
    let mail = json_of(w.reviewer.post(&app, "/api/v1/notify/channels", duty).await, 201).await;
    assert!(mail["secret"].is_null());
    let hook = json!({"name": "运维回调", "kind": "webhook", "target": hook_url, "tenant_id": a_id});
    let hook = json_of(w.reviewer.post(&app, "/api/v1/notify/channels", hook).await, 201).await;
    let secret = hook["secret"].as_str().expect("a webhook gets a secret").to_owned();

    // A test mail goes through STARTTLS to the real server.
    let mail_id = mail["channel"]["id"].as_str().expect("id");
    let d =
        json_of(w.reviewer.post(&app, &format!("/api/v1/notify/channels/{mail_id}/test"), json!({})).await, 200).await;
    assert_eq!(d["sent"], 1, "{d}");
    let got = smtp.wait_for(1).await;
    assert!(got[0].subject.contains("测试通知") && got[0].to.contains("duty@node.test"), "{got:?}");
    assert!(got[0].from.contains("trace@node.test"), "{got:?}");

    // Tenant A is expected every 5 minutes; it has just sent, so nothing is wrong.
    let policy = json!({"unknown_reference": "flag", "expected_every_minutes": 5});
    json_of(w.reviewer.put(&app, &format!("/api/v1/ingest/policies/{a_id}"), policy).await, 200).await;
    let batch = |id: &str| serde_json::to_vec(&[record(id, "TP-1", &seller, &buyer, 1.0, None)]).expect("json");
    json_of(import(&app, &w.key_a, "format=json", batch("a1")).await, 200).await;
    let r = json_of(w.reviewer.post(&app, CHECK, json!({})).await, 200).await;
    assert_eq!((r["opened"].as_u64(), r["resolved"].as_u64()), (Some(0), Some(0)), "{r}");

    // Ten minutes of silence: one alert, one mail, one signed webhook call.
    time_passes(&app, 10);
    let r = json_of(w.reviewer.post(&app, CHECK, json!({})).await, 200).await;
    assert_eq!((r["opened"].as_u64(), r["notifications"].as_u64()), (Some(1), Some(2)), "{r}");
    assert_eq!(r["delivered"]["sent"], 2, "{r}");
    let got = smtp.wait_for(2).await;
    assert!(got[1].subject.contains("告警") && got[1].subject.contains("超时未报送"), "{got:?}");
    assert!(got[1].body.contains("platform-a") && got[1].body.contains("分钟未报送"), "{}", got[1].body);
    {
        let calls = hooks.lock().expect("lock");
        assert_eq!(calls.len(), 1);
        let (headers, body) = &calls[0];
        assert_eq!(headers["x-tracenode-topic"], "alert.opened");
        assert_eq!(headers["x-tracenode-signature"], tracenode::notify::webhook::signature(&secret, body));
        let payload: Value = serde_json::from_slice(body).expect("json");
        assert_eq!(
            (payload["alert"]["kind"].as_str(), payload["alert"]["tenant_id"].as_str()),
            (Some("silent"), Some(a_id.as_str()))
        );
    }
    let open = json_of(w.key_a.get(&app, "/api/v1/ingest/alerts?status=open").await, 200).await;
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");
    let theirs = json_of(w.key_b.get(&app, "/api/v1/ingest/alerts").await, 200).await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(0), "B sees A's alert");
    expect_problem(w.key_a.post(&app, "/api/v1/ingest/alerts/check", json!({})).await, 403, "forbidden").await;

    // Checked again: the alert is open already, so nothing new is sent.
    let r = json_of(w.reviewer.post(&app, CHECK, json!({})).await, 200).await;
    assert_eq!((r["opened"].as_u64(), r["notifications"].as_u64()), (Some(0), Some(0)), "{r}");

    // The sender is back: the alert resolves, and the channels hear so.
    json_of(import(&app, &w.key_a, "format=json", batch("a2")).await, 200).await;
    let r = json_of(w.reviewer.post(&app, CHECK, json!({})).await, 200).await;
    assert_eq!((r["resolved"].as_u64(), r["notifications"].as_u64()), (Some(1), Some(2)), "{r}");
    let got = smtp.wait_for(3).await;
    assert!(got[2].subject.contains("已恢复"), "{got:?}");
    assert_eq!(hooks.lock().expect("lock")[1].0["x-tracenode-topic"], "alert.resolved");

    // Three broken documents in a row: the sender is failing.
    for _ in 0..3 {
        let res = import(&app, &w.key_a, "format=xml", b"<not-xml".to_vec()).await;
        expect_problem(res, 422, "document_refused").await;
    }
    let r = json_of(w.reviewer.post(&app, CHECK, json!({})).await, 200).await;
    assert_eq!(r["opened"], 1, "{r}");
    let got = smtp.wait_for(4).await;
    assert!(got[3].subject.contains("连续报送失败"), "{got:?}");
    let alerts = json_of(w.reviewer.get(&app, "/api/v1/ingest/alerts").await, 200).await;
    let kinds: Vec<(&str, &str)> = alerts
        .as_array()
        .expect("list")
        .iter()
        .map(|a| (a["kind"].as_str().expect("kind"), a["status"].as_str().expect("status")))
        .collect();
    assert_eq!(kinds, [("failing", "open"), ("silent", "resolved")], "{alerts}");

    // An unreachable webhook: the notification waits for another attempt, saying why.
    let gone = json!({"name": "失效回调", "kind": "webhook", "target": "http://127.0.0.1:9/hook"});
    let gone = json_of(w.reviewer.post(&app, "/api/v1/notify/channels", gone).await, 201).await;
    let gone_id = gone["channel"]["id"].as_str().expect("id");
    let d =
        json_of(w.reviewer.post(&app, &format!("/api/v1/notify/channels/{gone_id}/test"), json!({})).await, 200).await;
    assert_eq!((d["sent"].as_u64(), d["retrying"].as_u64()), (Some(0), Some(1)), "{d}");
    let recent = json_of(w.reviewer.get(&app, "/api/v1/notify/notifications").await, 200).await;
    let waiting = recent.as_array().expect("list").iter().find(|n| n["channel_id"] == gone_id).expect("kept");
    assert_eq!((waiting["status"].as_str(), waiting["attempts"].as_u64()), (Some("pending"), Some(1)), "{waiting}");
    assert!(waiting["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{waiting}");
    assert_eq!(app.audit_count("notify.channel.create", "success"), 3);
}
crate::on_both_backends!(alerts_reach_mail_and_webhooks);
