//! The hostile corpus: what an attacker or a single insider tried against a node, each a test
//! that failed before its fix. `docs/security.md` maps each GB/T 22239 control to these tests.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{expect_problem, TestApp};

/// 三权分立: the security administrator grants roles but never learns a password; the system
/// administrator learns passwords (creation, reset) but never grants roles; and neither can
/// reset an administrator's password or grant an administrator role to an account whose
/// one-time password someone else still knows.
async fn one_administrator_cannot_take_a_second_duty(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let users: Value = sys.get(&app, "/api/v1/users").await.json().await.expect("json");
    let id_of = |name: &str| {
        users.as_array().expect("users").iter().find(|u| u["username"] == name).expect("user")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (sys_id, sec_id, aud_id) = (id_of("sysadmin"), id_of("secadmin"), id_of("auditadmin"));

    // The security administrator resets nobody's password.
    for id in [&sys_id, &aud_id] {
        let res = sec.post(&app, &format!("/api/v1/users/{id}/reset-password"), json!({})).await;
        expect_problem(res, 403, "forbidden").await;
    }
    // The system administrator resets no administrator's password, nor its own.
    for id in [&sec_id, &aud_id, &sys_id] {
        let res = sys.post(&app, &format!("/api/v1/users/{id}/reset-password"), json!({})).await;
        let body = expect_problem(res, 403, "separation_of_duties").await;
        assert!(body["detail_zh"].as_str().expect("zh").contains("三权分立") || id == &sys_id, "{body}");
    }
    assert_eq!(app.audit_count("user.reset_password", "success"), 0);
    assert_eq!(app.audit_count("user.write", "denied"), 2, "the security administrator's tries are audited");
    assert_eq!(app.audit_count("user.reset_password", "denied"), 3, "so are the system administrator's");

    // The system administrator makes an account and knows its one-time password; the
    // security administrator cannot make it an administrator until its owner has chosen
    // their own password.
    let created: Value = sys
        .post(&app, "/api/v1/users", json!({"username": "wang.wu", "display_name": "王五"}))
        .await
        .json()
        .await
        .expect("json");
    let wang = created["user"]["id"].as_str().expect("id").to_owned();
    for role in ["sysadmin", "secadmin", "auditadmin"] {
        let role_id = app.role_id(&sec, role).await;
        let res = sec.put(&app, &format!("/api/v1/users/{wang}/roles"), json!({"role_ids": [role_id]})).await;
        expect_problem(res, 403, "separation_of_duties").await;
    }
    assert_eq!(app.audit_count("role.assign", "denied"), 3);
    // A business role is fine while the one-time password stands.
    let staff = app.role_id(&sec, "staff").await;
    let res = sec.put(&app, &format!("/api/v1/users/{wang}/roles"), json!({"role_ids": [staff]})).await;
    assert_eq!(res.status(), 200);
    // Once the owner has set their own password, the grant goes through, and from then on the
    // system administrator can no longer reset it.
    app.first_sign_in("wang.wu", created["one_time_password"].as_str().expect("otp"), "Wang-Wu-Passw0rd").await;
    let aud_role = app.role_id(&sec, "auditadmin").await;
    let res = sec.put(&app, &format!("/api/v1/users/{wang}/roles"), json!({"role_ids": [aud_role]})).await;
    assert_eq!(res.status(), 200);
    let res = sys.post(&app, &format!("/api/v1/users/{wang}/reset-password"), json!({})).await;
    expect_problem(res, 403, "separation_of_duties").await;

    // A business account's password is reset by the system administrator, and the reset
    // hands the one-time password to them, not to the one who grants roles.
    let li: Value = sys
        .post(&app, "/api/v1/users", json!({"username": "li.si", "display_name": "李四"}))
        .await
        .json()
        .await
        .expect("json");
    let li_id = li["user"]["id"].as_str().expect("id");
    let reset: Value =
        sys.post(&app, &format!("/api/v1/users/{li_id}/reset-password"), json!({})).await.json().await.expect("json");
    assert!(reset["one_time_password"].as_str().is_some_and(|p| p.len() >= 12), "{reset}");
    assert_eq!(app.audit_count("user.reset_password", "success"), 1);
}
both_backends!(one_administrator_cannot_take_a_second_duty);

/// Every state-changing request of a session must echo its CSRF token, whatever its content
/// type; before, a form-typed or body-less request to the API skipped the check.
async fn csrf_is_checked_on_every_state_changing_request(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let tenant = app.tenant(&sys, "acme", "330102").await;
    let tenant_id = tenant["id"].as_str().expect("id").to_owned();
    let suspend = app.url(&format!("/api/v1/tenants/{tenant_id}/suspend"));
    let attempts = [
        sys.client.post(&suspend),
        sys.client.post(&suspend).header("Content-Type", "application/x-www-form-urlencoded").body("a=1"),
        sys.client.post(&suspend).header("Content-Type", "text/plain").body("{}"),
        sys.client.post(&suspend).header("X-CSRF-Token", "0".repeat(sys.csrf.len())),
        sys.client.post(&suspend).header("X-CSRF-Token", &sys.csrf[..sys.csrf.len() - 1]),
        sys.client
            .post(&suspend)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("csrf={}x", sys.csrf)),
        sys.client
            .post(app.url("/api/v1/imports?format=csv"))
            .header("Content-Type", "text/csv")
            .body("trace_code\n1\n"),
        sys.client.post(app.url("/tenants")).form(&[
            ("code", "evil"),
            ("name", "evil"),
            ("kind", "platform"),
            ("region", "330102"),
        ]),
    ];
    for attempt in attempts {
        let res = attempt.send().await.expect("send");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        assert_eq!(status, 403, "{text}");
        assert!(text.contains("csrf_rejected") || text.contains("表单已失效"), "{text}");
    }
    let status: Value = sys.get(&app, &format!("/api/v1/tenants/{tenant_id}")).await.json().await.expect("json");
    assert_eq!(status["status"], "active", "nothing changed: {status}");
    let tenants: Value = sys.get(&app, "/api/v1/tenants").await.json().await.expect("json");
    assert_eq!(tenants.as_array().expect("tenants").len(), 1, "no tenant made by the forged form: {tenants}");
    // The token in the header, or in a form's field, is accepted.
    let res = sys.client.post(&suspend).header("X-CSRF-Token", &sys.csrf).send().await.expect("send");
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let res = sys
        .client
        .post(app.url(&format!("/api/v1/tenants/{tenant_id}/activate")))
        .form(&[("csrf", sys.csrf.as_str())])
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    // A caller with an API key needs no token (a browser never adds the header on its own).
    let sec = app.admin("secadmin").await;
    let key = app.api_key(&sys, &sec, &tenant_id).await;
    let res = app
        .client()
        .post(app.url("/api/v1/imports?format=csv&dry_run=true"))
        .bearer_auth(&key)
        .header("Content-Type", "text/csv")
        .body("x\n")
        .send()
        .await
        .expect("send");
    assert_ne!(res.status(), 403, "{}", res.text().await.unwrap_or_default());
}
both_backends!(csrf_is_checked_on_every_state_changing_request);

