//! `sesflow replay FILE... [--schema SCHEMA]...`: replays exported histories
//! in memory and reports the first divergence; and the export behind
//! `sesflow history INSTANCE --export FILE`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use sesflow_engine::definition::Definition;
use sesflow_engine::expr::Evaluator;
use sesflow_engine::replay::{self, file, History, Report};
use sesflow_engine::schema;
use sesflow_engine::Engine;

/// Arguments of `sesflow replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exported histories: JSON lines written by `sesflow history INSTANCE --export FILE`.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A schema to replay against instead of the one each history ran on; one per process
    /// (repeatable). Histories of other processes replay against their recorded schema.
    #[arg(long = "schema", value_name = "SCHEMA")]
    schemas: Vec<PathBuf>,
}

/// Replays every history; exit 0 when all took the recorded path, 1 when one
/// diverged or could not be replayed.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(schemas) = compile_schemas(&args.schemas)? else {
        return Ok(ExitCode::from(1));
    };
    let evaluator = Evaluator::new();
    let mut tally = Tally::default();
    let mut replayed: Vec<String> = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read history file {name}"))?;
        match file::read(&name, &text) {
            Ok(histories) => {
                for history in &histories {
                    replayed.push(history.header.process.clone());
                    tally.add(replay_one(history, &schemas, &evaluator));
                }
            }
            Err(error) => tally.add(Err(error.to_string())),
        }
    }
    let mut n_unused = 0;
    for (process, (_, file)) in &schemas {
        if !replayed.contains(process) {
            n_unused += 1;
            eprintln!(
                "error: no history of process `{process}` among the files, so nothing was \
                 replayed against {file}; give a history of `{process}` or leave out --schema {file}"
            );
        }
    }
    println!("{}", tally.summary());
    Ok(if tally.n_same == tally.total() && n_unused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Replays one history against its `--schema`, if one was given;
/// `Ok(report)` when it could be replayed.
fn replay_one(
    history: &History,
    schemas: &HashMap<String, (Definition, String)>,
    evaluator: &Evaluator,
) -> Result<Report, String> {
    let candidate = schemas
        .get(&history.header.process)
        .map(|(def, label)| (def, label.as_str()));
    replay::replay(history, candidate, evaluator).map_err(|error| error.to_string())
}

/// What the histories gave; divergences and problems are printed as they
/// come.
#[derive(Default)]
struct Tally {
    n_same: usize,
    n_diverged: usize,
    n_broken: usize,
    last_same: Option<String>,
}

impl Tally {
    fn add(&mut self, result: Result<Report, String>) {
        match result {
            Ok(report) if report.is_same() => {
                self.n_same += 1;
                self.last_same = Some(report.to_string());
            }
            Ok(report) => {
                self.n_diverged += 1;
                println!("{report}");
            }
            Err(problem) => {
                self.n_broken += 1;
                println!("{problem}");
            }
        }
    }

    fn total(&self) -> usize {
        self.n_same + self.n_diverged + self.n_broken
    }

    /// The report of a lone history that took its path, else the counts.
    fn summary(&self) -> String {
        if let (1, Some(line)) = (self.total(), &self.last_same) {
            return line.clone();
        }
        let broken = if self.n_broken > 0 {
            format!(", {} could not be replayed", self.n_broken)
        } else {
            String::new()
        };
        format!(
            "{} replayed: {} took the recorded path, {} diverged{broken}",
            plural(self.total(), "history"),
            self.n_same,
            self.n_diverged
        )
    }
}

/// Compiles the `--schema` files by process; `None` after printing their
/// problems.
fn compile_schemas(
    paths: &[PathBuf],
) -> anyhow::Result<Option<HashMap<String, (Definition, String)>>> {
    let mut schemas: HashMap<String, (Definition, String)> = HashMap::new();
    let mut ok = true;
    for path in paths {
        let name = path.display().to_string();
        let source =
            std::fs::read_to_string(path).with_context(|| format!("cannot read schema {name}"))?;
        match schema::compile(&name, &source) {
            Ok(def) => {
                if let Some((_, other)) = schemas.get(&def.process) {
                    eprintln!(
                        "error: {name} and {other} are both schemas of process `{}`; \
                         give one schema per process",
                        def.process
                    );
                    ok = false;
                    continue;
                }
                schemas.insert(def.process.clone(), (def, name));
            }
            Err(problems) => {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                eprintln!(
                    "error: {name} has {} problem(s); nothing was replayed",
                    problems.len()
                );
                ok = false;
            }
        }
    }
    Ok(ok.then_some(schemas))
}

/// Writes the export of `instance` to `path`, whole or not at all.
pub async fn export(engine: &Engine, instance: &str, path: &Path) -> anyhow::Result<()> {
    let text = file::export(engine, instance).await?;
    let n_records = text.lines().count().saturating_sub(1);
    write_whole(path, &text)?;
    eprintln!(
        "exported {n_records} history records of instance {instance} to {}",
        path.display()
    );
    Ok(())
}

/// Writes `text` to a temporary file beside `path`, then renames it over
/// `path`, so that a reader never sees half a file.
pub fn write_whole(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let mut partial = name.to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let temporary = path.with_file_name(partial);
    std::fs::write(&temporary, text)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| {
        let _ = std::fs::remove_file(&temporary);
        format!("cannot write {}", path.display())
    })
}

/// `1 history`, `3 histories`, `2 scenarios`.
pub fn plural(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}
