//! Who may reach which registrations: the rules the registry's API and pages both apply (and
//! that trace search and quality reuse), in one place. A refusal for scope is audited with
//! the action the caller attempted.

use super::entities;
use super::model::EntityRow;
use super::search::Reach;
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{EntityId, TenantId};
use crate::region::RegionCode;

/// The rows a caller may reach: its tenant, its scope's tenants, regions and categories, never
/// beyond the node's region.
pub fn reach_of(state: &AppState, caller: &Caller) -> Reach {
    Reach {
        tenant: caller.tenant_id.clone(),
        tenants: caller.scope.tenants.clone(),
        region: Some(caller.scope.region.clone().unwrap_or_else(|| state.config.node.region.clone())),
        categories: caller.scope.categories.clone(),
    }
}

/// The region a caller registers within.
pub fn region_of(state: &AppState, caller: &Caller) -> RegionCode {
    caller.scope.region.clone().unwrap_or_else(|| state.config.node.region.clone())
}

/// Whether an entity row lies within a caller's reach.
pub fn within_reach(reach: &Reach, row: &EntityRow) -> bool {
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

/// The tenant a registration is for: a tenant caller's own, or the one node staff name.
pub async fn owning_tenant(
    state: &AppState,
    caller: &Caller,
    named: Option<&TenantId>,
    action: &str,
) -> AppResult<TenantId> {
    match (&caller.tenant_id, named) {
        (Some(own), None) => Ok(own.clone()),
        (Some(own), Some(t)) if own == t => Ok(own.clone()),
        (Some(_), Some(t)) => Err(caller.deny(state, action, &format!("tenant:{t}"), ErrorKind::OutOfScope).await),
        (None, None) => {
            Err(AppError::invalid("tenant_id", "请指定主体所属的租户", "name the tenant the entity belongs to"))
        }
        (None, Some(t)) => {
            let id = t.clone();
            let tenant = state
                .db
                .run(move |conn| crate::tenants::get(conn, &id))
                .await
                .map_err(|_| AppError::invalid("tenant_id", "租户不存在", "tenant does not exist"))?;
            if !caller.sees_tenant(&tenant) {
                return Err(caller
                    .deny(state, action, &format!("tenant:{}", tenant.code), ErrorKind::OutOfScope)
                    .await);
            }
            Ok(tenant.id)
        }
    }
}

/// The entity `id` if it lies within the caller's reach; a refusal is audited as `action`.
pub async fn entity_in_reach(state: &AppState, caller: &Caller, id: &EntityId, action: &str) -> AppResult<EntityRow> {
    let key = id.clone();
    let row = state.db.run(move |conn| entities::row(conn, &key)).await?;
    if !within_reach(&reach_of(state, caller), &row) {
        return Err(caller.deny(state, action, &format!("entity:{}", row.code), ErrorKind::OutOfScope).await);
    }
    Ok(row)
}

/// Checks a query against the caller's permission and reach (refusals are audited).
pub async fn checked(
    state: &AppState,
    caller: &Caller,
    query: &super::search::EntityQuery,
) -> AppResult<(super::search::CheckedQuery, Reach)> {
    caller.require(state, crate::users::Permission::RegistryRead, "entities").await?;
    let q = query.check()?;
    let reach = reach_of(state, caller);
    if let Err(e) = q.check_reach(&reach) {
        let _ = caller
            .deny(
                state,
                "registry.search",
                &format!("region:{}", q.region().map(|r| r.as_str()).unwrap_or("")),
                ErrorKind::OutOfScope,
            )
            .await;
        return Err(e);
    }
    Ok((q, reach))
}
