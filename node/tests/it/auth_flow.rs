//! Sign-in: one-time passwords, the password policy, TOTP, lockout, sessions, CSRF.

use serde_json::json;

use crate::both_backends;
use crate::support::{expect_problem, sign_in, TestApp};

async fn first_sign_in_forces_password_change_and_totp(app: TestApp) {
    let client = app.client();
    let one_time = app.one_time_password("sysadmin");
    let state = sign_in(&client, &app, "sysadmin", &one_time).await;
    assert_eq!(state["next"], "password_change");
    let csrf = state["csrf_token"].as_str().expect("csrf").to_owned();
    // Nothing else works before the password is changed.
    expect_problem(client.get(app.url("/api/v1/tenants")).send().await.expect("get"), 403, "password_change_required")
        .await;
    let change = |current: &str, new: &str| {
        client
            .post(app.url("/api/v1/auth/password"))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({"current_password": current, "new_password": new}))
    };
    for (bad, why) in
        [("Sh0rt!", "too short"), ("alllowercaseletters", "one class"), ("Sysadmin-2026", "contains the user name")]
    {
        let body = expect_problem(change(&one_time, bad).send().await.expect("post"), 422, "validation_failed").await;
        assert_eq!(body["field"], "new_password", "{why}");
    }
    let body = expect_problem(change(&one_time, &one_time).send().await.expect("post"), 422, "validation_failed").await;
    assert!(body["detail"].as_str().expect("detail").contains("last 5"), "reuse refused: {body}");
    let body = expect_problem(
        change("wrong-current-1A", "Good-Password-1").send().await.expect("post"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["field"], "current_password");
    // Without the CSRF header the change is refused.
    let res = client
        .post(app.url("/api/v1/auth/password"))
        .json(&json!({"current_password": one_time, "new_password": "Good-Password-1"}))
        .send()
        .await
        .expect("post");
    expect_problem(res, 403, "csrf_rejected").await;
    let res = change(&one_time, "Good-Password-1").send().await.expect("post");
    assert_eq!(res.status(), 200);
    let state: serde_json::Value = res.json().await.expect("json");
    assert_eq!(state["next"], "totp_enrol", "administrators must enrol TOTP");
    expect_problem(client.get(app.url("/api/v1/tenants")).send().await.expect("get"), 403, "second_factor_required")
        .await;
    let enrol: serde_json::Value =
        client.get(app.url("/api/v1/auth/totp")).send().await.expect("get").json().await.expect("json");
    let secret = enrol["secret"].as_str().expect("secret").to_owned();
    assert!(enrol["otpauth_uri"].as_str().expect("uri").starts_with("otpauth://totp/"));
    let totp = |code: String| {
        client.post(app.url("/api/v1/auth/totp")).header("X-CSRF-Token", &csrf).json(&json!({"code": code}))
    };
    expect_problem(totp("000000".into()).send().await.expect("post"), 422, "validation_failed").await;
    let code = tracenode::credentials::totp::code_at(&secret, tracenode::credentials::totp::unix_now()).expect("code");
    assert_eq!(totp(code.clone()).send().await.expect("post").status(), 200);
    assert_eq!(client.get(app.url("/api/v1/tenants")).send().await.expect("get").status(), 200);
    // A second sign-in asks for a code, and the code just used cannot be replayed.
    let other = app.client();
    let state = sign_in(&other, &app, "sysadmin", "Good-Password-1").await;
    assert_eq!(state["next"], "totp_verify");
    let csrf2 = state["csrf_token"].as_str().expect("csrf").to_owned();
    let res = other
        .post(app.url("/api/v1/auth/totp"))
        .header("X-CSRF-Token", &csrf2)
        .json(&json!({"code": code}))
        .send()
        .await
        .expect("post");
    expect_problem(res, 422, "validation_failed").await;
    assert!(app.audit_count("auth.sign_in", "success") >= 2);
    assert!(app.audit_count("auth.change_password", "success") == 1);
    assert!(app.audit_count("auth.totp_enrol", "success") == 1);
    assert!(app.audit_count("auth.second_factor", "failure") >= 1);
}
both_backends!(first_sign_in_forces_password_change_and_totp);