/// A memory figure of this process (the node runs inside it) from `/proc/self/status`, MiB.
fn memory_mib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect(field);
    kib / 1024
}

/// Starts measuring the peak resident memory afresh (Linux resets `VmHWM` on `5`).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak");
}

/// A body of `head`, then `filler` bytes of `fill`, then `tail`, produced as it is sent.
fn streamed(head: String, fill: &'static [u8], filler: usize, tail: &'static str) -> reqwest::Body {
    let chunk = bytes::Bytes::from(fill.repeat((1 << 20) / fill.len()));
    let chunks = filler / chunk.len();
    let parts = std::iter::once(bytes::Bytes::from(head))
        .chain(std::iter::repeat_n(chunk, chunks))
        .chain(std::iter::once(bytes::Bytes::from_static(tail.as_bytes())))
        .map(Ok::<_, std::io::Error>);
    reqwest::Body::wrap_stream(futures_util::stream::iter(parts))
}

/// Sends a large body as an asynchronous import and waits for its outcome.
async fn import_job(app: &TestApp, key: &str, format: &str, body: reqwest::Body) -> Value {
    let res = app
        .client()
        .post(app.url(&format!("/api/v1/imports?format={format}&mode=best_effort")))
        .bearer_auth(key)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap_or_default());
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("location").to_owned();
    for _ in 0..600 {
        let status: Value = app
            .client()
            .get(app.url(&location))
            .bearer_auth(key)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if !matches!(status["submission"]["status"].as_str(), Some("queued" | "running")) {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the import job did not finish");
}

fn stored_records(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    let mut conn = app.db.conn().expect("conn");
    tracenode::db::schema::trace_records::table.count().get_result(&mut *conn).expect("count")
}

/// A 200 MiB field and an EPCIS event naming two million EPCs are refused after the node has
/// read about a megabyte of each: its memory stays under 300 MiB and nothing is stored.
async fn oversized_records_are_refused_in_bounded_memory(app: TestApp) {
    let w = crate::registry::world(&app).await;
    let key = w.key_a.key.clone();
    reset_peak();
    let before = memory_mib("VmRSS:");
    let head = "id,trace_code,stage,quantity,time,product_name\nR1,T1,retail,1,2026-11-20T10:00:00+08:00,".to_owned();
    let status = import_job(&app, &key, "csv", streamed(head, b"x", 200 << 20, "\n")).await;
    assert_eq!(status["submission"]["status"], "refused", "{status}");
    assert_eq!(status["receipt"]["refusal"]["code"], "record_too_large", "{status}");
    let head = "{\"@context\": [\"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld\"], \"type\": \"EPCISDocument\", \
                \"epcisBody\": {\"eventList\": [{\"type\": \"ObjectEvent\", \"bizStep\": \"shipping\", \"epcList\": [\"urn:epc:id:sgtin:0614141.107346.1\""
        .to_owned();
    // Forty bytes an EPC: two million of them.
    let status = import_job(
        &app,
        &key,
        "epcis",
        streamed(head, b",\"urn:epc:id:sgtin:0614141.107346.2017\"", 80 << 20, "]}]}}"),
    )
    .await;
    assert_eq!(status["receipt"]["refusal"]["code"], "record_too_large", "{status}");
    assert_eq!(stored_records(&app), 0);
    let peak = memory_mib("VmHWM:");
    eprintln!("resident before the imports {before} MiB, peak during them {peak} MiB");
    // The test process holds the harness too (and the allocator keeps what sign-ins hashed
    // with), so what the imports add is the measure: the 200 MiB field alone would be more.
    assert!(peak - before < 64, "the imports took {} MiB", peak - before);
}
both_backends!(oversized_records_are_refused_in_bounded_memory);

/// Documents that end early are refused whole in best-effort mode too; fields that are too
/// long, hold NUL or do not decode are refused by record and field; an empty body and what
/// is not an EPCIS document are refused, not answered "stored" with no records.
async fn hostile_documents_change_nothing(app: TestApp) {
    use crate::ingest::{csv_of, import, json_of, parties, record};
    let w = crate::registry::world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let records: Vec<_> =
        (0..3).map(|i| record(&format!("h{i}"), &format!("TH-{i}"), &seller, &buyer, 1.0, Some(2.0))).collect();
    let mut json = Vec::new();
    tracenode_adapters::adapter::Format::Json.encode(&mut json, &Default::default(), &records).expect("json");
    let csv = csv_of(&records);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("json", json[..json.len() - 1].to_vec(), "document_truncated"),
        ("json", json[..json.len() - 40].to_vec(), "document_truncated"),
        ("csv", csv[..csv.len() - 30].to_vec(), "document_truncated"),
        ("json", b" \n".to_vec(), "no_records"),
        ("csv", b"id,trace_code,stage,quantity,time\n".to_vec(), "no_records"),
        ("epcis", b"[1,2,3]".to_vec(), "epcis_not_a_document"),
        (
            "epcis",
            br#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument", "epcisBody": {}}"#.to_vec(),
            "epcis_no_event_list",
        ),
        (
            "epcis",
            br#"{"@context": "https://evil.example/ctx", "type": "EPCISDocument", "epcisBody": {"eventList": []}}"#.to_vec(),
            "epcis_unknown_context",
        ),
    ];
    for (format, body, reason) in cases {
        let res = import(&app, &w.key_a, &format!("format={format}&mode=best_effort"), body).await;
        assert_eq!(res.status(), 422, "{format} {reason}");
        let p = expect_problem(res, 422, "document_refused").await;
        assert_eq!(p["reason"], reason, "{format}: {p}");
    }
    assert_eq!(stored_records(&app), 0, "nothing was stored");

    // Record by record: a field too long, a NUL, a cell that is not in the file's encoding.
    let mut long = records[0].clone();
    long.product.name = "长".repeat(5000);
    let mut nul = records[1].clone();
    nul.product.batch = "B\u{0}1".into();
    let mut json = Vec::new();
    tracenode_adapters::adapter::Format::Json
        .encode(&mut json, &Default::default(), &[long, nul, records[2].clone()])
        .expect("json");
    let r = json_of(import(&app, &w.key_a, "format=json&mode=best_effort", json).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(2)), "{r}");
    assert_eq!(r["rejections"][0]["code"], "field_too_long", "{r}");
    assert!(r["rejections"][0]["reason"].as_str().expect("reason").contains("product.name"));
    assert_eq!(r["rejections"][1]["code"], "nul_character", "{r}");
    // UTF-8 for more than the first 64 KiB the encoding is told from, then a GBK row.
    let padding: Vec<_> =
        (0..300).map(|i| record(&format!("p{i}"), &format!("TP-{i}"), &seller, &buyer, 1.0, None)).collect();
    let mut gbk = csv_of(&padding);
    assert!(gbk.len() > 64 * 1024);
    let line = String::from_utf8(csv_of(&[record("h9", "TH-9", &seller, &buyer, 1.0, None)])).expect("utf8");
    let row = line.lines().nth(1).expect("row").replace("红富士苹果", "白菜");
    let row = format!("{row}\n");
    let (encoded, _, _) = encoding_rs::GBK.encode(&row);
    gbk.extend_from_slice(&encoded);
    let r = json_of(import(&app, &w.key_a, "format=csv&mode=best_effort", gbk).await, 200).await;
    assert_eq!(r["rejections"][0]["code"], "bad_encoding", "{r}");
    assert!(r["rejections"][0]["reason"].as_str().expect("reason").contains("line 302"), "{r}");
    assert_eq!(r["accepted"], 300, "the UTF-8 rows around it are stored");
}
both_backends!(hostile_documents_change_nothing);

