//! The worker: tasks that claim and run due work until told to stop.
//!
//! A worker runs `concurrency` tasks over one engine. Each task passes over
//! due timer, timeout and retry jobs, then due activity calls (one batch of
//! each) and the registered chores, back to back while there is work. When nothing is due it sleeps
//! until the next job falls due, at most `poll`; on PostgreSQL a
//! notification of new jobs wakes it sooner. Beside the tasks, a heartbeat
//! keeps the worker's row in the roster fresh and renews its leases.
//!
//! On stop (SIGTERM) the tasks finish the work in hand: the open batch of
//! jobs commits, the activity call under way completes and is recorded,
//! and the calls not yet started are released for other workers. A failing
//! pass (the database went away) is logged once, then retried with a
//! growing pause until it succeeds again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::roster;
use crate::driver::{Engine, Error};
use crate::store::{self, backend::Listener};

/// What one pass of the worker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Timer, timeout and retry jobs applied.
    pub jobs: usize,
    /// Activity calls made.
    pub calls: usize,
    /// Items the registered chores finished.
    pub chores: usize,
    /// Kept events delivered by the sweep.
    pub deliveries: usize,
}

impl Tick {
    /// Whether the pass found nothing to do.
    pub fn is_idle(&self) -> bool {
        self.jobs + self.calls + self.chores + self.deliveries == 0
    }

    fn add(&mut self, other: Tick) {
        self.jobs += other.jobs;
        self.calls += other.calls;
        self.chores += other.chores;
        self.deliveries += other.deliveries;
    }
}

/// How a worker runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// How many tasks claim and run work at once.
    pub concurrency: usize,
    /// The longest pause when nothing is due.
    pub poll: Duration,
    /// How often kept events are matched against waits.
    pub sweep: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 1,
            poll: Duration::from_millis(200),
            sweep: Duration::from_secs(5),
        }
    }
}

/// A signal to stop, shared by a worker's tasks.
#[derive(Clone, Debug)]
pub struct Stop(watch::Receiver<bool>);

/// Raises the [`Stop`] it was made with.
#[derive(Debug)]
pub struct StopHandle(watch::Sender<bool>);

impl Stop {
    /// A signal and the handle that raises it.
    pub fn new() -> (StopHandle, Stop) {
        let (sender, receiver) = watch::channel(false);
        (StopHandle(sender), Stop(receiver))
    }

    /// A signal that is never raised.
    pub fn never() -> Stop {
        Stop(watch::channel(false).1)
    }

