//! `sesflow outbox`: messages kept instead of sent.

use std::process::ExitCode;

use clap::Args;
use sesflow_activities::notify::outbox;

use super::{open, show_time, Output};

/// Show the messages in the outbox.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// Only messages to this address or phone number.
    #[arg(long)]
    pub to: Option<String>,
    /// How many of the latest messages.
    #[arg(long, default_value_t = 20)]
    pub last: u64,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// Runs `sesflow outbox`.
pub async fn run(db: &str, args: OutboxArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let entries = outbox::list(ses.db(), args.to.as_deref(), args.last).await?;
    let views: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id, "channel": e.channel, "to": e.recipient, "subject": e.subject,
                "body": e.body,
                "created_at": sesflow_activities::store::datetime(e.created_at),
            })
        })
        .collect();
    args.output.print(&views, |_| {
        entries
            .iter()
            .map(|e| {
                format!(
                    "{}  {} to {}\n  {}\n",
                    show_time(sesflow_activities::store::datetime(e.created_at)),
                    e.channel,
                    e.recipient,
                    e.body
                )
            })
            .collect()
    });
    Ok(ExitCode::SUCCESS)
}
