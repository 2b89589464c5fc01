//! The PKI that mirrors the administrative tiers (docs/federation.md), with openssl.
//!
//! The national node's [`Authority`] is the root. Every other node makes a key and a
//! [`Request`] naming its region; its parent's authority signs it into the child's CA
//! certificate, refusing a region outside its own. A node's authority issues its own TLS
//! server and client certificates and its tenants' client certificates. Every certificate
//! names whom it is for in a SAN URI ([`Identity`]); [`verify`] checks a chain up to the root
//! and gives that identity back.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private, Public};
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509Name, X509NameBuilder, X509Req, X509ReqBuilder, X509StoreContext, X509};

/// Days a node's CA certificate is valid.
pub const CA_DAYS: u32 = 3650;
/// The extended key usage of a signing certificate (id-kp-documentSigning, RFC 9336).
pub const DOCUMENT_SIGNING: &str = "1.3.6.1.5.5.7.3.36";

/// Days a TLS or client certificate is valid.
pub const LEAF_DAYS: u32 = 397;

/// Failures of the tier PKI.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// openssl refused an operation.
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
    /// A region code is not six digits.
    #[error("“{0}” is not a six-digit region code / 不是六位行政区划代码")]
    Region(String),
    /// A child's region does not lie inside its parent's.
    #[error("region {child} does not lie inside {parent} / 行政区划 {child} 不在 {parent} 之内")]
    OutsideParent {
        /// The parent's region.
        parent: String,
        /// The child's region.
        child: String,
    },
    /// A request or certificate names no tracenode identity, or a malformed one.
    #[error("no tracenode identity in the certificate or request / 证书或申请中没有有效的节点或租户标识")]
    NoIdentity,
    /// A request's signature does not match its key.
    #[error("the request's signature does not match its key / 证书申请的签名与公钥不符")]
    BadRequest,
    /// A revocation list could not be made or is not the authority's.
    #[error("revocation list: {0}")]
    Crl(String),
    /// An SM2 key or signature could not be made or read.
    #[error("SM2: {0}")]
    Sm2(String),
    /// A chain does not lead to the trusted root.
    #[error("the certificate does not chain to the trusted root: {0} / 证书链无法验证到根证书")]
    Untrusted(String),
}

/// Whom a certificate is for, as its SAN URI says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A node: `urn:tracenode:node:<region>`.
    Node {
        /// Its region code.
        region: String,
    },
    /// A tenant of a node: `urn:tracenode:tenant:<region>:<tenant>`.
    Tenant {
        /// The node's region code.
        region: String,
        /// The tenant's code.
        tenant: String,
    },
}

fn region_ok(region: &str) -> Result<(), TierError> {
    if region.len() == 6 && region.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(TierError::Region(region.to_owned()))
    }
}

impl Identity {
    /// The SAN URI.
    pub fn uri(&self) -> String {
        match self {
            Identity::Node { region } => format!("urn:tracenode:node:{region}"),
            Identity::Tenant { region, tenant } => format!("urn:tracenode:tenant:{region}:{tenant}"),
        }
    }

    /// Reads a SAN URI.
    pub fn parse(uri: &str) -> Option<Identity> {
        let rest = uri.strip_prefix("urn:tracenode:")?;
        if let Some(region) = rest.strip_prefix("node:") {
            region_ok(region).ok()?;
            return Some(Identity::Node { region: region.to_owned() });
        }
        let (region, tenant) = rest.strip_prefix("tenant:")?.split_once(':')?;
        region_ok(region).ok()?;
        let tenant_ok = !tenant.is_empty()
            && tenant.len() <= 64
            && tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        tenant_ok.then(|| Identity::Tenant { region: region.to_owned(), tenant: tenant.to_owned() })
    }

    /// The region of the node it is, or whose tenant it is.
    pub fn region(&self) -> &str {
        match self {
            Identity::Node { region } | Identity::Tenant { region, .. } => region,
        }
    }
}