/// Quantities, prices and amounts beyond plausible maxima, and act times outside the plausible
/// window, are refused by field; reversed or malformed ranges are a 422 naming the field.
async fn implausible_values_and_ranges_are_refused(app: TestApp) {
    use crate::ingest::{import, json_of, parties, record};
    let w = crate::registry::world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    type Spoil = fn(&mut tracenode_adapters::records::TraceRecord);
    let spoilers: [(&str, Spoil); 6] = [
        ("act.quantity", |r| r.act.quantity = 8e12),
        ("act.price", |r| r.act.price = Some(8e12)),
        ("act.price", |r| {
            r.act.quantity = 9e8;
            r.act.price = Some(9e7);
        }),
        ("act.amount", |r| r.act.amount = Some(2e12)),
        ("act.time", |r| r.act.time = "0000-01-01T00:00:00+08:00".into()),
        ("act.time", |r| r.act.time = "1900-01-01T00:00:00+08:00".into()),
    ];
    let records: Vec<_> = spoilers
        .iter()
        .enumerate()
        .map(|(k, (_, spoil))| {
            let mut r = record(&format!("v{k}"), &format!("TV-{k}"), &seller, &buyer, 1.0, Some(3.0));
            spoil(&mut r);
            r
        })
        .collect();
    let body = serde_json::to_vec(&records).expect("json");
    let r = json_of(import(&app, &w.key_a, "format=json&mode=best_effort", body).await, 200).await;
    assert_eq!(r["accepted"], 0, "{r}");
    for (k, (field, _)) in spoilers.iter().enumerate() {
        assert_eq!(r["rejections"][k]["field"], *field, "{r}");
    }
    assert_eq!(stored_records(&app), 0);
    for query in ["from=2026-12-31&to=2026-01-01", "from=yesterday", "to=2026-02-30"] {
        let res = w.reviewer.get(&app, &format!("/api/v1/federation/indicators?{query}")).await;
        let p = expect_problem(res, 422, "validation_failed").await;
        assert!(p["field"] == "from" || p["field"] == "to", "{p}");
    }
}
both_backends!(implausible_values_and_ranges_are_refused);