    /// Whether the signal was raised.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when the signal is raised (never, if its handle is gone
    /// without raising it).
    pub async fn wait(&self) {
        let mut receiver = self.0.clone();
        if receiver.wait_for(|raised| *raised).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl StopHandle {
    /// Raises the signal.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Engine {
    /// One pass: due jobs, due calls, the chores, and (when `sweep`, or
    /// when a chore did something) kept events.
    pub async fn tick(&self, sweep: bool) -> Result<Tick, Error> {
        self.pass(&Stop::never(), sweep).await
    }

    /// One pass that makes no new activity call once `stop` is raised.
    async fn pass(&self, stop: &Stop, sweep: bool) -> Result<Tick, Error> {
        let jobs = self.run_due_jobs().await?;
        let calls = self.run_calls(stop).await?;
        let chores = self.registry().run_chores(self.now_ms()).await;
        // chores answer through the inbox: what they did is delivered now
        let deliveries = if sweep || chores > 0 {
            self.sweep_events().await?
        } else {
            0
        };
        Ok(Tick {
            jobs,
            calls,
            chores,
            deliveries,
        })
    }

    /// Does all work that is due now, then returns what it did in total.
    pub async fn run_until_idle(&self) -> Result<Tick, Error> {
        let mut total = Tick::default();
        loop {
            let tick = self.tick(true).await?;
            if tick.is_idle() {
                return Ok(total);
            }
            total.add(tick);
        }
    }

    /// How long an idle task sleeps: until the next job falls due or lease
    /// runs out, within `[min(poll, 50ms), poll]`.
    async fn idle_pause(&self, poll: Duration) -> Result<Duration, Error> {
        let floor = poll.min(Duration::from_millis(50));
        let Some(next_ms) = store::next_due(self.db()).await? else {
            return Ok(poll);
        };
        let wait_ms = u64::try_from(next_ms - self.now_ms()).unwrap_or(0);
        Ok(Duration::from_millis(wait_ms).clamp(floor, poll))
    }
}

/// Runs a worker on `engine` until `shutdown` resolves, then finishes the
/// work in hand, releases what it holds and leaves the roster. Returns what
/// it did in total.
pub async fn run(
    engine: Arc<Engine>,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<Tick, Error> {
    let concurrency = options.concurrency.max(1);
    roster::register(&engine, concurrency).await?;
    let worker_id = engine.config().worker_id.clone();
    tracing::info!(worker_id = %worker_id, concurrency, "worker up");

    let shared = Arc::new(Shared::new(worker_id.clone()));
    let (stop_handle, stop) = Stop::new();
    let mut tasks = JoinSet::new();
    for ix in 0..concurrency {
        let task = task_loop(
            engine.clone(),
            shared.clone(),
            stop.clone(),
            ix,
            options.clone(),
        );
        tasks.spawn(task);
    }
    let heartbeat = tokio::spawn(heartbeat_loop(engine.clone(), shared.clone()));
    let listener = tokio::spawn(listen_loop(engine.clone(), shared.clone()));

    shutdown.await;
    tracing::info!(worker_id = %worker_id, "worker stopping: finishing the work in hand");
    stop_handle.stop();
    if let Err(error) = roster::stopping(&engine).await {
        tracing::debug!(worker_id = %worker_id, "roster not told of the stop: {error}");
    }
    let mut total = Tick::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(tick) => total.add(tick),
            Err(error) => tracing::error!(worker_id = %worker_id, "worker task ended: {error}"),
        }
    }
    listener.abort();
    heartbeat.abort();

    match roster::deregister(&engine).await {
        Ok(released) => tracing::info!(worker_id = %worker_id, jobs = total.jobs,
            calls = total.calls, chores = total.chores, deliveries = total.deliveries, released, "worker down"),
        Err(error) => tracing::warn!(worker_id = %worker_id,
            "worker down without leaving the roster; its leases run out: {}", chain(&error)),
    }
    Ok(total)
}

/// What a worker's tasks share.
struct Shared {
    worker_id: String,
    done: [AtomicUsize; 4],
    health: Health,
    wake: watch::Sender<u64>,
}

impl Shared {
    fn new(worker_id: String) -> Self {
        Self {
            worker_id,
            done: Default::default(),
            health: Health::default(),
            wake: watch::channel(0).0,
        }
    }

