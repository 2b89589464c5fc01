//! Federation, in-process: tiers on loopback, each a real node with its own database,
//! enrolled through the tier PKI and joined by mutual TLS. What a parent does with one
//! child's batches (refused or ignored as the protocol says), a parent that goes away and
//! comes back getting everything exactly once, tenants' certificates issued, rotated,
//! revoked and expiring, the parent's side of enrolment over the network, statistics a
//! month per batch, and what may be sent down. The scenarios across real processes
//! (roll-ups through four tiers, offline files, what comes down, a dead middle tier, a city
//! enrolling over the network, node certificates rotated and revoked across tiers) are in
//! the end-to-end crate (`tests/`).

use std::time::Duration;

use serde_json::Value;
use tracenode::config::{Config, Tier};
use tracenode::federation::children;
use tracenode::federation::kinds::statistics;
use tracenode::pki::NodePki;
use tracenode_federation::tiers::{Identity, Leaf};
use tracenode_federation::transport::{self, Credentials};
use tracenode_federation::wire::batch::{Batch, BodyDigest};

use crate::ingest::{csv_of, import, json_of, record};
use crate::on_both_backends;
use crate::registry::{code, entity, Machine};
use crate::support::{expect_problem, Backend, Session, TestApp};

/// A free loopback port (a parent must come back on the same one).
pub(crate) fn free_port() -> u16 {
    crate::support::free_ports(1)
}

pub(crate) fn federation_toml(port: Option<u16>, parent: Option<&TestApp>) -> String {
    let listen = port.map(|p| format!("127.0.0.1:{p}")).unwrap_or_default();
    let parent_url = parent
        .map(|p| format!("https://127.0.0.1:{}", p.federation_addr.expect("parent listens").port()))
        .unwrap_or_default();
    format!(
        "[federation]\nlisten = \"{listen}\"\nparent_url = \"{parent_url}\"\nreload_every_seconds = 1\nretry_every_seconds = 1\n\
         registrations_cron = \"\"\nstatistics_cron = \"\"\ncheckpoints_cron = \"\"\n"
    )
}

/// The national node, with the root.
pub(crate) async fn national(backend: Backend) -> TestApp {
    let toml = federation_toml(Some(free_port()), None);
    TestApp::spawn_node(backend, Tier::National, "100000", &toml, |c| {
        NodePki::of(c).init_root().expect("root");
    })
    .await
}

/// Enrols the node of `config` under `parent` by file, as an operator would.
pub(crate) fn enrol(parent: &TestApp, config: &Config) {
    children::enrol_on_one_machine(&parent.config, &parent.db, config).expect("enrol");
}

/// A node below `parent`, enrolled and started; `listen` if it has children of its own.
pub(crate) async fn child_node(
    backend: Backend,
    parent: &TestApp,
    tier: Tier,
    region: &str,
    port: Option<u16>,
) -> TestApp {
    child_node_with(backend, parent, tier, region, port, "").await
}

/// [`child_node`] with more lines for its `[federation]` section.
pub(crate) async fn child_node_with(
    backend: Backend,
    parent: &TestApp,
    tier: Tier,
    region: &str,
    port: Option<u16>,
    more: &str,
) -> TestApp {
    let toml = federation_toml(port, Some(parent)) + more;
    TestApp::spawn_node(backend, tier, region, &toml, |c| enrol(parent, c)).await
}

pub(crate) struct Desk {
    pub(crate) sys: Session,
    pub(crate) key: Machine,
    pub(crate) reviewer: Session,
}

async fn desk(app: &TestApp) -> Desk {
    desk_in(app, "330106").await
}

/// A node's administrators, a reviewer and a platform of `region` with its key.
pub(crate) async fn desk_in(app: &TestApp, region: &str) -> Desk {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let tenant = app.tenant(&sys, "platform-a", region).await;
    let key = Machine { client: app.client(), key: app.api_key(&sys, &sec, tenant["id"].as_str().expect("id")).await };
    let reviewer = app.staff(&sys, &sec, "reviewer", None).await;
    Desk { sys, key, reviewer }
}

/// Registers and approves `n` entities from `serial`, then imports `records` sales between
/// the first two; returns the entity codes.
async fn fill(app: &TestApp, d: &Desk, serial: u32, n: u32, records: usize) -> Vec<String> {
    let mut codes = Vec::new();
    for i in 0..n {
        let c = code("330106", serial + i);
        let res =
            d.key.post(app, "/api/v1/registry/entities", entity(&c, &format!("商户{}", serial + i), "330106")).await;
        let created = json_of(res, 201).await;
        let id = created["entity"]["id"].as_str().expect("id").to_owned();
        if created["entity"]["status"] == "pending" {
            let res = d
                .reviewer
                .post(app, &format!("/api/v1/registry/entities/{id}/review"), serde_json::json!({"approve": true}))
                .await;
            assert_eq!(res.status(), 200);
        }
        codes.push(c);
    }
    if records == 0 {
        return codes;
    }
    let batch: Vec<_> = (0..records)
        .map(|i| {
            record(
                &format!("r{serial}-{i}"),
                &format!("TC-{serial}-{i}"),
                &codes[0],
                &codes[1],
                1.0 + i as f64,
                Some(8.0),
            )
        })
        .collect();
    let r = json_of(import(app, &d.key, "format=csv", csv_of(&batch)).await, 200).await;
    assert_eq!(r["accepted"].as_u64(), Some(records as u64), "{r}");
    codes
}

async fn run(app: &TestApp, session: &Session, kind: &str) -> Value {
    json_of(session.post(app, &format!("/api/v1/federation/rollups/{kind}/run"), serde_json::json!({})).await, 200)
        .await
}

/// Waits until `check` holds on the node, for at most 30 seconds.
async fn eventually<F: FnMut() -> bool>(what: &str, mut check: F) {
    for _ in 0..300 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

fn held(app: &TestApp) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use tracenode::db::schema::federated_registrations as fr;
    let mut conn = app.db.conn().expect("conn");
    fr::table
        .select((fr::source_region, fr::object_id))
        .order((fr::source_region, fr::object_id))
        .load(&mut *conn)
        .expect("held")
}

fn rolled_up(app: &TestApp) -> statistics::Jurisdiction {
    let mut conn = app.db.conn().expect("conn");
    statistics::jurisdiction(&mut conn).expect("jurisdiction")
}

/// The slices of the newest statistics batch `app` made.
fn last_slices(app: &TestApp) -> Vec<tracenode_federation::wire::payload::StatisticsSlice> {
    use diesel::prelude::*;
    use tracenode::db::schema::federation_outgoing as fo;
    use tracenode_federation::wire::{Batch, Kind, Payload};
    let mut conn = app.db.conn().expect("conn");
    let text: String = fo::table
        .filter(fo::kind.eq("statistics"))
        .order(fo::batch_no.desc())
        .select(fo::batch)
        .first(&mut *conn)
        .expect("a statistics batch");
    let batch: Batch = serde_json::from_str(&text).expect("batch");
    match Payload::parse(Kind::Statistics, &batch.body).expect("body") {
        Payload::Statistics(slices) => slices,
        other => panic!("{other:?}"),
    }
}

/// Statistics go up as the (day, region) cells that changed: a county's forty days go in one
/// batch; a run with nothing changed reads and sends nothing; a later sale in one county
/// sends that county's cells of that day and nothing else — not the other county's cells of
/// the same day — at the city and at the province, and the nation stays exact.
async fn statistics_go_up_as_the_cells_that_changed(backend: Backend) {
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let city = child_node(backend, &province, Tier::City, "330100", Some(free_port())).await;
    let west = child_node(backend, &city, Tier::County, "330106", None).await;
    let east = child_node(backend, &city, Tier::County, "330108", None).await;
    let (w, e) = (desk(&west).await, desk_in(&east, "330108").await);
    let codes = fill(&west, &w, 600, 2, 0).await;
    let east_codes = [code("330108", 601), code("330108", 602)];
    for c in &east_codes {
        json_of(e.key.post(&east, "/api/v1/registry/entities", entity(c, "滨江商行", "330108")).await, 201).await;
    }
    let first = chrono::NaiveDate::from_ymd_opt(2026, 10, 12).expect("day");
    let on = |i: i64, mut r: tracenode_adapters::records::TraceRecord| {
        r.act.time = format!("{}T10:00:00+08:00", first + chrono::Duration::days(i));
        r.product.production_date = Some("2026-10-01".into());
        r.product.shelf_life_days = Some(365);
        r
    };
    let sales: Vec<_> = (0..40)
        .map(|i| on(i, record(&format!("m-{i}"), &format!("TC-m-{i}"), &codes[0], &codes[1], 1.0, Some(8.0))))
        .collect();
    let r = json_of(import(&west, &w.key, "format=csv", csv_of(&sales)).await, 200).await;
    assert_eq!(r["accepted"], 40, "{r}");
    let mut theirs = on(0, record("e-1", "TC-e-1", &east_codes[0], &east_codes[1], 5.0, Some(8.0)));
    (theirs.from.region, theirs.to.region) = ("330108".into(), "330108".into());
    json_of(import(&east, &e.key, "format=csv", csv_of(&[theirs])).await, 200).await;

    let r = run(&west, &w.sys, "statistics").await;
    assert_eq!((r["made"].as_i64(), r["sent"].as_i64(), r["pending"].as_i64()), (Some(1), Some(1), Some(0)), "{r}");
    let slices = last_slices(&west);
    assert_eq!(slices.len(), 40, "forty days in one batch");
    assert!(slices.iter().all(|s| s.regions.as_deref() == Some(&["330106".to_owned()][..])), "{slices:?}");
    run(&east, &e.sys, "statistics").await;
    let both = || {
        let mut all = rolled_up(&west);
        for (day, rows) in rolled_up(&east) {
            for (key, figures) in rows {
                all.entry(day.clone()).or_default().entry(key).or_default().add(&figures);
            }
        }
        all
    };
    let expected = both();
    assert_eq!(expected.len(), 40);
    eventually("both counties reach the nation", || rolled_up(&nation) == expected).await;
    let r = run(&west, &w.sys, "statistics").await;
    assert_eq!(r["made"], 0, "nothing changed: {r}");

    // A late sale in the west county on the first day.
    let late = on(0, record("m-late", "TC-m-late", &codes[0], &codes[1], 3.0, Some(8.0)));
    json_of(import(&west, &w.key, "format=csv", csv_of(&[late])).await, 200).await;
    let (city_made, province_made) = (outgoing(&city, "statistics").len(), outgoing(&province, "statistics").len());
    let r = run(&west, &w.sys, "statistics").await;
    assert_eq!(r["made"], 1, "{r}");
    let expected = both();
    eventually("the late sale reaches the nation", || rolled_up(&nation) == expected).await;
    let day = first.to_string();
    for (tier, made_before) in [(&city, city_made), (&province, province_made)] {
        assert_eq!(outgoing(tier, "statistics").len(), made_before + 1, "one batch");
        let slices = last_slices(tier);
        assert_eq!(slices.len(), 1, "{slices:?}");
        assert_eq!(
            (slices[0].day.as_str(), slices[0].regions.as_deref()),
            (day.as_str(), Some(&["330106".to_owned()][..]))
        );
        assert!(slices[0].rows.iter().all(|r| r.region == "330106"), "only the west county's cells: {slices:?}");
        let records: i64 = slices[0].rows.iter().map(|r| r.figures.records).sum();
        assert_eq!(records, 2, "the day's two sales: {slices:?}");
    }
    // The nation has no parent: it keeps no marks of what changed.
    {
        use diesel::prelude::*;
        let mut conn = nation.db.conn().expect("conn");
        let marks: i64 = tracenode::db::schema::statistics_marks::table.count().get_result(&mut *conn).expect("marks");
        assert_eq!(marks, 0);
    }
    // Every tier's summary, kept by difference as cells were replaced, equals a recount.
    for app in [&west, &city, &province, &nation] {
        let mut conn = app.db.conn().expect("conn");
        let kept = tracenode::stats::summary::stored(&mut conn).expect("summary");
        assert!(!kept.is_empty());
        assert_eq!(kept, tracenode::stats::summary::recount(&mut conn).expect("recount"));
    }
}
on_both_backends!(statistics_go_up_as_the_cells_that_changed);