/// Whether `child` lies inside `parent` (GB/T 2260: the national code `100000` holds every
/// region; a province `XX0000` the codes beginning `XX`; a city `XXYY00` those beginning
/// `XXYY`; a county none).
pub fn lies_inside(parent: &str, child: &str) -> bool {
    if parent == child || region_ok(parent).is_err() || region_ok(child).is_err() {
        return false;
    }
    if parent == "100000" {
        return true;
    }
    if let Some(province) = parent.strip_suffix("0000") {
        return child.starts_with(province);
    }
    if let Some(city) = parent.strip_suffix("00") {
        return child.starts_with(city);
    }
    false
}

fn new_key() -> Result<PKey<Private>, TierError> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

fn name(common_name: &str) -> Result<X509Name, TierError> {
    let mut b = X509NameBuilder::new()?;
    b.append_entry_by_nid(Nid::COUNTRYNAME, "CN")?;
    b.append_entry_by_nid(Nid::ORGANIZATIONNAME, "tracenode")?;
    b.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
    Ok(b.build())
}

fn serial() -> Result<openssl::asn1::Asn1Integer, TierError> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

/// A child's request for its CA certificate: a CSR whose subject names the child's identity.
pub struct Request {
    csr: X509Req,
}

impl Request {
    /// A new key for the node of `region` and its request.
    pub fn new(region: &str) -> Result<(Request, PKey<Private>), TierError> {
        region_ok(region)?;
        let key = new_key()?;
        let mut b = X509ReqBuilder::new()?;
        let subject = name(&Identity::Node { region: region.to_owned() }.uri())?;
        b.set_subject_name(&subject)?;
        b.set_pubkey(&key)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok((Request { csr: b.build() }, key))
    }

    /// The request as PEM (what an enrolment carries).
    pub fn to_pem(&self) -> Result<Vec<u8>, TierError> {
        Ok(self.csr.to_pem()?)
    }

    /// Reads a request; its signature must match its key.
    pub fn from_pem(pem: &[u8]) -> Result<Request, TierError> {
        let csr = X509Req::from_pem(pem)?;
        let key = csr.public_key()?;
        if !csr.verify(&key)? {
            return Err(TierError::BadRequest);
        }
        Ok(Request { csr })
    }

    /// The identity the request names.
    pub fn identity(&self) -> Result<Identity, TierError> {
        let cn = self.csr.subject_name().entries_by_nid(Nid::COMMONNAME).next().ok_or(TierError::NoIdentity)?;
        let text = cn.data().to_string()?;
        Identity::parse(&text).ok_or(TierError::NoIdentity)
    }

    /// SHA-256 fingerprint of the request's public key (what an operator compares before
    /// approving), as colon-separated hex.
    pub fn fingerprint(&self) -> Result<String, TierError> {
        let der = self.csr.public_key()?.public_key_to_der()?;
        let digest = openssl::hash::hash(MessageDigest::sha256(), &der)?;
        Ok(digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
    }
}

/// When a certificate is valid, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// From.
    pub not_before: i64,
    /// Until.
    pub not_after: i64,
}

impl Validity {
    /// From now for `days` days.
    pub fn days(days: u32) -> Validity {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        Validity { not_before: now, not_after: now + i64::from(days) * 86_400 }
    }
}

/// What a node's authority issues below itself.
#[derive(Debug, Clone)]
pub enum Leaf {
    /// The node's TLS server certificate, for these DNS names and IP addresses.
    Server {
        /// DNS names.
        dns: Vec<String>,
        /// IP addresses.
        ips: Vec<String>,
    },
    /// The node's own client certificate (it calls its parent with it).
    NodeClient,
    /// The node's signing certificate: its SM2 key, for the signatures of the batches it
    /// sends (document signing, never TLS).
    NodeSigning,
    /// A tenant's client certificate.
    TenantClient {
        /// The tenant's code.
        tenant: String,
    },
}

/// A node's certificate authority: its CA certificate and key.
pub struct Authority {
    cert: X509,
    key: PKey<Private>,
    region: String,
}

