//! Health, readiness, metrics, request ids, the OpenAPI document and error rendering.

use serde_json::Value;

use crate::both_backends;
use crate::support::{expect_problem, TestApp};

async fn health_metrics_and_request_ids(app: TestApp) {
    let client = app.client();
    let res = client.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(res.status(), 200);
    let id = res.headers().get("x-request-id").expect("request id").to_str().expect("ascii").to_owned();
    assert_eq!(id.len(), 36);
    assert_eq!(res.text().await.expect("body"), "ok");
    let res = client.get(app.url("/readyz")).header("X-Request-Id", "trace-abc-12345").send().await.expect("readyz");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "trace-abc-12345", "a sane incoming id is kept");
    let metrics = client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.contains("tracenode_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tracenode_http_request_duration_seconds_bucket"), "{metrics}");
    assert!(metrics.contains("tracenode_db_pool_connections"), "{metrics}");
    // Security headers on every response.
    let res = client.get(app.url("/login")).send().await.expect("login");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(res.headers()["content-security-policy"].to_str().expect("csp").contains("default-src 'self'"));
}
both_backends!(health_metrics_and_request_ids);

async fn errors_are_problem_documents(app: TestApp) {
    let client = app.client();
    let body =
        expect_problem(client.get(app.url("/api/v1/tenants")).send().await.expect("get"), 401, "unauthenticated").await;
    assert!(body["request_id"].as_str().is_some_and(|s| s.len() == 36), "{body}");
    // Under /api/ an anonymous caller learns nothing of which routes exist; a signed-in one
    // gets 404.
    expect_problem(client.get(app.url("/api/v1/no/such/route")).send().await.expect("get"), 401, "unauthenticated")
        .await;
    let sys = app.admin("sysadmin").await;
    expect_problem(sys.get(&app, "/api/v1/no/such/route").await, 404, "not_found").await;
    // Outside the API, errors are Chinese pages with the same status.
    let res = client.get(app.url("/no/such/page")).send().await.expect("get");
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"].to_str().expect("ct").starts_with("text/html"));
    let page = res.text().await.expect("text");
    assert!(page.contains("没有这个地址") && page.contains("not_found"), "{page}");
    // Malformed JSON, wrong shape, unknown fields.
    let res = client
        .post(app.url("/api/v1/auth/sign-in"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("post");
    expect_problem(res, 400, "malformed_body").await;
    let res = client
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"username": "a", "password": "b", "admin": true}))
        .send()
        .await
        .expect("post");
    let body = expect_problem(res, 400, "malformed_body").await;
    assert!(body["detail"].as_str().expect("detail").contains("admin"), "{body}");
    // Oversized bodies are refused before they are read.
    let big = "x".repeat(app.config.http.body_limit_bytes + 10);
    let res = client
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"username": big, "password": "b"}))
        .send()
        .await
        .expect("post");
    expect_problem(res, 413, "payload_too_large").await;
}
both_backends!(errors_are_problem_documents);

