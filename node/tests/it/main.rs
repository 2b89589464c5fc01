//! Integration tests of the node, collected in one binary. Every behaviour runs on SQLite
//! and on PostgreSQL (`both_backends!`).

mod smtp;
mod support;

mod access;
mod alerts;
mod api_keys;
mod audit_trail;
mod auth_flow;
mod browser;
mod cli;
mod evaluation;
mod evaluation_tiers;
mod federation;
mod http_basics;
mod industry;
mod ingest;
mod jobs;
mod monitoring;
mod parity;
mod products;
mod quality;
mod registry;
mod schema;
mod security;
mod stats;
mod tenants;
mod users_roles;
