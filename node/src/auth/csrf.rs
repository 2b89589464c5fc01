//! The one CSRF check of the node: a middleware in front of every route.
//!
//! A browser attaches the session cookie to any request a hostile page makes it send, whatever
//! the route or content type, so every state-changing request (any method but GET, HEAD and
//! OPTIONS) that carries a session cookie must also carry the session's CSRF token:
//! - in the `X-CSRF-Token` header (the JSON API, and any request that is not a form);
//! - or, for an HTML form (`application/x-www-form-urlencoded`), in its `csrf` field.
//!
//! The token is compared in constant time. Requests authenticated by `Authorization` (API
//! keys), by a client certificate, or carrying no cookie of a live session pass through: a
//! browser never adds those on its own, and the handler refuses a caller it cannot
//! authenticate. Signing in (`POST /login`, `POST /api/v1/auth/sign-in`) starts a new session
//! and so has no token to echo yet.
//!
//! Handlers therefore never check the token themselves; a route added tomorrow is covered the
//! day it is mounted.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use crate::app::AppState;
use crate::credentials::session;
use crate::error::{AppError, ErrorKind};

/// The header the JSON API echoes the token in.
pub const HEADER: &str = "x-csrf-token";

/// The form field console forms echo the token in.
pub const FIELD: &str = "csrf";

pub use crate::keys::constant_time_eq;

fn needs_token(req: &ServiceRequest) -> bool {
    !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && req.headers().get(header::AUTHORIZATION).is_none()
        && !matches!(req.path(), "/login" | "/api/v1/auth/sign-in")
}

fn is_form(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// The token echoed by the request: the header, or a form's field (the body is read and put
/// back for the handler).
async fn echoed(req: &mut ServiceRequest) -> Result<String, actix_web::Error> {
    if let Some(v) = req.headers().get(HEADER) {
        return Ok(v.to_str().unwrap_or_default().to_owned());
    }
    if !is_form(req) {
        return Ok(String::new());
    }
    let body = req.extract::<web::Bytes>().await?;
    let token = form_field(&body, FIELD).unwrap_or_default();
    req.set_payload(actix_web::dev::Payload::from(body));
    Ok(token)
}

/// The first value of `name` in an urlencoded body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Middleware: refuses a state-changing request of a live session that does not echo the
/// session's CSRF token (403 `csrf_rejected`).
///
/// It sits inside the error renderer, so a refusal reads as a problem document on the API and
/// as a Chinese page in the console.
pub async fn middleware<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    match refusal(&mut req).await {
        None => next.call(req).await.map(ServiceResponse::map_into_left_body),
        Some(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
    }
}

/// Why the request is refused, if it is.
async fn refusal(req: &mut ServiceRequest) -> Option<AppError> {
    if !needs_token(req) {
        return None;
    }
    let token = req.cookie(session::COOKIE)?.value().to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned()?;
    let expected = match state.db.run(move |conn| session::csrf_of(conn, &token)).await {
        Ok(found) => found?,
        Err(e) => return Some(e),
    };
    let presented = match echoed(req).await {
        Ok(p) => p,
        Err(e) => {
            return Some(AppError::with_detail(
                ErrorKind::MalformedBody,
                format!("请求体无法读取：{e}"),
                format!("unreadable body: {e}"),
            ))
        }
    };
    (!constant_time_eq(expected.as_bytes(), presented.as_bytes())).then(|| AppError::new(ErrorKind::CsrfRejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn finds_the_form_field() {
        assert_eq!(form_field(b"a=1&csrf=x%2By&csrf=z", "csrf").as_deref(), Some("x+y"));
        assert_eq!(form_field(b"a=1", "csrf"), None);
    }
}
