//! Reading a scenario file: YAML with places, checked key by key, nodes and
//! variables resolved against the schema. Every problem is collected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{default_schema, steps, Error, Scenario, StepKind, Suite, DEFAULT_NOW_MS};
use crate::definition::{Definition, NodeIx, VarIx};
use crate::schema::yaml::{self, key_text, Node, Pos, Yaml};
use crate::schema::{self, Diagnostic};

/// The stable codes of scenario file problems (`docs/testing.md`).
pub(super) mod codes {
    /// The file is not well-formed YAML.
    pub const SYNTAX: &str = "T001";
    /// A value has the wrong shape.
    pub const SHAPE: &str = "T002";
    /// A key the format does not know.
    pub const UNKNOWN_KEY: &str = "T003";
    /// A required key is missing.
    pub const MISSING: &str = "T004";
    /// No node with that id in the schema.
    pub const NODE: &str = "T005";
    /// No variable with that name in the schema.
    pub const VARIABLE: &str = "T006";
    /// A value does not fit its variable's type.
    pub const TYPE: &str = "T007";
    /// A duration or a moment cannot be read.
    pub const TIME: &str = "T008";
    /// A step does not fit the node it names.
    pub const KIND: &str = "T009";
    /// The schema cannot be found or read.
    pub const SCHEMA: &str = "T010";
    /// The steps are out of order (start first, once).
    pub const ORDER: &str = "T011";
}

/// Collects problems while reading one file.
pub(super) struct Reader<'a> {
    file: &'a str,
    pub(super) def: &'a Definition,
    problems: Vec<Diagnostic>,
}

/// Reads the scenario file `file` (at `path`) with text `source`.
pub(super) fn suite(path: &Path, file: &str, source: &str) -> Result<Suite, Error> {
    let root = yaml::parse(source).map_err(|error| {
        let help = "fix the YAML at this place: check indentation, colons, quotes and brackets";
        invalid(file, codes::SYNTAX, error.pos, error.message, help)
    })?;
    let Yaml::Map(entries) = &root.value else {
        let message = format!("a scenario file is a mapping, not {}", root.shape());
        return Err(invalid(file, codes::SHAPE, root.pos, message, HELP_FILE));
    };
    if get(entries, "process").is_some() {
        let message = format!("`{file}` is a schema, not a scenario file");
        let help = "write its scenarios in NAME.test.yaml beside it and run that file";
        return Err(invalid(file, codes::SHAPE, root.pos, message, help));
    }
    let (schema_file, def) = schema_of(path, file, &root, entries)?;
    let mut reader = Reader {
        file,
        def: &def,
        problems: Vec::new(),
    };
    let scenarios = reader.scenarios(&root, entries);
    if !reader.problems.is_empty() {
        let mut problems = reader.problems;
        problems.sort_by_key(|problem| (problem.line, problem.column));
        return Err(Error::Invalid {
            file: file.to_owned(),
            problems,
        });
    }
    Ok(Suite {
        file: file.to_owned(),
        schema_file,
        def,
        scenarios,
    })
}

/// Finds, reads and compiles the schema the file tests.
fn schema_of(
    path: &Path,
    file: &str,
    root: &Node,
    entries: &[(Node, Node)],
) -> Result<(PathBuf, Definition), Error> {
    let schema_node = get(entries, "schema");
    let schema_file = match schema_node.and_then(Node::scalar) {
        Some(scalar) => path.with_file_name(&scalar.text),
        None => default_schema(path).ok_or_else(|| {
            let message = "the file names no schema and is not called NAME.test.yaml".to_owned();
            invalid(
                file,
                codes::SCHEMA,
                root.pos,
                message,
                "add `schema: NAME.yaml`",
            )
        })?,
    };
    let schema_name = schema_file.display().to_string();
    let schema_source = std::fs::read_to_string(&schema_file).map_err(|error| {
        let pos = schema_node.map_or(root.pos, |node| node.pos);
        let message = format!("cannot read the schema `{schema_name}`: {error}");
        let help = "write the schema's path relative to this file with `schema: NAME.yaml`";
        invalid(file, codes::SCHEMA, pos, message, help)
    })?;
    let def = schema::compile(&schema_name, &schema_source).map_err(|problems| Error::Invalid {
        file: schema_name.clone(),
        problems,
    })?;
    Ok((schema_file, def))
}

/// A file with one problem.
fn invalid(file: &str, code: &'static str, pos: Pos, message: String, help: &str) -> Error {
    Error::Invalid {
        file: file.to_owned(),
        problems: vec![diagnostic(file, code, pos, message, help)],
    }
}

