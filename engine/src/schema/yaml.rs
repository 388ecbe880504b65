//! A YAML tree that remembers where every key and value was written.
//!
//! serde's YAML support gives no positions for values, so the schema loader
//! reads the event stream of a span-aware parser into this small tree and
//! walks it. Anchors and aliases are expanded within a budget, nesting is
//! bounded, and only one document is accepted, so hostile input costs
//! little.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use serde_json::Value;

/// Deepest nesting of lists and maps accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may have once its aliases are expanded.
pub const MAX_NODES: usize = 200_000;

/// A place in the source: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
}

/// A YAML value with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Yaml,
    /// Where the value begins.
    pub pos: Pos,
}

/// The shapes of YAML values.
#[derive(Clone, Debug, PartialEq)]
pub enum Yaml {
    /// A scalar, not yet resolved to a type.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order; keys may repeat (the reader reports it).
    Map(Vec<(Node, Node)>),
}

/// A scalar's text and how it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The text after YAML's unescaping and folding.
    pub text: String,
    /// Whether it was written without quotes or block indicator.
    pub plain: bool,
    /// Where the text itself begins (after a quote, or on the line after a
    /// block indicator) and, for block scalars, its indentation.
    pub content: Pos,
    /// For `|` and `>` scalars, the column of the content's first character.
    pub block_indent: Option<usize>,
}

/// The YAML is not well-formed, or is too large or deep to accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub pos: Pos,
}

impl Node {
    /// What a person would call this value's shape: `a mapping`, `a list`, ...
    pub fn shape(&self) -> &'static str {
        match &self.value {
            Yaml::Map(_) => "a mapping",
            Yaml::Seq(_) => "a list",
            Yaml::Scalar(s) => match resolve(s) {
                Value::Null => "nothing",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                _ => "text",
            },
        }
    }

    /// The scalar, if this is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Yaml::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The value as JSON, resolving plain scalars with YAML 1.2's core schema.
    pub fn to_json(&self) -> Value {
        match &self.value {
            Yaml::Scalar(s) => resolve(s),
            Yaml::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Yaml::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (key_text(k), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Maps a place inside this scalar's text (1-based line and column, as an
    /// expression compiler reports them) to a place in the file.
    pub fn inner_pos(&self, line: usize, column: usize) -> Pos {
        let Some(scalar) = self.scalar() else {
            return self.pos;
        };
        let start = scalar.content;
        match (line, scalar.block_indent) {
            (0 | 1, _) => Pos {
                line: start.line,
                column: start.column + column.saturating_sub(1),
            },
            (n, Some(indent)) => Pos {
                line: start.line + n - 1,
                column: indent + column - 1,
            },
            (n, None) => Pos {
                line: start.line + n - 1,
                column: column.max(1),
            },
        }
    }
}

/// The text of a mapping key, whatever its shape.
pub fn key_text(key: &Node) -> String {
    match &key.value {
        Yaml::Scalar(s) => s.text.clone(),
        _ => key.to_json().to_string(),
    }
}

/// Resolves a scalar to JSON: plain `null`, `~` and empty are null, `true`
/// and `false` booleans, numbers numbers; everything else is text.
pub fn resolve(scalar: &Scalar) -> Value {
    if !scalar.plain {
        return Value::String(scalar.text.clone());
    }
    let text = scalar.text.as_str();
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(int) = text.parse::<i64>() {
        return Value::from(int);
    }
    let numeric = text.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c));
    match text
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        Some(number) if numeric => Value::Number(number),
        _ => Value::String(text.to_owned()),
    }
}

/// Parses one YAML document.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(source);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| scan_error(&e))?;
        if builder.on_event(event, span)? {
            break;
        }
    }
    Ok(builder.root.unwrap_or(Node {
        value: Yaml::Scalar(Scalar {
            text: String::new(),
            plain: true,
            content: Pos { line: 1, column: 1 },
            block_indent: None,
        }),
        pos: Pos { line: 1, column: 1 },
    }))
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        pos: Pos,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    n_nodes: usize,
    n_documents: usize,
}

impl Builder {
    /// Takes one event; true once the document is complete.
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<bool, SyntaxError> {
        let pos = pos_of(span.start);
        match event {
            Event::DocumentStart(_) => self.on_document(pos)?,
            Event::StreamEnd => return Ok(true),
            Event::Scalar(text, style, anchor, _) => {
                let scalar = Self::scalar(text.into_owned(), style, span);
                self.complete(
                    Node {
                        value: Yaml::Scalar(scalar),
                        pos,
                    },
                    anchor,
                )?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| SyntaxError {
                    message: "this alias names no anchor defined before it".into(),
                    pos,
                })?;
                self.count(count_nodes(&node), pos)?;
                self.complete(node, 0)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    pos,
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    pos,
                    anchor,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => self.close()?,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
        }
        Ok(false)
    }

