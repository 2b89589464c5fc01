//! Roll-ups through four processes: the county's and the city's registrations and
//! statistics reach the national node, whose figures equal a recount of the raw records of
//! every tier below it; a later change goes up as a replacement, never added twice; the
//! county's signed audit checkpoint reaches the city, and a history rewritten by someone
//! with the county's database is refused there.

use tracenode_e2e::{
    approve_pending_entities, eventually, held_from_below, merged, recount, register_entities, text, uscc, Backend,
    Network, Node,
};

fn roll_up(node: &Node, kind: &str) -> String {
    let out = node.cli(&["rollup", "run", kind]);
    assert!(out.status.success(), "{kind}: {}", text(&out));
    text(&out)
}

/// Registers and approves `n` entities from `serial` at `node` and sells `records` between
/// the first two; gives the tenant's key and the entities' codes.
async fn fill(node: &Node, serial: u32, n: u32, records: usize) -> (String, Vec<String>) {
    let key = node.tenant_with_key(&format!("platform-{serial}"));
    let codes: Vec<String> = (0..n).map(|i| uscc("330106", serial + i)).collect();
    register_entities(node, &key, &codes.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(approve_pending_entities(node), n as usize);
    node.sell(&key, &format!("S{serial}"), 0..records, &codes[0], &codes[1]).await;
    (key, codes)
}

fn audit_head(node: &Node) -> (i64, String) {
    use diesel::prelude::*;
    use tracenode::db::schema::audit_log;
    let db = node.db();
    let mut conn = db.conn().expect("conn");
    audit_log::table
        .order(audit_log::seq.desc())
        .select((audit_log::seq, audit_log::hash))
        .first(&mut *conn)
        .expect("head")
}

async fn four_tiers_roll_up_to_the_national_node(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Network::four_tiers(dir.path(), backend).await;
    let (key, codes) = fill(net.node("330106"), 100, 3, 6).await;
    fill(net.node("330100"), 200, 2, 4).await;

    // The county sends up; every tier above passes on what arrives.
    let said = roll_up(net.node("330106"), "registrations");
    assert!(said.contains("made 1") && said.contains("applied 1") && said.contains("pending 0"), "{said}");
    roll_up(net.node("330106"), "statistics");
    roll_up(net.node("330100"), "registrations");
    roll_up(net.node("330100"), "statistics");
    let national = &net.nodes[0];
    eventually("the national node holds every registration", || held_from_below(national).0.len() == 5).await;
    let sources: Vec<String> = held_from_below(national).0.into_iter().map(|(s, ..)| s).collect();
    assert_eq!(sources.iter().filter(|s| *s == "330106").count(), 3, "{sources:?}");
    assert_eq!(sources.iter().filter(|s| *s == "330100").count(), 2, "{sources:?}");

    // The national statistics equal a recount of the raw data of every tier.
    let expected = merged(&[recount(net.node("330106")), recount(net.node("330100"))]);
    assert!(!expected.is_empty());
    eventually("the national statistics equal the recount", || held_from_below(&net.nodes[0]).1 == expected).await;
    assert_eq!(held_from_below(net.node("330000")).1, expected, "the province holds the same");

    // More sales later: only the change goes up, replacing the day's slice.
    let county = net.node("330106");
    county.sell(&key, "LATE", 0..2, &codes[0], &codes[1]).await;
    assert!(roll_up(county, "statistics").contains("made 1"));
    assert!(roll_up(county, "statistics").contains("made 0"), "nothing changed since");
    let expected = merged(&[recount(net.node("330106")), recount(net.node("330100"))]);
    eventually("the national statistics follow the change", || held_from_below(&net.nodes[0]).1 == expected).await;

    // The head of the county's audit chain reaches the city, signed.
    let head = audit_head(net.node("330106"));
    roll_up(net.node("330106"), "audit-checkpoints");
    let kept = {
        let db = net.node("330100").db();
        let mut conn = db.conn().expect("conn");
        tracenode::federation::kinds::checkpoints::kept(&mut conn, "330106").expect("kept")
    };
    assert_eq!(kept.first().map(|k| (k.0, k.1.clone())), Some(head.clone()));

    // Someone with the county's database rewrites its history (switching the guard off):
    // the next checkpoint no longer matches the one the city kept, and the city refuses it.
    let forged = format!("UPDATE audit_log SET hash = '{}' WHERE seq = {}", "f".repeat(64), head.0);
    let tamper = match backend {
        Backend::Sqlite => format!("DROP TRIGGER audit_log_no_update; {forged}"),
        Backend::Postgres => format!("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update; {forged}"),
    };
    net.node("330106").sql(&tamper).expect("tamper");
    let out = net.node("330106").cli(&["rollup", "run", "audit-checkpoints"]);
    assert!(!out.status.success() && text(&out).contains("history_rewritten"), "{}", text(&out));
    let refused = {
        let db = net.node("330100").db();
        let mut conn = db.conn().expect("conn");
        tracenode::federation::inbox::recent(&mut conn, Some("330106"), 10).expect("incoming")
    };
    assert!(refused.iter().any(|b| b.code.as_deref() == Some("history_rewritten")), "{refused:?}");
    net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_tiers_roll_up_to_the_national_node_sqlite() {
    four_tiers_roll_up_to_the_national_node(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_tiers_roll_up_to_the_national_node_postgres() {
    four_tiers_roll_up_to_the_national_node(Backend::Postgres).await;
}
