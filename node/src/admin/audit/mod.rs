//! The JSON API and console pages of `crate::audit`.

pub mod api;
pub mod pages;
