//! The audit trail: append-only, hash-chained, verified; no audit row, no action.

use serde_json::{json, Value};

use crate::both_backends;
use tracenode::audit::anchor::Anchors;

use crate::support::{expect_problem, Backend, TestApp};

fn anchors(app: &TestApp) -> Anchors {
    Anchors::open(&app.config).expect("anchors")
}

fn verify(app: &TestApp) -> tracenode::audit::Verification {
    let anchored = anchors(app).read().expect("checkpoints");
    let mut conn = app.db.conn().expect("conn");
    tracenode::audit::chain::verify(&mut conn, &anchored).expect("verify")
}

/// Writes a checkpoint of the chain's head now, unless the node's timer just did; returns its
/// sequence number.
fn checkpoint(app: &TestApp) -> i64 {
    let anchors = anchors(app);
    let mut conn = app.db.conn().expect("conn");
    anchors.take(&mut conn).expect("checkpoint");
    let newest = anchors.read().expect("read").checkpoints.last().expect("a checkpoint").seq;
    let head: i64 = {
        use diesel::prelude::*;
        use tracenode::db::schema::audit_log;
        audit_log::table
            .select(diesel::dsl::max(audit_log::seq))
            .first::<Option<i64>>(&mut *conn)
            .expect("head")
            .expect("rows")
    };
    assert_eq!(newest, head, "the checkpoint names the head");
    newest
}

/// Switches the append-only guard off, as someone with database rights can.
fn drop_guards(app: &TestApp) {
    let statement = match app.backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete",
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
    };
    app.sql(statement).expect("drop the guards");
}

/// Rewrites every row from `from` on so that the plain chain holds again: what an attacker
/// who knows the hash function does after changing a row.
fn rehash_from(app: &TestApp, from: i64) {
    use diesel::prelude::*;
    use tracenode::audit::AuditRow;
    use tracenode::db::schema::audit_log;
    let mut conn = app.db.conn().expect("conn");
    let mut rows: Vec<AuditRow> =
        audit_log::table.select(AuditRow::as_select()).order(audit_log::seq.asc()).load(&mut *conn).expect("rows");
    let mut prev = tracenode::audit::chain::GENESIS_HASH.to_owned();
    for row in &mut rows {
        if row.seq >= from {
            row.prev_hash = prev.clone();
            row.hash = tracenode::audit::chain::chain_hash(&prev, row);
            diesel::update(audit_log::table.filter(audit_log::seq.eq(row.seq)))
                .set((audit_log::prev_hash.eq(&row.prev_hash), audit_log::hash.eq(&row.hash)))
                .execute(&mut *conn)
                .expect("rehash");
        }
        prev = row.hash.clone();
    }
}

async fn the_chain_verifies_and_a_tampered_row_is_named(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "t1", "330106").await;
    let aud = app.admin("auditadmin").await;
    let v: Value = aud.get(&app, "/api/v1/audit/verify").await.json().await.expect("json");
    assert!(v["first_broken_seq"].is_null(), "{v}");
    assert!(v["rows_checked"].as_i64().expect("rows") > 10);
    // The tables refuse changes…
    let update = "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5";
    assert!(app.sql(update).is_err(), "UPDATE must be refused");
    assert!(app.sql("DELETE FROM audit_log WHERE seq = 5").is_err(), "DELETE must be refused");
    // …so an attacker with database rights first switches the guard off, then rewrites a row.
    match app.backend {
        Backend::Sqlite => app.sql(&format!("DROP TRIGGER audit_log_no_update; {update}")).expect("tamper"),
        Backend::Postgres => {
            app.sql(&format!("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update; {update}")).expect("tamper")
        }
    }
    let broken = verify(&app);
    assert_eq!(broken.first_broken_seq, Some(5), "{broken:?}");
    assert_eq!(broken.rows_checked, 4);
    let v: Value = aud.get(&app, "/api/v1/audit/verify").await.json().await.expect("json");
    assert_eq!(v["first_broken_seq"], 5);
    // The command line says the same and fails.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .args(["--config", app.node_dir().join("tracenode.toml").to_str().expect("path"), "audit", "verify"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sequence 5"), "{err}");
}
both_backends!(the_chain_verifies_and_a_tampered_row_is_named);

