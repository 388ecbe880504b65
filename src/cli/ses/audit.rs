//! `sesflow audit`: the audit log of the SES module.

use std::process::ExitCode;

use clap::Args;
use sesflow_activities::audit;
use sesflow_activities::store::datetime;

use super::{open, show_time, Output};

/// Show the audit log: issuance, rejection, revocation, signing and failed
/// code attempts.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries about this user.
    #[arg(long)]
    pub user: Option<String>,
    /// How many of the latest entries.
    #[arg(long, default_value_t = 50)]
    pub last: u64,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// Runs `sesflow audit`.
pub async fn run(db: &str, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let entries = audit::list(ses.db(), args.user.as_deref(), args.last).await?;
    let views: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "at": datetime(e.at), "action": e.action, "user": e.login,
                "subject": e.subject, "detail": e.detail,
            })
        })
        .collect();
    args.output.print(&views, |_| {
        entries
            .iter()
            .map(|e| {
                format!(
                    "{}  {:<22} {:<12} {}  {}\n",
                    show_time(datetime(e.at)),
                    e.action,
                    e.login.as_deref().unwrap_or("-"),
                    e.subject.as_deref().unwrap_or("-"),
                    e.detail
                )
            })
            .collect()
    });
    Ok(ExitCode::SUCCESS)
}
