//! `sesflow replay FILE... [--schema SCHEMA]...`: replays exported histories
//! in memory and reports the first divergence; and the export behind
//! `sesflow history INSTANCE --export FILE`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use sesflow_engine::definition::Definition;
use sesflow_engine::expr::Evaluator;
use sesflow_engine::replay::{self, file};
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
    let mut unused: Vec<&str> = schemas.keys().map(String::as_str).collect();
    let evaluator = Evaluator::new();
    let (mut n_same, mut n_diverged, mut n_broken) = (0usize, 0usize, 0usize);
    let mut last_same = None;
    for path in &args.files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read history file {name}"))?;
        let histories = match file::read(&name, &text) {
            Ok(histories) => histories,
            Err(error) => {
                println!("{error}");
                n_broken += 1;
                continue;
            }
        };
        for history in &histories {
            unused.retain(|process| *process != history.header.process);
            let candidate = schemas
                .get(&history.header.process)
                .map(|(def, label)| (def, label.as_str()));
            match replay::replay(history, candidate, &evaluator) {
                Ok(report) if report.is_same() => {
                    n_same += 1;
                    last_same = Some(report.to_string());
                }
                Ok(report) => {
                    n_diverged += 1;
                    println!("{report}");
                }
                Err(error) => {
                    n_broken += 1;
                    println!("{error}");
                }
            }
        }
    }
    for process in unused {
        let (_, file) = &schemas[process];
        eprintln!(
            "warning: no history of process `{process}` among the files; {file} was not used"
        );
    }
    let total = n_same + n_diverged + n_broken;
    match (total, last_same) {
        (1, Some(line)) => println!("{line}"),
        _ => {
            let broken = if n_broken > 0 {
                format!(", {n_broken} could not be replayed")
            } else {
                String::new()
            };
            println!(
                "{} replayed: {n_same} took the recorded path, {n_diverged} diverged{broken}",
                plural(total, "history")
            );
        }
    }
    Ok(if n_same == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
