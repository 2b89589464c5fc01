//! The connection type over both backends. diesel's derive generates the backend, row and
//! value types beside it (undocumented items, hence the allowance).
#![allow(missing_docs)]

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// The embedded SQLite database.
    Sqlite(SqliteConnection),
    /// A PostgreSQL server.
    Postgres(PgConnection),
}
