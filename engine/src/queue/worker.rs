//! The worker loop: timers, timeouts, retries, activity calls, the
//! registered chores and kept event deliveries, polled until shutdown or
//! until nothing is due.

use std::future::Future;
use std::time::Duration;

use crate::driver::{Engine, Error};

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

impl Engine {
    /// One pass: due jobs, due calls, the chores, and (when `sweep`, or
    /// when a chore did something) kept events.
    pub async fn tick(&self, sweep: bool) -> Result<Tick, Error> {
        let jobs = self.run_due_jobs().await?;
        let calls = self.run_due_calls().await?;
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
}

/// Runs the worker until `shutdown` resolves: passes back to back while
/// there is work, a pause of `poll` when there is none, a sweep of kept
/// events every `sweep_every`. A failing pass is logged with its cause and
/// retried with a growing pause; the work in hand finishes before shutdown.
pub async fn run(
    engine: &Engine,
    poll: Duration,
    sweep_every: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<Tick, Error> {
    tokio::pin!(shutdown);
    tracing::info!(worker_id = %engine.config().worker_id, "worker up");
    let mut total = Tick::default();
    let mut last_sweep = tokio::time::Instant::now();
    let mut failures = 0u32;
    loop {
        let sweep = last_sweep.elapsed() >= sweep_every;
        if sweep {
            last_sweep = tokio::time::Instant::now();
        }
        let pause = match engine.tick(sweep).await {
            Ok(tick) => {
                if failures > 0 {
                    tracing::info!(worker_id = %engine.config().worker_id, "worker recovered");
                }
                failures = 0;
                total.add(tick);
                if tick.is_idle() {
                    poll
                } else {
                    Duration::ZERO
                }
            }
            Err(error) => {
                if failures == 0 {
                    tracing::error!(worker_id = %engine.config().worker_id,
                        "worker pass failed: {}", chain(&error));
                }
                failures += 1;
                Duration::from_millis(200u64.saturating_mul(1 << failures.min(8)))
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!(worker_id = %engine.config().worker_id, jobs = total.jobs,
        calls = total.calls, chores = total.chores, deliveries = total.deliveries, "worker down");
    Ok(total)
}

/// An error with its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