    fn on_document(&mut self, pos: Pos) -> Result<(), SyntaxError> {
        self.n_documents += 1;
        if self.n_documents > 1 {
            let message = "a schema is one YAML document; remove this `---` and what follows, \
                           or put it in a file of its own";
            return Err(SyntaxError {
                message: message.into(),
                pos,
            });
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            let message = format!("lists and mappings nest deeper than {MAX_DEPTH} levels");
            return Err(SyntaxError { message, pos });
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SyntaxError> {
        let (node, anchor) = match self.stack.pop() {
            Some(Frame::Seq { items, pos, anchor }) => (
                Node {
                    value: Yaml::Seq(items),
                    pos,
                },
                anchor,
            ),
            Some(Frame::Map {
                entries,
                pos,
                anchor,
                ..
            }) => (
                Node {
                    value: Yaml::Map(entries),
                    pos,
                },
                anchor,
            ),
            None => return Ok(()),
        };
        self.complete(node, anchor)
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), SyntaxError> {
        self.n_nodes = self.n_nodes.saturating_add(n);
        if self.n_nodes > MAX_NODES {
            let message = format!(
                "the document has more than {MAX_NODES} values once its \
                                   aliases are expanded"
            );
            return Err(SyntaxError { message, pos });
        }
        Ok(())
    }

    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        self.count(1, node.pos)?;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
        }
        Ok(())
    }

    fn scalar(text: String, style: ScalarStyle, span: Span) -> Scalar {
        let start = pos_of(span.start);
        let (content, block_indent) = match style {
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => (
                Pos {
                    line: start.line,
                    column: start.column + 1,
                },
                None,
            ),
            ScalarStyle::Literal | ScalarStyle::Folded => (start, Some(start.column)),
            _ => (start, None),
        };
        Scalar {
            text,
            plain: style == ScalarStyle::Plain,
            content,
            block_indent,
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Yaml::Scalar(_) => 1,
        Yaml::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Yaml::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
    }
}

fn pos_of(marker: saphyr_parser::Marker) -> Pos {
    Pos {
        line: marker.line().max(1),
        column: marker.col() + 1,
    }
}

fn scan_error(error: &ScanError) -> SyntaxError {
    SyntaxError {
        message: error.info().to_owned(),
        pos: pos_of(*error.marker()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn keys_and_values_keep_their_places() {
        let root = parse("a: 1\nb:\n  - x\n  - 'y'\n").expect("valid YAML");
        let Yaml::Map(entries) = &root.value else {
            panic!("not a map: {root:?}")
        };
        assert_eq!(entries[0].0.pos, at(1, 1));
        assert_eq!(entries[0].1.pos, at(1, 4));
        assert_eq!(entries[0].1.to_json(), serde_json::json!(1));
        let Yaml::Seq(items) = &entries[1].1.value else {
            panic!("not a list")
        };
        assert_eq!(items[0].pos, at(3, 5));
        assert_eq!(items[1].pos, at(4, 5));
        assert_eq!(items[1].scalar().map(|s| s.content), Some(at(4, 6)));
    }

    #[test]
    fn block_scalars_map_inner_places() {
        let root = parse("s: |\n    x = 1;\n    y = 2;\n").expect("valid YAML");
        let Yaml::Map(entries) = &root.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].1.inner_pos(2, 3), at(3, 7));
        let root = parse("w: \"a + b\"").expect("valid YAML");
        let Yaml::Map(entries) = &root.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].1.inner_pos(1, 5), at(1, 9));
    }

    #[test]
    fn syntax_errors_have_places() {
        let error = parse("a: [1, 2\nb: 3\n").expect_err("unclosed list");
        assert!(error.pos.line >= 1, "{error:?}");
        let error = parse("a: 1\n---\nb: 2\n").expect_err("two documents");
        assert_eq!(error.pos, at(2, 1));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let error = parse(&text).expect_err("too many nodes");
        assert!(error.message.contains("more than"), "{error:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let error = parse(&text).expect_err("too deep");
        assert!(error.message.contains("deeper"), "{error:?}");
    }

    #[test]
    fn plain_scalars_resolve_with_the_core_schema() {
        let root = parse("[~, true, 12, 1.5, '12', x1, -3, .5]").expect("valid YAML");
        assert_eq!(
            root.to_json(),
            serde_json::json!([null, true, 12, 1.5, "12", "x1", -3, 0.5])
        );
    }
}
