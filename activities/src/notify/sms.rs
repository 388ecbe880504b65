//! Text messages through an HTTP gateway: a POST to a URL template with a
//! body template.

use std::time::Duration;

use super::{Error, Message};

/// The body sent when the configuration gives none.
pub const DEFAULT_BODY: &str = r#"{"to":"{to}","text":"{text}"}"#;

/// POSTs `message` to the gateway at `url` with `body` (a template).
pub async fn send(url: &str, body: Option<&str>, message: &Message) -> Result<(), Error> {
    let url = url
        .replace("{to}", &percent_encode(&message.to))
        .replace("{text}", &percent_encode(&message.body));
    let body = body
        .unwrap_or(DEFAULT_BODY)
        .replace("{to}", &json_escape(&message.to))
        .replace("{text}", &json_escape(&message.body));
    let host = host_of(&url);
    let result = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    result.map_err(|message| Error::Gateway { host, message })
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    authority.rsplit('@').next().unwrap_or(authority).to_owned()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn json_escape(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_values_are_escaped() {
        assert_eq!(percent_encode("+44 1/2"), "%2B44%201%2F2");
        assert_eq!(json_escape("say \"hi\"\n"), "say \\\"hi\\\"\\n");
        assert_eq!(
            host_of("https://u:p@sms.example:8443/send?x=1"),
            "sms.example:8443"
        );
    }
}
