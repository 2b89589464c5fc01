//! The JSON API and console pages of `crate::tenants`.

pub mod api;
pub mod pages;
