//! What comes down, across four processes: the national node's catalogue and notices, and
//! a province's revocation list, reach the county by each tier's long poll of its parent;
//! a notice for a county of another branch goes down the city's branch and no further.

use tracenode::federation::mailbox::{self, MessageKind, NoticePayload};
use tracenode::registry::catalogue::{self, NewCategory};
use tracenode_e2e::{eventually, text, Backend, Network, Node};

fn received(node: &Node) -> Vec<(String, String, String, String)> {
    let db = node.db();
    let mut conn = db.conn().expect("conn");
    mailbox::received(&mut conn, 100)
        .expect("received")
        .into_iter()
        .map(|r| (r.kind, r.target, r.outcome, r.payload))
        .collect()
}

fn category(node: &Node, code: &str) -> Option<(String, String)> {
    let db = node.db();
    let mut conn = db.conn().expect("conn");
    catalogue::list(&mut conn).expect("catalogue").into_iter().find(|c| c.code == code).map(|c| (c.name, c.origin))
}

fn publish_notice(national: &Node, target: &str, title: &str, body: &str) {
    let notice = serde_json::to_string(&NoticePayload { title: title.into(), body: body.into(), duplicate: None })
        .expect("json");
    national
        .db()
        .transaction_sync(|conn| mailbox::publish(conn, MessageKind::Notice, target, "100000", &notice))
        .expect("publish");
}

async fn what_comes_down_reaches_every_tier(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Network::four_tiers(dir.path(), backend).await;
    let ctx = tracenode::audit::AuditContext::cli();

    // A national category at the top, a local one at the county.
    let national = &net.nodes[0];
    national
        .db()
        .transaction_sync(|conn| {
            let new = NewCategory { parent_code: "01".into(), code: "0101".into(), name: "蔬菜".into() };
            catalogue::add(conn, &ctx, &new, true)?;
            let document = serde_json::to_string(&catalogue::national_document(conn)?).expect("json");
            mailbox::publish(conn, MessageKind::Catalogue, "", "100000", &document)
        })
        .expect("the national catalogue goes down");
    net.node("330106")
        .db()
        .transaction_sync(|conn| {
            let new = NewCategory { parent_code: "01".into(), code: "0150".into(), name: "西湖龙井".into() };
            catalogue::add_local(conn, &ctx, &new)
        })
        .expect("a local category");

    // Two notices: one for everyone, one for a county in another branch. And the province
    // publishes its revocation list.
    publish_notice(&net.nodes[0], "", "应急演练通知", "11月30日全国演练");
    publish_notice(&net.nodes[0], "330102", "上城区", "仅上城区");
    let published = net.node("330000").cli(&["pki", "publish-crl"]);
    assert!(published.status.success(), "{}", text(&published));

    let county = net.node("330106");
    eventually("the catalogue reaches the county", || category(county, "0101").is_some()).await;
    assert_eq!(category(county, "0101"), Some(("蔬菜".into(), "national".into())));
    assert_eq!(category(county, "0150"), Some(("西湖龙井".into(), "local".into())), "local categories stay");
    eventually("the notice reaches the county", || {
        received(county)
            .iter()
            .any(|(k, t, o, p)| k == "notice" && t.is_empty() && o == "applied" && p.contains("应急演练通知"))
    })
    .await;
    let crl = county.dir.join("pki/crls/330000.pem");
    eventually("the province's revocation list reaches the county", || crl.exists()).await;
    // The notice for 上城区 went down the city's branch but not to 西湖区.
    let city = net.node("330100");
    eventually("the city passes on the targeted notice", || received(city).iter().any(|(_, t, _, _)| t == "330102"))
        .await;
    let county = net.node("330106");
    assert!(!received(county).iter().any(|(_, t, _, _)| t == "330102"), "{:?}", received(county));
    net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_comes_down_reaches_every_tier_sqlite() {
    what_comes_down_reaches_every_tier(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_comes_down_reaches_every_tier_postgres() {
    what_comes_down_reaches_every_tier(Backend::Postgres).await;
}