/// Batches fit the parent's limit, which its `hello` states: a city taking at most 6 KiB gets
/// forty days of a county's statistics in batches under it. Batches made before the county
/// knew the limit (by an offline export, at the protocol's default) are refused as too large,
/// unmade and cut again in the same run, with nothing lost or counted twice.
async fn batches_fit_the_parents_limit_and_oversized_ones_are_cut_again(backend: Backend) {
    const LIMIT: usize = 6 * 1024;
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let mut city = child_node(backend, &province, Tier::City, "330100", Some(free_port())).await;
    let county = child_node(backend, &city, Tier::County, "330106", None).await;
    let d = desk(&county).await;
    let codes = fill(&county, &d, 700, 2, 0).await;
    run(&county, &d.sys, "registrations").await;
    // The city is away while forty days of sales come in: the county makes its batch at the
    // limit the city stated before (16 MiB), all forty days in one.
    city.stop().await;
    let first = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("day");
    let sales: Vec<_> = (0..40)
        .map(|i| {
            let mut r = record(&format!("b-{i}"), &format!("TC-b-{i}"), &codes[0], &codes[1], 2.0, Some(8.0));
            r.act.time = format!("{}T10:00:00+08:00", first + chrono::Duration::days(i));
            r.product.production_date = Some("2026-09-01".into());
            r.product.shelf_life_days = Some(365);
            r
        })
        .collect();
    json_of(import(&county, &d.key, "format=csv", csv_of(&sales)).await, 200).await;
    let batches = |app: &TestApp| -> Vec<(i64, usize, bool)> {
        use diesel::prelude::*;
        use tracenode::db::schema::federation_outgoing as fo;
        let mut conn = app.db.conn().expect("conn");
        let rows: Vec<(i64, String, Option<chrono::NaiveDateTime>)> = fo::table
            .filter(fo::kind.eq("statistics"))
            .order(fo::batch_no)
            .select((fo::items, fo::batch, fo::acked_at))
            .load(&mut *conn)
            .expect("batches");
        rows.into_iter().map(|(items, batch, acked)| (items, batch.len(), acked.is_some())).collect()
    };
    let before = batches(&county).iter().filter(|b| b.2).count();
    let r = run(&county, &d.sys, "statistics").await;
    assert!(r["error"].as_str().is_some(), "the city is away: {r}");
    let made = batches(&county);
    assert_eq!(made[before..].iter().map(|b| b.0).collect::<Vec<_>>(), [40], "{made:?}");
    assert!(made[before].1 > LIMIT, "the batch is over what the city will take: {made:?}");
    // The city comes back taking at most 6 KiB a batch: the county's batch is refused as too
    // large, unmade and cut again under the limit the city now states.
    let mut lower = (*city.config).clone();
    lower.federation.max_batch_bytes = LIMIT;
    city.config = std::sync::Arc::new(lower);
    city.restart().await;
    let r = run(&county, &d.sys, "statistics").await;
    assert_eq!((r["rebatched"].as_i64(), r["pending"].as_i64(), r["error"].as_str()), (Some(1), Some(0), None), "{r}");
    let sent = batches(&county);
    assert!(sent.len() >= before + 2 && sent.iter().all(|&(_, size, acked)| size <= LIMIT && acked), "{sent:?}");
    assert_eq!(sent[before..].iter().map(|b| b.0).sum::<i64>(), 40, "every day once: {sent:?}");
    let held = rolled_up(&city);
    assert_eq!(held.len(), 40, "every day arrived");
    assert_eq!(held, rolled_up(&county));
    // Registrations are cut under the limit too.
    fill(&county, &d, 800, 12, 0).await;
    let r = run(&county, &d.sys, "registrations").await;
    assert_eq!((r["pending"].as_i64(), r["error"].as_str()), (Some(0), None), "{r}");
    eventually("every registration arrives", || held_at(&city, "330106") == 14).await;
}
on_both_backends!(batches_fit_the_parents_limit_and_oversized_ones_are_cut_again);