async fn a_deleted_row_is_a_gap(app: TestApp) {
    let _sys = app.admin("sysadmin").await;
    match app.backend {
        Backend::Sqlite => {
            app.sql("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 3").expect("tamper")
        }
        Backend::Postgres => app
            .sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update; DELETE FROM audit_log WHERE seq = 3")
            .expect("tamper"),
    }
    let v = verify(&app);
    assert_eq!(v.first_broken_seq, Some(3));
    assert!(v.reason.expect("reason").contains("gap"));
}
both_backends!(a_deleted_row_is_a_gap);

async fn without_an_audit_row_the_action_fails(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    // Make every new audit row fail to insert.
    match app.backend {
        Backend::Sqlite => app
            .sql("CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
            .expect("break"),
        Backend::Postgres => app
            .sql(
                "CREATE FUNCTION audit_broken() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END; $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_broken();",
            )
            .expect("break"),
    }
    let res = sys
        .post(&app, "/api/v1/tenants", json!({"code": "ghost", "name": "幽灵", "kind": "platform", "region": "330106"}))
        .await;
    expect_problem(res, 500, "internal_error").await;
    let list: Value = sys.get(&app, "/api/v1/tenants").await.json().await.expect("json");
    assert!(list.as_array().expect("list").is_empty(), "the tenant was not created: {list}");
}
both_backends!(without_an_audit_row_the_action_fails);

async fn the_audit_administrator_filters_the_trail(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let aud = app.admin("auditadmin").await;
    let _ = app
        .client()
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"username": "sysadmin", "password": "nope"}))
        .send()
        .await;
    expect_problem(sys.get(&app, "/api/v1/audit").await, 403, "forbidden").await;
    let page: Value = aud.get(&app, "/api/v1/audit?action=auth.&outcome=failure").await.json().await.expect("json");
    let rows = page["rows"].as_array().expect("rows");
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(rows[0]["action"], "auth.sign_in");
    assert_eq!(rows[0]["actor"], "sysadmin");
    assert_eq!(rows[0]["source_ip"], "127.0.0.1");
    assert_eq!(rows[0]["correlation_id"].as_str().expect("id").len(), 36);
    let page: Value = aud.get(&app, "/api/v1/audit?actor=sysadmin&page_size=2").await.json().await.expect("json");
    assert_eq!(page["rows"].as_array().expect("rows").len(), 2);
    assert!(page["total"].as_i64().expect("total") > 2);
    // Newest first.
    assert!(page["rows"][0]["seq"].as_i64() > page["rows"][1]["seq"].as_i64());
    expect_problem(aud.get(&app, "/api/v1/audit?page_size=1000").await, 422, "validation_failed").await;
    expect_problem(aud.get(&app, "/api/v1/audit?outcome=maybe").await, 422, "validation_failed").await;
    expect_problem(aud.get(&app, "/api/v1/audit?bogus=1").await, 422, "validation_failed").await;
    // LIKE wildcards in a filter are literal.
    let page: Value = aud.get(&app, "/api/v1/audit?action=%25.").await.json().await.expect("json");
    assert_eq!(page["total"], 0);
}
both_backends!(the_audit_administrator_filters_the_trail);

/// Rewriting a row and recomputing every hash after it keeps the plain chain whole, but not
/// the checkpoint kept outside the database under the node's key.
async fn a_rewritten_and_rehashed_chain_shows_against_its_checkpoint(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "t1", "330106").await;
    let anchored = checkpoint(&app);
    app.tenant(&sys, "t2", "330106").await;
    drop_guards(&app);
    app.sql("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5").expect("tamper");
    rehash_from(&app, 5);
    let v = verify(&app);
    assert_eq!(v.code.as_deref(), Some("rewritten"), "{v:?}");
    // The first checkpoint past the rewritten row (the node's own, or ours) names it.
    assert!(v.first_broken_seq.is_some_and(|s| (5..=anchored).contains(&s)), "{v:?}");
    assert_eq!(v.anchored_seq, Some(anchored));
    assert!(!v.intact());
    // The node no longer anchors the rewritten chain: the old checkpoint stays the evidence.
    let mut conn = app.db.conn().expect("conn");
    assert_eq!(anchors(&app).take(&mut conn).expect("take"), None);
}
both_backends!(a_rewritten_and_rehashed_chain_shows_against_its_checkpoint);

