//! The operator commands of the runtime: deploy schemas, start and inspect
//! instances, complete tasks, send events, fix incidents, run the worker,
//! measure.

mod bench;
mod bench_sign;
mod instances;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use sesflow_engine::driver::Error;
use sesflow_engine::{Config, Engine};

pub use worker::{registry, LOOPBACK_ENV};

/// How listings and `show` print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Text,
    /// JSON for programs.
    Json,
}

/// The runtime's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a schema and store it under its process id and version.
    Deploy {
        /// The schema file (YAML).
        file: PathBuf,
    },
    /// Start an instance; prints its id alone on stdout.
    Start {
        /// The process id.
        process: String,
        /// The version (default: the latest deployed).
        #[arg(long)]
        version: Option<u32>,
        /// A variable, NAME=VALUE, checked against its type (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// A JSON file with an object of variables.
        #[arg(long = "vars", value_name = "FILE")]
        vars_file: Option<PathBuf>,
        /// Who starts it (the `initiator` of tasks).
        #[arg(long)]
        initiator: Option<String>,
    },
    /// List instances, newest first.
    Instances {
        /// Only instances in this status: active, incident, completed, cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Only instances of this process.
        #[arg(long)]
        process: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show one instance: status, tokens, variables, tasks, waits, jobs.
    Show {
        /// The instance id.
        instance: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print an instance's history.
    History {
        /// The instance id.
        instance: String,
        /// Output format (json: one record per line, see docs/history.md).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Write the history and its schema to FILE as JSON lines, for `sesflow replay`.
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
    },
    /// List open tasks.
    Tasks {
        /// Only tasks assigned to this login.
        #[arg(long)]
        assignee: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Complete a task with form data; the instance runs on at once.
    Complete {
        /// The task id (from `sesflow tasks`).
        task: String,
        /// A form variable, NAME=VALUE (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Complete the task as rejected (takes the node's `on_rejected`).
        /// Signings are not completed here: use `sesflow sign`.
        #[arg(long)]
        reject: bool,
    },
    /// The event inbox.
    Events {
        /// What to do.
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// List instances stopped on an incident.
    Incidents {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Set variables and retry an instance's incidents.
    Retry {
        /// The instance id.
        instance: String,
        /// A variable to set first, NAME=VALUE (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Cancel an instance: its tasks, waits and jobs are dropped.
    Cancel {
        /// The instance id.
        instance: String,
    },
    /// Run the worker: timers, timeouts, activity calls, retries, the
    /// certificate service, deliveries.
    Run(worker::RunArgs),
    /// Measure a workload (W1, W2, W3, W4, SIGN) on a fresh SQLite file; one
    /// JSON line per run.
    Bench(bench::BenchArgs),
}

/// Commands of the event inbox.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Send an event; a waiting instance takes it at once, else it is kept.
    Send {
        /// The event kind, such as `signature.issuance`.
        kind: String,
        /// The correlation key.
        #[arg(long)]
        key: String,
        /// The event id (default: a new UUID); an id seen before is ignored.
        #[arg(long)]
        id: Option<String>,
        /// The payload as JSON.
        #[arg(long, default_value = "{}")]
        data: String,
        /// How long to keep it if no instance waits yet, such as `1h` or `7d`
        /// (positive, at most 100 years).
        #[arg(long)]
        ttl: Option<String>,
    },
}

/// Runs one runtime command against the database at `db`.
pub async fn run(db: &str, command: Command) -> anyhow::Result<ExitCode> {
    let result = match command {
        Command::Run(args) => worker::run(db, args).await,
        Command::Bench(args) => bench::run(args, db).await,
        command => instances::run(db, command).await,
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => match error.downcast_ref::<Error>() {
            Some(Error::Invalid(problems)) => {
                for problem in problems {
                    eprintln!("{problem}");
                }
                eprintln!("error: {} problem(s); nothing was deployed", problems.len());
                Ok(ExitCode::from(1))
            }
            Some(engine_error) if engine_error.is_input() => {
                eprintln!("error: {error:#}");
                Ok(ExitCode::from(1))
            }
            _ => Err(error),
        },
    }
}

/// Opens the engine at `db` with the SES module's activities and chores
/// (and the loopback activity where its variable is set).
async fn open(db: &str, config: Config) -> anyhow::Result<Engine> {
    let conn = sesflow_engine::store::open(db)
        .await
        .map_err(Error::Store)?;
    let mut registry = crate::cli::signing::registry(&conn).await?;
    worker::add_loopback(&mut registry);
    Ok(Engine::new(conn, registry, config))
}

/// Prints `value` as pretty JSON on stdout.
fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Formats ms since the Unix epoch as RFC 3339 (seconds, UTC).
fn moment(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}
