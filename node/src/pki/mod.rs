//! The node's place in the tier PKI (证书管理, docs/federation.md), kept as files in the node's
//! `pki/` folder: its CA certificate and key, the CA certificates above it, and the national
//! root. The national node makes the root; every other node makes a request, its parent signs
//! it into a bundle, and the node installs the bundle — over the network later, and today
//! as files for networks without a live link (`tracenode pki …`, [`cli`]).

pub mod own;
pub mod registry;

use std::fs;
use std::path::{Path, PathBuf};

use openssl::x509::X509;
use tracenode_federation::tiers::{self, Authority, Identity, Request, TierError};

use crate::config::{Config, Tier};
use crate::error::{AppError, AppResult};

/// Files of a bundle a parent hands to its child.
pub mod bundle {
    /// The child's CA certificate.
    pub const CA: &str = "ca.pem";
    /// The CA certificates above the child, nearest first, without the root.
    pub const CHAIN: &str = "chain.pem";
    /// The national root.
    pub const ROOT: &str = "root.pem";
}

const CA_KEY: &str = "ca.key";
const REQUEST: &str = "request.pem";
const REQUEST_KEY: &str = "request.key";

/// A refusal of the tier PKI as an `invalid` error of `pki`, in both languages.
pub fn refused(e: TierError) -> AppError {
    let text = e.to_string();
    let (en, zh) = text.split_once(" / ").unwrap_or((text.as_str(), text.as_str()));
    AppError::invalid("pki", zh.to_owned(), en.to_owned())
}

/// A file of the PKI that cannot be read or written.
pub fn io(path: &Path, e: std::io::Error) -> AppError {
    AppError::invalid(
        "pki",
        format!("无法读写 {}：{e}", path.display()),
        format!("cannot read or write {}: {e}", path.display()),
    )
}

/// Reads a file of the PKI.
pub fn read(path: &Path) -> AppResult<Vec<u8>> {
    fs::read(path).map_err(|e| io(path, e))
}

/// Writes a file of the PKI (0600 when `private`, from its creation on) atomically: into a
/// new file beside it, flushed to disk, then renamed over the old one. The listener's reload
/// and other processes of the node read these files at any moment; they see the old file
/// or the new one, never a half-written certificate or revocation list.
pub fn write(path: &Path, bytes: &[u8], private: bool) -> AppResult<()> {
    use std::io::Write as _;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staged = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = (|| -> std::io::Result<()> {
        let mut file = if private { crate::files::private_file(&staged)? } else { fs::File::create(&staged)? };
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&staged, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&staged);
        return Err(io(path, e));
    }
    Ok(())
}

fn certs(pem: &[u8]) -> AppResult<Vec<X509>> {
    X509::stack_from_pem(pem).map_err(|e| refused(TierError::Openssl(e)))
}

/// The PEM of a chain of certificates.
pub fn pem_of(certs: &[X509]) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    for c in certs {
        out.extend(c.to_pem().map_err(|e| refused(TierError::Openssl(e)))?);
    }
    Ok(out)
}

/// A child's CA certificate just signed.
pub struct Signed {
    /// Whom it names.
    pub identity: Identity,
    /// The fingerprint of the request's key.
    pub fingerprint: String,
    /// The certificate.
    pub certificate: X509,
}

/// What the node holds of the PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Nothing yet.
    Empty,
    /// A request waits for its parent's signature.
    Requested {
        /// The request key's fingerprint.
        fingerprint: String,
    },
    /// The node's CA is installed.
    Installed {
        /// Whom the CA certificate names.
        identity: Identity,
        /// The CA certificates above it, nearest first, then the root (subjects).
        chain: Vec<String>,
        /// When the CA certificate expires.
        not_after: String,
    },
}

/// The node's `pki/` folder.
pub struct NodePki {
    dir: PathBuf,
    region: String,
    tier: Tier,
}

