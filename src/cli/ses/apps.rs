//! `sesflow apps`: versioned app items and the fields signatures cover.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sesflow_activities::apps;
use sesflow_activities::ses::{Ses, NOTICE};

use super::{finish, now, open, show_time, Output};

/// App items.
#[derive(Debug, Args)]
pub struct AppsArgs {
    /// The action.
    #[command(subcommand)]
    pub command: AppsCommand,
}

/// Actions on app items.
#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Store a new version of an item.
    Put {
        /// The app.
        app: String,
        /// The item id.
        id: String,
        /// The fields as a JSON object.
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        json: Option<String>,
        /// A file holding the fields as a JSON object.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Show the latest version of an item and its signatures.
    Get {
        /// The app.
        app: String,
        /// The item id.
        id: String,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Set the fields that signatures of an app's items cover.
    Fields {
        /// The app.
        app: String,
        /// The field names, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            conflicts_with = "default",
            required_unless_present = "default"
        )]
        signed: Vec<String>,
        /// All fields but system fields (the default).
        #[arg(long)]
        default: bool,
    },
}

/// Runs `sesflow apps`.
pub async fn run(db: &str, args: AppsArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let result = async {
        match args.command {
            AppsCommand::Put {
                app,
                id,
                json,
                file,
            } => put(&ses, &app, &id, json, file).await?,
            AppsCommand::Get { app, id, output } => get(&ses, &app, &id, output).await?,
            AppsCommand::Fields {
                app,
                signed,
                default,
            } => {
                let fields = if default { None } else { Some(signed) };
                apps::set_signed_fields(ses.db(), &app, fields.clone(), now()).await?;
                match fields {
                    None => println!("{app}: signatures cover all but system fields"),
                    Some(names) => println!("{app}: signatures cover {}", names.join(", ")),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    };
    finish(result.await)
}

fn unreachable_input<T>() -> sesflow_activities::Result<T> {
    Err(sesflow_activities::Error::Invalid {
        field: "item",
        value: String::new(),
        remedy: "give --json JSON or --file FILE".into(),
    })
}

async fn put(
    ses: &Ses,
    app: &str,
    id: &str,
    json: Option<String>,
    file: Option<PathBuf>,
) -> sesflow_activities::Result<()> {
    let (text, place) = match (json, file) {
        (Some(json), _) => (json, "--json".to_owned()),
        (None, Some(path)) => (
            std::fs::read_to_string(&path).map_err(|source| sesflow_activities::Error::Io {
                path: path.display().to_string(),
                source,
            })?,
            path.display().to_string(),
        ),
        (None, None) => return unreachable_input(),
    };
    let fields = serde_json::from_str(&text).map_err(|e| sesflow_activities::Error::Invalid {
        field: "item JSON",
        value: place,
        remedy: format!("it is not JSON: {e}"),
    })?;
    let item = apps::put(ses.db(), app, id, fields, now()).await?;
    println!("{}/{} version {}", item.app, item.id, item.version);
    Ok(())
}

async fn get(ses: &Ses, app: &str, id: &str, output: Output) -> sesflow_activities::Result<()> {
    let item = apps::get(ses.db(), app, id).await?;
    let signatures = ses.item_signatures(app, id).await?;
    let view = serde_json::json!({ "item": item, "signatures": signatures, "notice": NOTICE });
    output.print(&view, |_| {
        let mut text = format!(
            "{}/{} version {} ({})\n{}\n",
            item.app,
            item.id,
            item.version,
            show_time(item.created_at),
            serde_json::to_string_pretty(&item.fields).unwrap_or_default()
        );
        for s in &signatures {
            let state = match s.invalid_since {
                None => "valid".to_owned(),
                Some(v) => format!("no longer valid since version {v}"),
            };
            text.push_str(&format!(
                "signature by {} at {} on version {}: {state}\n",
                s.login,
                show_time(s.signed_at),
                s.version
            ));
        }
        if !signatures.is_empty() {
            text.push_str(&format!("note: {NOTICE}\n"));
        }
        text
    });
    Ok(())
}
