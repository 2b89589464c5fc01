//! The batches a node sends its parent (docs/federation.md) and the signed files that carry them
//! across networks without a live link.
//!
//! A [`Batch`] is a header and a body. The body is the kind's own JSON text; the header names
//! the batch (a UUID), its kind, its sender, its number in the sender's sequence for that kind
//! and the SHA-256 digest of the body, so a receiver checks the body before reading it and
//! refuses a gap or a replay by number alone. Over the live link the sender is the verified
//! TLS peer; in a file ([`Bundle`]) the sender's certificate chain travels with the batches and
//! its key signs every header, so an importer checks the same things the listener does.
//!
//! A sender whose key is SM2 also seals each batch ([`Seal`]): an SM2 signature of the header
//! under a signing certificate its own CA issued ([`Leaf::NodeSigning`]), so the batch
//! carries its sender's signature whatever carried it (the TLS link is ECDSA, as rustls
//! speaks no SM2). A receiver checks a seal whenever there is one and may require one.

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sm2;
use crate::tiers::{self, Identity, TierError};

/// The version of the batch format a node writes. Version 2 added statistics slices that name
/// the regions they replace: a receiver of version 1 would read such a slice as its whole day
/// and drop the other regions' cells, so it refuses the batch (`protocol`) instead, and the
/// sender waits until its parent is upgraded.
pub const PROTOCOL: u32 = 2;
/// The oldest version a node still reads (a version-1 sender's slices are whole days).
pub const OLDEST_PROTOCOL: u32 = 1;

/// Whether a node of this version reads batches and bundles of version `v`.
pub fn reads(v: u32) -> bool {
    (OLDEST_PROTOCOL..=PROTOCOL).contains(&v)
}
/// What a bundle file says it is.
pub const BUNDLE_FORMAT: &str = "tracenode-federation-bundle";

/// Why a batch or a bundle is refused.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The body does not hash to the header's digest.
    #[error("the body does not match its digest / 批次内容与摘要不符")]
    DigestMismatch,
    /// A protocol version this node does not speak.
    #[error("batch protocol {0} is not supported / 不支持的批次协议版本 {0}")]
    Protocol(u32),
    /// A file is not a bundle, or is malformed.
    #[error("not a federation bundle: {0} / 不是有效的联邦数据包")]
    NotABundle(String),
    /// A signature does not verify with the sender's certificate.
    #[error("a batch signature does not verify / 批次签名验证失败")]
    BadSignature,
    /// A batch names another sender than the certificate.
    #[error("the batch names {named}, the certificate {certified} / 批次发送方与证书不符")]
    SenderMismatch {
        /// Whom the batch names.
        named: String,
        /// Whom the certificate names.
        certified: String,
    },
    /// A seal does not hold: its certificate is not the sender's or its signature fails.
    #[error("the batch's SM2 seal does not hold: {0} / 批次的 SM2 签名无效")]
    BadSeal(String),
    /// Certificate work failed.
    #[error(transparent)]
    Tier(#[from] TierError),
}

impl From<openssl::error::ErrorStack> for BatchError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        BatchError::Tier(TierError::Openssl(e))
    }
}

/// What a batch is and where it stands in its sender's sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// A UUID, the same on every resend.
    pub batch_id: String,
    /// The roll-up kind (`registrations`, `statistics`, `audit-checkpoints` …).
    pub kind: String,
    /// The sending node's identity URI.
    pub sender: String,
    /// Its number in the sender's sequence of this kind, from 1, without gaps.
    pub batch_no: i64,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Items in the body.
    pub items: i64,
    /// The digest of the body, hex, in [`Header::digest_algorithm`].
    pub digest: String,
    /// The digest's algorithm: `sha256` (left out on the wire) or `sm3` (GB/T 32905).
    #[serde(default, skip_serializing_if = "BodyDigest::is_sha256")]
    pub digest_algorithm: BodyDigest,
}

/// The digests a batch body may be hashed with; the sender chooses, the header says which,
/// the receiver checks with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyDigest {
    /// SHA-256.
    #[default]
    Sha256,
    /// SM3 (GB/T 32905), through OpenSSL.
    Sm3,
}

