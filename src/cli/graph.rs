//! `sesflow graph FILE`: draws a schema's flow as Graphviz DOT or Mermaid.
//!
//! The diagram goes to stdout; pipe DOT into `dot -Tsvg` for a picture.
//! A schema with problems is not drawn: its diagnostics go to stderr and
//! the exit code is 1.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use sesflow_engine::{diagram, schema};

/// Arguments of `sesflow graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The schema file to draw.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Diagram language.
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    pub format: Format,
}

/// The diagram languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// Runs `sesflow graph`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = args.file.display().to_string();
    let source = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {file}; check the path"))?;
    let definition = match schema::compile(&file, &source) {
        Ok(definition) => definition,
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}");
            }
            eprintln!("{file} has problems; fix them to draw it (see `sesflow validate`)");
            return Ok(ExitCode::from(1));
        }
    };
    let text = match args.format {
        Format::Dot => diagram::dot(&definition),
        Format::Mermaid => diagram::mermaid(&definition),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