impl NodePki {
    /// The folder of the node `config` describes.
    pub fn of(config: &Config) -> NodePki {
        NodePki {
            dir: config.resolve(Path::new("pki")),
            region: config.node.region.as_str().to_owned(),
            tier: config.node.tier,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn ensure_dir(&self) -> AppResult<()> {
        fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))
    }

    fn refuse_if_installed(&self) -> AppResult<()> {
        if self.path(bundle::CA).exists() {
            return Err(AppError::conflict(
                format!("本节点已有证书机构（{}）", self.path(bundle::CA).display()),
                format!("this node has its certificate authority already ({})", self.path(bundle::CA).display()),
            ));
        }
        Ok(())
    }

    /// Makes the national root (the national node only, once).
    pub fn init_root(&self) -> AppResult<Identity> {
        if self.tier != Tier::National {
            return Err(AppError::invalid(
                "pki",
                "只有国家级节点持有根证书；其他节点请用 tracenode pki request 向上级申请",
                "only the national node holds the root; other nodes request theirs with `tracenode pki request`",
            ));
        }
        self.refuse_if_installed()?;
        self.ensure_dir()?;
        let root = Authority::root().map_err(refused)?;
        let pem = root.certificate().to_pem().map_err(|e| refused(TierError::Openssl(e)))?;
        write(&self.path(CA_KEY), &root.key_pem().map_err(refused)?, true)?;
        write(&self.path(bundle::CA), &pem, false)?;
        write(&self.path(bundle::CHAIN), b"", false)?;
        write(&self.path(bundle::ROOT), &pem, false)?;
        tiers::identity_of(root.certificate()).map_err(refused)
    }

    /// The request waiting for the parent, if any (PEM).
    pub fn waiting_request(&self) -> Option<Vec<u8>> {
        (self.path(REQUEST_KEY).exists() && !self.installed()).then(|| read(&self.path(REQUEST)).ok()).flatten()
    }

    /// Writes a file of the node's PKI folder (`private`: readable by the node alone).
    pub fn write_file(&self, name: &str, bytes: &[u8], private: bool) -> AppResult<()> {
        self.ensure_dir()?;
        write(&self.path(name), bytes, private)
    }

    /// Reads a file of the node's PKI folder.
    pub fn read_file(&self, name: &str) -> AppResult<Vec<u8>> {
        read(&self.path(name))
    }

    /// Removes a file of the node's PKI folder, if it is there.
    pub fn remove_file(&self, name: &str) {
        let _ = fs::remove_file(self.path(name));
    }

    /// Makes the node's key and its request to the parent; returns the request (PEM) and the
    /// key's fingerprint.
    pub fn request(&self) -> AppResult<(Vec<u8>, String)> {
        self.refuse_if_installed()?;
        self.ensure_dir()?;
        let (request, key) = Request::new(&self.region).map_err(refused)?;
        let pem = request.to_pem().map_err(refused)?;
        write(
            &self.path(REQUEST_KEY),
            &key.private_key_to_pem_pkcs8().map_err(|e| refused(TierError::Openssl(e)))?,
            true,
        )?;
        write(&self.path(REQUEST), &pem, false)?;
        Ok((pem, request.fingerprint().map_err(refused)?))
    }

    /// The node's authority.
    pub fn authority(&self) -> AppResult<Authority> {
        Authority::from_pem(&read(&self.path(bundle::CA))?, &read(&self.path(CA_KEY))?).map_err(refused)
    }

