//! A batch of instance changes inside one transaction, written together.
//!
//! Instances are loaded once per batch and changed in memory; inputs that
//! touch the same instance in one batch apply in order. A wait that begins
//! looks into the inbox at once, in the same transaction, so an event that
//! arrived early is delivered when the wait begins. `flush` then writes
//! every changed instance (checking its revision), one history row per
//! instance, and the jobs, tasks and waits, with multi-row inserts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{version_i32, Engine, Error};
use crate::definition::{Definition, NodeIx};
use crate::events;
use crate::expr::Env;
use crate::history::Record;
use crate::runtime::{self, Effect, Input, InstanceState, Machine, Status, Wait};
use crate::store::entities::{history as history_row, instance, job, task, wait};
use crate::store::{self, InstanceUpdate};

/// How many rows one multi-row insert carries.
const CHUNK: usize = 400;

/// One instance loaded into a batch.
pub(crate) struct Loaded {
    pub(crate) id: String,
    pub(crate) def: Arc<Definition>,
    pub(crate) state: InstanceState,
    /// The revision read, or `None` for an instance this batch creates.
    rev: Option<i64>,
    created_at: i64,
    records: Vec<Record>,
    inputs: Vec<&'static str>,
    before: Status,
}

/// Changes of many instances, committed by [`Batch::flush`].
pub(crate) struct Batch<'e> {
    engine: &'e Engine,
    now_ms: i64,
    instances: Vec<Loaded>,
    index: HashMap<String, usize>,
    jobs: Vec<job::ActiveModel>,
    tasks: Vec<task::ActiveModel>,
    waits: Vec<wait::ActiveModel>,
    releases: Vec<(String, u64, Wait, bool)>,
    fresh: HashSet<(String, u64)>,
    /// Run outside any transaction: reads are a snapshot checked again by
    /// the revisions when written, and nothing may be taken from the inbox.
    detached: bool,
    /// A detached batch met something only a transaction may do.
    needs_transaction: bool,
}

impl<'e> Batch<'e> {
    pub(crate) fn new(engine: &'e Engine) -> Self {
        Self {
            engine,
            now_ms: engine.now_ms(),
            instances: Vec::new(),
            index: HashMap::new(),
            jobs: Vec::new(),
            tasks: Vec::new(),
            waits: Vec::new(),
            releases: Vec::new(),
            fresh: HashSet::new(),
            detached: false,
            needs_transaction: false,
        }
    }

    /// A batch run outside any transaction, to be written later by
    /// [`Rows::write`]: it reads instances without locking them (the
    /// revision check on writing catches a change made in between) and,
    /// instead of taking a kept event from the inbox, marks itself as
    /// [needing a transaction](Self::needs_transaction).
    pub(crate) fn detached(engine: &'e Engine) -> Self {
        Self {
            detached: true,
            ..Self::new(engine)
        }
    }

    /// Whether this detached batch met a wait that must look into the
    /// inbox, which only a transaction may do; it is then to be dropped and
    /// its inputs applied again inside one.
    pub(crate) fn needs_transaction(&self) -> bool {
        self.needs_transaction
    }

