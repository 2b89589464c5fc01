//! The node's own secret, kept in a file beside the database and never in it.
//!
//! One random 256-bit key per node (`security.key_file`, created 0600 at `init` or at the
//! first start that lacks it). Every use takes its own subkey, derived with HMAC-SHA256 over a
//! purpose label, so a subkey that leaks (a checkpoint MAC broken, say) tells nothing of the
//! others. Someone who can rewrite the database but not read this file cannot forge what the
//! key vouches for: the audit checkpoints ([`crate::audit::anchor`]).
//!
//! Back the file up with the database: without it the checkpoints cannot be verified.

pub mod sm2;

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

/// What vouches for the audit checkpoints (`security.checkpoint_signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CheckpointSignature {
    /// HMAC-SHA256 under a subkey of the node key.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// An SM2 signature with SM3 under the node's SM2 key ([`sm2`]).
    #[serde(rename = "sm2")]
    Sm2,
}

/// Whether the batches the node sends carry its signature (`security.batch_signature`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BatchSignature {
    /// The mutual-TLS link (or a bundle file's ECDSA signature) vouches for the sender.
    #[default]
    #[serde(rename = "none")]
    None,
    /// Each batch is also sealed with an SM2 signature under the node's SM2 key and its
    /// signing certificate.
    #[serde(rename = "sm2")]
    Sm2,
}

/// The ciphers secrets at rest may be sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SecretCipher {
    /// AES-256-GCM.
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    /// SM4 (GB/T 32907) in CTR mode, authenticated with HMAC-SM3 over the header, IV and
    /// ciphertext (encrypt-then-MAC), through OpenSSL.
    #[serde(rename = "sm4")]
    Sm4,
}

impl SecretCipher {
    fn prefix(self) -> &'static str {
        match self {
            SecretCipher::Aes256Gcm => "sealed:v1:aes-256-gcm:",
            SecretCipher::Sm4 => "sealed:v1:sm4-ctr-hmac-sm3:",
        }
    }
}

/// Seals and opens the secrets the database keeps, under the node key's
/// [`Purpose::SecretsAtRest`] subkey, with the configured [`SecretCipher`]. Someone who reads
/// the database (or a backup of it) sees `sealed:v1:…`, not the secret. Each value names its
/// cipher, so values sealed before a change of cipher still open. A value without the prefix
/// was stored before sealing: it is read as it is and sealed when next written.
#[derive(Clone)]
pub struct Sealer {
    key: [u8; 32],
    cipher: SecretCipher,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("cipher", &self.cipher).finish_non_exhaustive()
    }
}

fn broken() -> AppError {
    AppError::internal("a sealed secret does not open: altered, or sealed under another node key")
}

impl Sealer {
    /// The sealer of `key`, sealing new values with `cipher`.
    pub fn new(key: &NodeKey, cipher: SecretCipher) -> Sealer {
        Sealer { key: key.subkey(Purpose::SecretsAtRest), cipher }
    }

    /// Seals `plain`.
    pub fn seal(&self, plain: &str) -> AppResult<String> {
        let prefix = self.cipher.prefix();
        match self.cipher {
            SecretCipher::Aes256Gcm => {
                let mut iv = [0u8; 12];
                rand::rngs::OsRng.fill_bytes(&mut iv);
                let mut tag = [0u8; 16];
                let cipher = openssl::symm::Cipher::aes_256_gcm();
                let sealed = openssl::symm::encrypt_aead(
                    cipher,
                    &self.key,
                    Some(&iv),
                    prefix.as_bytes(),
                    plain.as_bytes(),
                    &mut tag,
                )
                .map_err(AppError::internal)?;
                Ok(format!("{prefix}{}:{}:{}", hex::encode(iv), hex::encode(sealed), hex::encode(tag)))
            }
            SecretCipher::Sm4 => {
                let mut iv = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut iv);
                let (enc, mac) = self.key.split_at(16);
                let sealed = openssl::symm::encrypt(openssl::symm::Cipher::sm4_ctr(), enc, Some(&iv), plain.as_bytes())
                    .map_err(AppError::internal)?;
                let tag = sm3_mac(mac, prefix, &iv, &sealed)?;
                Ok(format!("{prefix}{}:{}:{}", hex::encode(iv), hex::encode(sealed), hex::encode(tag)))
            }
        }
    }

    /// Opens a stored value, whichever cipher sealed it (a value stored before sealing is
    /// returned as it is).
    pub fn open(&self, stored: &str) -> AppResult<String> {
        let Some((cipher, rest)) = [SecretCipher::Aes256Gcm, SecretCipher::Sm4]
            .into_iter()
            .find_map(|c| stored.strip_prefix(c.prefix()).map(|rest| (c, rest)))
        else {
            return Ok(stored.to_owned());
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let [iv, data, tag] = parts.as_slice() else { return Err(broken()) };
        let (iv, data, tag) = (
            hex::decode(iv).map_err(|_| broken())?,
            hex::decode(data).map_err(|_| broken())?,
            hex::decode(tag).map_err(|_| broken())?,
        );
        let plain = match cipher {
            SecretCipher::Aes256Gcm => openssl::symm::decrypt_aead(
                openssl::symm::Cipher::aes_256_gcm(),
                &self.key,
                Some(&iv),
                cipher.prefix().as_bytes(),
                &data,
                &tag,
            )
            .map_err(|_| broken())?,
            SecretCipher::Sm4 => {
                let (enc, mac) = self.key.split_at(16);
                let expected = sm3_mac(mac, cipher.prefix(), &iv, &data)?;
                if !openssl::memcmp::eq(&expected, &tag) || expected.len() != tag.len() {
                    return Err(broken());
                }
                openssl::symm::decrypt(openssl::symm::Cipher::sm4_ctr(), enc, Some(&iv), &data).map_err(|_| broken())?
            }
        };
        String::from_utf8(plain).map_err(|_| broken())
    }
}

