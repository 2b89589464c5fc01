//! The second listener (联邦与机器客户端接口): HTTPS that requires a client certificate
//! chaining to the national root, checked against the revocation lists the node holds. Its
//! certificate and lists live in [`Federation::live`], so a reload applies to the next
//! connection without a restart.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};

use super::Federation;
use crate::error::{AppError, AppResult};
use crate::http::AppState;

/// Binds the mutual-TLS listener on `federation.listen`; returns the server and its address.
pub fn start(state: web::Data<AppState>, fed: &Arc<Federation>) -> AppResult<(Server, SocketAddr)> {
    let listen = state.config.federation.listen.clone();
    let tls = fed.live.config().map_err(|e| AppError::internal(format!("federation TLS: {e}")))?;
    let limit = state.config.federation.max_batch_bytes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::JsonConfig::default().limit(limit).error_handler(crate::http::json_error))
            .app_data(web::PathConfig::default().error_handler(crate::http::path_error))
            .configure(super::api::listener_routes)
            .wrap(
                ErrorHandlers::new()
                    .default_handler_client(crate::http::render_errors)
                    .default_handler_server(crate::http::render_errors),
            )
            .wrap(from_fn(crate::http::request_id::middleware))
    })
    .on_connect(super::peer::on_connect)
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
