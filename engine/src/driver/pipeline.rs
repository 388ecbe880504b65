//! Completing many tasks as a pipeline: while one batch is written inside
//! its transaction, the next one is read and run beside it.
//!
//! A batch is prepared outside any transaction: its instances are read, the
//! completions applied in memory and its rows built. Writing it checks every
//! instance's revision, so a change that anyone made in between fails the
//! write with a conflict, and that batch is then done again the ordinary
//! way, read and written inside one transaction. The same happens to a batch
//! that touches an instance of the batch being written, one that completes a
//! task an activity confirms, and one that begins a wait on an event (the
//! inbox is looked into only inside a transaction). Each batch commits on
//! its own, so a crash loses no batch that was reported done.

use std::collections::HashSet;

use sea_orm::TransactionTrait;

use super::batch::{Batch, Rows, YIELD_EVERY};
use super::ops::{parse_task_id, statuses};
use super::{Engine, Error};
use crate::runtime::Status;

use super::Completion;

/// A batch of completions ready to be written, or one to be done the
/// ordinary way.
enum Prepared {
    /// Applied outside a transaction: the rows to write and each
    /// completion's result (its instance, or why it was refused).
    Ready {
        rows: Box<Rows>,
        results: Vec<Result<String, Error>>,
    },
    /// To be read and written inside one transaction.
    Ordinary,
}

impl Engine {
    /// Completes `tasks` in transactions of `per_batch` completions each;
    /// every completion gets its own result, in order: the status its
    /// instance has once its batch is written, or why it was refused. Two
    /// completions of one instance in one batch make one change of it (one
    /// history row), as in [`Engine::complete_batch`]. While one batch is
    /// written, the next is read and run, so the store and the engine work
    /// at the same time. Each batch is atomic and durable on its own; on an
    /// error of the store, the batches before it are committed, the rest
    /// are not, and the error is returned: list the open tasks again to see
    /// which remain.
    pub async fn complete_all(
        &self,
        tasks: &[Completion],
        per_batch: usize,
    ) -> Result<Vec<Result<Status, Error>>, Error> {
        let mut results = Vec::with_capacity(tasks.len());
        let mut chunks = tasks.chunks(per_batch.max(1));
        let Some(first) = chunks.next() else {
            return Ok(results);
        };
        let mut current = (first, self.prepare(first, &HashSet::new()).await);
        loop {
            let (chunk, prepared) = current;
            let next = chunks.next();
            let busy = instances_of(chunk);
            let following = async {
                match next {
                    Some(next) => Some((next, self.prepare(next, &busy).await)),
                    None => None,
                }
            };
            let (written, following) = tokio::join!(self.write(chunk, prepared), following);
            results.extend(written?);
            match following {
                Some(following) => current = following,
                None => return Ok(results),
            }
        }
    }

    /// Reads and runs `chunk` outside any transaction, unless it touches an
    /// instance in `busy` or needs a transaction on the way.
    async fn prepare(&self, chunk: &[Completion], busy: &HashSet<&str>) -> Prepared {
        let keys: Vec<_> = chunk.iter().map(|c| parse_task_id(&c.task)).collect();
        if keys.iter().flatten().any(|(id, _)| busy.contains(id)) {
            return Prepared::Ordinary;
        }
        let mut batch = Batch::detached(self);
        let db = self.db();
        if let Err(error) = batch
            .preload(db, keys.iter().flatten().map(|(id, _)| *id))
            .await
        {
            tracing::debug!("batch left to a transaction after reading: {error}");
            return Prepared::Ordinary;
        }
        let mut results = Vec::with_capacity(chunk.len());
        for (ix, (completion, key)) in chunk.iter().zip(&keys).enumerate() {
            if ix % YIELD_EVERY == YIELD_EVERY - 1 {
                tokio::task::yield_now().await;
            }
            let open = key.and_then(|(id, token)| batch.open_task(id, token));
            let confirmed = open
                .as_ref()
                .is_some_and(|open| self.confirms(open, completion.rejected));
            if confirmed {
                return Prepared::Ordinary;
            }
            match self.complete_in(db, &mut batch, completion, open).await {
                Ok(result) => results.push(result),
                Err(error) => {
                    tracing::debug!("batch left to a transaction after applying: {error}");
                    return Prepared::Ordinary;
                }
            }
            if batch.needs_transaction() {
                return Prepared::Ordinary;
            }
        }
        let rows = Box::new(batch.seal().await);
        Prepared::Ready { rows, results }
    }

    /// Writes a prepared batch in one transaction, or does `chunk` the
    /// ordinary way when it was not prepared or another change came first.
    async fn write(
        &self,
        chunk: &[Completion],
        prepared: Prepared,
    ) -> Result<Vec<Result<Status, Error>>, Error> {
        let Prepared::Ready { rows, results } = prepared else {
            return self.complete_batch(chunk).await;
        };
        let txn = self.db().begin().await?;
        let written = match rows.write(&txn).await {
            Ok(changed) => txn.commit().await.map(|()| changed).map_err(Error::from),
            Err(error) => {
                // Let go of the write lock before the batch is done again.
                txn.rollback().await?;
                Err(error)
            }
        };
        match written {
            Ok(changed) => Ok(statuses(&changed, results)),
            Err(error) if error.is_retryable() => {
                tracing::debug!("prepared batch done again in a transaction: {error}");
                self.complete_batch(chunk).await
            }
            Err(error) => Err(error),
        }
    }
}

