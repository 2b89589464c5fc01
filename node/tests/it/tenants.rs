//! Tenants: creation rules, bad input, isolation and scopes.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{expect_problem, TestApp};

async fn create_list_and_refuse_bad_input(app: TestApp) {
    let admin = app.admin("sysadmin").await;
    let t = app.tenant(&admin, "zj-trace", "330106").await;
    assert_eq!(t["region"], "330106");
    assert_eq!(t["kind"], "platform");
    let list: Value = admin.get(&app, "/api/v1/tenants").await.json().await.expect("json");
    assert_eq!(list.as_array().expect("list").len(), 1);
    let before = app.audit_count("tenant.create", "success");
    assert_eq!(before, 1);
    let post = |body: Value| admin.post(&app, "/api/v1/tenants", body);
    let body = expect_problem(
        post(json!({"code": "zj-trace", "name": "重复", "kind": "platform", "region": "330106"})).await,
        409,
        "conflict",
    )
    .await;
    assert!(body["detail_zh"].as_str().expect("zh").contains("zj-trace"));
    for (value, field) in [
        (json!({"code": "a b", "name": "x", "kind": "platform", "region": "330106"}), "code"),
        (json!({"code": "ok", "name": "", "kind": "platform", "region": "330106"}), "name"),
        (json!({"code": "ok", "name": "x".repeat(101), "kind": "platform", "region": "330106"}), "name"),
        (json!({"code": "ok", "name": "x", "kind": "platform", "region": "33010"}), "region"),
        (json!({"code": "ok", "name": "x", "kind": "platform", "region": "339999"}), "region"),
        (json!({"code": "ok", "name": "x", "kind": "platform", "region": "320106"}), "region"),
        (
            json!({"code": "ok", "name": "x", "kind": "platform", "region": "330106", "contact": "x".repeat(101)}),
            "contact",
        ),
    ] {
        let body = expect_problem(post(value.clone()).await, 422, "validation_failed").await;
        assert_eq!(body["field"], field, "{value}: {body}");
    }
    expect_problem(
        post(json!({"code": "ok", "name": "x", "kind": "bank", "region": "330106"})).await,
        400,
        "malformed_body",
    )
    .await;
    // SQL-looking text is stored as text.
    let sneaky = "x'); DROP TABLE tenants; --";
    let res = post(json!({"code": "sneaky", "name": sneaky, "kind": "enterprise", "region": "330100"})).await;
    assert_eq!(res.status(), 201);
    let list: Value = admin.get(&app, "/api/v1/tenants").await.json().await.expect("json");
    assert!(list.as_array().expect("list").iter().any(|t| t["name"] == sneaky));
    assert_eq!(app.audit_count("tenant.create", "success"), 2, "refused requests changed nothing");
}
both_backends!(create_list_and_refuse_bad_input);

