//! Mutual TLS between nodes and for machine clients (rustls), docs/federation.md.
//!
//! The federation listener requires a client certificate that chains to the national root
//! through the tier CAs, checked against every revocation list the node holds: a revoked
//! certificate — or one under a revoked CA — is refused, and so is a list past its next
//! update (revocation expiry is enforced). A CA whose list the node does not hold is taken
//! on its chain alone. The caller's identity is read from the verified certificate only
//! ([`peer_identity`]). Outbound calls present the node's own client certificate and trust
//! the same root.
//!
//! A running listener takes new certificates and lists without a restart: [`LiveServer`]
//! holds the current ones and every new handshake uses whatever it holds at that moment.

use std::sync::{Arc, RwLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};

use crate::tiers::Identity;

/// Failures of the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// rustls refused the certificates, key or lists.
    #[error("TLS: {0}")]
    Tls(String),
}

fn tls<E: std::fmt::Display>(e: E) -> TransportError {
    TransportError::Tls(e.to_string())
}

/// What a node trusts: the national root and the revocation lists it holds.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The national root certificate.
    pub root: CertificateDer<'static>,
    /// The revocation lists (DER) of the authorities the node knows.
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

/// The node's own certificate chain (leaf first, up to but without the root) and key.
pub struct Credentials {
    /// Leaf, then the CA certificates up the tiers.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(trust: &Trust) -> Result<Arc<RootCertStore>, TransportError> {
    let mut roots = RootCertStore::empty();
    roots.add(trust.root.clone()).map_err(tls)?;
    Ok(Arc::new(roots))
}

/// The federation listener's configuration: its server certificate, and a client
/// certificate required of every caller.
pub fn server_config(own: Credentials, trust: &Trust) -> Result<ServerConfig, TransportError> {
    LiveServer::new(own, trust)?.config()
}

/// A listener's certificate and client verifier, replaceable while it runs (rotation and
/// CRL refresh without downtime): [`LiveServer::config`] is given to the listener once, and
/// [`LiveServer::update`] swaps what later handshakes use.
#[derive(Debug)]
pub struct LiveServer {
    current: RwLock<Current>,
}

#[derive(Debug, Clone)]
struct Current {
    key: Arc<CertifiedKey>,
    verifier: Arc<dyn ClientCertVerifier>,
}

fn current(own: Credentials, trust: &Trust) -> Result<Current, TransportError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(trust)?, provider())
        .with_crls(trust.crls.clone())
        .allow_unknown_revocation_status()
        .enforce_revocation_expiration()
        .build()
        .map_err(tls)?;
    let key = CertifiedKey::from_der(own.chain, own.key, &provider()).map_err(tls)?;
    Ok(Current { key: Arc::new(key), verifier })
}

impl LiveServer {
    /// A listener state with these credentials and this trust.
    pub fn new(own: Credentials, trust: &Trust) -> Result<Arc<LiveServer>, TransportError> {
        Ok(Arc::new(LiveServer { current: RwLock::new(current(own, trust)?) }))
    }

    /// Replaces the credentials and trust for every later handshake; on error nothing changes.
    pub fn update(&self, own: Credentials, trust: &Trust) -> Result<(), TransportError> {
        let next = current(own, trust)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(())
    }

    fn now(&self) -> Current {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The server configuration that always uses what this state holds.
    pub fn config(self: &Arc<Self>) -> Result<ServerConfig, TransportError> {
        Ok(ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_client_cert_verifier(Arc::new(LiveVerifier(self.clone())))
            .with_cert_resolver(Arc::new(LiveResolver(self.clone()))))
    }
}

#[derive(Debug)]
struct LiveResolver(Arc<LiveServer>);

impl ResolvesServerCert for LiveResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.now().key)
    }
}

#[derive(Debug)]
struct LiveVerifier(Arc<LiveServer>);

impl ClientCertVerifier for LiveVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.now().verifier.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.now().verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.now().verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.now().verifier.supported_verify_schemes()
    }
}

/// The configuration of outbound calls: the node's client certificate, and the root its
/// peers' server certificates must chain to.
pub fn client_config(own: Credentials, trust: &Trust) -> Result<ClientConfig, TransportError> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .with_root_certificates(roots(trust)?)
        .with_client_auth_cert(own.chain, own.key)
        .map_err(tls)
}

/// A peer the TLS layer verified: whom its certificate names, the certificate, and the CA
/// that issued it.
#[derive(Debug, Clone)]
pub struct VerifiedPeer {
    /// The SAN URI of its certificate.
    pub identity: Identity,
    /// Its certificate.
    pub certificate: openssl::x509::X509,
    /// The CA that issued it.
    pub authority: openssl::x509::X509,
}

