//! The registry: registration with review and versions, change policies, duplicate claims,
//! search filters, exports, GeoJSON, analysis counts and the bulk path.

use serde_json::{json, Value};
use tracenode_adapters::identifiers::Uscc;

use crate::both_backends;
use crate::support::{expect_problem, Session, TestApp};

pub(crate) fn code(region: &str, serial: u32) -> String {
    Uscc::generate("91", region, serial).expect("code").as_str().to_owned()
}

pub(crate) fn entity(code: &str, name: &str, region: &str) -> Value {
    json!({"code": code, "name": name, "kind": "enterprise", "region": region,
           "longitude": 120.13, "latitude": 30.27, "stages": ["distribution_sale"], "categories": ["01"],
           "contact_person": "王经理", "contact_phone": "0571-87000000"})
}

/// A machine client authenticated by API key.
pub(crate) struct Machine {
    pub(crate) client: reqwest::Client,
    pub(crate) key: String,
}

impl Machine {
    pub(crate) async fn post(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        self.client.post(app.url(path)).bearer_auth(&self.key).json(&body).send().await.expect("post")
    }
    pub(crate) async fn put(&self, app: &TestApp, path: &str, body: Value) -> reqwest::Response {
        self.client.put(app.url(path)).bearer_auth(&self.key).json(&body).send().await.expect("put")
    }
    pub(crate) async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client.get(app.url(path)).bearer_auth(&self.key).send().await.expect("get")
    }
    /// Posts a raw body (a file to import).
    pub(crate) async fn send(&self, app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(app.url(path))
            .bearer_auth(&self.key)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("post body")
    }
}

pub(crate) struct World {
    pub(crate) sys: Session,
    pub(crate) sec: Session,
    pub(crate) reviewer: Session,
    pub(crate) dept: Value,
    pub(crate) a: Value,
    pub(crate) b: Value,
    pub(crate) key_a: Machine,
    pub(crate) key_b: Machine,
}

pub(crate) async fn world(app: &TestApp) -> World {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let dept = app.tenant(&sys, "hz-commerce", "330100").await;
    let a = app.tenant(&sys, "platform-a", "330106").await;
    let b = app.tenant(&sys, "platform-b", "330102").await;
    let reviewer = app.staff(&sys, &sec, "reviewer", None).await;
    let key_a = Machine { client: app.client(), key: app.api_key(&sys, &sec, a["id"].as_str().expect("id")).await };
    let key_b = Machine { client: app.client(), key: app.api_key(&sys, &sec, b["id"].as_str().expect("id")).await };
    World { sys, sec, reviewer, dept, a, b, key_a, key_b }
}

async fn registration_review_and_versions(app: TestApp) {
    let w = world(&app).await;
    let c = code("330106", 1);
    let mut body = entity(&c, "西湖鲜果有限公司", "330106");
    body["tenant_id"] = w.dept["id"].clone();
    let res = w.reviewer.post(&app, "/api/v1/registry/entities", body.clone()).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    assert_eq!(created["outcome"], "created");
    let id = created["entity"]["id"].as_str().expect("id").to_owned();
    assert_eq!(created["entity"]["status"], "pending");
    assert_eq!(created["entity"]["region_name"], "西湖区");
    // Bad input names the field and changes nothing.
    for (patch, field) in [
        (json!({"code": "91330106MA0000001X"}), "code"),
        (json!({"code": code("330106", 2), "categories": ["99"]}), "categories"),
        (json!({"code": code("330106", 3), "region": "320106"}), "region"),
        (json!({"code": code("330106", 4), "longitude": 200.0}), "longitude"),
        (json!({"code": code("330106", 5), "site_code": "no-such-site"}), "site_code"),
        (json!({"code": code("330106", 6), "name": ""}), "name"),
    ] {
        let mut bad = body.clone();
        for (k, v) in patch.as_object().expect("obj") {
            bad[k] = v.clone();
        }
        let b = expect_problem(w.reviewer.post(&app, "/api/v1/registry/entities", bad).await, 422, "validation_failed")
            .await;
        assert_eq!(b["field"], field, "{b}");
    }
    let page: Value = w.reviewer.get(&app, "/api/v1/registry/entities").await.json().await.expect("json");
    assert_eq!(page["total"], 1, "refused registrations stored nothing");
    // Rejecting needs a reason; approving puts the version in the outbox.
    let res = w.reviewer.post(&app, &format!("/api/v1/registry/entities/{id}/review"), json!({"approve": false})).await;
    assert_eq!(expect_problem(res, 422, "validation_failed").await["field"], "reason");
    let res = w.reviewer.post(&app, &format!("/api/v1/registry/entities/{id}/review"), json!({"approve": true})).await;
    assert_eq!(res.status(), 200);
    let approved: Value = res.json().await.expect("json");
    assert_eq!(approved["status"], "approved");
    let res = w.reviewer.post(&app, &format!("/api/v1/registry/entities/{id}/review"), json!({"approve": true})).await;
    expect_problem(res, 409, "conflict").await;
    let outbox: Value = w.reviewer.get(&app, "/api/v1/registry/outbox").await.json().await.expect("json");
    assert_eq!(outbox.as_array().expect("outbox").len(), 1);
    assert_eq!(outbox[0]["seq"], 1);
    assert_eq!(outbox[0]["object_id"], id.as_str());
    let versions: Value =
        w.reviewer.get(&app, &format!("/api/v1/registry/entities/{id}/versions")).await.json().await.expect("json");
    assert_eq!(versions.as_array().expect("versions").len(), 1);
    assert_eq!(app.audit_count("entity.register", "success"), 1);
    assert_eq!(app.audit_count("entity.approve", "success"), 1);
    // The system administrator has no registry duties.
    expect_problem(w.sys.get(&app, "/api/v1/registry/entities").await, 403, "forbidden").await;
}
both_backends!(registration_review_and_versions);

