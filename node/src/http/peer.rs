//! Who is calling the mutual-TLS listener: the identity in the client certificate the TLS
//! layer verified, and nothing else (no header can change it).

use std::future::{ready, Ready};

use actix_web::dev::Extensions;
use actix_web::{FromRequest, HttpRequest};
use openssl::x509::X509;
use tracenode_federation::tiers::Identity;

use crate::error::{AppError, AppResult, ErrorKind};

/// The verified caller of a connection.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Whom the certificate names.
    pub identity: Identity,
    /// The client certificate.
    pub certificate: X509,
    /// The CA certificate that issued it, on the verified path.
    pub authority: X509,
}

impl Peer {
    /// The caller's region, if it is a node; a tenant's certificate is refused.
    pub fn node_region(&self) -> AppResult<&str> {
        match &self.identity {
            Identity::Node { region } => Ok(region),
            Identity::Tenant { .. } => Err(AppError::with_detail(
                ErrorKind::UnknownSender,
                format!("{} 是租户证书，不能调用联邦接口", self.identity.uri()),
                format!("{} is a tenant certificate and may not call federation endpoints", self.identity.uri()),
            )),
        }
    }
}

/// Reads the verified client certificate of a new connection into its connection data
/// (`HttpServer::on_connect`).
pub fn on_connect(connection: &dyn std::any::Any, data: &mut Extensions, root: &X509) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    let Some(stream) = connection.downcast_ref::<Tls>() else { return };
    let (_, session) = stream.get_ref();
    let Some(certs) = session.peer_certificates() else { return };
    let Some(peer) = tracenode_federation::transport::peer_identity(certs, root) else {
        tracing::warn!("a client certificate names a region its CA does not hold; the caller is not taken");
        return;
    };
    data.insert(Peer { identity: peer.identity, certificate: peer.certificate, authority: peer.authority });
}

impl FromRequest for Peer {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(req.conn_data::<Peer>().cloned().ok_or_else(|| {
            AppError::with_detail(
                ErrorKind::Unauthenticated,
                "此接口需要有效的客户端证书",
                "this endpoint requires a valid client certificate",
            )
        }))
    }
}