/// Deleting the newest rows leaves a whole chain, only shorter than its checkpoint says.
async fn a_deleted_tail_shows(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "t1", "330106").await;
    let anchored = checkpoint(&app);
    match app.backend {
        Backend::Sqlite => app.sql("DROP TRIGGER audit_log_no_delete").expect("drop"),
        Backend::Postgres => app.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update").expect("drop"),
    }
    app.sql(&format!("DELETE FROM audit_log WHERE seq > {}", anchored - 3)).expect("delete the tail");
    let v = verify(&app);
    assert_eq!(v.code.as_deref(), Some("tail_missing"), "{v:?}");
    assert_eq!(v.first_broken_seq, Some(anchored - 2));
    assert_eq!(v.head_seq, anchored - 3);
    assert!(v.reason.expect("reason").contains(&format!("rows {} to {anchored}", anchored - 2)));
    let missing = if app.backend == Backend::Sqlite { "audit_log_no_delete" } else { "audit_log_no_update" };
    assert_eq!(v.missing_triggers, vec![missing.to_owned()]);
}
both_backends!(a_deleted_tail_shows);

/// Removing a row and renumbering the rest (then re-hashing) is named as a renumbering.
async fn a_renumbered_chain_shows(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "t1", "330106").await;
    let anchored = checkpoint(&app);
    drop_guards(&app);
    app.sql("DELETE FROM audit_log WHERE seq = 4").expect("delete");
    for seq in 5..=anchored {
        app.sql(&format!("UPDATE audit_log SET seq = {} WHERE seq = {seq}", seq - 1)).expect("renumber");
    }
    rehash_from(&app, 4);
    let v = verify(&app);
    assert_eq!(v.code.as_deref(), Some("renumbered"), "{v:?}");
    // The first checkpoint past the removed row (the node's own, or ours) names it.
    let at = v.first_broken_seq.expect("seq");
    assert!((4..=anchored).contains(&at), "{v:?}");
    assert!(v.reason.expect("reason").contains(&format!("now stands at {}", at - 1)));
}
both_backends!(a_renumbered_chain_shows);

/// A dropped or disabled trigger is reported by `verify` (and the command line fails), a
/// checkpoint line edited without the key is reported as forged, and the node's own timer
/// writes checkpoints.
async fn dropped_triggers_and_forged_checkpoints_show(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "t1", "330106").await;
    assert!(verify(&app).intact());
    match app.backend {
        Backend::Sqlite => app.sql("DROP TRIGGER audit_log_no_update").expect("drop"),
        Backend::Postgres => app.sql("DROP TRIGGER audit_log_no_truncate ON audit_log").expect("drop"),
    }
    let v = verify(&app);
    assert_eq!(v.first_broken_seq, None);
    let missing = if app.backend == Backend::Sqlite { "audit_log_no_update" } else { "audit_log_no_truncate" };
    assert_eq!(v.missing_triggers, vec![missing.to_owned()]);
    let aud = app.admin("auditadmin").await;
    let body: Value = aud.get(&app, "/api/v1/audit/verify").await.json().await.expect("json");
    assert_eq!(body["missing_triggers"][0], missing, "{body}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .args(["--config", app.node_dir().join("tracenode.toml").to_str().expect("path"), "audit", "verify"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(missing));

    // The node's timer (every second here) anchors the chain by itself.
    let file = app.node_dir().join("audit/checkpoints.log");
    let mut waited = 0;
    while !std::fs::read_to_string(&file).is_ok_and(|t| !t.is_empty()) {
        assert!(waited < 100, "no checkpoint written within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).expect("read");
    let forged = text.lines().last().expect("line").replacen('\t', "\t9", 1);
    std::fs::write(&file, format!("{text}{forged}\n")).expect("forge");
    let v = verify(&app);
    assert_eq!(v.code.as_deref(), Some("checkpoint_forged"), "{v:?}");
}
both_backends!(dropped_triggers_and_forged_checkpoints_show);

/// With `security.audit_digest = "sm3"` the chain continues in SM3 from a recorded switch,
/// verifies throughout, and a tampered SM3 row is named like any other.
async fn an_sm3_chain_verifies_and_shows_tampering(app: TestApp) {
    use diesel::prelude::*;
    use tracenode::db::schema::audit_log;
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "t1", "330106").await;
    let digests: Vec<(i64, String, String)> = {
        let mut conn = app.db.conn().expect("conn");
        audit_log::table
            .select((audit_log::seq, audit_log::action, audit_log::digest))
            .order(audit_log::seq.asc())
            .load(&mut *conn)
            .expect("rows")
    };
    let switch = digests.iter().position(|(_, action, _)| action == "audit.digest").expect("the switch is a row");
    assert!(digests[..switch].iter().all(|(_, _, d)| d == "sha256"), "rows before the switch: {digests:?}");
    assert!(digests[switch..].iter().all(|(_, _, d)| d == "sm3"), "rows from the switch on: {digests:?}");
    let v = verify(&app);
    assert!(v.intact(), "{v:?}");
    let target = digests[switch + 2].0;
    drop_guards(&app);
    app.sql(&format!("UPDATE audit_log SET actor = 'someone-else' WHERE seq = {target}")).expect("tamper");
    let v = verify(&app);
    assert_eq!((v.first_broken_seq, v.code.as_deref()), (Some(target), Some("content_altered")), "{v:?}");
}

crate::both_backends_with!(an_sm3_chain_verifies_and_shows_tampering, "[security]\naudit_digest = \"sm3\"");

/// At start the node checks the append-only triggers and its newest checkpoint, and records
/// what it finds wrong as a failed `audit.integrity` row.
async fn the_node_checks_its_audit_chain_at_start(mut app: TestApp) {
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "t1", "330106").await;
    assert_eq!(app.audit_count("audit.integrity", "failure"), 0);
    match app.backend {
        Backend::Sqlite => app.sql("DROP TRIGGER audit_log_no_update").expect("drop"),
        Backend::Postgres => app.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update").expect("drop"),
    }
    app.stop().await;
    app.restart().await;
    assert_eq!(app.audit_count("audit.integrity", "failure"), 1, "the missing trigger is on the record");
}
both_backends!(the_node_checks_its_audit_chain_at_start);

