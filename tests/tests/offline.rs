//! Offline transfer between real processes: a county's batches reach one city over the
//! live link and a second city of the same region — on a network without a link — in a
//! signed file; both end up holding the same. A file carried twice changes nothing, and a
//! file changed on the way is refused whole.

use tracenode_e2e::{
    approve_pending_entities, held_from_below, recount, register_entities, sales_csv, text, uscc, Backend, Network,
    Node,
};

async fn offline_files_give_what_the_live_link_gives(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Network::four_tiers(dir.path(), backend).await;

    // The second city: enrolled under the province by file, and taking the county's files.
    let offline = Node::init_as(&dir.path().join("330100-offline"), "city", "330100", backend);
    offline.configure("[federation]\nregistrations_cron = \"\"\nstatistics_cron = \"\"\ncheckpoints_cron = \"\"");
    {
        let province = net.node("330000");
        let province_config = tracenode::config::Config::load(&province.config).expect("config");
        let offline_config = tracenode::config::Config::load(&offline.config).expect("config");
        tracenode::federation::children::enrol_on_one_machine(&province_config, &province.db(), &offline_config)
            .expect("enrol the second city");
    }
    let fingerprint = {
        let db = net.node("330100").db();
        let mut conn = db.conn().expect("conn");
        tracenode::federation::children::traffic(&mut conn).expect("children")[0].child.fingerprint.clone()
    };
    let county_region = tracenode::region::RegionCode::parse("330106").expect("region");
    offline
        .db()
        .transaction_sync(|conn| {
            tracenode::federation::children::enrol(conn, &county_region, &fingerprint, "file", None)
        })
        .expect("the county is a child of the second city too");

    // The county registers three entities (approved) and sells.
    let county = net.node("330106");
    let key = county.tenant_with_key("platform-a");
    let codes: Vec<String> = (0..3).map(|i| uscc("330106", 900 + i)).collect();
    register_entities(county, &key, &codes.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(approve_pending_entities(county), 3);
    let res = county
        .client()
        .post(county.url("/api/v1/imports?format=csv"))
        .bearer_auth(&key)
        .body(sales_csv("OFF", 0..5, &codes[0], &codes[1]))
        .send()
        .await
        .expect("import");
    assert_eq!(res.status(), 200);

    // Everything goes into a file, then over the link.
    let file = dir.path().join("330106.json");
    let file_arg = file.to_str().expect("path");
    let exported = county.cli(&["federation", "export", "--all", "--out", file_arg]);
    assert!(exported.status.success(), "{}", text(&exported));
    for kind in ["registrations", "statistics", "audit-checkpoints"] {
        let sent = county.cli(&["rollup", "run", kind]);
        assert!(sent.status.success(), "{kind}: {}", text(&sent));
    }

    // The second city imports the file and holds what the first took over the link.
    let imported = offline.cli(&["federation", "import", file_arg]);
    assert!(imported.status.success(), "{}", text(&imported));
    assert!(text(&imported).contains("applied"), "{}", text(&imported));
    let (live_held, live_stats) = held_from_below(net.node("330100"));
    let (held, stats) = held_from_below(&offline);
    assert_eq!(held.len(), 3, "{held:?}");
    assert_eq!(held, live_held);
    assert_eq!(stats, live_stats);
    assert_eq!(stats, recount(net.node("330106")), "what the county's own records make");

    // Carried twice: nothing changes.
    let again = offline.cli(&["federation", "import", file_arg]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(!text(&again).contains(": applied"), "{}", text(&again));
    assert_eq!(held_from_below(&offline), (held, stats));

    // A file changed on the way is refused whole.
    let original = std::fs::read_to_string(&file).expect("file");
    let tampered = original.replacen(r#"\"records\":"#, r#"\"records\":1"#, 1);
    assert_ne!(tampered, original, "the file was changed");
    let bad = dir.path().join("tampered.json");
    std::fs::write(&bad, tampered).expect("write");
    let refused = offline.cli(&["federation", "import", bad.to_str().expect("path")]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("batch_refused"), "{}", text(&refused));
    net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_files_give_what_the_live_link_gives_sqlite() {
    offline_files_give_what_the_live_link_gives(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_files_give_what_the_live_link_gives_postgres() {
    offline_files_give_what_the_live_link_gives(Backend::Postgres).await;
}
