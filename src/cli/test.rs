//! `sesflow test FILE... [--junit FILE] [--coverage]`: runs scenario files in
//! memory and reports each step.

use std::path::PathBuf;
use std::process::ExitCode;

use sesflow_engine::scenario::{self, junit, Coverage, SuiteReport};

use super::replay::{plural, write_whole};

/// Arguments of `sesflow test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files (`NAME.test.yaml`, testing `NAME.yaml` beside them).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Say which nodes and flows of each schema no scenario reached.
    #[arg(long)]
    coverage: bool,
}

/// Runs every scenario; exit 0 when all passed, 1 when one failed or a file
/// cannot be used.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut reports: Vec<SuiteReport> = Vec::new();
    let mut broken: Vec<junit::Broken> = Vec::new();
    for path in &args.files {
        match scenario::load(path) {
            Ok(suite) => {
                let report = scenario::run(&suite);
                print!("{report}");
                reports.push(report);
            }
            Err(scenario::Error::Invalid { file, problems }) => {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                println!(
                    "{}\nerror: {file} has {} problem(s)",
                    lines.join("\n"),
                    problems.len()
                );
                broken.push(junit::Broken {
                    file: path.display().to_string(),
                    message: lines.join("\n"),
                });
            }
            Err(error) => return Err(error.into()),
        }
    }
    if args.coverage {
        for coverage in merged(&reports) {
            println!("{coverage}");
        }
    }
    let n_scenarios: usize = reports.iter().map(|report| report.scenarios.len()).sum();
    let n_failed: usize = reports.iter().map(SuiteReport::n_failed).sum();
    let unusable = if broken.is_empty() {
        String::new()
    } else {
        format!("; {} could not be used", plural(broken.len(), "file"))
    };
    println!(
        "{} in {}: {} passed, {n_failed} failed{unusable}",
        plural(n_scenarios, "scenario"),
        plural(reports.len(), "file"),
        n_scenarios - n_failed
    );
    if let Some(path) = &args.junit {
        write_whole(path, &junit::junit(&reports, &broken))?;
    }
    Ok(if n_failed == 0 && broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The coverage of each schema, over every file that tests it.
fn merged(reports: &[SuiteReport]) -> Vec<Coverage> {
    let mut all: Vec<Coverage> = Vec::new();
    for report in reports {
        let same = |coverage: &&mut Coverage| {
            coverage.schema == report.coverage.schema && coverage.digest == report.coverage.digest
        };
        match all.iter_mut().find(same) {
            Some(coverage) => coverage.merge(&report.coverage),
            None => all.push(report.coverage.clone()),
        }
    }
    all
}