    /// The batch's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Adds a new instance of `def` and starts it.
    pub(crate) async fn create<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        def: Arc<Definition>,
        input: Input,
    ) -> Result<String, Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let state = InstanceState::new(&def);
        self.insert(Loaded {
            id: id.clone(),
            def,
            state,
            rev: None,
            created_at: self.now_ms,
            records: Vec::new(),
            inputs: Vec::new(),
            before: Status::Active,
        });
        self.apply(conn, &id, input).await??;
        Ok(id)
    }

    /// Applies `input` to instance `id`, delivering kept events to waits that
    /// begin. The outer error is a store failure; the inner one says why the
    /// runtime refused the input (the batch is then unchanged).
    pub(crate) async fn apply<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        id: &str,
        input: Input,
    ) -> Result<Result<(), runtime::Error>, Error> {
        let ix = self.load(conn, id).await?;
        let mut queue = VecDeque::from([input]);
        let mut first = true;
        while let Some(input) = queue.pop_front() {
            let name = input_name(&input);
            let loaded = &mut self.instances[ix];
            let machine = Machine {
                def: &loaded.def,
                evaluator: &self.engine.evaluator,
                step_budget: self.engine.config.step_budget,
            };
            let env = Env {
                now_ms: self.now_ms,
                seed: rand::random(),
            };
            let applied = match machine.apply(&mut loaded.state, input, &env) {
                Ok(applied) => applied,
                Err(error) if first => return Ok(Err(error)),
                Err(error) => {
                    tracing::warn!(instance_id = %loaded.id, "kept event not applied: {error}");
                    continue;
                }
            };
            first = false;
            loaded.records.extend(applied.records);
            loaded.inputs.push(name);
            for effect in applied.effects {
                if let Some(next) = self.effect(conn, ix, effect).await? {
                    queue.push_back(next);
                }
            }
        }
        Ok(Ok(()))
    }

    /// The task token `token` of loaded instance `id` waits on, or `None`
    /// when the instance is not loaded or the token waits on no task (the
    /// task was completed, or never was). The task rows and the tokens
    /// waiting on tasks change together, so the state answers for the row.
    pub(crate) fn open_task(&self, id: &str, token: u64) -> Option<OpenTask> {
        let loaded = &self.instances[*self.index.get(id)?];
        let waiting = loaded.state.token(token)?;
        if !matches!(waiting.wait, Wait::Task | Wait::Sign) {
            return None;
        }
        Some(OpenTask {
            instance_id: loaded.id.clone(),
            token,
            kind: loaded.def.nodes[waiting.node].kind.name(),
            def: loaded.def.clone(),
        })
    }

    /// The variables of instance `id` as this batch holds them, once loaded.
    pub(crate) fn vars_of(&self, id: &str) -> Option<&[serde_json::Value]> {
        let ix = self.index.get(id)?;
        Some(&self.instances[*ix].state.vars)
    }

    /// Loads instance `id` into the batch unless it is there already.
    async fn load<C: ConnectionTrait>(&mut self, conn: &C, id: &str) -> Result<usize, Error> {
        if let Some(ix) = self.index.get(id) {
            return Ok(*ix);
        }
        let select = instance::Entity::find_by_id(id.to_owned());
        let row = store::backend::lock_rows(select, conn.get_database_backend())
            .into_partial_model::<store::backend::StoredInstance>()
            .one(conn)
            .await?
            .ok_or_else(|| Error::no_instance(id))?;
        self.adopt(row).await
    }

    /// Loads the instances `ids` the batch does not hold yet, a chunk per
    /// query; ids that name no instance are left for `apply` to report.
    pub(crate) async fn preload<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        ids: impl IntoIterator<Item = &str>,
    ) -> Result<(), Error> {
        let mut missing: Vec<String> = ids
            .into_iter()
            .filter(|id| !self.index.contains_key(*id))
            .map(str::to_owned)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for chunk in missing.chunks(CHUNK) {
            for (ix, row) in store::backend::load_instances(conn, chunk)
                .await?
                .into_iter()
                .enumerate()
            {
                if self.detached && ix % YIELD_EVERY == YIELD_EVERY - 1 {
                    tokio::task::yield_now().await;
                }
                self.adopt(row).await?;
            }
        }
        Ok(())
    }

    async fn adopt(&mut self, row: store::backend::StoredInstance) -> Result<usize, Error> {
        let version = u32::try_from(row.version).unwrap_or_default();
        let def = self.engine.definition(&row.process, Some(version)).await?;
        let state = InstanceState::decode(&row.state).map_err(|error| Error::Corrupt {
            what: "instance",
            id: row.id.clone(),
            message: error.to_string(),
        })?;
        let before = state.status();
        Ok(self.insert(Loaded {
            id: row.id,
            def,
            state,
            rev: Some(row.rev),
            created_at: row.created_at,
            records: Vec::new(),
            inputs: Vec::new(),
            before,
        }))
    }

    fn insert(&mut self, loaded: Loaded) -> usize {
        let ix = self.instances.len();
        self.index.insert(loaded.id.clone(), ix);
        self.instances.push(loaded);
        ix
    }

    /// Turns one effect into pending writes; a wait that finds its event in
    /// the inbox returns the input that delivers it.
    async fn effect<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        ix: usize,
        effect: Effect,
    ) -> Result<Option<Input>, Error> {
        let id = self.instances[ix].id.clone();
        match effect {
            Effect::Task {
                token,
                node,
                assignee,
            } => self.push_task(ix, token, node, assignee),
            Effect::Subscribe {
                token,
                node,
                kind,
                key,
            } => return self.subscribe(conn, ix, token, node, (kind, key)).await,
            Effect::Schedule {
                token,
                node,
                job,
                due_ms,
            } => self.push_job(ix, NewJob::at(token, node, job.name(), due_ms)),
            Effect::Call {
                token,
                node,
                kind,
                input,
            } => {
                let process = &self.instances[ix].def.process;
                let payload = json!({ "kind": kind, "process": process, "input": input });
                let mut call = NewJob::at(token, node, crate::queue::ACTIVITY, self.now_ms);
                call.payload = Some(payload);
                self.push_job(ix, call);
            }
            Effect::Release {
                token,
                wait,
                timeout,
            } => self.release(id, token, wait, timeout),
        }
        Ok(None)
    }

    fn push_task(&mut self, ix: usize, token: u64, node: NodeIx, assignee: Option<String>) {
        let loaded = &self.instances[ix];
        let node = &loaded.def.nodes[node];
        self.fresh.insert((loaded.id.clone(), token));
        self.tasks.push(task::ActiveModel {
            id: Set(task_id(&loaded.id, token)),
            instance_id: Set(loaded.id.clone()),
            token_id: Set(token_i64(token)),
            node_id: Set(node.id.clone()),
            kind: Set(node.kind.name().to_owned()),
            assignee: Set(assignee),
            title: Set(node.title.clone()),
            form: Set(task_form(&loaded.def, node)),
            created_at: Set(self.now_ms),
        });
    }

    /// Registers a wait, unless a kept event matches: that event is taken
    /// and returned as the input that resumes the token at once.
    async fn subscribe<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        ix: usize,
        token: u64,
        node: NodeIx,
        (kind, key): (String, String),
    ) -> Result<Option<Input>, Error> {
        if self.detached {
            self.needs_transaction = true;
            return Ok(None);
        }
        let loaded = &self.instances[ix];
        let id = loaded.id.clone();
        self.fresh.insert((id.clone(), token));
        if let Some(event) = events::take(conn, &kind, &key, &id, self.now_ms).await? {
            tracing::debug!(instance_id = %id, token_id = token, event_id = %event.id,
                "kept event delivered as the wait begins");
            return Ok(Some(Input::Event {
                token,
                id: event.id,
                kind,
                key,
                payload: event.payload,
            }));
        }
        self.waits.push(wait::ActiveModel {
            instance_id: Set(id),
            token_id: Set(token_i64(token)),
            node_id: Set(loaded.def.nodes[node].id.clone()),
            kind: Set(kind),
            correlation_key: Set(key),
            created_at: Set(self.now_ms),
        });
        Ok(None)
    }

    fn push_job(&mut self, ix: usize, job: NewJob) {
        let NewJob {
            token,
            node,
            kind,
            due_at,
            payload,
        } = job;
        let loaded = &self.instances[ix];
        self.fresh.insert((loaded.id.clone(), token));
        self.jobs.push(job::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            instance_id: Set(loaded.id.clone()),
            token_id: Set(token_i64(token)),
            node_id: Set(loaded.def.nodes[node].id.clone()),
            kind: Set(kind.to_owned()),
            due_at: Set(due_at),
            lease_owner: Set(None),
            lease_until: Set(None),
            attempts: Set(0),
            payload: Set(payload.map(|payload| payload.to_string())),
        });
    }

    /// Drops what a token waited on: pending rows when this batch created
    /// them (nothing of that token is stored yet), else stored rows.
    fn release(&mut self, instance_id: String, token: u64, wait: Wait, timeout: bool) {
        let key = (instance_id, token);
        if self.fresh.contains(&key) {
            let (id, token) = (&key.0, token_i64(key.1));
            let mine = |instance: &sea_orm::ActiveValue<String>, of: &sea_orm::ActiveValue<i64>| {
                instance.as_ref() == id && *of.as_ref() == token
            };
            self.jobs
                .retain(|row| !mine(&row.instance_id, &row.token_id));
            self.tasks
                .retain(|row| !mine(&row.instance_id, &row.token_id));
            self.waits
                .retain(|row| !mine(&row.instance_id, &row.token_id));
            return;
        }
        self.releases.push((key.0, key.1, wait, timeout));
    }

    /// Writes every change: instances (revision checked), history, deletes
    /// of released waits, then new jobs, tasks and waits.
    pub(crate) async fn flush<C: ConnectionTrait>(self, conn: &C) -> Result<Vec<Changed>, Error> {
        self.seal().await.write(conn).await
    }

    /// Turns the changes into the rows that [`Rows::write`] writes: the
    /// instances encoded, the history packed. A detached batch lets other
    /// work on its thread go on every few instances, since it runs beside
    /// the writing of another batch.
    pub(crate) async fn seal(self) -> Rows {
        let mut rows = Rows {
            new_rows: Vec::new(),
            updates: Vec::new(),
            history_rows: Vec::new(),
            changed: Vec::new(),
            releases: self.releases,
            jobs: self.jobs,
            tasks: self.tasks,
            waits: self.waits,
        };
        let changed = self
            .instances
            .iter()
            .filter(|loaded| !loaded.records.is_empty());
        for (ix, loaded) in changed.enumerate() {
            if self.detached && ix % YIELD_EVERY == YIELD_EVERY - 1 {
                tokio::task::yield_now().await;
            }
            let status = loaded.state.status();
            let rev = match loaded.rev {
                None => {
                    rows.new_rows
                        .push(instance_row(loaded, status, self.now_ms));
                    1
                }
                Some(rev) => {
                    rows.updates.push(InstanceUpdate {
                        id: loaded.id.clone(),
                        rev,
                        status: status.name().to_owned(),
                        state: loaded.state.encode(),
                        outcome: loaded.state.outcome.clone(),
                        incident: loaded.state.incident().map(str::to_owned),
                        updated_at: self.now_ms,
                    });
                    rev + 1
                }
            };
            rows.history_rows.push(history_row::ActiveModel {
                instance_id: Set(loaded.id.clone()),
                rev: Set(rev),
                at: Set(self.now_ms),
                records: Set(store::packing::pack(&loaded.records)),
            });
            rows.changed.push(Changed::of(loaded, status, rev));
        }
        rows
    }
}