/// With `security.checkpoint_signature = "sm2"` each checkpoint is signed with the node's SM2
/// key: the chain verifies, a changed line shows as forged, and an auditor checks a line with
/// the exported public key and OpenSSL's command line alone.
async fn sm2_signed_checkpoints_verify_with_the_public_key_alone(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    app.tenant(&sys, "t1", "330106").await;
    let seq = checkpoint(&app);
    let file = app.node_dir().join("audit/checkpoints.log");
    let text = std::fs::read_to_string(&file).expect("read");
    let line = text.lines().rev().find(|l| l.starts_with(&format!("{seq}\t"))).expect("the line").to_owned();
    let fields: Vec<&str> = line.split('\t').collect();
    let signature = fields[4].strip_prefix("sm2:").expect("an SM2 signature");
    assert!(verify(&app).intact());

    // The auditor's check: the public key from the command line, OpenSSL, nothing else.
    let dir = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .args(["--config", app.node_dir().join("tracenode.toml").to_str().expect("path"), "audit", "public-key"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("BEGIN PUBLIC KEY"));
    let (public, msg, sig) = (dir.path().join("pub.pem"), dir.path().join("msg"), dir.path().join("sig"));
    std::fs::write(&public, &out.stdout).expect("pub");
    std::fs::write(&msg, fields[..4].join("\u{1f}")).expect("msg");
    std::fs::write(&sig, hex::decode(signature).expect("hex")).expect("sig");
    let check = std::process::Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(&public)
        .args(["-rawin", "-digest", "sm3", "-in"])
        .arg(&msg)
        .arg("-sigfile")
        .arg(&sig)
        .args(["-pkeyopt", "distid:1234567812345678"])
        .output()
        .expect("openssl");
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("Signature Verified Successfully"),
        "the signed message is the line's first four fields joined by U+001F: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    // A line changed without the key is forged. It is appended, not written over the file:
    // the node's own checkpoint job may have added a line since the file was read.
    let forged = line.replacen('\t', "\t9", 1);
    use std::io::Write as _;
    let mut log = std::fs::OpenOptions::new().append(true).open(&file).expect("open the log");
    log.write_all(format!("{forged}\n").as_bytes()).expect("forge");
    assert_eq!(verify(&app).code.as_deref(), Some("checkpoint_forged"));
}
crate::both_backends_with!(
    sm2_signed_checkpoints_verify_with_the_public_key_alone,
    "[security]\ncheckpoint_signature = \"sm2\""
);
