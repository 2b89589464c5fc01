//! Storage: one diesel code path over SQLite and PostgreSQL.
//!
//! Rules this module keeps (docs/architecture.md, "Storage"):
//! - [`DbConnection`] is a `diesel::MultiConnection`; every query in the node is written once
//!   against it. Where the backends differ, the difference is matched here and nowhere else.
//! - diesel is blocking: all database work runs on tokio's blocking pool through
//!   [`Db::run`] / [`Db::transaction`], never on an actix worker thread.
//! - SQLite connections open with WAL, `foreign_keys=ON`, `synchronous=FULL` (nothing
//!   acknowledged is lost on a crash), a busy timeout, a 64 MB page cache and checkpoints every
//!   10,000 pages (bulk loads rewrite the same index pages; fewer checkpoints copy them fewer
//!   times). SQLite has one writer at a time, so
//!   write transactions of this process queue on a mutex instead of failing with `SQLITE_BUSY`
//!   when a reader tries to upgrade.
//! - SQLite migrates at open; PostgreSQL migrates at open when configured, or with
//!   `tracenode migrate`.

mod connection;
pub mod fold;
crate::text_status! {
    /// What became of a submission (the `status` of its row, and of its receipt). It lives
    /// with the database because ingest writes it and quality reads it.
    pub enum SubmissionStatus {
        /// Waiting for a worker (asynchronous import).
        Queued = "queued" / "排队中",
        /// Being ingested.
        Running = "running" / "处理中",
        /// Ingested: what passed is stored.
        Stored = "stored" / "已入库",
        /// Nothing stored: the stream broke, or an atomic batch had rejections.
        Refused = "refused" / "整批拒收",
        /// Checked only.
        DryRun = "dry_run" / "仅校验",
        /// The node failed while ingesting; nothing stored.
        Failed = "failed" / "处理失败",
    }
}

impl Default for SubmissionStatus {
    /// A receipt starts out queued.
    fn default() -> Self {
        SubmissionStatus::Queued
    }
}

impl SubmissionStatus {
    /// Nothing of it was stored, by refusal or failure.
    pub fn is_failure(self) -> bool {
        matches!(self, SubmissionStatus::Refused | SubmissionStatus::Failed)
    }

    /// Whether the stored form `text` is a failure.
    pub fn is_failure_text(text: &str) -> bool {
        SubmissionStatus::parse(text).is_some_and(SubmissionStatus::is_failure)
    }
}

pub mod schema;
pub mod sqlite_version;
pub mod time;
pub mod typed;

pub use connection::{DbConnection, MultiBackend};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::{Backend, DatabaseUrl};
use crate::error::{AppError, AppResult};

/// The SQLite migrations, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
/// The PostgreSQL migrations, embedded in the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Opens connections for the pool, choosing the backend from the validated URL.
#[derive(Debug, Clone)]
pub struct ConnectionFactory {
    backend: Backend,
    target: String,
}

impl ManageConnection for ConnectionFactory {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match self.backend {
            Backend::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.target).map_err(diesel::r2d2::Error::ConnectionError)?;
                // The busy timeout first: the pool opens its connections at once, and on a new
                // file the switch to WAL of one must wait for the others, not fail.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = 10000; PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = MEMORY; \
                     PRAGMA mmap_size = {MMAP_BYTES}; \
                     PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};"
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            Backend::Postgres => PgConnection::establish(&self.target)
                .map(DbConnection::Postgres)
                .map_err(diesel::r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection given back inside a transaction (its work panicked) would keep the
        // transaction's locks; it is closed instead.
        use diesel::connection::TransactionManager;
        let status = <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn);
        !matches!(status.transaction_depth(), Ok(None))
    }
}

/// The node's database: a pool plus the write gate for SQLite.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionFactory>,
    backend: Backend,
    sqlite_writer: Arc<Mutex<()>>,
    growth: Arc<Mutex<std::collections::HashMap<&'static str, TableGrowth>>>,
}

/// Rows a table had at its last statistics refresh, and rows added since.
#[derive(Debug, Default, Clone, Copy)]
struct TableGrowth {
    analysed: i64,
    added: i64,
}

