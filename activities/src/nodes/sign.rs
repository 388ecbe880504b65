//! `sign`: a task for its assignee to sign the file or app item held in
//! the node's `document` variable.
//!
//! The task completes only by a signature the SES module made: [`Confirm`],
//! registered for the kind, is called by the engine whenever someone
//! completes a `sign` task, and accepts only when the assignee has signed
//! the document as it is now (the file's content, the app item's latest
//! version) since the task opened; the signature record then goes into the
//! node's `output` variable. [`sign`] does both steps for a signer (the
//! password, the code where two-factor is on, then the completion), and
//! [`refuse`] lets the signer say no with a comment, which takes the node's
//! `on_rejected`.
//!
//! A file is given as a path (relative paths are read from the current
//! folder of the program that signs or completes) or as an object with a
//! `path` and optionally its `sha256`, which must still match; an app item
//! as `APP/ID` or `{app, id}`, with an optional `version` that must still be
//! the latest.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use serde_json::{json, Value};
use sesflow_engine::activity::{self, Activity, Call, Outcome};
use sesflow_engine::definition::NodeKind;
use sesflow_engine::driver::Error as EngineError;
use sesflow_engine::runtime::Status;
use sesflow_engine::Engine;

use super::{failed, of_module, Module};
use crate::ses::{CodeSent, Document, Record, Ses, Step};
use crate::store::{self, entities::signature};
use crate::{audit, users};

/// The node kind served.
pub const KIND: &str = "sign";

/// The audit action of a refused signing.
pub const REFUSED: &str = "signing.refused";

/// Why a signing task could not be signed or refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No open task has this id.
    #[error("no open task `{task}`; list open tasks with `sesflow tasks`")]
    NoTask {
        /// The id given.
        task: String,
    },
    /// The task is not a signing.
    #[error(
        "task `{task}` is a `{kind}` task, not a signing; complete it with `sesflow complete`"
    )]
    NotSigning {
        /// The task.
        task: String,
        /// Its kind.
        kind: String,
    },
    /// The task is for someone else to sign.
    #[error("task `{task}` is for `{signer}` to sign, not for `{login}`")]
    OtherSigner {
        /// The task.
        task: String,
        /// Its assignee.
        signer: String,
        /// Who tried.
        login: String,
    },
    /// The SES module refused or failed.
    #[error(transparent)]
    Ses(#[from] crate::Error),
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Error {
    /// A stable code naming the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NoTask { .. } => "SIGN_NO_TASK",
            Error::NotSigning { .. } => "SIGN_NOT_SIGNING",
            Error::OtherSigner { .. } => "SIGN_OTHER_SIGNER",
            Error::Ses(error) => error.code(),
            Error::Engine(_) => "SIGN_ENGINE",
        }
    }

    /// Whether the person's input caused the error.
    pub fn is_input(&self) -> bool {
        match self {
            Error::Ses(error) => error.is_input(),
            Error::Engine(error) => error.is_input(),
            _ => true,
        }
    }
}

/// An open signing task: who signs, and what the document variable holds.
#[derive(Clone, Debug)]
pub struct SigningTask {
    /// The task id.
    pub id: String,
    /// The instance.
    pub instance_id: String,
    /// Who is to sign.
    pub signer: String,
    /// The name of the document variable.
    pub variable: String,
    /// Its type: `file` or `app_item`.
    pub document_type: &'static str,
    /// Its value.
    pub value: Value,
    /// The variable that receives the signature record, if the node has one.
    pub output: Option<String>,
}

/// A signing task with its document as it is now.
#[derive(Clone, Debug)]
pub struct Assignment {
    /// The task.
    pub task: SigningTask,
    /// What is to be signed, as it is now.
    pub document: Document,
    /// The file's path, for a file.
    pub path: Option<PathBuf>,
}

/// One signing of a task: who, with which password and code.
#[derive(Clone, Copy)]
pub struct Signing<'a> {
    /// The task id.
    pub task: &'a str,
    /// Who signs; `None` for the task's assignee.
    pub login: Option<&'a str>,
    /// The signer's password.
    pub password: &'a str,
    /// The one-time code, for the second step where two-factor is on.
    pub code: Option<&'a str>,
}

impl fmt::Debug for Signing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signing")
            .field("task", &self.task)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// Where a task signing stands.
#[derive(Clone, Debug)]
pub enum Signed {
    /// A code was sent; sign again with it.
    CodeSent(CodeSent),
    /// The document is signed and the task completed.
    Done {
        /// The signature record.
        record: Box<Record>,
        /// Where the instance stands afterwards.
        status: Status,
    },
}