/// Quantities and prices are bounded by their unit where the node knows it (Chinese names,
/// abbreviations, UN/ECE codes); a unit of packing holds to the general maxima.
async fn quantities_and_prices_are_bounded_by_their_unit(app: TestApp) {
    use crate::ingest::{import, json_of, parties, record};
    let w = crate::registry::world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    // (unit, quantity, price, refused field)
    let cases: [(&str, f64, Option<f64>, Option<&str>); 8] = [
        ("吨", 2.0e5, None, Some("act.quantity")),
        ("TNE", 5.0e4, Some(3.0e3), None),
        ("kg", 2.0e5, Some(12.0), None),
        ("KGM", 10.0, Some(2.0e6), Some("act.price")),
        ("克", 100.0, Some(2.0e4), Some("act.price")),
        ("头", 2.0e6, None, Some("act.quantity")),
        ("头", 3.0, Some(2.0e6), None),
        ("箱", 2.0e8, None, None),
    ];
    let records: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(k, (unit, quantity, price, _))| {
            let mut r = record(&format!("u{k}"), &format!("TU-{k}"), &seller, &buyer, *quantity, *price);
            r.act.unit = (*unit).into();
            r
        })
        .collect();
    let body = serde_json::to_vec(&records).expect("json");
    let r = json_of(import(&app, &w.key_a, "format=json&mode=best_effort", body).await, 200).await;
    let refused: Vec<(u64, String)> = r["rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .map(|x| (x["index"].as_u64().expect("index"), x["field"].as_str().expect("field").to_owned()))
        .collect();
    let expected: Vec<(u64, String)> =
        cases.iter().enumerate().filter_map(|(k, c)| c.3.map(|f| (k as u64, f.to_owned()))).collect();
    assert_eq!(refused, expected, "{r}");
    assert_eq!(r["accepted"], 4, "{r}");
    assert_eq!(stored_records(&app), 4);
    let said = r["rejections"][0]["reason_zh"].as_str().unwrap_or_default();
    assert!(said.contains("单位吨"), "{r}");
}
both_backends!(quantities_and_prices_are_bounded_by_their_unit);

