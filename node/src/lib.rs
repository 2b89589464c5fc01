//! tracenode: one node of China's important-product traceability management platform
//! (重要产品追溯管理平台, GB/T 38157).
//!
//! The same library serves every tier (county, city, province, national, or a standalone
//! node). Code is grouped by capability, each folder holding its queries, service logic, HTTP
//! handlers and console pages (`tenants/`, `users/`, `audit/`, `auth/` …), with shared
//! infrastructure beside them (`db/`, `http/`, `config/`, `console/`, `cli/`, `bootstrap/`).
//! See `docs/architecture.md`.

pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod error;
pub mod federation;
pub mod files;
pub mod http;
pub mod ids;
pub mod ingest;
pub mod keys;
pub mod notify;
pub mod period;
pub mod pki;
pub mod quality;
pub mod region;
pub mod registry;
pub mod tenants;
pub mod trace;
pub mod users;
