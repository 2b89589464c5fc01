//! The node's own secret, kept in a file beside the database and never in it.
//!
//! One random 256-bit key per node (`security.key_file`, created 0600 at `init` or at the
//! first start that lacks it). Every use takes its own subkey, derived with HMAC-SHA256 over a
//! purpose label, so a subkey that leaks (a checkpoint MAC broken, say) tells nothing of the
//! others. Someone who can rewrite the database but not read this file cannot forge what the
//! key vouches for: the audit checkpoints ([`crate::audit::anchor`]).
//!
//! Back the file up with the database: without it the checkpoints cannot be verified.

use std::fs;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::{AppError, AppResult};

/// What a subkey is for; each purpose has its own label and so its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// MACs of the audit checkpoints kept outside the database.
    AuditCheckpoints,
    /// Encryption of secrets the database keeps (TOTP secrets, webhook signing secrets).
    SecretsAtRest,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::AuditCheckpoints => b"tracenode/audit-checkpoints/v1",
            Purpose::SecretsAtRest => b"tracenode/secrets-at-rest/v1",
        }
    }
}

/// The prefix of a sealed value: version and cipher, then IV, ciphertext and tag in hex.
const SEALED: &str = "sealed:v1:aes-256-gcm:";

/// Seals and opens the secrets the database keeps, with AES-256-GCM under the node key's
/// [`Purpose::SecretsAtRest`] subkey. Someone who reads the database (or a backup of it) sees
/// `sealed:v1:…`, not the secret. A value without the prefix was stored before sealing: it is
/// read as it is and sealed when next written.
#[derive(Clone)]
pub struct Sealer([u8; 32]);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    /// The sealer of `key`.
    pub fn new(key: &NodeKey) -> Sealer {
        Sealer(key.subkey(Purpose::SecretsAtRest))
    }

    /// Seals `plain`.
    pub fn seal(&self, plain: &str) -> AppResult<String> {
        let mut iv = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let mut tag = [0u8; 16];
        let cipher = openssl::symm::Cipher::aes_256_gcm();
        let sealed =
            openssl::symm::encrypt_aead(cipher, &self.0, Some(&iv), SEALED.as_bytes(), plain.as_bytes(), &mut tag)
                .map_err(AppError::internal)?;
        Ok(format!("{SEALED}{}:{}:{}", hex::encode(iv), hex::encode(sealed), hex::encode(tag)))
    }

    /// Opens a stored value (a value stored before sealing is returned as it is).
    pub fn open(&self, stored: &str) -> AppResult<String> {
        let Some(rest) = stored.strip_prefix(SEALED) else { return Ok(stored.to_owned()) };
        let broken = || AppError::internal("a sealed secret does not open: altered, or sealed under another node key");
        let parts: Vec<&str> = rest.split(':').collect();
        let [iv, data, tag] = parts.as_slice() else { return Err(broken()) };
        let (iv, data, tag) = (
            hex::decode(iv).map_err(|_| broken())?,
            hex::decode(data).map_err(|_| broken())?,
            hex::decode(tag).map_err(|_| broken())?,
        );
        let cipher = openssl::symm::Cipher::aes_256_gcm();
        let plain = openssl::symm::decrypt_aead(cipher, &self.0, Some(&iv), SEALED.as_bytes(), &data, &tag)
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }
}

/// The node's secret key.
#[derive(Clone)]
pub struct NodeKey([u8; 32]);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey(…)")
    }
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("node key {}: {e}", path.display()))
}

impl NodeKey {
    /// Reads the key at `path`, creating it (directory 0700, file 0600) if there is none.
    pub fn load_or_create(path: &Path) -> AppResult<NodeKey> {
        match fs::read_to_string(path) {
            Ok(text) => NodeKey::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => NodeKey::create(path),
            Err(e) => Err(io_error(path, e)),
        }
    }

    fn parse(path: &Path, text: &str) -> AppResult<NodeKey> {
        let bytes = hex::decode(text.trim()).map_err(|e| io_error(path, e))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| io_error(path, "not 32 bytes of hex"))?;
        Ok(NodeKey(key))
    }

    fn create(path: &Path) -> AppResult<NodeKey> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        if let Some(dir) = path.parent() {
            crate::config::private_dir(dir)?;
        }
        let mut file = crate::config::private_file(path).map_err(|e| io_error(path, e))?;
        file.write_all(hex::encode(key).as_bytes()).and_then(|()| file.sync_all()).map_err(|e| io_error(path, e))?;
        tracing::info!(path = %path.display(), "node key created");
        Ok(NodeKey(key))
    }

    /// The subkey for `purpose`.
    pub fn subkey(&self, purpose: Purpose) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(purpose.label());
        mac.finalize().into_bytes().into()
    }
}

/// HMAC-SHA256 of `message` under `key`, as hex.
pub fn mac_hex(key: &[u8; 32], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `presented` (hex) is the MAC of `message` under `key`, compared in constant time.
pub fn mac_matches(key: &[u8; 32], message: &[u8], presented: &str) -> bool {
    let Ok(tag) = hex::decode(presented) else { return false };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secrets/node.key");
        let a = NodeKey::load_or_create(&path).expect("create");
        let b = NodeKey::load_or_create(&path).expect("load");
        assert_eq!(a.subkey(Purpose::AuditCheckpoints), b.subkey(Purpose::AuditCheckpoints));
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().expect("dir")).expect("meta").permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let key = a.subkey(Purpose::AuditCheckpoints);
        let tag = mac_hex(&key, b"row");
        assert!(mac_matches(&key, b"row", &tag));
        assert!(!mac_matches(&key, b"rox", &tag));
        assert!(!mac_matches(&key, b"row", "zz"));
        let sealer = Sealer::new(&a);
        let sealed = sealer.seal("JBSWY3DPEHPK3PXP").expect("seal");
        assert!(sealed.starts_with("sealed:v1:") && !sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(sealed, sealer.seal("JBSWY3DPEHPK3PXP").expect("seal"), "a fresh IV each time");
        assert_eq!(sealer.open(&sealed).expect("open"), "JBSWY3DPEHPK3PXP");
        assert_eq!(sealer.open("legacy-plain").expect("legacy"), "legacy-plain");
        let last = if sealed.ends_with('0') { '1' } else { '0' };
        let altered = format!("{}{last}", &sealed[..sealed.len() - 1]);
        assert!(sealer.open(&altered).is_err());
        let other = NodeKey::load_or_create(&dir.path().join("other.key")).expect("other");
        assert!(Sealer::new(&other).open(&sealed).is_err(), "another node's key opens nothing");
    }
}