    /// Signs a child's request (PEM) and writes the child's bundle into `out`; returns whom
    /// it names and its fingerprint.
    pub fn sign(&self, request_pem: &[u8], out: &Path) -> AppResult<Signed> {
        let authority = self.authority()?;
        let request = Request::from_pem(request_pem).map_err(refused)?;
        let identity = request.identity().map_err(refused)?;
        let fingerprint = request.fingerprint().map_err(refused)?;
        let child = authority.sign_child(&request).map_err(refused)?;
        fs::create_dir_all(out).map_err(|e| io(out, e))?;
        let mut above = vec![authority.certificate().clone()];
        above.extend(certs(&read(&self.path(bundle::CHAIN))?)?);
        let root = read(&self.path(bundle::ROOT))?;
        // The root is not repeated in the chain.
        let root_der = certs(&root)?.first().and_then(|r| r.to_der().ok());
        above.retain(|c| c.to_der().ok() != root_der);
        write(&out.join(bundle::CA), &child.to_pem().map_err(|e| refused(TierError::Openssl(e)))?, false)?;
        write(&out.join(bundle::CHAIN), &pem_of(&above)?, false)?;
        write(&out.join(bundle::ROOT), &root, false)?;
        Ok(Signed { identity, fingerprint, certificate: child })
    }

    /// Installs the bundle in `from`: the CA certificate must be for this node's region and
    /// its waiting request key, and chain to the root.
    pub fn install(&self, from: &Path) -> AppResult<Identity> {
        self.refuse_if_installed()?;
        let key_pem = read(&self.path(REQUEST_KEY)).map_err(|_| {
            AppError::invalid(
                "pki",
                "本节点没有待签发的证书申请；请先运行 tracenode pki request",
                "this node has no waiting request: run `tracenode pki request` first",
            )
        })?;
        let ca_pem = read(&from.join(bundle::CA))?;
        let chain_pem = read(&from.join(bundle::CHAIN))?;
        let root_pem = read(&from.join(bundle::ROOT))?;
        let authority = Authority::from_pem(&ca_pem, &key_pem).map_err(refused)?;
        let request_key =
            openssl::pkey::PKey::private_key_from_pem(&key_pem).map_err(|e| refused(TierError::Openssl(e)))?;
        let key_matches = authority.certificate().public_key().is_ok_and(|k| k.public_eq(&request_key));
        if !key_matches {
            return Err(AppError::invalid(
                "pki",
                "证书与本节点的申请密钥不符",
                "the certificate is not for this node's request key",
            ));
        }
        let root = certs(&root_pem)?.into_iter().next().ok_or_else(|| refused(TierError::NoIdentity))?;
        let identity = tiers::verify(authority.certificate(), &certs(&chain_pem)?, &root).map_err(refused)?;
        if identity != (Identity::Node { region: self.region.clone() }) {
            return Err(AppError::invalid(
                "pki",
                format!("证书属于 {}，不是本节点（{}）", identity.uri(), self.region),
                format!("the certificate is for {}, not this node ({})", identity.uri(), self.region),
            ));
        }
        write(&self.path(CA_KEY), &key_pem, true)?;
        write(&self.path(bundle::CHAIN), &chain_pem, false)?;
        write(&self.path(bundle::ROOT), &root_pem, false)?;
        write(&self.path(bundle::CA), &ca_pem, false)?;
        let _ = fs::remove_file(self.path(REQUEST_KEY));
        let _ = fs::remove_file(self.path(REQUEST));
        Ok(identity)
    }

    /// What the node holds.
    pub fn status(&self) -> AppResult<Status> {
        if self.path(bundle::CA).exists() {
            let authority = self.authority()?;
            let identity = tiers::identity_of(authority.certificate()).map_err(refused)?;
            let mut chain: Vec<String> = certs(&read(&self.path(bundle::CHAIN))?)?
                .iter()
                .chain(certs(&read(&self.path(bundle::ROOT))?)?.iter())
                .map(subject)
                .collect();
            chain.dedup();
            let not_after = authority.certificate().not_after().to_string();
            return Ok(Status::Installed { identity, chain, not_after });
        }
        if self.path(REQUEST).exists() {
            let request = Request::from_pem(&read(&self.path(REQUEST))?).map_err(refused)?;
            return Ok(Status::Requested { fingerprint: request.fingerprint().map_err(refused)? });
        }
        Ok(Status::Empty)
    }
}

/// A certificate's subject, for people.
fn subject(cert: &X509) -> String {
    cert.subject_name()
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_default()
}
