//! The effectful shell around the runtime: load, apply, commit.
//!
//! An [`Engine`] owns a database connection, the activity registry, the
//! expression evaluator and a cache of compiled definitions. Every change of
//! an instance runs in one transaction: load the instance, apply the input
//! with the pure [`crate::runtime`], then write the new state (checking its
//! revision, so one writer wins), the history records, the jobs, tasks and
//! waits, and the events it consumed. Activities are called after commit by
//! the worker ([`crate::queue`]) with the idempotency key (instance, node,
//! token).

mod batch;
mod clock;
mod confirm;
mod ops;
mod pipeline;
mod query;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder, QuerySelect};
use sea_orm::{ColumnTrait, QueryFilter, TransactionTrait};

use crate::activity::Registry;
use crate::definition::Definition;
use crate::expr::Evaluator;
use crate::runtime;
use crate::schema::{self, Diagnostic};
use crate::store::{self, entities::definition};

pub(crate) use batch::Batch;
pub use clock::{Clock, ManualClock, SystemClock};
pub use ops::{parse_var, task_of, Completion, Delivery, StartRequest, Started};
pub use query::{InstanceSummary, InstanceView, TaskView, TokenView};

/// How an engine runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// How many nodes one change may run before the token stops on an
    /// incident (a loop that never waits).
    pub step_budget: u32,
    /// How long an event that no instance waits for yet is kept.
    pub event_ttl: Option<Duration>,
    /// How long a worker holds an activity job before others may take it.
    pub lease: Duration,
    /// The delay before an activity that was temporarily unavailable is
    /// called again.
    pub unavailable_delay: Duration,
    /// How many jobs a worker claims and commits at once.
    pub batch: usize,
    /// This worker's name in job leases.
    pub worker_id: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            step_budget: runtime::DEFAULT_STEP_BUDGET,
            event_ttl: Some(Duration::from_secs(30 * 24 * 3600)),
            lease: Duration::from_secs(30),
            unavailable_delay: Duration::from_secs(5),
            batch: 256,
            worker_id: format!("worker-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// Errors of the engine. `is_input` tells the ones a person caused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The schema does not compile; every problem found is listed.
    #[error("the schema has {} problem(s)", .0.len())]
    Invalid(Vec<Diagnostic>),
    /// A different schema was deployed under this process and version.
    #[error(
        "process `{process}` version {version} is deployed already with other content \
         (digest {deployed}); raise `version:` in the schema to deploy the change"
    )]
    VersionTaken {
        /// The process id.
        process: String,
        /// The version.
        version: u32,
        /// The digest of what is deployed.
        deployed: String,
    },
    /// Nothing with that id exists.
    #[error("no {what} `{id}`{hint}")]
    NotFound {
        /// What was looked for: `process`, `instance`, `open task`.
        what: &'static str,
        /// The id given.
        id: String,
        /// A hint, starting with `: ` when present.
        hint: String,
    },
    /// The input was checked and found wrong.
    #[error("{0}")]
    Input(String),
    /// The runtime refused the input.
    #[error(transparent)]
    Runtime(#[from] runtime::Error),
    /// The activity that confirms completions of the task's kind refused
    /// this one, or could not be reached.
    #[error("task `{task}` cannot be completed: {error}")]
    Refused {
        /// The task id.
        task: String,
        /// Why.
        error: crate::activity::Error,
    },
    /// Another writer changed the instance first; the change is retried.
    #[error("instance `{0}` was changed by another writer")]
    Conflict(String),
    /// A stored row cannot be read back.
    #[error("stored data of {what} `{id}` is unreadable: {message}")]
    Corrupt {
        /// What: `instance`, `history`, `definition`.
        what: &'static str,
        /// Its id.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl From<sea_orm::DbErr> for Error {
    fn from(error: sea_orm::DbErr) -> Self {
        Error::Store(store::Error::Db(error))
    }
}

impl Error {
    /// No instance `id` exists.
    pub(crate) fn no_instance(id: &str) -> Self {
        Error::NotFound {
            what: "instance",
            id: id.to_owned(),
            hint: ": list them with `sesflow instances`".into(),
        }
    }

    /// Whether a person caused the error (exit code 1) rather than the
    /// system (exit code 2).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Error::Invalid(_)
                | Error::VersionTaken { .. }
                | Error::NotFound { .. }
                | Error::Input(_)
                | Error::Runtime(runtime::Error::Input(_) | runtime::Error::Finished(_))
                | Error::Refused {
                    error: crate::activity::Error::Failed { .. },
                    ..
                }
        )
    }

    fn is_retryable(&self) -> bool {
        match self {
            Error::Conflict(_) => true,
            Error::Store(error) => store::is_retryable(error),
            _ => false,
        }
    }
}

/// What `deploy` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deployed {
    /// The schema was stored.
    New,
    /// The same content was deployed already; nothing changed.
    Unchanged,
}