/// Signs the document of task `signing.task` for its assignee and completes
/// the task; where two-factor is on, the first call (without a code) sends
/// the code and the second signs.
pub async fn sign(
    engine: &Engine,
    ses: &Ses,
    signing: Signing<'_>,
    now: DateTime<Utc>,
) -> Result<(Assignment, Signed), Error> {
    let assignment = assignment(engine, ses.db(), signing.task).await?;
    check_signer(&assignment.task, signing.login)?;
    let step = ses
        .sign(
            &assignment.task.signer,
            signing.password,
            &assignment.document,
            signing.code,
            now,
        )
        .await?;
    let record = match step {
        Step::CodeSent(sent) => return Ok((assignment, Signed::CodeSent(sent))),
        Step::Signed(record) => record,
    };
    let task = &assignment.task;
    let status = engine.complete(&task.id, Vec::new(), false).await?;
    tracing::info!(instance_id = %task.instance_id, task = %task.id,
        signature_id = %record.id, "signing task completed");
    Ok((assignment, Signed::Done { record, status }))
}

/// The signer refuses to sign task `signing.task`, confirming with the
/// password, and says why in `comment`; the document need not be readable
/// (a changed document is a good reason to refuse). The node's `output`
/// receives the refusal and the token takes `on_rejected`.
pub async fn refuse(
    engine: &Engine,
    ses: &Ses,
    signing: Signing<'_>,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<(SigningTask, Status), Error> {
    let comment = comment.trim();
    if comment.is_empty() {
        return Err(Error::Ses(crate::Error::Invalid {
            field: "comment",
            value: String::new(),
            remedy: "say why the document is not signed".into(),
        }));
    }
    let task = signing_task(engine, signing.task).await?;
    check_signer(&task, signing.login)?;
    let user = users::require(ses.db(), &task.signer).await?;
    if let Err(error) = users::check_password(&user, signing.password).await {
        let detail = json!({ "task": task.id });
        let login = Some(user.login.as_str());
        let action = audit::action::PASSWORD_FAILED;
        audit::record(ses.db(), now, action, login, None, detail)
            .await
            .map_err(crate::Error::Db)?;
        return Err(error.into());
    }
    let refusal = json!({
        "status": "refused",
        "signer": task.signer,
        "comment": comment,
        "document": task.value,
        "at": now.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    let data = match &task.output {
        Some(output) => vec![(output.clone(), refusal)],
        None => Vec::new(),
    };
    let status = engine.complete(&task.id, data, true).await?;
    let detail = json!({ "task": task.id, "document": task.value, "comment": comment });
    let login = Some(task.signer.as_str());
    audit::record(ses.db(), now, REFUSED, login, None, detail)
        .await
        .map_err(crate::Error::Db)?;
    Ok((task, status))
}

/// The open signing task `id`: its signer and its document variable.
pub async fn signing_task(engine: &Engine, id: &str) -> Result<SigningTask, Error> {
    let no_task = || Error::NoTask {
        task: id.to_owned(),
    };
    let (instance_id, _) = id.rsplit_once('.').ok_or_else(no_task)?;
    let view = match engine.show(instance_id).await {
        Ok(view) => view,
        Err(EngineError::NotFound { .. }) => return Err(no_task()),
        Err(error) => return Err(error.into()),
    };
    let open = view.tasks.iter().find(|t| t.id == id).ok_or_else(no_task)?;
    if open.kind != KIND {
        return Err(Error::NotSigning {
            task: id.to_owned(),
            kind: open.kind.clone(),
        });
    }
    let def = engine.instance_definition(instance_id).await?;
    let kind = def.node(&open.node).map(|ix| &def.nodes[ix].kind);
    let Some(NodeKind::Sign {
        document, output, ..
    }) = kind
    else {
        return Err(no_task());
    };
    let variable = &def.variables[*document];
    let signer = open.assignee.clone().ok_or_else(|| {
        Error::Ses(crate::Error::Invalid {
            field: "signer",
            value: String::new(),
            remedy: "the task has no assignee; give the node a `signer`".into(),
        })
    })?;
    Ok(SigningTask {
        id: id.to_owned(),
        instance_id: instance_id.to_owned(),
        signer,
        variable: variable.name.clone(),
        document_type: variable.ty.name(),
        value: view
            .variables
            .get(&variable.name)
            .cloned()
            .unwrap_or(Value::Null),
        output: output.map(|ix| def.variables[ix].name.clone()),
    })
}

/// The open signing task `id` with its document as it is now.
pub async fn assignment<C: ConnectionTrait>(
    engine: &Engine,
    conn: &C,
    id: &str,
) -> Result<Assignment, Error> {
    let task = signing_task(engine, id).await?;
    let (document, path) = document_of(conn, task.document_type, &task.value)
        .await
        .map_err(|error| match error {
            crate::Error::Invalid { remedy, .. } => crate::Error::Invalid {
                field: "document",
                value: format!("{} = {}", task.variable, task.value),
                remedy,
            },
            other => other,
        })?;
    Ok(Assignment {
        task,
        document,
        path,
    })
}

fn check_signer(task: &SigningTask, login: Option<&str>) -> Result<(), Error> {
    match login {
        Some(login) if login != task.signer => Err(Error::OtherSigner {
            task: task.id.clone(),
            signer: task.signer.clone(),
            login: login.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The document a variable of type `ty` (`file` or `app_item`) holds, as
/// it is now, and the file's path for a file.
pub async fn document_of<C: ConnectionTrait>(
    conn: &C,
    ty: &str,
    value: &Value,
) -> Result<(Document, Option<PathBuf>), crate::Error> {
    let invalid = |remedy: String| crate::Error::Invalid {
        field: "document",
        value: value.to_string(),
        remedy,
    };
    match (ty, value) {
        ("file", Value::String(path)) => Ok((Document::file(path.as_ref())?, Some(path.into()))),
        ("file", Value::Object(map)) => {
            let Some(path) = map.get("path").and_then(Value::as_str) else {
                return Err(invalid(
                    "give the file as a path or an object with `path`".into(),
                ));
            };
            let document = Document::file(path.as_ref())?;
            match map.get("sha256").and_then(Value::as_str) {
                Some(attached) if !attached.eq_ignore_ascii_case(&document.digest) => {
                    Err(invalid(format!(
                        "{path} changed since it was attached (sha-256 {attached}, now {}); \
                         attach the new content or restore the file",
                        document.digest
                    )))
                }
                _ => Ok((document, Some(path.into()))),
            }
        }
        ("app_item", _) => {
            let item = ItemRef::of(value).ok_or_else(|| {
                invalid("give the app item as APP/ID or an object with `app` and `id`".into())
            })?;
            let document = Document::app_item(conn, &item.app, &item.id).await?;
            match (&document.target, item.version) {
                (crate::ses::Target::AppItem { version, .. }, Some(attached))
                    if *version != attached =>
                {
                    Err(invalid(format!(
                        "{}/{} is at version {version}, not version {attached} as attached; \
                         attach the latest version",
                        item.app, item.id
                    )))
                }
                _ => Ok((document, None)),
            }
        }
        (_, Value::Null) => Err(invalid("the variable has no value; set it first".into())),
        _ => Err(invalid(format!("a `{ty}` variable cannot be signed"))),
    }
}

/// An app item named by a variable.
struct ItemRef {
    app: String,
    id: String,
    version: Option<i32>,
}

impl ItemRef {
    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::String(text) => {
                let (app, id) = text.split_once('/')?;
                Some(Self {
                    app: app.to_owned(),
                    id: id.to_owned(),
                    version: None,
                })
            }
            Value::Object(map) => Some(Self {
                app: map.get("app")?.as_str()?.to_owned(),
                id: match map.get("id")? {
                    Value::String(id) => id.clone(),
                    other => other.to_string(),
                },
                version: map
                    .get("version")
                    .and_then(Value::as_i64)
                    .and_then(|v| i32::try_from(v).ok()),
            }),
            _ => None,
        }
    }
}

/// The activity the engine calls when a `sign` task is completed.
#[derive(Clone, Debug)]
pub struct Confirm {
    module: Module,
}

impl Confirm {
    /// The activity over `module`.
    pub fn new(module: Module) -> Self {
        Self { module }
    }
}

/// What the engine passes when a task is completed.
#[derive(Debug, Deserialize)]
struct Completion {
    task: String,
    assignee: Option<String>,
    opened_at_ms: i64,
    document: Option<Value>,
    document_type: Option<String>,
}

#[async_trait]
impl Activity for Confirm {
    /// Accepts the completion when the assignee signed the document as it
    /// is now since the task opened; answers the signature record.
    async fn execute(&self, call: Call) -> Result<Outcome, activity::Error> {
        let completion: Completion = serde_json::from_value(call.input).map_err(|error| {
            failed(
                "SES_BAD_INPUT",
                format!("the completion cannot be read: {error}"),
            )
        })?;
        let (Some(signer), Some(ty)) = (&completion.assignee, &completion.document_type) else {
            return Err(failed(
                "SES_BAD_INPUT",
                format!("task `{}` names no signer or no document", completion.task),
            ));
        };
        let value = completion.document.unwrap_or(Value::Null);
        let db = self.module.db();
        let (document, _) = document_of(db, ty, &value).await.map_err(of_module)?;
        let found = signature::Entity::find()
            .filter(signature::Column::Login.eq(signer))
            .filter(signature::Column::Target.eq(document.target.key()))
            .filter(signature::Column::Digest.eq(&document.digest))
            .filter(signature::Column::SignedAt.gte(completion.opened_at_ms))
            .order_by_desc(signature::Column::SignedAt)
            .one(db)
            .await
            .map_err(|error| of_module(crate::Error::Db(error)))?;
        let Some(row) = found else {
            return Err(failed(
                "SES_NOT_SIGNED",
                format!(
                    "`{signer}` has not signed {document} since the task opened at {}; \
                     sign it with `sesflow sign --task {}`",
                    store::datetime(completion.opened_at_ms).format("%Y-%m-%d %H:%M:%S UTC"),
                    completion.task
                ),
            ));
        };
        Ok(Outcome { output: row.record })
    }
}
