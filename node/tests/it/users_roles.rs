//! Roles as a tree that only narrows, and the separation of the three administrators.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{expect_problem, TestApp};

async fn child_roles_only_narrow_their_parent(app: TestApp) {
    let sec = app.admin("secadmin").await;
    let sys_role = app.role_id(&sec, "sysadmin").await;
    let res = sec
        .post(&app, "/api/v1/roles", json!({"code": "tenant_clerk", "name": "租户登记员", "parent_id": sys_role, "permissions": ["tenant.read", "tenant.write"]}))
        .await;
    assert_eq!(res.status(), 201);
    let clerk: Value = res.json().await.expect("json");
    assert_eq!(clerk["parent_id"], sys_role.as_str());
    // Wider than the parent: refused, naming the permission.
    let res = sec
        .post(&app, "/api/v1/roles", json!({"code": "reader", "name": "只读", "parent_id": clerk["id"], "permissions": ["tenant.read", "audit.read"]}))
        .await;
    let body = expect_problem(res, 422, "validation_failed").await;
    assert!(body["detail"].as_str().expect("detail").contains("audit.read"), "{body}");
    let res = sec
        .post(
            &app,
            "/api/v1/roles",
            json!({"code": "reader", "name": "只读", "parent_id": clerk["id"], "permissions": ["tenant.read"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // The parent cannot drop what a child still holds.
    let res = sec
        .put(
            &app,
            &format!("/api/v1/roles/{}/permissions", clerk["id"].as_str().expect("id")),
            json!({"permissions": ["tenant.write"]}),
        )
        .await;
    let body = expect_problem(res, 422, "validation_failed").await;
    assert!(body["detail"].as_str().expect("detail").contains("reader"), "{body}");
    // Built-in roles cannot change.
    let res = sec.put(&app, &format!("/api/v1/roles/{sys_role}/permissions"), json!({"permissions": []})).await;
    expect_problem(res, 403, "forbidden").await;
    // Duplicate codes conflict; malformed codes are refused.
    let res = sec
        .post(
            &app,
            "/api/v1/roles",
            json!({"code": "reader", "name": "x", "parent_id": clerk["id"], "permissions": []}),
        )
        .await;
    expect_problem(res, 409, "conflict").await;
    let res = sec
        .post(
            &app,
            "/api/v1/roles",
            json!({"code": "Bad Code", "name": "x", "parent_id": clerk["id"], "permissions": []}),
        )
        .await;
    expect_problem(res, 422, "validation_failed").await;
    let tree: Value = sec.get(&app, "/api/v1/roles").await.json().await.expect("json");
    assert_eq!(tree.as_array().expect("roles").len(), 8, "6 built-in roots and 2 local roles");
    assert_eq!(app.audit_count("role.create", "success"), 2);
}
both_backends!(child_roles_only_narrow_their_parent);

async fn no_account_holds_two_administrator_roles(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let created: Value = sys
        .post(&app, "/api/v1/users", json!({"username": "zhang.san", "display_name": "张三"}))
        .await
        .json()
        .await
        .expect("json");
    let id = created["user"]["id"].as_str().expect("id").to_owned();
    assert!(created["user"]["roles"].as_array().expect("roles").is_empty(), "new accounts hold no role");
    let sys_role = app.role_id(&sec, "sysadmin").await;
    let aud_role = app.role_id(&sec, "auditadmin").await;
    let staff = app.role_id(&sec, "staff").await;
    let res = sec.put(&app, &format!("/api/v1/users/{id}/roles"), json!({"role_ids": [sys_role, aud_role]})).await;
    let body = expect_problem(res, 422, "validation_failed").await;
    assert!(body["detail_zh"].as_str().expect("zh").contains("三权分立"), "{body}");
    // A local child of the system administrator still counts as that lineage.
    let child: Value = sec
        .post(&app, "/api/v1/roles", json!({"code": "sys_junior", "name": "系统管理员助理", "parent_id": sys_role, "permissions": ["tenant.read"]}))
        .await
        .json()
        .await
        .expect("json");
    let res = sec.put(&app, &format!("/api/v1/users/{id}/roles"), json!({"role_ids": [child["id"], aud_role]})).await;
    expect_problem(res, 422, "validation_failed").await;
    // One administrator lineage plus business roles is fine, once the owner has set their own
    // password.
    app.first_sign_in("zhang.san", created["one_time_password"].as_str().expect("otp"), "Zhang-San-Passw0rd").await;
    let res = sec.put(&app, &format!("/api/v1/users/{id}/roles"), json!({"role_ids": [aud_role, staff]})).await;
    assert_eq!(res.status(), 200);
    // The system administrator cannot grant roles at all; the security administrator cannot
    // grant to itself.
    let res = sys.put(&app, &format!("/api/v1/users/{id}/roles"), json!({"role_ids": [staff]})).await;
    expect_problem(res, 403, "forbidden").await;
    let me: Value = sec.get(&app, "/api/v1/auth/me").await.json().await.expect("json");
    let users: Value = sec.get(&app, "/api/v1/users").await.json().await.expect("json");
    let own_id =
        users.as_array().expect("users").iter().find(|u| u["username"] == me["name"]).expect("self")["id"].clone();
    let res = sec
        .put(&app, &format!("/api/v1/users/{}/roles", own_id.as_str().expect("id")), json!({"role_ids": [staff]}))
        .await;
    expect_problem(res, 403, "separation_of_duties").await;
    assert_eq!(app.audit_count("role.assign", "success"), 3 + 1, "three at init, one here");
}
both_backends!(no_account_holds_two_administrator_roles);

async fn reset_disable_and_unlock(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let created: Value = sys
        .post(&app, "/api/v1/users", json!({"username": "li.si", "display_name": "李四"}))
        .await
        .json()
        .await
        .expect("json");
    let id = created["user"]["id"].as_str().expect("id").to_owned();
    let li = app.first_sign_in("li.si", created["one_time_password"].as_str().expect("otp"), "Li-Si-Passw0rd").await;
    assert_eq!(li.get(&app, "/api/v1/auth/me").await.status(), 200, "non-administrators need no TOTP");
    // Reset: new one-time password, old sessions end.
    let reset: Value =
        sys.post(&app, &format!("/api/v1/users/{id}/reset-password"), json!({})).await.json().await.expect("json");
    expect_problem(li.get(&app, "/api/v1/auth/me").await, 401, "unauthenticated").await;
    let li = app.first_sign_in("li.si", reset["one_time_password"].as_str().expect("otp"), "Li-Si-Passw0rd2").await;
    // Disable: sessions end and sign-in fails.
    let res = sys.post(&app, &format!("/api/v1/users/{id}/disable"), json!({})).await;
    assert_eq!(res.status(), 200);
    expect_problem(li.get(&app, "/api/v1/auth/me").await, 401, "unauthenticated").await;
    let res = app
        .client()
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": "li.si", "password": "Li-Si-Passw0rd2"}))
        .send()
        .await
        .expect("post");
    expect_problem(res, 401, "sign_in_failed").await;
    // Bad user names are refused, naming the field.
    let res = sys.post(&app, "/api/v1/users", json!({"username": "X", "display_name": "x"})).await;
    let body = expect_problem(res, 422, "validation_failed").await;
    assert_eq!(body["field"], "username");
    let res = sys.post(&app, "/api/v1/users", json!({"username": "li.si", "display_name": "重名"})).await;
    expect_problem(res, 409, "conflict").await;
    assert_eq!(app.audit_count("user.reset_password", "success"), 1);
    assert_eq!(app.audit_count("user.disable", "success"), 1);
}
both_backends!(reset_disable_and_unlock);
