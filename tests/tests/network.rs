//! Four tiers as four processes: the county's statistics reach the national node; when the
//! city between them dies (`kill -9`) the county queues, and once the city is back the
//! slice arrives at the top once, however often it is sent.

use std::time::Duration;

use tracenode_e2e::{register_entities, sales_csv, text, uscc, Backend, Network, Node};

/// The county's records as the national node holds them (every child slice below it).
fn county_records_at(national: &Node) -> i64 {
    use diesel::prelude::*;
    use tracenode::db::schema::federated_statistics as fs;
    let db = national.db();
    let mut conn = db.conn().expect("conn");
    let sums: Vec<i64> =
        fs::table.filter(fs::region.eq("330106")).select(fs::records).load(&mut *conn).expect("slices");
    sums.into_iter().sum()
}

async fn a_dead_middle_tier_is_caught_up_once(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Network::four_tiers(dir.path(), backend).await;
    let county = net.node("330106");
    let key = county.tenant_with_key("platform-a");
    let (seller, buyer) = (uscc("330106", 801), uscc("330106", 802));
    register_entities(county, &key, &[&seller, &buyer]).await;
    let res = county
        .client()
        .post(county.url("/api/v1/imports?format=csv"))
        .bearer_auth(&key)
        .body(sales_csv("NET", 0..5, &seller, &buyer))
        .send()
        .await
        .expect("import");
    assert_eq!(res.status(), 200);

    // The city dies; the county's roll-up cannot reach it and waits.
    net.node("330100").kill();
    let sent = net.node("330106").cli(&["rollup", "run", "statistics"]);
    assert!(!sent.status.success(), "{}", text(&sent));
    let said = text(&sent);
    assert_eq!(said.matches("upstream_failed").count(), 1, "the parent's error once, as the command's: {said}");
    assert!(said.to_lowercase().contains("connection refused"), "named plainly: {said}");
    assert_eq!(county_records_at(&net.nodes[0]), 0);

    // Back again: what waited goes up, tier by tier, to the national node.
    net.node("330100").start().await;
    let sent = net.node("330106").cli(&["rollup", "run", "statistics"]);
    assert!(sent.status.success(), "{}", text(&sent));
    let mut at_top = 0;
    for _ in 0..300 {
        at_top = county_records_at(&net.nodes[0]);
        if at_top == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(at_top, 5, "the county's five records at the national node:\n{}", net.nodes[2].log_text());
    // Sent again: the slice replaces itself, nothing is counted twice.
    let again = net.node("330106").cli(&["rollup", "run", "statistics"]);
    assert!(again.status.success(), "{}", text(&again));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(county_records_at(&net.nodes[0]), 5);
    net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_middle_tier_is_caught_up_once_sqlite() {
    a_dead_middle_tier_is_caught_up_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_middle_tier_is_caught_up_once_postgres() {
    a_dead_middle_tier_is_caught_up_once(Backend::Postgres).await;
}