impl BodyDigest {
    fn is_sha256(&self) -> bool {
        *self == BodyDigest::Sha256
    }

    /// The digest of `body`, hex.
    pub fn of(self, body: &str) -> Result<String, BatchError> {
        Ok(match self {
            BodyDigest::Sha256 => digest_of(body),
            BodyDigest::Sm3 => hex::encode(openssl::hash::hash(MessageDigest::sm3(), body.as_bytes())?),
        })
    }
}

/// One batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// What it is.
    pub header: Header,
    /// The kind's JSON text.
    pub body: String,
    /// The sender's SM2 signature of the header, when it seals its batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<Seal>,
}

/// An SM2 signature of a batch's header (which holds the body's digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Seal {
    /// The algorithm: `sm2-sm3` (SM2 over SM3 with GM/T 0009's default identifier).
    pub algorithm: SealAlgorithm,
    /// The sender's signing certificate (PEM): its SM2 key, issued by the sender's CA.
    pub certificate: String,
    /// The signature of the header's JSON text (as [`Header`] serializes, fields in order),
    /// DER, hex.
    pub signature: String,
}

/// How a batch is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SealAlgorithm {
    /// SM2 over SM3 (GB/T 32918, GB/T 32905).
    #[serde(rename = "sm2-sm3")]
    Sm2Sm3,
}

fn bad_seal(why: impl Into<String>) -> BatchError {
    BatchError::BadSeal(why.into())
}

/// The SHA-256 of a body, hex.
pub fn digest_of(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

impl Batch {
    /// A new batch of `items` items with a fresh id.
    pub fn new(kind: &str, sender: &Identity, batch_no: i64, items: i64, body: String, created_at: String) -> Batch {
        Batch {
            header: Header {
                protocol: PROTOCOL,
                batch_id: uuid::Uuid::new_v4().to_string(),
                kind: kind.to_owned(),
                sender: sender.uri(),
                batch_no,
                created_at,
                items,
                digest: digest_of(&body),
                digest_algorithm: BodyDigest::Sha256,
            },
            body,
            seal: None,
        }
    }

    /// The same batch sealed with the SM2 `key` that `certificate` (PEM) certifies.
    pub fn sealed(mut self, certificate: &str, key: &sm2::SecretKey) -> Result<Batch, BatchError> {
        let signature = sm2::sign_hex(key, &self.signed_bytes()?)?;
        self.seal = Some(Seal { algorithm: SealAlgorithm::Sm2Sm3, certificate: certificate.to_owned(), signature });
        Ok(self)
    }

    /// Checks the seal, when there is one, against `authority`, the CA that issued the
    /// certificate the batch came with: the signing certificate was issued by it, names the
    /// header's sender, was valid when the header says the batch was made and certifies an
    /// SM2 key under which the signature verifies. Gives the signing certificate (whose
    /// serial the receiver looks up in the sender's revocation list).
    pub fn check_seal(&self, authority: &X509) -> Result<Option<X509>, BatchError> {
        let Some(seal) = &self.seal else { return Ok(None) };
        let cert = X509::from_pem(seal.certificate.as_bytes()).map_err(|_| bad_seal("unreadable certificate"))?;
        if !authority.public_key().and_then(|key| cert.verify(&key)).unwrap_or(false) {
            return Err(bad_seal("the signing certificate was not issued by the sender's CA"));
        }
        let named = tiers::identity_of(&cert).map(|i| i.uri()).unwrap_or_default();
        if named != self.header.sender {
            return Err(bad_seal(format!("the signing certificate names “{named}”, not the sender")));
        }
        let made = chrono::DateTime::parse_from_rfc3339(&self.header.created_at)
            .map_err(|_| bad_seal("the header's time is not RFC 3339"))?;
        let made = openssl::asn1::Asn1Time::from_unix(made.timestamp())?;
        if cert.not_before() > made || cert.not_after() < made {
            return Err(bad_seal("the signing certificate was not valid when the batch was made"));
        }
        let key = sm2::public_key_of(&cert).ok_or_else(|| bad_seal("the signing certificate's key is not SM2"))?;
        if !sm2::verify_hex(&key, &self.signed_bytes()?, &seal.signature) {
            return Err(bad_seal("the signature does not verify"));
        }
        Ok(Some(cert))
    }

    /// The same batch with its body digested in `algorithm`.
    pub fn digested_with(mut self, algorithm: BodyDigest) -> Result<Batch, BatchError> {
        self.header.digest = algorithm.of(&self.body)?;
        self.header.digest_algorithm = algorithm;
        Ok(self)
    }

    /// Checks the protocol and that the body matches its digest.
    pub fn check(&self) -> Result<(), BatchError> {
        if !reads(self.header.protocol) {
            return Err(BatchError::Protocol(self.header.protocol));
        }
        if self.header.digest_algorithm.of(&self.body)? != self.header.digest {
            return Err(BatchError::DigestMismatch);
        }
        Ok(())
    }

    fn signed_bytes(&self) -> Result<Vec<u8>, BatchError> {
        serde_json::to_vec(&self.header).map_err(|e| BatchError::NotABundle(e.to_string()))
    }
}

/// One batch in a file, with its sender's signature over the header (which holds the body's
/// digest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedBatch {
    /// The batch.
    pub batch: Batch,
    /// ECDSA-SHA256 signature over the JSON of the header, hex.
    pub signature: String,
}