    fn count(&self, tick: Tick) {
        for (counter, n) in
            self.done
                .iter()
                .zip([tick.jobs, tick.calls, tick.chores, tick.deliveries])
        {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn totals(&self) -> Tick {
        let [jobs, calls, chores, deliveries] = &self.done;
        Tick {
            jobs: jobs.load(Ordering::Relaxed),
            calls: calls.load(Ordering::Relaxed),
            chores: chores.load(Ordering::Relaxed),
            deliveries: deliveries.load(Ordering::Relaxed),
        }
    }
}

/// One task: passes back to back while there is work, a pause when there
/// is none, a growing pause after a failure.
async fn task_loop(
    engine: Arc<Engine>,
    shared: Arc<Shared>,
    stop: Stop,
    ix: usize,
    options: Options,
) -> Tick {
    let mut total = Tick::default();
    let mut wake = shared.wake.subscribe();
    let mut last_sweep = Instant::now();
    let mut backoff = Backoff::default();
    while !stop.is_set() {
        wake.borrow_and_update();
        let sweep = ix == 0 && last_sweep.elapsed() >= options.sweep;
        let passed = engine.pass(&stop, sweep).await;
        let pause = match passed {
            Ok(tick) => {
                shared.health.recovered(&shared.worker_id);
                backoff.reset();
                if sweep {
                    last_sweep = Instant::now();
                }
                total.add(tick);
                shared.count(tick);
                if !tick.is_idle() {
                    continue;
                }
                match engine.idle_pause(options.poll).await {
                    Ok(pause) => pause,
                    Err(error) => shared
                        .health
                        .failed(&shared.worker_id, &error, &mut backoff),
                }
            }
            Err(error) => shared
                .health
                .failed(&shared.worker_id, &error, &mut backoff),
        };
        tokio::select! {
            () = stop.wait() => break,
            _ = wake.changed() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
    total
}

/// Keeps the worker's roster row fresh and its leases running, every third
/// of the lease, until aborted.
async fn heartbeat_loop(engine: Arc<Engine>, shared: Arc<Shared>) {
    let every = (engine.config().lease / 3).max(Duration::from_millis(50));
    let mut backoff = Backoff::default();
    loop {
        tokio::time::sleep(every).await;
        if let Err(error) = roster::beat(&engine, shared.totals()).await {
            let pause = shared
                .health
                .failed(&shared.worker_id, &error, &mut backoff);
            tokio::time::sleep(pause.saturating_sub(every)).await;
        }
    }
}

/// Wakes idle tasks when jobs are announced (PostgreSQL), until aborted.
async fn listen_loop(engine: Arc<Engine>, shared: Arc<Shared>) {
    let mut listener: Option<Listener> = None;
    let mut backoff = Backoff::default();
    loop {
        let heard = match listener.as_mut() {
            Some(listener) => listener.next().await,
            None => match Listener::open(engine.db()).await {
                Ok(Some(opened)) => {
                    listener = Some(opened);
                    continue;
                }
                Ok(None) => return,
                Err(error) => Err(error),
            },
        };
        match heard {
            Ok(_) => {
                backoff.reset();
                shared.wake.send_modify(|n| *n = n.wrapping_add(1));
            }
            Err(error) => {
                // a connection that failed is not used again: listen anew
                listener = None;
                tracing::debug!(worker_id = %shared.worker_id,
                    "listening for new jobs failed, polling meanwhile: {error}");
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }
}

/// Whether the worker is failing, so that a failure is logged once, not on
/// every try, and the recovery once.
#[derive(Default)]
struct Health {
    failing: AtomicBool,
    failures: AtomicU64,
    since: Mutex<Option<Instant>>,
}

impl Health {
    /// Notes a failure; returns the pause before the next try.
    fn failed(&self, worker_id: &str, error: &Error, backoff: &mut Backoff) -> Duration {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let pause = backoff.next();
        if self.failing.swap(true, Ordering::AcqRel) {
            tracing::debug!(worker_id = %worker_id, pause_ms = pause.as_millis() as u64,
                "worker still failing: {}", chain(error));
        } else {
            *self
                .since
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
            tracing::error!(worker_id = %worker_id,
                "worker failing, retrying with backoff up to {}s (logged once until it \
                 recovers): {}", Backoff::MAX.as_secs(), chain(error));
        }
        pause
    }

    /// Notes a success; logs the recovery after failures.
    fn recovered(&self, worker_id: &str) {
        if !self.failing.swap(false, Ordering::AcqRel) {
            return;
        }
        let failures = self.failures.swap(0, Ordering::Relaxed);
        let since = self
            .since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let failing_ms = since.map_or(0, |since| since.elapsed().as_millis() as u64);
        tracing::info!(worker_id = %worker_id, failures, failing_ms, "worker recovered");
    }
}

/// A pause that doubles after each failure, from 250 ms up to
/// [`Backoff::MAX`], with some jitter so that workers do not retry in step.
#[derive(Default)]
struct Backoff {
    n_failures: u32,
}

impl Backoff {
    const MAX: Duration = Duration::from_secs(8);

    fn next(&mut self) -> Duration {
        let base = Duration::from_millis(250u64 << self.n_failures.min(5)).min(Self::MAX);
        self.n_failures += 1;
        let jitter = rand::random::<u64>() % (base.as_millis() as u64 / 5 + 1);
        base + Duration::from_millis(jitter)
    }

    fn reset(&mut self) {
        self.n_failures = 0;
    }
}

/// An error with its causes, `: `-separated; a cause whose words are in
/// the text already is left out.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let words = cause.to_string();
        if !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        source = cause.source();
    }
    text
}
