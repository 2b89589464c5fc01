//! Users, roles and data scopes (用户、角色与数据范围).
//!
//! [`permission`] names what can be done and the built-in roles; [`roles`] keeps the role tree
//! (a child only narrows its parent); [`accounts`] manages accounts, their roles (with the
//! separation of the three administrators) and their [`scope`].

pub mod accounts;
pub mod permission;
pub mod roles;
pub mod scope;

pub use permission::Permission;
pub use scope::DataScope;
