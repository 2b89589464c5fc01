//! System building (体系建设, GB/T 38157 §6.7): the capabilities that build the traceability
//! system of a tier rather than run it — industry statistics under the 三新 classification
//! (`industry/`), reported tier by tier. The section's console page also leads to the device
//! register, which lives with the registry it belongs to.

pub mod industry;
pub mod pages;
