//! Console pages of the registry.

/// Registers these pages.
pub fn routes(_cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {}
