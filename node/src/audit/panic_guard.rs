//! A panic in a handler becomes a logged and audited 500 problem document, never a reset
//! connection or a dead worker.
//!
//! The request's future is polled under `catch_unwind`; on a panic the client gets the usual
//! `internal_error` problem (no detail), the log gets one line with the route and the panic's
//! message (the hook set by the command line keeps backtraces out of the log), and the audit
//! trail gets a `system.panic` row with the route, so a crafted request that trips a bug is
//! visible to the auditor.

use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use futures_util::FutureExt;

use crate::app::AppState;
use crate::audit::{self, AuditContext, Outcome};
use crate::error::AppError;

/// Middleware: see the module documentation.
///
/// The request cannot be kept beside the handler (routing needs it unshared), so the refusal
/// is returned as an error, which actix renders with the error table like any other.
pub async fn middleware<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let ip = crate::http::source_ip(req.request());
    let route = format!("{} {}", req.method(), req.match_pattern().unwrap_or_else(|| req.path().to_owned()));
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!(%route, panic = %message, "a request handler panicked");
            if let Some(state) = state {
                record(&state, &ip, &route, &message).await;
            }
            Err(AppError::internal(format!("handler panicked: {message}")).into())
        }
    }
}

/// The text a panic carried.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

async fn record(state: &AppState, ip: &str, route: &str, message: &str) {
    let correlation = crate::error::request_id().unwrap_or_default();
    let ctx = AuditContext::anonymous(ip, &correlation, "system");
    let (route, message) = (route.to_owned(), message.chars().take(500).collect::<String>());
    let written = state
        .db
        .transaction(move |conn| {
            audit::record(conn, &ctx, "system.panic", &route, Outcome::Failure, serde_json::json!({ "panic": message }))
        })
        .await;
    if let Err(e) = written {
        tracing::error!(error = %e, "the panic could not be audited");
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{test, web, App, HttpResponse};

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_and_the_worker_lives_on() {
        async fn boom() -> HttpResponse {
            let words: Vec<&str> = Vec::new();
            HttpResponse::Ok().body(words[3])
        }
        let app = test::init_service(
            App::new()
                .wrap(from_fn(super::middleware))
                .route("/boom", web::get().to(boom))
                .route("/fine", web::get().to(|| async { HttpResponse::Ok().body("ok") })),
        )
        .await;
        let refused = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request())
            .await
            .expect_err("the panic becomes an error");
        let res = refused.error_response();
        assert_eq!(res.status(), 500);
        let bytes = actix_web::body::to_bytes(res.into_body()).await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("problem json");
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().contains("index out of bounds"), "no cause shown: {body}");
        let res = test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(res.status(), 200);
    }
}