impl Authority {
    /// The national root: a self-signed CA for region `100000`.
    pub fn root() -> Result<Authority, TierError> {
        let region = "100000".to_owned();
        let key = new_key()?;
        let subject = name(&format!("tracenode root CA {region}"))?;
        let mut b = X509::builder()?;
        b.set_version(2)?;
        b.set_serial_number(&*serial()?)?;
        b.set_subject_name(&subject)?;
        b.set_issuer_name(&subject)?;
        b.set_pubkey(&key)?;
        b.set_not_before(&*Asn1Time::days_from_now(0)?)?;
        b.set_not_after(&*Asn1Time::days_from_now(CA_DAYS * 2)?)?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
        let san = SubjectAlternativeName::new()
            .uri(&Identity::Node { region: region.clone() }.uri())
            .build(&b.x509v3_context(None, None))?;
        b.append_extension(san)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok(Authority { cert: b.build(), key, region })
    }

    /// An authority from its CA certificate and key (PEM).
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Authority, TierError> {
        let cert = X509::from_pem(cert)?;
        let key = PKey::private_key_from_pem(key)?;
        let region = identity_of(&cert)?.region().to_owned();
        Ok(Authority { cert, key, region })
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &X509 {
        &self.cert
    }

    /// The CA key (PKCS#8 PEM), to be kept by the node alone.
    pub fn key_pem(&self) -> Result<Vec<u8>, TierError> {
        Ok(self.key.private_key_to_pem_pkcs8()?)
    }

    /// The region this authority serves.
    pub fn region(&self) -> &str {
        &self.region
    }

    fn builder(
        &self,
        subject: &X509Name,
        key: &PKeyRef<Public>,
        validity: &Validity,
    ) -> Result<openssl::x509::X509Builder, TierError> {
        let mut b = X509::builder()?;
        b.set_version(2)?;
        b.set_serial_number(&*serial()?)?;
        b.set_subject_name(subject)?;
        b.set_issuer_name(self.cert.subject_name())?;
        b.set_pubkey(key)?;
        b.set_not_before(&*Asn1Time::from_unix(validity.not_before)?)?;
        b.set_not_after(&*Asn1Time::from_unix(validity.not_after)?)?;
        Ok(b)
    }

    fn finish(&self, mut b: openssl::x509::X509Builder) -> Result<X509, TierError> {
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new().keyid(true).build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(aki)?;
        b.sign(&self.key, MessageDigest::sha256())?;
        Ok(b.build())
    }

    /// Signs a child's request into its CA certificate; the child's region must lie inside
    /// this authority's.
    pub fn sign_child(&self, request: &Request) -> Result<X509, TierError> {
        let Identity::Node { region } = request.identity()? else { return Err(TierError::NoIdentity) };
        if !lies_inside(&self.region, &region) {
            return Err(TierError::OutsideParent { parent: self.region.clone(), child: region });
        }
        let key = request.csr.public_key()?;
        let mut b = self.builder(&name(&format!("tracenode node CA {region}"))?, &key, &Validity::days(CA_DAYS))?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
        let san = SubjectAlternativeName::new()
            .uri(&Identity::Node { region }.uri())
            .build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(san)?;
        self.finish(b)
    }

    /// Issues a certificate below this authority for `key`, valid [`LEAF_DAYS`] from now.
    pub fn issue(&self, leaf: &Leaf, key: &PKeyRef<Public>) -> Result<X509, TierError> {
        self.issue_for(leaf, key, &Validity::days(LEAF_DAYS))
    }

    /// Issues a certificate below this authority for `key`, valid for `validity`.
    pub fn issue_for(&self, leaf: &Leaf, key: &PKeyRef<Public>, validity: &Validity) -> Result<X509, TierError> {
        let node = Identity::Node { region: self.region.clone() };
        let (identity, common_name) = match leaf {
            Leaf::Server { .. } => (node.clone(), format!("tracenode node {}", self.region)),
            Leaf::NodeClient => (node.clone(), format!("tracenode node client {}", self.region)),
            Leaf::NodeSigning => (node.clone(), format!("tracenode node signing {}", self.region)),
            Leaf::TenantClient { tenant } => {
                let id = Identity::Tenant { region: self.region.clone(), tenant: tenant.clone() };
                if Identity::parse(&id.uri()).is_none() {
                    return Err(TierError::NoIdentity);
                }
                (id, format!("tracenode tenant {tenant}@{}", self.region))
            }
        };
        let mut b = self.builder(&name(&common_name)?, key, validity)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        let (usage, eku) = match leaf {
            Leaf::Server { .. } => (
                KeyUsage::new().critical().digital_signature().key_agreement().build()?,
                ExtendedKeyUsage::new().server_auth().build()?,
            ),
            // RFC 9336's document signing: a signing key is never a TLS key.
            Leaf::NodeSigning => (
                KeyUsage::new().critical().digital_signature().non_repudiation().build()?,
                ExtendedKeyUsage::new().other(DOCUMENT_SIGNING).build()?,
            ),
            _ => (
                KeyUsage::new().critical().digital_signature().key_agreement().build()?,
                ExtendedKeyUsage::new().client_auth().build()?,
            ),
        };
        b.append_extension(usage)?;
        b.append_extension(eku)?;
        let mut san = SubjectAlternativeName::new();
        san.uri(&identity.uri());
        if let Leaf::Server { dns, ips } = leaf {
            dns.iter().for_each(|d| {
                san.dns(d);
            });
            ips.iter().for_each(|ip| {
                san.ip(ip);
            });
        }
        let san = san.build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(san)?;
        self.finish(b)
    }

    /// A new key and a certificate for it.
    pub fn issue_with_key(&self, leaf: &Leaf) -> Result<(X509, PKey<Private>), TierError> {
        self.issue_with_key_for(leaf, &Validity::days(LEAF_DAYS))
    }

    /// A new key and a certificate for it, valid for `validity`.
    pub fn issue_with_key_for(&self, leaf: &Leaf, validity: &Validity) -> Result<(X509, PKey<Private>), TierError> {
        let key = new_key()?;
        let public = PKey::public_key_from_der(&key.public_key_to_der()?)?;
        Ok((self.issue_for(leaf, &public, validity)?, key))
    }
}

/// The identity a certificate names in its SAN URI.
pub fn identity_of(cert: &X509) -> Result<Identity, TierError> {
    cert.subject_alt_names()
        .into_iter()
        .flatten()
        .find_map(|n| n.uri().and_then(Identity::parse))
        .ok_or(TierError::NoIdentity)
}

/// Verifies the CA certificate `ca` through the `intermediates` up to `root` (as of now)
/// and gives its identity. Every CA on the path lies inside the region of the CA that
/// signed it (the root holds the whole country).
pub fn verify(ca: &X509, intermediates: &[X509], root: &X509) -> Result<Identity, TierError> {
    let path = verified_path(ca, intermediates, root)?;
    regions_nest(&path, 0)?;
    identity_of(ca)
}

/// Verifies the end-entity certificate `leaf` (a node's or a tenant's) through the
/// `intermediates` up to `root`, and gives its identity and the CA that issued it. The
/// identity's region must be the issuing CA's own: a node's CA certifies that node and its
/// tenants, never a sibling, its parent or a region below it.
pub fn verify_leaf(leaf: &X509, intermediates: &[X509], root: &X509) -> Result<(Identity, X509), TierError> {
    let path = verified_path(leaf, intermediates, root)?;
    regions_nest(&path, 1)?;
    let identity = identity_of(leaf)?;
    let issuer = path.get(1).ok_or(TierError::NoIdentity)?;
    if identity.region() != region_of(issuer, path.len() == 2)? {
        return Err(TierError::Untrusted(format!(
            "{} was not issued by that region's own CA / 证书不是由其所属区划的 CA 签发",
            identity.uri()
        )));
    }
    Ok((identity, issuer.clone()))
}

/// The path openssl built from `cert` up to `root`: `cert` first, the root last.
fn verified_path(cert: &X509, intermediates: &[X509], root: &X509) -> Result<Vec<X509>, TierError> {
    let mut store = X509StoreBuilder::new()?;
    store.add_cert(root.clone())?;
    let store = store.build();
    let mut chain = Stack::new()?;
    for c in intermediates {
        chain.push(c.clone())?;
    }
    let mut ctx = X509StoreContext::new()?;
    let (ok, why, path) = ctx.init(&store, cert, &chain, |c| {
        let ok = c.verify_cert()?;
        let path: Vec<X509> = c.chain().map(|s| s.iter().map(|x| x.to_owned()).collect()).unwrap_or_default();
        Ok((ok, c.error().error_string().to_owned(), path))
    })?;
    if !ok {
        return Err(TierError::Untrusted(why));
    }
    Ok(path)
}

/// The region a CA certificate on a path stands for (the root: the whole country).
fn region_of(ca: &X509, is_root: bool) -> Result<String, TierError> {
    if is_root {
        return Ok("100000".to_owned());
    }
    Ok(identity_of(ca)?.region().to_owned())
}

/// Checks that every certificate of `path` from index `from` up to (not including) the root
/// lies inside the region of the one above it.
fn regions_nest(path: &[X509], from: usize) -> Result<(), TierError> {
    let last = path.len().saturating_sub(1);
    for i in from..last {
        let (own, above) = (region_of(&path[i], false)?, region_of(&path[i + 1], i + 1 == last)?);
        if !lies_inside(&above, &own) {
            return Err(TierError::Untrusted(format!(
                "a CA of {own} signed by the CA of {above}, which does not hold it / {own} 的 CA 不应由 {above} 的 CA 签发"
            )));
        }
    }
    Ok(())
}

/// A child authority for `region`, its request read back from PEM and signed by `parent`:
/// the tiers the crate's tests build.
#[cfg(test)]
pub(crate) fn test_child(parent: &Authority, region: &str) -> Authority {
    let (request, key) = Request::new(region).expect("request");
    let request = Request::from_pem(&request.to_pem().expect("pem")).expect("read request");
    let cert = parent.sign_child(&request).expect("signed");
    Authority::from_pem(&cert.to_pem().expect("pem"), &key.private_key_to_pem_pkcs8().expect("key")).expect("authority")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child authority of `parent` for `region`.
    #[test]
    fn four_tiers_chain_to_the_root_and_name_their_holders() {
        let root = Authority::root().expect("root");
        let zhejiang = test_child(&root, "330000");
        let hangzhou = test_child(&zhejiang, "330100");
        let xihu = test_child(&hangzhou, "330106");
        let chain = [xihu.certificate().clone(), hangzhou.certificate().clone(), zhejiang.certificate().clone()];
        let (server, _) = xihu
            .issue_with_key(&Leaf::Server { dns: vec!["localhost".into()], ips: vec!["127.0.0.1".into()] })
            .expect("server");
        let (identity, issuer) = verify_leaf(&server, &chain, root.certificate()).expect("verifies");
        assert_eq!(identity, Identity::Node { region: "330106".into() });
        assert_eq!(issuer.to_der().expect("der"), xihu.certificate().to_der().expect("der"));
        let (tenant, _) = xihu.issue_with_key(&Leaf::TenantClient { tenant: "hz-market".into() }).expect("tenant");
        assert_eq!(
            verify_leaf(&tenant, &chain, root.certificate()).expect("verifies").0,
            Identity::Tenant { region: "330106".into(), tenant: "hz-market".into() }
        );
        assert_eq!(
            verify(xihu.certificate(), &chain[1..], root.certificate()).expect("a CA verifies"),
            Identity::Node { region: "330106".into() }
        );
        assert_eq!(identity_of(hangzhou.certificate()).expect("id"), Identity::Node { region: "330100".into() });
        // Without the intermediates, or under another root, nothing verifies.
        assert!(matches!(verify_leaf(&server, &[], root.certificate()), Err(TierError::Untrusted(_))));
        let other = Authority::root().expect("other root");
        assert!(matches!(verify_leaf(&server, &chain, other.certificate()), Err(TierError::Untrusted(_))));
    }

    /// A certificate the CA of `by` makes by hand for `region`: a CA when `ca`, else a node's
    /// client certificate.
    fn forged(by: &Authority, region: &str, ca: bool) -> (X509, PKey<Private>) {
        let key = new_key().expect("key");
        let public = PKey::public_key_from_der(&key.public_key_to_der().expect("der")).expect("public");
        let mut b =
            by.builder(&name(&format!("forged {region}")).expect("name"), &public, &Validity::days(30)).expect("b");
        if ca {
            b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc")).expect("bc");
            b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build().expect("ku")).expect("ku");
        }
        let san = SubjectAlternativeName::new()
            .uri(&Identity::Node { region: region.into() }.uri())
            .build(&b.x509v3_context(Some(by.certificate()), None))
            .expect("san");
        b.append_extension(san).expect("san");
        (by.finish(b).expect("signed"), key)
    }

