//! Enrolment over the network, across processes: a city with no certificate asks its
//! province over the province's public port; the province's operator reads the request's
//! fingerprint and approves it at the host; the city collects and installs its CA and,
//! restarted, calls the province over mutual TLS. Another city is rejected and told why.
//! (The province's enrolment API — its refusals, the token, the limits per address — is
//! tested on one node in `node/tests`.)

use tracenode_e2e::{federation_section, free_ports, node_client, text, Backend, Network, Node};

/// The id of the request `region` is waiting with, as `pki requests` prints it, and the
/// line it is on.
fn request_of(parent: &Node, region: &str) -> (String, String) {
    let listed = parent.cli(&["pki", "requests"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let line = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(region))
        .unwrap_or_else(|| panic!("no request of {region}: {}", text(&listed)))
        .to_owned();
    (line.split_whitespace().next().expect("id").to_owned(), line)
}

/// A city of `region` below the province, with no certificate, that asks to enrol; and the
/// fingerprint it printed for its operator to read out.
fn asking_city(dir: &std::path::Path, net: &Network, region: &str, backend: Backend) -> (Node, String) {
    let city = Node::init_as(&dir.join(region), "city", region, backend);
    city.configure(&federation_section(Some(free_ports(1)), &net.federation_url(1)));
    let province = &net.nodes[1];
    let ca = province.dir.join("certs/ca.pem");
    let asked = city.cli(&["pki", "enrol", "--parent", &province.url(""), "--ca-file", ca.to_str().expect("path")]);
    assert!(asked.status.success(), "{}", text(&asked));
    let fingerprint = text(&asked)
        .lines()
        .find_map(|l| l.rsplit_once(": ").map(|(_, f)| f.trim().to_owned()).filter(|f| f.len() == 95))
        .unwrap_or_else(|| panic!("a fingerprint: {}", text(&asked)));
    (city, fingerprint)
}

async fn a_city_enrols_over_the_network(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Network::top_tiers(dir.path(), backend, 2).await;
    let (mut city, fingerprint) = asking_city(dir.path(), &net, "330100", backend);
    let again = city.cli(&["pki", "enrol"]);
    assert!(again.status.success() && text(&again).contains("等待上级审批"), "{}", text(&again));

    // The province's operator sees the request with the fingerprint the city's operator
    // reads out, and approves it.
    let province = &net.nodes[1];
    let (id, line) = request_of(province, "330100");
    assert!(line.contains(&fingerprint) && line.contains("pending"), "{line}");
    let approved = province.cli(&["pki", "decide", "--id", &id, "--approve"]);
    assert!(approved.status.success(), "{}", text(&approved));
    let twice = province.cli(&["pki", "decide", "--id", &id, "--approve"]);
    assert!(!twice.status.success() && text(&twice).contains("已处理"), "{}", text(&twice));
    let register = text(&province.cli(&["pki", "list"]));
    assert!(register.contains("child_ca") && register.contains("urn:tracenode:node:330100"), "{register}");

    // The city collects and installs it; started, it calls the province over mutual TLS.
    let installed = city.cli(&["pki", "enrol"]);
    assert!(installed.status.success(), "{}", text(&installed));
    assert!(text(&installed).contains("urn:tracenode:node:330100"), "{}", text(&installed));
    city.start().await;
    let hello = node_client(&city).get(format!("{}/federation/v1/hello", net.federation_url(1))).send().await;
    assert_eq!(hello.expect("hello").status(), 200);
    let sent = city.cli(&["rollup", "run", "statistics"]);
    assert!(sent.status.success(), "{}", text(&sent));

    // Another city is rejected, with the reason; a rejection needs one.
    let (other, _) = asking_city(dir.path(), &net, "330200", backend);
    let province = &net.nodes[1];
    let (id, _) = request_of(province, "330200");
    let no_reason = province.cli(&["pki", "decide", "--id", &id, "--reject"]);
    assert!(!no_reason.status.success(), "{}", text(&no_reason));
    let rejected = province.cli(&["pki", "decide", "--id", &id, "--reject", "--reason", "指纹不符"]);
    assert!(rejected.status.success(), "{}", text(&rejected));
    let told = other.cli(&["pki", "enrol"]);
    assert_eq!(told.status.code(), Some(1), "{}", text(&told));
    assert!(text(&told).contains("指纹不符"), "{}", text(&told));
    let all = text(&province.cli(&["pki", "requests", "--all"]));
    assert!(all.contains("approved") && all.contains("rejected"), "{all}");

    assert!(city.stop(), "{}", city.log_text());
    net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_enrols_over_the_network_sqlite() {
    a_city_enrols_over_the_network(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_enrols_over_the_network_postgres() {
    a_city_enrols_over_the_network(Backend::Postgres).await;
}
