//! The second listener (联邦与机器客户端接口): HTTPS that requires a client certificate
//! chaining to the national root, checked against the revocation lists the node holds. Its
//! certificate and lists live in [`super::Federation::live`], so a reload applies to the next
//! connection without a restart. The composition root binds it (`routes`); this module holds
//! what is its own. Children call the federation endpoints with their node
//! certificate; tenants' machines call the JSON API with theirs, as themselves.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::AppError;

/// Middleware of the listener, which serves machines (the federation endpoints and the JSON
/// API), not the console.
pub async fn machines_only(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path();
    if path.starts_with("/federation/") || path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz") {
        return next.call(req).await;
    }
    Err(AppError::with_detail(
        crate::error::ErrorKind::NotFound,
        "此端口只提供联邦与机器客户端接口，控制台在另一端口",
        "this port serves federation and machine clients; the console is on the other port",
    )
    .into())
}