/// HMAC-SM3 of the header, IV and ciphertext.
fn sm3_mac(key: &[u8], prefix: &str, iv: &[u8], data: &[u8]) -> AppResult<Vec<u8>> {
    let pkey = openssl::pkey::PKey::hmac(key).map_err(AppError::internal)?;
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sm3(), &pkey).map_err(AppError::internal)?;
    for part in [prefix.as_bytes(), iv, data] {
        signer.update(part).map_err(AppError::internal)?;
    }
    signer.sign_to_vec().map_err(AppError::internal)
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
            crate::files::private_dir(dir)?;
        }
        let mut file = crate::files::private_file(path).map_err(|e| io_error(path, e))?;
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

/// Compares two byte strings (tokens, codes) in time that depends on their length only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `presented` (hex) is the MAC of `message` under `key`, compared in constant time.
pub fn mac_matches(key: &[u8; 32], message: &[u8], presented: &str) -> bool {
    let Ok(tag) = hex::decode(presented) else { return false };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.verify_slice(&tag).is_ok()
}

/// The digest algorithms a node may choose for its audit chain (`security.audit_digest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Digest {
    /// SHA-256.
    Sha256,
    /// SM3 (GB/T 32905), through OpenSSL.
    Sm3,
}

impl Digest {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Digest::Sha256 => "sha256",
            Digest::Sm3 => "sm3",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Digest> {
        match s {
            "sha256" => Some(Digest::Sha256),
            "sm3" => Some(Digest::Sm3),
            _ => None,
        }
    }
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
        let other = NodeKey::load_or_create(&dir.path().join("other.key")).expect("other");
        for (cipher, prefix) in
            [(SecretCipher::Aes256Gcm, "sealed:v1:aes-256-gcm:"), (SecretCipher::Sm4, "sealed:v1:sm4-ctr-hmac-sm3:")]
        {
            let sealer = Sealer::new(&a, cipher);
            let sealed = sealer.seal("JBSWY3DPEHPK3PXP").expect("seal");
            assert!(sealed.starts_with(prefix) && !sealed.contains("JBSWY3DPEHPK3PXP"), "{sealed}");
            assert_ne!(sealed, sealer.seal("JBSWY3DPEHPK3PXP").expect("seal"), "a fresh IV each time");
            assert_eq!(sealer.open(&sealed).expect("open"), "JBSWY3DPEHPK3PXP");
            assert_eq!(sealer.open("legacy-plain").expect("legacy"), "legacy-plain");
            let last = if sealed.ends_with('0') { '1' } else { '0' };
            let altered = format!("{}{last}", &sealed[..sealed.len() - 1]);
            assert!(sealer.open(&altered).is_err(), "{cipher:?}: an altered value does not open");
            assert!(Sealer::new(&other, cipher).open(&sealed).is_err(), "another node's key opens nothing");
            let switched = if cipher == SecretCipher::Sm4 { SecretCipher::Aes256Gcm } else { SecretCipher::Sm4 };
            assert_eq!(Sealer::new(&a, switched).open(&sealed).expect("after a change of cipher"), "JBSWY3DPEHPK3PXP");
        }
    }
}