const HELP_FILE: &str = "write `schema: NAME.yaml` and `scenarios:`, a list of scenarios \
                         each with `name` and `steps`";

impl Reader<'_> {
    fn scenarios(&mut self, root: &Node, entries: &[(Node, Node)]) -> Vec<Scenario> {
        self.check_keys(
            entries,
            &["schema", "now", "seed", "scenarios"],
            "a scenario file",
        );
        let now_ms = get(entries, "now").map_or(Some(DEFAULT_NOW_MS), |node| self.moment(node));
        let seed = get(entries, "seed").map_or(Some(0), |node| self.seed(node));
        let Some(list) = get(entries, "scenarios") else {
            self.error(
                codes::MISSING,
                root.pos,
                "the file has no `scenarios`",
                HELP_FILE,
            );
            return Vec::new();
        };
        let items = self.list(list, "`scenarios`").unwrap_or_default();
        let mut scenarios: Vec<Scenario> = Vec::new();
        for item in items {
            let Some(scenario) = self.scenario(item, now_ms.unwrap_or(0), seed.unwrap_or(0)) else {
                continue;
            };
            if scenarios.iter().any(|other| other.name == scenario.name) {
                let message = format!("two scenarios are called `{}`", scenario.name);
                self.error(
                    codes::SHAPE,
                    item.pos,
                    message,
                    "give each scenario its own name",
                );
            }
            scenarios.push(scenario);
        }
        scenarios
    }

    fn scenario(&mut self, node: &Node, now_ms: i64, seed: u64) -> Option<Scenario> {
        let entries = self.map(node, "a scenario")?;
        self.check_keys(entries, &["name", "now", "seed", "steps"], "a scenario");
        let name = match get(entries, "name") {
            Some(name) => self.text(name, "a scenario's `name`")?,
            None => {
                let help = "add `name: what this scenario shows`";
                self.error(codes::MISSING, node.pos, "the scenario has no `name`", help);
                return None;
            }
        };
        let now_ms = get(entries, "now").map_or(Some(now_ms), |node| self.moment(node));
        let seed = get(entries, "seed").map_or(Some(seed), |node| self.seed(node));
        let Some(list) = get(entries, "steps") else {
            let message = format!("scenario `{name}` has no `steps`");
            self.error(
                codes::MISSING,
                node.pos,
                message,
                "add `steps:`, starting with `start`",
            );
            return None;
        };
        let items = self.list(list, "`steps`")?;
        let steps: Vec<_> = items
            .iter()
            .filter_map(|item| steps::step(self, item))
            .collect();
        if steps.len() == items.len() {
            self.check_order(&name, &steps);
        }
        Some(Scenario {
            name,
            pos: node.pos,
            now_ms: now_ms?,
            seed: seed?,
            steps,
        })
    }

    /// Checks that `start` comes first, and only there.
    fn check_order(&mut self, name: &str, steps: &[super::Step]) {
        for (ix, step) in steps.iter().enumerate() {
            let is_start = matches!(step.kind, StepKind::Start { .. });
            if (ix == 0) == is_start {
                continue;
            }
            let message = if is_start {
                "`start` comes once, as the first step".to_owned()
            } else {
                format!("scenario `{name}` does not begin with `start`")
            };
            self.error(
                codes::ORDER,
                step.pos,
                message,
                "begin the steps with `start:`",
            );
        }
    }

    /// Records a problem.
    pub(super) fn error(
        &mut self,
        code: &'static str,
        pos: Pos,
        message: impl Into<String>,
        help: &str,
    ) {
        self.problems
            .push(diagnostic(self.file, code, pos, message.into(), help));
    }

    /// The entries of a mapping, else a problem naming `what`.
    pub(super) fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Yaml::Map(entries) => Some(entries),
            _ => {
                let message = format!("{what} is a mapping, not {}", node.shape());
                self.error(codes::SHAPE, node.pos, message, "write `key: value` lines");
                None
            }
        }
    }

    /// The items of a list, else a problem naming `what`.
    pub(super) fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Yaml::Seq(items) => Some(items),
            _ => {
                let message = format!("{what} is a list, not {}", node.shape());
                self.error(
                    codes::SHAPE,
                    node.pos,
                    message,
                    "write one `- item` per line",
                );
                None
            }
        }
    }

    /// A scalar's text, else a problem naming `what`.
    pub(super) fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar() {
            Some(scalar) if !node.to_json().is_null() => Some(scalar.text.clone()),
            _ => {
                let message = format!("{what} is a text, not {}", node.shape());
                self.error(codes::SHAPE, node.pos, message, "write a single value");
                None
            }
        }
    }

    /// Checks that every key of `entries` is one of `allowed`.
    pub(super) fn check_keys(&mut self, entries: &[(Node, Node)], allowed: &[&str], what: &str) {
        for (key, _) in entries {
            let name = key_text(key);
            if allowed.contains(&name.as_str()) {
                continue;
            }
            let message = format!("{what} has no key `{name}`");
            let help = match closest(&name, allowed.iter().copied()) {
                Some(near) => format!(
                    "did you mean `{near}`? the keys are: {}",
                    allowed.join(", ")
                ),
                None => format!("the keys are: {}", allowed.join(", ")),
            };
            self.error(codes::UNKNOWN_KEY, key.pos, message, &help);
        }
    }

    /// The index of the node whose id `node` gives.
    pub(super) fn node_ref(&mut self, node: &Node) -> Option<NodeIx> {
        let id = self.text(node, "a node id")?;
        if let Some(ix) = self.def.node(&id) {
            return Some(ix);
        }
        let ids = self.def.nodes.iter().map(|node| node.id.as_str());
        let help = match closest(&id, ids) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "use a node `id` of the schema".to_owned(),
        };
        let message = format!("the schema `{}` has no node `{id}`", self.def.process);
        self.error(codes::NODE, node.pos, message, &help);
        None
    }

    /// A mapping of variable names to values, each checked against its type.
    pub(super) fn vars(&mut self, node: &Node, what: &str) -> Option<Vec<(VarIx, Value)>> {
        if node.to_json().is_null() {
            return Some(Vec::new());
        }
        let entries = self.map(node, what)?;
        let mut vars = Vec::new();
        for (key, value) in entries {
            let name = key_text(key);
            let Some(ix) = self.def.var(&name) else {
                let names = self.def.variables.iter().map(|var| var.name.as_str());
                let help = match closest(&name, names) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "use a variable declared in the schema's `context`".to_owned(),
                };
                let message = format!("the schema `{}` has no variable `{name}`", self.def.process);
                self.error(codes::VARIABLE, key.pos, message, &help);
                continue;
            };
            let value = value.to_json();
            let ty = self.def.variables[ix].ty;
            if let Err(why) = ty.check(&value) {
                let message = format!("variable `{name}` is of type {}: {why}", ty.name());
                self.error(
                    codes::TYPE,
                    key.pos,
                    message,
                    "give a value of the declared type",
                );
                continue;
            }
            vars.push((ix, value));
        }
        Some(vars)
    }

    /// A duration such as `90s`, `2h` or `3d`.
    pub(super) fn duration(&mut self, node: &Node) -> Option<Duration> {
        let text = self.text(node, "a duration")?;
        match humantime::parse_duration(&text) {
            Ok(duration) => Some(duration),
            Err(error) => {
                let message = format!("`{text}` is not a duration: {error}");
                self.error(
                    codes::TIME,
                    node.pos,
                    message,
                    "write e.g. 90s, 2h, 3d or 1h 30m",
                );
                None
            }
        }
    }

    fn moment(&mut self, node: &Node) -> Option<i64> {
        let text = self.text(node, "`now`")?;
        match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(moment) => Some(moment.timestamp_millis()),
            Err(error) => {
                let message = format!("`{text}` is not a moment: {error}");
                self.error(
                    codes::TIME,
                    node.pos,
                    message,
                    "write e.g. 2030-01-07T09:00:00Z",
                );
                None
            }
        }
    }

    fn seed(&mut self, node: &Node) -> Option<u64> {
        match node.to_json().as_u64() {
            Some(seed) => Some(seed),
            None => {
                let message = format!("`seed` is a whole number, not {}", node.shape());
                self.error(codes::SHAPE, node.pos, message, "write e.g. `seed: 7`");
                None
            }
        }
    }
}

/// The value under `key` in a mapping.
pub(super) fn get<'n>(entries: &'n [(Node, Node)], key: &str) -> Option<&'n Node> {
    entries
        .iter()
        .find(|(name, _)| key_text(name) == key)
        .map(|(_, value)| value)
}

/// The candidate most like `name`, if one is close.
pub(super) fn closest<'c>(
    name: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

fn diagnostic(file: &str, code: &'static str, pos: Pos, message: String, help: &str) -> Diagnostic {
    Diagnostic {
        code,
        file: file.to_owned(),
        line: pos.line,
        column: pos.column,
        message,
        help: (!help.is_empty()).then(|| help.to_owned()),
    }
}
