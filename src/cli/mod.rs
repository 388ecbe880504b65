//! Command definitions (clap) and dispatch to one module per area.
//!
//! Exit codes: 0 success, 1 the input was checked and found wrong (an invalid
//! schema, a failed verification, a failed scenario), 2 an error stopped the
//! command.

mod replay;
mod runtime;
mod test;

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
    /// The runtime: deploy, start, inspect, complete, send events, run.
    #[command(flatten)]
    Runtime(runtime::Command),
    /// Replay exported histories against a schema; report the first divergence.
    Replay(replay::Args),
    /// Run scenario files (`NAME.test.yaml`) in memory and report each step.
    Test(test::Args),
}

/// Sets up tracing on stderr at the level `verbose` asks for.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Runtime(command) => runtime::run(&cli.db, command).await,
        Command::Replay(args) => replay::run(args),
        Command::Test(args) => test::run(args),
    }
}
