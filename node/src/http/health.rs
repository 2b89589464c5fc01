//! Liveness, readiness, metrics and the OpenAPI document.

use actix_web::{get, web, HttpResponse};

use crate::app::AppState;
use crate::error::AppResult;

/// Liveness: the process answers.
#[utoipa::path(tag = "health", responses((status = 200, description = "The node is running", content_type = "text/plain")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

/// Readiness: the database answers.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "Ready", content_type = "text/plain"),
    (status = 503, description = "Database unavailable", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    state.db.run(crate::db::ping).await?;
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready"))
}

/// Prometheus metrics.
#[utoipa::path(tag = "health", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(state.db.pool_state()))
}

/// The OpenAPI document of every route.
#[utoipa::path(tag = "health", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
#[get("/api/v1/openapi.json")]
pub async fn openapi(doc: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(doc.text.clone())
}

/// The rendered OpenAPI document, with the schemas served on their own cut from it once, at
/// start (the routes that serve them are open to anyone, so a request only copies text).
pub struct OpenApiDocument {
    text: String,
    standalone: Vec<(&'static str, String)>,
}

impl OpenApiDocument {
    /// The document `text` and the standalone schemas of [`STANDALONE`] cut from it.
    pub fn new(text: String) -> OpenApiDocument {
        let document: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let standalone = STANDALONE
            .iter()
            .filter_map(|(name, component)| {
                let schema = standalone_schema(&document, component, &format!("/api/v1/schemas/{name}.json"))?;
                Some((*name, schema.to_string()))
            })
            .collect();
        OpenApiDocument { text, standalone }
    }
}

/// The schemas served on their own as JSON Schema documents, by the name in the URL.
const STANDALONE: [(&str, &str); 1] = [("trace-record", "TraceRecord")];

/// A component of the OpenAPI document as a JSON Schema (2020-12) document of its own: the
/// component at the root, every component it reaches under `$defs`, references rewritten.
pub fn standalone_schema(document: &serde_json::Value, component: &str, id: &str) -> Option<serde_json::Value> {
    let all = document.pointer("/components/schemas")?.as_object()?;
    let mut root = all.get(component)?.clone();
    let mut defs = serde_json::Map::new();
    let mut waiting = vec![root.clone()];
    while let Some(next) = waiting.pop() {
        for name in references_in(&next) {
            if name != component && !defs.contains_key(&name) {
                let def = all.get(&name)?.clone();
                waiting.push(def.clone());
                defs.insert(name, def);
            }
        }
    }
    let mut defs = serde_json::Value::Object(defs);
    rewrite_references(&mut root, component);
    rewrite_references(&mut defs, component);
    let object = root.as_object_mut()?;
    object.insert("$schema".into(), "https://json-schema.org/draft/2020-12/schema".into());
    object.insert("$id".into(), id.into());
    object.insert("$defs".into(), defs);
    Some(root)
}

fn references_in(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v.as_str()) {
                ("$ref", Some(r)) => r.strip_prefix("#/components/schemas/").map(str::to_owned).into_iter().collect(),
                _ => references_in(v),
            })
            .collect(),
        serde_json::Value::Array(a) => a.iter().flat_map(references_in).collect(),
        _ => Vec::new(),
    }
}

fn rewrite_references(value: &mut serde_json::Value, root: &str) {
    match value {
        serde_json::Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                match (k.as_str(), v.as_str().and_then(|r| r.strip_prefix("#/components/schemas/"))) {
                    ("$ref", Some(name)) if name == root => *v = "#".into(),
                    ("$ref", Some(name)) => *v = format!("#/$defs/{name}").into(),
                    _ => rewrite_references(v, root),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|v| rewrite_references(v, root)),
        _ => {}
    }
}

/// A record format as JSON Schema (2020-12), taken from the OpenAPI document's components
/// so the two never disagree: `trace-record` is one trace record (a JSON import is an array
/// of them, an NDJSON import one a line).
#[utoipa::path(tag = "ops", params(("name" = String, Path, description = "`trace-record`")),
    responses((status = 200, body = serde_json::Value), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/api/v1/schemas/{name}.json")]
pub async fn record_schema(
    doc: web::Data<OpenApiDocument>,
    path: web::Path<String>,
) -> crate::error::AppResult<HttpResponse> {
    let name = path.into_inner();
    let Some((_, schema)) = doc.standalone.iter().find(|(n, _)| *n == name) else {
        return Err(crate::error::AppError::with_detail(
            crate::error::ErrorKind::NotFound,
            format!("没有名为 {name} 的结构描述"),
            format!("no schema named {name}"),
        ));
    };
    Ok(HttpResponse::Ok().content_type("application/schema+json").body(schema.clone()))
}

/// The XML exchange envelope (version 1, pushed records and the node's acknowledgement) as
/// XML Schema 1.0, the same text the node's adapters are built with.
#[utoipa::path(tag = "ops", responses((status = 200, description = "XML Schema 1.0", content_type = "application/xml")))]
#[get("/api/v1/schemas/exchange.xsd")]
pub async fn exchange_schema() -> HttpResponse {
    HttpResponse::Ok().content_type("application/xml; charset=utf-8").body(tracenode_adapters::exchange::SCHEMA)
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz)
        .service(readyz)
        .service(metrics)
        .service(openapi)
        .service(record_schema)
        .service(exchange_schema);
}
