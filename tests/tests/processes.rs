//! Two processes of one node on one database: each once-per-node job runs each of its
//! occurrences once, whichever process claims it, and both stop cleanly on SIGTERM.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use tracenode_e2e::{Backend, Node};

/// A vendor's API on plain HTTP that answers every pull with an empty page and counts them.
fn counting_vendor() -> (u16, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
            );
        }
    });
    (port, calls)
}

async fn each_occurrence_runs_once(backend: Backend) {
    let (port, calls) = counting_vendor();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = Node::init(&dir.path().join("node"), backend);
    a.tenant_with_key("platform-a");
    a.configure(&format!(
        "[[ingest.pull]]\nname = \"ticker\"\ntenant = \"platform-a\"\nurl = \"http://127.0.0.1:{port}/records\"\n\
         format = \"json\"\nschedule = \"* * * * * *\""
    ));
    // A second process of the same node: same directory and database, its own port.
    let mut b = a.second_process();
    a.start().await;
    b.start().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (a_clean, b_clean) = (a.stop(), b.stop());
    assert!(a_clean && b_clean, "both stop cleanly on SIGTERM:\n{}", a.log_text());
    let db = a.db();
    let runs: Vec<(chrono::NaiveDateTime, String, Option<String>)> = db
        .transaction_sync(|conn| {
            use tracenode::db::schema::job_runs as jr;
            Ok(jr::table
                .filter(jr::name.eq("ingest.pull.ticker"))
                .select((jr::fire_at, jr::holder, jr::outcome))
                .load(conn)?)
        })
        .expect("runs");
    assert!(runs.len() >= 3, "about one run a second for 6 s: {runs:?}");
    let mut instants: Vec<chrono::NaiveDateTime> = runs.iter().map(|r| r.0).collect();
    instants.sort();
    instants.dedup();
    assert_eq!(instants.len(), runs.len(), "no occurrence ran twice: {runs:?}");
    assert_eq!(calls.load(Ordering::SeqCst), runs.len(), "one request to the vendor a run, none twice");
    assert!(runs.iter().all(|r| r.2.is_some()), "every run finished or was recorded abandoned: {runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_occurrence_runs_once_sqlite() {
    each_occurrence_runs_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_occurrence_runs_once_postgres() {
    each_occurrence_runs_once(Backend::Postgres).await;
}
