//! The job supervisor: a cron schedule fires on its own, the jobs page and API list every
//! job, and two processes of one node run each once-per-node occurrence once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::on_both_backends;
use crate::registry::world;
use crate::support::{expect_problem, Backend, TestApp};

/// A vendor API that answers every pull with an empty page and counts the requests.
async fn counting_vendor() -> (u16, Arc<AtomicUsize>) {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let server = HttpServer::new(move || {
        let counted = counted.clone();
        App::new().route(
            "/records",
            web::get().to(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { HttpResponse::Ok().content_type("application/json").body("[]") }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (port, calls)
}

fn every_second_pull(port: u16) -> String {
    format!(
        "[[ingest.pull]]\nname = \"ticker\"\ntenant = \"platform-a\"\nurl = \"http://127.0.0.1:{port}/records\"\n\
         format = \"json\"\nschedule = \"* * * * * *\"\n"
    )
}

fn job<'a>(jobs: &'a Value, name: &str) -> &'a Value {
    jobs.as_array().and_then(|all| all.iter().find(|j| j["name"] == name)).unwrap_or_else(|| panic!("{name} in {jobs}"))
}

async fn a_cron_schedule_fires_and_every_job_is_listed(backend: Backend) {
    let (port, calls) = counting_vendor().await;
    let app = TestApp::spawn_with(backend, &every_second_pull(port)).await;
    let w = world(&app).await;
    // Nobody runs the pull by hand: the schedule of every second does, within a few seconds.
    let mut ran = 0;
    for _ in 0..50 {
        ran = calls.load(Ordering::SeqCst);
        if ran >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ran >= 2, "the every-second schedule ran the pull {ran} times in 10 s");
    let jobs: Value = w.sys.get(&app, "/api/v1/jobs").await.json().await.expect("json");
    for name in ["audit.checkpoint", "ingest.alerts", "notify.dispatch", "ingest.pull.ticker"] {
        let j = job(&jobs, name);
        assert!(j["next_run_at"].is_string(), "{j}");
        assert!(!j["title"].as_str().unwrap_or_default().is_empty(), "{j}");
    }
    let ticker = job(&jobs, "ingest.pull.ticker");
    assert_eq!(ticker["scope"], "once");
    assert!(ticker["runs"].as_i64().is_some_and(|n| n >= 1), "{ticker}");
    assert!(ticker["schedule"].as_str().is_some_and(|s| s.contains("* * * * * *")), "{ticker}");
    // Each run is kept, one a second at most.
    let runs: Value =
        w.sys.get(&app, "/api/v1/jobs/ingest.pull.ticker/runs?limit=10").await.json().await.expect("json");
    let runs = runs.as_array().expect("runs");
    assert!(!runs.is_empty());
    let mut instants: Vec<&str> = runs.iter().map(|r| r["fire_at"].as_str().expect("fire_at")).collect();
    instants.dedup();
    assert_eq!(instants.len(), runs.len(), "one run an occurrence");
    assert!(runs.iter().any(|r| r["outcome"] == "succeeded"), "{runs:?}");
    expect_problem(w.sys.get(&app, "/api/v1/jobs/no.such.job/runs").await, 404, "not_found").await;
    // Operators see the jobs; the audit administrator has no such duty.
    let auditor = app.admin("auditadmin").await;
    expect_problem(auditor.get(&app, "/api/v1/jobs").await, 403, "forbidden").await;
    let page = w.sys.get(&app, "/jobs").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    for text in ["后台任务", "ingest.pull.ticker", "拉取 ticker", "北京时间", "每节点一次", "aria-current=\"page\""]
    {
        assert!(html.contains(text), "{text} missing from the jobs page");
    }
}
on_both_backends!(a_cron_schedule_fires_and_every_job_is_listed);

/// A node process serving `config` on `port`; its output goes to `log`.
fn serve(config: &std::path::Path, port: u16, log: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .args(["serve", "--config", config.to_str().expect("path")])
        .env_remove("TRACENODE_CONFIG")
        .env("TRACENODE_HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::fs::File::create(log).expect("log"))
        .stderr(std::fs::File::create(log.with_extension("err")).expect("log"))
        .spawn()
        .expect("spawn")
}

async fn two_processes_run_each_occurrence_once(backend: Backend) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let (port, calls) = counting_vendor().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = dir.path().join("node");
    let (url, _guard) = match backend {
        Backend::Postgres => {
            let url = crate::support::fresh_pg_database();
            (Some(url.clone()), Some(crate::support::DatabaseGuard(url)))
        }
        Backend::Sqlite => (None, None),
    };
    let mut init =
        vec!["init", "--tier", "county", "--region", "330106", "--name", "两进程", "--dir", node.to_str().expect("p")];
    if let Some(url) = &url {
        init.extend(["--database-url", url]);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracenode")).args(&init).output().expect("init");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = node.join("tracenode.toml");
    let add = std::process::Command::new(env!("CARGO_BIN_EXE_tracenode"))
        .args(["tenant", "add", "--config", config.to_str().expect("p"), "--code", "platform-a", "--name", "平台甲"])
        .args(["--kind", "platform", "--region", "330106"])
        .output()
        .expect("tenant");
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}\n{}", every_second_pull(port))).expect("config");
    let ports = crate::support::free_ports(2);
    let mut a = serve(&config, ports, &dir.path().join("a.log"));
    let mut b = serve(&config, ports + 1, &dir.path().join("b.log"));
    tokio::time::sleep(Duration::from_secs(7)).await;
    for child in [&a, &b] {
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    }
    let stopped = |c: &mut std::process::Child| {
        for _ in 0..150 {
            if let Some(status) = c.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        panic!("a node did not stop within 15 s of SIGTERM");
    };
    let (sa, sb) = (stopped(&mut a), stopped(&mut b));
    let logs = |n: &str| {
        let out = dir.path().join(n);
        let err = std::fs::read_to_string(out.with_extension("err")).unwrap_or_default();
        format!("{}{err}", std::fs::read_to_string(out).unwrap_or_default())
    };
    assert!(sa.success() && sb.success(), "both stop cleanly on SIGTERM:\n{}\n{}", logs("a.log"), logs("b.log"));
    // Both ran (each printed that it runs), and together they pulled once an occurrence.
    assert!(logs("a.log").contains("running:") && logs("b.log").contains("running:"));
    let cfg = tracenode::config::Config::load(&config).expect("config");
    let db = tracenode::bootstrap::open_db(&cfg).expect("db");
    let runs: Vec<(chrono::NaiveDateTime, String, Option<String>)> = db
        .transaction_sync(|conn| {
            use diesel::prelude::*;
            use tracenode::db::schema::job_runs as jr;
            Ok(jr::table
                .filter(jr::name.eq("ingest.pull.ticker"))
                .select((jr::fire_at, jr::holder, jr::outcome))
                .load(conn)?)
        })
        .expect("runs");
    assert!(runs.len() >= 3, "about one run a second for 7 s: {runs:?}");
    let mut instants: Vec<_> = runs.iter().map(|r| r.0).collect();
    instants.sort();
    instants.dedup();
    assert_eq!(instants.len(), runs.len(), "no occurrence ran twice: {runs:?}");
    assert_eq!(calls.load(Ordering::SeqCst), runs.len(), "one request to the vendor a run, none twice");
    assert!(runs.iter().all(|r| r.2.is_some()), "every run finished or was recorded abandoned: {runs:?}");
}
on_both_backends!(two_processes_run_each_occurrence_once);
