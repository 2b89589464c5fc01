//! Certificates with openssl.
//!
//! [`make_development_pki`] writes a node CA and a TLS server certificate for `localhost`,
//! both named as development-only, so a fresh node serves HTTPS at once. Production nodes get
//! their CA from their parent by enrolment (docs/federation.md).

use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509Name, X509NameBuilder, X509};

/// Initialises OpenSSL for the whole process before anything else uses it.
///
/// libpq (the PostgreSQL client) also uses OpenSSL; if it initialises the library first,
/// OpenSSL registers an exit handler that tears it down while other threads may still hold
/// connections, which crashes the process as it exits. Initialising here first, as the openssl
/// crate does (without that exit handler), avoids it. Call it at the start of `main`.
pub fn init_crypto() {
    openssl::init();
}

/// Failures of certificate work.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// openssl refused an operation.
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The files of a development PKI.
#[derive(Debug, Clone)]
pub struct DevelopmentPki {
    /// The CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// The server certificate chain: server then CA (PEM).
    pub server_cert: PathBuf,
    /// The server private key (PKCS#8 PEM).
    pub server_key: PathBuf,
}

const DEV_MARK: &str = "DEVELOPMENT ONLY 仅供开发测试";

fn new_key() -> Result<PKey<Private>, PkiError> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

fn name(common_name: &str, region: &str) -> Result<X509Name, PkiError> {
    let mut b = X509NameBuilder::new()?;
    b.append_entry_by_nid(Nid::COUNTRYNAME, "CN")?;
    b.append_entry_by_nid(Nid::ORGANIZATIONNAME, "tracenode")?;
    b.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, &format!("{DEV_MARK} region {region}"))?;
    b.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
    Ok(b.build())
}

fn serial() -> Result<openssl::asn1::Asn1Integer, PkiError> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io { path: path.to_path_buf(), source };
    fs::write(path, bytes).map_err(io)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// Writes a development CA and a `localhost` server certificate into `dir`.
pub fn make_development_pki(dir: &Path, region: &str) -> Result<DevelopmentPki, PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.to_path_buf(), source })?;
    let ca_key = new_key()?;
    let ca_name = name(&format!("tracenode node CA {region} ({DEV_MARK})"), region)?;
    let mut ca = X509::builder()?;
    ca.set_version(2)?;
    ca.set_serial_number(&*serial()?)?;
    ca.set_subject_name(&ca_name)?;
    ca.set_issuer_name(&ca_name)?;
    ca.set_pubkey(&ca_key)?;
    ca.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    ca.set_not_after(&*Asn1Time::days_from_now(3650)?)?;
    ca.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    ca.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&ca.x509v3_context(None, None))?;
    ca.append_extension(ski)?;
    ca.sign(&ca_key, MessageDigest::sha256())?;
    let ca = ca.build();

    let server_key = new_key()?;
    let mut srv = X509::builder()?;
    srv.set_version(2)?;
    srv.set_serial_number(&*serial()?)?;
    srv.set_subject_name(&*name(&format!("localhost ({DEV_MARK})"), region)?)?;
    srv.set_issuer_name(ca.subject_name())?;
    srv.set_pubkey(&server_key)?;
    srv.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    srv.set_not_after(&*Asn1Time::days_from_now(825)?)?;
    srv.append_extension(BasicConstraints::new().build()?)?;
    srv.append_extension(KeyUsage::new().critical().digital_signature().key_agreement().build()?)?;
    srv.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .ip("::1")
        .uri(&format!("urn:tracenode:node:{region}"))
        .build(&srv.x509v3_context(Some(&ca), None))?;
    srv.append_extension(san)?;
    let aki = AuthorityKeyIdentifier::new().keyid(true).build(&srv.x509v3_context(Some(&ca), None))?;
    srv.append_extension(aki)?;
    srv.sign(&ca_key, MessageDigest::sha256())?;
    let srv = srv.build();

    let files = DevelopmentPki {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    };
    write(&files.ca_cert, &ca.to_pem()?, false)?;
    write(&dir.join("ca.key"), &ca_key.private_key_to_pem_pkcs8()?, true)?;
    let mut chain = srv.to_pem()?;
    chain.extend_from_slice(&ca.to_pem()?);
    write(&files.server_cert, &chain, false)?;
    write(&files.server_key, &server_key.private_key_to_pem_pkcs8()?, true)?;
    write(
        &dir.join("README.txt"),
        format!(
            "These certificates are for development only ({DEV_MARK}).\n\
             They were generated by `tracenode init`; a production node obtains its CA\n\
             certificate from its parent node by enrolment.\n"
        )
        .as_bytes(),
        false,
    )?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_pki_chains_and_names_localhost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = make_development_pki(dir.path(), "330106").expect("pki");
        let ca = X509::from_pem(&fs::read(&pki.ca_cert).expect("read")).expect("ca");
        let chain = X509::stack_from_pem(&fs::read(&pki.server_cert).expect("read")).expect("chain");
        assert_eq!(chain.len(), 2);
        let ca_key = ca.public_key().expect("key");
        assert!(chain[0].verify(&ca_key).expect("verify"), "server certificate signed by the CA");
        let sans: Vec<String> = chain[0]
            .subject_alt_names()
            .expect("sans")
            .iter()
            .filter_map(|n| n.dnsname().map(str::to_owned).or_else(|| n.uri().map(str::to_owned)))
            .collect();
        assert!(sans.contains(&"localhost".to_owned()));
        assert!(sans.contains(&"urn:tracenode:node:330106".to_owned()));
        let subject = format!("{:?}", chain[0].subject_name());
        assert!(subject.contains("DEVELOPMENT ONLY"), "{subject}");
    }
}
