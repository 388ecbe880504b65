//! Schemas: YAML in, [`Definition`] or every problem out.
//!
//! [`compile`] runs the whole pipeline: [`yaml`] reads the text into a tree
//! that keeps places, `read` turns it into the [`model`] while checking
//! keys and shapes, the compiler resolves ids and variables and compiles
//! expressions, and `validate` checks the flow graph. Every step
//! keeps going after a problem so that one run reports them all.
//!
//! Only this module knows YAML.

pub mod codes;
pub(crate) mod compile;
mod fields;
pub mod model;
mod read;
pub mod yaml;

use std::fmt;

use serde::Serialize;

use crate::definition::Definition;
use codes::Code;
use yaml::Pos;

/// Parses, compiles and validates one schema; `Err` holds every problem found.
pub fn compile(file: &str, source: &str) -> Result<Definition, Vec<Diagnostic>> {
    let mut sink = Sink::new(file);
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(error) => {
            let help = "fix the YAML at this place: check indentation, colons, quotes and brackets";
            sink.error(codes::SYNTAX, error.pos, error.message, help);
            return Err(sink.finish());
        }
    };
    let schema = read::read(&root, &mut sink);
    let definition = compile::compile(&schema, source, &mut sink);
    match definition {
        Some(definition) if sink.is_empty() => Ok(definition),
        _ => Err(sink.finish()),
    }
}

/// One problem in a schema, with its place and remedy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// A stable code, such as `E023`.
    pub code: &'static str,
    /// The file, as named to [`compile`].
    pub file: String,
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
    /// What is wrong, naming the node, field and value.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE:COL: error[CODE]: message`, then `  help: ...` on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error[{}]: {}",
            self.file, self.line, self.column, self.code, self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one file.
pub(crate) struct Sink {
    file: String,
    diagnostics: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn new(file: &str) -> Sink {
        Sink {
            file: file.to_owned(),
            diagnostics: Vec::new(),
        }
    }

    /// Records a problem at `pos`.
    pub(crate) fn error(
        &mut self,
        code: Code,
        pos: Pos,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let help = help.into();
        self.diagnostics.push(Diagnostic {
            code: code.id,
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The diagnostics, in the order of the file.
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        self.diagnostics
            .sort_by(|a, b| (a.line, a.column, a.code).cmp(&(b.line, b.column, b.code)));
        self.diagnostics.dedup();
        self.diagnostics
    }
}
