//! The audit trail: append-only, hash-chained, verified; no audit row, no action.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{expect_problem, Backend, TestApp};

fn verify(app: &TestApp) -> tracenode::audit::Verification {
    let mut conn = app.db.conn().expect("conn");
    tracenode::audit::chain::verify(&mut conn).expect("verify")
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