/// Signed-in answers are never cached; the policy limits where forms post and what a base
/// element may do; HSTS covers subdomains.
async fn security_headers_are_set(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    for res in [
        sys.get(&app, "/").await,
        sys.get(&app, "/api/v1/tenants").await,
        app.client().get(app.url("/login")).send().await.expect("login"),
    ] {
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(header("cache-control"), "no-store");
        assert!(header("strict-transport-security").contains("includeSubDomains"));
        let csp = header("content-security-policy");
        assert!(csp.contains("form-action 'self'") && csp.contains("base-uri 'none'"), "{csp}");
    }
}
both_backends!(security_headers_are_set);

/// A spool file an interrupted upload left behind is removed when the node starts again; a
/// fresh one (another process may be receiving it) stays.
async fn left_over_spool_files_are_removed_at_start(mut app: TestApp) {
    let spool = app.node_dir().join("spool");
    std::fs::create_dir_all(&spool).expect("spool");
    let old = spool.join("01a00000-0000-7000-8000-000000000000.body");
    let fresh = spool.join("01a00000-0000-7000-8000-000000000001.body");
    for path in [&old, &fresh] {
        std::fs::write(path, b"id,trace_code\n").expect("write");
    }
    let file = std::fs::File::options().write(true).open(&old).expect("open");
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)).expect("age");
    drop(file);
    app.stop().await;
    app.restart().await;
    assert!(!old.exists(), "the left-over file is removed");
    assert!(fresh.exists(), "a fresh file stays");
}
both_backends!(left_over_spool_files_are_removed_at_start);