/// The engine: store, activities, evaluator and compiled definitions.
pub struct Engine {
    db: DatabaseConnection,
    registry: Registry,
    evaluator: Evaluator,
    definitions: RwLock<HashMap<(String, u32), Arc<Definition>>>,
    clock: Arc<dyn Clock>,
    config: Config,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.registry)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over an open (migrated) database.
    pub fn new(db: DatabaseConnection, registry: Registry, config: Config) -> Self {
        Self {
            db,
            registry,
            evaluator: Evaluator::new(),
            definitions: RwLock::new(HashMap::new()),
            clock: Arc::new(SystemClock),
            config,
        }
    }

    /// Opens (and migrates) the database at `url` and builds an engine on it.
    pub async fn open(url: &str, registry: Registry, config: Config) -> Result<Self, Error> {
        let db = store::open(url).await?;
        Ok(Self::new(db, registry, config))
    }

    /// Replaces the clock (tests use a [`ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The database connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The activity registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The engine clock, ms since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Compiles and stores a schema. Deploying the same content again does
    /// nothing; other content under a deployed process and version is refused.
    pub async fn deploy(
        &self,
        file: &str,
        source: &str,
    ) -> Result<(Arc<Definition>, Deployed), Error> {
        let def = Arc::new(schema::compile(file, source).map_err(Error::Invalid)?);
        let deployed = self
            .retrying(|| async {
                let txn = self.db.begin().await?;
                let existing =
                    definition::Entity::find_by_id((def.process.clone(), version_i32(def.version)))
                        .one(&txn)
                        .await?;
                if let Some(row) = existing {
                    if row.digest == def.digest {
                        return Ok(Deployed::Unchanged);
                    }
                    return Err(Error::VersionTaken {
                        process: def.process.clone(),
                        version: def.version,
                        deployed: row.digest,
                    });
                }
                let row = definition::ActiveModel {
                    process: Set(def.process.clone()),
                    version: Set(version_i32(def.version)),
                    digest: Set(def.digest.clone()),
                    title: Set(def.title.clone()),
                    source: Set(def.source.clone()),
                    deployed_at: Set(self.now_ms()),
                };
                definition::Entity::insert(row)
                    .exec_without_returning(&txn)
                    .await?;
                txn.commit().await?;
                Ok(Deployed::New)
            })
            .await?;
        if deployed == Deployed::New {
            tracing::info!(process = %def.process, version = def.version, "schema deployed");
        }
        self.cache(def.clone());
        Ok((def, deployed))
    }

    /// The definition of `process` at `version`, or at its latest version.
    pub async fn definition(
        &self,
        process: &str,
        version: Option<u32>,
    ) -> Result<Arc<Definition>, Error> {
        if let Some(version) = version {
            if let Some(def) = self.cached(process, version) {
                return Ok(def);
            }
        }
        let mut select = definition::Entity::find().filter(definition::Column::Process.eq(process));
        if let Some(version) = version {
            select = select.filter(definition::Column::Version.eq(version_i32(version)));
        }
        let row = select
            .order_by_desc(definition::Column::Version)
            .limit(1)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "deployed process",
                id: match version {
                    Some(version) => format!("{process}` version `{version}"),
                    None => process.to_owned(),
                },
                hint: ": deploy it first with `sesflow deploy FILE`".into(),
            })?;
        let version = u32::try_from(row.version).unwrap_or_default();
        if let Some(def) = self.cached(process, version) {
            return Ok(def);
        }
        let file = format!("{process} version {version} (deployed)");
        let def = schema::compile(&file, &row.source).map_err(|problems| Error::Corrupt {
            what: "definition",
            id: format!("{process}@{version}"),
            message: problems
                .iter()
                .map(|problem| problem.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        let def = Arc::new(def);
        self.cache(def.clone());
        Ok(def)
    }

    fn cached(&self, process: &str, version: u32) -> Option<Arc<Definition>> {
        let cache = self
            .definitions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(&(process.to_owned(), version)).cloned()
    }

    fn cache(&self, def: Arc<Definition>) {
        let mut cache = self
            .definitions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert((def.process.clone(), def.version), def);
    }

    /// Runs `attempt` again while it fails with a conflict or a busy store.
    pub(crate) async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut n_tries = 0u32;
        loop {
            match attempt().await {
                Err(error) if error.is_retryable() && n_tries < 50 => {
                    n_tries += 1;
                    tracing::debug!(attempt = n_tries, "retrying after: {error}");
                    let pause = 2u64.saturating_pow(n_tries.min(7)) + rand::random::<u64>() % 10;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                other => return other,
            }
        }
    }
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A version as stored (versions beyond `i32::MAX` are refused at compile).
pub(crate) fn version_i32(version: u32) -> i32 {
    i32::try_from(version).unwrap_or(i32::MAX)
}