/// Arrivals are coalesced: six statistics batches from two cities, reaching their province
/// over a few seconds, make at most two runs there instead of six (the province waits ten
/// seconds once woken: one window, or two if one was already open when the first arrived),
/// and the nation gets everything.
async fn arrivals_together_make_one_batch_above(backend: Backend) {
    let nation = national(backend).await;
    let province =
        child_node_with(backend, &nation, Tier::Province, "330000", Some(free_port()), "coalesce_ms = 10000\n").await;
    let hangzhou = child_node(backend, &province, Tier::City, "330100", None).await;
    let ningbo = child_node(backend, &province, Tier::City, "330200", None).await;
    let (hz, nb) = (desk(&hangzhou).await, desk_in(&ningbo, "330203").await);
    let hz_codes = fill(&hangzhou, &hz, 100, 2, 0).await;
    let nb_codes = [code("330203", 201), code("330203", 202)];
    for c in &nb_codes {
        json_of(nb.key.post(&ningbo, "/api/v1/registry/entities", entity(c, "宁波商行", "330203")).await, 201).await;
    }
    let made_before = outgoing(&province, "statistics").len();
    for i in 0..6 {
        let (app, d, codes, region) = match i % 2 {
            0 => (&hangzhou, &hz, &hz_codes[..], "330106"),
            _ => (&ningbo, &nb, &nb_codes[..], "330203"),
        };
        let mut sale = record(&format!("c-{i}"), &format!("TC-c-{i}"), &codes[0], &codes[1], 1.0 + i as f64, Some(8.0));
        (sale.from.region, sale.to.region) = (region.into(), region.into());
        json_of(import(app, &d.key, "format=csv", csv_of(&[sale])).await, 200).await;
        let r = run(app, &d.sys, "statistics").await;
        assert_eq!(r["sent"].as_i64(), Some(1), "{r}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut both = rolled_up(&hangzhou);
    for (day, rows) in rolled_up(&ningbo) {
        for (key, figures) in rows {
            both.entry(day.clone()).or_default().entry(key).or_default().add(&figures);
        }
    }
    eventually("both reach the nation", || rolled_up(&nation) == both).await;
    let made = outgoing(&province, "statistics").len() - made_before;
    assert!((1..=2).contains(&made), "six arrivals, {made} batches at the province");
}
on_both_backends!(arrivals_together_make_one_batch_above);

/// Collecting reads outside the write lock, so a change can land between the read and the
/// store: a day marked again meanwhile keeps its mark, and the next collection sends it again
/// with what changed.
async fn a_day_marked_again_while_it_is_collected_goes_up_again(backend: Backend) {
    use tracenode::federation::kinds::{self, Collector, Kind, Settle};
    let nation = national(backend).await;
    let city = child_node(backend, &nation, Tier::City, "330100", None).await;
    let d = desk(&city).await;
    let codes = fill(&city, &d, 900, 2, 1).await;
    let signer = NodePki::of(&city.config).own(tracenode::pki::own::Own::Client, &[]).expect("own");
    let identity = Identity::Node { region: "330100".into() };
    let by = Collector {
        identity: &identity,
        region: "330100",
        signer: &signer,
        batch_items: 100,
        max_body_bytes: 1 << 20,
        batch_no: 1,
    };
    let records = |c: &kinds::Collected| -> i64 {
        match &c.payload {
            tracenode_federation::wire::Payload::Statistics(slices) => {
                slices.iter().flat_map(|s| s.rows.iter()).map(|r| r.figures.records).sum()
            }
            _ => -1,
        }
    };
    // The city's own runs are not in the way: its schedules are off and its first run is over.
    run(&city, &d.sys, "statistics").await;
    let late = record("late-1", "TC-late-1", &codes[0], &codes[1], 1.0, Some(8.0));
    json_of(import(&city, &d.key, "format=csv", csv_of(&[late])).await, 200).await;
    let mut conn = city.db.conn().expect("conn");
    let first = kinds::collect(Kind::Statistics, &mut conn, 0, &by).expect("collect").expect("a batch");
    assert_eq!(records(&first), 2, "the day's two sales");
    // Another sale of that day lands before the batch is stored.
    let later = record("late-2", "TC-late-2", &codes[0], &codes[1], 1.0, Some(8.0));
    json_of(import(&city, &d.key, "format=csv", csv_of(&[later])).await, 200).await;
    assert!(matches!(first.settle, Settle::Statistics(_)));
    kinds::settle(&mut conn, &first.settle, 1).expect("settle");
    let again = kinds::collect(Kind::Statistics, &mut conn, 1, &by).expect("collect").expect("the day again");
    assert_eq!(records(&again), 3, "sent again with the sale that came meanwhile");
    kinds::settle(&mut conn, &again.settle, 2).expect("settle");
    assert!(kinds::collect(Kind::Statistics, &mut conn, 2, &by).expect("collect").is_none(), "then nothing");
    // A whole day marked with nothing on record as sent (a mark made before cells were
    // tracked) goes up even when it holds nothing now: the parent may still hold it.
    tracenode::trace::daily::mark_changed(&mut conn, &[("2025-03-01".to_owned(), String::new())]).expect("mark");
    let whole = kinds::collect(Kind::Statistics, &mut conn, 2, &by).expect("collect").expect("the day");
    match &whole.payload {
        tracenode_federation::wire::Payload::Statistics(slices) => {
            assert_eq!(slices.len(), 1);
            assert_eq!(
                (slices[0].day.as_str(), slices[0].regions.is_none(), slices[0].rows.len()),
                ("2025-03-01", true, 0)
            );
        }
        other => panic!("{other:?}"),
    }
    kinds::settle(&mut conn, &whole.settle, 3).expect("settle");
    assert!(kinds::collect(Kind::Statistics, &mut conn, 3, &by).expect("collect").is_none(), "then nothing");
}
on_both_backends!(a_day_marked_again_while_it_is_collected_goes_up_again);

/// Registrations `app` holds from `source`.
fn held_at(app: &TestApp, source: &str) -> usize {
    held(app).iter().filter(|(s, _)| s == source).count()
}

/// A reqwest client presenting `leaf` (issued by `issuer`'s CA) to the node's listener.
pub(crate) fn client_with(issuer: &TestApp, leaf: Leaf) -> reqwest::Client {
    let pki = NodePki::of(&issuer.config);
    let authority = pki.authority().expect("authority");
    let (cert, key) = authority.issue_with_key(&leaf).expect("leaf");
    let mut chain = vec![rustls::pki_types::CertificateDer::from(cert.to_der().expect("der"))];
    let own = pki.own(tracenode::pki::own::Own::Client, &[]).expect("own");
    chain.extend(own.credentials().expect("creds").chain.into_iter().skip(1));
    let creds = Credentials {
        chain,
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.private_key_to_pkcs8().expect("pkcs8").into()),
    };
    let tls = transport::client_config(creds, &pki.trust().expect("trust")).expect("tls");
    reqwest::Client::builder().use_preconfigured_tls(tls).build().expect("client")
}

/// Renews the node's client certificate from the command line and waits until the running
/// node calls with it (its serial is no longer `before`).
async fn renew_client_certificate(app: &TestApp, sys: &Session, before: &str) {
    let rotated = tracenode(app, &["pki", "rotate", "--node"]);
    assert!(rotated.status.success(), "{}", text(&rotated));
    eventually_async("the node calls with its new certificate", || async {
        let now: Value = sys.get(app, "/api/v1/federation").await.json().await.expect("json");
        now["client_certificate_serial"].as_str().is_some_and(|s| !s.is_empty() && s != before)
    })
    .await;
}

fn url(app: &TestApp, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", app.federation_addr.expect("listens").port())
}

pub(crate) async fn post_batch(client: &reqwest::Client, parent: &TestApp, batch: &Batch) -> reqwest::Response {
    client.post(url(parent, "/federation/v1/batches")).json(batch).send().await.expect("post")
}

fn stats_batch(region: &str, no: i64, day: &str, records: i64) -> Batch {
    let body = serde_json::json!([{"day": day, "rows": [{"region": region, "category": "01", "stage": "distribution_sale",
        "direction": "out", "records": records, "quantity_milli": 1000 * records, "amount_fen": 800 * records,
        "priced": records, "price_fen_sum": 800 * records}]}]);
    Batch::new(
        "statistics",
        &Identity::Node { region: region.into() },
        no,
        1,
        body.to_string(),
        "2026-11-26T00:00:00Z".into(),
    )
}

async fn batches_are_refused_or_ignored_as_the_protocol_says(backend: Backend) {
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let city = child_node(backend, &province, Tier::City, "330100", Some(free_port())).await;
    let county = child_node(backend, &city, Tier::County, "330106", None).await;
    let as_county = client_with(&county, Leaf::NodeClient);

    let hello: Value =
        as_county.get(url(&city, "/federation/v1/hello")).send().await.expect("hello").json().await.expect("json");
    assert_eq!(hello["you"], "urn:tracenode:node:330106");
    assert_eq!(hello["me"], "urn:tracenode:node:330100");

    // In order: applied. The same batch again: ignored, answered with the cursor.
    let first = stats_batch("330106", 1, "2026-11-20", 3);
    let r = json_of(post_batch(&as_county, &city, &first).await, 200).await;
    assert_eq!((r["outcome"].as_str(), r["applied_through"].as_i64()), (Some("applied"), Some(1)));
    let r = json_of(post_batch(&as_county, &city, &first).await, 200).await;
    assert_eq!((r["outcome"].as_str(), r["applied_through"].as_i64()), (Some("duplicate"), Some(1)));
    // Out of order: a gap is refused; another batch under a used number is refused.
    let third = stats_batch("330106", 3, "2026-11-20", 9);
    let p = expect_problem(post_batch(&as_county, &city, &third).await, 409, "batch_refused").await;
    assert_eq!(p["reason"], "batch_gap", "{p}");
    let other_one = stats_batch("330106", 1, "2026-11-20", 7);
    let p = expect_problem(post_batch(&as_county, &city, &other_one).await, 409, "batch_refused").await;
    assert_eq!(p["reason"], "batch_conflict", "{p}");
    // Corrupted: the body no longer matches its digest (here an SM3 one).
    let mut corrupt = stats_batch("330106", 2, "2026-11-20", 4).digested_with(BodyDigest::Sm3).expect("sm3");
    corrupt.body = corrupt.body.replace("\"records\":4", "\"records\":40");
    let p = expect_problem(post_batch(&as_county, &city, &corrupt).await, 422, "batch_refused").await;
    assert_eq!(p["reason"], "digest_mismatch", "{p}");
    // A batch naming another sender than the certificate.
    let forged = stats_batch("330102", 2, "2026-11-20", 4);
    let p = expect_problem(post_batch(&as_county, &city, &forged).await, 422, "batch_refused").await;
    assert_eq!(p["reason"], "sender_mismatch", "{p}");
    // None of that changed the slice: the first batch's three records stand.
    let day = rolled_up(&city).remove("2026-11-20").expect("day");
    assert_eq!(day.values().map(|f| f.records).sum::<i64>(), 3);
    // The next in order replaces the slice, never adds to it; its body is digested with SM3,
    // which its header names and the parent checks.
    let second = stats_batch("330106", 2, "2026-11-20", 4).digested_with(BodyDigest::Sm3).expect("sm3");
    let wire = serde_json::to_value(&second).expect("json");
    assert_eq!(wire["header"]["digest_algorithm"], "sm3");
    assert!(serde_json::to_value(&first).expect("json")["header"].get("digest_algorithm").is_none());
    json_of(post_batch(&as_county, &city, &second).await, 200).await;
    let day = rolled_up(&city).remove("2026-11-20").expect("day");
    assert_eq!(day.values().map(|f| f.records).sum::<i64>(), 4);
    // A cell of a region outside the county: refused, with the region named; a slice with a
    // row of a region it does not cover: malformed. Neither changes anything.
    let outside = stats_batch("330106", 3, "2026-11-21", 5);
    let outside = Batch::new(
        "statistics",
        &Identity::Node { region: "330106".into() },
        3,
        1,
        outside.body.replace("\"region\":\"330106\"", "\"region\":\"330108\""),
        "2026-11-26T00:00:00Z".into(),
    );
    let p = expect_problem(post_batch(&as_county, &city, &outside).await, 422, "batch_refused").await;
    assert_eq!(p["reason"], "cell_outside_child", "{p}");
    assert!(p["detail_zh"].as_str().expect("zh").contains("330108"), "{p}");
    let stray = Batch::new(
        "statistics",
        &Identity::Node { region: "330106".into() },
        3,
        1,
        stats_batch("330106", 3, "2026-11-21", 5).body.replace("\"day\":", "\"regions\":[\"330107\"],\"day\":"),
        "2026-11-26T00:00:00Z".into(),
    );
    let p = expect_problem(post_batch(&as_county, &city, &stray).await, 422, "batch_refused").await;
    assert_eq!(p["reason"], "malformed_batch", "{p}");
    assert!(!rolled_up(&city).contains_key("2026-11-21"), "nothing of either was applied");

    // A tenant's certificate may not call federation endpoints.
    let tenant = client_with(&county, Leaf::TenantClient { tenant: "platform-a".into() });
    let p = expect_problem(
        post_batch(&tenant, &city, &stats_batch("330106", 3, "2026-11-20", 1)).await,
        403,
        "unknown_sender",
    )
    .await;
    assert!(p["detail"].as_str().expect("detail").contains("tenant"), "{p}");
    // A county cannot act as its sibling: a node the city never enrolled is refused, and the
    // county's own certificate cannot speak for the sibling.
    let sibling = client_with(&city, Leaf::NodeClient);
    let r = sibling.get(url(&province, "/federation/v1/cursors/statistics")).send().await.expect("cursor");
    assert_eq!(r.status(), 200, "the city is the province's child");
    let p = expect_problem(
        post_batch(&as_county, &province, &stats_batch("330106", 1, "2026-11-20", 1)).await,
        403,
        "unknown_sender",
    )
    .await;
    assert!(p["detail_zh"].as_str().expect("zh").contains("330106"), "{p}");
    // No certificate at all: the handshake fails.
    let anonymous = reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("client");
    assert!(anonymous.get(url(&city, "/federation/v1/hello")).send().await.is_err());

    // Every refusal is on record at the parent.
    let sys = city.admin("sysadmin").await;
    let incoming: Value = sys.get(&city, "/api/v1/federation/incoming?child=330106").await.json().await.expect("json");
    let outcomes: Vec<&str> = incoming.as_array().expect("list").iter().filter_map(|b| b["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "refused").count(), 6, "{incoming}");
    assert_eq!(outcomes.iter().filter(|o| **o == "duplicate").count(), 1, "{incoming}");
}
on_both_backends!(batches_are_refused_or_ignored_as_the_protocol_says);

/// The serial of the signing certificate that sealed `child`'s latest applied batch at
/// `parent`, as the parent's monitoring shows it.
async fn latest_seal(parent: &TestApp, sys: &Session, child: &str) -> Option<String> {
    let incoming: Value =
        sys.get(parent, &format!("/api/v1/federation/incoming?child={child}")).await.json().await.expect("json");
    let applied = incoming.as_array().expect("list").iter().find(|b| b["outcome"] == "applied").cloned();
    applied.and_then(|b| b["sealed_by"].as_str().map(str::to_owned))
}

/// With `security.batch_signature = "sm2"` a node seals each batch with its SM2 key under a
/// signing certificate its CA issued; a parent with `require_batch_signature` takes only
/// sealed batches, refuses a seal that does not hold (a changed header, a certificate of
/// another CA, one the child revoked) and records who sealed what it applied. A revoked
/// signing certificate is replaced by the next reload.
async fn batches_sealed_with_sm2_are_checked_and_may_be_required(backend: Backend) {
    let nation = national(backend).await;
    let toml =
        format!("{}[security]\nrequire_batch_signature = true\n", federation_toml(Some(free_port()), Some(&nation)));
    let province = TestApp::spawn_node(backend, Tier::Province, "330000", &toml, |c| enrol(&nation, c)).await;
    let toml = format!("{}[security]\nbatch_signature = \"sm2\"\n", federation_toml(None, Some(&province)));
    let city = TestApp::spawn_node(backend, Tier::City, "330100", &toml, |c| enrol(&province, c)).await;
    let d = desk(&city).await;
    fill(&city, &d, 300, 2, 0).await;
    run(&city, &d.sys, "registrations").await;
    eventually("the sealed registrations arrive", || held(&province).len() == 2).await;
    let key_file = city.config.resolve(&city.config.security.sm2_key_file);
    let first = NodePki::of(&city.config).signing(&key_file).expect("the city's signing certificate");
    let ps = province.admin("sysadmin").await;
    assert_eq!(latest_seal(&province, &ps, "330100").await.as_deref(), Some(first.serial.as_str()));

    let as_city = client_with(&city, Leaf::NodeClient);
    let reason = |p: Value| p["reason"].as_str().unwrap_or_default().to_owned();
    // Unsealed: refused by this parent, whatever else is right.
    let p = expect_problem(
        post_batch(&as_city, &province, &stats_batch("330100", 1, "2026-11-20", 3)).await,
        422,
        "batch_refused",
    )
    .await;
    assert_eq!(reason(p.clone()), "seal_required", "{p}");
    assert!(p["detail_zh"].as_str().is_some_and(|d| d.contains("SM2")), "{p}");
    // A header changed after sealing.
    let now = chrono::Utc::now().to_rfc3339();
    let mut fresh = stats_batch("330100", 1, "2026-11-20", 3);
    fresh.header.created_at = now;
    let mut changed = fresh.clone().sealed(&first.pem, first.key.secret()).expect("seal");
    changed.header.items = 2;
    let p = expect_problem(post_batch(&as_city, &province, &changed).await, 422, "batch_refused").await;
    assert_eq!(reason(p.clone()), "bad_seal", "{p}");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("does not verify")), "{p}");
    // The city's key under a certificate the province's CA issued (naming the province).
    let theirs = NodePki::of(&province.config).authority().expect("ca");
    let public = tracenode_federation::sm2::to_openssl(&first.key.public()).expect("key");
    let other = theirs.issue(&Leaf::NodeSigning, &public).expect("issued");
    let other = String::from_utf8(other.to_pem().expect("pem")).expect("utf-8");
    let forged = fresh.clone().sealed(&other, first.key.secret()).expect("seal");
    let p = expect_problem(post_batch(&as_city, &province, &forged).await, 422, "batch_refused").await;
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("not issued by the sender's CA")), "{p}");
    // Sealed as it should be: taken (its created_at lies within the certificate's validity).
    json_of(post_batch(&as_city, &province, &fresh.sealed(&first.pem, first.key.secret()).expect("seal")).await, 200)
        .await;

    // The city revokes its signing certificate: its list goes up, the province refuses the
    // old certificate, and the city seals with a new one.
    let revoked = tracenode(&city, &["pki", "revoke", "--serial", &first.serial, "--reason", "签名密钥证书停用"]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    eventually("the city seals with a new certificate", || {
        NodePki::of(&city.config).signing(&key_file).is_ok_and(|s| s.serial != first.serial)
    })
    .await;
    eventually_async("the province holds the city's new revocation list", || async {
        let mut late = stats_batch("330100", 2, "2026-11-21", 1);
        late.header.created_at = chrono::Utc::now().to_rfc3339();
        let late = late.sealed(&first.pem, first.key.secret()).expect("seal");
        let r = post_batch(&as_city, &province, &late).await;
        let p: Value = r.json().await.expect("json");
        p["detail"].as_str().is_some_and(|d| d.contains(&format!("{} is revoked", first.serial)))
    })
    .await;
    fill(&city, &d, 310, 1, 0).await;
    run(&city, &d.sys, "registrations").await;
    eventually("the next registration arrives", || held(&province).len() == 3).await;
    let now_sealed_by = latest_seal(&province, &ps, "330100").await.expect("sealed");
    assert_ne!(now_sealed_by, first.serial);
    // The console shows that the batches were sealed.
    let page = ps.get(&province, "/federation").await.text().await.expect("page");
    assert!(page.contains("SM2 签名") && page.contains("已验证"), "the incoming table shows the seals");
}
on_both_backends!(batches_sealed_with_sm2_are_checked_and_may_be_required);

