//! Canonical JSON (RFC 8785, the JSON Canonicalization Scheme): the bytes
//! that app item digests and signature records are computed over.
//!
//! [`to_vec`] canonicalizes any serializable value. [`Object`] writes the
//! same bytes directly for a value whose keys are known in advance (the
//! signature record), without building and sorting a JSON tree first.

use serde::Serialize;

/// The canonical JSON of `value`.
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json_canonicalizer::to_vec(value)
}

/// The canonical form of the JSON text `json`.
pub fn canonicalize(json: &str) -> Result<String, serde_json::Error> {
    serde_json_canonicalizer::pipe(json)
}

/// A JSON object written member by member in canonical form.
///
/// Members must come in canonical key order. Keys are ASCII, for which
/// RFC 8785's order (by UTF-16 code units) is byte order; debug builds
/// check both.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    last: Option<&'static str>,
}

impl<'a> Object<'a> {
    /// Opens an object at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, last: None }
    }

    /// Writes the member `key` and returns the buffer its value goes to.
    pub fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        debug_assert!(key.is_ascii(), "key `{key}` is not ASCII");
        debug_assert!(
            self.last.is_none_or(|last| last < key),
            "key `{key}` comes after `{:?}` in canonical order",
            self.last
        );
        if self.last.is_some() {
            self.out.push(b',');
        }
        self.last = Some(key);
        push_string(self.out, key);
        self.out.push(b':');
        self.out
    }

    /// Writes the member `key` with the string `value`.
    pub fn string(&mut self, key: &'static str, value: &str) {
        push_string(self.key(key), value);
    }

    /// Writes the member `key` with the integer `value`.
    pub fn integer(&mut self, key: &'static str, value: i64) {
        let out = self.key(key);
        out.extend_from_slice(value.to_string().as_bytes());
    }

    /// Writes the member `key` with an array of the strings `values`, in
    /// their order.
    pub fn strings(&mut self, key: &'static str, values: &[String]) {
        let out = self.key(key);
        out.push(b'[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_string(out, value);
        }
        out.push(b']');
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// Appends `text` as a canonical JSON string: `"` and `\` escaped, control
/// characters as `\b \t \n \f \r` or `\u00xx`, everything else as is.
pub fn push_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str) -> String {
        let mut out = Vec::new();
        push_string(&mut out, text);
        String::from_utf8(out).expect("canonical JSON is UTF-8")
    }

    fn reference(text: &str) -> String {
        String::from_utf8(to_vec(&text).expect("a string serializes")).expect("UTF-8")
    }

    #[test]
    fn strings_escape_as_rfc_8785_says() {
        assert_eq!(
            written("\u{20ac}$\u{f}\nA'B\"\\\\\"/"),
            "\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\""
        );
        assert_eq!(
            written("\u{8}\t\u{c}\r\u{0}\u{1f}"),
            "\"\\b\\t\\f\\r\\u0000\\u001f\""
        );
        assert_eq!(written("\u{7f}\u{2028}😀"), "\"\u{7f}\u{2028}😀\"");
        assert_eq!(written(""), "\"\"");
    }

    #[test]
    fn every_control_and_ascii_character_matches_the_canonicalizer() {
        for code in 0u8..0x80 {
            let text = format!("a{}b", char::from(code));
            assert_eq!(written(&text), reference(&text), "character {code:#04x}");
        }
    }

    #[test]
    fn objects_match_the_canonicalizer() {
        let mut out = Vec::new();
        let mut object = Object::new(&mut out);
        object.strings("a", &["x\n".to_owned(), "é".to_owned()]);
        let mut inner = Object::new(object.key("b"));
        inner.integer("c", -7);
        inner.string("d", "\"");
        inner.end();
        object.strings("e", &[]);
        object.integer("f", 2_147_483_647);
        object.end();
        let expected = to_vec(&serde_json::json!({
            "f": 2_147_483_647,
            "e": [],
            "b": {"d": "\"", "c": -7},
            "a": ["x\n", "é"],
        }))
        .expect("serializes");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            String::from_utf8(expected).expect("UTF-8")
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "canonical order")]
    fn keys_out_of_order_are_caught() {
        let mut out = Vec::new();
        let mut object = Object::new(&mut out);
        object.string("b", "1");
        object.string("a", "2");
    }
}
