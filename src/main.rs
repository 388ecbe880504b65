//! The `sesflow` command line: thin, parses arguments, calls the crates.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Instances, rows and JSON values are many small, short-lived
/// allocations; mimalloc serves them with less contention and less
/// consolidation work than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    match cli::run(args).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
