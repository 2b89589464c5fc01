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
