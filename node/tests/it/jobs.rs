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
