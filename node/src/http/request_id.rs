//! Request ids: every request gets one (or keeps a sane `X-Request-Id` it arrived with); it is
//! returned in the `X-Request-Id` response header, carried by the request's tracing span into
//! every log line, written to audit rows as the correlation id and put in problem documents.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

fn incoming_or_new(req: &ServiceRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| (8..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Middleware: assigns the id, opens the span, logs the outcome and feeds the metrics.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = incoming_or_new(&req);
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", request_id = %id, %method, path = %req.path());
    let metrics = req.app_data::<actix_web::web::Data<crate::app::AppState>>().map(|s| s.metrics.clone());
    let started = Instant::now();
    let result = crate::error::in_request(id.clone(), next.call(req).instrument(span.clone())).await;
    let elapsed = started.elapsed();
    let _guard = span.enter();
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            tracing::info!(status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request done");
            if let Some(m) = metrics {
                m.observe(&method, &route, status, elapsed);
            }
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
            }
            Ok(res)
        }
        Err(e) => {
            tracing::warn!(error = %e, "request failed");
            Err(e)
        }
    }
}
