//! Platform access: the public application with its limits, review, filing that makes the
//! tenant and its key in one step, the key submitting data, 对接监控, suspension and
//! revocation, and what one person may not do alone.

use serde_json::{json, Value};

use crate::both_backends;
use crate::ingest::{csv_of, json_of, record};
use crate::registry::{code, world, Machine};
use crate::support::{expect_problem, TestApp};

/// An application as the guide shows it (docs/examples/access-application.json).
pub(crate) fn application() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/access-application.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("example")).expect("json")
}

async fn apply(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client().post(app.url("/api/v1/access/apply")).json(body).send().await.expect("apply")
}

async fn status(app: &TestApp, token: &str) -> reqwest::Response {
    app.client().post(app.url("/api/v1/access/status")).json(&json!({"token": token})).send().await.expect("status")
}

async fn applications_are_reviewed_filed_watched_and_revoked(app: TestApp) {
    let w = world(&app).await;
    // Bad input names its field and stores nothing.
    for (patch, field) in [
        (json!({"org_code": "91330106MA0000001X"}), "org_code"),
        (json!({"region": "320106"}), "region"),
        (json!({"contact_email": "not-mail"}), "contact_email"),
        (json!({"contact_phone": "12"}), "contact_phone"),
        (json!({"stages": ["teleport"]}), "stages[0]"),
        (json!({"formats": ["pdf"]}), "formats[0]"),
        (json!({"addresses": ["300.1.1.1"]}), "addresses[0]"),
        (json!({"families": vec!["肉类"; 21]}), "families"),
        (json!({"kind": "bank"}), "kind"),
        (json!({"system_name": ""}), "system_name"),
    ] {
        let mut a = application();
        for (k, v) in patch.as_object().expect("patch") {
            a[k] = v.clone();
        }
        let p = expect_problem(apply(&app, &a).await, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{p}");
    }
    let mut huge = application();
    huge["note"] = json!("长".repeat(20_000));
    expect_problem(apply(&app, &huge).await, 413, "payload_too_large").await;
    let mut unknown = application();
    unknown["password"] = json!("x");
    expect_problem(apply(&app, &unknown).await, 400, "malformed_body").await;
    let listed = json_of(w.reviewer.get(&app, "/api/v1/access/applications").await, 200).await;
    assert_eq!(listed, json!([]), "refused applications stored nothing");

    // Three applications may wait from one address; the fourth is refused.
    let mut tokens = Vec::new();
    for i in 0..3 {
        let mut a = application();
        a["system_name"] = json!(format!("鲜链追溯云 {i}"));
        let r = json_of(apply(&app, &a).await, 201).await;
        assert_eq!(r["status"], "submitted");
        tokens.push((r["id"].as_str().expect("id").to_owned(), r["token"].as_str().expect("token").to_owned()));
    }
    expect_problem(apply(&app, &application()).await, 429, "rate_limited").await;
    let s = json_of(status(&app, &tokens[0].1).await, 200).await;
    assert_eq!((s["status"].as_str(), s["system_name"].as_str()), (Some("submitted"), Some("鲜链追溯云 0")), "{s}");
    expect_problem(status(&app, "0".repeat(64).as_str()).await, 404, "not_found").await;

    // Review: a tenant's key may not; a rejection needs a reason.
    let review = |id: &str| format!("/api/v1/access/applications/{id}/review");
    expect_problem(w.key_a.post(&app, &review(&tokens[0].0), json!({"approve": true})).await, 403, "forbidden").await;
    let p = expect_problem(
        w.reviewer.post(&app, &review(&tokens[1].0), json!({"approve": false})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "reason");
    json_of(w.reviewer.post(&app, &review(&tokens[1].0), json!({"approve": false, "reason": "材料不全"})).await, 200)
        .await;
    let s = json_of(status(&app, &tokens[1].1).await, 200).await;
    assert_eq!((s["status"].as_str(), s["reason"].as_str()), (Some("rejected"), Some("材料不全")), "{s}");
    let (id, token) = tokens[0].clone();
    json_of(w.reviewer.post(&app, &review(&id), json!({"approve": true})).await, 200).await;

    // Filing is the system administrator's; the reviewer cannot file.
    let file = format!("/api/v1/access/applications/{id}/file");
    expect_problem(w.reviewer.post(&app, &file, json!({"tenant_code": "xianlian"})).await, 403, "forbidden").await;
    let p = expect_problem(w.sys.post(&app, &file, json!({"tenant_code": "X"})).await, 422, "validation_failed").await;
    assert_eq!(p["field"], "tenant_code", "{p}");
    let filed = json_of(w.sys.post(&app, &file, json!({"tenant_code": "xianlian"})).await, 201).await;
    let number = filed["application"]["filing_number"].as_str().expect("number").to_owned();
    assert!(number.starts_with("330100-JR-") && number.ends_with("-0001"), "{number}");
    assert_eq!(filed["tenant_code"], "xianlian");
    expect_problem(w.sys.post(&app, &file, json!({"tenant_code": "xianlian2"})).await, 409, "conflict").await;
    let s = json_of(status(&app, &token).await, 200).await;
    assert_eq!((s["status"].as_str(), s["filing_number"].as_str()), (Some("filed"), Some(number.as_str())), "{s}");

    // The platform submits data with its key; 对接监控 shows it.
    let key = Machine { client: app.client(), key: filed["api_key"].as_str().expect("secret").to_owned() };
    let records = [record("x1", "TC-X1", &code("330106", 801), &code("330106", 802), 3.0, Some(9.0))];
    let res = key.send(&app, "/api/v1/imports?format=csv", "text/csv", csv_of(&records)).await;
    let receipt = json_of(res, 200).await;
    assert_eq!(receipt["received"], 1, "{receipt}");
    let watched = json_of(w.reviewer.get(&app, "/api/v1/access/connections").await, 200).await;
    let c = &watched[0];
    assert_eq!(
        (c["traffic"]["batches"].as_i64(), c["traffic"]["records"].as_i64(), c["keys"].as_i64()),
        (Some(1), Some(1), Some(1)),
        "{c}"
    );

    // Suspended, the key no longer acts; resumed, it does; revoked, for good.
    let act = |what: &str| format!("/api/v1/access/applications/{id}/{what}");
    let p = expect_problem(w.sys.post(&app, &act("suspend"), json!({})).await, 422, "validation_failed").await;
    assert_eq!(p["field"], "reason");
    json_of(w.sys.post(&app, &act("suspend"), json!({"reason": "数据异常待核查"})).await, 200).await;
    let res = key.send(&app, "/api/v1/imports?format=csv", "text/csv", csv_of(&records)).await;
    assert!(matches!(res.status().as_u16(), 401 | 403), "a suspended platform is refused: {}", res.status());
    json_of(w.sys.post(&app, &act("resume"), json!({})).await, 200).await;
    assert_eq!(key.send(&app, "/api/v1/imports?format=csv", "text/csv", csv_of(&records)).await.status(), 200);
    json_of(w.sys.post(&app, &act("revoke"), json!({"reason": "停止合作"})).await, 200).await;
    assert_eq!(key.send(&app, "/api/v1/imports?format=csv", "text/csv", csv_of(&records)).await.status(), 401);
    let s = json_of(status(&app, &token).await, 200).await;
    assert_eq!((s["status"].as_str(), s["reason"].as_str()), (Some("revoked"), Some("停止合作")), "{s}");
    for action in [
        "access.apply",
        "access.approve",
        "access.reject",
        "access.file",
        "access.suspend",
        "access.resume",
        "access.revoke",
    ] {
        assert!(app.audit_count(action, "success") >= 1, "{action} is audited");
    }
}
both_backends!(applications_are_reviewed_filed_watched_and_revoked);

async fn one_person_cannot_review_and_file(app: TestApp) {
    let w = world(&app).await;
    // The system administrator is given the staff role too, so one account holds both the
    // review and the filing permission.
    let users = json_of(w.sec.get(&app, "/api/v1/users").await, 200).await;
    let sys_id = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "sysadmin")
        .and_then(|u| u["id"].as_str())
        .expect("sysadmin")
        .to_owned();
    let roles = json!({"role_ids": [app.role_id(&w.sec, "sysadmin").await, app.role_id(&w.sec, "staff").await]});
    let res = w.sec.put(&app, &format!("/api/v1/users/{sys_id}/roles"), roles).await;
    assert_eq!(res.status(), 200, "staff work beside the system administration");
    let sys = &w.sys;
    let r = json_of(apply(&app, &application()).await, 201).await;
    let id = r["id"].as_str().expect("id");
    json_of(sys.post(&app, &format!("/api/v1/access/applications/{id}/review"), json!({"approve": true})).await, 200)
        .await;
    // Whoever approved it may not file it: a second person must.
    let p = expect_problem(
        sys.post(&app, &format!("/api/v1/access/applications/{id}/file"), json!({"tenant_code": "alone"})).await,
        403,
        "separation_of_duties",
    )
    .await;
    assert!(p["detail"].as_str().unwrap_or("").contains("reviewed"), "{p}");
    assert!(app.audit_count("access.file", "denied") >= 1, "the attempt is audited");
    let tenants = json_of(w.sys.get(&app, "/api/v1/tenants").await, 200).await;
    assert!(!tenants.to_string().contains("alone"), "nothing was made");
}
both_backends!(one_person_cannot_review_and_file);