/// How many instances or inputs a detached batch handles before it lets
/// other work on its thread go on.
pub(crate) const YIELD_EVERY: usize = 64;

/// The rows a batch writes, built and not yet written.
pub(crate) struct Rows {
    new_rows: Vec<instance::ActiveModel>,
    updates: Vec<InstanceUpdate>,
    history_rows: Vec<history_row::ActiveModel>,
    changed: Vec<Changed>,
    releases: Vec<(String, u64, Wait, bool)>,
    jobs: Vec<job::ActiveModel>,
    tasks: Vec<task::ActiveModel>,
    waits: Vec<wait::ActiveModel>,
}

impl Rows {
    /// Writes the rows: instances (each update checks the revision read and
    /// fails the whole write with a conflict when another change came
    /// first), history, deletes of released waits, then new jobs, tasks and
    /// waits.
    pub(crate) async fn write<C: ConnectionTrait>(self, conn: &C) -> Result<Vec<Changed>, Error> {
        for chunk in self.updates.chunks(CHUNK) {
            if store::update_instances(conn, chunk).await? != chunk.len() as u64 {
                let ids: Vec<&str> = chunk.iter().map(|row| row.id.as_str()).collect();
                return Err(Error::Conflict(ids.join(", ")));
            }
        }
        insert_chunks::<instance::Entity, _>(conn, self.new_rows).await?;
        insert_chunks::<history_row::Entity, _>(conn, self.history_rows).await?;
        delete_released(conn, &self.releases).await?;
        if !self.jobs.is_empty() {
            store::backend::announce_jobs(conn).await?;
        }
        insert_chunks::<job::Entity, _>(conn, self.jobs).await?;
        insert_chunks::<task::Entity, _>(conn, self.tasks).await?;
        insert_chunks::<wait::Entity, _>(conn, self.waits).await?;
        Ok(self.changed)
    }
}

