//! The node's own certificates under its CA: the federation listener's server certificate
//! and the client certificate it calls its parent with. They are issued on first use and
//! issued again (rotated) when fewer than [`RENEW_DAYS`] days remain, so a running node never
//! serves an expired certificate; the listener picks new ones up without a restart.
//!
//! Beside them, when the node seals its batches with SM2, its signing certificate: the node's
//! SM2 key (`security.sm2_key_file`) certified by its CA, renewed the same way and issued
//! again for a new key or a new CA.
//!
//! Also the node's trust: the national root and the revocation lists in `pki/crls/`.

use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tracenode_federation::tiers::{Identity, Leaf, TierError};
use tracenode_federation::transport::{Credentials, Trust};

use super::{bundle, certs, read, refused, write, NodePki};
use crate::credentials::certificates::serial_hex;
use crate::error::{AppError, AppResult};

/// Days before expiry when a certificate is issued again.
pub const RENEW_DAYS: u32 = 30;
/// Folder of the revocation lists the node holds (PEM files).
pub const CRLS: &str = "crls";

/// One of the node's own leaf certificates with its key and the CA certificates above it.
#[derive(Clone)]
pub struct OwnCertificate {
    /// The leaf, then the node's CA and the CAs above it (without the root).
    pub chain: Vec<X509>,
    /// The leaf's key.
    pub key: PKey<Private>,
}

impl OwnCertificate {
    /// The rustls form.
    pub fn credentials(&self) -> AppResult<Credentials> {
        let mut chain = Vec::with_capacity(self.chain.len());
        for c in &self.chain {
            chain.push(CertificateDer::from(c.to_der().map_err(openssl_failed)?));
        }
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.private_key_to_pkcs8().map_err(openssl_failed)?));
        Ok(Credentials { chain, key })
    }

    /// When the leaf expires.
    pub fn not_after(&self) -> String {
        self.chain.first().map(|c| c.not_after().to_string()).unwrap_or_default()
    }
}

fn openssl_failed(e: openssl::error::ErrorStack) -> AppError {
    refused(TierError::Openssl(e))
}

/// The node's signing certificate and the SM2 key it certifies.
pub struct SigningCertificate {
    /// The certificate, PEM.
    pub pem: String,
    /// Its serial, hex.
    pub serial: String,
    /// The key.
    pub key: crate::keys::sm2::Sm2Key,
}

/// The file of the signing certificate in the node's `pki/` folder.
const SIGNING: &str = "node-signing.pem";

/// Which of the node's own certificates.
#[derive(Debug, Clone, Copy)]
pub enum Own {
    /// The federation listener's.
    Server,
    /// The one it calls its parent with and signs batches with.
    Client,
}

impl Own {
    fn file(self) -> &'static str {
        match self {
            Own::Server => "node-server",
            Own::Client => "node-client",
        }
    }
}

fn expires_within(cert: &X509, days: u32) -> bool {
    Asn1Time::days_from_now(days).is_ok_and(|limit| cert.not_after() < limit)
}

impl NodePki {
    /// Whether the node's CA is installed.
    pub fn installed(&self) -> bool {
        self.path(bundle::CA).exists()
    }

    /// The node's identity URI, once its CA is installed.
    pub fn identity(&self) -> AppResult<Identity> {
        tracenode_federation::tiers::identity_of(self.authority()?.certificate()).map_err(refused)
    }

    /// The CA certificates above a leaf this node issues: its CA and those above it, without
    /// the root.
    pub fn leaf_chain_above(&self) -> AppResult<Vec<X509>> {
        self.above()
    }

    /// The CA certificates above a leaf: the node's CA and those above it, without the root.
    fn above(&self) -> AppResult<Vec<X509>> {
        let root = certs(&read(&self.path(bundle::ROOT))?)?;
        let root_der = root.first().and_then(|r| r.to_der().ok());
        let mut above = certs(&read(&self.path(bundle::CA))?)?;
        above.extend(certs(&read(&self.path(bundle::CHAIN))?)?);
        above.retain(|c| c.to_der().ok() != root_der);
        Ok(above)
    }

