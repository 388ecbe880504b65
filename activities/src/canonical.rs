//! Canonical JSON (RFC 8785, the JSON Canonicalization Scheme): the bytes
//! that app item digests and signature records are computed over.

use serde::Serialize;

/// The canonical JSON of `value`.
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json_canonicalizer::to_vec(value)
}

/// The canonical form of the JSON text `json`.
pub fn canonicalize(json: &str) -> Result<String, serde_json::Error> {
    serde_json_canonicalizer::pipe(json)
}
