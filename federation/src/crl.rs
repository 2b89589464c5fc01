//! Certificate revocation lists of a node's authority (docs/federation.md). The openssl bindings
//! have no CRL builder, so the list is written by rcgen, signed with the authority's own key
//! and naming the authority exactly as its certificate does; openssl and rustls-webpki read
//! it back.

use std::time::{Duration, SystemTime};

use openssl::x509::{X509Crl, X509};
use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

use crate::tiers::{Authority, TierError};

/// A certificate taken back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The certificate's serial number (big-endian bytes).
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub at: SystemTime,
}

impl Revoked {
    /// `cert`, revoked at `at`.
    pub fn of(cert: &X509, at: SystemTime) -> Result<Revoked, TierError> {
        Ok(Revoked { serial: serial_of(cert)?, at })
    }
}

/// A certificate's serial number as big-endian bytes.
pub fn serial_of(cert: &X509) -> Result<Vec<u8>, TierError> {
    Ok(cert.serial_number().to_bn()?.to_vec())
}

fn rcgen_failed(e: rcgen::Error) -> TierError {
    TierError::Crl(e.to_string())
}

impl Authority {
    /// The authority's CRL number `number`, listing `revoked`, valid from now for `valid_for`
    /// (peers refuse it after that: revocation expiry is enforced), as PEM.
    pub fn crl(&self, number: u64, revoked: &[Revoked], valid_for: Duration) -> Result<Vec<u8>, TierError> {
        let key_pem = String::from_utf8(self.key_pem()?).map_err(|e| TierError::Crl(e.to_string()))?;
        let key = KeyPair::from_pem(&key_pem).map_err(rcgen_failed)?;
        let cert_pem = String::from_utf8(self.certificate().to_pem()?).map_err(|e| TierError::Crl(e.to_string()))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(rcgen_failed)?;
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + valid_for,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: OffsetDateTime::from(r.at),
                    reason_code: Some(RevocationReason::Unspecified),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&issuer).map_err(rcgen_failed)?;
        Ok(crl.pem().map_err(rcgen_failed)?.into_bytes())
    }
}

/// Reads a CRL, checks that `ca` issued and signed it, and gives the serials it lists.
pub fn read(crl_pem: &[u8], ca: &X509) -> Result<Vec<Vec<u8>>, TierError> {
    let crl = X509Crl::from_pem(crl_pem)?;
    let issued_by_ca = crl.issuer_name().to_der()? == ca.subject_name().to_der()?;
    if !issued_by_ca || !crl.verify(&*ca.public_key()?)? {
        return Err(TierError::Crl("the CRL was not issued by this authority / 吊销列表不是该证书机构签发的".into()));
    }
    let mut serials = Vec::new();
    for r in crl.get_revoked().into_iter().flatten() {
        serials.push(r.serial_number().to_bn()?.to_vec());
    }
    Ok(serials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiers::Leaf;

    fn county() -> (Authority, Authority) {
        let root = Authority::root().expect("root");
        let county = crate::tiers::test_child(&root, "330106");
        (root, county)
    }

    #[test]
    fn a_crl_lists_what_was_revoked_and_only_its_issuer_signs_it() {
        let (root, county) = county();
        let (kept, _) = county.issue_with_key(&Leaf::TenantClient { tenant: "kept".into() }).expect("cert");
        let (gone, _) = county.issue_with_key(&Leaf::TenantClient { tenant: "gone".into() }).expect("cert");
        let revoked = Revoked::of(&gone, SystemTime::now()).expect("revoked");
        let pem = county.crl(7, &[revoked], Duration::from_secs(86_400)).expect("crl");
        let listed = read(&pem, county.certificate()).expect("read");
        assert_eq!(listed, vec![serial_of(&gone).expect("serial")]);
        assert!(!listed.contains(&serial_of(&kept).expect("serial")));
        assert!(read(&pem, root.certificate()).is_err(), "another authority did not issue it");
        // rustls-webpki, which the federation listener verifies with, takes it too.
        let der = X509Crl::from_pem(&pem).expect("parse").to_der().expect("der");
        let parsed = webpki::CertRevocationList::from(
            webpki::OwnedCertRevocationList::from_der(&der).expect("webpki reads the CRL"),
        );
        let ca_name = county.certificate().subject_name().to_der().expect("der");
        assert!(ca_name.ends_with(parsed.issuer()), "webpki matches the issuer to the CA's own name");
        let gone_serial = serial_of(&gone).expect("serial");
        assert!(parsed.find_serial(&gone_serial).expect("lookup").is_some());
        assert!(parsed.find_serial(&serial_of(&kept).expect("serial")).expect("lookup").is_none());
    }

    #[test]
    fn an_empty_crl_is_valid_too() {
        let (_, county) = county();
        let pem = county.crl(1, &[], Duration::from_secs(3_600)).expect("crl");
        assert!(read(&pem, county.certificate()).expect("read").is_empty());
    }
}
