//! Command definitions (clap) and dispatch to one module per area.
//!
//! Exit codes: 0 success, 1 the input was checked and found wrong (an invalid
//! schema, a failed verification, a failed scenario), 2 an error stopped the
//! command.

mod graph;
mod replay;
mod runtime;
mod scale;
mod ses;
mod signing;
mod test;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sesflow: durable BPMN-style processes with simple electronic signatures.
#[derive(Debug, Parser)]
#[command(name = "sesflow", version, about)]
pub struct Cli {
    /// Database URL (SQLite file or PostgreSQL server).
    #[arg(long, global = true, env = "SESFLOW_DB", default_value = sesflow_engine::store::DEFAULT_URL)]
    pub db: String,
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command of the CLI, grouped by area.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check schema files and report every problem with its place.
    Validate(validate::Args),
    /// Draw a schema's flow as Graphviz DOT or Mermaid.
    Graph(graph::Args),
    /// The runtime: deploy, start, inspect, complete, send events, run.
    #[command(flatten)]
    Runtime(runtime::Command),
    /// Users who hold certificates and sign.
    Users(ses::users::UsersArgs),
    /// Company security settings (two-factor authentication).
    Security(ses::security::SecurityArgs),
    /// The SES module: enable, disable, settings.
    Ses(ses::ses::SesArgs),
    /// Certificates and certificate requests.
    Certs(ses::certs::CertsArgs),
    /// The certificate authority: its certificate and CRL.
    Ca(ses::ca::CaArgs),
    /// Messages kept in the outbox instead of being sent.
    Outbox(ses::outbox::OutboxArgs),
    /// Versioned app items.
    Apps(ses::apps::AppsArgs),
    /// Sign a file, an app item or a signing task of a process with an SES.
    Sign(ses::sign::SignArgs),
    /// Verify an SES signature file.
    Verify(ses::verify::VerifyArgs),
    /// The history of SES signatures.
    Signatures(ses::signatures::SignaturesArgs),
    /// The SES module's audit log.
    Audit(ses::audit::AuditArgs),
    /// Replay exported histories against a schema; report the first divergence.
    Replay(replay::Args),
    /// Run scenario files (`NAME.test.yaml`) in memory and report each step.
    Test(test::Args),
    /// List the live workers and the jobs they hold.
    Workers(scale::WorkersArgs),
}

/// Sets up tracing on stderr at the level `verbose` asks for.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // PostgreSQL's notices ("relation ... already exists, skipping") are
    // not the operator's concern
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{default},sqlx::postgres::notice=warn"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = cli.db.as_str();
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Runtime(command) => runtime::run(db, command).await,
        Command::Users(args) => ses::users::run(db, args).await,
        Command::Security(args) => ses::security::run(db, args).await,
        Command::Ses(args) => ses::ses::run(db, args).await,
        Command::Certs(args) => ses::certs::run(db, args).await,
        Command::Ca(args) => ses::ca::run(db, args).await,
        Command::Outbox(args) => ses::outbox::run(db, args).await,
        Command::Apps(args) => ses::apps::run(db, args).await,
        Command::Sign(args) => ses::sign::run(db, args).await,
        Command::Verify(args) => ses::verify::run(db, args).await,
        Command::Signatures(args) => ses::signatures::run(db, args).await,
        Command::Audit(args) => ses::audit::run(db, args).await,
        Command::Replay(args) => replay::run(args),
        Command::Test(args) => test::run(args),
        Command::Workers(args) => scale::run(db, args).await,
    }
}