async fn openapi_documents_every_route(app: TestApp) {
    let doc: Value =
        app.client().get(app.url("/api/v1/openapi.json")).send().await.expect("get").json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    // The whole document, pinned: a change to any route, schema or answer fails here until
    // it is reviewed. Both backends serve the same document.
    insta::assert_snapshot!("openapi_document", serde_json::to_string_pretty(&doc).expect("json"));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/auth/sign-in", "post"),
        ("/api/v1/auth/password", "post"),
        ("/api/v1/auth/totp", "get"),
        ("/api/v1/auth/totp", "post"),
        ("/api/v1/auth/sign-out", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/tenants", "get"),
        ("/api/v1/tenants", "post"),
        ("/api/v1/tenants/{id}", "get"),
        ("/api/v1/tenants/{id}/suspend", "post"),
        ("/api/v1/tenants/{id}/activate", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}/roles", "put"),
        ("/api/v1/users/{id}/scope", "put"),
        ("/api/v1/users/{id}/unlock", "post"),
        ("/api/v1/users/{id}/reset-password", "post"),
        ("/api/v1/users/{id}/disable", "post"),
        ("/api/v1/users/{id}/enable", "post"),
        ("/api/v1/roles", "get"),
        ("/api/v1/roles", "post"),
        ("/api/v1/roles/{id}/permissions", "put"),
        ("/api/v1/api-keys", "get"),
        ("/api/v1/api-keys", "post"),
        ("/api/v1/api-keys/{id}/revoke", "post"),
        ("/api/v1/audit", "get"),
        ("/api/v1/audit/verify", "get"),
        ("/api/v1/registry/catalogue", "get"),
        ("/api/v1/registry/catalogue", "post"),
        ("/api/v1/registry/sites", "get"),
        ("/api/v1/registry/sites", "post"),
        ("/api/v1/registry/entities", "get"),
        ("/api/v1/registry/entities", "post"),
        ("/api/v1/registry/entities/bulk", "post"),
        ("/api/v1/registry/entities/{id}", "get"),
        ("/api/v1/registry/entities/{id}", "put"),
        ("/api/v1/registry/entities/{id}/review", "post"),
        ("/api/v1/registry/entities/{id}/versions", "get"),
        ("/api/v1/registry/changes", "get"),
        ("/api/v1/registry/changes/{id}/review", "post"),
        ("/api/v1/registry/export/entities.{format}", "get"),
        ("/api/v1/registry/analysis", "get"),
        ("/api/v1/registry/policies/{tenant_id}", "get"),
        ("/api/v1/registry/policies/{tenant_id}", "put"),
        ("/api/v1/registry/outbox", "get"),
        ("/api/v1/federation/indicators", "get"),
        ("/api/v1/federation/indicators/stages", "get"),
        ("/api/v1/jobs", "get"),
        ("/api/v1/jobs/{name}/runs", "get"),
        ("/api/v1/monitoring/indicators", "get"),
        ("/api/v1/monitoring/indicators.csv", "get"),
        ("/api/v1/monitoring/trend", "get"),
        ("/api/v1/monitoring/thresholds", "get"),
        ("/api/v1/monitoring/thresholds", "put"),
        ("/api/v1/monitoring/thresholds/{stage}/{indicator}", "delete"),
        ("/api/v1/monitoring/warnings", "get"),
        ("/api/v1/monitoring/warnings/evaluate", "post"),
        ("/api/v1/monitoring/verify", "get"),
        ("/api/v1/evaluation/sets", "get"),
        ("/api/v1/evaluation/sets", "post"),
        ("/api/v1/evaluation/sets/{code}", "get"),
        ("/api/v1/evaluation/runs", "get"),
        ("/api/v1/evaluation/runs", "post"),
        ("/api/v1/evaluation/runs/{id}/results", "get"),
        ("/api/v1/evaluation/objects/{id}/trend", "get"),
        ("/api/v1/evaluation/runs/{id}/report", "get"),
        ("/api/v1/evaluation/runs/{id}/report.xlsx", "get"),
        ("/api/v1/evaluation/runs/{id}/report/send", "post"),
        ("/api/v1/evaluation/runs/{id}/verify", "get"),
        ("/api/v1/evaluation/jurisdiction", "get"),
        ("/api/v1/evaluation/jurisdiction/results", "get"),
        ("/api/v1/evaluation/jurisdiction/results.csv", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    // Console pages are HTML for people, not part of the machine interface.
    for page in ["/", "/login", "/tenants", "/users", "/audit", "/jobs", "/registry", "/{capability}"] {
        assert!(paths.get(page).is_none(), "the console page {page} is in the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // Every operation documents at least one response.
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("item") {
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        }
    }
}
both_backends!(openapi_documents_every_route);

/// utoipa names a schema after its type, so two types of one name (a submission's receipt
/// and a batch's) would share one schema in the OpenAPI document and one would describe the
/// other's answers. Every schema type of the node and of the wire types it documents has a
/// name of its own (`#[schema(as = …)]` where the type names collide).
#[test]
fn openapi_schema_names_are_unique() {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    files(&root.join("src"), &mut sources);
    files(&root.join("../federation/src"), &mut sources);
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    let mut clashes = Vec::new();
    for path in sources {
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains("ToSchema") || !line.trim_start().starts_with("#[") {
                continue;
            }
            // The attributes after the derive, then the item it names.
            let mut renamed = line.split("schema(as = ").nth(1).map(|r| r.trim_end_matches(&[')', ']'][..]).to_owned());
            let mut j = i + 1;
            while j < lines.len() && lines[j].trim_start().starts_with("#[") {
                if let Some(r) = lines[j].split("schema(as = ").nth(1) {
                    renamed = Some(r.trim_end_matches(&[')', ']'][..]).to_owned());
                }
                j += 1;
            }
            let Some(item) = lines.get(j) else { continue };
            let mut words = item.split_whitespace().skip_while(|w| !matches!(*w, "struct" | "enum"));
            let (Some(_), Some(name)) = (words.next(), words.next()) else { continue };
            let name = renamed.unwrap_or_else(|| name.trim_end_matches(|c: char| !c.is_alphanumeric()).to_owned());
            let place = format!("{}:{}", path.display(), j + 1);
            if let Some(before) = seen.insert(name.clone(), place.clone()) {
                clashes.push(format!("{name}: {before} and {place}"));
            }
        }
    }
    assert!(seen.len() > 50, "the scan found the schema types ({})", seen.len());
    assert!(clashes.is_empty(), "schema names used twice:\n{}", clashes.join("\n"));
}
