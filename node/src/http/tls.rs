//! The TLS configuration of the console/API listener (rustls with the ring provider).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{AppError, AppResult};

fn unreadable(what: &str, path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::invalid(
        "http.tls",
        format!("无法读取{what} {}：{e}", path.display()),
        format!("cannot read {what} {}: {e}", path.display()),
    )
}

/// A rustls server configuration from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> AppResult<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| unreadable("证书", cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable("证书", cert, e))?;
    if chain.is_empty() {
        return Err(unreadable("证书", cert, "no certificate in file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| unreadable("私钥", key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(AppError::internal)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            AppError::invalid(
                "http.tls",
                format!("证书与私钥不匹配：{e}"),
                format!("certificate and key do not match: {e}"),
            )
        })
}
