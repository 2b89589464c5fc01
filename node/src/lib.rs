//! tracenode: one node of China's important-product traceability management platform
//! (重要产品追溯管理平台, GB/T 38157).
//!
//! The same library serves every tier (county, city, province, national, or a standalone
//! node). Code is grouped by capability, each folder holding its queries, service logic, HTTP
//! handlers and console pages (`registry/`, `ingest/`, `trace/` …). The modules stand in
//! layers — foundation (`error`, `config`, `db` …), platform (`app`, `http`), identity
//! (`audit`, `credentials`, `users`, `tenants`, `auth`, the `console` shell, and `admin` with
//! their API and pages), capabilities,
//! `federation`, and the composition root (`routes`, `bootstrap`, `cli`) — and a module uses
//! only what stands below it; `tests/layers.rs` holds the code to that order. See
//! `docs/architecture.md`.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod console;
pub mod credentials;
pub mod db;
pub mod error;
pub mod evaluation;
pub mod federation;
pub mod files;
pub mod http;
pub mod ids;
pub mod ingest;
pub mod jobs;
pub mod keys;
pub mod notify;
pub mod period;
pub mod pki;
pub mod quality;
pub mod region;
pub mod registry;
pub mod routes;
pub mod stats;
pub mod system;
pub mod tenants;
pub mod trace;
pub mod users;
