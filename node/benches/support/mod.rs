//! What the benchmarks share: PostgreSQL databases made for a run and dropped after it.

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};

/// Creates an empty database on the server (`postgres://…/postgres`) and returns its URL.
pub fn fresh_pg(server: &str) -> String {
    let mut conn = diesel::pg::PgConnection::establish(server).expect("PostgreSQL server");
    let name = format!("tn_bench_{}", uuid::Uuid::new_v4().simple());
    conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create database");
    format!("{}/{name}", server.rsplit_once('/').expect("url").0)
}

/// Drops the databases the benchmarks made on the server.
pub fn drop_bench_databases(server: &str) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let mut conn = diesel::pg::PgConnection::establish(server).expect("PostgreSQL server");
    let names: Vec<Name> = diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'tn_bench_%'")
        .load(&mut conn)
        .unwrap_or_default();
    for n in names {
        let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", n.datname));
    }
}
