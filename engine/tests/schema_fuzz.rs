//! Property tests: whatever bytes or YAML reach the loader, it answers with a
//! definition or well-formed diagnostics, and never panics or hangs.
//!
//! Hangs are caught by running each case on its own thread and giving up
//! after [`HANG_LIMIT`], far beyond what any case needs: the loader bounds
//! nesting, alias expansion and script operations, so a case that takes
//! that long is stuck, not slow.

use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use serde_yaml::{Mapping, Value};

use sesflow_engine::definition::NodeKind;
use sesflow_engine::diagram;
use sesflow_engine::schema::{codes, compile};

const HANG_LIMIT: Duration = Duration::from_secs(30);

const PROCESSES: [&str; 3] = [
    include_str!("../../processes/ses-issuance.yaml"),
    include_str!("../../processes/document-approval.yaml"),
    include_str!("../../processes/contract.yaml"),
];

/// Loads `source` on a watched thread and checks the shape of the answer.
fn load_checked(source: String) -> Result<(), TestCaseError> {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| check_answer(&source));
        let _ = done.send(outcome);
    });
    match finished.recv_timeout(HANG_LIMIT) {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(problem))) => Err(TestCaseError::fail(problem)),
        Ok(Err(_)) => Err(TestCaseError::fail("the loader panicked")),
        Err(_) => Err(TestCaseError::fail("the loader did not answer: it hangs")),
    }
}

fn check_answer(source: &str) -> Result<(), String> {
    match compile("fuzz.yaml", source) {
        Ok(definition) => {
            if definition.nodes.is_empty() || definition.start >= definition.nodes.len() {
                return Err("a definition without a start node".into());
            }
            let dot = diagram::dot(&definition);
            let mermaid = diagram::mermaid(&definition);
            if !dot.ends_with("}\n") || !mermaid.starts_with("flowchart") {
                return Err("a malformed diagram".into());
            }
            Ok(())
        }
        Err(diagnostics) if diagnostics.is_empty() => Err("an error without diagnostics".into()),
        Err(diagnostics) => {
            for d in diagnostics {
                let known = codes::ALL.iter().any(|c| c.id == d.code);
                if !known || d.line == 0 || d.column == 0 || d.help.is_none() {
                    return Err(format!("a malformed diagnostic: {d:?}"));
                }
            }
            Ok(())
        }
    }
}

/// Pieces that YAML and schemas are made of.
const TOKENS: &[&str] = &[
    "- ",
    ": ",
    "\n",
    "  ",
    "    ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "&a ",
    "*a",
    "!!str ",
    "? ",
    "|\n",
    ">-\n",
    "'",
    "\"",
    "#",
    "---\n",
    "...\n",
    "~",
    "id",
    "kind",
    "next",
    "start",
    "end",
    "task",
    "gateway",
    "parallel",
    "branches",
    "when",
    "default",
    "timeout",
    "on_timeout",
    "3d",
    "x > 1",
    "process",
    "version",
    "1",
    "context",
    "nodes",
    "type",
    "string",
    "\t",
    "\\",
    "%",
    "@",
    "é",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|t| t.concat())
}

const IDS: &[&str] = &["start", "a", "b", "c", "d", "done", "stop", "nowhere"];
const VARS: &[&str] = &["x", "ok", "who", "doc", "req", "cert", "missing"];
const TYPES: &[&str] = &[
    "string",
    "integer",
    "boolean",
    "user",
    "file",
    "certificate",
    "blob",
];
const EXPRESSIONS: &[&str] = &[
    "ok", "!ok", "x > 1", "x <= 1", "true", "x +", "y == 2", "ok =",
];
const FIELDS: &[&str] = &[
    "next",
    "branches",
    "default",
    "assignee",
    "form",
    "script",
    "wait",
    "until",
    "event",
    "key",
    "output",
    "signer",
    "document",
    "service",
    "fields",
    "request",
    "timeout",
    "on_timeout",
    "on_error",
    "on_rejected",
    "outcome",
    "retry",
    "colour",
];