    /// The node's own certificate of kind `which`, issued now if it is missing or expires
    /// within [`RENEW_DAYS`]; `names` are the server certificate's DNS names and addresses.
    pub fn own(&self, which: Own, names: &[String]) -> AppResult<OwnCertificate> {
        let cert_path = self.path(&format!("{}.pem", which.file()));
        let key_path = self.path(&format!("{}.key", which.file()));
        if cert_path.exists() && key_path.exists() {
            let cert = X509::from_pem(&read(&cert_path)?).map_err(openssl_failed)?;
            let key = PKey::private_key_from_pem(&read(&key_path)?).map_err(openssl_failed)?;
            let issued_by_ca =
                self.authority()?.certificate().public_key().is_ok_and(|ca| cert.verify(&ca).unwrap_or(false));
            // A key and certificate that do not belong together (a rotation cut short) are
            // replaced like missing ones.
            let pair = cert.public_key().is_ok_and(|public| public.public_eq(&key));
            if issued_by_ca && pair && !expires_within(&cert, RENEW_DAYS) {
                let mut chain = vec![cert];
                chain.extend(self.above()?);
                return Ok(OwnCertificate { chain, key });
            }
        }
        self.issue_own(which, names, &cert_path, &key_path)
    }

    /// Issues the node's own certificate of kind `which` now (rotation).
    pub fn rotate(&self, which: Own, names: &[String]) -> AppResult<OwnCertificate> {
        let cert_path = self.path(&format!("{}.pem", which.file()));
        let key_path = self.path(&format!("{}.key", which.file()));
        self.issue_own(which, names, &cert_path, &key_path)
    }

    fn issue_own(&self, which: Own, names: &[String], cert_path: &Path, key_path: &Path) -> AppResult<OwnCertificate> {
        let leaf = match which {
            Own::Server => {
                let (ips, dns): (Vec<String>, Vec<String>) =
                    names.iter().cloned().partition(|n| n.parse::<std::net::IpAddr>().is_ok());
                Leaf::Server { dns, ips }
            }
            Own::Client => Leaf::NodeClient,
        };
        let (cert, key) = self.authority()?.issue_with_key(&leaf).map_err(refused)?;
        // The key first: a certificate never sits next to a key that is not its own.
        write(key_path, &key.private_key_to_pem_pkcs8().map_err(openssl_failed)?, true)?;
        write(cert_path, &cert.to_pem().map_err(openssl_failed)?, false)?;
        let mut chain = vec![cert];
        chain.extend(self.above()?);
        Ok(OwnCertificate { chain, key })
    }

    /// The node's signing certificate for the SM2 key at `key_file` (created at first use),
    /// issued now if it is missing, certifies another key, was issued by another CA or
    /// expires within [`RENEW_DAYS`].
    pub fn signing(&self, key_file: &Path) -> AppResult<SigningCertificate> {
        self.signing_unless(key_file, |_| false)
    }

    /// [`NodePki::signing`], issuing a new certificate also when `revoked` says the current
    /// one's serial (hex) is revoked.
    pub fn signing_unless(
        &self,
        key_file: &Path,
        mut revoked: impl FnMut(&str) -> bool,
    ) -> AppResult<SigningCertificate> {
        let key = crate::keys::sm2::Sm2Key::load_or_create(key_file)?;
        let path = self.path(SIGNING);
        let ca = self.authority()?;
        let current = match path.exists() {
            true => Some(X509::from_pem(&read(&path)?).map_err(openssl_failed)?),
            false => None,
        };
        let usable = current.filter(|cert| {
            let issued_by_ca = ca.certificate().public_key().is_ok_and(|k| cert.verify(&k).unwrap_or(false));
            let certifies_key = tracenode_federation::sm2::public_key_of(cert).is_some_and(|k| k == key.public());
            let taken_back = serial_hex(cert).map(|s| revoked(&s)).unwrap_or(true);
            issued_by_ca && certifies_key && !taken_back && !expires_within(cert, RENEW_DAYS)
        });
        let cert = match usable {
            Some(cert) => cert,
            None => {
                let public = tracenode_federation::sm2::to_openssl(&key.public()).map_err(refused)?;
                let cert = ca.issue(&Leaf::NodeSigning, &public).map_err(refused)?;
                write(&path, &cert.to_pem().map_err(openssl_failed)?, false)?;
                tracing::info!(serial = %serial_hex(&cert)?, "node signing certificate issued");
                cert
            }
        };
        let pem = String::from_utf8(cert.to_pem().map_err(openssl_failed)?).map_err(AppError::internal)?;
        Ok(SigningCertificate { pem, serial: serial_hex(&cert)?, key })
    }