    #[test]
    fn a_ca_vouches_for_its_own_region_only() {
        let root = Authority::root().expect("root");
        let zhejiang = test_child(&root, "330000");
        let hangzhou = test_child(&zhejiang, "330100");
        let xihu = test_child(&hangzhou, "330106");
        let chain = vec![xihu.certificate().clone(), hangzhou.certificate().clone(), zhejiang.certificate().clone()];
        // 西湖区's CA names its sibling 上城区 (330102) in a client certificate: refused.
        let (sibling, _) = forged(&xihu, "330102", false);
        assert!(matches!(verify_leaf(&sibling, &chain, root.certificate()), Err(TierError::Untrusted(_))));
        // ... or its parent, 杭州市: refused.
        let (parent, _) = forged(&xihu, "330100", false);
        assert!(matches!(verify_leaf(&parent, &chain, root.certificate()), Err(TierError::Untrusted(_))));
        // It makes itself a CA for 330102 and issues from that: refused on the way up.
        let (sub, key) = forged(&xihu, "330102", true);
        let pem = (sub.to_pem().expect("pem"), key.private_key_to_pem_pkcs8().expect("key"));
        let sub = Authority::from_pem(&pem.0, &pem.1).expect("sub");
        let (leaf, _) = sub.issue_with_key(&Leaf::NodeClient).expect("leaf");
        let mut longer = vec![sub.certificate().clone()];
        longer.extend(chain.iter().cloned());
        assert!(matches!(verify_leaf(&leaf, &longer, root.certificate()), Err(TierError::Untrusted(_))));
        // A city's CA naming one of its counties: refused too (a county has its own CA).
        let (below, _) = forged(&hangzhou, "330106", false);
        assert!(matches!(verify_leaf(&below, &chain[1..], root.certificate()), Err(TierError::Untrusted(_))));
        // Its own node: taken.
        let (own, _) = xihu.issue_with_key(&Leaf::NodeClient).expect("own");
        assert!(verify_leaf(&own, &chain, root.certificate()).is_ok());
    }