/// The tables bulk paths fill, whose planner statistics are refreshed as they grow.
pub const BULK_TABLES: [&str; 1] = ["entities"];

impl Db {
    /// Opens the database named by `url` (relative paths against `base_dir`) and migrates it
    /// when `migrate` is true (always for SQLite).
    pub fn open(url: &DatabaseUrl, base_dir: &Path, pool_size: u32, migrate: bool) -> AppResult<Db> {
        let sqlite_file = url.sqlite_path(base_dir);
        if let Some(path) = &sqlite_file {
            if let Some(parent) = path.parent() {
                crate::files::private_dir(parent).map_err(|e| {
                    AppError::invalid(
                        "storage.database_url",
                        format!("无法创建数据目录 {}：{}", parent.display(), e.detail_zh),
                        format!("cannot create data directory {}: {}", parent.display(), e.detail_en),
                    )
                })?;
            }
        }
        let factory = ConnectionFactory { backend: url.backend(), target: url.connect_string(base_dir) };
        if url.backend() == Backend::Sqlite {
            // One connection alone first makes a new file and switches it to WAL, before the
            // pool opens the others side by side.
            drop(factory.connect().map_err(|e| {
                AppError::with_detail(
                    crate::error::ErrorKind::Unavailable,
                    format!("无法打开数据库 {}：{e}", url.redacted()),
                    format!("cannot open database {}: {e}", url.redacted()),
                )
            })?);
        }
        let pool =
            Pool::builder().max_size(pool_size).connection_timeout(Duration::from_secs(10)).build(factory).map_err(
                |e| {
                    AppError::with_detail(
                        crate::error::ErrorKind::Unavailable,
                        format!("无法连接数据库 {}：{e}", url.redacted()),
                        format!("cannot connect to database {}: {e}", url.redacted()),
                    )
                },
            )?;
        let db = Db { pool, backend: url.backend(), sqlite_writer: Arc::new(Mutex::new(())), growth: Arc::default() };
        if db.backend == Backend::Sqlite {
            sqlite_version::check(&db.sqlite_version()?)?;
        }
        if migrate || db.backend == Backend::Sqlite {
            db.migrate()?;
        }
        if let Some(path) = sqlite_file {
            // The database holds secrets of its own (sessions, TOTP and webhook secrets): its
            // owner's alone, and so are the journal files SQLite makes beside it.
            let beside = |suffix: &str| std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            for file in [path.clone(), beside("-wal"), beside("-shm")] {
                if file.exists() {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                        .map_err(AppError::internal)?;
                }
            }
        }
        Ok(db)
    }

    /// The version of the SQLite library in use (`3.53.2`); empty on PostgreSQL.
    pub fn sqlite_version(&self) -> AppResult<String> {
        #[derive(diesel::QueryableByName)]
        struct Version {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        use diesel::RunQueryDsl as _;
        match &mut *self.conn()? {
            DbConnection::Sqlite(c) => {
                Ok(diesel::sql_query("SELECT sqlite_version() AS v").get_result::<Version>(c)?.v)
            }
            DbConnection::Postgres(_) => Ok(String::new()),
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> AppResult<usize> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len()),
        };
        applied.map_err(|e| AppError::internal(format!("migration failed: {e}")))
    }

    /// A connection for synchronous callers (the command line, tests).
    pub fn conn(&self) -> AppResult<PooledDb> {
        Ok(self.pool.get()?)
    }

