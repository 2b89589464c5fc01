//! The JSON API and console pages of `crate::auth`.

pub mod api;
pub mod pages;
