//! Four tiers as four processes: the county's statistics reach the national node; when the
//! city between them dies (`kill -9`) the county queues, and once the city is back the
//! slice arrives at the top once, however often it is sent.

use std::time::Duration;

use serde_json::json;
use tracenode_adapters::adapter::Format;
use tracenode_adapters::records::TraceRecord;
use tracenode_e2e::{text, uscc, Backend, Network, Node};

fn records(seller: &str, buyer: &str) -> Vec<u8> {
    let records: Vec<TraceRecord> = (0..5)
        .map(|i| {
            serde_json::from_value(json!({
                "id": format!("net-{i}"), "corrects": null,
                "from": {"code": seller, "name": "西湖鲜果有限公司", "region": "330106"},
                "to": {"code": buyer, "name": "城西超市", "region": "330106"},
                "product": {"trace_code": format!("NET-{i}"), "scheme": "local", "name": "红富士苹果", "category": "01",
                            "specification": "5kg/箱", "batch": "B1", "production_date": "2026-11-01",
                            "shelf_life_days": 60, "origin": "山东烟台"},
                "act": {"stage": "distribution_sale", "direction": "out", "quantity": 1.0, "unit": "箱",
                        "price": 10.0, "amount": null, "time": "2026-11-20T10:00:00+08:00", "place": "杭州"}
            }))
            .expect("record")
        })
        .collect();
    let mut out = Vec::new();
    Format::Csv.encode(&mut out, &Default::default(), &records).expect("csv");
    out
}

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
    let client = county.client();
    let (seller, buyer) = (uscc("330106", 801), uscc("330106", 802));
    for code in [&seller, &buyer] {
        let entity = json!({"code": code, "name": "西湖商户", "kind": "enterprise", "region": "330106",
            "longitude": 120.13, "latitude": 30.27, "stages": ["distribution_sale"], "categories": ["01"],
            "contact_person": "王经理", "contact_phone": "0571-87000000"});
        let res = client.post(county.url("/api/v1/registry/entities")).bearer_auth(&key).json(&entity).send().await;
        assert_eq!(res.expect("register").status(), 201);
    }
    let res = client
        .post(county.url("/api/v1/imports?format=csv"))
        .bearer_auth(&key)
        .body(records(&seller, &buyer))
        .send()
        .await
        .expect("import");
    assert_eq!(res.status(), 200);

    // The city dies; the county's roll-up cannot reach it and waits.
    net.node("330100").kill();
    let sent = net.node("330106").cli(&["rollup", "run", "statistics"]);
    assert!(text(&sent).contains("upstream_failed") || !sent.status.success(), "{}", text(&sent));
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
    for node in net.nodes.iter_mut().rev() {
        assert!(node.stop(), "a clean stop on SIGTERM:\n{}", node.log_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_middle_tier_is_caught_up_once_sqlite() {
    a_dead_middle_tier_is_caught_up_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_middle_tier_is_caught_up_once_postgres() {
    a_dead_middle_tier_is_caught_up_once(Backend::Postgres).await;
}
