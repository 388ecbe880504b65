//! The export format: one instance's history as JSON lines.
//!
//! An export starts with a header line (`"type": "instance"`) that names the
//! instance, its process and version, and carries the schema source it ran
//! on; every following line is one [`history::Line`] in the shape of
//! `sesflow history --format json`. Several exports may follow each other in
//! one file. The shape is documented in `docs/history.md`; both header and
//! lines carry the format version [`history::FORMAT`].

use serde::{Deserialize, Serialize};

use crate::driver::{self, Engine};
use crate::history::{self, Line, Record};
use crate::schema::compile::hex_digest;

/// The `type` of a header line.
pub const HEADER: &str = "instance";

/// The first line of an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The format version, [`history::FORMAT`].
    pub v: u32,
    /// Always [`HEADER`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The instance id.
    pub instance: String,
    /// Its process id.
    pub process: String,
    /// The version it ran on.
    pub version: u32,
    /// SHA-256 of the schema source.
    pub digest: String,
    /// Its status at export: `active`, `incident`, `completed`, `cancelled`.
    pub status: String,
    /// When it was exported, ms since the Unix epoch.
    pub exported_at: i64,
    /// The schema source (YAML) the instance ran on.
    pub schema: String,
}

/// One instance's history, read from an export.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// The file it was read from.
    pub file: String,
    /// The line of its header, from 1.
    pub line: usize,
    /// The header.
    pub header: Header,
    /// The records, each with the line it was read from.
    pub records: Vec<(usize, Record)>,
}

/// An export cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct Error {
    /// The file.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// Writes one export: the header line, then one line per record.
pub fn write(header: &Header, lines: &[Line]) -> String {
    let mut text = serde_json::to_string(header).expect("a header is plain JSON");
    text.push('\n');
    for line in lines {
        text.push_str(&serde_json::to_string(line).expect("history lines are plain JSON"));
        text.push('\n');
    }
    text
}

/// The export of instance `instance`: its history and the schema it ran on.
pub async fn export(engine: &Engine, instance: &str) -> Result<String, driver::Error> {
    let view = engine.show(instance).await?;
    let def = engine.instance_definition(instance).await?;
    let lines = engine.history(instance).await?;
    let header = Header {
        v: history::FORMAT,
        kind: HEADER.to_owned(),
        instance: instance.to_owned(),
        process: def.process.clone(),
        version: def.version,
        digest: def.digest.clone(),
        status: view.summary.status,
        exported_at: engine.now_ms(),
        schema: def.source.clone(),
    };
    Ok(write(&header, &lines))
}

/// Reads every export in `text`; `file` names it in errors.
pub fn read(file: &str, text: &str) -> Result<Vec<History>, Error> {
    let error = |line: usize, message: String| Error {
        file: file.to_owned(),
        line,
        message,
    };
    let mut histories: Vec<History> = Vec::new();
    for (ix, text) in text.lines().enumerate() {
        if !text.trim().is_empty() {
            read_line(file, ix + 1, text, &mut histories).map_err(|why| error(ix + 1, why))?;
        }
    }
    if histories.is_empty() {
        return Err(error(1, format!("the file holds no history; {REMEDY}")));
    }
    for history in &histories {
        match history.records.first() {
            Some((_, Record::Started { .. })) => {}
            Some((n, record)) => {
                let message = format!(
                    "the history begins with `{}`, not `started`: the export is cut; {REMEDY}",
                    record.name()
                );
                return Err(error(*n, message));
            }
            None => return Err(error(history.line, "the history has no records".into())),
        }
    }
    Ok(histories)
}

/// Reads line `n`: a header begins a history, a record joins the last one.
fn read_line(file: &str, n: usize, text: &str, histories: &mut Vec<History>) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON line: {e}; {REMEDY}"))?;
    check_version(&value)?;
    if value.get("type").and_then(|t| t.as_str()) == Some(HEADER) {
        let header: Header = serde_json::from_value(value)
            .map_err(|e| format!("the header is incomplete: {e}; {REMEDY}"))?;
        let digest = hex_digest(&header.schema);
        if digest != header.digest {
            return Err(format!(
                "the header's schema has digest {digest}, not the recorded {}: \
                 the export was changed after it was made; {REMEDY}",
                header.digest
            ));
        }
        histories.push(History {
            file: file.to_owned(),
            line: n,
            header,
            records: Vec::new(),
        });
        return Ok(());
    }
    let Some(history) = histories.last_mut() else {
        return Err(format!(
            "the file does not start with a header line; {REMEDY}"
        ));
    };
    let line: Line =
        serde_json::from_value(value).map_err(|e| format!("not a history record: {e}"))?;
    if line.instance != history.header.instance {
        return Err(format!(
            "the record belongs to instance `{}`, the header above (line {}) to `{}`",
            line.instance, history.line, history.header.instance
        ));
    }
    history.records.push((n, line.record));
    Ok(())
}

const REMEDY: &str = "export histories with `sesflow history INSTANCE --export FILE`";

fn check_version(value: &serde_json::Value) -> Result<(), String> {
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(history::FORMAT) => Ok(()),
        Some(v) => Err(format!(
            "format version {v} is not supported; this sesflow reads version {}",
            history::FORMAT
        )),
        None => Err(format!("the line has no format version `v`; {REMEDY}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn header() -> Header {
        Header {
            v: history::FORMAT,
            kind: HEADER.into(),
            instance: "i-1".into(),
            process: "p".into(),
            version: 1,
            digest: hex_digest("process: p\n"),
            status: "completed".into(),
            exported_at: 5,
            schema: "process: p\n".into(),
        }
    }

    fn line(instance: &str, record: Record) -> Line {
        Line {
            v: history::FORMAT,
            instance: instance.into(),
            rev: 1,
            seq: 0,
            at: 5,
            record,
        }
    }

    fn started() -> Record {
        Record::Started {
            process: "p".into(),
            version: 1,
            vars: serde_json::Map::new(),
            initiator: None,
            now_ms: 5,
            seed: 9,
        }
    }

    #[test]
    fn an_export_reads_back_as_written() {
        let text = write(&header(), &[line("i-1", started())]);
        let histories = read("h.jsonl", &text).expect("reads");
        assert_eq!(histories.len(), 1);
        assert_eq!(histories[0].header, header());
        assert_eq!(histories[0].records, vec![(2, started())]);
    }

    #[test]
    fn a_record_of_another_instance_is_refused_with_its_line() {
        let text = write(&header(), &[line("i-1", started()), line("i-2", started())]);
        let error = read("h.jsonl", &text).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "h.jsonl:3: the record belongs to instance `i-2`, the header above (line 1) to `i-1`"
        );
    }

    #[test]
    fn a_newer_format_is_refused() {
        let text = json!({"v": 9, "type": "instance"}).to_string();
        let error = read("h.jsonl", &text).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "h.jsonl:1: format version 9 is not supported; this sesflow reads version 1"
        );
    }

    #[test]
    fn a_tampered_schema_with_its_old_digest_is_refused() {
        let tampered = Header {
            schema: "process: p\nversion: 2\n".into(),
            ..header()
        };
        let text = write(&tampered, &[line("i-1", started())]);
        let error = read("h.jsonl", &text).expect_err("refused");
        let message = error.to_string();
        assert!(
            message.starts_with("h.jsonl:1: the header's schema has digest"),
            "{message}"
        );
        assert!(message.contains("the export was changed"), "{message}");
    }
}
