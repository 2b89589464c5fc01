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