/// The instances the completions of `chunk` name.
fn instances_of(chunk: &[Completion]) -> HashSet<&str> {
    chunk
        .iter()
        .filter_map(|c| parse_task_id(&c.task))
        .map(|(id, _)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::activity::Registry;
    use crate::driver::Config;
    use crate::events::Event;

    const APPROVE_THEN_PAID: &str = "
process: approve-then-paid
version: 1
context:
  order:    { type: string, required: true }
  approved: { type: boolean, default: false }
  payment:  { type: object }
nodes:
  - { id: start, kind: start, next: decide }
  - { id: decide, kind: task, assignee: { login: boss }, form: [approved], next: route }
  - id: route
    kind: gateway
    branches:
      - when: approved
        next: paid
    default: no
  - { id: paid, kind: receive, event: order.paid, key: order, output: payment, next: done }
  - { id: done, kind: end, outcome: paid }
  - { id: no, kind: end, outcome: rejected }
";

    async fn engine(dir: &tempfile::TempDir) -> Engine {
        let url = format!("sqlite://{}", dir.path().join("sesflow.db").display());
        let engine = Engine::open(&url, Registry::new(), Config::default())
            .await
            .expect("opens");
        engine
            .deploy("approve-then-paid.yaml", APPROVE_THEN_PAID)
            .await
            .expect("deploys");
        engine
    }

    /// Starts one instance per order; the tasks, in the orders' order.
    async fn tasks(engine: &Engine, orders: &[&str]) -> Vec<String> {
        let mut tasks = Vec::new();
        for order in orders {
            let vars = vec![("order".to_owned(), json!(order))];
            let started = engine
                .start("approve-then-paid", None, vars, None)
                .await
                .expect("starts");
            let view = engine.show(&started.id).await.expect("shows");
            tasks.push(view.tasks[0].id.clone());
        }
        tasks
    }

    fn answer(task: &str, approved: bool) -> Completion {
        Completion {
            task: task.to_owned(),
            vars: vec![("approved".to_owned(), json!(approved))],
            rejected: false,
        }
    }

    #[tokio::test]
    async fn a_batch_is_prepared_unless_it_needs_a_transaction() {
        let dir = tempfile::tempdir().expect("directory");
        let engine = engine(&dir).await;
        let tasks = tasks(&engine, &["o-1", "o-2"]).await;
        let rejecting = [answer(&tasks[0], false), answer(&tasks[1], false)];
        let ready = engine.prepare(&rejecting, &HashSet::new()).await;
        assert!(matches!(&ready, Prepared::Ready { results, .. } if results.len() == 2));

        // An instance the batch being written changes too.
        let busy = instances_of(&rejecting[1..]);
        let shared = engine.prepare(&rejecting, &busy).await;
        assert!(matches!(shared, Prepared::Ordinary));

        // Approving begins a wait on an event, which looks into the inbox.
        let approving = [answer(&tasks[0], true)];
        let waiting = engine.prepare(&approving, &HashSet::new()).await;
        assert!(matches!(waiting, Prepared::Ordinary));

        // Nothing was written by preparing.
        assert_eq!(engine.tasks(Some("boss")).await.expect("lists").len(), 2);
        for task in &tasks {
            let (instance, _) = parse_task_id(task).expect("a task id");
            assert_eq!(engine.show(instance).await.expect("shows").rev, 1);
        }
    }

    #[tokio::test]
    async fn a_change_made_after_preparing_sends_the_batch_through_a_transaction() {
        let dir = tempfile::tempdir().expect("directory");
        let engine = engine(&dir).await;
        let tasks = tasks(&engine, &["o-1", "o-2", "o-3"]).await;
        let batch: Vec<Completion> = tasks.iter().map(|task| answer(task, false)).collect();
        let prepared = engine.prepare(&batch, &HashSet::new()).await;
        assert!(matches!(prepared, Prepared::Ready { .. }));

        // Someone else cancels the first instance and answers the second.
        let (first, _) = parse_task_id(&tasks[0]).expect("a task id");
        engine.cancel(first).await.expect("cancels");
        engine
            .complete_batch(&[answer(&tasks[1], true)])
            .await
            .expect("completes");

        let results = engine.write(&batch, prepared).await.expect("writes");
        assert!(matches!(
            &results[0],
            Err(Error::NotFound {
                what: "open task",
                ..
            })
        ));
        assert!(matches!(
            &results[1],
            Err(Error::NotFound {
                what: "open task",
                ..
            })
        ));
        assert_eq!(results[2].as_ref().ok(), Some(&Status::Completed));

        // The second instance went on with the answer that came first; the
        // prepared rows of all three were dropped, not half written.
        let second = engine
            .show(parse_task_id(&tasks[1]).expect("a task id").0)
            .await
            .expect("shows");
        assert_eq!(second.variables["approved"], json!(true));
        assert_eq!(second.rev, 2);
        let third = engine
            .show(parse_task_id(&tasks[2]).expect("a task id").0)
            .await
            .expect("shows");
        assert_eq!(third.summary.outcome.as_deref(), Some("rejected"));
        assert_eq!(third.rev, 2);
        assert_eq!(
            engine.show(first).await.expect("shows").summary.status,
            "cancelled"
        );
        let event = Event {
            id: "paid-o-2".into(),
            kind: "order.paid".into(),
            key: "o-2".into(),
            payload: json!({}),
        };
        let delivered = engine.send_event(&event, None).await.expect("sends");
        assert!(matches!(
            delivered,
            crate::driver::Delivery::Delivered { .. }
        ));
    }
}
