//! The payload of a `signature.issuance` event: what the certificate service
//! answered to a request, read strictly so that no odd payload passes as an
//! issued certificate.

use serde_json::Value;

/// The payload shape, for messages about a payload that does not have it.
pub const ISSUANCE_SHAPE: &str =
    r#"{"status":"issued","certificate":{...}} or {"status":"rejected","reason":"..."}"#;

/// What the service decided on a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Issuance {
    /// The certificate was issued; it is the payload's `certificate` object.
    Issued(Value),
    /// The request was rejected, for the reason given when there is one.
    Rejected(Option<String>),
}

/// Reads a `signature.issuance` payload, or says how it departs from
/// [`ISSUANCE_SHAPE`].
pub fn read_issuance(payload: &Value) -> Result<Issuance, String> {
    let Some(fields) = payload.as_object() else {
        return Err(format!("the answer {payload} is not an object"));
    };
    match fields.get("status").and_then(Value::as_str) {
        Some("issued") => match fields.get("certificate") {
            Some(certificate) if certificate.is_object() => {
                Ok(Issuance::Issued(certificate.clone()))
            }
            Some(other) => Err(format!(
                "the certificate in the answer is {other}, not an object"
            )),
            None => Err("the answer says issued but holds no certificate".to_owned()),
        },
        Some("rejected") => match fields.get("reason") {
            None | Some(Value::Null) => Ok(Issuance::Rejected(None)),
            Some(Value::String(reason)) => Ok(Issuance::Rejected(Some(reason.clone()))),
            Some(other) => Err(format!("the rejection reason {other} is not a string")),
        },
        Some(status) => Err(format!(
            "the answer's status `{status}` is neither issued nor rejected"
        )),
        None => Err("the answer has no string `status`".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn malformed_issuance_payloads_are_not_taken_as_issued() {
        for payload in [
            json!([1, 2]),
            json!({"status": "weird"}),
            json!({"status": "issued"}),
            json!({"status": "issued", "certificate": "0a"}),
            json!({"status": "rejected", "reason": 3}),
            json!({}),
        ] {
            assert!(read_issuance(&payload).is_err(), "{payload} was accepted");
        }
    }

    #[test]
    fn documented_issuance_payloads_are_read() {
        let issued = json!({"status": "issued", "certificate": {"serial": "0a"}});
        assert_eq!(
            read_issuance(&issued),
            Ok(Issuance::Issued(json!({"serial": "0a"})))
        );
        let rejected = json!({"status": "rejected", "reason": "no such user"});
        assert_eq!(
            read_issuance(&rejected),
            Ok(Issuance::Rejected(Some("no such user".into())))
        );
        assert_eq!(
            read_issuance(&json!({"status": "rejected"})),
            Ok(Issuance::Rejected(None))
        );
    }
}
