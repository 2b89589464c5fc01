//! API keys: hashed, bound to a tenant, revocable, last use recorded.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{expect_problem, TestApp};

async fn api_keys_authenticate_as_their_tenant_until_revoked(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let a = app.tenant(&sys, "platform-a", "330106").await;
    let _b = app.tenant(&sys, "platform-b", "330102").await;
    let client_role = app.role_id(&sec, "tenant_client").await;
    let staff = app.role_id(&sec, "staff").await;
    let res = sys.post(&app, "/api/v1/api-keys", json!({"tenant_id": a["id"], "role_id": staff, "name": "x"})).await;
    let body = expect_problem(res, 422, "validation_failed").await;
    assert_eq!(body["field"], "role_id", "keys hold tenant-client roles only");
    let res = sys
        .post(&app, "/api/v1/api-keys", json!({"tenant_id": a["id"], "role_id": client_role, "name": "数据上报"}))
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with(created["key"]["prefix"].as_str().expect("prefix")));
    assert!(created["key"]["last_used_at"].is_null());
    let machine = app.client();
    let call = |path: &str| machine.get(app.url(path)).bearer_auth(&secret).send();
    let me: Value = call("/api/v1/auth/me").await.expect("get").json().await.expect("json");
    assert_eq!(me["tenant_id"], a["id"]);
    let seen: Value = call("/api/v1/tenants").await.expect("get").json().await.expect("json");
    let codes: Vec<&str> = seen.as_array().expect("list").iter().filter_map(|t| t["code"].as_str()).collect();
    assert_eq!(codes, vec!["platform-a"], "a key sees only its tenant");
    expect_problem(call("/api/v1/users").await.expect("get"), 403, "forbidden").await;
    // The secret is not stored.
    {
        use diesel::prelude::*;
        use tracenode::db::schema::api_keys;
        let mut conn = app.db.conn().expect("conn");
        let hashes: Vec<String> = api_keys::table.select(api_keys::key_hash).load(&mut *conn).expect("hashes");
        assert!(!hashes.contains(&secret));
    }
    let keys: Value = sys.get(&app, "/api/v1/api-keys").await.json().await.expect("json");
    assert!(!keys[0]["last_used_at"].is_null(), "last use recorded: {keys}");
    let id = created["key"]["id"].as_str().expect("id");
    assert_eq!(sys.post(&app, &format!("/api/v1/api-keys/{id}/revoke"), json!({})).await.status(), 200);
    expect_problem(call("/api/v1/auth/me").await.expect("get"), 401, "unauthenticated").await;
    expect_problem(sys.post(&app, &format!("/api/v1/api-keys/{id}/revoke"), json!({})).await, 409, "conflict").await;
    let res = machine.get(app.url("/api/v1/auth/me")).bearer_auth("tnk_forged_key").send().await.expect("get");
    expect_problem(res, 401, "unauthenticated").await;
    assert_eq!(app.audit_count("apikey.create", "success"), 1);
    assert_eq!(app.audit_count("apikey.revoke", "success"), 1);
}
both_backends!(api_keys_authenticate_as_their_tenant_until_revoked);

async fn a_suspended_tenants_keys_stop_working(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let a = app.tenant(&sys, "platform-a", "330106").await;
    let client_role = app.role_id(&sec, "tenant_client").await;
    let created: Value = sys
        .post(&app, "/api/v1/api-keys", json!({"tenant_id": a["id"], "role_id": client_role, "name": "k"}))
        .await
        .json()
        .await
        .expect("json");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let me = |s: String| app.client().get(app.url("/api/v1/auth/me")).bearer_auth(s).send();
    assert_eq!(me(secret.clone()).await.expect("get").status(), 200);
    let id = a["id"].as_str().expect("id");
    assert_eq!(sys.post(&app, &format!("/api/v1/tenants/{id}/suspend"), json!({})).await.status(), 200);
    expect_problem(me(secret.clone()).await.expect("get"), 401, "unauthenticated").await;
    assert_eq!(sys.post(&app, &format!("/api/v1/tenants/{id}/activate"), json!({})).await.status(), 200);
    assert_eq!(me(secret).await.expect("get").status(), 200);
}
both_backends!(a_suspended_tenants_keys_stop_working);

/// `tracenode apikey create|list|revoke` from the host: a key of either tenant-bound role,
/// listed by tenant, revoked by prefix, each step audited with the command line as actor; a
/// role outside the two lineages or an unknown tenant is refused with nothing made.
async fn operators_manage_keys_from_the_command_line(app: TestApp) {
    use crate::federation::{text, tracenode};
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "platform-a", "330106").await;
    let made = tracenode(&app, &["apikey", "create", "--tenant", "platform-a", "--name", "上报系统"]);
    assert!(made.status.success(), "{}", text(&made));
    let secret = String::from_utf8_lossy(&made.stdout).lines().last().expect("secret").trim().to_owned();
    assert!(secret.starts_with("tnk_"), "{}", text(&made));
    let machine = app.client();
    let me: Value = machine
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert!(me["permissions"].as_array().is_some_and(|p| p.iter().any(|x| x == "trace.write")), "{me}");
    let reader =
        tracenode(&app, &["apikey", "create", "--tenant", "platform-a", "--name", "统计", "--role", "data_reader"]);
    assert!(reader.status.success(), "{}", text(&reader));
    let reader_secret = String::from_utf8_lossy(&reader.stdout).lines().last().expect("secret").trim().to_owned();
    let res =
        machine.get(app.url("/api/v1/statistics/aggregates")).bearer_auth(&reader_secret).send().await.expect("get");
    assert_eq!(res.status(), 200);
    for bad in [
        vec!["apikey", "create", "--tenant", "platform-a", "--name", "x", "--role", "sysadmin"],
        vec!["apikey", "create", "--tenant", "nobody", "--name", "x"],
        vec!["apikey", "revoke", "--prefix", "tnk_00000000"],
    ] {
        let out = tracenode(&app, &bad);
        assert!(!out.status.success(), "{bad:?} must fail: {}", text(&out));
    }
    let listed = text(&tracenode(&app, &["apikey", "list", "--tenant", "platform-a"]));
    let prefix = secret.split('_').take(2).collect::<Vec<_>>().join("_");
    assert!(listed.contains(&prefix) && listed.contains("active"), "{listed}");
    let revoked = tracenode(&app, &["apikey", "revoke", "--prefix", &prefix]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    let res = machine.get(app.url("/api/v1/auth/me")).bearer_auth(&secret).send().await.expect("me");
    assert_eq!(res.status(), 401);
    assert!(text(&tracenode(&app, &["apikey", "list"])).contains("revoked"));
    assert_eq!((app.audit_count("apikey.create", "success"), app.audit_count("apikey.revoke", "success")), (2, 1));
}
both_backends!(operators_manage_keys_from_the_command_line);
