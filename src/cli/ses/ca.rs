//! `sesflow ca`: the certificate service's CA certificate and CRL.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{certs::emit, finish, now, open};

/// The certificate authority.
#[derive(Debug, Args)]
pub struct CaArgs {
    /// The action.
    #[command(subcommand)]
    pub command: CaCommand,
}

/// Actions on the CA.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Print the CA certificate in PEM (created on first use).
    Export {
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a new certificate revocation list in PEM.
    Crl {
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `sesflow ca`.
pub async fn run(db: &str, args: CaArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let result = async {
        match args.command {
            CaCommand::Export { out } => emit(out, &ses.certs().ca(now()).await?.pem())?,
            CaCommand::Crl { out } => emit(out, &ses.certs().crl(now()).await?)?,
        }
        Ok(ExitCode::SUCCESS)
    };
    finish(
        result
            .await
            .map_err(|e: sesflow_activities::certs::Error| e.into()),
    )
}