    /// The CA certificates above this node, nearest first, then the root.
    pub fn ancestors(&self) -> AppResult<Vec<X509>> {
        let mut all = certs(&read(&self.path(bundle::CHAIN))?)?;
        all.extend(certs(&read(&self.path(bundle::ROOT))?)?);
        Ok(all)
    }

    /// The national root.
    pub fn root(&self) -> AppResult<X509> {
        certs(&read(&self.path(bundle::ROOT))?)?.into_iter().next().ok_or_else(|| refused(TierError::NoIdentity))
    }

    /// What the node trusts: the root and every revocation list in `pki/crls/` (each checked
    /// to be PEM; the TLS layer checks issuers and signatures).
    pub fn trust(&self) -> AppResult<Trust> {
        let root = CertificateDer::from(self.root()?.to_der().map_err(openssl_failed)?);
        let mut crls = Vec::new();
        let dir = self.path(CRLS);
        if dir.is_dir() {
            let entries = std::fs::read_dir(&dir).map_err(|e| super::io(&dir, e))?;
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths.into_iter().filter(|p| p.extension().is_some_and(|x| x == "pem")) {
                let crl = openssl::x509::X509Crl::from_pem(&read(&path)?).map_err(|e| {
                    AppError::invalid(
                        "pki",
                        format!("吊销列表 {} 无法读取：{e}", path.display()),
                        format!("revocation list {} is unreadable: {e}", path.display()),
                    )
                })?;
                crls.push(CertificateRevocationListDer::from(crl.to_der().map_err(openssl_failed)?));
            }
        }
        Ok(Trust { root, crls })
    }

    /// The file name (without `.pem`) of this node's own revocation list.
    pub fn own_crl_name(&self) -> String {
        format!("{}-own", self.region)
    }

    /// Whether this node's own revocation list is in `pki/crls/`.
    pub fn own_crl_exists(&self) -> bool {
        self.path(CRLS).join(format!("{}.pem", self.own_crl_name())).exists()
    }

    /// The revocation list stored under `name`, if any.
    pub fn stored_crl(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(CRLS).join(format!("{name}.pem"))).ok()
    }

    /// Takes the revocation list stored under `name` out of `pki/crls/`.
    pub fn remove_crl(&self, name: &str) {
        let _ = std::fs::remove_file(self.path(CRLS).join(format!("{name}.pem")));
    }

    /// Stores a revocation list (PEM) under `name` for the listener's next reload.
    pub fn store_crl(&self, name: &str, pem: &[u8]) -> AppResult<()> {
        let dir = self.path(CRLS);
        std::fs::create_dir_all(&dir).map_err(|e| super::io(&dir, e))?;
        write(&dir.join(format!("{name}.pem")), pem, false)
    }

    /// A digest of every file the listener is built from, to tell when it must reload.
    pub fn files_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut paths: Vec<std::path::PathBuf> = [
            bundle::CA,
            bundle::CHAIN,
            bundle::ROOT,
            "node-server.pem",
            "node-server.key",
            "node-client.pem",
            "node-client.key",
        ]
        .iter()
        .map(|n| self.path(n))
        .collect();
        if let Ok(entries) = std::fs::read_dir(self.path(CRLS)) {
            let mut crls: Vec<_> =
                entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pem")).collect();
            crls.sort();
            paths.extend(crls);
        }
        for p in paths {
            h.update(p.to_string_lossy().as_bytes());
            h.update(std::fs::read(&p).unwrap_or_default());
        }
        hex::encode(h.finalize())
    }
}
