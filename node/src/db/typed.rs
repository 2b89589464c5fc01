//! How the typed ids of [`crate::ids`] are stored: as `Text` on SQLite, on PostgreSQL and
//! through the [`MultiBackend`] every query of the node is written against. A row struct or
//! a filter holds the id itself; what reaches the database is its text.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::MultiBackend;
use crate::ids::{
    ApiKeyId, DeviceId, DuplicateClaimId, EntityId, Identifier, ProductId, RoleId, SiteId, SubmissionId, TenantId,
    UserId,
};

macro_rules! stored_as_text {
    ($($id:ty),+ $(,)?) => {$(
        impl ToSql<Text, Sqlite> for $id {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                <str as ToSql<Text, Sqlite>>::to_sql(self.text(), out)
            }
        }

        impl ToSql<Text, Pg> for $id {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.text(), &mut out.reborrow())
            }
        }

        impl ToSql<Text, MultiBackend> for $id {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Sqlite> for $id {
            fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                <String as FromSql<Text, Sqlite>>::from_sql(bytes).map(<$id>::from_stored)
            }
        }

        impl FromSql<Text, Pg> for $id {
            fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                <String as FromSql<Text, Pg>>::from_sql(bytes).map(<$id>::from_stored)
            }
        }

        impl FromSql<Text, MultiBackend> for $id {
            fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, Text>()
            }
        }
    )+};
}

stored_as_text!(
    TenantId,
    UserId,
    RoleId,
    ApiKeyId,
    EntityId,
    ProductId,
    SiteId,
    DeviceId,
    SubmissionId,
    DuplicateClaimId
);
