//! Data scopes: which region subtree, product categories and tenants an account may see.
//!
//! An empty list means "no restriction on this axis"; a missing region means the node's whole
//! jurisdiction. A tenant user is additionally confined to its own tenant, whatever its scope.

use serde::{Deserialize, Serialize};

use crate::ids::TenantId;
use crate::region::RegionCode;

/// An account's data scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataScope {
    /// Region subtree; `None` for the node's whole jurisdiction.
    #[schema(value_type = Option<String>)]
    pub region: Option<RegionCode>,
    /// Product category codes; empty for all.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Tenants; empty for all.
    #[serde(default)]
    pub tenants: Vec<TenantId>,
}

impl DataScope {
    /// Reads the stored columns (JSON arrays as text). Unreadable lists become empty lists
    /// only for display; they were validated when written.
    pub fn from_columns(region: Option<&str>, categories: &str, tenants: &str) -> Self {
        DataScope {
            region: region.and_then(|r| RegionCode::parse(r).ok()),
            categories: serde_json::from_str(categories).unwrap_or_default(),
            tenants: serde_json::from_str::<Vec<String>>(tenants)
                .unwrap_or_default()
                .into_iter()
                .map(TenantId::from_db)
                .collect(),
        }
    }

    /// The stored columns.
    pub fn to_columns(&self) -> (Option<String>, String, String) {
        let tenants: Vec<&str> = self.tenants.iter().map(TenantId::as_str).collect();
        (
            self.region.as_ref().map(|r| r.as_str().to_owned()),
            serde_json::to_string(&self.categories).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(&tenants).unwrap_or_else(|_| "[]".into()),
        )
    }

    /// Whether a row of `tenant` in `region` is visible under this scope.
    pub fn allows(&self, tenant: &TenantId, region: &RegionCode) -> bool {
        let tenant_ok = self.tenants.is_empty() || self.tenants.contains(tenant);
        let region_ok = self.region.as_ref().is_none_or(|r| r.contains(region));
        tenant_ok && region_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_subtree_and_tenant_list() {
        let t1 = TenantId::generate();
        let t2 = TenantId::generate();
        let hz = RegionCode::parse("330100").expect("region");
        let scope = DataScope { region: Some(hz), categories: vec![], tenants: vec![t1.clone()] };
        let xihu = RegionCode::parse("330106").expect("region");
        let nanjing = RegionCode::parse("320100").expect("region");
        assert!(scope.allows(&t1, &xihu));
        assert!(!scope.allows(&t2, &xihu), "tenant not in the list");
        assert!(!scope.allows(&t1, &nanjing), "region outside the subtree");
        assert!(DataScope::default().allows(&t2, &nanjing));
        let (r, c, t) = scope.to_columns();
        assert_eq!(DataScope::from_columns(r.as_deref(), &c, &t), scope);
    }
}