async fn permissions_and_scopes_are_enforced_and_audited(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let aud = app.admin("auditadmin").await;
    let xihu = app.tenant(&sys, "xihu-dept", "330106").await;
    let shangcheng = app.tenant(&sys, "sc-dept", "330102").await;
    // The audit administrator may not create tenants: 403 with an audit row.
    let denied_before = app.audit_count("tenant.write", "denied");
    let res = aud
        .post(&app, "/api/v1/tenants", json!({"code": "x1", "name": "x", "kind": "platform", "region": "330106"}))
        .await;
    expect_problem(res, 403, "forbidden").await;
    assert_eq!(app.audit_count("tenant.write", "denied"), denied_before + 1);
    // A staff member confined to 西湖区 sees only that tenant.
    let created: Value = sys
        .post(&app, "/api/v1/users", json!({"username": "wang.li", "display_name": "王力"}))
        .await
        .json()
        .await
        .expect("json");
    let user_id = created["user"]["id"].as_str().expect("id").to_owned();
    let one_time = created["one_time_password"].as_str().expect("otp").to_owned();
    let staff = app.role_id(&sec, "staff").await;
    assert_eq!(
        sec.put(&app, &format!("/api/v1/users/{user_id}/roles"), json!({"role_ids": [staff]})).await.status(),
        200
    );
    let res = sec.put(&app, &format!("/api/v1/users/{user_id}/scope"), json!({"region": "330106"})).await;
    assert_eq!(res.status(), 200);
    let wang = app.first_sign_in("wang.li", &one_time, "Wang-Li-Passw0rd").await;
    let seen: Value = wang.get(&app, "/api/v1/tenants").await.json().await.expect("json");
    let codes: Vec<&str> = seen.as_array().expect("list").iter().filter_map(|t| t["code"].as_str()).collect();
    assert_eq!(codes, vec!["xihu-dept"]);
    assert_eq!(wang.get(&app, &format!("/api/v1/tenants/{}", xihu["id"].as_str().expect("id"))).await.status(), 200);
    let before = app.audit_count("tenant.read", "denied");
    let res = wang.get(&app, &format!("/api/v1/tenants/{}", shangcheng["id"].as_str().expect("id"))).await;
    expect_problem(res, 403, "out_of_scope").await;
    assert_eq!(app.audit_count("tenant.read", "denied"), before + 1);
    // Staff cannot create tenants.
    let res = wang
        .post(&app, "/api/v1/tenants", json!({"code": "x2", "name": "x", "kind": "platform", "region": "330106"}))
        .await;
    expect_problem(res, 403, "forbidden").await;
    // A scope outside the node's region is refused.
    let res = sec.put(&app, &format!("/api/v1/users/{user_id}/scope"), json!({"region": "320100"})).await;
    let body = expect_problem(res, 422, "validation_failed").await;
    assert_eq!(body["field"], "region");
    // Malformed ids are validation errors, not database errors.
    let body = expect_problem(wang.get(&app, "/api/v1/tenants/1%20OR%201=1").await, 422, "validation_failed").await;
    assert_eq!(body["field"], "tenant_id");
}
both_backends!(permissions_and_scopes_are_enforced_and_audited);

async fn tenant_users_see_only_their_own_tenant(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let a = app.tenant(&sys, "tenant-a", "330106").await;
    let b = app.tenant(&sys, "tenant-b", "330106").await;
    let created: Value = sys
        .post(&app, "/api/v1/users", json!({"username": "ops.a", "display_name": "A 运维", "tenant_id": a["id"]}))
        .await
        .json()
        .await
        .expect("json");
    let id = created["user"]["id"].as_str().expect("id").to_owned();
    // A tenant user may not hold government roles.
    let staff = app.role_id(&sec, "staff").await;
    let res = sec.put(&app, &format!("/api/v1/users/{id}/roles"), json!({"role_ids": [staff]})).await;
    expect_problem(res, 422, "validation_failed").await;
    let client_root = app.role_id(&sec, "tenant_client").await;
    let res = sec.put(&app, &format!("/api/v1/users/{id}/roles"), json!({"role_ids": [client_root]})).await;
    assert_eq!(res.status(), 200);
    let user = app.first_sign_in("ops.a", created["one_time_password"].as_str().expect("otp"), "Ops-A-Passw0rd").await;
    let seen: Value = user.get(&app, "/api/v1/tenants").await.json().await.expect("json");
    let codes: Vec<&str> = seen.as_array().expect("list").iter().filter_map(|t| t["code"].as_str()).collect();
    assert_eq!(codes, vec!["tenant-a"]);
    let res = user.get(&app, &format!("/api/v1/tenants/{}", b["id"].as_str().expect("id"))).await;
    expect_problem(res, 403, "out_of_scope").await;
    // Nor may it create tenants or see accounts.
    expect_problem(user.get(&app, "/api/v1/users").await, 403, "forbidden").await;
}
both_backends!(tenant_users_see_only_their_own_tenant);