/// Wrong passwords from one address lock the account for that address only, and a flood
/// from it is slowed down (429 with Retry-After) without touching the owner elsewhere.
async fn sign_in_floods_are_throttled_without_locking_out_the_owner(app: TestApp) {
    let attacker = app.client_from("127.0.0.2");
    let try_sign_in = |client: &reqwest::Client, name: &str, password: &str| {
        client.post(app.url("/api/v1/auth/sign-in")).json(&json!({"username": name, "password": password})).send()
    };
    for _ in 0..5 {
        expect_problem(
            try_sign_in(&attacker, "secadmin", "Wrong-Pass-123").await.expect("post"),
            401,
            "sign_in_failed",
        )
        .await;
    }
    let right = app.one_time_password("secadmin");
    let res = try_sign_in(&attacker, "secadmin", &right).await.expect("post");
    expect_problem(res, 401, "sign_in_failed").await;
    // The owner, from their own machine, is not locked out.
    let owner = app.client();
    let res = try_sign_in(&owner, "secadmin", &right).await.expect("post");
    assert_eq!(res.status(), 200, "the owner signs in from elsewhere");
    // The attacking address keeps failing and is made to wait.
    let mut throttled = None;
    for i in 0..10 {
        let res = try_sign_in(&attacker, &format!("guess{i}"), "Wrong-Pass-123").await.expect("post");
        if res.status() == 429 {
            throttled = Some(res);
            break;
        }
    }
    let res = throttled.expect("the address is throttled after ten failures");
    let wait: i64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=900).contains(&wait), "{wait}");
    let p = expect_problem(res, 429, "sign_in_throttled").await;
    assert!(p["detail_zh"].as_str().expect("zh").contains("秒"));
    assert_eq!(app.audit_count("auth.throttle", "denied"), 1);
    // Throttled attempts cost no audit row each (no flood of the trail).
    let before = app.audit_count("auth.sign_in", "failure");
    for _ in 0..5 {
        let res = try_sign_in(&attacker, "sysadmin", "x").await.expect("post");
        assert_eq!(res.status(), 429);
    }
    assert_eq!(app.audit_count("auth.sign_in", "failure"), before);
    // The owner's address is not throttled.
    let res = try_sign_in(&owner, "auditadmin", &app.one_time_password("auditadmin")).await.expect("post");
    assert_eq!(res.status(), 200);
}
both_backends!(sign_in_floods_are_throttled_without_locking_out_the_owner);

/// The operator names the administrators at `init`; the data directory, database,
/// configuration and keys are readable by the node's user alone.
async fn administrators_are_named_at_init_and_files_are_private(backend: crate::support::Backend) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let node = dir.path().join("node");
    let mut args = vec![
        "init".to_owned(),
        "--tier".into(),
        "county".into(),
        "--region".into(),
        "330106".into(),
        "--name".into(),
        "西湖区节点".into(),
        "--dir".into(),
        node.to_str().expect("path").into(),
        "--sysadmin-name".into(),
        "ops.hz".into(),
        "--secadmin-name".into(),
        "sec.hz".into(),
        "--auditadmin-name".into(),
        "audit.hz".into(),
    ];
    let database = (backend == crate::support::Backend::Postgres).then(crate::support::fresh_pg_database);
    if let Some(url) = &database {
        args.extend(["--database-url".into(), url.clone()]);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracenode")).args(&args).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    for name in ["ops.hz", "sec.hz", "audit.hz"] {
        assert!(printed.contains(name), "{printed}");
    }
    assert!(!printed.contains("sysadmin"), "{printed}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&node), 0o700);
    assert_eq!(mode(&node.join("tracenode.toml")), 0o600);
    if database.is_none() {
        assert_eq!(mode(&node.join("data")), 0o700);
        assert_eq!(mode(&node.join("data/tracenode.db")), 0o600);
    }
    if let Some(url) = database {
        crate::support::drop_pg_database(url.rsplit_once('/').expect("name").1);
    }
}
crate::on_both_backends!(administrators_are_named_at_init_and_files_are_private);

/// Under `/api/` the caller is authenticated before its body is read: no 400 about a body and
/// no redirect to a sign-in page for a caller without credentials.
async fn the_api_authenticates_first(app: TestApp) {
    let client = app.client();
    let bad_json =
        |path: &str| client.post(app.url(path)).header("Content-Type", "application/json").body("{not json").send();
    for path in ["/api/v1/tenants", "/api/v1/users", "/api/v1/registry/entities"] {
        expect_problem(bad_json(path).await.expect("post"), 401, "unauthenticated").await;
    }
    let res = client
        .post(app.url("/api/v1/tenants"))
        .bearer_auth("tnk_not_a_key")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    expect_problem(res, 401, "unauthenticated").await;
    for path in ["/api/v1/auth/password", "/api/v1/auth/totp", "/api/v1/auth/sign-out"] {
        let res = client.post(app.url(path)).json(&json!({})).send().await.expect("post");
        expect_problem(res, 401, "unauthenticated").await;
    }
    // The console still sends browsers to the sign-in page.
    let res = client.get(app.url("/users")).send().await.expect("get");
    assert_eq!(res.status(), 303);
}
both_backends!(the_api_authenticates_first);