/// An open task found in a loaded instance's state.
pub(crate) struct OpenTask {
    /// The instance.
    pub(crate) instance_id: String,
    /// The token waiting on it.
    pub(crate) token: u64,
    /// The kind of its node (`task` or `sign`), the key of an activity that
    /// confirms completions.
    pub(crate) kind: &'static str,
    /// The definition the instance runs on.
    pub(crate) def: Arc<Definition>,
}

/// A job an effect schedules.
struct NewJob {
    token: u64,
    node: NodeIx,
    kind: &'static str,
    due_at: i64,
    payload: Option<serde_json::Value>,
}

impl NewJob {
    fn at(token: u64, node: NodeIx, kind: &'static str, due_at: i64) -> Self {
        Self {
            token,
            node,
            kind,
            due_at,
            payload: None,
        }
    }
}

/// What a flushed change did to one instance, for logs and callers.
#[derive(Clone, Debug)]
pub(crate) struct Changed {
    pub(crate) id: String,
    pub(crate) process: String,
    pub(crate) rev: i64,
    pub(crate) status: Status,
    pub(crate) before: Status,
    pub(crate) inputs: Vec<&'static str>,
    pub(crate) incident: Option<String>,
}

impl Changed {
    fn of(loaded: &Loaded, status: Status, rev: i64) -> Self {
        Self {
            id: loaded.id.clone(),
            process: loaded.def.process.clone(),
            rev,
            status,
            before: loaded.before,
            inputs: loaded.inputs.clone(),
            incident: loaded.state.incident().map(str::to_owned),
        }
    }

