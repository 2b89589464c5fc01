//! The registry (主体注册、检索、分析, 产品目录): responsible entities and the sites they belong
//! to, with review, versions, change policies and duplicate detection; search, exports, GeoJSON
//! and analysis; the product catalogue; and the outbox of approved changes for the roll-ups.
//! GB/T 38157 §6.2, §6.3 and §6.7.4.

pub mod access;
pub mod analysis;
pub mod api;
pub mod bulk;
pub mod catalogue;
pub mod devices;
pub mod duplicates;
pub mod entities;
pub mod export;
pub mod map;
pub mod model;
pub mod outbox;
pub mod pages;
pub mod products;
pub mod references;
pub mod review;
pub mod search;
pub mod sites;
pub mod vocabulary;

pub use access::{reach_of, region_of, within_reach};
