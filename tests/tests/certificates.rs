//! Certificates across processes. The county renews its node client certificate and revokes
//! the old one (a machine that held it was lost): its revocation list goes up on its own,
//! the city refuses the old certificate in the handshake, and the county's roll-up goes
//! through with the new one. Then the city revokes the county's CA: the county is refused
//! and what it would send waits. (Tenants' certificates, expiry warnings and an expired
//! certificate are tested on one node in `node/tests`.)

use tracenode::pki::own::Own;
use tracenode::pki::NodePki;
use tracenode_e2e::{
    approve_pending_entities, client_presenting, eventually, eventually_async, held_from_below, node_client,
    register_entities, text, uscc, Backend, Network, Node,
};

/// The serial of the certificate of `kind` for `subject` in `node`'s register, as
/// `pki list` prints it.
fn serial_in_register(node: &Node, kind: &str, subject: &str) -> String {
    let listed = node.cli(&["pki", "list"]);
    assert!(listed.status.success(), "{}", text(&listed));
    String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find(|l| {
            let mut words = l.split_whitespace().skip(1);
            words.next() == Some(kind) && !l.contains("superseded") && l.contains(subject)
        })
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {kind} for {subject}: {}", text(&listed)))
        .to_owned()
}

/// Whether a call to `/federation/v1/hello` with `client` is refused in the handshake.
async fn refused(client: reqwest::Client, url: String) -> bool {
    client.get(format!("{url}/federation/v1/hello")).send().await.is_err()
}

fn registrations_from_county(city: &Node) -> usize {
    held_from_below(city).0.iter().filter(|(region, ..)| region == "330106").count()
}

async fn certificates_rotate_and_revoke_across_tiers(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Network::four_tiers(dir.path(), backend).await;
    let city_url = net.federation_url(2);
    let county = net.node("330106");
    let key = county.tenant_with_key("platform-a");
    register_entities(county, &key, &[&uscc("330106", 811), &uscc("330106", 812)]).await;
    assert_eq!(approve_pending_entities(county), 2);

    // The lost certificate, as the machine that held it kept it.
    let config = tracenode::config::Config::load(&county.config).expect("config");
    let pki = NodePki::of(&config);
    let lost = pki.own(Own::Client, &[]).expect("the county's client certificate");
    let lost_serial = tracenode::pki::registry::serial_hex(&lost.chain[0]).expect("serial");
    let renewed = county.cli(&["pki", "rotate", "--node"]);
    assert!(renewed.status.success(), "{}", text(&renewed));
    let revoked = county.cli(&["pki", "revoke", "--serial", &lost_serial, "--reason", "设备遗失"]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    eventually_async("the city refuses the county's revoked certificate", || {
        refused(client_presenting(lost.credentials().expect("credentials"), &pki), city_url.clone())
    })
    .await;
    let city_dir = net.node("330100").dir.clone();
    assert!(city_dir.join("pki/crls/330106.pem").exists(), "the city keeps the county's list");
    let county = net.node("330106");
    let hello = node_client(county).get(format!("{city_url}/federation/v1/hello")).send().await.expect("hello");
    assert_eq!(hello.status(), 200, "the renewed certificate is taken");
    let sent = county.cli(&["rollup", "run", "registrations"]);
    assert!(sent.status.success(), "{}", text(&sent));
    let city = net.node("330100");
    eventually("the county's registrations reach the city", || registrations_from_county(city) == 2).await;

    // The city revokes the county's CA: after the city's next reload the county is refused,
    // and what it registers next waits at the county.
    let county_ca = serial_in_register(city, "child_ca", "urn:tracenode:node:330106");
    let revoked = city.cli(&["pki", "revoke", "--serial", &county_ca, "--reason", "撤销下级"]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    let county = net.node("330106");
    // A new client (a new connection) each time: the lists apply at the handshake.
    eventually_async("the city refuses the county in the handshake", || refused(node_client(county), city_url.clone()))
        .await;
    register_entities(county, &key, &[&uscc("330106", 813)]).await;
    assert_eq!(approve_pending_entities(county), 1);
    let refused_run = county.cli(&["rollup", "run", "registrations"]);
    let said = text(&refused_run);
    assert!(
        !refused_run.status.success() || said.contains("upstream_failed") || said.contains("has been revoked"),
        "{said}"
    );
    assert_eq!(registrations_from_county(net.node("330100")), 2, "nothing more arrived");
    net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_and_revoke_across_tiers_sqlite() {
    certificates_rotate_and_revoke_across_tiers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_and_revoke_across_tiers_postgres() {
    certificates_rotate_and_revoke_across_tiers(Backend::Postgres).await;
}