    /// Logs the change: one info line, an error line for a new incident.
    pub(crate) fn log(&self) {
        let inputs = self.inputs.join(",");
        tracing::info!(instance_id = %self.id, process = %self.process, rev = self.rev,
            status = self.status.name(), inputs = %inputs, "instance changed");
        if self.status == Status::Incident && self.before != Status::Incident {
            tracing::error!(instance_id = %self.id, process = %self.process,
                incident = self.incident.as_deref().unwrap_or_default(), "incident raised");
        }
    }
}

fn instance_row(loaded: &Loaded, status: Status, now_ms: i64) -> instance::ActiveModel {
    instance::ActiveModel {
        id: Set(loaded.id.clone()),
        process: Set(loaded.def.process.clone()),
        version: Set(version_i32(loaded.def.version)),
        status: Set(status.name().to_owned()),
        rev: Set(1),
        state: Set(loaded.state.encode()),
        outcome: Set(loaded.state.outcome.clone()),
        incident: Set(loaded.state.incident().map(str::to_owned)),
        initiator: Set(loaded.state.initiator.clone()),
        created_at: Set(loaded.created_at),
        updated_at: Set(now_ms),
    }
}

/// Deletes what released tokens waited on: tasks, waits and jobs, a chunk
/// per statement.
async fn delete_released<C: ConnectionTrait>(
    conn: &C,
    releases: &[(String, u64, Wait, bool)],
) -> Result<(), Error> {
    let mut tasks = Vec::new();
    let mut waits = Vec::new();
    let mut jobs = Vec::new();
    for (instance_id, token, wait, timeout) in releases {
        let key = (instance_id.clone(), token_i64(*token));
        match wait {
            Wait::Task | Wait::Sign => tasks.push(task_id(instance_id, *token)),
            Wait::Event { .. } => waits.push(key.clone()),
            Wait::Ready | Wait::Incident { .. } | Wait::Timer | Wait::Retry | Wait::Call => {}
        }
        if *timeout || matches!(wait, Wait::Timer | Wait::Retry | Wait::Call) {
            jobs.push(key);
        }
    }
    for chunk in tasks.chunks(CHUNK) {
        task::Entity::delete_many()
            .filter(task::Column::Id.is_in(chunk.iter().cloned()))
            .exec(conn)
            .await?;
    }
    for chunk in waits.chunks(CHUNK) {
        let columns = (wait::Column::InstanceId, wait::Column::TokenId);
        wait::Entity::delete_many()
            .filter(pairs_in(columns, chunk))
            .exec(conn)
            .await?;
    }
    for chunk in jobs.chunks(CHUNK) {
        let columns = (job::Column::InstanceId, job::Column::TokenId);
        job::Entity::delete_many()
            .filter(pairs_in(columns, chunk))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// `(a, b) IN ((..), (..))` over two columns.
fn pairs_in<T: sea_orm::sea_query::IntoColumnRef>(
    (a, b): (T, T),
    pairs: &[(String, i64)],
) -> sea_orm::sea_query::SimpleExpr {
    Expr::tuple([Expr::col(a).into(), Expr::col(b).into()]).in_tuples(pairs.iter().cloned())
}

async fn insert_chunks<E, C>(conn: &C, rows: Vec<E::ActiveModel>) -> Result<(), Error>
where
    E: EntityTrait,
    E::Model: sea_orm::IntoActiveModel<E::ActiveModel>,
    C: ConnectionTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        E::insert_many(chunk).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// The id of the task token `token` of instance `instance_id` waits on.
pub fn task_id(instance_id: &str, token: u64) -> String {
    format!("{instance_id}.{token}")
}

fn task_form(def: &Definition, node: &crate::definition::Node) -> String {
    use crate::definition::NodeKind;
    let vars: Vec<&str> = match &node.kind {
        NodeKind::Task { form, .. } => form
            .iter()
            .map(|ix| def.variables[*ix].name.as_str())
            .collect(),
        NodeKind::Sign { output, .. } => output
            .iter()
            .map(|ix| def.variables[*ix].name.as_str())
            .collect(),
        _ => Vec::new(),
    };
    serde_json::to_string(&vars).expect("a list of names is JSON")
}

pub(crate) fn token_i64(token: u64) -> i64 {
    i64::try_from(token).expect("token ids stay far below i64::MAX")
}

fn input_name(input: &Input) -> &'static str {
    match input {
        Input::Start { .. } => "start",
        Input::Complete { .. } => "complete",
        Input::Event { .. } => "event",
        Input::Timer { .. } => "timer",
        Input::Timeout { .. } => "timeout",
        Input::RetryDue { .. } => "retry_due",
        Input::Activity { .. } => "activity",
        Input::Resolve { .. } => "resolve",
        Input::Cancel => "cancel",
    }
}