    /// Records rows a bulk path added to `table` and refreshes the planner's statistics when
    /// the table has grown by half since the last refresh, so searches keep using the right
    /// indexes as data arrives in bulk (neither SQLite nor a fresh PostgreSQL table would
    /// otherwise know). `table` must be one of [`BULK_TABLES`].
    pub fn note_bulk_rows(&self, table: &'static str, rows: usize) -> AppResult<()> {
        if !BULK_TABLES.contains(&table) || rows == 0 {
            return Ok(());
        }
        let due = {
            let mut growth = self.growth.lock().unwrap_or_else(|p| p.into_inner());
            let g = growth.entry(table).or_default();
            g.added += rows as i64;
            if g.added >= 1000 && g.added * 2 >= g.analysed {
                g.analysed += g.added;
                g.added = 0;
                true
            } else {
                false
            }
        };
        if due {
            let mut conn = self.pool.get()?;
            let _writer = match self.backend {
                Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|p| p.into_inner())),
                Backend::Postgres => None,
            };
            conn.batch_execute(&format!("ANALYZE {table}"))?;
            tracing::info!(table, "planner statistics refreshed");
        }
        Ok(())
    }

    /// Pool state for metrics: (connections, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// Runs read-only work on the blocking pool.
    pub async fn run<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Runs `work` in one write transaction on the blocking pool: it commits when `work`
    /// returns `Ok` and rolls back otherwise.
    pub async fn transaction<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.transaction_sync(work)).await.map_err(AppError::internal)?
    }

    /// The synchronous form of [`Db::transaction`], for the command line and tests.
    pub fn transaction_sync<T, F>(&self, work: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T>,
    {
        let mut conn = self.pool.get()?;
        let _writer = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        write_transaction(&mut conn, work)
    }

    /// A write transaction for a bulk load. On SQLite the connection's page cache grows to
    /// [`BULK_CACHE_KIB`] for the transaction, so the indexes' pages that many random keys
    /// touch stay in memory until the commit writes each of them once. Any `Err` rolls the
    /// whole transaction back; the error type lets a refusal carry its own report.
    pub fn bulk_transaction_sync<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error> + From<AppError>,
    {
        self.bulk_transaction_sized(BULK_CACHE_KIB, work)
    }

    /// [`Db::bulk_transaction_sync`] with a page cache of `cache_kib` on SQLite.
    pub fn bulk_transaction_sized<T, E, F>(&self, cache_kib: u32, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error> + From<AppError>,
    {
        let mut conn = self.pool.get().map_err(AppError::from)?;
        let _writer = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        let sqlite = matches!(*conn, DbConnection::Sqlite(_));
        if sqlite {
            // Memory-mapped reads would count the file's pages as the process's memory; a
            // bulk load reads through the page cache alone, so its memory stays bounded.
            conn.batch_execute(&format!("PRAGMA cache_size = -{cache_kib}; PRAGMA mmap_size = 0"))?;
        }
        let result = write_transaction(&mut conn, |conn| {
            if !sqlite {
                // The tables grow by up to millions of rows inside this one transaction, which
                // their statistics do not see: the planner would then scan a whole table for a
                // lookup by an indexed column (each step of an ingestion probes its trace codes).
                // Inside a bulk transaction every lookup has an index, so take it.
                conn.batch_execute("SET LOCAL enable_seqscan = off")?;
            }
            work(conn)
        });
        if sqlite {
            conn.batch_execute(&format!("PRAGMA cache_size = -{CACHE_KIB}; PRAGMA mmap_size = {MMAP_BYTES}"))?;
        }
        result
    }
}

/// Runs `work` in one write transaction: it commits when `work` returns `Ok` and rolls back
/// otherwise. On SQLite the transaction begins with `BEGIN IMMEDIATE`, taking the database's
/// write lock before the first read (waiting up to the busy timeout when another process
/// holds it). A deferred transaction that reads and then writes fails at once with
/// `SQLITE_BUSY` if another process — the command line beside a running node — wrote in
/// between, and the busy timeout cannot help it.
fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConnection::Postgres(_) => return conn.transaction(work),
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
    }
    type Manager = <DbConnection as Connection>::TransactionManager;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            Manager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Inside the current transaction, makes PostgreSQL take an index for every lookup that has
/// one: a transaction that adds many rows (a federation batch) runs against statistics that
/// do not see them, and the planner would otherwise scan a whole table for a keyed lookup.
/// Nothing on SQLite.
pub fn prefer_indexes(conn: &mut DbConnection) -> AppResult<()> {
    if let DbConnection::Postgres(c) = conn {
        c.batch_execute("SET LOCAL enable_seqscan = off")?;
    }
    Ok(())
}

/// SQLite's automatic checkpoint threshold (pages of the write-ahead log).
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;
/// SQLite's memory-mapped I/O per connection (bytes).
pub const MMAP_BYTES: u64 = 268_435_456;
/// SQLite's page cache per connection (KiB).
pub const CACHE_KIB: u32 = 65_536;
/// SQLite's page cache for a bulk transaction (KiB).
pub const BULK_CACHE_KIB: u32 = 524_288;
/// SQLite's page cache while trace records are ingested (KiB): ingestion is held to a
/// bounded memory whatever the file size.
pub const TRACE_CACHE_KIB: u32 = 36_864;

