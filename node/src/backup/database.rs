//! The database in a backup: a consistent snapshot taken while the node runs, and its way
//! back into an empty database of the same backend.
//!
//! SQLite: `VACUUM INTO` writes a copy of the database as one read transaction sees it
//! (writers go on meanwhile), compacted; restoring places that file. PostgreSQL: `pg_dump`
//! (custom format, one snapshot) and `pg_restore` in a single transaction into a database
//! with no tables, so a restore that fails leaves nothing behind. The PostgreSQL client tools
//! must be on the PATH; the connection is passed in `PG*` variables, never on the command
//! line where other users could read the password.

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

/// Writes a snapshot of the node's database to `into` (a file that must not exist).
pub fn snapshot(config: &Config, db: &Db, into: &Path) -> AppResult<()> {
    match config.storage.database_url.backend() {
        Backend::Sqlite => {
            let target = into.to_str().ok_or_else(|| AppError::internal("a backup path that is not UTF-8"))?;
            let mut conn = db.conn()?;
            diesel::sql_query(format!("VACUUM INTO '{}'", target.replace('\'', "''"))).execute(&mut *conn)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(into, std::fs::Permissions::from_mode(0o600)).map_err(AppError::internal)
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
    run_pg_tool(
        "pg_restore",
        &[
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            &database_of(url)?,
            &dump,
        ],
        url,
    )
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
        "SELECT count(*) AS n FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .get_result(conn)?;
    Ok(c.n)
}

/// The database name in `url` (what `--dbname` names; the rest goes in variables).
fn database_of(url: &str) -> AppResult<String> {
    let parsed = url::Url::parse(url).map_err(AppError::internal)?;
    Ok(percent_encoding::percent_decode_str(parsed.path().trim_start_matches('/')).decode_utf8_lossy().into_owned())
}

/// The `PG*` variables that connect libpq's tools to `url`.
fn pg_env(url: &str) -> AppResult<Vec<(&'static str, String)>> {
    let parsed = url::Url::parse(url).map_err(AppError::internal)?;
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut env = vec![("PGDATABASE", decode(parsed.path().trim_start_matches('/')))];
    if let Some(host) = parsed.host_str() {
        env.push(("PGHOST", host.to_owned()));
    }
    if let Some(port) = parsed.port() {
        env.push(("PGPORT", port.to_string()));
    }
    if !parsed.username().is_empty() {
        env.push(("PGUSER", decode(parsed.username())));
    }
    if let Some(password) = parsed.password() {
        env.push(("PGPASSWORD", decode(password)));
    }
    for (key, value) in parsed.query_pairs() {
        if key == "sslmode" {
            env.push(("PGSSLMODE", value.into_owned()));
        }
    }
    Ok(env)
}

fn run_pg_tool(tool: &str, args: &[&str], url: &str) -> AppResult<()> {
    let out = Command::new(tool)
        .args(args)
        .env_remove("PGSERVICE")
        .envs(pg_env(url)?)
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

/// A temporary file beside `near`, removed when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// A name that does not exist yet in `dir`.
    pub fn new_in(dir: &Path, stem: &str) -> TempFile {
        TempFile(dir.join(format!(".{stem}-{}.tmp", uuid::Uuid::new_v4().simple())))
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
    fn the_connection_goes_in_variables_decoded() {
        let env = pg_env("postgres://node%40hz:p%3Ass@db.example:5433/trace_db?sslmode=require").expect("env");
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PGUSER"), Some("node@hz"));
        assert_eq!(get("PGPASSWORD"), Some("p:ss"));
        assert_eq!(get("PGHOST"), Some("db.example"));
        assert_eq!(get("PGPORT"), Some("5433"));
        assert_eq!(get("PGDATABASE"), Some("trace_db"));
        assert_eq!(get("PGSSLMODE"), Some("require"));
    }
}