    #[test]
    fn a_parent_signs_only_regions_inside_its_own() {
        let root = Authority::root().expect("root");
        let hangzhou = test_child(&test_child(&root, "330000"), "330100");
        let (nanjing, _) = Request::new("320100").expect("request");
        assert!(matches!(hangzhou.sign_child(&nanjing), Err(TierError::OutsideParent { .. })));
        let (itself, _) = Request::new("330100").expect("request");
        assert!(matches!(hangzhou.sign_child(&itself), Err(TierError::OutsideParent { .. })));
        assert!(matches!(Request::new("33010"), Err(TierError::Region(_))));
        let (county, _) = Request::new("330106").expect("request");
        assert_eq!(county.fingerprint().expect("fingerprint").split(':').count(), 32);
    }

    #[test]
    fn regions_and_identities_read_as_gbt_2260_says() {
        assert!(lies_inside("100000", "330000") && lies_inside("330000", "330106") && lies_inside("330100", "330106"));
        assert!(
            !lies_inside("330100", "330200") && !lies_inside("330106", "330106") && !lies_inside("330106", "330107")
        );
        for uri in ["urn:tracenode:node:330106", "urn:tracenode:tenant:330106:hz-market_1"] {
            assert_eq!(Identity::parse(uri).expect(uri).uri(), uri);
        }
        for bad in [
            "urn:tracenode:node:3301",
            "urn:tracenode:tenant:330106:",
            "urn:tracenode:tenant:330106:a b",
            "urn:x:node:330106",
        ] {
            assert!(Identity::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_tampered_request_is_refused() {
        let (request, _) = Request::new("330106").expect("request");
        let mut der = request.csr.to_der().expect("der");
        let last = der.len() - 1;
        der[last] ^= 0x01;
        // The last byte is inside the signature's last integer: the request still parses.
        let pem = X509Req::from_der(&der).expect("still a request").to_pem().expect("pem");
        assert!(matches!(Request::from_pem(&pem), Err(TierError::BadRequest)), "a changed signature does not verify");
    }
}
