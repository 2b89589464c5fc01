//! The stores of secrets that prove who someone is (鉴别信息): password hashes and the password
//! policy, sessions, TOTP seeds, the sign-in failure counts, and the status of the client
//! certificates this node issued.
//!
//! They sit below accounts ([`crate::users`]) and authentication ([`crate::auth`]) so that
//! both can use them: disabling an account ends its sessions here, and signing in checks a
//! password here, without the two capabilities importing each other.

pub mod certificates;
pub mod password;
pub mod session;
pub mod throttle;
pub mod totp;