/// An upper tier uses the registrations it holds: searched by code or name, kind, source and
/// own region, paged with a total, exported to Excel (audited), by its staff and by an API key
/// of the 数据使用方 role within its tenant's region; a reporting key reads none of it.
async fn an_upper_tier_searches_and_exports_what_rolled_up(backend: Backend) {
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let city = child_node(backend, &province, Tier::City, "330100", None).await;
    let d = desk(&city).await;
    let codes = fill(&city, &d, 300, 3, 0).await;
    run(&city, &d.sys, "registrations").await;
    eventually("the registrations arrive", || held(&province).len() == 3).await;

    let sys = province.admin("sysadmin").await;
    let sec = province.admin("secadmin").await;
    let staff = province.staff(&sys, &sec, "zj-analyst", None).await;
    let list = |q: &str| format!("/api/v1/federation/registrations?{q}");
    let all = json_of(staff.get(&province, &list("kind=entity")).await, 200).await;
    assert_eq!(all["total"], 3, "{all}");
    let first = &all["rows"][0];
    assert_eq!(
        (first["source_region"].as_str(), first["region"].as_str()),
        (Some("330100"), Some("330106")),
        "{first}"
    );
    assert!(first["name"].as_str().is_some_and(|n| n.starts_with("商户")), "{first}");
    let by_code = json_of(staff.get(&province, &list(&format!("q={}", codes[1]))).await, 200).await;
    assert_eq!((by_code["total"].as_i64(), by_code["rows"][0]["code"].as_str()), (Some(1), Some(codes[1].as_str())));
    let by_name = json_of(staff.get(&province, &list("q=%E5%95%86%E6%88%B7302")).await, 200).await;
    assert_eq!(by_name["total"], 1, "{by_name}");
    let elsewhere = json_of(staff.get(&province, &list("region=330102")).await, 200).await;
    assert_eq!(elsewhere["total"], 0);
    let second = json_of(staff.get(&province, &list("page_size=2&page=2")).await, 200).await;
    assert_eq!((second["total"].as_i64(), second["rows"].as_array().map(Vec::len)), (Some(3), Some(1)), "{second}");
    let p = expect_problem(staff.get(&province, &list("kind=tenant")).await, 422, "validation_failed").await;
    assert_eq!(p["field"], "kind");

    // The console page: the same search, its total, the export link and a refusal explained.
    let html =
        staff.get(&province, "/federation/registrations?kind=entity&page_size=2").await.text().await.expect("page");
    assert!(html.contains(r#"<span id="held-total">3</span>"#) && html.contains("下一页"), "{html}");
    assert!(html.contains("/api/v1/federation/registrations.xlsx?kind=entity"), "the export keeps the search");
    assert!(html.contains("西湖区"), "regions are named");
    assert!(html.contains(r#"class="tile-count" data-region="330100">3<"#), "the tile map of the province: {html}");
    assert!(html.contains("330100 杭州市</a></td><td>3</td>"), "the sources: {html}");
    let refused = staff.get(&province, "/federation/registrations?within=31").await.text().await.expect("page");
    assert!(refused.contains("不在您的数据范围"), "{refused}");
    let registry = staff.get(&province, "/registry").await.text().await.expect("registry page");
    assert!(registry.contains("下级汇总登记"), "the registry page leads to it");
    let book = staff.get(&province, "/api/v1/federation/registrations.xlsx?kind=entity").await;
    assert_eq!(book.status(), 200);
    assert!(book.headers()["content-type"].to_str().expect("type").contains("spreadsheetml"));
    assert!(book.bytes().await.expect("bytes").starts_with(b"PK"), "an xlsx is a zip");
    assert_eq!(province.audit_count("federation.registrations_export", "success"), 1);

    // Machines: a 数据使用方 key of the province's department reads everything; one of a
    // Ningbo department reads nothing of Hangzhou and may not ask; a reporting key reads none.
    let reader = |tenant: Value| {
        let (sys, sec, province) = (&sys, &sec, &province);
        async move {
            let role = province.role_id(sec, "data_reader").await;
            let made = sys
                .post(
                    province,
                    "/api/v1/api-keys",
                    serde_json::json!({"tenant_id": tenant["id"], "role_id": role, "name": "分析"}),
                )
                .await;
            let made = json_of(made, 201).await;
            crate::registry::Machine { client: province.client(), key: made["secret"].as_str().expect("secret").into() }
        }
    };
    let dept = reader(province.tenant(&sys, "zj-commerce", "330000").await).await;
    let seen = json_of(dept.get(&province, &list("kind=entity")).await, 200).await;
    assert_eq!(seen["total"], 3);
    // What they add up to, for the same key: each figure the total of the narrowed search.
    let analysis = |q: &str| format!("/api/v1/federation/registrations/analysis?{q}");
    let a = json_of(dept.get(&province, &analysis("kind=entity")).await, 200).await;
    let count_of = |list: &Value, key: &str| -> i64 {
        list.as_array()
            .expect("buckets")
            .iter()
            .find(|b| b["key"] == key)
            .map_or(-1, |b| b["count"].as_i64().unwrap_or(-1))
    };
    assert_eq!((a["total"].as_i64(), a["region"].as_str()), (Some(3), Some("330000")), "{a}");
    assert_eq!((count_of(&a["by_kind"], "entity"), count_of(&a["by_kind"], "product")), (3, 0), "{a}");
    assert_eq!((count_of(&a["by_region"], "330100"), count_of(&a["by_region"], "330200")), (3, 0), "{a}");
    assert_eq!(count_of(&a["by_source"], "330100"), 3, "{a}");
    let total: i64 = a["by_region"].as_array().expect("regions").iter().filter_map(|b| b["count"].as_i64()).sum();
    assert_eq!(total, 3, "the divisions add up to the total");
    let narrowed = json_of(dept.get(&province, &analysis("region=3301")).await, 200).await;
    assert_eq!(
        (narrowed["region"].as_str(), count_of(&narrowed["by_region"], "330106")),
        (Some("330100"), 3),
        "{narrowed}"
    );
    let searched = json_of(dept.get(&province, &list("region=330106")).await, 200).await;
    assert_eq!(searched["total"], 3, "the tile's figure is the search's total");
    let ningbo = reader(province.tenant(&sys, "nb-commerce", "330200").await).await;
    let seen = json_of(ningbo.get(&province, &list("kind=entity")).await, 200).await;
    assert_eq!(seen["total"], 0, "{seen}");
    let none = json_of(ningbo.get(&province, "/api/v1/federation/registrations/analysis").await, 200).await;
    assert_eq!((none["total"].as_i64(), none["region"].as_str()), (Some(0), Some("330200")), "{none}");
    let p = expect_problem(ningbo.get(&province, &list("within=3301")).await, 422, "validation_failed").await;
    assert_eq!(p["field"], "within");
    let platform = province.tenant(&sys, "zj-platform", "330000").await;
    let key = province.api_key(&sys, &sec, platform["id"].as_str().expect("id")).await;
    let res = province.client().get(province.url(&list(""))).bearer_auth(&key).send().await.expect("get");
    assert_eq!(res.status(), 403);
}
on_both_backends!(an_upper_tier_searches_and_exports_what_rolled_up);

/// Outgoing batches of `kind`: (number, digest, whether the body is kept).
fn outgoing(app: &TestApp, kind: &str) -> Vec<(i64, String, bool)> {
    use diesel::prelude::*;
    use tracenode::db::schema::federation_outgoing as fo;
    let mut conn = app.db.conn().expect("conn");
    let rows: Vec<(i64, String, String)> = fo::table
        .filter(fo::kind.eq(kind))
        .order(fo::batch_no)
        .select((fo::batch_no, fo::digest, fo::batch))
        .load(&mut *conn)
        .expect("outgoing");
    rows.into_iter().map(|(n, d, b)| (n, d, !b.is_empty())).collect()
}

/// Registry outbox entries forwarded from below that still carry their content.
fn forwarded(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use tracenode::db::schema::registry_outbox as ro;
    let mut conn = app.db.conn().expect("conn");
    ro::table
        .filter(ro::source_region.is_not_null())
        .filter(ro::payload.ne(""))
        .count()
        .get_result(&mut *conn)
        .expect("outbox")
}

/// Retention: a province keeping applied batches for 0 days empties their bodies once the
/// nation applied them (number and digest kept) and drops the registrations it forwarded
/// from its outbox, holding each once; the nation, with no parent, never keeps a forwarded
/// copy; a city with the default keeps its bodies. The figures above stay exact.
async fn applied_batches_are_pruned_and_registrations_held_once(backend: Backend) {
    let nation = national(backend).await;
    let province =
        child_node_with(backend, &nation, Tier::Province, "330000", Some(free_port()), "keep_sent_days = 0\n").await;
    let city = child_node(backend, &province, Tier::City, "330100", None).await;
    let d = desk(&city).await;
    fill(&city, &d, 300, 3, 0).await;
    run(&city, &d.sys, "registrations").await;
    eventually("the city's registrations arrive", || held(&province).len() == 3).await;
    let sys = province.admin("sysadmin").await;
    run(&province, &sys, "registrations").await;
    eventually("they reach the nation", || held(&nation).len() == 3).await;
    eventually("and the province prunes what the nation applied", || {
        let sent = outgoing(&province, "registrations");
        !sent.is_empty() && sent.iter().all(|(_, digest, body)| !body && digest.len() == 64)
    })
    .await;
    assert_eq!(forwarded(&province), 0, "held once, in the registrations from below");
    assert_eq!(held(&province).len(), 3);
    assert_eq!(forwarded(&nation), 0, "the nation forwards to no one");
    assert!(outgoing(&city, "registrations").iter().all(|(_, _, body)| *body), "the city keeps 30 days");
    // What is pruned is not offered again, and nothing goes missing: a new registration
    // still travels the whole way.
    let more = fill(&city, &d, 400, 1, 0).await;
    run(&city, &d.sys, "registrations").await;
    eventually("the next registration arrives", || held(&province).len() == 4).await;
    run(&province, &sys, "registrations").await;
    eventually("and goes on up", || held(&nation).len() == 4).await;
    let at_top = json_of(
        nation.admin("sysadmin").await.get(&nation, &format!("/api/v1/federation/registrations?q={}", more[0])).await,
        200,
    )
    .await;
    assert_eq!(at_top["total"], 1, "{at_top}");
}
on_both_backends!(applied_batches_are_pruned_and_registrations_held_once);

/// The notices a node received from above: (title, body).
fn notices(app: &TestApp) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use tracenode::db::schema::federation_received as fr;
    let mut conn = app.db.conn().expect("conn");
    let payloads: Vec<String> =
        fr::table.filter(fr::kind.eq("notice")).select(fr::payload).load(&mut *conn).expect("received");
    payloads
        .iter()
        .map(|p| {
            let v: Value = serde_json::from_str(p).expect("notice");
            (v["title"].as_str().unwrap_or("").to_owned(), v["body"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

/// National uniqueness: one unified social credit code registered in two cities is found at
/// their province, where the two meet — listed with both registrations — and each city is
/// told by a notice down the tree.
async fn a_code_registered_twice_is_found_where_the_two_meet(backend: Backend) {
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let hangzhou = child_node(backend, &province, Tier::City, "330100", None).await;
    let ningbo = child_node(backend, &province, Tier::City, "330200", None).await;
    let hz = desk(&hangzhou).await;
    let codes = fill(&hangzhou, &hz, 300, 2, 0).await;
    run(&hangzhou, &hz.sys, "registrations").await;
    eventually("Hangzhou's registrations arrive", || held(&province).len() == 2).await;
    // Ningbo registers the first of them again, as a shop of its own.
    let nb = desk_in(&ningbo, "330203").await;
    let created = json_of(
        nb.key
            .post(&ningbo, "/api/v1/registry/entities", crate::registry::entity(&codes[0], "宁波同码商行", "330203"))
            .await,
        201,
    )
    .await;
    let id = created["entity"]["id"].as_str().expect("id").to_owned();
    if created["entity"]["status"] == "pending" {
        let res = nb
            .reviewer
            .post(&ningbo, &format!("/api/v1/registry/entities/{id}/review"), serde_json::json!({"approve": true}))
            .await;
        assert_eq!(res.status(), 200);
    }
    run(&ningbo, &nb.sys, "registrations").await;
    eventually("Ningbo's registration arrives", || held(&province).len() == 3).await;

    let sys = province.admin("sysadmin").await;
    let found = json_of(sys.get(&province, "/api/v1/federation/registrations/duplicates").await, 200).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["rows"][0]["code"], codes[0].as_str());
    let mut sources: Vec<&str> = found["rows"][0]["holders"]
        .as_array()
        .expect("holders")
        .iter()
        .filter_map(|h| h["source_region"].as_str())
        .collect();
    sources.sort_unstable();
    assert_eq!(sources, ["330100", "330200"], "{found}");
    let names: Vec<&str> =
        found["rows"][0]["holders"].as_array().expect("holders").iter().filter_map(|h| h["name"].as_str()).collect();
    assert!(names.contains(&"宁波同码商行"), "{found}");
    let page = sys.get(&province, "/federation").await.text().await.expect("page");
    let at = page
        .find("跨辖区重复登记")
        .map(|i| page[i..].chars().take(400).collect::<String>())
        .unwrap_or_else(|| page.chars().take(600).collect());
    assert!(page.contains("跨辖区重复登记（1）") && page.contains("宁波同码商行"), "the console lists it: {at}");
    // Only Ningbo's part: the code is still a duplicate only when both sides are in view.
    let part = json_of(sys.get(&province, "/api/v1/federation/registrations/duplicates?within=3302").await, 200).await;
    assert_eq!(part["total"], 0, "{part}");
    // Each city is told.
    for city in [&hangzhou, &ningbo] {
        eventually("the notice reaches the city", || notices(city).iter().any(|(t, _)| t.contains(codes[0].as_str())))
            .await;
        let told = notices(city);
        let (_, body) = told.iter().find(|(t, _)| t.contains(codes[0].as_str())).expect("notice");
        assert!(body.contains("330100") && body.contains("330200") && body.contains("330000"), "{body}");
    }
    // Each side's reviewers see it as a claim to decide, with every place it is registered.
    let claims = "/api/v1/registry/duplicate-claims?status=open";
    let mut claim_ids = Vec::new();
    for (city, d) in [(&hangzhou, &hz), (&ningbo, &nb)] {
        let page = json_of(d.reviewer.get(city, claims).await, 200).await;
        assert_eq!(page["total"], 1, "{page}");
        let claim = &page["rows"][0];
        assert_eq!((claim["code"].as_str(), claim["found_at"].as_str()), (Some(codes[0].as_str()), Some("330000")));
        let mut regions: Vec<&str> =
            claim["holders"].as_array().expect("holders").iter().filter_map(|h| h["region"].as_str()).collect();
        regions.sort_unstable();
        assert_eq!(regions, ["330100", "330200"], "{claim}");
        assert_eq!(claim["entity"]["status"], "approved", "{claim}");
        let html = d.reviewer.get(city, "/registry/review").await.text().await.expect("review page");
        assert!(html.contains("跨辖区重复登记待核实（1）") && html.contains("撤销本级登记"), "the queue shows it");
        claim_ids.push(claim["id"].as_str().expect("id").to_owned());
    }
    run(&province, &sys, "registrations").await;
    eventually("Ningbo's registration reaches the nation", || held(&nation).iter().any(|(s, _)| s == "330200")).await;
    let decide = |id: &str| format!("/api/v1/registry/duplicate-claims/{id}/decision");
    let p = expect_problem(
        nb.reviewer.post(&ningbo, &decide(&claim_ids[1]), serde_json::json!({"decision": "keep", "reason": ""})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "reason");
    let res =
        nb.key.post(&ningbo, &decide(&claim_ids[1]), serde_json::json!({"decision": "withdraw", "reason": "x"})).await;
    assert_eq!(res.status(), 403, "a platform's key does not review");
    // Ningbo withdraws its registration; Hangzhou keeps its own. Each is audited, once.
    let withdrawn = json_of(
        nb.reviewer
            .post(
                &ningbo,
                &decide(&claim_ids[1]),
                serde_json::json!({"decision": "withdraw", "reason": "经核实为杭州企业，误登"}),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(
        (withdrawn["status"].as_str(), withdrawn["entity"]["status"].as_str()),
        (Some("withdrawn"), Some("rejected"))
    );
    let again = nb
        .reviewer
        .post(&ningbo, &decide(&claim_ids[1]), serde_json::json!({"decision": "keep", "reason": "再次"}))
        .await;
    assert_eq!(again.status(), 409, "a claim is decided once");
    assert_eq!(ningbo.audit_count("duplicate_claim.withdraw", "success"), 1);
    // Hangzhou decides in the console's review queue.
    let form = [("csrf", hz.reviewer.csrf.as_str()), ("decision", "keep"), ("reason", "本地企业")];
    let path = format!("/registry/duplicate-claims/{}/decision", claim_ids[0]);
    let res = hz.reviewer.client.post(hangzhou.url(&path)).form(&form).send().await.expect("form");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("page");
    assert!(html.contains("已确认保留") && html.contains("跨辖区重复登记待核实（0）"), "the queue after the decision");
    let kept = json_of(hz.reviewer.get(&hangzhou, "/api/v1/registry/duplicate-claims").await, 200).await;
    let kept = &kept["rows"][0];
    assert_eq!((kept["status"].as_str(), kept["entity"]["status"].as_str()), (Some("kept"), Some("approved")));
    assert_eq!(hangzhou.audit_count("duplicate_claim.keep", "success"), 1);
    // The withdrawal goes up: the province stops holding Ningbo's registration, and the
    // duplicate clears where it was found.
    run(&ningbo, &nb.sys, "registrations").await;
    eventually("the withdrawal arrives", || held(&province).len() == 2).await;
    let found = json_of(sys.get(&province, "/api/v1/federation/registrations/duplicates").await, 200).await;
    assert_eq!(found["total"], 0, "{found}");
    run(&province, &sys, "registrations").await;
    eventually("and reaches the nation", || held(&nation).iter().all(|(s, _)| s != "330200")).await;
}
on_both_backends!(a_code_registered_twice_is_found_where_the_two_meet);

/// A trade whose counterpart is registered at a sibling city raises no anomaly: Ningbo asks
/// the province, which finds it among Hangzhou's rolled-up registrations. A code registered
/// nowhere is still unknown, says so, and under a reject policy only its record is refused;
/// with the province away the reason says it could not be asked, and nothing is cached.
async fn a_counterpart_registered_next_door_is_known(backend: Backend) {
    let nation = national(backend).await;
    let mut province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let hangzhou = child_node(backend, &province, Tier::City, "330100", None).await;
    let ningbo = child_node(backend, &province, Tier::City, "330200", None).await;
    let hz = desk(&hangzhou).await;
    let mut registered = fill(&hangzhou, &hz, 300, 2, 0).await;
    let (theirs, later) = (registered.remove(0), registered.remove(0));
    run(&hangzhou, &hz.sys, "registrations").await;
    eventually("Hangzhou's registrations arrive", || held(&province).len() == 2).await;

    let nb = desk_in(&ningbo, "330203").await;
    let ours = code("330203", 900);
    let created =
        json_of(nb.key.post(&ningbo, "/api/v1/registry/entities", entity(&ours, "宁波本地商行", "330203")).await, 201)
            .await;
    if created["entity"]["status"] == "pending" {
        let id = created["entity"]["id"].as_str().expect("id");
        let path = format!("/api/v1/registry/entities/{id}/review");
        assert_eq!(nb.reviewer.post(&ningbo, &path, serde_json::json!({"approve": true})).await.status(), 200);
    }
    let nobody = code("330106", 999);
    let sale = |id: &str, to: &str| {
        let mut r = record(id, &format!("TC-{id}"), &ours, to, 2.0, Some(8.0));
        r.from.region = "330203".into();
        r
    };
    let sales = [sale("x-1", &theirs), sale("x-2", &nobody)];
    let r = json_of(import(&ningbo, &nb.key, "format=csv", csv_of(&sales)).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["flagged"].as_u64()), (Some(2), Some(1)), "{r}");
    let open = json_of(nb.key.get(&ningbo, "/api/v1/quality/anomalies?status=open").await, 200).await;
    let flagged: Vec<(&str, &str)> = open
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| Some((a["record_id"].as_str()?, a["rule"].as_str()?)))
        .collect();
    assert_eq!(flagged, [("x-2", "unknown_reference")], "only the code registered nowhere: {open}");
    assert!(open.to_string().contains("各级上级节点均未注册"), "the reason says the tree was asked: {open}");

    // Under a reject policy the honest trade is kept and only the stranger refused.
    let tenant = {
        use diesel::prelude::*;
        use tracenode::db::schema::tenants;
        let mut conn = ningbo.db.conn().expect("conn");
        tenants::table
            .filter(tenants::code.eq("platform-a"))
            .select(tenants::id)
            .first::<String>(&mut *conn)
            .expect("id")
    };
    let res = nb
        .reviewer
        .put(&ningbo, &format!("/api/v1/ingest/policies/{tenant}"), serde_json::json!({"unknown_reference": "reject"}))
        .await;
    assert_eq!(res.status(), 200);
    let again = [sale("y-1", &theirs), sale("y-2", &nobody)];
    let r = json_of(import(&ningbo, &nb.key, "format=csv", csv_of(&again)).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(r["rejections"][0]["record_id"], "y-2", "{r}");

    // With the province away the code cannot be checked: the reason says so and nothing is
    // remembered, so once the province is back the same code is known.
    province.stop().await;
    let r = json_of(import(&ningbo, &nb.key, "format=csv", csv_of(&[sale("z-1", &later)])).await, 200).await;
    assert_eq!(r["rejected"].as_u64(), Some(1), "{r}");
    let reason = r["rejections"][0]["reason_zh"].as_str().unwrap_or_default();
    assert!(reason.contains("上级节点暂不可达"), "{r}");
    province.restart().await;
    let r = json_of(import(&ningbo, &nb.key, "format=csv", csv_of(&[sale("z-2", &later)])).await, 200).await;
    assert_eq!((r["accepted"].as_u64(), r["rejected"].as_u64()), (Some(1), Some(0)), "{r}");
}
on_both_backends!(a_counterpart_registered_next_door_is_known);

async fn a_parent_away_gets_everything_exactly_once(backend: Backend) {
    let nation = national(backend).await;
    let mut province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let city = child_node(backend, &province, Tier::City, "330100", None).await;
    let d = desk(&city).await;
    fill(&city, &d, 300, 2, 3).await;
    run(&city, &d.sys, "registrations").await;
    eventually("the first registrations arrive", || held(&province).len() == 2).await;

    // The province goes away; the city keeps working and queueing.
    province.stop().await;
    fill(&city, &d, 310, 2, 2).await;
    let r = run(&city, &d.sys, "registrations").await;
    assert_eq!((r["made"].as_i64(), r["pending"].as_i64()), (Some(1), Some(1)), "{r}");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("upstream_failed")), "{r}");
    let status: Value = d.sys.get(&city, "/api/v1/federation").await.json().await.expect("json");
    assert_eq!(status["uplink"][0]["pending"], 1, "{status}");
    // An audit checkpoint waits too, signed with the client certificate the city then renews.
    let r = run(&city, &d.sys, "audit-checkpoints").await;
    assert_eq!((r["made"].as_i64(), r["pending"].as_i64()), (Some(1), Some(1)), "{r}");
    let before = status["client_certificate_serial"].as_str().expect("serial").to_owned();
    renew_client_certificate(&city, &d.sys, &before).await;

    // Another process holding the lease keeps this one from running the same kind.
    city.sql("UPDATE federation_uplink SET lease_holder = 'another-process', lease_until = '2999-01-01 00:00:00' WHERE kind = 'registrations'")
        .expect("lease");
    let r = run(&city, &d.sys, "registrations").await;
    assert_eq!((r["busy"].as_bool(), r["sent"].as_i64()), (Some(true), Some(0)), "{r}");
    city.sql("UPDATE federation_uplink SET lease_holder = NULL, lease_until = NULL WHERE kind = 'registrations'")
        .expect("free");

    // It comes back: the waiting batch arrives once, and a resend changes nothing.
    province.restart().await;
    let r = run(&city, &d.sys, "registrations").await;
    assert_eq!((r["sent"].as_i64(), r["pending"].as_i64()), (Some(1), Some(0)), "{r}");
    assert_eq!(held(&province).len(), 4);
    eventually("the national node holds all four once", || held(&nation).len() == 4).await;
    // The checkpoint signed before the renewal is taken: it carries its signer's certificate.
    let r = run(&city, &d.sys, "audit-checkpoints").await;
    assert_eq!((r["pending"].as_i64(), r["error"].as_str()), (Some(0), None), "{r}");
    let made = {
        use diesel::prelude::*;
        use tracenode::db::schema::federation_outgoing as fo;
        let mut conn = city.db.conn().expect("conn");
        fo::table.filter(fo::kind.eq("audit-checkpoints")).count().get_result::<i64>(&mut *conn).expect("count")
    };
    let kept = tracenode::federation::kinds::checkpoints::kept(&mut province.db.conn().expect("conn"), "330100")
        .expect("kept");
    assert!(made >= 2, "{made}");
    assert_eq!(kept.len() as i64, made, "every checkpoint the city made is kept: {kept:?}");
}
on_both_backends!(a_parent_away_gets_everything_exactly_once);

pub(crate) fn tracenode(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .args(args)
        .env("TRACENODE_CONFIG", app.node_dir().join("tracenode.toml"))
        .output()
        .expect("run tracenode")
}

pub(crate) fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A client presenting the tenant bundle `tracenode pki issue` wrote into `dir`.
fn tenant_client(dir: &std::path::Path) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("tenant.pem")).expect("pem").collect::<Result<_, _>>().expect("chain");
    let key = PrivateKeyDer::from_pem_file(dir.join("tenant.key")).expect("key");
    let root = CertificateDer::from_pem_file(dir.join("root.pem")).expect("root");
    let tls =
        transport::client_config(Credentials { chain, key }, &transport::Trust { root, crls: vec![] }).expect("tls");
    reqwest::Client::builder().use_preconfigured_tls(tls).build().expect("client")
}

async fn certificates_are_issued_rotated_revoked_and_expire(backend: Backend) {
    let smtp = crate::smtp::SmtpServer::start().await;
    let nation = national(backend).await;
    let toml = format!("{}\n{}", federation_toml(Some(free_port()), Some(&nation)), smtp.config());
    let province = TestApp::spawn_node(backend, Tier::Province, "330000", &toml, |c| enrol(&nation, c)).await;
    let d = desk(&province).await;
    let duty = serde_json::json!({"name": "值班邮箱", "kind": "email", "target": "duty@node.test"});
    json_of(d.reviewer.post(&province, "/api/v1/notify/channels", duty).await, 201).await;
    let codes = fill(&province, &d, 500, 2, 1).await;

    // A tenant's certificate, issued for 20 days: the tenant's machine reports with it, as
    // itself, and the operators are told by mail that it expires soon.
    let out = tempfile::tempdir().expect("tempdir");
    let first = out.path().join("first");
    let issued = tracenode(
        &province,
        &["pki", "issue", "--tenant", "platform-a", "--days", "20", "--out", first.to_str().expect("p")],
    );
    assert!(issued.status.success(), "{}", text(&issued));
    let machine = tenant_client(&first);
    let records = vec![record("cert-1", "TC-cert-1", &codes[0], &codes[1], 1.0, None)];
    let res =
        machine.post(url(&province, "/api/v1/imports?format=csv")).body(csv_of(&records)).send().await.expect("import");
    let r = json_of(res, 200).await;
    assert_eq!(r["accepted"], 1, "{r}");
    let tenants: Value =
        json_of(machine.get(url(&province, "/api/v1/tenants")).send().await.expect("tenants"), 200).await;
    assert_eq!(tenants.as_array().map(Vec::len), Some(1), "a tenant sees only itself: {tenants}");
    // The console is not served here; a node's certificate is no tenant.
    let res = machine.get(url(&province, "/login")).send().await.expect("login");
    assert_eq!(res.status(), 404);
    let as_node = client_with(&province, Leaf::NodeClient);
    let p = expect_problem(
        as_node.get(url(&province, "/api/v1/trace/records")).send().await.expect("records"),
        401,
        "unauthenticated",
    )
    .await;
    assert!(p["detail"].as_str().expect("detail").contains("node certificate"), "{p}");
    let mut told = Vec::new();
    for _ in 0..50 {
        json_of(d.reviewer.post(&province, "/api/v1/ingest/alerts/check", serde_json::json!({})).await, 200).await;
        told = smtp.received();
        if !told.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(told.iter().any(|m| m.subject.contains("证书将于") && m.body.contains("platform-a")), "{told:?}");

    // Rotation: a second certificate; the first still works until it is revoked.
    let second = out.path().join("second");
    let rotated =
        tracenode(&province, &["pki", "rotate", "--tenant", "platform-a", "--out", second.to_str().expect("p")]);
    assert!(rotated.status.success(), "{}", text(&rotated));
    let newer = tenant_client(&second);
    for c in [&machine, &newer] {
        assert_eq!(c.get(url(&province, "/api/v1/tenants")).send().await.expect("tenants").status(), 200);
    }
    let listed = text(&tracenode(&province, &["pki", "list"]));
    assert!(listed.contains("superseded") && listed.contains("tenant_client"), "{listed}");
    let old_serial = {
        let mut conn = province.db.conn().expect("conn");
        tracenode::pki::registry::list(&mut conn, true)
            .expect("register")
            .into_iter()
            .find(|c| c.kind == "tenant_client" && c.status == "superseded")
            .expect("superseded")
            .serial
    };
    let revoked = tracenode(&province, &["pki", "revoke", "--serial", &old_serial, "--reason", "密钥泄露"]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    // Refused at once by the register, then by the TLS layer after the lists reload.
    let mut refused_in_handshake = false;
    assert_eq!(machine.get(url(&province, "/api/v1/tenants")).send().await.expect("open connection").status(), 401);
    for _ in 0..50 {
        // A new connection each time: the lists apply at the handshake.
        match tenant_client(&first).get(url(&province, "/api/v1/tenants")).send().await {
            Err(_) => {
                refused_in_handshake = true;
                break;
            }
            Ok(r) => assert_eq!(r.status(), 401, "a revoked certificate is never taken"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused_in_handshake, "the revocation list reached the listener");
    assert_eq!(newer.get(url(&province, "/api/v1/tenants")).send().await.expect("tenants").status(), 200);

    // An expired certificate is refused.
    let pki = NodePki::of(&province.config);
    let authority = pki.authority().expect("authority");
    let now = chrono::Utc::now().timestamp();
    let validity = tracenode_federation::tiers::Validity { not_before: now - 10 * 86_400, not_after: now - 86_400 };
    let (cert, key) = authority.issue_with_key_for(&Leaf::NodeClient, &validity).expect("expired");
    let mut chain = vec![rustls::pki_types::CertificateDer::from(cert.to_der().expect("der"))];
    chain.extend(
        pki.own(tracenode::pki::own::Own::Client, &[])
            .expect("own")
            .credentials()
            .expect("c")
            .chain
            .into_iter()
            .skip(1),
    );
    let creds = Credentials {
        chain,
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.private_key_to_pkcs8().expect("k").into()),
    };
    let expired = reqwest::Client::builder()
        .use_preconfigured_tls(transport::client_config(creds, &pki.trust().expect("trust")).expect("tls"))
        .build()
        .expect("client");
    assert!(
        expired.get(url(&nation, "/federation/v1/hello")).send().await.is_err(),
        "an expired certificate is refused"
    );
    let as_province = client_with(&province, Leaf::NodeClient);
    assert_eq!(as_province.get(url(&nation, "/federation/v1/hello")).send().await.expect("hello").status(), 200);
}
on_both_backends!(certificates_are_issued_rotated_revoked_and_expire);

/// Waits until an asynchronous check holds, for at most 30 seconds.
async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

/// What goes down is checked before it is queued: only the national node sends the national
/// catalogue, only notices and the catalogue are sent by hand, and a county may not make a
/// national category. (The messages' way down through every tier runs over real processes
/// in the end-to-end scenarios.)
async fn what_goes_down_is_checked_before_it_is_queued(backend: Backend) {
    let nation = national(backend).await;
    let top = desk(&nation).await;
    let add = |code: &str, name: &str| serde_json::json!({"parent_code": "01", "code": code, "name": name});
    json_of(top.reviewer.post(&nation, "/api/v1/registry/catalogue", add("0101", "蔬菜")).await, 201).await;
    let send = |body: Value| top.sys.post(&nation, "/api/v1/federation/messages", body);
    json_of(send(serde_json::json!({"kind": "catalogue"})).await, 201).await;
    json_of(
        send(serde_json::json!({"kind": "notice", "title": "应急演练通知", "body": "11月30日全国演练"})).await,
        201,
    )
    .await;
    for refused in [
        serde_json::json!({"kind": "sms", "title": "x"}),
        serde_json::json!({"kind": "crl"}),
        serde_json::json!({"kind": "notice", "title": "", "body": "无标题"}),
    ] {
        let p = expect_problem(send(refused.clone()).await, 422, "validation_failed").await;
        assert!(p["field"] == "kind" || p["field"] == "title", "{refused}: {p}");
    }
    let queued: Vec<String> = {
        let mut conn = nation.db.conn().expect("conn");
        let (mail, _) = tracenode::federation::mailbox::for_child(&mut conn, "330000", 0).expect("mailbox");
        // The node's own revocation list goes down on its own, when its CA publishes one.
        mail.into_iter().map(|m| m.kind).filter(|k| k != "crl").collect()
    };
    assert_eq!(queued, ["catalogue", "notice"], "only what passed the checks is queued");

    let county = TestApp::spawn(backend).await;
    let below = desk(&county).await;
    json_of(below.reviewer.post(&county, "/api/v1/registry/catalogue", add("0150", "西湖龙井")).await, 201).await;
    let p = expect_problem(
        below.reviewer.post(&county, "/api/v1/registry/catalogue", add("0102", "水果")).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "code");
}
on_both_backends!(what_goes_down_is_checked_before_it_is_queued);

/// The parent's side of enrolment over the network, on one node: who may ask, what the
/// operator sees and decides, what the asker fetches with its token, and the limits. (A
/// city asking, installing its CA and calling over mutual TLS runs across processes in the
/// end-to-end scenarios.)
async fn enrolment_requests_wait_for_the_operator(backend: Backend) {
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let anonymous = province.client();
    let request = |region: &str| {
        let (req, _) = tracenode_federation::tiers::Request::new(region).expect("request");
        let fingerprint = req.fingerprint().expect("fingerprint");
        (String::from_utf8(req.to_pem().expect("pem")).expect("utf8"), fingerprint)
    };
    let post = |pem: String| {
        anonymous
            .post(province.url("/api/v1/federation/enrolments"))
            .json(&serde_json::json!({"request_pem": pem, "name": "杭州市节点"}))
            .send()
    };
    let fetch = |id: &str, token: &str| {
        anonymous
            .get(province.url(&format!("/api/v1/federation/enrolments/{id}")))
            .header("X-Enrolment-Token", token)
            .send()
    };

    // A city asks; it gets a ticket with its key's fingerprint.
    let (pem, fingerprint) = request("330100");
    let ticket = json_of(post(pem).await.expect("post"), 202).await;
    assert_eq!(ticket["fingerprint"], fingerprint.as_str());
    let (id, token) = (ticket["id"].as_str().expect("id"), ticket["token"].as_str().expect("token"));
    assert_eq!(json_of(fetch(id, token).await.expect("fetch"), 200).await["status"], "pending");

    // Refused at once: a second request for the same region, a region not directly below,
    // and what is no request.
    expect_problem(post(request("330100").0).await.expect("post"), 409, "conflict").await;
    let p = expect_problem(post(request("330106").0).await.expect("post"), 422, "validation_failed").await;
    assert_eq!(p["field"], "region");
    expect_problem(post("not a request".into()).await.expect("post"), 422, "validation_failed").await;

    // The operator sees the request with its fingerprint and approves it; a wrong token
    // sees nothing; the right one fetches the signed bundle.
    let sys = province.admin("sysadmin").await;
    let waiting: Value = sys.get(&province, "/api/v1/federation/enrolments").await.json().await.expect("json");
    assert_eq!(waiting.as_array().map(Vec::len), Some(1), "{waiting}");
    assert_eq!(waiting[0]["region"], "330100");
    assert_eq!(waiting[0]["name"], "杭州市节点");
    assert_eq!(waiting[0]["fingerprint"], fingerprint.as_str());
    assert_eq!(fetch(id, "guess").await.expect("fetch").status(), 404);
    let (sys, app) = (&sys, &province);
    let decide = |id: &str, body: Value| {
        let path = format!("/api/v1/federation/enrolments/{id}/decision");
        async move { sys.post(app, &path, body).await }
    };
    let decided = json_of(decide(id, serde_json::json!({"approve": true})).await, 200).await;
    assert_eq!(decided["status"], "approved");
    expect_problem(decide(id, serde_json::json!({"approve": true})).await, 409, "conflict").await;
    assert_eq!(province.audit_count("pki.sign_child", "success"), 1);
    let collected = json_of(fetch(id, token).await.expect("fetch"), 200).await;
    assert_eq!(collected["status"], "approved");
    for part in ["ca", "chain", "root"] {
        assert!(collected["bundle"][part].as_str().is_some_and(|p| p.contains("BEGIN CERTIFICATE")), "{collected}");
    }

    // Another city is rejected, with the reason, which its operator reads.
    let ticket = json_of(post(request("330200").0).await.expect("post"), 202).await;
    let (id, token) = (ticket["id"].as_str().expect("id"), ticket["token"].as_str().expect("token"));
    let p = expect_problem(decide(id, serde_json::json!({"approve": false})).await, 422, "validation_failed").await;
    assert_eq!(p["field"], "reason");
    json_of(decide(id, serde_json::json!({"approve": false, "reason": "指纹不符"})).await, 200).await;
    let told = json_of(fetch(id, token).await.expect("fetch"), 200).await;
    assert_eq!((told["status"].as_str(), told["reason"].as_str()), (Some("rejected"), Some("指纹不符")), "{told}");
    assert!(told["bundle"].is_null(), "{told}");

    // One address may keep five requests waiting, not more.
    for region in ["330300", "330400", "330500", "330600", "330700"] {
        assert_eq!(post(request(region).0).await.expect("post").status(), 202, "{region}");
    }
    expect_problem(post(request("330800").0).await.expect("post"), 429, "rate_limited").await;
}
on_both_backends!(enrolment_requests_wait_for_the_operator);

fn industry_batch(sender: &str, no: i64, items: Value) -> Batch {
    let n = items.as_array().map_or(0, Vec::len) as i64;
    Batch::new(
        "industry-statistics",
        &Identity::Node { region: sender.into() },
        no,
        n,
        items.to_string(),
        "2026-12-03T00:00:00Z".into(),
    )
}

fn industry_item(source: &str, form: &str, period: &str, revision: i64, a01: i64) -> Value {
    serde_json::json!({"source_region": source, "form": form, "period": period, "revision": revision,
        "units_expected": 1, "units_reported": 1, "children_expected": 0, "children_reported": 0,
        "figures": [{"code": "A01", "sum_milli": a01, "count": 1, "max_milli": a01}]})
}

/// Industry statistics summaries a parent cannot take are refused whole with the protocol's
/// reason, and change nothing; a stale revision changes nothing either.
async fn industry_summaries_are_refused_as_the_protocol_says(backend: Backend) {
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", None).await;
    let as_province = client_with(&province, Leaf::NodeClient);
    let d = desk_in(&nation, "110105").await;
    crate::industry::import_classes(&nation, &d.reviewer).await;
    json_of(d.reviewer.post(&nation, "/api/v1/industry/forms", crate::industry::form("SX-501")).await, 201).await;
    json_of(d.reviewer.post(&nation, "/api/v1/industry/forms/SX-501/publish", serde_json::json!({})).await, 200).await;
    for (item, reason) in [
        (industry_item("330000", "SX-999", "2026-11", 1, 5_000), "unknown_form"),
        (industry_item("330000", "SX-501", "2026-Q4", 1, 5_000), "unknown_form"),
        (industry_item("320000", "SX-501", "2026-11", 1, 5_000), "source_outside_child"),
        (
            industry_item("330000", "SX-501", "2026-11", 1, 5_000)
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert(
                        "figures".into(),
                        serde_json::json!([{"code": "Z9", "sum_milli": 1, "count": 1, "max_milli": 1}]),
                    );
                    Value::Object(o)
                })
                .expect("item"),
            "malformed_batch",
        ),
        (
            industry_item("330000", "SX-501", "2026-11", 1, 5_000)
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("units_reported".into(), serde_json::json!(2));
                    Value::Object(o)
                })
                .expect("item"),
            "malformed_batch",
        ),
    ] {
        // A good item first: the whole batch is refused, the good item with it.
        let batch = industry_batch(
            "330000",
            1,
            serde_json::json!([industry_item("330102", "SX-501", "2026-11", 1, 7_000), item]),
        );
        let p = expect_problem(post_batch(&as_province, &nation, &batch).await, 422, "batch_refused").await;
        assert_eq!(p["reason"], reason, "{p}");
    }
    let nothing = json_of(
        d.reviewer.get(&nation, "/api/v1/industry/forms/SX-501/periods/2026-11/summary?region=330000").await,
        200,
    )
    .await;
    assert!(nothing["total"].is_null() && nothing["parts"] == serde_json::json!([]), "nothing applied: {nothing}");
    // Taken; then an older revision of the same summary changes nothing.
    let good = industry_batch("330000", 1, serde_json::json!([industry_item("330000", "SX-501", "2026-11", 2, 9_000)]));
    json_of(post_batch(&as_province, &nation, &good).await, 200).await;
    let stale =
        industry_batch("330000", 2, serde_json::json!([industry_item("330000", "SX-501", "2026-11", 1, 1_000)]));
    let r = json_of(post_batch(&as_province, &nation, &stale).await, 200).await;
    assert_eq!(r["changed"], 0, "{r}");
    let held = json_of(
        d.reviewer.get(&nation, "/api/v1/industry/forms/SX-501/periods/2026-11/summary?region=330000").await,
        200,
    )
    .await;
    assert_eq!(held["total"]["revision"], 2, "{held}");
    assert_eq!(held["values"][0]["value"], "9", "{held}");
    let national_total =
        json_of(d.reviewer.get(&nation, "/api/v1/industry/forms/SX-501/periods/2026-11/summary").await, 200).await;
    assert_eq!(national_total["values"][0]["value"], "9", "the parent's own summary follows: {national_total}");
}
on_both_backends!(industry_summaries_are_refused_as_the_protocol_says);
