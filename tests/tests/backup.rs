//! Backup and restore across processes: a backup made while the node runs and takes
//! records brings the node back in a new folder (and, for PostgreSQL, a new database) with
//! what it held when the backup was made — records, tenants and keys, certificates, an
//! audit trail that verifies — and nothing after. A wrong passphrase, a changed byte, a
//! folder or database that is not empty: each is refused and leaves nothing behind.

use diesel::prelude::*;
use tracenode_e2e::{register_entities, text, tracenode, uscc, Backend, Node, PgDatabase};

fn private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn records_in(node: &Node) -> i64 {
    use tracenode::db::schema::trace_records;
    let db = node.db();
    let mut conn = db.conn().expect("conn");
    trace_records::table.count().get_result(&mut *conn).expect("count")
}

fn restore(
    from: &std::path::Path,
    dir: &std::path::Path,
    pass: &std::path::Path,
    url: Option<&str>,
) -> std::process::Output {
    let mut args = vec![
        "backup",
        "restore",
        "--from",
        from.to_str().expect("path"),
        "--dir",
        dir.to_str().expect("path"),
        "--passphrase-file",
        pass.to_str().expect("path"),
    ];
    if let Some(url) = url {
        args.extend(["--database-url", url]);
    }
    tracenode(&args)
}

async fn a_node_comes_back_from_its_backup(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = Node::init(&dir.path().join("before"), backend);
    node.start().await;
    let key = node.tenant_with_key("platform-a");
    let (seller, buyer) = (uscc("330106", 901), uscc("330106", 902));
    register_entities(&node, &key, &[&seller, &buyer]).await;
    node.sell(&key, "BK", 0..10, &seller, &buyer).await;

    // A backup of the running node; then five more records it does not hold.
    let pass = dir.path().join("passphrase.txt");
    std::fs::write(&pass, "西湖区节点 backup 2026\n").expect("passphrase");
    private(&pass);
    let file = dir.path().join("node.tnbak");
    let f = file.to_str().expect("path");
    let p = pass.to_str().expect("path");
    let anchored = node.cli(&["audit", "verify"]);
    assert!(anchored.status.success(), "a checkpoint of the head: {}", text(&anchored));
    let made = node.cli(&["backup", "make", "--out", f, "--passphrase-file", p]);
    assert!(made.status.success(), "{}", text(&made));
    let beside: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".partial"))
        .collect();
    assert!(beside.is_empty(), "nothing left beside the backup: {beside:?}");
    let again = node.cli(&["backup", "make", "--out", f, "--passphrase-file", p]);
    assert!(!again.status.success() && text(&again).contains("never overwritten"), "{}", text(&again));
    node.sell(&key, "BK-after", 0..5, &seller, &buyer).await;
    assert_eq!(records_in(&node), 15);
    let bytes = std::fs::read(&file).expect("backup");
    assert!(bytes.starts_with(b"TRACENODE-BACKUP/1\n"));
    assert!(!bytes.windows(10).any(|w| w == b"BEGIN PRIV"), "the keys inside are encrypted");
    let checked = tracenode(&["backup", "verify", "--from", f, "--passphrase-file", p]);
    assert!(checked.status.success() && text(&checked).contains("330106"), "{}", text(&checked));

    // Refused, leaving nothing: a wrong passphrase, a changed byte.
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&wrong, "not the passphrase\n").expect("wrong");
    private(&wrong);
    let target = dir.path().join("after");
    let out = restore(&file, &target, &wrong, None);
    assert!(!out.status.success() && text(&out).contains("passphrase"), "{}", text(&out));
    assert!(!target.exists(), "nothing written");
    let changed = dir.path().join("changed.tnbak");
    let mut altered = bytes.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x40;
    std::fs::write(&changed, &altered).expect("changed");
    let out = restore(&changed, &target, &pass, None);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!target.exists(), "nothing written");

    // A folder that is not empty, and for PostgreSQL a database that is not empty.
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).expect("dir");
    std::fs::write(busy.join("x"), "x").expect("x");
    let out = restore(&file, &busy, &pass, None);
    assert!(!out.status.success() && text(&out).contains("not empty"), "{}", text(&out));
    let fresh = (backend == Backend::Postgres).then(PgDatabase::fresh);
    if let Some(db) = &fresh {
        let taken = PgDatabase::fresh();
        diesel::connection::SimpleConnection::batch_execute(
            &mut diesel::pg::PgConnection::establish(&taken.url).expect("connect"),
            "CREATE TABLE t (x int)",
        )
        .expect("table");
        let out = restore(&file, &target, &pass, Some(&taken.url));
        assert!(!out.status.success() && text(&out).contains("empty database"), "{}", text(&out));
        assert!(!target.exists(), "nothing written");
        assert!(db.url.starts_with("postgres://"));
    }

    // The restore: the node as it was when the backup was made.
    let out = restore(&file, &target, &pass, fresh.as_ref().map(|d| d.url.as_str()));
    assert!(out.status.success(), "{}", text(&out));
    assert!(node.stop(), "{}", node.log_text());
    let mut back = Node::at(&target, fresh);
    assert_eq!(records_in(&back), 10, "what was held at the backup, nothing after");
    for file in ["secrets/node.key", "certs/ca.pem"] {
        assert_eq!(
            std::fs::read(back.dir.join(file)).expect("restored"),
            std::fs::read(node.dir.join(file)).expect("original"),
            "{file}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(back.dir.join(p)).expect(p).permissions().mode() & 0o777;
    assert_eq!((mode("secrets/node.key"), mode("tracenode.toml"), mode("secrets")), (0o600, 0o600, 0o700));
    let first_line = |d: &std::path::Path| {
        std::fs::read_to_string(d.join("audit/checkpoints.log")).expect("checkpoints").lines().next().map(str::to_owned)
    };
    assert_eq!(first_line(&back.dir), first_line(&node.dir), "the checkpoints came back");
    let verified = back.cli(&["audit", "verify"]);
    assert!(verified.status.success(), "{}", text(&verified));
    back.start().await;
    let res = back.client().get(back.url("/api/v1/trace/records")).bearer_auth(&key).send().await.expect("records");
    assert_eq!(res.status(), 200, "the tenant's key works on the restored node");
    {
        use tracenode::db::schema::audit_log;
        let db = back.db();
        let mut conn = db.conn().expect("conn");
        let restored: i64 = audit_log::table
            .filter(audit_log::action.eq("node.restore"))
            .count()
            .get_result(&mut *conn)
            .expect("audit");
        assert_eq!(restored, 1);
    }
    assert!(back.stop(), "{}", back.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_comes_back_from_its_backup_sqlite() {
    a_node_comes_back_from_its_backup(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_comes_back_from_its_backup_postgres() {
    a_node_comes_back_from_its_backup(Backend::Postgres).await;
}
