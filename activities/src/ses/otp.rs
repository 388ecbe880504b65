//! One-time codes: six digits, five minutes, single use, at most five wrong
//! attempts per signing, stored as a keyed hash and compared in constant
//! time.

use chrono::Duration;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::certs::keys::MasterKey;

/// Digits in a code.
pub const DIGITS: usize = 6;
/// Wrong codes after which a signing is void.
pub const MAX_ATTEMPTS: i32 = 5;
/// Codes one signing may send (the first and the resends).
pub const MAX_CODES: i32 = 3;

/// How long a code is accepted.
pub fn lifetime() -> Duration {
    Duration::minutes(5)
}

/// The shortest time between two codes of one signing.
pub fn resend_gap() -> Duration {
    Duration::seconds(30)
}

/// How long a signing waits for its code before a new one must start.
pub fn signing_lifetime() -> Duration {
    Duration::hours(1)
}

/// How long a user may not start signing after a signing became void.
pub fn lockout() -> Duration {
    Duration::minutes(15)
}

/// A fresh random code.
pub fn generate() -> String {
    let n: u32 = rand::rngs::OsRng.gen_range(0..1_000_000);
    format!("{n:0width$}", width = DIGITS)
}

/// Refuses a code that is not [`DIGITS`] digits, before it is compared or
/// counted as a wrong attempt.
pub fn check_form(code: &str) -> crate::error::Result<()> {
    let code = code.trim();
    if code.len() == DIGITS && code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(());
    }
    Err(crate::error::Error::Invalid {
        field: "code",
        value: code.chars().take(20).collect(),
        remedy: format!("give the {DIGITS} digits of the code that was sent"),
    })
}

/// The stored form of `code` for the signing `sign_request_id`.
pub fn hash(keys: &MasterKey, sign_request_id: &str, code: &str) -> String {
    hex::encode(mac(keys, sign_request_id, code))
}

/// Whether `code` matches the stored `hash`, compared in constant time.
pub fn matches(keys: &MasterKey, sign_request_id: &str, code: &str, stored: &str) -> bool {
    let Ok(stored) = hex::decode(stored) else {
        return false;
    };
    let given = mac(keys, sign_request_id, code.trim());
    given.as_slice().ct_eq(stored.as_slice()).into()
}

fn mac(keys: &MasterKey, sign_request_id: &str, code: &str) -> Vec<u8> {
    let key = keys.code_key();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
        .expect("HMAC takes a key of any length");
    mac.update(sign_request_id.as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_match_only_their_signing() {
        let keys = MasterKey::generate();
        let code = generate();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let stored = hash(&keys, "r1", &code);
        assert!(matches(&keys, "r1", &code, &stored));
        assert!(!matches(&keys, "r2", &code, &stored));
        let other = if code == "000000" { "000001" } else { "000000" };
        assert!(!matches(&keys, "r1", other, &stored));
        assert!(!matches(&MasterKey::generate(), "r1", &code, &stored));
    }
}
