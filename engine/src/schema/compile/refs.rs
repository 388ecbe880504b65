//! Resolving what a node's fields refer to: nodes, variables, expressions,
//! durations, assignees.

use std::time::Duration;

use crate::definition::{Assignee, NodeIx, VarIx, VarType, MAX_DURATION};
use crate::expr::{CompileError, CompileErrorKind, Expr, Script};

use super::super::codes::{self, Code};
use super::super::fields;
use super::super::model::{closest, NodeDecl};
use super::super::yaml::{Node, Yaml};
use super::Context;

impl Context<'_> {
    /// The node named by `field`, or a report that it is missing when
    /// `required`, or names no node.
    pub(crate) fn target(&mut self, decl: &NodeDecl, field: &str) -> Option<NodeIx> {
        let node = decl.field(field)?;
        self.target_at(decl, node, field)
    }

    /// The node named by the value `node` of `field`.
    pub(crate) fn target_at(
        &mut self,
        decl: &NodeDecl,
        node: &Node,
        field: &str,
    ) -> Option<NodeIx> {
        let Some(text) = fields::text(node, &format!("`{field}`"), self.sink) else {
            self.open = true;
            return None;
        };
        if let Some(ix) = self.ids.get(&text.value) {
            return Some(*ix);
        }
        self.open = true;
        let code = if field.starts_with("on_") {
            codes::UNKNOWN_HANDLER
        } else {
            codes::UNKNOWN_TARGET
        };
        let mut ids: Vec<&str> = self.ids.keys().map(String::as_str).collect();
        ids.sort_unstable();
        let message = format!(
            "{}: `{field}` names `{}`, which is not a node",
            decl.label(),
            text.value
        );
        let help = match closest(&text.value, &ids) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "name the id of a node of this schema, or add that node".to_owned(),
        };
        self.sink.error(code, text.pos, message, help);
        None
    }

    /// The required `next` of a single-successor node.
    pub(crate) fn next(&mut self, decl: &NodeDecl) -> Option<NodeIx> {
        if decl.field("next").is_none() {
            self.missing_next(decl);
            return None;
        }
        self.target(decl, "next")
    }

    pub(crate) fn missing_next(&mut self, decl: &NodeDecl) {
        self.open = true;
        let message = format!("{} ({}) has no `next`", decl.label(), decl.kind_name());
        let help = "add `next:` with the id of the node that follows";
        self.sink
            .error(codes::MISSING_NEXT, decl.at(), message, help);
    }

    /// Reports a required field that is absent.
    pub(crate) fn missing(&mut self, decl: &NodeDecl, field: &str, help: &str) {
        let message = format!("{} ({}) has no `{field}`", decl.label(), decl.kind_name());
        self.sink
            .error(codes::MISSING_FIELD, decl.at(), message, help);
    }

    /// The variable named by `field`, which must be of one of `types` (any
    /// type when empty).
    pub(crate) fn var(&mut self, decl: &NodeDecl, field: &str, types: &[VarType]) -> Option<VarIx> {
        let node = decl.field(field)?;
        self.var_at(decl, node, field, types)
    }

    /// The variable named by the value `node`.
    pub(crate) fn var_at(
        &mut self,
        decl: &NodeDecl,
        node: &Node,
        field: &str,
        types: &[VarType],
    ) -> Option<VarIx> {
        let text = fields::text(node, &format!("`{field}`"), self.sink)?;
        let Some(ix) = self.variables.iter().position(|v| v.name == text.value) else {
            let names: Vec<&str> = self.variables.iter().map(|v| v.name.as_str()).collect();
            let message = format!(
                "{}: `{field}` names `{}`, which is not a declared variable",
                decl.label(),
                text.value
            );
            let help = match closest(&text.value, &names) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("declare `{}` under `context:`", text.value),
            };
            self.sink
                .error(codes::UNKNOWN_VARIABLE, text.pos, message, help);
            return None;
        };
        let ty = self.variables[ix].ty;
        if !types.is_empty() && !types.contains(&ty) && !self.untyped[ix] {
            let wanted: Vec<&str> = types.iter().map(VarType::name).collect();
            let message = format!(
                "{}: `{field}` names `{}`, which is {ty}, not {}",
                decl.label(),
                text.value,
                wanted.join(" or ")
            );
            let help = format!(
                "name a variable of type {}, or change the type of `{}`",
                wanted.join(" or "),
                text.value
            );
            self.sink
                .error(codes::VARIABLE_TYPE, text.pos, message, help);
            return None;
        }
        Some(ix)
    }

    /// `initiator`, a `user` variable, or `{ login: NAME }`; `initiator` when absent.
    pub(crate) fn assignee(&mut self, decl: &NodeDecl, field: &str) -> Option<Assignee> {
        let Some(node) = decl.field(field) else {
            return Some(Assignee::Initiator);
        };
        match &node.value {
            Yaml::Scalar(s) if s.text == "initiator" => Some(Assignee::Initiator),
            Yaml::Map(entries)
                if entries.len() == 1
                    && entries[0].0.scalar().is_some_and(|k| k.text == "login") =>
            {
                let login = fields::text(&entries[0].1, "`login`", self.sink)?;
                Some(Assignee::Login(login.value))
            }
            Yaml::Map(_) | Yaml::Seq(_) => {
                let message = format!(
                    "{}: `{field}` must be `initiator`, a user variable or {{ login: NAME }}, \
                     found {}",
                    decl.label(),
                    node.shape()
                );
                self.sink.error(
                    codes::WRONG_SHAPE,
                    node.pos,
                    message,
                    "write `initiator`, a variable name, or `{ login: ana }`",
                );
                None
            }
            Yaml::Scalar(_) => self
                .var_at(decl, node, field, &[VarType::User])
                .map(Assignee::Variable),
        }
    }

    /// A duration such as `90s`, `2h`, `3d` or `1h30m`, at most
    /// [`MAX_DURATION`].
    pub(crate) fn duration(
        &mut self,
        decl: &NodeDecl,
        node: &Node,
        field: &str,
    ) -> Option<Duration> {
        let text = fields::text(node, &format!("`{field}`"), self.sink)?;
        let compact: String = text.value.split_whitespace().collect();
        match humantime::parse_duration(&compact) {
            Ok(duration) if duration > MAX_DURATION => {
                let message = format!(
                    "{}: `{field}` is `{}`, longer than the limit of 100 years (36500d)",
                    decl.label(),
                    text.value
                );
                self.sink.error(
                    codes::BAD_DURATION,
                    text.pos,
                    message,
                    "give a duration of at most 100 years (`36500d`)",
                );
                None
            }
            Ok(duration) if !duration.is_zero() => Some(duration),
            Ok(_) => {
                let message = format!("{}: `{field}` is zero", decl.label());
                self.sink.error(
                    codes::BAD_DURATION,
                    text.pos,
                    message,
                    "give a positive duration like `90s`, `2h` or `3d`",
                );
                None
            }
            Err(_) => {
                let message = format!(
                    "{}: `{field}` is `{}`, which is not a duration",
                    decl.label(),
                    text.value
                );
                self.sink.error(
                    codes::BAD_DURATION,
                    text.pos,
                    message,
                    "write a number and a unit: `90s`, `15m`, `2h`, `3d` or `1h30m`",
                );
                None
            }
        }
    }

    /// Compiles the expression in `field`.
    pub(crate) fn expr(&mut self, decl: &NodeDecl, node: &Node, field: &str) -> Option<Expr> {
        let text = fields::text(node, &format!("`{field}`"), self.sink)?;
        match self.evaluator.compile_expr(&text.value, &self.variables) {
            Ok(expr) => Some(expr),
            Err(errors) => {
                self.report(decl, node, field, &errors);
                None
            }
        }
    }

    /// Compiles the script in `field`.
    pub(crate) fn script(&mut self, decl: &NodeDecl, node: &Node, field: &str) -> Option<Script> {
        let text = fields::text(node, &format!("`{field}`"), self.sink)?;
        match self.evaluator.compile_script(&text.value, &self.variables) {
            Ok(script) => Some(script),
            Err(errors) => {
                self.report(decl, node, field, &errors);
                None
            }
        }
    }

    fn report(&mut self, decl: &NodeDecl, node: &Node, field: &str, errors: &[CompileError]) {
        for error in errors {
            let pos = node.inner_pos(error.line, error.column);
            let (code, help): (Code, String) = match &error.kind {
                CompileErrorKind::Syntax => (
                    codes::EXPR_SYNTAX,
                    "fix the expression; see the expression section of docs/schema.md".into(),
                ),
                CompileErrorKind::UndeclaredRead(name) => (
                    codes::UNDECLARED_READ,
                    format!("declare `{name}` under `context:`, or fix the name"),
                ),
                CompileErrorKind::UndeclaredWrite(name) => (
                    codes::UNDECLARED_WRITE,
                    format!(
                        "declare `{name}` under `context:`, or use `let {name}` for a local value"
                    ),
                ),
                CompileErrorKind::WrongType(name) => (
                    codes::WRONG_TYPE_WRITE,
                    format!("assign `{name}` a value of its declared type, or change its type"),
                ),
                CompileErrorKind::Shadow(name) => (
                    codes::SHADOWED_VARIABLE,
                    format!("assign `{name}` without `let`, or give the local another name"),
                ),
            };
            let message = format!("{}: `{field}` {}", decl.label(), error.message);
            self.sink.error(code, pos, message, help);
        }
    }
}
