//! The database in a backup: a consistent snapshot taken while the node runs, and its way
//! back into an empty database of the same backend.
//!
//! SQLite: `VACUUM INTO` writes a copy of the database as one read transaction sees it
//! (writers go on meanwhile), compacted; restoring places that file. PostgreSQL: `pg_dump`
//! (custom format, one snapshot) and `pg_restore` in a single transaction into a database
//! with no tables, so a restore that fails leaves nothing behind. The PostgreSQL client tools
//! must be on the PATH; they get the URL without its password on the command line and the
//! password in `PGPASSWORD`, where other users cannot read it.

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::prelude::*;

use crate::config::{Backend, Config};
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// The entry name of a SQLite snapshot.
pub const SQLITE_ENTRY: &str = "database/tracenode.sqlite";
/// The entry name of a PostgreSQL dump.
pub const PG_ENTRY: &str = "database/tracenode.pgdump";

/// The entry name for a backend.
pub fn entry_for(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => SQLITE_ENTRY,
        Backend::Postgres => PG_ENTRY,
    }
}

/// Writes a snapshot of the node's database into `into`, an empty private file.
pub fn snapshot(config: &Config, db: &Db, into: &Path) -> AppResult<()> {
    match config.storage.database_url.backend() {
        Backend::Sqlite => {
            let target = into.to_str().ok_or_else(|| AppError::internal("a backup path that is not UTF-8"))?;
            let mut conn = db.conn()?;
            // `into` is an empty file made 0600 beforehand: SQLite writes into it and keeps
            // its mode, so the unencrypted copy is never readable by others.
            diesel::sql_query(format!("VACUUM INTO '{}'", target.replace('\'', "''"))).execute(&mut *conn)?;
            Ok(())
        }
        Backend::Postgres => {
            let url = config.storage.database_url.connect_string(&config.base_dir);
            let target = into.to_string_lossy().into_owned();
            run_pg_tool("pg_dump", &["--format=custom", "--no-owner", "--no-privileges", "--file", &target], &url)
        }
    }
}

/// Restores the dump at `dump` into the PostgreSQL database `url`, which must hold no tables.
pub fn restore_postgres(url: &str, dump: &Path) -> AppResult<()> {
    check_empty_postgres(url)?;
    let dump = dump.to_string_lossy().into_owned();
    run_pg_tool("pg_restore", &["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", &dump], url)
}

/// Whether the PostgreSQL database `url` holds no tables (checked before anything is
/// written).
pub fn check_empty_postgres(url: &str) -> AppResult<()> {
    let mut conn = diesel::pg::PgConnection::establish(url).map_err(|e| {
        AppError::invalid(
            "database_url",
            format!("无法连接目标数据库：{e}"),
            format!("cannot connect to the target database: {e}"),
        )
    })?;
    match tables_in(&mut conn)? {
        0 => Ok(()),
        _ => Err(AppError::invalid(
            "database_url",
            "目标数据库中已有数据表：恢复只写入空数据库",
            "the target database has tables already: a restore writes only into an empty database",
        )),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn tables_in(conn: &mut diesel::pg::PgConnection) -> AppResult<i64> {
    let c: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
    )
    .get_result(conn)?;
    Ok(c.n)
}

/// The URL without its password (what `--dbname` takes, so libpq reads it exactly as the node
/// does), and the password apart (for `PGPASSWORD`).
fn split_password(url: &str) -> AppResult<(String, Option<String>)> {
    let mut parsed = url::Url::parse(url).map_err(AppError::internal)?;
    let password = parsed.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
    parsed.set_password(None).map_err(|()| AppError::internal("a database URL without a host"))?;
    Ok((parsed.to_string(), password))
}

fn run_pg_tool(tool: &str, args: &[&str], url: &str) -> AppResult<()> {
    let (dbname, password) = split_password(url)?;
    let mut command = Command::new(tool);
    command.arg("--dbname").arg(&dbname).args(args);
    // Only what this URL says: no other connection settings, nor the backup passphrase.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("PG") || name.starts_with("TRACENODE_") {
            command.env_remove(&name);
        }
    }
    if let Some(p) = password {
        command.env("PGPASSWORD", p);
    }
    let out = command
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AppError::invalid(
                "database_url",
                format!("未找到 PostgreSQL 客户端工具 {tool}：请安装 postgresql-client（与服务器同一主版本或更新）"),
                format!("{tool} was not found: install the PostgreSQL client tools (postgresql-client, the server's major version or newer)"),
            ),
            _ => AppError::internal(format!("{tool}: {e}")),
        })?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).lines().take(5).collect::<Vec<_>>().join(" / ");
        return Err(AppError::internal(format!("{tool} failed ({}): {said}", out.status)));
    }
    Ok(())
}

/// A temporary file, private (0600) from its creation, removed when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// An empty private file of a new name in `dir`.
    pub fn private_in(dir: &Path, stem: &str) -> AppResult<TempFile> {
        let path = dir.join(format!(".{stem}-{}.tmp", uuid::Uuid::new_v4().simple()));
        crate::files::private_new_file(&path).map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
        Ok(TempFile(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_apart_from_the_url() {
        let (url, password) =
            split_password("postgres://node%40hz:p%3Ass@db.example:5433/trace_db?sslmode=require").expect("url");
        assert_eq!(url, "postgres://node%40hz@db.example:5433/trace_db?sslmode=require");
        assert_eq!(password.as_deref(), Some("p:ss"));
        let (url, password) = split_password("postgres://node@[::1]/db?host=/run/postgresql").expect("url");
        assert_eq!((url.as_str(), password), ("postgres://node@[::1]/db?host=/run/postgresql", None));
    }
}
