//! Four tiers as four processes, at the limits they run with by default: a county with a
//! year of history rolls it up (a bounded number of marked cells a batch, every batch under
//! the parent's limit), then the city above it is gone for three weeks while the county keeps trading, and
//! once the city is back everything catches up with no operator action but a run. At the top
//! the national node holds exactly the county's figures, counted again from its records.

use chrono::{Duration as Days, NaiveDate};
use tracenode_e2e::{
    approve_pending_entities, eventually, held_from_below, recount, text, uscc, Backend, Network, Node,
};

/// `per_day` sales a day on each of `days`, from `first`, as CSV: the product's category
/// cycles through three, so a day's slice has several rows.
fn sales_on_days(prefix: &str, first: NaiveDate, days: i64, per_day: usize, seller: &str, buyer: &str) -> Vec<u8> {
    let categories = ["01", "02", "03"];
    let records: Vec<tracenode_adapters::records::TraceRecord> = (0..days)
        .flat_map(|d| (0..per_day).map(move |k| (d, k)))
        .map(|(d, k)| {
            let day = first + Days::days(d);
            serde_json::from_value(serde_json::json!({
                "id": format!("{prefix}-{d}-{k}"), "corrects": null,
                "from": {"code": seller, "name": "西湖鲜果有限公司", "region": "330106"},
                "to": {"code": buyer, "name": "城西超市", "region": "330106"},
                "product": {"trace_code": format!("{prefix}-{d:04}-{k}"), "scheme": "local", "name": "红富士苹果",
                            "category": categories[k % categories.len()], "specification": "5kg/箱",
                            "batch": format!("B{d}"), "production_date": day.format("%Y-%m-%d").to_string(),
                            "shelf_life_days": 60, "origin": "山东烟台"},
                "act": {"stage": "distribution_sale", "direction": "out", "quantity": 1.0 + k as f64, "unit": "箱",
                        "price": 12.5, "amount": null, "time": format!("{}T10:00:00+08:00", day.format("%Y-%m-%d")),
                        "place": "杭州"}
            }))
            .expect("record")
        })
        .collect();
    let mut out = Vec::new();
    tracenode_adapters::adapter::Format::Csv.encode(&mut out, &Default::default(), &records).expect("csv");
    out
}

async fn import(node: &Node, key: &str, csv: Vec<u8>) {
    let res = node
        .client()
        .post(node.url("/api/v1/imports?format=csv"))
        .bearer_auth(key)
        .body(csv)
        .send()
        .await
        .expect("import");
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
}

/// The statistics batches the county made: their item counts (days) and sizes, in order.
fn statistics_batches(county: &Node) -> Vec<(i64, usize)> {
    use diesel::prelude::*;
    use tracenode::db::schema::federation_outgoing as fo;
    let db = county.db();
    let mut conn = db.conn().expect("conn");
    let rows: Vec<(i64, String)> = fo::table
        .filter(fo::kind.eq("statistics"))
        .order(fo::batch_no)
        .select((fo::items, fo::batch))
        .load(&mut *conn)
        .expect("batches");
    rows.into_iter().map(|(items, batch)| (items, batch.len())).collect()
}

async fn a_year_of_history_and_three_weeks_away_arrive_exactly(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Network::four_tiers(dir.path(), backend).await;
    let today = chrono::Utc::now().date_naive();
    let county = net.node("330106");
    let key = county.tenant_with_key("platform-a");
    let (seller, buyer) = (uscc("330106", 901), uscc("330106", 902));
    tracenode_e2e::register_entities(county, &key, &[&seller, &buyer]).await;
    approve_pending_entities(county);
    // A year of trading, up to five weeks ago.
    let year_start = today - Days::days(400);
    import(county, &key, sales_on_days("Y", year_start, 365, 3, &seller, &buyer)).await;
    let sent = county.cli(&["rollup", "run", "statistics"]);
    assert!(sent.status.success(), "{}", text(&sent));
    let batches = statistics_batches(county);
    let limit = tracenode::config::FederationSection::default().max_batch_bytes;
    assert!(batches.iter().all(|&(_, size)| size <= limit), "under the city's limit: {batches:?}");
    assert_eq!(batches.iter().map(|b| b.0).sum::<i64>(), 365, "every day once");
    let expected = recount(net.node("330106"));
    let national = &net.nodes[0];
    eventually("the year arrives at the national node", || held_from_below(national).1 == expected).await;

    // The city is gone for three weeks; the county keeps trading and its roll-up waits.
    net.node("330100").kill();
    let away = today - Days::days(35);
    let county = net.node("330106");
    import(county, &key, sales_on_days("W", away, 21, 2, &seller, &buyer)).await;
    let waited = county.cli(&["rollup", "run", "statistics"]);
    assert!(!waited.status.success(), "the city is away: {}", text(&waited));
    // Back: one run, and the three weeks go up tier by tier, exactly once.
    net.node("330100").start().await;
    let caught_up = net.node("330106").cli(&["rollup", "run", "statistics"]);
    assert!(caught_up.status.success(), "{}", text(&caught_up));
    let expected = recount(net.node("330106"));
    assert_eq!(expected.len(), 365 + 21);
    let national = &net.nodes[0];
    eventually("the three weeks arrive at the national node", || held_from_below(national).1 == expected).await;
    net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_history_and_three_weeks_away_arrive_exactly_sqlite() {
    a_year_of_history_and_three_weeks_away_arrive_exactly(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_history_and_three_weeks_away_arrive_exactly_postgres() {
    a_year_of_history_and_three_weeks_away_arrive_exactly(Backend::Postgres).await;
}
