//! The two migration sets match, and each migrated backend has exactly what `schema.rs`
//! declares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::Text;
use tracenode::db::DbConnection;

use crate::both_backends;
use crate::support::TestApp;

fn migration_names(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(backend);
    std::fs::read_dir(&dir)
        .expect("migrations dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn migration_sets_have_identical_names() {
    let sqlite = migration_names("sqlite");
    let postgres = migration_names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(backend).join(name).join(file);
                assert!(p.is_file(), "{} missing", p.display());
            }
        }
    }
}

/// Tables and their columns as `schema.rs` declares them, read from its source.
fn declared() -> BTreeMap<String, BTreeSet<String>> {
    let text = include_str!("../../src/db/schema.rs");
    let mut tables = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_suffix('{') {
            let rest = rest.trim();
            if let Some((name, _)) = rest.split_once(' ') {
                if rest.contains('(') && !rest.starts_with("diesel::") {
                    current = Some(name.to_owned());
                    tables.insert(name.to_owned(), BTreeSet::new());
                }
            }
        } else if let (Some(t), Some((col, _))) = (&current, line.split_once(" -> ")) {
            tables.get_mut(t).expect("table").insert(col.to_owned());
        } else if line == "}" {
            current = None;
        }
    }
    tables
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

fn actual(conn: &mut DbConnection) -> BTreeMap<String, BTreeSet<String>> {
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'"
        }
        DbConnection::Postgres(_) => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'"
        }
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in diesel::sql_query(sql).load::<Column>(conn).expect("columns") {
        out.entry(c.table_name).or_default().insert(c.column_name);
    }
    out
}

async fn migrated_database_matches_schema_rs(app: TestApp) {
    let declared = declared();
    assert!(declared.len() >= 10, "parsed {declared:?}");
    assert!(declared["users"].contains("totp_last_step"));
    let mut conn = app.db.conn().expect("conn");
    assert_eq!(actual(&mut conn), declared);
}
both_backends!(migrated_database_matches_schema_rs);

async fn sqlite_runs_with_wal_and_foreign_keys(app: TestApp) {
    let mut conn = app.db.conn().expect("conn");
    if let DbConnection::Sqlite(_) = &mut *conn {
        #[derive(QueryableByName)]
        struct Mode {
            #[diesel(sql_type = Text)]
            journal_mode: String,
        }
        let mode: Vec<Mode> = diesel::sql_query("PRAGMA journal_mode").load(&mut *conn).expect("pragma");
        assert_eq!(mode[0].journal_mode, "wal");
    }
    // Foreign keys are enforced on both backends.
    let bad = diesel::sql_query("INSERT INTO user_roles (user_id, role_id) VALUES ('no-such-user', 'no-such-role')")
        .execute(&mut *conn);
    assert!(bad.is_err(), "foreign keys must be enforced");
}
both_backends!(sqlite_runs_with_wal_and_foreign_keys);