async fn changes_follow_the_tenants_policy(app: TestApp) {
    let w = world(&app).await;
    let c = code("330106", 10);
    let res = w.key_a.post(&app, "/api/v1/registry/entities", entity(&c, "之江农贸", "330106")).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.expect("json")["entity"]["id"].as_str().expect("id").to_owned();
    w.reviewer.post(&app, &format!("/api/v1/registry/entities/{id}/review"), json!({"approve": true})).await;
    // A free field applies at once; a reviewed field waits while the approved version stays.
    let mut change = entity(&c, "之江农贸市场有限公司", "330106");
    change["contact_phone"] = json!("0571-88880000");
    let res = w.key_a.put(&app, &format!("/api/v1/registry/entities/{id}"), change.clone()).await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.expect("json");
    assert_eq!(changed["applied"], json!(["contact_phone"]));
    assert_eq!(changed["pending_fields"], json!(["name"]));
    assert_eq!(changed["entity"]["name"], "之江农贸");
    assert_eq!(changed["entity"]["contact_phone"], "0571-88880000");
    assert_eq!(changed["entity"]["version"], 2);
    let change_id = changed["pending_change_id"].as_str().expect("change").to_owned();
    // A second reviewed change waits for the first.
    let mut again = change.clone();
    again["kind"] = json!("cooperative");
    expect_problem(w.key_a.put(&app, &format!("/api/v1/registry/entities/{id}"), again).await, 409, "conflict").await;
    // The code never changes.
    let mut recode = change.clone();
    recode["code"] = json!(code("330106", 11));
    assert_eq!(
        expect_problem(
            w.key_a.put(&app, &format!("/api/v1/registry/entities/{id}"), recode).await,
            422,
            "validation_failed"
        )
        .await["field"],
        "code"
    );
    // Another tenant cannot reach it.
    expect_problem(
        w.key_b.put(&app, &format!("/api/v1/registry/entities/{id}"), change.clone()).await,
        403,
        "out_of_scope",
    )
    .await;
    let res =
        w.reviewer.post(&app, &format!("/api/v1/registry/changes/{change_id}/review"), json!({"approve": true})).await;
    assert_eq!(res.status(), 200);
    let e: Value = w.reviewer.get(&app, &format!("/api/v1/registry/entities/{id}")).await.json().await.expect("json");
    assert_eq!(e["name"], "之江农贸市场有限公司");
    assert_eq!(e["version"], 3);
    // Free the name for this tenant: the next rename applies at once.
    let tenant = w.a["id"].as_str().expect("id");
    let res = w
        .reviewer
        .put(&app, &format!("/api/v1/registry/policies/{tenant}"), json!([{"field": "name", "mode": "free"}]))
        .await;
    assert_eq!(res.status(), 200);
    let policies: Value = res.json().await.expect("json");
    assert!(policies.as_array().expect("list").iter().any(|p| p["field"] == "name" && p["mode"] == "free"));
    let mut rename = change.clone();
    rename["name"] = json!("之江市场");
    let changed: Value =
        w.key_a.put(&app, &format!("/api/v1/registry/entities/{id}"), rename).await.json().await.expect("json");
    assert_eq!(changed["entity"]["name"], "之江市场");
    assert!(changed["pending_change_id"].is_null());
    let outbox: Value = w.reviewer.get(&app, "/api/v1/registry/outbox").await.json().await.expect("json");
    let seqs: Vec<i64> = outbox.as_array().expect("list").iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "approve, free change, approved change, free rename");
    let versions: Value =
        w.key_a.get(&app, &format!("/api/v1/registry/entities/{id}/versions")).await.json().await.expect("json");
    assert_eq!(versions.as_array().expect("versions").len(), 4);
}
both_backends!(changes_follow_the_tenants_policy);

