//! The invalid-schema corpus: every file under `tests/schemas/invalid` ends
//! with `# expect: CODE LINE:COL MESSAGE` lines, one per problem, and the
//! validator must report exactly those problems, in that order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sesflow_engine::schema::{codes, compile, Diagnostic};

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the corpus folder exists")
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The `# expect:` lines of a corpus file, as `CODE LINE:COL MESSAGE`.
fn expectations(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| line.strip_prefix("# expect: "))
        .map(str::to_owned)
        .collect()
}

fn render(diagnostic: &Diagnostic) -> String {
    format!(
        "{} {}:{} {}",
        diagnostic.code, diagnostic.line, diagnostic.column, diagnostic.message
    )
}

#[test]
fn every_invalid_schema_reports_exactly_its_problems() {
    let files = corpus();
    assert!(
        files.len() >= 40,
        "the corpus has only {} schemas",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("corpus file is readable");
        let expected = expectations(&source);
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let name = path.display().to_string();
        let diagnostics = match compile(&name, &source) {
            Ok(_) => {
                failures.push(format!("{name}: compiled, but should not"));
                continue;
            }
            Err(diagnostics) => diagnostics,
        };
        let found: Vec<String> = diagnostics.iter().map(render).collect();
        if found != expected {
            failures.push(format!(
                "{name}:\n  expected {expected:#?}\n  found {found:#?}"
            ));
        }
        for diagnostic in &diagnostics {
            assert_eq!(diagnostic.file, name);
            let help = diagnostic.help.as_deref().unwrap_or_default();
            assert!(
                !help.is_empty(),
                "{name}: {} has no help",
                render(diagnostic)
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_corpus_exercises_every_code() {
    let mut seen = BTreeSet::new();
    for path in corpus() {
        let source = std::fs::read_to_string(&path).expect("corpus file is readable");
        for line in expectations(&source) {
            seen.insert(line.split(' ').next().unwrap_or_default().to_owned());
        }
    }
    let missing: Vec<&str> = codes::ALL
        .iter()
        .map(|c| c.id)
        .filter(|id| !seen.contains(*id))
        .collect();
    assert!(missing.is_empty(), "no corpus schema shows {missing:?}");
}

#[test]
fn several_faults_in_one_file_are_all_reported() {
    let multi: Vec<PathBuf> = corpus()
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("multi-"))
        })
        .collect();
    assert!(multi.len() >= 2);
    for path in multi {
        let source = std::fs::read_to_string(&path).expect("corpus file is readable");
        let codes: BTreeSet<String> = expectations(&source)
            .iter()
            .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
            .collect();
        assert!(codes.len() >= 4, "{} shows only {codes:?}", path.display());
    }
}

#[test]
fn the_reference_lists_every_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.md");
    let reference = std::fs::read_to_string(path).expect("docs/schema.md exists");
    for code in codes::ALL {
        let row = format!("| {} |", code.id);
        assert!(
            reference.contains(&row),
            "docs/schema.md has no row for {}",
            code.id
        );
    }
}

#[test]
fn the_documented_examples_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["docs/schema.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("the document exists");
        let examples: Vec<&str> = text
            .split("```yaml\n")
            .skip(1)
            .filter_map(|block| block.split("```").next())
            .filter(|block| block.starts_with("process:"))
            .collect();
        assert!(!examples.is_empty(), "{doc} has no complete example");
        for example in examples {
            if let Err(diagnostics) = compile(doc, example) {
                panic!("an example in {doc} is invalid: {diagnostics:#?}");
            }
        }
    }
}
