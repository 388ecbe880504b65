//! `sesflow validate FILE...`: checks schemas and reports every problem.
//!
//! Text output is one `FILE:LINE:COL: error[CODE]: message` line per
//! problem, each followed by a `  help: ...` line; `--format json` prints
//! one JSON document for tools. Exit 0 when every file is valid, 1 when
//! some file has problems, 2 when some file cannot be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use sesflow_engine::scenario;
use sesflow_engine::schema::{self, Diagnostic};

/// Arguments of `sesflow validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Schema files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// How `validate` prints its findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per problem, then its help line.
    Text,
    /// One JSON document: `{"files": [{"file", "valid", "error", "diagnostics"}]}`.
    Json,
}

/// What validating one file gave.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    diagnostics: Vec<Diagnostic>,
}

/// Runs `sesflow validate`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reports: Vec<Report> = args.files.iter().map(|path| check(path)).collect();
    match args.format {
        Format::Text => print_text(&reports),
        Format::Json => {
            let document = serde_json::json!({ "files": reports });
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
    }
    let code = if reports.iter().any(|r| r.error.is_some()) {
        2
    } else if reports.iter().any(|r| !r.valid) {
        1
    } else {
        0
    };
    Ok(ExitCode::from(code))
}

fn check(path: &Path) -> Report {
    if scenario::default_schema(path).is_some() {
        return check_scenarios(path);
    }
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(source) => {
            let diagnostics = schema::compile(&file, &source).err().unwrap_or_default();
            Report {
                file,
                valid: diagnostics.is_empty(),
                error: None,
                diagnostics,
            }
        }
        Err(error) => Report {
            error: Some(format!("cannot read {file}: {error}")),
            file,
            valid: false,
            diagnostics: Vec::new(),
        },
    }
}

/// A scenario file (`NAME.test.yaml`, as `sesflow test` runs them) found
/// among the schemas is checked as a scenario file with its schema, not
/// reported as a broken schema.
fn check_scenarios(path: &Path) -> Report {
    let file = path.display().to_string();
    match scenario::load(path) {
        Ok(_) => Report {
            file,
            valid: true,
            error: None,
            diagnostics: Vec::new(),
        },
        Err(scenario::Error::Invalid { problems, .. }) => Report {
            file,
            valid: false,
            error: None,
            diagnostics: problems,
        },
        Err(error @ scenario::Error::Io { .. }) => Report {
            error: Some(format!(
                "{error}: {}",
                std::error::Error::source(&error)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )),
            file,
            valid: false,
            diagnostics: Vec::new(),
        },
    }
}

fn print_text(reports: &[Report]) {
    let mut n_problems = 0;
    for report in reports {
        if let Some(error) = &report.error {
            eprintln!("error: {error}");
            eprintln!("  help: check the path and that the file is readable UTF-8 text");
            continue;
        }
        for diagnostic in &report.diagnostics {
            println!("{diagnostic}");
        }
        n_problems += report.diagnostics.len();
        if report.valid && scenario::default_schema(Path::new(&report.file)).is_some() {
            eprintln!(
                "{}: valid scenario file (run it with `sesflow test`)",
                report.file
            );
        } else if report.valid {
            eprintln!("{}: valid", report.file);
        }
    }
    let n_invalid = reports
        .iter()
        .filter(|r| !r.valid && r.error.is_none())
        .count();
    if n_invalid > 0 {
        let problems = if n_problems == 1 {
            "problem"
        } else {
            "problems"
        };
        let files = if n_invalid == 1 { "file" } else { "files" };
        eprintln!("{n_problems} {problems} in {n_invalid} {files}");
    }
}
