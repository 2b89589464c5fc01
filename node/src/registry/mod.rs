//! The registry (主体注册、检索、分析, 产品目录): responsible entities and the sites they belong
//! to, with review, versions, change policies and duplicate detection; search, exports, GeoJSON
//! and analysis; the product catalogue; and the outbox of approved changes for the roll-ups.
//! GB/T 38157 §6.2, §6.3 and §6.7.4.

pub mod analysis;
pub mod api;
pub mod bulk;
pub mod catalogue;
pub mod devices;
pub mod entities;
pub mod export;
pub mod map;
pub mod model;
pub mod outbox;
pub mod pages;
pub mod products;
pub mod review;
pub mod search;
pub mod sites;

use crate::auth::caller::Caller;
use crate::http::AppState;
use crate::region::RegionCode;
use search::Reach;

/// The rows a caller may reach: its tenant, its scope's tenants, regions and categories, never
/// beyond the node's region.
pub fn reach_of(state: &AppState, caller: &Caller) -> Reach {
    Reach {
        tenant: caller.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
        tenants: caller.scope.tenants.iter().map(|t| t.as_str().to_owned()).collect(),
        region: Some(caller.scope.region.clone().unwrap_or_else(|| state.config.node.region.clone())),
        categories: caller.scope.categories.clone(),
    }
}

/// The region a caller registers within.
pub fn region_of(state: &AppState, caller: &Caller) -> RegionCode {
    caller.scope.region.clone().unwrap_or_else(|| state.config.node.region.clone())
}

/// Whether an entity row lies within a caller's reach.
pub fn within_reach(reach: &Reach, row: &model::EntityRow) -> bool {
    let tenant_ok = reach.tenant.as_ref().is_none_or(|t| t == &row.tenant_id)
        && (reach.tenants.is_empty() || reach.tenants.contains(&row.tenant_id));
    let region_ok = match (&reach.region, RegionCode::parse(&row.region)) {
        (Some(r), Ok(own)) => r.contains(&own),
        (Some(_), Err(_)) => false,
        (None, _) => true,
    };
    let data = row.data();
    let category_ok = reach.categories.is_empty()
        || data.categories.iter().any(|c| reach.categories.iter().any(|allowed| c.starts_with(allowed.as_str())));
    tenant_ok && region_ok && category_ok
}
