//! The faces of the identity modules — the JSON API and console pages of sign-in and API
//! keys (`auth`), tenants, users and roles, and the audit trail. They stand here, above
//! `auth` and the console shell, because every page needs the caller and the layout, while
//! `auth` needs the accounts, tenants and audit rows those modules keep.

pub mod audit;
pub mod auth;
pub mod tenants;
pub mod users;
