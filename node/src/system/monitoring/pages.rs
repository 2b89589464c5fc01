//! The console pages of operation monitoring.

/// Registers these routes.
pub fn routes(_cfg: &mut actix_web::web::ServiceConfig) {}
