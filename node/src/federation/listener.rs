//! The second listener (联邦与机器客户端接口): HTTPS that requires a client certificate
//! chaining to the national root, checked against the revocation lists the node holds. Its
//! certificate and lists live in [`Federation::live`], so a reload applies to the next
//! connection without a restart. Children call the federation endpoints with their node
//! certificate; tenants' machines call the JSON API with theirs, as themselves.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpServer};

use super::Federation;
use crate::error::{AppError, AppResult};
use crate::http::AppState;

/// The listener serves machines: the federation endpoints and the JSON API, not the console.
async fn machines_only(
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

/// Binds the mutual-TLS listener on `federation.listen`; returns the server and its address.
pub fn start(state: web::Data<AppState>, fed: &Arc<Federation>) -> AppResult<(Server, SocketAddr)> {
    let listen = state.config.federation.listen.clone();
    let tls = fed.live.config().map_err(|e| AppError::internal(format!("federation TLS: {e}")))?;
    let limit = state.config.federation.max_batch_bytes;
    let root = fed.pki().root()?;
    let server = HttpServer::new(move || {
        crate::http::build_app(state.clone(), None)
            .0
            .app_data(web::JsonConfig::default().limit(limit).error_handler(crate::http::json_error))
            .wrap(from_fn(machines_only))
    })
    .on_connect(move |connection, data| super::peer::on_connect(connection, data, &root))
    .workers(2)
    .bind_rustls_0_23(&listen, tls)
    .map_err(|e| {
        AppError::invalid(
            "federation.listen",
            format!("无法监听 {listen}：{e}"),
            format!("cannot listen on {listen}: {e}"),
        )
    })?;
    let addr = server.addrs().first().copied().ok_or_else(|| AppError::internal("no federation address"))?;
    Ok((server.run(), addr))
}
