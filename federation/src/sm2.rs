//! SM2 signatures (GB/T 32918) as a third party checks them: SM2 over SM3 with the
//! distinguishing identifier GM/T 0009 prescribes when none is agreed (`1234567812345678`),
//! the signature DER-encoded (as OpenSSL reads it) and written as hex.
//!
//! OpenSSL 3 signs SM2 with an empty identifier unless one is set, which its Rust binding
//! cannot do; so the arithmetic is RustCrypto's `sm2`, and the tests check its signatures
//! with OpenSSL's command line (`-pkeyopt distid:1234567812345678`). OpenSSL still carries
//! the key inside X.509: a tier CA certifies an SM2 key like any other
//! ([`crate::tiers::Leaf::NodeSigning`]), and [`public_key_of`] reads it back out.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::pkcs8::{DecodePublicKey, EncodePublicKey};
pub use sm2::{PublicKey, SecretKey};

use crate::tiers::TierError;

/// The distinguishing identifier of GM/T 0009 used when none is agreed.
pub const DEFAULT_ID: &str = "1234567812345678";

fn failed(e: impl std::fmt::Display) -> TierError {
    TierError::Sm2(e.to_string())
}

/// A fresh key from the system's random source (through OpenSSL).
pub fn generate() -> Result<SecretKey, TierError> {
    loop {
        let mut bytes = [0u8; 32];
        openssl::rand::rand_bytes(&mut bytes)?;
        // Zero or at least the order (a chance of about 2^-32) is no key: draw again.
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
}

/// The signature of `message` under `key` (DER, hex).
pub fn sign_hex(key: &SecretKey, message: &[u8]) -> Result<String, TierError> {
    let signing = SigningKey::new(DEFAULT_ID, key).map_err(failed)?;
    let signature: Signature = signing.sign(message);
    let der = EcdsaSig::from_private_components(
        BigNum::from_slice(&signature.r_bytes())?,
        BigNum::from_slice(&signature.s_bytes())?,
    )?
    .to_der()?;
    Ok(hex::encode(der))
}

/// Whether `signature` (DER, hex) is the SM2 signature of `message` under `key`.
pub fn verify_hex(key: &PublicKey, message: &[u8], signature: &str) -> bool {
    let Ok(der) = hex::decode(signature) else { return false };
    let Ok(sig) = EcdsaSig::from_der(&der) else { return false };
    let (Ok(r), Ok(s)) = (sig.r().to_vec_padded(32), sig.s().to_vec_padded(32)) else { return false };
    let Ok(signature) = Signature::from_scalars(*sm2::FieldBytes::from_slice(&r), *sm2::FieldBytes::from_slice(&s))
    else {
        return false;
    };
    let Ok(verifying) = VerifyingKey::new(DEFAULT_ID, *key) else { return false };
    verifying.verify(message, &signature).is_ok()
}

/// The key in OpenSSL's form, for a certificate to carry.
pub fn to_openssl(key: &PublicKey) -> Result<PKey<Public>, TierError> {
    let der = key.to_public_key_der().map_err(failed)?;
    Ok(PKey::public_key_from_der(der.as_bytes())?)
}

/// The SM2 key a certificate certifies; `None` when it certifies another kind of key.
pub fn public_key_of(cert: &X509) -> Option<PublicKey> {
    let der = cert.public_key().ok()?.public_key_to_der().ok()?;
    PublicKey::from_public_key_der(&der).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_slice(&[7u8; 32]).expect("key")
    }

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let key = key();
        let signature = sign_hex(&key, b"header").expect("sign");
        assert!(verify_hex(&key.public_key(), b"header", &signature));
        assert!(!verify_hex(&key.public_key(), b"headed", &signature));
        let other = SecretKey::from_slice(&[9u8; 32]).expect("other");
        assert!(!verify_hex(&other.public_key(), b"header", &signature));
        assert!(!verify_hex(&key.public_key(), b"header", "not hex"));
        assert!(!verify_hex(&key.public_key(), b"header", "3006020101020101"));
    }

    #[test]
    fn a_key_goes_into_openssl_and_back_unchanged() {
        let public = key().public_key();
        let openssl = to_openssl(&public).expect("openssl");
        let again = PublicKey::from_public_key_der(&openssl.public_key_to_der().expect("der")).expect("sm2");
        assert_eq!(again, public);
    }
}
