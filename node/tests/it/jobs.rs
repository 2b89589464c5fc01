//! The job supervisor: a cron schedule fires on its own, and the jobs page and API list every
//! job. Two processes of one node on one database are a scenario of the end-to-end tests
//! (`tests/tests/processes.rs`).

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

/// Scheduled backups: the job `backup.scheduled` makes one on its cron (here every second)
/// with the passphrase file's passphrase, keeps the newest `keep`, and each verifies; a
/// passphrase file others may read is refused.
async fn backups_are_made_on_schedule_and_the_oldest_removed(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let toml = "[backup]\ncron = \"* * * * * *\"\nkeep = 2\npassphrase_file = \"secrets/backup.pass\"\n";
    let mut app = TestApp::spawn_node(backend, tracenode::config::Tier::County, "330106", toml, |c| {
        let pass = c.base_dir.join("secrets/backup.pass");
        std::fs::create_dir_all(pass.parent().expect("dir")).expect("secrets");
        std::fs::write(&pass, "scheduled backups of 西湖区\n").expect("pass");
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    })
    .await;
    let dir = app.node_dir().join("backups");
    let made = |app: &TestApp| app.audit_count("node.backup", "success");
    for _ in 0..100 {
        if made(&app) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(made(&app) >= 3, "three backups in a few seconds");
    let sys = app.admin("sysadmin").await;
    let jobs: Value = sys.get(&app, "/api/v1/jobs").await.json().await.expect("json");
    assert_eq!(job(&jobs, "backup.scheduled")["title"], "定时备份");
    // Stopped, so no run removes a file while it is read.
    app.stop().await;
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("backups")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tnbak"))
        .collect();
    assert_eq!(files.len(), 2, "the newest two are kept: {files:?}");
    for f in &files {
        assert!(f.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("tracenode-330106-")));
        tracenode::backup::verify(f, "scheduled backups of 西湖区").expect("each verifies");
    }
    let pass = app.node_dir().join("secrets/backup.pass");
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let p = tracenode::backup::passphrase_from(&pass).expect_err("refused");
    assert_eq!(p.field.as_deref(), Some("backup.passphrase_file"));
}
on_both_backends!(backups_are_made_on_schedule_and_the_oldest_removed);
