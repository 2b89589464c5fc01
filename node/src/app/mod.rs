//! The application's state: what every handler and background job can reach.
//!
//! It sits just above the database and configuration and below every capability, so it
//! cannot name a capability's types. A capability that keeps a long-lived service (the import
//! job queue, the notification dispatcher, the federation, the audit anchors) registers it
//! when the node is put together ([`AppState::with`]) and finds it again by type
//! ([`AppState::service`]); only the composition root (`routes`) knows them all.

pub mod metrics;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

pub use metrics::Metrics;

use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// What every handler can reach.
pub struct AppState {
    /// The configuration the node started with.
    pub config: Arc<Config>,
    /// The database.
    pub db: Db,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    services: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl AppState {
    /// A state with no services yet.
    pub fn new(config: Arc<Config>, db: Db) -> AppState {
        AppState { config, db, metrics: Arc::new(Metrics::new()), services: HashMap::new() }
    }

    /// Registers a capability's service (one per type; a second replaces the first).
    pub fn with<T: Any + Send + Sync>(mut self, service: Arc<T>) -> AppState {
        self.services.insert(TypeId::of::<T>(), service);
        self
    }

    /// The service of type `T`, if this node has one (a node without a CA has no federation).
    pub fn find<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.services.get(&TypeId::of::<T>()).and_then(|s| s.clone().downcast::<T>().ok())
    }

    /// The service of type `T`, which every running node registers; its absence is a wiring
    /// fault, reported as an internal error rather than a panic.
    pub fn service<T: Any + Send + Sync>(&self) -> AppResult<Arc<T>> {
        self.find::<T>()
            .ok_or_else(|| AppError::internal(format!("service not registered: {}", std::any::type_name::<T>())))
    }
}
