//! Data quality (异常数据监测): anomalies found in stored trace records, their review, and
//! the quality report. GB/T 38157 §6.4 and §8.

pub mod anomalies;
pub mod api;
pub mod pages;
pub mod report;
pub mod rules;
