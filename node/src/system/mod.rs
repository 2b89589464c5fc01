//! System building (体系建设, GB/T 38157 §6.7): the capabilities that build the traceability
//! system of a tier rather than run it — platform access, from a platform's public
//! application to its filing and monitoring (`access/`), and industry statistics under the
//! 三新 classification, reported tier by tier (`industry/`). The section's console page also
//! leads to the device register, which lives with the registry it belongs to.

pub mod access;
pub mod industry;
pub mod monitoring;
pub mod pages;
