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
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::AuditCheckpoints => b"tracenode/audit-checkpoints/v1",
        }
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
    }
}
