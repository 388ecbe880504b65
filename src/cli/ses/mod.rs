//! The SES module's commands: one file per command group.
//!
//! Data goes to stdout (`--format json` for machines), messages to stderr.
//! Errors a person caused (a wrong code, an unknown user) exit with 1, after
//! a message naming the value and the remedy; other errors exit with 2.

pub mod apps;
pub mod audit;
pub mod ca;
pub mod certs;
pub mod outbox;
pub mod security;
#[allow(
    clippy::module_inception,
    reason = "`sesflow ses` is one command group among its siblings"
)]
pub mod ses;
pub mod sign;
pub mod signatures;
pub mod users;
pub mod verify;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use serde::Serialize;
use sesflow_activities::ses::Ses;
use zeroize::Zeroizing;

/// How data is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people.
    #[default]
    Text,
    /// JSON for programs.
    Json,
}

/// The output option shared by the commands that print data.
#[derive(Clone, Copy, Debug, Default, Args)]
pub struct Output {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl Output {
    /// Prints `value` as JSON, or as `text` renders it.
    pub fn print<T: Serialize>(&self, value: &T, text: impl FnOnce(&T) -> String) {
        match self.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("\"{e}\""))
            ),
            Format::Text => print!("{}", text(value)),
        }
    }
}

/// Opens the database at `url` (engine and SES migrations) and loads the
/// master key, refused when it is not the key the store's sealed keys are
/// under.
pub async fn open(url: &str) -> anyhow::Result<Ses> {
    let db = sesflow_engine::store::open(url).await?;
    sesflow_activities::store::migrate(&db)
        .await
        .with_context(|| format!("cannot migrate the SES tables of `{url}`"))?;
    let keys = sesflow_activities::certs::load_key(&db).await?;
    Ok(Ses::new(db, keys))
}

/// The clock of the commands.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Turns the module's result into an exit code: input errors print their
/// message and code and exit with 1; other errors go up (exit 2).
pub fn finish(result: Result<ExitCode, sesflow_activities::Error>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(code) => Ok(code),
        Err(error) if error.is_input() => {
            eprintln!("error: {error} [{}]", error.code());
            Ok(ExitCode::from(1))
        }
        Err(error) => Err(error.into()),
    }
}

/// Reads a password: the first line of stdin with `from_stdin`, else a
/// prompt on the terminal without echo.
pub fn read_password(from_stdin: bool) -> anyhow::Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    if from_stdin {
        let mut line = Zeroizing::new(String::new());
        stdin.lock().read_line(&mut line)?;
        return Ok(Zeroizing::new(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ));
    }
    if !stdin.is_terminal() {
        anyhow::bail!("no password: give --password-stdin and the password on stdin");
    }
    prompt_hidden("Password: ")
}

/// Asks for a line on the terminal without echoing it.
pub fn prompt_hidden(prompt: &str) -> anyhow::Result<Zeroizing<String>> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let echo = |on: bool| {
        std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(std::process::Stdio::inherit())
            .status()
    };
    let _ = echo(false);
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin().lock().read_line(&mut line);
    let _ = echo(true);
    eprintln!();
    read?;
    Ok(Zeroizing::new(line.trim().to_owned()))
}

/// Writes `text` to `path` whole or not at all (a temporary file renamed).
pub fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    Staged::for_path(path)?.commit(path, text)
}

/// An output file made ready before the work whose result it will take: a
/// temporary file in the target folder, so that a folder that cannot be
/// written fails before anything is recorded. Dropped unused, it is removed.
#[derive(Debug)]
pub struct Staged {
    temp: Option<std::path::PathBuf>,
}

impl Staged {
    /// Stages the file `path`, refused when `path` is a folder or its folder
    /// cannot be written.
    pub fn for_path(path: &Path) -> anyhow::Result<Self> {
        if path.is_dir() {
            anyhow::bail!(
                "cannot write {}: it is a folder; give a file name",
                path.display()
            );
        }
        let name = path
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::File::create(&temp).with_context(|| {
            format!(
                "cannot write {}; give a writable place with --out",
                path.display()
            )
        })?;
        Ok(Self { temp: Some(temp) })
    }

    /// Stages `out` when given, else a file in the current folder.
    pub fn for_out(out: Option<&Path>) -> anyhow::Result<Self> {
        Self::for_path(out.unwrap_or(Path::new("output")))
    }

    /// Writes `text` to the staged file and moves it to `path` (in the
    /// staged folder), whole or not at all.
    pub fn commit(mut self, path: &Path, text: &str) -> anyhow::Result<()> {
        let temp = self.temp.take().expect("a staged file is committed once");
        let written = std::fs::write(&temp, text)
            .and_then(|()| std::fs::File::open(&temp)?.sync_all())
            .and_then(|()| std::fs::rename(&temp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// A time for people: `2025-01-31 14:05:09 UTC`.
pub fn show_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
