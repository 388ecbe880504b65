//! Confirming a task's completion with the activity registered for its kind.
//!
//! A task whose kind has a registered activity completes only with what
//! that activity confirms. This is how a `sign` task is completed only by a
//! signature that the signing module made: the activity is called with the
//! task, its assignee, when it opened, the document the node names (its
//! value and type) and the form data, and its output becomes the node's
//! `output` variable. Without
//! a registered activity the form data is taken as it is. A refusal leaves
//! the instance unchanged.

use serde_json::{json, Map, Value};

use super::{batch::Batch, Engine, Error};
use crate::activity::{Call, IdempotencyKey};
use crate::definition::{Definition, NodeKind, VarIx};
use crate::store::entities::task;

impl Engine {
    /// The form data of a completion of task `row`, confirmed by the
    /// activity registered for the task's kind when there is one.
    pub(super) async fn confirm(
        &self,
        batch: &Batch<'_>,
        row: &task::Model,
        def: &Definition,
        mut data: Vec<(VarIx, Value)>,
    ) -> Result<Vec<(VarIx, Value)>, Error> {
        let Some(activity) = self.registry().get(&row.kind) else {
            return Ok(data);
        };
        let vars = batch.vars_of(&row.instance_id).unwrap_or_default();
        let kind = def.node(&row.node_id).map(|ix| &def.nodes[ix].kind);
        let (document, document_type, output) = match kind {
            Some(NodeKind::Sign {
                document, output, ..
            }) => (
                vars.get(*document).cloned(),
                Some(def.variables[*document].ty.name()),
                *output,
            ),
            _ => (None, None, None),
        };
        let named: Map<String, Value> = data
            .iter()
            .map(|(ix, value)| (def.variables[*ix].name.clone(), value.clone()))
            .collect();
        let call = Call {
            key: IdempotencyKey {
                instance_id: row.instance_id.clone(),
                node_id: row.node_id.clone(),
                token_id: u64::try_from(row.token_id).unwrap_or_default(),
            },
            process: def.process.clone(),
            input: json!({
                "task": row.id,
                "assignee": row.assignee,
                "opened_at_ms": row.created_at,
                "document": document,
                "document_type": document_type,
                "data": named,
            }),
            now_ms: batch.now_ms(),
        };
        let outcome = activity
            .execute(call)
            .await
            .map_err(|error| Error::Refused {
                task: row.id.clone(),
                error,
            })?;
        if let Some(output) = output {
            data.retain(|(ix, _)| *ix != output);
            data.push((output, outcome.output));
        }
        Ok(data)
    }
}