/// Signing in a fourth time ends the account's oldest session (three are allowed).
async fn an_account_keeps_at_most_three_sessions(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let _ = app.staff(&sys, &sec, "zhou.qi", None).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        let client = app.client();
        crate::support::sign_in(&client, &app, "zhou.qi", "Staff-Member-Pass1").await;
        clients.push(client);
    }
    let me = |c: &reqwest::Client| c.get(app.url("/api/v1/auth/me")).send();
    expect_problem(me(&clients[0]).await.expect("get"), 401, "unauthenticated").await;
    for c in &clients[1..] {
        assert_eq!(me(c).await.expect("get").status(), 200);
    }
}
both_backends!(an_account_keeps_at_most_three_sessions);

/// A body that trickles in is cut off with 408 instead of holding a worker.
async fn a_trickled_body_is_cut_off(app: TestApp) {
    let trickle = futures_util::stream::unfold(0u32, |n| async move {
        if n >= 60 {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")), n + 1))
    });
    let started = std::time::Instant::now();
    let res = app
        .client()
        .post(app.url("/api/v1/auth/sign-in"))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(trickle))
        .send()
        .await
        .expect("post");
    expect_problem(res, 408, "body_timeout").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "cut off after {:?}", started.elapsed());
}

crate::both_backends_with!(
    a_trickled_body_is_cut_off,
    // The node's own limits, tightened: two seconds, then 4 KiB a second.
    "body_idle_seconds = 2\nbody_min_bytes_per_second = 4096"
);

/// Webhooks may not reach the node's own network unless the operator allows a range.
async fn webhooks_cannot_reach_internal_addresses(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let reviewer = app.staff(&sys, &sec, "hook.owner", None).await;
    for target in [
        "http://127.0.0.1:9/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://hooks.example.com/hook",
    ] {
        let res = reviewer
            .post(&app, "/api/v1/notify/channels", json!({"name": "回调", "kind": "webhook", "target": target}))
            .await;
        let p = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(p["field"], "target", "{target}: {p}");
    }
    let res = reviewer
        .post(
            &app,
            "/api/v1/notify/channels",
            json!({"name": "回调", "kind": "webhook", "target": "https://hooks.example.com/hook"}),
        )
        .await;
    assert_eq!(res.status(), 201);
}
both_backends!(webhooks_cannot_reach_internal_addresses);

/// A tenant that reports a trade acting for an entity another tenant registered is held to
/// its reference policy: flagged by default, refused under `reject`.
async fn reporting_for_another_tenants_entity_is_flagged_or_refused(app: TestApp) {
    use crate::ingest::{import, json_of, parties, record};
    let w = crate::registry::world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let theirs = crate::registry::code("330102", 777);
    let res = w
        .key_b
        .post(&app, "/api/v1/registry/entities", crate::registry::entity(&theirs, "上城乙方商户", "330102"))
        .await;
    assert_eq!(res.status(), 201);
    let mut foreign = record("f1", "TF-1", &theirs, &buyer, 1.0, Some(2.0));
    foreign.from.region = "330102".into();
    let own = record("f2", "TF-2", &seller, &buyer, 1.0, Some(2.0));
    let body = serde_json::to_vec(&[foreign.clone(), own]).expect("json");
    let r = json_of(import(&app, &w.key_a, "format=json&mode=best_effort", body).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["flagged"].as_u64()), (Some(2), Some(1)), "{r}");
    let a_id = w.a["id"].as_str().expect("id");
    let res =
        w.reviewer.put(&app, &format!("/api/v1/ingest/policies/{a_id}"), json!({"unknown_reference": "reject"})).await;
    assert_eq!(res.status(), 200);
    foreign.id = "f3".into();
    foreign.product.trace_code = "TF-3".into();
    let body = serde_json::to_vec(&[foreign]).expect("json");
    let r = json_of(import(&app, &w.key_a, "format=json&mode=best_effort", body).await, 200).await;
    assert_eq!(r["rejected"], 1, "{r}");
    assert_eq!(r["rejections"][0]["field"], "from.code", "{r}");
    assert!(r["rejections"][0]["reason"].as_str().expect("reason").contains("another tenant"), "{r}");
}
both_backends!(reporting_for_another_tenants_entity_is_flagged_or_refused);

