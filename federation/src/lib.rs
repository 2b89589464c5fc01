//! Node-to-node trust and transport of tracenode.
//!
//! Today this crate holds the development PKI that `tracenode init` makes; the federation
//! protocol, mutual-TLS configurations and the PKI that mirrors the administrative tiers
//! (DESIGN.md §6) grow here. It knows nothing about the database.

pub mod pki;
