//! Authentication first, everywhere under `/api/`: a middleware authenticates the caller before
//! any extractor reads the body, so an unauthenticated request learns nothing from a 400 about
//! its body and never meets a redirect meant for browsers. The authenticated [`Caller`] is kept
//! in the request's extensions, where the extractor takes it without a second lookup.
//!
//! The rest of the sign-in flow (`/api/v1/auth/…`) needs only a live session at any stage;
//! open to anyone are signing in, a would-be child's enrolment request
//! (`/api/v1/federation/enrolments`), a platform's access application and its status
//! (`/api/v1/access/apply`, `/api/v1/access/status`) — anonymous by design — and the OpenAPI
//! document.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};

use super::caller::{self, Caller};
use crate::app::AppState;

/// Paths under `/api/` open to anyone.
fn is_open(path: &str) -> bool {
    path == "/api/v1/auth/sign-in"
        || path.starts_with("/api/v1/federation/enrolments")
        || path == "/api/v1/access/apply"
        || path == "/api/v1/access/status"
        || path == "/api/v1/openapi.json"
        || path.starts_with("/api/v1/schemas/")
}

/// The rest of the sign-in flow, which takes a session at any stage.
fn is_sign_in_flow(path: &str) -> bool {
    path.starts_with("/api/v1/auth/") && path != "/api/v1/auth/me"
}

/// Whether the request carries the cookie of a live session (at any stage of signing in).
async fn has_session(req: &ServiceRequest, state: &AppState) -> Result<bool, crate::error::AppError> {
    let Some(token) = req.cookie(crate::credentials::session::COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(false);
    };
    Ok(state.db.run(move |conn| crate::credentials::session::csrf_of(conn, &token)).await?.is_some())
}

/// Middleware: see the module documentation.
pub async fn middleware<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let path = req.path();
    if !path.starts_with("/api/") || is_open(path) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    if is_sign_in_flow(req.path()) {
        return match has_session(&req, &state).await {
            Ok(true) => next.call(req).await.map(ServiceResponse::map_into_left_body),
            Ok(false) => {
                let e = crate::error::AppError::new(crate::error::ErrorKind::Unauthenticated);
                Ok(req.into_response(e.error_response()).map_into_right_body())
            }
            Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
        };
    }
    match caller::authenticate(req.request(), &state).await {
        Ok(found) => {
            req.extensions_mut().insert::<Caller>(found);
            next.call(req).await.map(ServiceResponse::map_into_left_body)
        }
        Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
    }
}
