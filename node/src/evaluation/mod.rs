//! Monitoring evaluation (监测评价, GB/T 38157 §6.8): indicator sets as versioned data
//! ([`set`], [`sets`]), and runs that score every entity or tenant for a period from the
//! operation monitoring figures, with grades, ranks and the inputs each result rests on
//! ([`runs`]). docs/evaluation.md.

pub mod api;
pub mod pages;
pub mod runs;
pub mod set;
pub mod sets;
