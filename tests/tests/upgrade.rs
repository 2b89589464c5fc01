//! A database made by an earlier release, upgraded by the current one: the node runs the
//! migrations it lacks on start-up, and what the older node held is still there and usable.
//!
//! The fixture is the schema of the release before this one — every migration up to
//! [`PREVIOUS_SCHEMA`] — with data written in that schema's shape; then the current
//! `tracenode init` and `serve` take the same database over.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use serde_json::Value;
use tracenode_e2e::{Backend, Node, PgDatabase};

/// The last migration of the previous release.
const PREVIOUS_SCHEMA: &str = "2026-12-02-000013";

fn is_previous(version: &str) -> bool {
    version == PREVIOUS_SCHEMA || version == PREVIOUS_SCHEMA.replace('-', "")
}

/// What the older node held: a tenant, in that schema's columns.
const OLD_DATA: &str = "INSERT INTO tenants (id, code, name, kind, region, contact, status, created_at, updated_at) \
     VALUES ('01900000-0000-7000-8000-000000000001', 'old-platform', 'OldPlatform 旧平台', 'platform', '330106', \
     '王经理', 'active', '2026-11-30 08:00:00', '2026-11-30 08:00:00')";

fn migrate_to_previous<C>(conn: &mut C, source: impl Fn() -> diesel_migrations::EmbeddedMigrations) -> usize
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
{
    let mut applied = 0;
    loop {
        let version = conn.run_next_migration(source()).expect("an earlier migration").to_string();
        applied += 1;
        if is_previous(&version) {
            return applied;
        }
        assert!(applied < 100, "{PREVIOUS_SCHEMA} is not among the migrations");
    }
}

async fn an_older_database_is_upgraded(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = match backend {
        Backend::Postgres => {
            let db = PgDatabase::fresh();
            let mut conn = diesel::pg::PgConnection::establish(&db.url).expect("connect");
            migrate_to_previous(&mut conn, || tracenode::db::POSTGRES_MIGRATIONS);
            diesel::sql_query(OLD_DATA).execute(&mut conn).expect("old data");
            Some(db)
        }
        Backend::Sqlite => {
            let data = dir.path().join("data");
            std::fs::create_dir_all(&data).expect("data dir");
            let path = data.join("tracenode.db");
            let mut conn = diesel::sqlite::SqliteConnection::establish(path.to_str().expect("path")).expect("open");
            migrate_to_previous(&mut conn, || tracenode::db::SQLITE_MIGRATIONS);
            diesel::sql_query(OLD_DATA).execute(&mut conn).expect("old data");
            None
        }
    };
    // The current release takes the database over: the migrations it lacks run, nothing of
    // the older data is touched.
    let mut node = Node::init_on(dir.path(), pg);
    let key = node.cli(&["tenant", "key", "--tenant", "old-platform", "--name", "after the upgrade"]);
    assert!(key.status.success(), "{}", tracenode_e2e::text(&key));
    let key = String::from_utf8_lossy(&key.stdout).lines().last().expect("key").trim().to_owned();
    node.start().await;
    let tenants: Value = node
        .client()
        .get(node.url("/api/v1/tenants"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("tenants")
        .json()
        .await
        .expect("json");
    assert_eq!(tenants[0]["code"], "old-platform", "{tenants}");
    assert_eq!(tenants[0]["name"], "OldPlatform 旧平台");
    assert_eq!(tenants[0]["status"], "active");
    // What the newer migrations brought works on the older data: the job supervisor's state.
    let jobs: i64 = {
        use tracenode::db::schema::job_state;
        let db = node.db();
        let mut conn = db.conn().expect("conn");
        job_state::table.count().get_result(&mut *conn).expect("job_state")
    };
    assert!(jobs >= 3, "the jobs of the node are recorded: {jobs}");
    assert!(node.stop(), "{}", node.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_database_is_upgraded_sqlite() {
    an_older_database_is_upgraded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_database_is_upgraded_postgres() {
    an_older_database_is_upgraded(Backend::Postgres).await;
}
