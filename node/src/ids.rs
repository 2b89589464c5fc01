//! Typed identifiers.
//!
//! Anything that may travel between nodes is keyed by an app-generated UUIDv7 in text form
//! (docs/architecture.md, "Storage"): auto-increment ids would collide across nodes. Each kind of id is its own
//! type, so a user id can never be passed where a tenant id is meant. Ids parse from text
//! (rejecting anything that is not a UUID) and are stored as text in both databases.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            /// Parses an id from text, refusing anything that is not a UUID.
            pub fn parse(text: &str) -> Result<Self, AppError> {
                uuid::Uuid::parse_str(text.trim())
                    .map(|u| $name(u.to_string()))
                    .map_err(|_| {
                        AppError::invalid(
                            $field,
                            format!("标识格式错误：{}", truncate(text)),
                            format!("malformed identifier: {}", truncate(text)),
                        )
                    })
            }

            /// Wraps text read back from the database, where it was validated on the way in.
            pub fn from_db(text: String) -> Self {
                $name(text)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

uuid_id!(
    /// A tenant: a department, a third-party platform or an enterprise system.
    TenantId,
    "tenant_id"
);
uuid_id!(
    /// A user account.
    UserId,
    "user_id"
);
uuid_id!(
    /// A role in the role tree.
    RoleId,
    "role_id"
);
uuid_id!(
    /// An API key of a machine client.
    ApiKeyId,
    "api_key_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v7_and_parse_round_trips() {
        let id = TenantId::generate();
        let parsed = uuid::Uuid::parse_str(id.as_str()).expect("uuid");
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(TenantId::parse(id.as_str()).expect("parse"), id);
    }

    #[test]
    fn malformed_ids_name_the_field() {
        let err = UserId::parse("1 OR 1=1").expect_err("must refuse");
        assert_eq!(err.field.as_deref(), Some("user_id"));
    }
}