fn scalar(pool: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::sample::select(pool).prop_map(|s| Value::String(s.to_owned()))
}

fn field_value(field: &'static str) -> BoxedStrategy<Value> {
    match field {
        "next" => prop_oneof![
            scalar(IDS),
            prop::collection::vec(scalar(IDS), 0..4).prop_map(Value::Sequence),
        ]
        .boxed(),
        "branches" => prop::collection::vec(
            (scalar(EXPRESSIONS), scalar(IDS)).prop_map(|(when, next)| {
                let mut branch = Mapping::new();
                branch.insert("when".into(), when);
                branch.insert("next".into(), next);
                Value::Mapping(branch)
            }),
            0..4,
        )
        .prop_map(Value::Sequence)
        .boxed(),
        "script" | "until" | "key" => scalar(EXPRESSIONS).boxed(),
        "timeout" | "wait" => scalar(&["90s", "2h", "3d", "1h30m", "soon", "0s"]).boxed(),
        "form" => prop::collection::vec(scalar(VARS), 0..3)
            .prop_map(Value::Sequence)
            .boxed(),
        "default" | "on_timeout" | "on_error" | "on_rejected" => scalar(IDS).boxed(),
        _ => scalar(VARS).boxed(),
    }
}

fn node() -> impl Strategy<Value = Value> {
    let kinds: Vec<&'static str> = NodeKind::NAMES.iter().copied().chain(["tsk"]).collect();
    let fields = prop::collection::vec(
        prop::sample::select(FIELDS).prop_flat_map(|f| (Just(f), field_value(f))),
        0..5,
    );
    (scalar(IDS), prop::sample::select(kinds), fields).prop_map(|(id, kind, fields)| {
        let mut node = Mapping::new();
        node.insert("id".into(), id);
        node.insert("kind".into(), Value::String(kind.to_owned()));
        for (field, value) in fields {
            node.insert(Value::String(field.to_owned()), value);
        }
        Value::Mapping(node)
    })
}

fn schema_like() -> impl Strategy<Value = String> {
    let context = prop::collection::vec((scalar(VARS), scalar(TYPES)), 0..6);
    (context, prop::collection::vec(node(), 0..10)).prop_map(|(context, nodes)| {
        let mut vars = Mapping::new();
        for (name, ty) in context {
            let mut decl = Mapping::new();
            decl.insert("type".into(), ty);
            vars.insert(name, Value::Mapping(decl));
        }
        let mut schema = Mapping::new();
        schema.insert("process".into(), "fuzz".into());
        schema.insert("version".into(), 1.into());
        schema.insert("context".into(), Value::Mapping(vars));
        schema.insert("nodes".into(), Value::Sequence(nodes));
        serde_yaml::to_string(&Value::Mapping(schema)).unwrap_or_default()
    })
}

/// A shipped schema with a few bytes deleted, doubled or replaced.
fn mutated() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, 0usize..40), 1..6);
    (0..PROCESSES.len(), edits).prop_map(|(which, edits)| {
        let mut text: Vec<char> = PROCESSES[which].chars().collect();
        for (at, how, len) in edits {
            if text.is_empty() {
                break;
            }
            let start = at.index(text.len());
            let end = (start + len).min(text.len());
            match how {
                0 => {
                    text.drain(start..end);
                }
                1 => {
                    let copy: Vec<char> = text[start..end].to_vec();
                    text.splice(start..start, copy);
                }
                2 => text.insert(start, ':'),
                _ => text[start] = ' ',
            }
        }
        text.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        load_checked(String::from_utf8_lossy(&bytes).into_owned())?;
    }

    #[test]
    fn yaml_token_soup_never_panics(text in token_soup()) {
        load_checked(text)?;
    }

    #[test]
    fn schema_shaped_documents_never_panic(text in schema_like()) {
        load_checked(text)?;
    }

    #[test]
    fn mutated_processes_never_panic(text in mutated()) {
        load_checked(text)?;
    }
}
