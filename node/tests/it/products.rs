//! Product registrations: codes under their schemes, leaf categories, owning entities, the
//! review and change rules shared with entities, duplicate claims, search and the outbox.

use serde_json::{json, Value};

use crate::both_backends;
use crate::registry::{code, entity, world, World};
use crate::support::{expect_problem, TestApp};

/// An approved entity of tenant A, and a local leaf category `0150` under 食用农产品.
pub(crate) async fn owner(app: &TestApp, w: &World, serial: u32) -> String {
    let c = code("330106", serial);
    let res = w.key_a.post(app, "/api/v1/registry/entities", entity(&c, "西湖茶叶合作社", "330106")).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.expect("json")["entity"]["id"].as_str().expect("id").to_owned();
    let res = w.reviewer.post(app, &format!("/api/v1/registry/entities/{id}/review"), json!({"approve": true})).await;
    assert_eq!(res.status(), 200);
    let res = w
        .reviewer
        .post(app, "/api/v1/registry/catalogue", json!({"parent_code": "01", "code": "0150", "name": "茶叶"}))
        .await;
    assert!(res.status() == 201 || res.status() == 409, "{}", res.status());
    c
}

fn product(entity_code: &str, scheme: &str, code: &str) -> Value {
    json!({"scheme": scheme, "code": code, "name": "西湖龙井 明前特级", "category": "0150",
           "specification": "250g/罐", "brand": "狮峰", "shelf_life_days": 540, "entity_code": entity_code})
}