async fn the_same_code_from_two_tenants_goes_to_review(app: TestApp) {
    let w = world(&app).await;
    let c = code("330106", 20);
    let res = w.key_a.post(&app, "/api/v1/registry/entities", entity(&c, "甲方登记", "330106")).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.expect("json");
    let res = w.key_a.post(&app, "/api/v1/registry/entities", entity(&c, "甲方重复", "330106")).await;
    expect_problem(res, 409, "conflict").await;
    let res = w.key_b.post(&app, "/api/v1/registry/entities", entity(&c, "乙方登记", "330102")).await;
    assert_eq!(res.status(), 202);
    let claim: Value = res.json().await.expect("json");
    assert_eq!(claim["outcome"], "duplicate_claim");
    assert!(claim.get("entity_id").is_none(), "another tenant's internal id is not revealed: {claim}");
    assert!(!claim.to_string().contains(first["entity"]["id"].as_str().expect("id")), "{claim}");
    let page: Value =
        w.reviewer.get(&app, &format!("/api/v1/registry/entities?q={c}")).await.json().await.expect("json");
    assert_eq!(page["total"], 1, "not silently duplicated");
    let pending: Value = w.reviewer.get(&app, "/api/v1/registry/changes").await.json().await.expect("json");
    assert_eq!(pending.as_array().expect("list").len(), 1);
    assert_eq!(pending[0]["change_kind"], "duplicate_claim");
    let change_id = claim["change_id"].as_str().expect("id");
    let res =
        w.reviewer.post(&app, &format!("/api/v1/registry/changes/{change_id}/review"), json!({"approve": true})).await;
    assert_eq!(res.status(), 200);
    let e: Value = w
        .key_b
        .get(&app, &format!("/api/v1/registry/entities/{}", first["entity"]["id"].as_str().expect("id")))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(e["name"], "乙方登记");
    assert_eq!(e["tenant_id"], w.b["id"]);
    assert_eq!(e["status"], "approved");
    let res =
        w.key_a.get(&app, &format!("/api/v1/registry/entities/{}", first["entity"]["id"].as_str().expect("id"))).await;
    expect_problem(res, 403, "out_of_scope").await;
}
both_backends!(the_same_code_from_two_tenants_goes_to_review);

async fn search_filters_exports_and_analysis_agree(app: TestApp) {
    let w = world(&app).await;
    let dept = w.dept["id"].clone();
    let site: Value = w
        .reviewer
        .post(&app, "/api/v1/registry/sites", json!({"code": "xh-market", "name": "西湖农贸市场", "kind": "farmers_market", "region": "330106", "tenant_id": dept}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(site["code"], "xh-market");
    let specs = [
        ("330106", "enterprise", "processing", "01", true, "2026-01-15T08:00:00", "西湖加工厂"),
        ("330106", "individual", "distribution_sale", "01", true, "2026-02-10T08:00:00", "西湖摊位甲"),
        ("330102", "enterprise", "distribution_sale", "02", false, "2026-02-20T08:00:00", "上城食品"),
        ("330102", "cooperative", "primary_production", "01", false, "2026-03-05T08:00:00", "上城合作社"),
        ("330110", "enterprise", "warehousing", "03", false, "2025-12-31T23:00:00", "余杭药品仓储"),
    ];
    for (i, (region, kind, stage, category, merchant, filed, name)) in specs.iter().enumerate() {
        let mut e = entity(&code(region, 100 + i as u32), name, region);
        e["kind"] = json!(kind);
        e["stages"] = json!([stage]);
        e["categories"] = json!([category]);
        e["filed_at"] = json!(filed);
        e["tenant_id"] = dept.clone();
        if *merchant {
            e["site_code"] = json!("xh-market");
            e["merchant_code"] = json!(format!("A-{i:02}"));
            e["merchant_type"] = json!("蔬菜");
            e["varieties"] = json!(if i % 2 == 0 { "白菜、萝卜" } else { "番茄" });
        }
        if i == 4 {
            e.as_object_mut().expect("obj").remove("longitude");
            e.as_object_mut().expect("obj").remove("latitude");
        }
        assert_eq!(w.reviewer.post(&app, "/api/v1/registry/entities", e).await.status(), 201, "{name}");
    }
    let total = |q: &'static str| {
        let r = &w.reviewer;
        let app = &app;
        async move {
            let page: Value = r.get(app, &format!("/api/v1/registry/entities?{q}")).await.json().await.expect("json");
            page["total"].as_i64().expect("total")
        }
    };
    assert_eq!(total("").await, 5);
    assert_eq!(total("region=330100").await, 5, "a city covers its districts");
    assert_eq!(total("region=330106").await, 2);
    assert_eq!(total("kind=enterprise").await, 3);
    assert_eq!(total("stage=distribution_sale").await, 2);
    assert_eq!(total("category=01").await, 3);
    assert_eq!(total("site=xh-market").await, 2);
    assert_eq!(total("site=%E5%86%9C%E8%B4%B8").await, 2, "part of the site's name (农贸)");
    assert_eq!(total("merchant=true").await, 2);
    assert_eq!(total("merchant_type=%E8%94%AC%E8%8F%9C").await, 2);
    // Merchants by variety sold and by merchant code.
    assert_eq!(total("variety=%E8%90%9D%E5%8D%9C").await, 1, "萝卜: merchant 0 only");
    assert_eq!(total("variety=%E7%95%AA%E8%8C%84&merchant=true").await, 1, "番茄: merchant 1 only");
    assert_eq!(total("variety=%E6%A6%B4%E8%8E%B2").await, 0, "榴莲: nobody");
    assert_eq!(total("merchant_code=A-01").await, 1);
    assert_eq!(total("merchant_code=A-02").await, 0);
    assert_eq!(total("filed_from=2026-02-01&filed_to=2026-02-28").await, 2);
    assert_eq!(total("status=pending").await, 5);
    assert_eq!(total("q=%E4%B8%8A%E5%9F%8E").await, 2, "keyword 上城");
    assert_eq!(total("q=%25").await, 0, "a LIKE wildcard is literal");
    assert_eq!(total("region=330106&stage=processing&kind=enterprise").await, 1);
    // Sorting and paging.
    let page: Value = w
        .reviewer
        .get(&app, "/api/v1/registry/entities?sort=filed_at&order=asc&page_size=2&page=1")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["rows"][0]["name"], "余杭药品仓储");
    assert_eq!(page["rows"].as_array().expect("rows").len(), 2);
    let page3: Value = w
        .reviewer
        .get(&app, "/api/v1/registry/entities?sort=filed_at&order=asc&page_size=2&page=3")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page3["rows"].as_array().expect("rows").len(), 1);
    for bad in ["page_size=500", "sort=password", "region=999999", "stage=eating", "filed_from=2026-13-01"] {
        let res = w.reviewer.get(&app, &format!("/api/v1/registry/entities?{bad}")).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    // Analysis counts equal the searches.
    let a: Value = w.reviewer.get(&app, "/api/v1/registry/analysis").await.json().await.expect("json");
    assert_eq!(a["total"], 5);
    assert_eq!(a["merchants"], 2);
    let bucket = |list: &Value, key: &str| {
        list.as_array()
            .expect("list")
            .iter()
            .find(|b| b["key"] == key)
            .map(|b| b["count"].as_i64().expect("n"))
            .unwrap_or(0)
    };
    assert_eq!(bucket(&a["by_stage"], "distribution_sale"), total("stage=distribution_sale").await);
    assert_eq!(bucket(&a["by_category"], "01"), total("category=01").await);
    assert_eq!(bucket(&a["by_region"], "330102"), total("region=330102").await);
    assert_eq!(bucket(&a["by_month"], "2026-02"), total("filed_from=2026-02-01&filed_to=2026-02-28").await);
    let a: Value = w.reviewer.get(&app, "/api/v1/registry/analysis?region=330106").await.json().await.expect("json");
    assert_eq!(a["total"], 2, "drill-down");
    // Exports hold the same rows.
    let csv = w.reviewer.get(&app, "/api/v1/registry/export/entities.csv?region=330102").await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.expect("csv");
    assert!(text.starts_with('\u{feff}'), "BOM for spreadsheet programs");
    assert_eq!(text.lines().count(), 3, "header and two rows:\n{text}");
    assert!(text.contains("上城食品"));
    let xlsx = w.reviewer.get(&app, "/api/v1/registry/export/entities.xlsx").await.bytes().await.expect("bytes");
    assert_eq!(&xlsx[..2], b"PK", "an XLSX is a zip");
    let geo: Value = w.reviewer.get(&app, "/api/v1/registry/export/entities.geojson").await.json().await.expect("json");
    assert_eq!(geo["type"], "FeatureCollection");
    assert_eq!(geo["features"].as_array().expect("features").len(), 4, "only entities with coordinates");
    assert_eq!(geo["features"][0]["geometry"]["type"], "Point");
    assert_eq!(app.audit_count("registry.export", "success"), 3);
    // A tenant key sees only its tenant's rows.
    let page: Value = w.key_a.get(&app, "/api/v1/registry/entities").await.json().await.expect("json");
    assert_eq!(page["total"], 0);
}
both_backends!(search_filters_exports_and_analysis_agree);

