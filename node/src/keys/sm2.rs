//! The node's SM2 signing key (GB/T 32918), for what a third party must check with the public
//! key alone: the audit checkpoints when `security.checkpoint_signature = "sm2"`. An auditor
//! given the public key (`tracenode audit public-key`) verifies the checkpoint file without
//! any secret of the node; an HMAC, by contrast, only the node itself can check.
//!
//! The same key seals the federation batches the node sends when
//! `security.batch_signature = "sm2"`, under a signing certificate its CA issues for it.
//!
//! The key is a PKCS#8 PEM file (0600, in a 0700 folder) beside the node key, created at the
//! first use. Signatures are SM2 over SM3 with the default distinguishing identifier of
//! GM/T 0009 (`1234567812345678`), DER-encoded and written as hex
//! ([`tracenode_federation::sm2`]); OpenSSL checks them in the tests (with
//! `-pkeyopt distid:1234567812345678`), as an auditor would.

use std::fs;
use std::io::Write;
use std::path::Path;

use sm2::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sm2::{PublicKey, SecretKey};
pub use tracenode_federation::sm2::verify_hex;

use crate::error::{AppError, AppResult};

fn io_error(path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("SM2 key {}: {e}", path.display()))
}

/// An SM2 key pair.
pub struct Sm2Key(SecretKey);

impl std::fmt::Debug for Sm2Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sm2Key(…)")
    }
}

impl Sm2Key {
    /// Reads the key at `path`, creating it if there is none.
    pub fn load_or_create(path: &Path) -> AppResult<Sm2Key> {
        match fs::read_to_string(path) {
            Ok(pem) => SecretKey::from_pkcs8_pem(&pem).map(Sm2Key).map_err(|e| io_error(path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Sm2Key::create(path),
            Err(e) => Err(io_error(path, e)),
        }
    }

    /// Writes a new key beside `path` and links it into place, so the file is whole or absent;
    /// if another process made one first, that one is read.
    fn create(path: &Path) -> AppResult<Sm2Key> {
        let key = tracenode_federation::sm2::generate().map_err(AppError::internal)?;
        if let Some(dir) = path.parent().filter(|d| !d.exists()) {
            crate::files::private_dir(dir)?;
        }
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(AppError::internal)?;
        let fresh = path.with_extension(format!("new-{}", uuid::Uuid::new_v4().simple()));
        let written = crate::files::private_new_file(&fresh)
            .and_then(|mut file| file.write_all(pem.as_bytes()).and_then(|()| file.sync_all()));
        if let Err(e) = written {
            let _ = fs::remove_file(&fresh);
            return Err(io_error(path, e));
        }
        let linked = fs::hard_link(&fresh, path);
        let _ = fs::remove_file(&fresh);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "SM2 signing key created");
                Ok(Sm2Key(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Sm2Key::load_or_create(path),
            Err(e) => Err(io_error(path, e)),
        }
    }

    /// The signature of `message` (DER, as OpenSSL reads it), hex.
    pub fn sign_hex(&self, message: &[u8]) -> AppResult<String> {
        tracenode_federation::sm2::sign_hex(&self.0, message).map_err(AppError::internal)
    }

    /// The secret key, for sealing batches.
    pub fn secret(&self) -> &SecretKey {
        &self.0
    }

    /// The public key, PEM (SubjectPublicKeyInfo).
    pub fn public_pem(&self) -> AppResult<Vec<u8>> {
        Ok(self.0.public_key().to_public_key_pem(LineEnding::LF).map_err(AppError::internal)?.into_bytes())
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.0.public_key()
    }
}

/// The public key in a PEM text (SubjectPublicKeyInfo).
pub fn public_from_pem(pem: &str) -> AppResult<PublicKey> {
    PublicKey::from_public_key_pem(pem).map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_changed_message_does_not() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secrets/sm2.key");
        let key = Sm2Key::load_or_create(&path).expect("create");
        let again = Sm2Key::load_or_create(&path).expect("read");
        assert_eq!(key.public_pem().expect("pem"), again.public_pem().expect("pem"), "stable");
        let sig = key.sign_hex(b"42\tabc").expect("sign");
        let public = again.public();
        assert!(verify_hex(&public, b"42\tabc", &sig));
        assert!(!verify_hex(&public, b"43\tabc", &sig));
        assert!(!verify_hex(&public, b"42\tabc", "00"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    }

    /// OpenSSL's own command line checks the signature with the public key alone and GM/T
    /// 0009's identifier named (OpenSSL 3 signs with an empty identifier unless told): two
    /// implementations agree on Z, so the signature is SM2 as the standard defines it.
    #[test]
    fn openssl_verifies_it_with_the_gm_t_0009_identifier() {
        let dir = tempfile::tempdir().expect("dir");
        let key = Sm2Key::load_or_create(&dir.path().join("sm2.key")).expect("create");
        let message = b"checkpoint 7";
        let sig = hex::decode(key.sign_hex(message).expect("sign")).expect("hex");
        let (msg, sig_file, public) = (dir.path().join("msg"), dir.path().join("sig"), dir.path().join("pub.pem"));
        std::fs::write(&msg, message).expect("msg");
        std::fs::write(&sig_file, &sig).expect("sig");
        std::fs::write(&public, key.public_pem().expect("pem")).expect("pub");
        let check = |extra: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
                .arg(&public)
                .args(["-rawin", "-digest", "sm3", "-in"])
                .arg(&msg)
                .arg("-sigfile")
                .arg(&sig_file)
                .args(extra)
                .output()
                .expect("the openssl command line");
            String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully")
        };
        assert!(check(&["-pkeyopt", "distid:1234567812345678"]), "OpenSSL checks it with GM/T 0009's identifier");
        // Another identifier gives another Z: the same signature fails.
        assert!(!check(&["-pkeyopt", "distid:ALICE123@YAHOO.COM"]));
    }
}
