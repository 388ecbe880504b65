//! `signature_issuing_request`: submits a certificate request to the
//! certificate service named by the node's `service:`, with the fields the
//! node maps from context variables, and answers the request id.
//!
//! The request key is the engine's idempotency key (instance, node, token),
//! so that a call repeated after a crash returns the request submitted the
//! first time instead of asking again. The request is decided later by the
//! service (see [`super::expect_signature_issuing`]).
//!
//! Test hook: when `SESFLOW_TEST_HOLD_AFTER_SUBMIT` names a file, the
//! activity writes the request id there after submitting and then never
//! returns, so that a test can kill the worker at the exact moment between
//! the submission and the engine's record of it. Never set it otherwise.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sesflow_engine::activity::{self, Activity, Call, Outcome};

use super::{at, failed, of_module, Module};
use crate::certs::{self, Origin};

/// The node kind served.
pub const KIND: &str = "signature_issuing_request";

/// The test hook's environment variable (see the module documentation).
pub const HOLD_AFTER_SUBMIT_ENV: &str = "SESFLOW_TEST_HOLD_AFTER_SUBMIT";

/// The request fields a node may map, in the order of the documentation.
pub const FIELDS: [&str; 5] = ["user", "full_name", "email", "phone", "replace"];

/// The activity serving `signature_issuing_request`.
#[derive(Clone, Debug)]
pub struct Request {
    module: Module,
}

/// What the engine passes: the node's `service` and its mapped fields.
#[derive(Debug, Deserialize)]
struct Input {
    service: String,
    #[serde(default)]
    fields: Map<String, Value>,
}

impl Request {
    /// The activity over `module`.
    pub fn new(module: Module) -> Self {
        Self { module }
    }
}

#[async_trait]
impl Activity for Request {
    async fn execute(&self, call: Call) -> Result<Outcome, activity::Error> {
        let input: Input = serde_json::from_value(call.input.clone()).map_err(|error| {
            failed(
                "SES_BAD_INPUT",
                format!("the node's request cannot be read: {error}"),
            )
        })?;
        if input.service != certs::SERVICE {
            return Err(failed(
                "SES_UNKNOWN_SERVICE",
                format!(
                    "service `{}` is not configured; the configured services are: {}; \
                     set `service: {}` on the node",
                    input.service,
                    certs::SERVICE,
                    certs::SERVICE
                ),
            ));
        }
        let request = request_of(&call.key.to_string(), &input.fields)?;
        let ses = self.module.activity_ses()?;
        let id = ses
            .certs()
            .submit(&request, at(call.now_ms))
            .await
            .map_err(|error| of_module(error.into()))?;
        tracing::info!(instance_id = %call.key.instance_id, node_id = %call.key.node_id,
            token_id = call.key.token_id, request_id = %id, "certificate request submitted");
        hold_for_test(&id).await;
        Ok(Outcome { output: json!(id) })
    }
}

/// The certificate request that `fields` describe, under `key`.
fn request_of(key: &str, fields: &Map<String, Value>) -> Result<certs::Request, activity::Error> {
    if let Some(unknown) = fields.keys().find(|name| !FIELDS.contains(&name.as_str())) {
        return Err(failed(
            "SES_UNKNOWN_FIELD",
            format!(
                "`{unknown}` is not a field of a certificate request; map only {} in `fields`",
                FIELDS.join(", ")
            ),
        ));
    }
    let login = text(fields, "user")?.ok_or_else(|| {
        failed(
            "SES_NO_USER",
            "the request names no user: map `user:` in `fields` to a variable that holds \
             the employee's login, and give that variable a value",
        )
    })?;
    let replace = match fields.get("replace") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(replace)) => *replace,
        Some(other) => {
            let message = format!("field `replace` is {other}, not true or false");
            return Err(failed("SES_BAD_FIELD", message));
        }
    };
    Ok(certs::Request {
        key: key.to_owned(),
        login,
        full_name: text(fields, "full_name")?,
        email: text(fields, "email")?,
        phone: text(fields, "phone")?,
        replace,
        origin: Origin::Process,
    })
}

/// The text of field `name`: `None` when unmapped, unset or blank.
fn text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, activity::Error> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
        Some(other) => Err(failed(
            "SES_BAD_FIELD",
            format!("field `{name}` is {other}, not a text"),
        )),
    }
}

/// The test hook: with [`HOLD_AFTER_SUBMIT_ENV`] set, writes `request_id`
/// to the file it names and waits forever.
async fn hold_for_test(request_id: &str) {
    let Some(path) = std::env::var_os(HOLD_AFTER_SUBMIT_ENV) else {
        return;
    };
    let written = std::fs::write(&path, request_id)
        .and_then(|()| std::fs::File::open(&path).and_then(|file| file.sync_all()));
    if let Err(error) = written {
        tracing::error!("test hook cannot write {}: {error}", path.to_string_lossy());
    }
    tracing::warn!(
        request_id,
        "test hook: holding after the submission until killed"
    );
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn fields_map_to_a_process_request() {
        let request = request_of(
            "i/request/3",
            &fields(json!({
                "user": "ann", "full_name": " Ann Lee ", "email": "ann@example.com",
                "phone": "", "replace": true
            })),
        )
        .expect("a request");
        assert_eq!(request.key, "i/request/3");
        assert_eq!(request.login, "ann");
        assert_eq!(request.full_name.as_deref(), Some("Ann Lee"));
        assert_eq!(request.email.as_deref(), Some("ann@example.com"));
        assert_eq!(request.phone, None, "a blank phone is no phone");
        assert!(request.replace);
        assert_eq!(request.origin, Origin::Process);
    }

    #[test]
    fn a_request_without_user_or_with_unknown_fields_fails() {
        let code = |result: Result<certs::Request, activity::Error>| match result {
            Err(activity::Error::Failed { code, message }) => (code, message),
            other => panic!("expected a failure, got {other:?}"),
        };
        let (no_user, message) = code(request_of("k", &fields(json!({"user": null}))));
        assert_eq!(no_user, "SES_NO_USER");
        assert!(message.contains("map `user:`"), "{message}");
        let (unknown, message) = code(request_of("k", &fields(json!({"usr": "ann"}))));
        assert_eq!(unknown, "SES_UNKNOWN_FIELD");
        assert!(
            message.contains("`usr`") && message.contains("full_name"),
            "{message}"
        );
        let (bad, _) = code(request_of(
            "k",
            &fields(json!({"user": "a", "replace": "yes"})),
        ));
        assert_eq!(bad, "SES_BAD_FIELD");
    }
}
