//! The status of the certificates this node issued, as the certificate register
//! (`issued_certificates`) holds it. Authentication asks it before it trusts a client
//! certificate; the register itself (issuing, revoking, publishing lists) is `pki`'s.

use diesel::prelude::*;
use openssl::x509::X509;

use crate::db::schema::issued_certificates as ic;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// Where a certificate of the register stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    /// In use.
    Valid,
    /// Replaced by a newer one (rotation) and still accepted until it expires.
    Superseded,
    /// Revoked: refused, and on the next revocation list.
    Revoked,
}

impl CertificateStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Valid => "valid",
            CertificateStatus::Superseded => "superseded",
            CertificateStatus::Revoked => "revoked",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<CertificateStatus> {
        [CertificateStatus::Valid, CertificateStatus::Superseded, CertificateStatus::Revoked]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            CertificateStatus::Valid => "有效",
            CertificateStatus::Superseded => "已轮换（到期前仍有效）",
            CertificateStatus::Revoked => "已吊销",
        }
    }

    /// Whether a certificate in this state may still be used.
    pub fn usable(self) -> bool {
        matches!(self, CertificateStatus::Valid | CertificateStatus::Superseded)
    }
}

/// A certificate's serial number as the register keys it (lower-case hex).
pub fn serial_hex(cert: &X509) -> AppResult<String> {
    let serial = tracenode_federation::crl::serial_of(cert).map_err(|e| {
        let text = e.to_string();
        let (en, zh) = text.split_once(" / ").unwrap_or((text.as_str(), text.as_str()));
        AppError::invalid("pki", zh.to_owned(), en.to_owned())
    })?;
    Ok(hex::encode(serial))
}

/// Whether a certificate in the register may still be used (not revoked). A certificate
/// the register does not know is not usable.
pub fn usable(conn: &mut DbConnection, cert: &X509) -> AppResult<bool> {
    let serial = serial_hex(cert)?;
    let status: Option<String> = ic::table.find(serial).select(ic::status).first(conn).optional()?;
    Ok(status.as_deref().and_then(CertificateStatus::parse).is_some_and(CertificateStatus::usable))
}
