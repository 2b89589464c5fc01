//! Node-to-node trust and transport of tracenode.
//!
//! Today this crate holds the development PKI that `tracenode init` makes ([`pki`]) and the
//! PKI that mirrors the administrative tiers ([`tiers`]: a root at the national node, each
//! node's CA signed by its parent's, identities in SAN URIs); the federation protocol and the
//! mutual-TLS configurations grow here (docs/federation.md). It knows nothing about the database.

pub mod batch;
pub mod crl;
pub mod pki;
pub mod tiers;
pub mod transport;
