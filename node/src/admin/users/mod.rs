//! The JSON API and console pages of `crate::users`.

pub mod api;
pub mod pages;