async fn products_are_validated_reviewed_and_versioned(app: TestApp) {
    let w = world(&app).await;
    let owner_code = owner(&app, &w, 301).await;
    // A GTIN-13 is checked and kept as 14 digits.
    let res = w.key_a.post(&app, "/api/v1/registry/products", product(&owner_code, "gs1", "6901234567892")).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    assert_eq!(created["outcome"], "created");
    assert_eq!(created["product"]["code"], "06901234567892");
    assert_eq!(created["product"]["status"], "pending");
    let id = created["product"]["id"].as_str().expect("id").to_owned();
    // Bad input names its field and stores nothing.
    for (patch, field) in [
        (json!({"code": "6901234567893"}), "code"),
        (json!({"scheme": "drug", "code": "12345"}), "code"),
        (json!({"scheme": "handle", "code": "no-slash"}), "code"),
        (json!({"scheme": "local", "code": "L-1", "category": "01"}), "category"),
        (json!({"scheme": "local", "code": "L-2", "category": "0199"}), "category"),
        (json!({"scheme": "local", "code": "L-3", "entity_code": code("330106", 399)}), "entity_code"),
        (json!({"scheme": "local", "code": "L-4", "shelf_life_days": 0}), "shelf_life_days"),
        (json!({"scheme": "local", "code": "L-5", "name": ""}), "name"),
    ] {
        let mut body = product(&owner_code, "gs1", "6901234567892");
        for (k, v) in patch.as_object().expect("patch") {
            body[k] = v.clone();
        }
        let res = w.key_a.post(&app, "/api/v1/registry/products", body).await;
        let problem = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["field"], field, "{patch}");
    }
    let list: Value = w.key_a.get(&app, "/api/v1/registry/products").await.json().await.expect("json");
    assert_eq!(list["total"], 1, "nothing stored by bad input");
    // The entity of another tenant cannot own this tenant's product.
    let res = w.key_b.post(&app, "/api/v1/registry/products", product(&owner_code, "local", "B-1")).await;
    assert_eq!(expect_problem(res, 422, "validation_failed").await["field"], "entity_code");
    // Review: a rejection needs a reason; approval sends the product upward.
    let path = format!("/api/v1/registry/products/{id}/review");
    let res = w.reviewer.post(&app, &path, json!({"approve": false})).await;
    assert_eq!(expect_problem(res, 422, "validation_failed").await["field"], "reason");
    let res = w.reviewer.post(&app, &path, json!({"approve": true})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json")["status"], "approved");
    expect_problem(w.reviewer.post(&app, &path, json!({"approve": true})).await, 409, "conflict").await;
    // Changes: the brand is free, the name waits for review.
    let mut change = product(&owner_code, "gs1", "6901234567892");
    change["brand"] = json!("龙坞");
    change["name"] = json!("西湖龙井 雨前一级");
    let res = w.key_a.put(&app, &format!("/api/v1/registry/products/{id}"), change.clone()).await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.expect("json");
    assert_eq!(changed["applied"], json!(["brand"]));
    assert_eq!(changed["pending_fields"], json!(["name"]));
    assert_eq!(changed["product"]["brand"], "龙坞");
    assert_eq!(changed["product"]["name"], "西湖龙井 明前特级");
    let change_id = changed["pending_change_id"].as_str().expect("change").to_owned();
    // Another tenant can neither change nor read it.
    let res = w.key_b.put(&app, &format!("/api/v1/registry/products/{id}"), change.clone()).await;
    expect_problem(res, 403, "out_of_scope").await;
    expect_problem(w.key_b.get(&app, &format!("/api/v1/registry/products/{id}")).await, 403, "out_of_scope").await;
    let res =
        w.reviewer.post(&app, &format!("/api/v1/registry/changes/{change_id}/review"), json!({"approve": true})).await;
    assert_eq!(res.status(), 200);
    let p: Value = w.key_a.get(&app, &format!("/api/v1/registry/products/{id}")).await.json().await.expect("json");
    assert_eq!(p["name"], "西湖龙井 雨前一级");
    assert_eq!(p["version"], 3);
    let versions: Value =
        w.key_a.get(&app, &format!("/api/v1/registry/products/{id}/versions")).await.json().await.expect("json");
    assert_eq!(versions.as_array().expect("versions").len(), 3);
    // Product policies are their own: freeing the product name leaves the entity name reviewed.
    let tenant = w.a["id"].as_str().expect("id");
    let res = w
        .reviewer
        .put(
            &app,
            &format!("/api/v1/registry/policies/{tenant}?kind=product"),
            json!([{"field": "name", "mode": "free"}]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let entity_policies: Value =
        w.reviewer.get(&app, &format!("/api/v1/registry/policies/{tenant}")).await.json().await.expect("json");
    assert!(entity_policies.as_array().expect("list").iter().any(|p| p["field"] == "name" && p["mode"] == "review"));
    let res = w
        .reviewer
        .put(
            &app,
            &format!("/api/v1/registry/policies/{tenant}?kind=product"),
            json!([{"field": "kind", "mode": "free"}]),
        )
        .await;
    assert_eq!(expect_problem(res, 422, "validation_failed").await["field"], "field");
    // The outbox holds the entity's and the product's approved versions, in order.
    let outbox: Value = w.reviewer.get(&app, "/api/v1/registry/outbox").await.json().await.expect("json");
    let kinds: Vec<&str> = outbox.as_array().expect("list").iter().filter_map(|e| e["object_kind"].as_str()).collect();
    assert_eq!(kinds, vec!["entity", "product", "product", "product"]);
}
both_backends!(products_are_validated_reviewed_and_versioned);

async fn the_same_product_code_from_two_tenants_goes_to_review(app: TestApp) {
    let w = world(&app).await;
    let owner_a = owner(&app, &w, 311).await;
    let res = w.key_a.post(&app, "/api/v1/registry/products", product(&owner_a, "ecode", "10012345678901234")).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.expect("json");
    expect_problem(
        w.key_a.post(&app, "/api/v1/registry/products", product(&owner_a, "ecode", "10012345678901234")).await,
        409,
        "conflict",
    )
    .await;
    // Tenant B registers an entity of its own, then claims the same code.
    let c = code("330102", 312);
    let res = w.key_b.post(&app, "/api/v1/registry/entities", entity(&c, "上城茶庄", "330102")).await;
    assert_eq!(res.status(), 201);
    let res = w.key_b.post(&app, "/api/v1/registry/products", product(&c, "ecode", "10012345678901234")).await;
    assert_eq!(res.status(), 202);
    let claim: Value = res.json().await.expect("json");
    assert_eq!(claim["outcome"], "duplicate_claim");
    assert!(claim.get("product_id").is_none(), "another tenant's internal id is not revealed: {claim}");
    assert!(!claim.to_string().contains(first["product"]["id"].as_str().expect("id")), "{claim}");
    let list: Value = w.reviewer.get(&app, "/api/v1/registry/products?q=1001").await.json().await.expect("json");
    assert_eq!(list["total"], 1, "not silently duplicated");
    // The same code under another scheme is another product.
    let res = w.key_b.post(&app, "/api/v1/registry/products", product(&c, "local", "10012345678901234")).await;
    assert_eq!(res.status(), 201);
    let change_id = claim["change_id"].as_str().expect("id");
    let res =
        w.reviewer.post(&app, &format!("/api/v1/registry/changes/{change_id}/review"), json!({"approve": true})).await;
    assert_eq!(res.status(), 200);
    let id = first["product"]["id"].as_str().expect("id");
    let p: Value = w.key_b.get(&app, &format!("/api/v1/registry/products/{id}")).await.json().await.expect("json");
    assert_eq!(p["tenant_id"], w.b["id"]);
    expect_problem(w.key_a.get(&app, &format!("/api/v1/registry/products/{id}")).await, 403, "out_of_scope").await;
}
both_backends!(the_same_product_code_from_two_tenants_goes_to_review);

async fn products_are_searched_within_reach(app: TestApp) {
    let w = world(&app).await;
    let owner_a = owner(&app, &w, 321).await;
    for (scheme, code, name) in [
        ("gs1", "6901234567892", "龙井"),
        ("handle", "88.100.1/TEA-01", "碧螺春"),
        ("drug", "81234560000000000001", "板蓝根颗粒"),
    ] {
        let mut body = product(&owner_a, scheme, code);
        body["name"] = json!(name);
        assert_eq!(w.key_a.post(&app, "/api/v1/registry/products", body).await.status(), 201);
    }
    let get = |q: &'static str| {
        let w = &w;
        let app = &app;
        async move { w.key_a.get(app, &format!("/api/v1/registry/products?{q}")).await.json::<Value>().await.expect("json") }
    };
    assert_eq!(get("").await["total"], 3);
    assert_eq!(get("scheme=handle").await["total"], 1);
    assert_eq!(get("q=%E7%A2%A7%E8%9E%BA").await["rows"][0]["name"], "碧螺春");
    assert_eq!(get("q=0690").await["total"], 1);
    assert_eq!(get("category=01").await["total"], 3);
    assert_eq!(get("category=02").await["total"], 0);
    assert_eq!(get("status=approved").await["total"], 0);
    let b: Value = w.key_b.get(&app, "/api/v1/registry/products").await.json().await.expect("json");
    assert_eq!(b["total"], 0, "another tenant sees none");
    let res = w.key_a.get(&app, "/api/v1/registry/products?scheme=isbn").await;
    assert_eq!(expect_problem(res, 422, "validation_failed").await["field"], "scheme");
    let res = w.key_a.get(&app, "/api/v1/registry/products?page_size=500").await;
    assert_eq!(expect_problem(res, 422, "validation_failed").await["field"], "page_size");
}
both_backends!(products_are_searched_within_reach);
