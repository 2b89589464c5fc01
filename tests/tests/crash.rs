//! `kill -9` in the middle of imports, then a restart: nothing the node acknowledged is lost,
//! and sending the same records again stores nothing twice.

use std::time::Duration;

use serde_json::Value;
use tracenode_e2e::{register_entities, sales_csv, uscc, Backend, Node};

fn stored(node: &Node) -> i64 {
    use diesel::prelude::*;
    use tracenode::db::schema::trace_records as tr;
    let db = node.db();
    let mut conn = db.conn().expect("conn");
    tr::table.count().get_result(&mut *conn).expect("count")
}

async fn import(node: &Node, key: &str, body: Vec<u8>) -> (u16, Value) {
    let res = node
        .client()
        .post(node.url("/api/v1/imports?format=csv"))
        .bearer_auth(key)
        .header("Content-Type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("import");
    let status = res.status().as_u16();
    (status, res.json().await.expect("receipt"))
}

/// Waits until the submission `id` is done and returns its receipt.
async fn finished(node: &Node, key: &str, id: &str) -> Value {
    for _ in 0..600 {
        let res = node.client().get(node.url(&format!("/api/v1/submissions/{id}"))).bearer_auth(key).send().await;
        if let Ok(res) = res {
            let body: Value = res.json().await.expect("json");
            let status = body["submission"]["status"].as_str().unwrap_or_default().to_owned();
            if !matches!(status.as_str(), "queued" | "running") {
                return body;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("submission {id} not done within 60 s:\n{}", node.log_text());
}

async fn nothing_acknowledged_is_lost(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = Node::init(dir.path(), backend);
    node.env.push(("TRACENODE_INGEST_ASYNC_THRESHOLD_BYTES".into(), "8192".into()));
    let key = node.tenant_with_key("platform-a");
    node.start().await;
    let (seller, buyer) = (uscc("330106", 701), uscc("330106", 702));
    register_entities(&node, &key, &[&seller, &buyer]).await;
    let csv = |range| sales_csv("E2E", range, &seller, &buyer);

    // A small import is stored before its 200 goes out: killed right after, it is there.
    let (status, receipt) = import(&node, &key, csv(0..3)).await;
    assert_eq!((status, receipt["accepted"].as_i64()), (200, Some(3)), "{receipt}");
    node.kill();
    assert_eq!(stored(&node), 3);
    node.start().await;

    // A large one is spooled and synced before its 202 goes out: killed at once, it is taken
    // up again when the node comes back, whole.
    let big = csv(100..2100);
    assert!(big.len() > 8192);
    let (status, receipt) = import(&node, &key, big.clone()).await;
    assert_eq!(status, 202, "{receipt}");
    let id = receipt["submission_id"].as_str().expect("id").to_owned();
    node.kill();
    node.start().await;
    let done = finished(&node, &key, &id).await;
    assert_eq!(done["submission"]["status"], "stored", "{done}");
    assert_eq!(stored(&node), 2003, "every acknowledged record, once");

    // Sent again after the crash: all duplicates, nothing stored twice.
    let (status, receipt) = import(&node, &key, big).await;
    assert_eq!(status, 202, "{receipt}");
    let again = finished(&node, &key, receipt["submission_id"].as_str().expect("id")).await;
    assert_eq!(
        (again["receipt"]["accepted"].as_i64(), again["receipt"]["duplicates"].as_i64()),
        (Some(0), Some(2000)),
        "{again}"
    );
    assert_eq!(stored(&node), 2003);
    assert!(node.stop(), "a clean stop on SIGTERM:\n{}", node.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_sqlite() {
    nothing_acknowledged_is_lost(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_postgres() {
    nothing_acknowledged_is_lost(Backend::Postgres).await;
}