/// A file of batches for a network without a live link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The sender's identity URI.
    pub sender: String,
    /// The sender's client certificate, then its CA certificates up the tiers (PEM).
    pub chain: Vec<String>,
    /// The batches, in order.
    pub batches: Vec<SignedBatch>,
}

impl Bundle {
    /// Signs `batches` with the sender's client key; `chain` starts with that key's
    /// certificate.
    pub fn seal(chain: &[X509], key: &PKey<Private>, batches: Vec<Batch>) -> Result<Bundle, BatchError> {
        let leaf = chain.first().ok_or(BatchError::Tier(TierError::NoIdentity))?;
        let sender = tiers::identity_of(leaf)?.uri();
        let mut signed = Vec::with_capacity(batches.len());
        for batch in batches {
            let mut signer = Signer::new(MessageDigest::sha256(), key)?;
            signer.update(&batch.signed_bytes()?)?;
            signed.push(SignedBatch { signature: hex::encode(signer.sign_to_vec()?), batch });
        }
        let mut pems = Vec::with_capacity(chain.len());
        for c in chain {
            pems.push(String::from_utf8(c.to_pem()?).map_err(|e| BatchError::NotABundle(e.to_string()))?);
        }
        Ok(Bundle { format: BUNDLE_FORMAT.into(), protocol: PROTOCOL, sender, chain: pems, batches: signed })
    }

    /// Reads a bundle file's text.
    pub fn parse(text: &[u8]) -> Result<Bundle, BatchError> {
        let bundle: Bundle = serde_json::from_slice(text).map_err(|e| BatchError::NotABundle(e.to_string()))?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(BatchError::NotABundle(format!("format “{}”", bundle.format)));
        }
        if !reads(bundle.protocol) {
            return Err(BatchError::Protocol(bundle.protocol));
        }
        Ok(bundle)
    }

    /// Verifies the chain up to `root`, every signature and every digest, and that every
    /// batch names the certified sender; gives the sender and the batches.
    pub fn open(self, root: &X509) -> Result<(Identity, Vec<Batch>), BatchError> {
        self.open_signed(root).map(|opened| (opened.sender, opened.batches))
    }

    /// [`Bundle::open`], also giving the sender's certificate and the CA that issued it.
    pub fn open_signed(self, root: &X509) -> Result<Opened, BatchError> {
        let mut chain = Vec::with_capacity(self.chain.len());
        for pem in &self.chain {
            chain.push(X509::from_pem(pem.as_bytes())?);
        }
        let (leaf, above) = chain.split_first().ok_or(BatchError::Tier(TierError::NoIdentity))?;
        let (sender, authority) = tiers::verify_leaf(leaf, above, root)?;
        if sender.uri() != self.sender {
            return Err(BatchError::SenderMismatch { named: self.sender, certified: sender.uri() });
        }
        let public = leaf.public_key()?;
        let mut batches = Vec::with_capacity(self.batches.len());
        for SignedBatch { batch, signature } in self.batches {
            let signature = hex::decode(&signature).map_err(|_| BatchError::BadSignature)?;
            let mut verifier = Verifier::new(MessageDigest::sha256(), &public)?;
            verifier.update(&batch.signed_bytes()?)?;
            if !verifier.verify(&signature).unwrap_or(false) {
                return Err(BatchError::BadSignature);
            }
            if batch.header.sender != sender.uri() {
                return Err(BatchError::SenderMismatch { named: batch.header.sender, certified: sender.uri() });
            }
            batch.check()?;
            batches.push(batch);
        }
        Ok(Opened { sender, certificate: leaf.clone(), authority, batches })
    }
}