/// The verified peer of a handshake, taken only when its certificate was issued by its
/// region's own CA and every CA above lies inside the region of the one that signed it
/// ([`crate::tiers::verify_leaf`]). A CA may thus vouch for its own node and tenants only.
pub fn peer_identity(certificates: &[CertificateDer<'_>], root: &openssl::x509::X509) -> Option<VerifiedPeer> {
    let mut chain = certificates.iter().map(|c| openssl::x509::X509::from_der(c).ok());
    let certificate = chain.next()??;
    let above: Vec<openssl::x509::X509> = chain.collect::<Option<_>>()?;
    let (identity, authority) = crate::tiers::verify_leaf(&certificate, &above, root).ok()?;
    Some(VerifiedPeer { identity, certificate, authority })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use openssl::pkey::{PKey, Private};
    use openssl::x509::X509;
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use rustls::{ClientConnection, ServerConnection};

    use super::*;
    use crate::crl::Revoked;
    use crate::tiers::{test_child, Authority, Leaf};

    fn der(cert: &X509) -> CertificateDer<'static> {
        CertificateDer::from(cert.to_der().expect("der"))
    }

    fn key(key: &PKey<Private>) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.private_key_to_pkcs8().expect("pkcs8")))
    }

    struct Tiers {
        root: Authority,
        province: Authority,
        city: Authority,
        county: Authority,
    }

    fn tiers() -> Tiers {
        let root = Authority::root().expect("root");
        let province = test_child(&root, "330000");
        let city = test_child(&province, "330100");
        let county = test_child(&city, "330106");
        Tiers { root, province, city, county }
    }

    fn chain_of(leaf: &X509, cas: &[&Authority]) -> Vec<CertificateDer<'static>> {
        std::iter::once(der(leaf)).chain(cas.iter().map(|a| der(a.certificate()))).collect()
    }

    fn crl(a: &Authority, revoked: &[Revoked], valid: Duration) -> CertificateRevocationListDer<'static> {
        let pem = a.crl(1, revoked, valid).expect("crl");
        CertificateRevocationListDer::from(openssl::x509::X509Crl::from_pem(&pem).expect("crl").to_der().expect("der"))
    }

    /// A full handshake in memory; the server's verdict and the caller's identity.
    fn handshake(server: ServerConfig, client: ClientConfig) -> Result<Option<Identity>, String> {
        let mut s = ServerConnection::new(Arc::new(server)).map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut c = ClientConnection::new(Arc::new(client), name).map_err(|e| e.to_string())?;
        for _ in 0..10 {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).map_err(|e| e.to_string())?;
            let mut rd = &buf[..];
            while !rd.is_empty() {
                s.read_tls(&mut rd).map_err(|e| e.to_string())?;
            }
            s.process_new_packets().map_err(|e| e.to_string())?;
            let mut buf = Vec::new();
            s.write_tls(&mut buf).map_err(|e| e.to_string())?;
            let mut rd = &buf[..];
            while !rd.is_empty() {
                c.read_tls(&mut rd).map_err(|e| e.to_string())?;
            }
            c.process_new_packets().map_err(|e| e.to_string())?;
            if !s.is_handshaking() && !c.is_handshaking() {
                let leaf = s.peer_certificates().and_then(|c| openssl::x509::X509::from_der(c.first()?).ok());
                return Ok(leaf.and_then(|l| crate::tiers::identity_of(&l).ok()));
            }
        }
        Err("the handshake did not finish".into())
    }

    #[test]
    fn mutual_tls_names_the_caller_and_refuses_revoked_and_stale() {
        let t = tiers();
        // The city's federation listener; callers from the county below it.
        let (server_cert, server_key) =
            t.city.issue_with_key(&Leaf::Server { dns: vec!["localhost".into()], ips: vec![] }).expect("server");
        let listener = || Credentials { chain: chain_of(&server_cert, &[&t.city, &t.province]), key: key(&server_key) };
        let above_county: [&Authority; 3] = [&t.county, &t.city, &t.province];
        let (node_cert, node_key) = t.county.issue_with_key(&Leaf::NodeClient).expect("client");
        let node = || Credentials { chain: chain_of(&node_cert, &above_county), key: key(&node_key) };
        let (tenant_cert, tenant_key) =
            t.county.issue_with_key(&Leaf::TenantClient { tenant: "hz-market".into() }).expect("tenant");
        let tenant = || Credentials { chain: chain_of(&tenant_cert, &above_county), key: key(&tenant_key) };
        let hour = Duration::from_secs(3600);
        let trust = |crls| Trust { root: der(t.root.certificate()), crls };
        let connect = |caller: Credentials, trust: &Trust| {
            let s = server_config(listener(), trust).expect("server config");
            handshake(s, client_config(caller, trust).expect("client config"))
        };

        let clean = trust(vec![crl(&t.city, &[], hour), crl(&t.county, &[], hour)]);
        assert_eq!(connect(node(), &clean), Ok(Some(Identity::Node { region: "330106".into() })));
        assert_eq!(
            connect(tenant(), &clean),
            Ok(Some(Identity::Tenant { region: "330106".into(), tenant: "hz-market".into() }))
        );

        // The county revokes its tenant's certificate: that tenant is refused, the node is not.
        let gone = Revoked::of(&tenant_cert, SystemTime::now()).expect("revoked");
        let tenant_revoked = trust(vec![crl(&t.city, &[], hour), crl(&t.county, &[gone], hour)]);
        let refused = connect(tenant(), &tenant_revoked).expect_err("a revoked certificate is refused");
        assert!(refused.contains("Revoked"), "{refused}");
        assert!(connect(node(), &tenant_revoked).is_ok());

        // The city revokes the county's CA: everything under it is refused.
        let county_ca = Revoked::of(t.county.certificate(), SystemTime::now()).expect("revoked");
        let county_revoked = trust(vec![crl(&t.city, &[county_ca], hour), crl(&t.county, &[], hour)]);
        let refused = connect(node(), &county_revoked).expect_err("a certificate under a revoked CA is refused");
        assert!(refused.contains("Revoked"), "{refused}");

        // A list past its next update is refused, not trusted stale.
        let stale = trust(vec![crl(&t.city, &[], hour), crl(&t.county, &[], Duration::from_secs(1))]);
        std::thread::sleep(Duration::from_millis(2100));
        let refused = connect(node(), &stale).expect_err("an expired revocation list is not trusted");
        assert!(refused.contains("revocation list expired"), "{refused}");

        // A caller of another root, or with no certificate at all, is refused.
        let other = Authority::root().expect("other root");
        let (stranger, stranger_key) = other.issue_with_key(&Leaf::NodeClient).expect("stranger");
        let strange = Credentials { chain: chain_of(&stranger, &[]), key: key(&stranger_key) };
        assert!(connect(strange, &clean).is_err());
        let anonymous = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots(&clean).expect("roots"))
            .with_no_client_auth();
        assert!(handshake(server_config(listener(), &clean).expect("server"), anonymous).is_err());
    }

    #[test]
    fn a_live_listener_takes_new_lists_and_certificates_without_restarting() {
        let t = tiers();
        let (server_cert, server_key) =
            t.city.issue_with_key(&Leaf::Server { dns: vec!["localhost".into()], ips: vec![] }).expect("server");
        let listener = || Credentials { chain: chain_of(&server_cert, &[&t.city, &t.province]), key: key(&server_key) };
        let (node_cert, node_key) = t.county.issue_with_key(&Leaf::NodeClient).expect("client");
        let node =
            || Credentials { chain: chain_of(&node_cert, &[&t.county, &t.city, &t.province]), key: key(&node_key) };
        let hour = Duration::from_secs(3600);
        let trust = |crls| Trust { root: der(t.root.certificate()), crls };
        let clean = trust(vec![crl(&t.county, &[], hour)]);
        let live = LiveServer::new(listener(), &clean).expect("live");
        let config = live.config().expect("config");
        let county = Some(Identity::Node { region: "330106".into() });
        assert_eq!(handshake(config.clone(), client_config(node(), &clean).expect("client")), Ok(county.clone()));

        let gone = Revoked::of(&node_cert, SystemTime::now()).expect("revoked");
        live.update(listener(), &trust(vec![crl(&t.county, &[gone], hour)])).expect("update");
        let refused = handshake(config.clone(), client_config(node(), &clean).expect("client"))
            .expect_err("the same configuration now refuses the revoked certificate");
        assert!(refused.contains("Revoked"), "{refused}");

        // A rotated server certificate is served at once.
        let (rotated, rotated_key) =
            t.city.issue_with_key(&Leaf::Server { dns: vec!["localhost".into()], ips: vec![] }).expect("rotated");
        let creds = Credentials { chain: chain_of(&rotated, &[&t.city, &t.province]), key: key(&rotated_key) };
        live.update(creds, &clean).expect("rotate");
        let mut s = ServerConnection::new(Arc::new(config.clone())).expect("server");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut c = ClientConnection::new(Arc::new(client_config(node(), &clean).expect("client")), name).expect("c");
        for _ in 0..4 {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).expect("write");
            s.read_tls(&mut &buf[..]).expect("read");
            s.process_new_packets().expect("process");
            let mut buf = Vec::new();
            s.write_tls(&mut buf).expect("write");
            c.read_tls(&mut &buf[..]).expect("read");
            c.process_new_packets().expect("process");
        }
        let served = c.peer_certificates().and_then(|p| p.first().cloned()).expect("served certificate");
        assert_eq!(served, der(&rotated));

        // A bad update changes nothing.
        let broken = Credentials { chain: vec![], key: key(&rotated_key) };
        assert!(live.update(broken, &clean).is_err());
        assert_eq!(handshake(config, client_config(node(), &clean).expect("client")), Ok(county));
    }
}
