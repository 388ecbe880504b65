//! `sesflow security`: the company's two-factor settings.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use sesflow_activities::security::{self, Channel};

use super::{finish, now, open, Output};

/// Company security settings.
#[derive(Debug, Args)]
pub struct SecurityArgs {
    /// The action.
    #[command(subcommand)]
    pub command: SecurityCommand,
}

/// Actions on the security settings.
#[derive(Debug, Subcommand)]
pub enum SecurityCommand {
    /// Set up or turn off two-factor authentication.
    TwoFactor {
        /// Set it up.
        #[arg(long, conflicts_with = "disable", requires = "channels")]
        enable: bool,
        /// Turn it off.
        #[arg(long)]
        disable: bool,
        /// The channels codes go through: sms, email (comma-separated).
        #[arg(long, value_delimiter = ',')]
        channels: Vec<String>,
    },
    /// Show the settings.
    Show {
        /// Output.
        #[command(flatten)]
        output: Output,
    },
}

/// Runs `sesflow security`.
pub async fn run(db: &str, args: SecurityArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let result = async {
        match args.command {
            SecurityCommand::TwoFactor {
                enable,
                disable,
                channels,
            } => {
                let settings = if enable {
                    let channels = channels
                        .iter()
                        .map(|c| c.parse::<Channel>())
                        .collect::<Result<Vec<_>, _>>()?;
                    security::enable_two_factor(ses.db(), &channels, now()).await?
                } else if disable {
                    security::disable_two_factor(ses.db(), now()).await?
                } else {
                    return Err(sesflow_activities::Error::Invalid {
                        field: "two-factor",
                        value: String::new(),
                        remedy: "give --enable --channels sms,email or --disable".into(),
                    });
                };
                print!("{}", describe(&settings));
            }
            SecurityCommand::Show { output } => {
                let settings = security::load(ses.db()).await?;
                output.print(&settings, describe);
            }
        }
        Ok(ExitCode::SUCCESS)
    };
    finish(result.await)
}

fn describe(settings: &security::Security) -> String {
    if !settings.two_factor {
        return "two-factor authentication: off\n".into();
    }
    let channels: Vec<String> = settings.channels.iter().map(|c| c.to_string()).collect();
    format!(
        "two-factor authentication: on\nchannels: {}\n",
        channels.join(", ")
    )
}
