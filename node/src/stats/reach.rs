//! Whose data a reader of the jurisdiction's figures sees: the region a caller is bounded to
//! (an API key's or tenant user's tenant region, a staff member's data scope, else the node's
//! jurisdiction) and a requested region prefix checked to lie inside it. The statistics API
//! and the upper tier's registrations apply the same bound.

use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult};
use crate::region::RegionCode;

/// The region a caller reads within: an API key's or tenant user's tenant region, a staff
/// member's data scope, else the node's jurisdiction.
pub async fn bounding_region(state: &AppState, caller: &Caller) -> AppResult<RegionCode> {
    if let Some(tenant) = caller.tenant_id.clone() {
        let tenant = state.db.run(move |conn| crate::tenants::get(conn, &tenant)).await?;
        return Ok(tenant.region);
    }
    Ok(crate::registry::region_of(state, caller))
}

/// The region prefix of a request: the one asked for, which must lie inside `bound`, else
/// `bound`'s own.
pub fn within(asked: Option<&str>, bound: &RegionCode) -> AppResult<String> {
    let own = bound.subtree_prefix().to_owned();
    let Some(asked) = asked.map(str::trim).filter(|a| !a.is_empty()) else { return Ok(own) };
    if asked.len() > 6 || !asked.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::invalid("within", "区划前缀只能是至多6位数字", "within must be up to six digits"));
    }
    if !asked.starts_with(&own) {
        return Err(AppError::invalid(
            "within",
            format!("区划 {asked} 不在您的数据范围 {}（{}）之内", bound.as_str(), bound.name()),
            format!("region {asked} lies outside your scope {}", bound.as_str()),
        ));
    }
    Ok(asked.to_owned())
}
