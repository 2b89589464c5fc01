//! Typed identifiers, and the statuses stored as text ([`text_status!`]).
//!
//! Anything that may travel between nodes is keyed by an app-generated UUIDv7 in text form
//! (docs/architecture.md, "Storage"): auto-increment ids would collide across nodes. Each kind of id is its own
//! type, so a user id can never be passed where a tenant id is meant. Ids parse from text
//! (rejecting anything that is not a UUID) and are stored as text in both databases: a
//! row struct holds the typed id itself (`Text` columns read into it and bind from it on
//! SQLite and PostgreSQL alike; the impls are in `db::typed`), so the type is kept from the
//! request path to the query.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What every typed id offers, for code generic over the kind of object (review, changes).
pub trait Identifier: Clone + fmt::Display + Send + Sync + 'static {
    /// Parses an id from text, refusing anything that is not a UUID.
    fn parse_text(text: &str) -> Result<Self, AppError>;
    /// Wraps text read back from the database.
    fn from_stored(text: String) -> Self;
    /// The id as text.
    fn text(&self) -> &str;
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        #[diesel(sql_type = diesel::sql_types::Text)]
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

        impl Identifier for $name {
            fn parse_text(text: &str) -> Result<Self, AppError> {
                $name::parse(text)
            }
            fn from_stored(text: String) -> Self {
                $name(text)
            }
            fn text(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
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
uuid_id!(
    /// A registered entity (登记主体): an enterprise, a market, a household, a person.
    EntityId,
    "entity_id"
);
uuid_id!(
    /// A registered product (登记产品) of an entity.
    ProductId,
    "product_id"
);
uuid_id!(
    /// A site (场所): a market, a slaughterhouse, a warehouse, with its merchants.
    SiteId,
    "site_id"
);
uuid_id!(
    /// A registered device (设备) of an entity: a scale, a terminal, a reader.
    DeviceId,
    "device_id"
);
uuid_id!(
    /// A duplicate claim: a code this node registered that another node registered too.
    DuplicateClaimId,
    "claim_id"
);
uuid_id!(
    /// A submission: one import (a file, a request, a pull) and its receipt.
    SubmissionId,
    "submission_id"
);
uuid_id!(
    /// A reporting unit's industry statistics report for one form and period.
    IndustryReportId,
    "report_id"
);

/// Declares a status that is stored (and sent) as text: an enum with its stored form, its
/// Chinese label, `ALL`, `as_str`, `parse` (`None` for text that is no status) and serde in
/// the stored form, so code compares statuses as values and never as strings.
///
/// ```ignore
/// text_status! {
///     /// What became of a notification.
///     pub enum NotificationStatus {
///         /// Waiting.
///         Pending = "pending" / "待发送",
///     }
/// }
/// ```
#[macro_export]
macro_rules! text_status {
    ($(#[$doc:meta])* $vis:vis enum $name:ident {
        $($(#[$vdoc:meta])* $variant:ident = $text:literal / $zh:literal,)+
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        $vis enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every status.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored form.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The status stored as `text`, if it is one.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The Chinese label for people.
            pub const fn label_zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh,)+
                }
            }

            /// The Chinese label of a stored form (`未知` for text that is no status).
            pub fn label_zh_of(text: &str) -> &'static str {
                $name::parse(text).map_or("未知", $name::label_zh)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

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

    text_status! {
        /// A status of the tests.
        enum Light {
            /// Go.
            Green = "green" / "绿灯",
            /// Stop.
            Red = "red" / "红灯",
        }
    }

    #[test]
    fn a_text_status_round_trips_through_its_stored_form_and_serde() {
        for light in Light::ALL {
            assert_eq!(Light::parse(light.as_str()), Some(*light));
            assert_eq!(serde_json::to_string(light).expect("json"), format!("\"{light}\""));
        }
        assert_eq!(Light::parse("Green"), None);
        assert_eq!(Light::label_zh_of("red"), "红灯");
        assert_eq!(Light::label_zh_of("amber"), "未知");
    }
}