async fn scoped_staff_cannot_search_outside_their_region(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let scoped = app.staff(&sys, &sec, "xihu.staff", Some(json!({"region": "330106"}))).await;
    let before = app.audit_count("registry.search", "denied");
    let res = scoped.get(&app, "/api/v1/registry/entities?region=330102").await;
    expect_problem(res, 403, "out_of_scope").await;
    assert_eq!(app.audit_count("registry.search", "denied"), before + 1);
    assert_eq!(scoped.get(&app, "/api/v1/registry/entities?region=330106").await.status(), 200);
    // Registering outside the scope is refused too.
    let dept = app.tenant(&sys, "dept", "330106").await;
    let mut e = entity(&code("330102", 1), "上城", "330102");
    e["tenant_id"] = dept["id"].clone();
    let b = expect_problem(scoped.post(&app, "/api/v1/registry/entities", e).await, 422, "validation_failed").await;
    assert_eq!(b["field"], "region");
}
both_backends!(scoped_staff_cannot_search_outside_their_region);

async fn bulk_registration_receipts(app: TestApp) {
    let w = world(&app).await;
    let mut batch: Vec<Value> =
        (0..50).map(|i| entity(&code("330106", 1000 + i), &format!("批量主体{i}"), "330106")).collect();
    batch[3]["code"] = json!("91330106MA00000000");
    batch[7]["categories"] = json!(["77"]);
    batch[9]["code"] = batch[8]["code"].clone();
    // Atomic: one bad record and nothing is stored.
    let res = w.key_a.post(&app, "/api/v1/registry/entities/bulk", json!({"mode": "atomic", "entities": batch})).await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.expect("json");
    assert_eq!(r["stored"], false);
    assert_eq!(r["accepted"], 0);
    let idx: Vec<i64> = r["rejected"].as_array().expect("list").iter().filter_map(|x| x["index"].as_i64()).collect();
    assert_eq!(idx, vec![3, 7, 9]);
    assert_eq!(r["rejected"][0]["field"], "code");
    assert_eq!(r["rejected"][1]["field"], "categories");
    let page: Value = w.key_a.get(&app, "/api/v1/registry/entities").await.json().await.expect("json");
    assert_eq!(page["total"], 0);
    // Dry run: the same receipt, nothing stored.
    let r: Value = w
        .key_a
        .post(
            &app,
            "/api/v1/registry/entities/bulk",
            json!({"mode": "best_effort", "dry_run": true, "entities": batch}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["stored"], false);
    // Best effort: the 47 good ones are stored.
    let r: Value = w
        .key_a
        .post(&app, "/api/v1/registry/entities/bulk", json!({"mode": "best_effort", "entities": batch}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["stored"], true);
    assert_eq!(r["accepted"], 47);
    let page: Value = w.key_a.get(&app, "/api/v1/registry/entities?page_size=1").await.json().await.expect("json");
    assert_eq!(page["total"], 47);
    // Resending the whole batch atomically: the stored records answer "unchanged", the bad
    // ones are rejected as before, and nothing changes.
    let good: Vec<Value> =
        batch.iter().enumerate().filter(|(i, _)| ![3, 7, 9].contains(i)).map(|(_, e)| e.clone()).collect();
    let r: Value = w
        .key_a
        .post(&app, "/api/v1/registry/entities/bulk", json!({"mode": "atomic", "entities": good}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!((r["stored"].as_bool(), r["accepted"].as_i64()), (Some(true), Some(0)), "{r}");
    assert_eq!(r["unchanged"].as_array().map(Vec::len), Some(47), "{r}");
    assert_eq!(r["rejected"].as_array().map(Vec::len), Some(0), "{r}");
    assert!(r["unchanged"][0]["entity_id"].as_str().is_some_and(|id| !id.is_empty()), "{r}");
    // A record this tenant holds, sent with other content, is rejected naming the entity.
    let mut renamed = batch[0].clone();
    renamed["name"] = json!("改名的主体");
    let r: Value = w
        .key_a
        .post(&app, "/api/v1/registry/entities/bulk", json!({"mode": "best_effort", "entities": [renamed]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["rejected"].as_array().map(Vec::len), Some(1), "{r}");
    assert!(r["rejected"][0]["reason"].as_str().is_some_and(|m| m.contains("send a change")), "{r}");
    let mut for_b: Vec<Value> = batch[..2].to_vec();
    for e in &mut for_b {
        e["region"] = json!("330102");
    }
    let r: Value = w
        .key_b
        .post(&app, "/api/v1/registry/entities/bulk", json!({"mode": "best_effort", "entities": for_b}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["duplicates"].as_array().expect("list").len(), 2);
    assert_eq!(app.audit_count("entity.bulk_register", "success"), 4);
    assert_eq!(app.audit_count("entity.bulk_register", "failure"), 1, "the refused atomic batch");
    let versions: Value = w
        .key_a
        .get(&app, &format!("/api/v1/registry/entities/{}/versions", page["rows"][0]["id"].as_str().expect("id")))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(versions.as_array().expect("v").len(), 1);
}
both_backends!(bulk_registration_receipts);

async fn the_catalogue_grows_locally_under_the_code_rule(app: TestApp) {
    let w = world(&app).await;
    let list: Value = w.reviewer.get(&app, "/api/v1/registry/catalogue").await.json().await.expect("json");
    let top: Vec<&str> = list.as_array().expect("list").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(top, vec!["食用农产品", "食品", "药品", "农业生产资料", "特种设备", "危险品", "稀土产品"]);
    let res = w
        .reviewer
        .post(&app, "/api/v1/registry/catalogue", json!({"parent_code": "01", "code": "0150", "name": "西湖龙井茶"}))
        .await;
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.expect("json");
    assert_eq!(c["origin"], "local");
    assert_eq!(c["level"], 2);
    for (body, field) in [
        (json!({"parent_code": "01", "code": "0101", "name": "x"}), "code"),
        (json!({"parent_code": "01", "code": "0250", "name": "x"}), "code"),
        (json!({"parent_code": "09", "code": "0950", "name": "x"}), "parent_code"),
    ] {
        let b =
            expect_problem(w.reviewer.post(&app, "/api/v1/registry/catalogue", body).await, 422, "validation_failed")
                .await;
        assert_eq!(b["field"], field);
    }
    expect_problem(
        w.reviewer
            .post(&app, "/api/v1/registry/catalogue", json!({"parent_code": "01", "code": "0150", "name": "x"}))
            .await,
        409,
        "conflict",
    )
    .await;
    // A tenant cannot change the catalogue.
    expect_problem(
        w.key_a
            .post(&app, "/api/v1/registry/catalogue", json!({"parent_code": "01", "code": "0151", "name": "x"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    let _ = (&w.sys, &w.b, &w.key_b);
    // Export, then import into the same node: nothing changes.
    let doc: Value = w.reviewer.get(&app, "/api/v1/registry/catalogue/export").await.json().await.expect("json");
    assert_eq!(doc["categories"][0]["code"], "01");
    assert!(doc["categories"].as_array().expect("list").iter().any(|c| c["code"] == "0150" && c["origin"] == "local"));
    let res = w.reviewer.post(&app, "/api/v1/registry/catalogue/import", doc.clone()).await;
    assert_eq!(res.status(), 200);
    let receipt: Value = res.json().await.expect("json");
    assert_eq!(receipt["added"], 0);
    assert_eq!(receipt["unchanged"], doc["categories"].as_array().expect("list").len());
    // New local categories arrive, children after parents whatever the file's order.
    let mut more = doc.clone();
    let list = more["categories"].as_array_mut().expect("list");
    list.push(json!({"code": "015051", "parent_code": "0150", "name": "明前茶", "origin": "local"}));
    list.push(json!({"code": "0151", "parent_code": "01", "name": "食用菌", "origin": "local"}));
    let n = list.len();
    list.swap(0, n - 2);
    let receipt: Value =
        w.reviewer.post(&app, "/api/v1/registry/catalogue/import", more).await.json().await.expect("json");
    assert_eq!(receipt["added"], 2);
    // A file that renames a category, or brings a national one, is refused whole.
    for (bad, why) in [
        (json!({"code": "0150", "parent_code": "01", "name": "改名", "origin": "local"}), "rename"),
        (json!({"code": "0102", "parent_code": "01", "name": "谷物", "origin": "national"}), "national"),
        (json!({"code": "0153", "parent_code": "02", "name": "错位", "origin": "local"}), "rule"),
    ] {
        let doc = json!({"categories": [bad.clone(), json!({"code": "0152", "parent_code": "01", "name": "花卉", "origin": "local"})]});
        let res = w.reviewer.post(&app, "/api/v1/registry/catalogue/import", doc).await;
        let problem = expect_problem(res, 422, "validation_failed").await;
        assert!(problem["field"].as_str().expect("field").starts_with("categories["), "{why}: {problem}");
    }
    let after: Value = w.reviewer.get(&app, "/api/v1/registry/catalogue").await.json().await.expect("json");
    assert!(!after.as_array().expect("list").iter().any(|c| c["code"] == "0152"), "refused imports add nothing");
    // Only catalogue administrators import.
    let res = w.key_a.post(&app, "/api/v1/registry/catalogue/import", json!({"categories": []})).await;
    assert_eq!(res.status(), 403);
}
both_backends!(the_catalogue_grows_locally_under_the_code_rule);

async fn lists_count_up_to_ten_thousand_and_the_analysis_counts_exactly(app: TestApp) {
    use tracenode::registry::bulk::{register_batch, BulkMode, BulkRequest};
    use tracenode::registry::model::EntityInput;
    let w = world(&app).await;
    let tenant = tracenode::ids::TenantId::parse(w.a["id"].as_str().expect("id")).expect("tenant");
    let region = tracenode::region::RegionCode::parse("330100").expect("region");
    let ctx = tracenode::audit::AuditContext::cli();
    for batch in 0..2u32 {
        let entities: Vec<EntityInput> = (0..5001u32)
            .map(|i| {
                serde_json::from_value(entity(
                    &code("330106", 20_000 + batch * 5001 + i),
                    &format!("批量{batch}-{i}"),
                    "330106",
                ))
                .expect("input")
            })
            .collect();
        let receipt = register_batch(
            &app.db,
            &ctx,
            &tenant,
            &region,
            &BulkRequest { mode: BulkMode::Atomic, dry_run: false, entities },
        )
        .expect("batch");
        assert_eq!(receipt.accepted, 5001);
    }
    let page: Value =
        w.key_a.get(&app, "/api/v1/registry/entities?region=330106&page_size=5").await.json().await.expect("json");
    assert_eq!(page["total"], 10_000);
    assert_eq!(page["total_is_lower_bound"], true);
    assert_eq!(page["rows"].as_array().expect("rows").len(), 5);
    let a: Value = w.key_a.get(&app, "/api/v1/registry/analysis?region=330106").await.json().await.expect("json");
    assert_eq!(a["total"], 10_002);
    let page: Value =
        w.key_a.get(&app, "/api/v1/registry/entities?q=%E6%89%B9%E9%87%8F1-500").await.json().await.expect("json");
    assert_eq!(page["total_is_lower_bound"], false);
    assert_eq!(page["total"], 2, "批量1-500 and 批量1-5000");
}
both_backends!(lists_count_up_to_ten_thousand_and_the_analysis_counts_exactly);

async fn devices_are_registered_with_a_valid_unique_mac(app: TestApp) {
    let w = world(&app).await;
    let res = w.key_a.post(&app, "/api/v1/registry/entities", entity(&code("330106", 31), "设备主体", "330106")).await;
    let id = res.json::<Value>().await.expect("json")["entity"]["id"].as_str().expect("id").to_owned();
    let device = |mac: &str, kind: &str| json!({"entity_id": id, "device_type": kind, "model": "TS-200", "mac": mac, "serial_number": "SN0001"});
    let res = w.key_a.post(&app, "/api/v1/registry/devices", device("00-1a-2b-3c-4d-5e", "scale")).await;
    assert_eq!(res.status(), 201);
    let d: Value = res.json().await.expect("json");
    assert_eq!(d["mac"], "00:1A:2B:3C:4D:5E", "stored in canonical form");
    let b = expect_problem(
        w.key_a.post(&app, "/api/v1/registry/devices", device("00:1A:2B:3C:4D", "scale")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(b["field"], "mac");
    let b = expect_problem(
        w.key_a.post(&app, "/api/v1/registry/devices", device("00:1A:2B:3C:4D:5F", "toaster")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(b["field"], "device_type");
    expect_problem(
        w.key_a.post(&app, "/api/v1/registry/devices", device("001A2B3C4D5E", "scanner")).await,
        409,
        "conflict",
    )
    .await;
    expect_problem(
        w.key_b.post(&app, "/api/v1/registry/devices", device("00:1A:2B:3C:4D:60", "scale")).await,
        403,
        "out_of_scope",
    )
    .await;
    let list: Value =
        w.key_a.get(&app, &format!("/api/v1/registry/entities/{id}/devices")).await.json().await.expect("json");
    assert_eq!(list.as_array().expect("list").len(), 1);
    let outbox: Value = w.reviewer.get(&app, "/api/v1/registry/outbox").await.json().await.expect("json");
    assert_eq!(outbox[0]["object_kind"], "device");
    assert_eq!(app.audit_count("device.register", "success"), 1);
    // In bulk: an atomic batch with one bad record stores nothing and names it.
    let batch = |mode: &str| {
        json!({"mode": mode, "devices": [
            device("00:1A:2B:3C:4D:70", "scale"),
            device("00:1A:2B:3C:4D:71", "sensor"),
            device("not-a-mac", "scale"),
            {"entity_id": "no-such-entity", "device_type": "scale", "model": "X", "mac": "00:1A:2B:3C:4D:72", "serial_number": "S"},
        ]})
    };
    let res = w.key_a.post(&app, "/api/v1/registry/devices/bulk", batch("atomic")).await;
    assert_eq!(res.status(), 200);
    let receipt: Value = res.json().await.expect("json");
    assert_eq!(receipt["stored"], false);
    assert_eq!(receipt["accepted"], 0);
    let fields: Vec<(u64, &str)> = receipt["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| (r["index"].as_u64().expect("index"), r["field"].as_str().expect("field")))
        .collect();
    assert_eq!(fields, vec![(2, "mac"), (3, "entity_id")]);
    let list: Value =
        w.key_a.get(&app, &format!("/api/v1/registry/entities/{id}/devices")).await.json().await.expect("json");
    assert_eq!(list.as_array().expect("list").len(), 1, "the atomic batch stored nothing");
    // Another tenant's batch cannot reach this entity.
    let res = w
        .key_b
        .post(
            &app,
            "/api/v1/registry/devices/bulk",
            json!({"mode": "best_effort", "devices": [device("00:1A:2B:3C:4D:73", "scale")]}),
        )
        .await;
    let receipt: Value = res.json().await.expect("json");
    assert_eq!(receipt["accepted"], 0);
    assert_eq!(receipt["rejected"][0]["field"], "entity_id");
    // Best effort stores the good ones.
    let res = w.key_a.post(&app, "/api/v1/registry/devices/bulk", batch("best_effort")).await;
    let receipt: Value = res.json().await.expect("json");
    assert_eq!(receipt["stored"], true);
    assert_eq!(receipt["accepted"], 2);
    let list: Value =
        w.key_a.get(&app, &format!("/api/v1/registry/entities/{id}/devices")).await.json().await.expect("json");
    assert_eq!(list.as_array().expect("list").len(), 3);
    let outbox: Value = w.reviewer.get(&app, "/api/v1/registry/outbox").await.json().await.expect("json");
    assert_eq!(outbox.as_array().expect("list").len(), 3, "every stored device, and only those, went upward");
}
both_backends!(devices_are_registered_with_a_valid_unique_mac);

/// Many pending registrations approved or rejected with one decision: each decided on its own
/// (reach, pending state, an audit row each), the undecidable named with why and the rest
/// going on; a rejection without a reason, an empty or oversized list, or a caller without
/// the review permission changes nothing.
async fn pending_registrations_are_reviewed_in_bulk(app: TestApp) {
    let w = world(&app).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = w
            .key_a
            .post(&app, "/api/v1/registry/entities", entity(&code("330106", 1200 + i), &format!("待审{i}"), "330106"))
            .await;
        let created: Value = created.json().await.expect("json");
        assert_eq!(created["entity"]["status"], "pending", "{created}");
        ids.push(created["entity"]["id"].as_str().expect("id").to_owned());
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    let sent = json!({"ids": [ids[0], ids[1], ids[2], ids[0], unknown, "not-an-id"], "approve": true});
    let r: Value = w.reviewer.post(&app, "/api/v1/registry/review/entities", sent).await.json().await.expect("json");
    assert_eq!((r["decided"].as_i64(), r["refused"].as_i64()), (Some(3), Some(2)), "{r}");
    let codes: Vec<&str> =
        r["results"].as_array().expect("results").iter().filter_map(|x| x["code"].as_str()).collect();
    assert_eq!(codes, ["not_found", "validation_failed"], "{r}");
    assert_eq!(r["results"][0]["status"], "approved");
    assert_eq!(app.audit_count("entity.approve", "success"), 3);
    // Again: no longer pending, each refused as a conflict.
    let again: Value = w
        .reviewer
        .post(&app, "/api/v1/registry/review/entities", json!({"ids": [ids[0]], "approve": false, "reason": "重复"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(again["results"][0]["code"], "conflict", "{again}");
    // A reviewer whose scope is another district decides none of ours.
    let narrow = app.staff(&w.sys, &w.sec, "narrow-reviewer", Some(json!({"region": "330102"}))).await;
    let r: Value = narrow
        .post(&app, "/api/v1/registry/review/entities", json!({"ids": [ids[3]], "approve": true}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!((r["decided"].as_i64(), r["results"][0]["code"].as_str()), (Some(0), Some("out_of_scope")), "{r}");
    // Bad requests change nothing.
    for (body, field) in [
        (json!({"ids": [ids[3], ids[4]], "approve": false}), "reason"),
        (json!({"ids": [], "approve": true}), "ids"),
        (json!({"ids": vec![ids[3].clone(); 1001], "approve": true}), "ids"),
    ] {
        let p = expect_problem(
            w.reviewer.post(&app, "/api/v1/registry/review/entities", body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(p["field"], field, "{p}");
    }
    let res = w.key_a.post(&app, "/api/v1/registry/review/entities", json!({"ids": [ids[3]], "approve": true})).await;
    assert_eq!(res.status(), 403);
    // The rest rejected with one reason, recorded with each.
    let r: Value = w
        .reviewer
        .post(
            &app,
            "/api/v1/registry/review/entities",
            json!({"ids": [ids[3], ids[4]], "approve": false, "reason": "材料不全"}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["decided"], 2, "{r}");
    let shown: Value =
        w.key_a.get(&app, &format!("/api/v1/registry/entities/{}", ids[4])).await.json().await.expect("json");
    assert_eq!(
        (shown["status"].as_str(), shown["status_reason"].as_str()),
        (Some("rejected"), Some("材料不全")),
        "{shown}"
    );
    assert_eq!(app.audit_count("entity.reject", "success"), 2);
}
both_backends!(pending_registrations_are_reviewed_in_bulk);

/// A department's own devices, with no entity behind them: registered by staff for a tenant in
/// their reach or by a tenant for itself, listed with the rest, and in the console.
async fn a_tenant_registers_devices_of_its_own(app: TestApp) {
    use crate::ingest::json_of;
    let w = world(&app).await;
    let dept = w.dept["id"].as_str().expect("dept");
    let own = |mac: &str, tenant: Option<&str>| {
        let mut d = json!({"device_type": "terminal", "model": "执法终端 T1", "mac": mac, "serial_number": "ZF-001"});
        if let Some(t) = tenant {
            d["tenant_id"] = json!(t);
        }
        d
    };
    let made =
        json_of(w.reviewer.post(&app, "/api/v1/registry/devices", own("02:00:00:00:00:01", Some(dept))).await, 201)
            .await;
    assert_eq!((made["entity_id"].is_null(), made["tenant_id"].as_str()), (true, Some(dept)), "{made}");
    let p = expect_problem(
        w.reviewer.post(&app, "/api/v1/registry/devices", own("02:00:00:00:00:02", None)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "tenant_id");
    // A platform's key registers its own; it may not name another tenant.
    expect_problem(
        w.key_a.post(&app, "/api/v1/registry/devices", own("02:00:00:00:00:03", Some(dept))).await,
        403,
        "out_of_scope",
    )
    .await;
    let mine = json_of(w.key_a.post(&app, "/api/v1/registry/devices", own("02:00:00:00:00:04", None)).await, 201).await;
    assert_eq!(mine["tenant_id"], w.a["id"]);
    expect_problem(
        w.key_a.post(&app, "/api/v1/registry/devices", own("02-00-00-00-00-04", None)).await,
        409,
        "conflict",
    )
    .await;
    // Each sees what is theirs.
    let all = json_of(w.reviewer.get(&app, "/api/v1/registry/devices").await, 200).await;
    assert_eq!(all["total"], 2, "{all}");
    let theirs = json_of(w.key_a.get(&app, "/api/v1/registry/devices").await, 200).await;
    assert_eq!((theirs["total"].as_i64(), theirs["rows"][0]["mac"].as_str()), (Some(1), Some("02:00:00:00:00:04")));
    let outbox: Value = w.reviewer.get(&app, "/api/v1/registry/outbox").await.json().await.expect("json");
    assert_eq!(outbox.as_array().map(|o| o.iter().filter(|e| e["object_kind"] == "device").count()), Some(2));
    // The console page lists them and registers one more; a bad MAC is explained.
    let html = w.reviewer.get(&app, "/system-building/devices").await.text().await.expect("html");
    assert!(
        html.contains("02:00:00:00:00:01") && html.contains("本单位自有"),
        "the page lists the department's device"
    );
    let post = |mac: &'static str| {
        let form = [
            ("csrf", w.reviewer.csrf.as_str()),
            ("tenant_id", dept),
            ("device_type", "scanner"),
            ("model", "扫码枪 S2"),
            ("mac", mac),
            ("serial_number", "SM-9"),
        ];
        w.reviewer.client.post(app.url("/system-building/devices")).form(&form).send()
    };
    let html = post("02:00:00:00:00").await.expect("post").text().await.expect("html");
    assert!(html.contains("MAC"), "the fault is shown");
    let html = post("02:00:00:00:00:05").await.expect("post").text().await.expect("html");
    assert!(html.contains("设备 02:00:00:00:00:05 已登记"), "registered");
    let all = json_of(w.reviewer.get(&app, "/api/v1/registry/devices?device_type=scanner").await, 200).await;
    assert_eq!(all["total"], 1, "{all}");
}
both_backends!(a_tenant_registers_devices_of_its_own);