/// A bundle whose chain, signatures and digests verified.
#[derive(Debug)]
pub struct Opened {
    /// Whom the sender's certificate names.
    pub sender: Identity,
    /// The sender's certificate.
    pub certificate: X509,
    /// The CA that issued it.
    pub authority: X509,
    /// The batches, in order.
    pub batches: Vec<Batch>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiers::{Authority, Leaf};

    fn county() -> (Authority, Authority) {
        let root = Authority::root().expect("root");
        let county = crate::tiers::test_child(&root, "330106");
        (root, county)
    }

    #[test]
    fn versions_one_and_two_are_read_and_others_refused() {
        let me = Identity::Node { region: "330106".into() };
        let mut batch = Batch::new("statistics", &me, 1, 1, "[]".into(), "2026-12-02T00:00:00Z".into());
        assert_eq!(batch.header.protocol, 2, "written as version 2");
        for (version, read) in [(1, true), (2, true), (0, false), (3, false)] {
            batch.header.protocol = version;
            assert_eq!(batch.check().is_ok(), read, "version {version}");
        }
    }

    #[test]
    fn a_body_digested_with_sm3_checks_and_a_changed_one_does_not() {
        let me = Identity::Node { region: "330106".into() };
        let batch = Batch::new("statistics", &me, 1, 1, "[1]".into(), "2026-11-26T00:00:00Z".into())
            .digested_with(BodyDigest::Sm3)
            .expect("sm3");
        assert_eq!(batch.header.digest_algorithm, BodyDigest::Sm3);
        assert_ne!(batch.header.digest, digest_of("[1]"), "not the SHA-256");
        batch.check().expect("checks");
        let mut changed = batch.clone();
        changed.body = "[2]".into();
        assert!(matches!(changed.check(), Err(BatchError::DigestMismatch)));
        let mut relabelled = batch;
        relabelled.header.digest_algorithm = BodyDigest::Sha256;
        assert!(matches!(relabelled.check(), Err(BatchError::DigestMismatch)));
        assert_eq!(
            BodyDigest::Sm3.of("abc").expect("sm3"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    /// A signing certificate of `authority` for a fresh SM2 key valid over `validity`.
    fn signing(authority: &Authority, validity: &tiers::Validity) -> (String, sm2::SecretKey) {
        let key = sm2::generate().expect("key");
        let public = sm2::to_openssl(&key.public_key()).expect("openssl key");
        let cert = authority.issue_for(&Leaf::NodeSigning, &public, validity).expect("signing certificate");
        (String::from_utf8(cert.to_pem().expect("pem")).expect("utf-8"), key)
    }

    #[test]
    fn a_sealed_batch_verifies_against_its_senders_ca_only() {
        let (root, county) = county();
        let me = Identity::Node { region: "330106".into() };
        let made = "2026-11-26T00:00:00Z";
        let at = chrono::DateTime::parse_from_rfc3339(made).expect("time").timestamp();
        let valid = tiers::Validity { not_before: at - 60, not_after: at + 86_400 };
        let (pem, key) = signing(&county, &valid);
        let batch = Batch::new("statistics", &me, 1, 1, "[1]".into(), made.into()).sealed(&pem, &key).expect("sealed");
        let cert = batch.check_seal(county.certificate()).expect("holds").expect("a seal");
        assert_eq!(tiers::identity_of(&cert).expect("identity"), me);
        // The seal travels in the batch's JSON and survives the trip.
        let wire: Batch = serde_json::from_str(&serde_json::to_string(&batch).expect("json")).expect("parse");
        assert_eq!(serde_json::to_value(&wire).expect("json")["seal"]["algorithm"], "sm2-sm3");
        wire.check_seal(county.certificate()).expect("still holds");
        assert_eq!(
            Batch::new("statistics", &me, 1, 1, "[1]".into(), made.into()).check_seal(&cert).expect("none"),
            None
        );

        let refused = |b: &Batch, ca: &X509| match b.check_seal(ca) {
            Err(BatchError::BadSeal(why)) => why,
            other => panic!("expected a bad seal, got {other:?}"),
        };
        // A changed header (its body's digest, its number) breaks the signature.
        let mut changed = batch.clone();
        changed.header.batch_no = 2;
        assert_eq!(refused(&changed, county.certificate()), "the signature does not verify");
        // Another CA than the sender's: a sibling's, or the parent's own.
        let sibling = crate::tiers::test_child(&root, "330108");
        assert!(refused(&batch, sibling.certificate()).contains("not issued by the sender's CA"));
        // A certificate of the sibling's sealing a batch that names this county.
        let (theirs, their_key) = signing(&sibling, &valid);
        let forged =
            Batch::new("statistics", &me, 1, 1, "[1]".into(), made.into()).sealed(&theirs, &their_key).expect("x");
        assert!(refused(&forged, sibling.certificate()).contains("names"));
        // Made outside the certificate's validity.
        let (stale, stale_key) = signing(&county, &tiers::Validity { not_before: at - 7200, not_after: at - 3600 });
        let late =
            Batch::new("statistics", &me, 1, 1, "[1]".into(), made.into()).sealed(&stale, &stale_key).expect("x");
        assert!(refused(&late, county.certificate()).contains("not valid when the batch was made"));
        // A TLS certificate (an ECDSA key) cannot seal.
        let (tls, _) = county.issue_with_key_for(&Leaf::NodeClient, &valid).expect("client");
        let mut relabelled = batch.clone();
        relabelled.seal.as_mut().expect("seal").certificate =
            String::from_utf8(tls.to_pem().expect("pem")).expect("utf-8");
        assert!(refused(&relabelled, county.certificate()).contains("not SM2"));
        // The signature of another key under the right certificate.
        let (_, other_key) = signing(&county, &valid);
        let swapped =
            Batch::new("statistics", &me, 1, 1, "[1]".into(), made.into()).sealed(&pem, &other_key).expect("x");
        assert_eq!(refused(&swapped, county.certificate()), "the signature does not verify");
    }

    #[test]
    fn a_bundle_round_trips_and_refuses_tampering() {
        let (root, county) = county();
        let (cert, key) = county.issue_with_key(&Leaf::NodeClient).expect("client");
        let me = tiers::identity_of(&cert).expect("identity");
        let batch = Batch::new("registrations", &me, 1, 2, "[1,2]".into(), "2026-11-26T00:00:00Z".into());
        let chain = vec![cert.clone(), county.certificate().clone()];
        let bundle = Bundle::seal(&chain, &key, vec![batch.clone()]).expect("sealed");
        let text = serde_json::to_vec(&bundle).expect("json");
        let (sender, batches) = Bundle::parse(&text).expect("parse").open(root.certificate()).expect("open");
        assert_eq!(sender, me);
        assert_eq!(batches, vec![batch.clone()]);

        // A changed body breaks the digest; a changed header breaks the signature.
        let mut body = bundle.clone();
        body.batches[0].batch.body = "[1,3]".into();
        assert!(matches!(body.open(root.certificate()), Err(BatchError::DigestMismatch)));
        let mut header = bundle.clone();
        header.batches[0].batch.header.batch_no = 2;
        assert!(matches!(header.open(root.certificate()), Err(BatchError::BadSignature)));
        // Another root does not trust the chain.
        let other = Authority::root().expect("other");
        assert!(matches!(bundle.clone().open(other.certificate()), Err(BatchError::Tier(_))));
        assert!(matches!(Bundle::parse(b"{\"format\":\"x\"}"), Err(BatchError::NotABundle(_))));
        assert!(batch.check().is_ok());
    }
}
