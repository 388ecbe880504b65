//! `sesflow sign`: sign a file or an app item.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use sesflow_activities::ses::{CodeSent, Document, Record, Ses, Step, NOTICE};
use zeroize::Zeroizing;

use super::{finish, now, open, prompt_hidden, read_password, show_time, Output, Staged};

/// Sign a file or an app item with your SES certificate, or the document
/// of a signing task of a process (`--task`).
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The signer's login (with --task: the task's assignee by default).
    #[arg(long, required_unless_present = "task")]
    pub user: Option<String>,
    /// The file to sign.
    #[arg(
        long,
        conflicts_with_all = ["app_item", "task"],
        required_unless_present_any = ["app_item", "task"]
    )]
    pub file: Option<PathBuf>,
    /// The app item to sign, as APP/ID.
    #[arg(long, conflicts_with = "task")]
    pub app_item: Option<String>,
    /// The signing task (from `sesflow tasks`) whose document to sign; the
    /// task completes with the signature.
    #[arg(long)]
    pub task: Option<String>,
    /// Refuse to sign the task's document instead (needs --comment).
    #[arg(long, requires_all = ["task", "comment"])]
    pub reject: bool,
    /// Why the task's document is not signed.
    #[arg(long, requires = "reject")]
    pub comment: Option<String>,
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

/// Asks for the code that was just sent, on the terminal.
pub fn prompt_code(sent: &CodeSent) -> sesflow_activities::Result<Zeroizing<String>> {
    eprintln!("a code was sent to {}", sent.to.join(", "));
    prompt_hidden("Code: ").map_err(|e| sesflow_activities::Error::Io {
        path: "the terminal".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Runs `sesflow sign`.
pub async fn run(db: &str, args: SignArgs) -> anyhow::Result<ExitCode> {
    if args.task.is_some() {
        return crate::cli::signing::sign_task(db, args).await;
    }
    let user = args.user.clone().unwrap_or_default();
    let ses = open(db).await?;
    let planned = args
        .out
        .clone()
        .or_else(|| args.file.as_deref().map(file_out));
    let staged = Staged::for_out(planned.as_deref())?;
    let password = read_password(args.password_stdin)?;
    let interactive = !args.password_stdin && args.code.is_none();
    let result = async {
        let document = document(&ses, args.file.as_ref(), args.app_item.as_deref()).await?;
        let code = args.code.as_deref();
        let mut step = ses.sign(&user, &password, &document, code, now()).await?;
        if let (Step::CodeSent(sent), true) = (&step, interactive) {
            let code = prompt_code(sent)?;
            step = ses
                .sign(&user, &password, &document, Some(&code), now())
                .await?;
        }
        Ok(step)
    };
    let step = match result.await {
        Ok(step) => step,
        Err(error) => return finish(Err(error)),
    };
    match step {
        Step::CodeSent(sent) => print_code_sent(&args.output, &sent),
        Step::Signed(record) => {
            let out = args.out.unwrap_or_else(|| default_out(&args.file, &record));
            staged.commit(&out, &record.to_file())?;
            print_signed(&args.output, &record, &out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints that a code was sent and how to go on.
pub fn print_code_sent(output: &Output, sent: &CodeSent) {
    output.print(sent, |s| {
        format!(
            "a code was sent to {}; it expires at {}. Run the same command again with \
             --code CODE.\nnote: {NOTICE}\n",
            s.to.join(", "),
            show_time(s.expires_at)
        )
    });
}

/// Prints a signature record and where its file went.
pub fn print_signed(output: &Output, record: &Record, out: &Path) {
    output.print(record, |r| {
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
}

/// Where the signature of the file `path` goes by default: PATH.sig.
pub fn file_out(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Where a signature file goes by default: PATH.sig, or APP-ID-vVERSION.sig.
pub fn default_out(file: &Option<PathBuf>, record: &Record) -> PathBuf {
    use sesflow_activities::ses::Target;
    match (file, &record.target) {
        (Some(path), _) => file_out(path),
        (
            None,
            Target::AppItem {
                app, id, version, ..
            },
        ) => PathBuf::from(format!("{app}-{id}-v{version}.sig")),
        (None, Target::File { name }) => PathBuf::from(format!("{name}.sig")),
    }
}
