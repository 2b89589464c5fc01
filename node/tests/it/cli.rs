//! The command line: init, help, refusals, and the operator commands.

use std::process::{Command, Output};

use crate::support::{fresh_pg_database, Backend};

fn tracenode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .args(args)
        .env_remove("TRACENODE_CONFIG")
        .output()
        .expect("run tracenode")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A county node made by `tracenode init` in `dir`, on `database` (a PostgreSQL URL) or its
/// own SQLite file; returns its configuration file.
fn init_county(dir: &std::path::Path, name: &str, database: Option<&str>) -> std::path::PathBuf {
    let dir = dir.to_str().expect("path");
    let mut args = vec!["init", "--tier", "county", "--region", "330106", "--name", name, "--dir", dir];
    if let Some(url) = database {
        args.extend(["--database-url", url]);
    }
    let out = tracenode(&args);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("ERROR") && !said.contains("locked"), "a clean init writes no errors: {said}");
    std::path::Path::new(dir).join("tracenode.toml")
}

#[test]
fn help_describes_every_command() {
    let out = tracenode(&["--help"]);
    assert!(out.status.success());
    let help = text(&out);
    for cmd in [
        "init",
        "serve",
        "migrate",
        "user",
        "tenant",
        "apikey",
        "audit",
        "import",
        "pki",
        "rollup",
        "federation",
        "backup",
        "demo",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    assert!(help.contains("重要产品追溯管理平台"));
    let init = text(&tracenode(&["init", "--help"]));
    for flag in ["--tier", "--region", "--name", "--dir", "--database-url", "standalone", "county", "national"] {
        assert!(init.contains(flag), "{flag} missing from init --help:\n{init}");
    }
    let version = text(&tracenode(&["--version"]));
    assert!(version.starts_with("tracenode "), "{version}");
}

#[test]
fn init_refuses_a_region_of_the_wrong_level_or_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("n");
    let out =
        tracenode(&["init", "--tier", "county", "--region", "330100", "--name", "x", "--dir", d.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out);
    assert!(msg.contains("县级") && msg.contains("county"), "{msg}");
    assert!(!d.join("tracenode.toml").exists(), "nothing written");
    let out = tracenode(&[
        "init",
        "--tier",
        "province",
        "--region",
        "999999",
        "--name",
        "x",
        "--dir",
        d.to_str().expect("p"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("999999"));
    let out = tracenode(&[
        "init",
        "--tier",
        "national",
        "--region",
        "100000",
        "--name",
        "x",
        "--dir",
        d.to_str().expect("p"),
        "--database-url",
        "mysql://h/db",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("sqlite://"), "{}", text(&out));
}

#[test]
fn a_config_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("t.toml");
    std::fs::write(
        &cfg,
        "[node]\ntier = \"national\"\nregion = \"100000\"\nname = \"国家\"\n[http]\nlisten_addr = \"x\"\n",
    )
    .expect("write");
    let out = tracenode(&["--config", cfg.to_str().expect("p"), "migrate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("listen_addr"), "{}", text(&out));
}

fn operator_commands(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("node");
    let dstr = d.to_str().expect("p").to_owned();
    let mut args = vec!["init", "--tier", "county", "--region", "330106", "--name", "西湖区追溯平台", "--dir", &dstr];
    let url;
    let _dropped_at_the_end;
    if backend == Backend::Postgres {
        url = fresh_pg_database();
        _dropped_at_the_end = crate::support::DatabaseGuard(url.clone());
        args.extend(["--database-url", &url]);
    }
    let out = tracenode(&args);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    for name in ["sysadmin", "secadmin", "auditadmin"] {
        assert!(printed.contains(name), "{printed}");
    }
    assert!(d.join("certs/server.pem").exists() && d.join("certs/server.key").exists());
    let again = tracenode(&args);
    assert_eq!(again.status.code(), Some(1), "init twice is refused");
    let cfg = d.join("tracenode.toml");
    let c = cfg.to_str().expect("p");
    let run = |extra: &[&str]| {
        let mut a = vec!["--config", c];
        a.extend_from_slice(extra);
        tracenode(&a)
    };
    let out = run(&[
        "tenant",
        "add",
        "--code",
        "xh-market",
        "--name",
        "西湖农贸市场",
        "--kind",
        "enterprise",
        "--region",
        "330106",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["tenant", "add", "--code", "far", "--name", "外地", "--kind", "enterprise", "--region", "330102"]);
    assert_eq!(out.status.code(), Some(1), "outside the county: {}", text(&out));
    assert!(text(&run(&["tenant", "list"])).contains("xh-market"));
    let out = run(&["user", "add", "--username", "chen.wu", "--display-name", "陈五", "--tenant", "xh-market"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&run(&["user", "list"])).contains("chen.wu"));
    assert!(run(&["user", "reset-password", "chen.wu"]).status.success());
    assert!(run(&["user", "unlock", "chen.wu"]).status.success());
    assert_eq!(run(&["user", "unlock", "nobody"]).status.code(), Some(1));
    assert!(run(&["migrate"]).status.success());
    let out = run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("intact"));
}

#[test]
fn operator_commands_sqlite() {
    operator_commands(Backend::Sqlite);
}

#[test]
fn operator_commands_postgres() {
    operator_commands(Backend::Postgres);
}

/// The README's run command: `serve` with no configuration initialises a standalone node in
/// `./tracenode-data` and answers over HTTPS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_no_configuration_initialises_and_answers() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let port = crate::support::free_ports(1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("TRACENODE_CONFIG")
        .env("TRACENODE_HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = String::new();
    let running = loop {
        match lines.next() {
            Some(Ok(line)) => {
                printed.push_str(&line);
                printed.push('\n');
                if line.contains("running: https://") {
                    break true;
                }
            }
            _ => break false,
        }
    };
    assert!(running, "serve did not start:\n{printed}");
    assert!(printed.contains("sysadmin") && printed.contains("auditadmin"), "one-time passwords printed:\n{printed}");
    let ca = std::fs::read(dir.path().join("tracenode-data/certs/ca.pem")).expect("ca");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("pem"))
        .build()
        .expect("client");
    let res = client.get(format!("https://127.0.0.1:{port}/healthz")).send().await.expect("healthz");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(res.status(), 200);
    assert!(dir.path().join("tracenode-data/tracenode.toml").exists());
    assert!(dir.path().join("tracenode-data/data/tracenode.db").exists());
}

/// A node of `tier` and `region` made in `dir` on `backend`; its configuration path. The
/// guard drops its PostgreSQL database when the test ends.
fn node_in(
    dir: &std::path::Path,
    tier: &str,
    region: &str,
    backend: Backend,
) -> (String, Option<crate::support::DatabaseGuard>) {
    let d = dir.join(region);
    let dstr = d.to_str().expect("p").to_owned();
    let mut args = vec!["init", "--tier", tier, "--region", region, "--name", "节点", "--dir", &dstr];
    let (url, guard);
    if backend == Backend::Postgres {
        url = fresh_pg_database();
        guard = Some(crate::support::DatabaseGuard(url.clone()));
        args.extend(["--database-url", &url]);
    } else {
        guard = None;
    }
    let out = tracenode(&args);
    assert!(out.status.success(), "{}", text(&out));
    (d.join("tracenode.toml").to_str().expect("p").to_owned(), guard)
}

fn pki(config: &str, args: &[&str]) -> Output {
    let mut all = vec!["--config", config, "pki"];
    all.extend_from_slice(args);
    tracenode(&all)
}

fn enrolment_by_file(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).to_str().expect("p").to_owned();
    let (national, _g1) = node_in(dir.path(), "national", "100000", backend);
    let (province, _g2) = node_in(dir.path(), "province", "330000", backend);
    let (city, _g3) = node_in(dir.path(), "city", "330100", backend);
    let (other_city, _g4) = node_in(dir.path(), "city", "320100", backend);

    // Only the national node makes the root.
    let out = pki(&province, &["init-root"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("只有国家级节点"), "{}", text(&out));
    let out = pki(&national, &["init-root"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&pki(&national, &["init-root"])).contains("已有证书机构"), "the root is made once");

    // The province requests, the national node signs, the province installs.
    let out = pki(&province, &["request", "--out", &p("province.csr")]);
    assert!(out.status.success() && text(&out).contains("fingerprint"), "{}", text(&out));
    assert!(text(&pki(&province, &["show"])).contains("request waiting"));
    let out = pki(&national, &["sign", "--request", &p("province.csr"), "--out", &p("province-bundle")]);
    assert!(out.status.success() && text(&out).contains("urn:tracenode:node:330000"), "{}", text(&out));
    let out = pki(&province, &["install", "--from", &p("province-bundle")]);
    assert!(out.status.success(), "{}", text(&out));

    // The city requests from the province; a city of another province cannot be signed there.
    assert!(pki(&city, &["request", "--out", &p("city.csr")]).status.success());
    assert!(pki(&other_city, &["request", "--out", &p("other.csr")]).status.success());
    let out = pki(&province, &["sign", "--request", &p("other.csr"), "--out", &p("other-bundle")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("320100") && text(&out).contains("不在"), "{}", text(&out));
    let out = pki(&province, &["sign", "--request", &p("city.csr"), "--out", &p("city-bundle")]);
    assert!(out.status.success(), "{}", text(&out));
    // A bundle for another node's key is refused; the city's own installs and chains to the root.
    let out = pki(&other_city, &["install", "--from", &p("city-bundle")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("申请密钥不符"), "{}", text(&out));
    assert!(pki(&city, &["install", "--from", &p("city-bundle")]).status.success());
    let shown = text(&pki(&city, &["show"]));
    assert!(shown.contains("urn:tracenode:node:330100"), "{shown}");
    assert!(shown.contains("node CA 330000") && shown.contains("root CA 100000"), "{shown}");
}

#[test]
fn enrolment_by_file_sqlite() {
    enrolment_by_file(Backend::Sqlite);
}

#[test]
fn enrolment_by_file_postgres() {
    enrolment_by_file(Backend::Postgres);
}

#[test]
fn the_demo_joins_four_tiers_and_rolls_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("demo");
    let port = crate::support::free_ports(8).to_string();
    let out = tracenode(&["demo", "--dir", d.to_str().expect("p"), "--port", &port, "--exit"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for tier in ["国家级节点", "省级节点", "市级节点", "县级节点"] {
        assert!(said.contains(tier), "{tier} missing:\n{said}");
    }
    assert!(said.contains("注册信息 8 条") && said.contains("追溯记录 80 条"), "{said}");
    assert_eq!(said.matches("一次性密码").count(), 12, "{said}");
    // Run again: the same four nodes start, nothing is made twice.
    let again = tracenode(&["demo", "--dir", d.to_str().expect("p"), "--port", &port, "--exit"]);
    let said = text(&again);
    assert!(again.status.success(), "{said}");
    assert!(said.contains("注册信息 8 条") && said.contains("追溯记录 80 条"), "{said}");
}

/// `tracenode seal` seals a secret from standard input under the node's key; the node opens
/// it (so `mail.password` can be written sealed) and no other node's key does.
#[test]
fn seal_gives_text_only_this_node_opens() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("dir");
    let config = init_county(&dir.path().join("node"), "西湖区", None);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .args(["--config", config.to_str().expect("p"), "seal"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("seal");
    child.stdin.take().expect("stdin").write_all(b"smtp-Secret-9\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let sealed = String::from_utf8(out.stdout).expect("utf8").trim().to_owned();
    assert!(sealed.starts_with("sealed:v1:") && !sealed.contains("smtp-Secret-9"), "{sealed}");
    let loaded = tracenode::config::Config::load(&config).expect("config");
    assert_eq!(loaded.sealer().expect("sealer").open(&sealed).expect("opens"), "smtp-Secret-9");
    let other = tempfile::tempdir().expect("other");
    let elsewhere_config = init_county(&other.path().join("n"), "另一节点", None);
    let elsewhere = tracenode::config::Config::load(&elsewhere_config).expect("config");
    assert!(elsewhere.sealer().expect("sealer").open(&sealed).is_err());
}

/// The same hostile files through the node's own process (`tracenode import`), measured as a
/// process: a 200 MiB field and an EPCIS event of two million EPCs are refused and the
/// process's peak resident memory stays under 300 MiB.
async fn oversized_files_are_refused_in_a_process_under_300_mib(backend: Backend) {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("dir");
    let database = (backend == Backend::Postgres).then(fresh_pg_database);
    let config = init_county(&dir.path().join("node"), "西湖区", database.as_deref());
    let config = config.to_str().expect("p");
    let add = [
        "--config",
        config,
        "tenant",
        "add",
        "--code",
        "platform-a",
        "--name",
        "甲平台",
        "--kind",
        "platform",
        "--region",
        "330106",
    ];
    let out = tracenode(&add);
    assert!(out.status.success(), "{}", text(&out));
    let csv = dir.path().join("huge.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
    f.write_all(b"id,trace_code,stage,quantity,time,product_name\nR1,T1,retail,1,2026-11-20T10:00:00+08:00,")
        .expect("w");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..200 {
        f.write_all(&chunk).expect("w");
    }
    f.write_all(b"\n").expect("w");
    drop(f);
    let epcis = dir.path().join("huge.jsonld");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&epcis).expect("epcis"));
    f.write_all(b"{\"@context\": [\"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld\"], \"type\": \"EPCISDocument\", \"epcisBody\": {\"eventList\": [{\"type\": \"ObjectEvent\", \"bizStep\": \"shipping\", \"epcList\": [\"urn:epc:id:sgtin:0614141.107346.0\"").expect("w");
    for i in 1..2_000_000 {
        write!(f, ",\"urn:epc:id:sgtin:0614141.107346.{i}\"").expect("w");
    }
    f.write_all(b"]}]}}").expect("w");
    drop(f);
    for (file, format) in [(&csv, "csv"), (&epcis, "epcis")] {
        let out = tracenode(&[
            "--config",
            config,
            "import",
            file.to_str().expect("p"),
            "--format",
            format,
            "--tenant",
            "platform-a",
            "--mode",
            "best_effort",
        ]);
        assert!(!out.status.success(), "refused");
        assert!(text(&out).contains("record_too_large") || text(&out).contains("字节"), "{}", text(&out));
    }
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).expect("rusage");
    let peak_mib = usage.max_rss() / 1024;
    eprintln!("peak resident memory of the node's processes: {peak_mib} MiB");
    assert!(peak_mib < 300, "a node process peaked at {peak_mib} MiB");
    if let Some(url) = database {
        crate::support::drop_pg_database(url.rsplit_once('/').expect("name").1);
    }
}
crate::on_both_backends!(oversized_files_are_refused_in_a_process_under_300_mib);

/// `init --federation-listen --parent-url --server-names` writes the `[federation]` section
/// the node then runs with; a parent address that is not https is refused with nothing
/// written. The file only: the database is the same on either backend.
#[test]
fn init_writes_the_federation_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("city");
    let dstr = d.to_str().expect("p");
    let base = ["init", "--tier", "city", "--region", "330100", "--name", "杭州市追溯平台", "--dir", dstr];
    let mut bad = base.to_vec();
    bad.extend(["--parent-url", "http://province.example:9443"]);
    let out = tracenode(&bad);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("federation.parent_url"), "{}", text(&out));
    assert!(!d.join("tracenode.toml").exists(), "nothing written");
    let mut args = base.to_vec();
    args.extend([
        "--federation-listen",
        "0.0.0.0:9443",
        "--parent-url",
        "https://province.example:9443",
        "--server-names",
        "city.example,10.0.0.7",
    ]);
    let out = tracenode(&args);
    assert!(out.status.success(), "{}", text(&out));
    let config = tracenode::config::Config::load(&d.join("tracenode.toml")).expect("the written configuration loads");
    assert_eq!(config.federation.listen, "0.0.0.0:9443");
    assert_eq!(config.federation.parent_url, "https://province.example:9443");
    assert_eq!(config.federation.names(), ["city.example", "10.0.0.7"]);
    let help = text(&tracenode(&["init", "--help"]));
    assert!(help.contains("--federation-listen") && help.contains("--parent-url"), "{help}");
}
