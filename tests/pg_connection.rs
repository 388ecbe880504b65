//! A worker whose database goes away (runs when SESFLOW_TEST_PG_URL is
//! set): the worker reaches PostgreSQL through a TCP proxy that the test
//! cuts for several seconds and then restores. The worker keeps running,
//! logs the failure once and the recovery once, retries with backoff rather
//! than in a tight loop, and finishes the work that fell due meanwhile.

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sesflow_engine::activity::Registry;
use sesflow_engine::driver::StartRequest;
use sesflow_engine::runtime::Status;
use sesflow_engine::{Config, Engine};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP proxy on 127.0.0.1 that can be cut (live connections dropped, new
/// ones closed at once) and restored.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("bound").port();
        let cut = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (is_cut, handles) = (cut.clone(), live.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                handles.lock().expect("lock").push(pipe.abort_handle());
            }
        });
        Self { port, cut, live }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for pipe in self.live.lock().expect("lock").drain(..) {
            pipe.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// `url` with its `host:port` replaced by `authority`; and the old one.
fn through(url: &str, authority: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (user, rest) = rest.split_once('@').expect("a URL with a user");
    let (target, path) = rest.split_once('/').expect("a URL with a database");
    (
        format!("{scheme}://{user}@{authority}/{path}"),
        target.to_owned(),
    )
}

async fn start_calls(engine: &Engine, n: usize) {
    let request = StartRequest {
        process: "call".into(),
        version: None,
        vars: Vec::new(),
        initiator: None,
    };
    engine.start_batch(&vec![request; n]).await.expect("starts");
}

async fn n_completed(engine: &Engine) -> usize {
    engine
        .instances(Some(Status::Completed), Some("call"), 10_000)
        .await
        .expect("lists")
        .len()
}

async fn wait_completed(engine: &Engine, n: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while n_completed(engine).await < n {
        assert!(
            Instant::now() < deadline,
            "{n} instances did not complete in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|line| line.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_rides_out_a_lost_database() {
    let Some(db) = common::databases()
        .await
        .into_iter()
        .find(|db| db.label == "postgres")
    else {
        return;
    };
    let engine = Engine::open(&db.url, Registry::new(), Config::default())
        .await
        .expect("opens");
    engine
        .deploy("call.yaml", &common::source("call"))
        .await
        .expect("deploys");
    let (_, target) = through(&db.url, "");
    let proxy = Proxy::start(target).await;
    let (proxied, _) = through(&db.url, &format!("127.0.0.1:{}", proxy.port));

    let dir = tempfile::tempdir().expect("temporary directory");
    let log_path = dir.path().join("worker.log");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_sesflow"))
        .args(["run", "--poll", "200ms", "--lease", "3s", "--name", "rider"])
        .env("SESFLOW_DB", &proxied)
        // the called service stays reachable: only the worker's database goes
        .env("SESFLOW_LOOPBACK_ACTIVITY", &db.url)
        .env("RUST_LOG", "warn,sesflow_engine::queue=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .spawn()
        .expect("the worker starts");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    start_calls(&engine, 20).await;
    wait_completed(&engine, 20, Duration::from_secs(60)).await;

    // the database goes away while work falls due
    proxy.cut();
    let cut_at = Instant::now();
    start_calls(&engine, 100).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(
        worker.try_wait().expect("polls").is_none(),
        "the worker keeps running"
    );
    let during = log();
    assert_eq!(
        lines_with(&during, "worker failing"),
        1,
        "logged once:\n{during}"
    );
    assert_eq!(lines_with(&during, "worker recovered"), 0, "{during}");
    assert!(
        during.lines().count() < 12,
        "no log line per try while the database is away:\n{during}"
    );
    assert_eq!(
        n_completed(&engine).await,
        20,
        "nothing ran without the database"
    );

    proxy.restore();
    wait_completed(&engine, 120, Duration::from_secs(60)).await;
    eprintln!(
        "database away for 8s; all done {:?} after the cut",
        cut_at.elapsed()
    );
    // the recovery is logged by the first pass that succeeds from start to end
    let deadline = Instant::now() + Duration::from_secs(20);
    while lines_with(&log(), "worker recovered") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = log();
    assert_eq!(lines_with(&after, "worker failing"), 1, "{after}");
    assert_eq!(lines_with(&after, "worker recovered"), 1, "{after}");

    let status = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(worker.wait().expect("waits").success(), "{}", log());
    eprintln!("worker log:\n{}", log());
    db.finish().await;
}