/// TOTP and webhook secrets are sealed under the node's key: the database (or a copy of it)
/// shows neither.
async fn secrets_are_sealed_at_rest(app: TestApp) {
    use diesel::prelude::*;
    use tracenode::db::schema::{notify_channels, users};
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let totp = sys.secret.clone().expect("the administrator enrolled TOTP");
    let reviewer = app.staff(&sys, &sec, "seal.check", None).await;
    let made: Value = reviewer
        .post(
            &app,
            "/api/v1/notify/channels",
            json!({"name": "回调", "kind": "webhook", "target": "https://hooks.example.com/hook"}),
        )
        .await
        .json()
        .await
        .expect("json");
    let webhook = made["secret"].as_str().expect("shown once at creation").to_owned();
    let mut conn = app.db.conn().expect("conn");
    let stored_totp: Option<String> =
        users::table.filter(users::username.eq("sysadmin")).select(users::totp_secret).first(&mut *conn).expect("totp");
    let stored_hook: Option<String> =
        notify_channels::table.select(notify_channels::secret).first(&mut *conn).expect("secret");
    for (stored, plain) in [(stored_totp, totp), (stored_hook, webhook)] {
        let stored = stored.expect("stored");
        let prefix = match app.config.security.secret_cipher {
            tracenode::keys::SecretCipher::Aes256Gcm => "sealed:v1:aes-256-gcm:",
            tracenode::keys::SecretCipher::Sm4 => "sealed:v1:sm4-ctr-hmac-sm3:",
        };
        assert!(stored.starts_with(prefix), "{stored}");
        assert!(!stored.contains(&plain));
        assert_eq!(app.config.sealer().expect("sealer").open(&stored).expect("opens"), plain);
    }
}
both_backends!(secrets_are_sealed_at_rest);

/// Every test the controls matrix of `docs/security.md` names exists, so the matrix cannot
/// claim a check that is not there.
#[test]
fn the_controls_matrix_names_only_tests_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let matrix = std::fs::read_to_string(root.join("docs/security.md")).expect("docs/security.md");
    let mut sources = String::new();
    let mut dirs = vec![
        root.join("node/src"),
        root.join("node/tests"),
        root.join("adapters"),
        root.join("federation"),
        root.join("tests"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(&path).expect("source"));
            }
        }
    }
    let mut named = 0;
    for row in matrix.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| GB/T") && !l.starts_with("|---")) {
        let tests = row.trim_end_matches('|').rsplit('|').next().expect("last column");
        for name in tests.split('`').skip(1).step_by(2) {
            let last = name.rsplit("::").next().expect("name");
            let found = sources.contains(&format!("fn {last}("))
                || sources.contains(&format!("mod {last} "))
                || sources.contains(&format!("both_backends_with!({last},"));
            assert!(found, "docs/security.md names {name}, which is no test");
            named += 1;
        }
    }
    assert!(named > 30, "the matrix names {named} tests");
}

// The same with SM4: sealed, and the administrator's TOTP sign-in (which opens the secret)
// works.
crate::both_backends_with!(secrets_sealed_with_sm4, secrets_are_sealed_at_rest, "[security]\nsecret_cipher = \"sm4\"");

/// The act-time window is the node's to set (`ingest.earliest_act_year`).
async fn the_earliest_act_year_is_configurable(app: TestApp) {
    use crate::ingest::{import, json_of, parties, record};
    let w = crate::registry::world(&app).await;
    let (seller, buyer) = parties(&app, &w).await;
    let mut old = record("y1", "TY-1", &seller, &buyer, 1.0, None);
    old.act.time = "2015-06-01T10:00:00+08:00".into();
    old.product.production_date = None;
    let mut recent = record("y2", "TY-2", &seller, &buyer, 1.0, None);
    recent.act.time = "2021-06-01T10:00:00+08:00".into();
    recent.product.production_date = None;
    let body = serde_json::to_vec(&[old, recent]).expect("json");
    let r = json_of(import(&app, &w.key_a, "format=json&mode=best_effort", body).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(r["rejections"][0]["field"], "act.time");
    assert!(r["rejections"][0]["reason"].as_str().expect("reason").contains("2020"), "{r}");
}
crate::both_backends_with!(the_earliest_act_year_is_configurable, "[ingest]\nearliest_act_year = 2020");
