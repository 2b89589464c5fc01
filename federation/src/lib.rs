//! Node-to-node trust and transport of tracenode, and the federation protocol.
//!
//! - trust: the development PKI that `tracenode init` makes ([`pki`]); the PKI that mirrors
//!   the administrative tiers ([`tiers`]: a root at the national node, each node's CA signed
//!   by its parent's, identities in SAN URIs); revocation lists ([`crl`]); SM2 signatures
//!   with GM/T 0009's identifier ([`sm2`]);
//! - transport: the mutual-TLS configurations ([`transport`]);
//! - protocol: what travels between nodes ([`wire`]).
//!
//! It knows nothing about the database: the node implements the storage the protocol needs
//! ([`wire::inbox::Inbox`]).

pub mod crl;
pub mod pki;
pub mod sm2;
pub mod tiers;
pub mod transport;
pub mod wire;
