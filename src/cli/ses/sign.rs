//! `sesflow sign`: sign a file or an app item.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sesflow_activities::ses::{Document, Record, Ses, Step, NOTICE};
use zeroize::Zeroizing;

use super::{finish, now, open, prompt_hidden, read_password, show_time, write_atomic, Output};

/// Sign a file or an app item with your SES certificate.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The signer's login.
    #[arg(long)]
    pub user: String,
    /// The file to sign.
    #[arg(
        long,
        conflicts_with = "app_item",
        required_unless_present = "app_item"
    )]
    pub file: Option<PathBuf>,
    /// The app item to sign, as APP/ID.
    #[arg(long)]
    pub app_item: Option<String>,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// The one-time code sent by the first step (two-factor).
    #[arg(long)]
    pub code: Option<String>,
    /// Where to write the signature file (default PATH.sig, or
    /// APP-ID-vVERSION.sig for an item).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output.
    #[command(flatten)]
    pub output: Output,
}

/// Splits `APP/ID`.
pub fn split_item(text: &str) -> sesflow_activities::Result<(String, String)> {
    match text.split_once('/') {
        Some((app, id)) if !app.is_empty() && !id.is_empty() => Ok((app.into(), id.into())),
        _ => Err(sesflow_activities::Error::Invalid {
            field: "app item",
            value: text.to_owned(),
            remedy: "give it as APP/ID, such as invoices/2024-17".into(),
        }),
    }
}

/// The document named by `--file` or `--app-item`.
pub async fn document(
    ses: &Ses,
    file: Option<&PathBuf>,
    app_item: Option<&str>,
) -> sesflow_activities::Result<Document> {
    match (file, app_item) {
        (Some(path), _) => Document::file(path),
        (None, Some(item)) => {
            let (app, id) = split_item(item)?;
            Document::app_item(ses.db(), &app, &id).await
        }
        (None, None) => Err(sesflow_activities::Error::Invalid {
            field: "document",
            value: String::new(),
            remedy: "give --file PATH or --app-item APP/ID".into(),
        }),
    }
}

/// Runs `sesflow sign`.
pub async fn run(db: &str, args: SignArgs) -> anyhow::Result<ExitCode> {
    let ses = open(db).await?;
    let password = read_password(args.password_stdin)?;
    let interactive = !args.password_stdin && args.code.is_none();
    let result = async {
        let document = document(&ses, args.file.as_ref(), args.app_item.as_deref()).await?;
        let code = args.code.as_deref();
        let mut step = ses
            .sign(&args.user, &password, &document, code, now())
            .await?;
        if let (Step::CodeSent(sent), true) = (&step, interactive) {
            eprintln!("a code was sent to {}", sent.to.join(", "));
            let code: Zeroizing<String> =
                prompt_hidden("Code: ").map_err(|e| sesflow_activities::Error::Io {
                    path: "the terminal".into(),
                    source: std::io::Error::other(e.to_string()),
                })?;
            step = ses
                .sign(&args.user, &password, &document, Some(&code), now())
                .await?;
        }
        Ok(step)
    };
    let step = match result.await {
        Ok(step) => step,
        Err(error) => return finish(Err(error)),
    };
    match step {
        Step::CodeSent(sent) => {
            args.output.print(&sent, |s| {
                format!(
                    "a code was sent to {}; it expires at {}. Run the same command again with \
                     --code CODE.\nnote: {NOTICE}\n",
                    s.to.join(", "),
                    show_time(s.expires_at)
                )
            });
            Ok(ExitCode::SUCCESS)
        }
        Step::Signed(record) => {
            let out = args.out.unwrap_or_else(|| default_out(&args.file, &record));
            write_atomic(&out, &record.to_file())?;
            args.output.print(&*record, |r| {
                format!(
                    "signed {} as {} ({}) with certificate {} at {}\nsignature file: {}\n\
                     note: {NOTICE}\n",
                    r.target,
                    r.signer.full_name,
                    r.signer.login,
                    r.serial,
                    r.signed_at,
                    out.display()
                )
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn default_out(file: &Option<PathBuf>, record: &Record) -> PathBuf {
    use sesflow_activities::ses::Target;
    match (file, &record.target) {
        (Some(path), _) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".sig");
            PathBuf::from(name)
        }
        (
            None,
            Target::AppItem {
                app, id, version, ..
            },
        ) => PathBuf::from(format!("{app}-{id}-v{version}.sig")),
        (None, Target::File { name }) => PathBuf::from(format!("{name}.sig")),
    }
}
