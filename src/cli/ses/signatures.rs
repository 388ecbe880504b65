//! `sesflow signatures`: the history of signatures.

use std::process::ExitCode;

use clap::Args;
use sesflow_activities::ses::NOTICE;
use sesflow_activities::store::datetime;

use super::{finish, open, show_time, Output};

/// List signatures made through the SES module.
#[derive(Debug, Args)]
pub struct SignaturesArgs {
    /// Only those of this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// Runs `sesflow signatures`.
pub async fn run(db: &str, args: SignaturesArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let rows = match ses.signatures(args.user.as_deref(), None).await {
        Ok(rows) => rows,
        Err(error) => return finish(Err(error)),
    };
    let views: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "signer": r.login, "serial": r.serial, "target": r.target,
                "digest": r.digest, "method": r.method, "signed_at": datetime(r.signed_at),
            })
        })
        .collect();
    let view = serde_json::json!({ "signatures": views, "notice": NOTICE });
    args.output.print(&view, |_| {
        let mut text: String = rows
            .iter()
            .map(|r| {
                format!(
                    "{}  {}  {}  {}  certificate {}  sha-256 {}\n",
                    show_time(datetime(r.signed_at)),
                    r.login,
                    r.target,
                    r.method,
                    r.serial,
                    r.digest
                )
            })
            .collect();
        text.push_str(&format!("note: {NOTICE}\n"));
        text
    });
    Ok(ExitCode::SUCCESS)
}