/// The gap-free sequences the node keeps, each with its own lock.
#[derive(Debug, Clone, Copy)]
pub enum Sequence {
    /// The audit chain.
    AuditChain,
    /// The registry outbox.
    RegistryOutbox,
    /// Federation cursors and outgoing batch numbers.
    Federation,
    /// The outbox of industry statistics summaries.
    IndustryOutbox,
    /// The outbox of evaluation results.
    EvaluationOutbox,
}

/// Serialises writers of a gap-free sequence inside the current transaction: PostgreSQL takes
/// a transaction-scoped advisory lock; SQLite already has a single writer.
pub fn lock_sequence(conn: &mut DbConnection, sequence: Sequence) -> AppResult<()> {
    let key = match sequence {
        Sequence::AuditChain => 7_263_001,
        Sequence::RegistryOutbox => 7_263_002,
        Sequence::Federation => 7_263_003,
        Sequence::IndustryOutbox => 7_263_004,
        Sequence::EvaluationOutbox => 7_263_005,
    };
    match conn {
        DbConnection::Sqlite(_) => Ok(()),
        DbConnection::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_xact_lock({key})"))?;
            Ok(())
        }
    }
}

/// Serialises writers of the audit chain (see [`lock_sequence`]).
pub fn lock_audit_chain(conn: &mut DbConnection) -> AppResult<()> {
    lock_sequence(conn, Sequence::AuditChain)
}

/// The append-only triggers of the audit table that are missing or disabled (empty when all
/// are in force). Someone with database access can drop them; `audit verify` and the start
/// of the node say so.
pub fn missing_audit_triggers(conn: &mut DbConnection) -> AppResult<Vec<String>> {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let (expected, present): (&[&str], Vec<Name>) = match conn {
        DbConnection::Sqlite(c) => (
            &["audit_log_no_delete", "audit_log_no_update"],
            diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")
                .load(c)?,
        ),
        DbConnection::Postgres(c) => (
            &["audit_log_no_truncate", "audit_log_no_update"],
            diesel::sql_query(
                "SELECT tgname::text AS name FROM pg_trigger \
                 WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal AND tgenabled <> 'D'",
            )
            .load(c)?,
        ),
    };
    Ok(expected.iter().filter(|e| !present.iter().any(|p| p.name == **e)).map(|e| (*e).to_owned()).collect())
}

/// Inserts many rows the fastest way for each backend: on SQLite one prepared single-row
/// statement executed per row (SQLite compiles a multi-row `VALUES` into a program as long as
/// the rows, so reusing one short statement is cheaper); on PostgreSQL multi-row statements
/// (fewer round trips). `$rows` is a slice or `&Vec` of insertable values; keep PostgreSQL
/// batches under 65,535 bound values.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConnection::Sqlite(c) => {
                let mut n = 0usize;
                for row in $rows.iter() {
                    n += diesel::insert_into($table).values(row).execute(c)?;
                }
                Ok::<usize, $crate::error::AppError>(n)
            }
            $crate::db::DbConnection::Postgres(c) => {
                diesel::insert_into($table).values($rows).execute(c).map_err($crate::error::AppError::from)
            }
        }
    }};
}