async fn lockout_after_five_failures_reads_the_same(app: TestApp) {
    let client = app.client();
    let attempt = |password: &str| {
        client.post(app.url("/api/v1/auth/sign-in")).json(&json!({"username": "secadmin", "password": password}))
    };
    let unknown = client
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": "nobody", "password": "x"}))
        .send()
        .await
        .expect("post");
    let unknown_body = expect_problem(unknown, 401, "sign_in_failed").await;
    for _ in 0..5 {
        expect_problem(attempt("Wrong-Pass-123").send().await.expect("post"), 401, "sign_in_failed").await;
    }
    // Now even the right password fails, with exactly the same message.
    let locked =
        expect_problem(attempt(&app.one_time_password("secadmin")).send().await.expect("post"), 401, "sign_in_failed")
            .await;
    assert_eq!(locked["detail_zh"], unknown_body["detail_zh"]);
    assert_eq!(app.audit_count("auth.sign_in", "failure"), 7);
    // The CLI's unlock (as the operator) lets the account in again.
    let id = {
        let mut conn = app.db.conn().expect("conn");
        tracenode::users::accounts::id_by_name(&mut conn, "secadmin").expect("id")
    };
    app.db
        .transaction_sync(|conn| tracenode::users::accounts::unlock(conn, &tracenode::audit::AuditContext::cli(), &id))
        .expect("unlock");
    let state = sign_in(&client, &app, "secadmin", &app.one_time_password("secadmin")).await;
    assert_eq!(state["next"], "password_change");
}
both_backends!(lockout_after_five_failures_reads_the_same);

async fn sessions_end_on_sign_out_and_when_idle(app: TestApp) {
    let session = app.admin("sysadmin").await;
    assert_eq!(session.get(&app, "/api/v1/auth/me").await.status(), 200);
    // Idle for longer than the timeout: the session is gone.
    app.sql("UPDATE sessions SET last_seen_at = '2020-01-01 00:00:00'").expect("age sessions");
    expect_problem(session.get(&app, "/api/v1/auth/me").await, 401, "unauthenticated").await;
    let session = {
        let client = app.client();
        let state = sign_in(&client, &app, "sysadmin", crate::support::ADMIN_PASSWORD).await;
        let s = crate::support::Session {
            client,
            csrf: state["csrf_token"].as_str().expect("csrf").into(),
            secret: session.secret.clone(),
        };
        s.submit_totp(&app, session.secret.as_deref().expect("secret")).await;
        s
    };
    let me: serde_json::Value = session.get(&app, "/api/v1/auth/me").await.json().await.expect("json");
    assert_eq!(me["name"], "sysadmin");
    assert!(me["permissions"].as_array().expect("perms").iter().any(|p| p == "tenant.write"));
    let res = session.post(&app, "/api/v1/auth/sign-out", json!({})).await;
    assert_eq!(res.status(), 204);
    expect_problem(session.get(&app, "/api/v1/auth/me").await, 401, "unauthenticated").await;
    assert_eq!(app.audit_count("auth.sign_out", "success"), 1);
}
both_backends!(sessions_end_on_sign_out_and_when_idle);

async fn session_cookie_is_locked_down(app: TestApp) {
    let res = app
        .client()
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": "auditadmin", "password": app.one_time_password("auditadmin")}))
        .send()
        .await
        .expect("post");
    let cookie = res.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    for attr in ["tn_session=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    // The database keeps only the token's hash.
    let token = cookie.split(';').next().and_then(|c| c.strip_prefix("tn_session=")).expect("token").to_owned();
    use diesel::prelude::*;
    use tracenode::db::schema::sessions;
    let mut conn = app.db.conn().expect("conn");
    let ids: Vec<String> = sessions::table.select(sessions::id).load(&mut *conn).expect("ids");
    assert!(!ids.contains(&token));
    assert!(ids.contains(&tracenode::credentials::session::token_id(&token)));
}
both_backends!(session_cookie_is_locked_down);