/// Inserts rows, skipping those whose unique keys the table already holds, and evaluates to
/// `AppResult<Vec<usize>>`: the positions of the rows skipped. `$key_of` gives a row's key
/// (`&String` or `&str`).
///
/// On SQLite one prepared single-row `INSERT OR IGNORE` per row (its answer says whether the
/// row went in; multi-row statements measured no faster). On PostgreSQL, multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING $key` of 1,000 rows: a
/// row whose key did not come back was skipped, and when a key occurs twice in one statement
/// the first occurrence is the one stored.
#[macro_export]
macro_rules! insert_or_skip {
    ($conn:expr, $table:expr, $rows:expr, $key:expr, $key_of:expr) => {{
        use diesel::RunQueryDsl as _;
        let rows = $rows;
        let mut skipped: Vec<usize> = Vec::new();
        match $conn {
            $crate::db::DbConnection::Sqlite(c) => {
                for (k, row) in rows.iter().enumerate() {
                    if diesel::insert_or_ignore_into($table).values(row).execute(c)? == 0 {
                        skipped.push(k);
                    }
                }
            }
            $crate::db::DbConnection::Postgres(c) => {
                for (n, chunk) in rows.chunks(1_000).enumerate() {
                    let stored: Vec<String> = diesel::insert_into($table)
                        .values(chunk)
                        .on_conflict_do_nothing()
                        .returning($key)
                        .get_results(c)?;
                    $crate::db::note_skipped(chunk.len(), chunk.iter().map($key_of), stored, n * 1_000, &mut skipped);
                }
            }
        }
        Ok::<Vec<usize>, $crate::error::AppError>(skipped)
    }};
}

/// Notes which of a statement's `len` rows were skipped, from the keys it returned: a row
/// whose key did not come back, or a later row with a key an earlier row of the statement
/// took. When every row's key came back, none was skipped.
pub fn note_skipped<'k, K: AsRef<str> + ?Sized + 'k>(
    len: usize,
    keys: impl Iterator<Item = &'k K>,
    returned: Vec<String>,
    base: usize,
    skipped: &mut Vec<usize>,
) {
    if returned.len() == len {
        return;
    }
    let mut returned: std::collections::HashSet<String> = returned.into_iter().collect();
    for (k, key) in keys.enumerate() {
        if !returned.remove(key.as_ref()) {
            skipped.push(base + k);
        }
    }
}

/// Runs the same diesel statement against the concrete connection of either backend, for
/// statements the two-backend connection cannot express (`ON CONFLICT … DO UPDATE`, which
/// both SQLite and PostgreSQL support with the same syntax). `$c` names the concrete
/// connection inside `$body`.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}

/// The PostgreSQL connection inside `conn`, for the few statements written for PostgreSQL
/// alone (bulk loads through `unnest`); `None` on SQLite.
pub fn postgres(conn: &mut DbConnection) -> Option<&mut diesel::pg::PgConnection> {
    match conn {
        DbConnection::Postgres(c) => Some(c),
        DbConnection::Sqlite(_) => None,
    }
}

/// `sql` written with `?` placeholders, as `backend` takes it: unchanged for SQLite, numbered
/// `$1`, `$2` … for PostgreSQL (for hand-written SQL whose binds vary in number).
pub fn placeholders_for(backend: Backend, sql: String) -> String {
    if backend == Backend::Sqlite {
        return sql;
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// The backend of a connection.
pub fn backend_of(conn: &DbConnection) -> Backend {
    match conn {
        DbConnection::Sqlite(_) => Backend::Sqlite,
        DbConnection::Postgres(_) => Backend::Postgres,
    }
}

/// Why a transaction (or a savepoint) rolled back: refused by the caller's own rule (an
/// atomic batch with a rejection, a dry run), carrying the report `R` that says why; or
/// failed.
#[derive(Debug)]
pub enum Undo<R = ()> {
    /// The caller's rule refused the work.
    Refused(R),
    /// An error.
    Failed(AppError),
}

impl<R> From<diesel::result::Error> for Undo<R> {
    fn from(e: diesel::result::Error) -> Undo<R> {
        Undo::Failed(e.into())
    }
}

impl<R> From<AppError> for Undo<R> {
    fn from(e: AppError) -> Undo<R> {
        Undo::Failed(e)
    }
}

/// Checks the database answers (for `/readyz`).
pub fn ping(conn: &mut DbConnection) -> AppResult<()> {
    conn.batch_execute("SELECT 1")?;
    Ok(())
}

/// A connection borrowed from the pool.
pub type PooledDb = PooledConnection<ConnectionFactory>;

/// The current time as stored: UTC, truncated to microseconds (PostgreSQL's precision), so a
/// value reads back exactly as it was written on both backends.
pub fn now() -> chrono::NaiveDateTime {
    truncate_micros(chrono::Utc::now().naive_utc())
}

/// Truncates a timestamp to whole microseconds.
pub fn truncate_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}
