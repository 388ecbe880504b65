//! Keys at rest: the master key and the AEAD that seals private keys.
//!
//! Private keys never reach the store in the clear. Each is sealed with
//! XChaCha20-Poly1305 under a key derived (HKDF-SHA-256) from the master key,
//! with the row it belongs to as associated data, so that a sealed key moved
//! to another row does not open. The master key comes from, in order:
//!
//! 1. `SESFLOW_MASTER_KEY`: 64 hex digits;
//! 2. the file named by `SESFLOW_KEY_FILE`;
//! 3. `$XDG_CONFIG_HOME/sesflow/master.key`, else `~/.config/sesflow/master.key`.
//!
//! A key file that does not exist is created with 32 random bytes and mode
//! 0600 (its folder 0700), but only for a store that holds no sealed key
//! yet: for a store that does, a missing file is an error, and a key whose
//! id differs from the store's is refused before it is used
//! ([`MasterKey::load_for`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The environment variable holding the master key in hex.
pub const ENV_KEY: &str = "SESFLOW_MASTER_KEY";
/// The environment variable naming the master key file.
pub const ENV_KEY_FILE: &str = "SESFLOW_KEY_FILE";

/// The version byte in front of every sealed value.
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// Errors of the keys at rest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `SESFLOW_MASTER_KEY` is not 64 hex digits.
    #[error(
        "SESFLOW_MASTER_KEY is not 64 hex digits (it has {len} characters); \
         generate one with `openssl rand -hex 32`"
    )]
    BadEnvKey {
        /// Length of the value found.
        len: usize,
    },
    /// The key file holds no key.
    #[error("master key file {path} does not hold 64 hex digits; restore it from a backup")]
    BadFile {
        /// The file.
        path: PathBuf,
    },
    /// The key file cannot be read or created.
    #[error("cannot use master key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The master key is not the one the store's keys are sealed under.
    #[error(
        "wrong master key {key_id}: the store expects key {expected}; set \
         SESFLOW_MASTER_KEY or SESFLOW_KEY_FILE to the key the store was set up with"
    )]
    WrongMaster {
        /// The id of the key given.
        key_id: String,
        /// The id of the key the store's sealed keys need.
        expected: String,
    },
    /// The key file is missing, though the store holds sealed keys.
    #[error(
        "master key file {path} does not exist, but the store holds keys sealed under \
         key {expected}; restore the file from a backup or point SESFLOW_KEY_FILE at it"
    )]
    MissingFile {
        /// The file.
        path: PathBuf,
        /// The id of the key the store's sealed keys need.
        expected: String,
    },
    /// Neither a key, a key file nor a home folder is known.
    #[error("no master key: set SESFLOW_MASTER_KEY or SESFLOW_KEY_FILE (HOME is not set)")]
    NoHome,
    /// A sealed value does not open with this key.
    #[error(
        "a private key does not open with the master key {key_id} \
         (it was sealed under {sealed_with}); use the master key the store was set up with"
    )]
    WrongKey {
        /// The id of the key in use.
        key_id: String,
        /// The id recorded with the sealed value.
        sealed_with: String,
    },
    /// A sealed value is damaged.
    #[error("a sealed private key is damaged ({context})")]
    Damaged {
        /// The row it belongs to.
        context: String,
    },
}

/// The master key: 32 secret bytes and a public id that names it.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

impl MasterKey {
    /// A master key made of `bytes`.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let bytes = Zeroizing::new(bytes);
        let id = hex::encode(&derive(&bytes, b"sesflow key id")[..8]);
        Self { bytes, id }
    }

    /// A fresh random master key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// The master key from the environment or the key file (see the module
    /// documentation), creating the key file when it is missing.
    pub fn load() -> Result<Self, Error> {
        if let Ok(value) = std::env::var(ENV_KEY) {
            return parse_hex(value.trim()).ok_or(Error::BadEnvKey { len: value.len() });
        }
        Self::from_file(&default_file()?)
    }

    /// The master key for a store whose sealed keys are under the key with
    /// id `expected` (`None` for a store without sealed keys): a key file is
    /// created only when `expected` is `None`, and a key of another id is
    /// refused.
    pub fn load_for(expected: Option<&str>) -> Result<Self, Error> {
        let key = match (std::env::var(ENV_KEY), expected) {
            (Ok(_), _) | (_, None) => Self::load()?,
            (Err(_), Some(expected)) => {
                let path = default_file()?;
                if !path.exists() {
                    return Err(Error::MissingFile {
                        path,
                        expected: expected.to_owned(),
                    });
                }
                Self::from_file(&path)?
            }
        };
        match expected {
            Some(expected) => key.check(expected).map(|()| key),
            None => Ok(key),
        }
    }

    /// Refuses this key unless its id is `expected`, the id the store's
    /// sealed keys were sealed under.
    pub fn check(&self, expected: &str) -> Result<(), Error> {
        if self.id == expected {
            return Ok(());
        }
        Err(Error::WrongMaster {
            key_id: self.id.clone(),
            expected: expected.to_owned(),
        })
    }

    /// The master key in `path`, created with mode 0600 when missing.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            create_file(path).map_err(io)?;
        }
        let text = Zeroizing::new(fs::read_to_string(path).map_err(io)?);
        parse_hex(text.trim()).ok_or_else(|| Error::BadFile {
            path: path.to_owned(),
        })
    }

    /// The key's public id, recorded beside every value it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` for the row named `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let cipher = self.cipher();
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encryption fails only for inputs beyond 256 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value sealed for the row `context` under the key `sealed_with`.
    pub fn open(
        &self,
        context: &str,
        sealed_with: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        if sealed_with != self.id {
            return Err(Error::WrongKey {
                key_id: self.id.clone(),
                sealed_with: sealed_with.to_owned(),
            });
        }
        let damaged = || Error::Damaged {
            context: context.to_owned(),
        };
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != SEALED_V1 {
            return Err(damaged());
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| damaged())
    }

    /// The key of the keyed hashes of one-time codes.
    pub fn code_key(&self) -> Zeroizing<[u8; 32]> {
        derive(&self.bytes, b"sesflow one-time codes")
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        let key = derive(&self.bytes, b"sesflow keys at rest");
        XChaCha20Poly1305::new(key.as_ref().into())
    }
}

/// Where the key file is when `SESFLOW_KEY_FILE` does not say.
pub fn default_file() -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os(ENV_KEY_FILE) {
        return Ok(PathBuf::from(path));
    }
    let config = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").ok_or(Error::NoHome)?).join(".config"),
    };
    Ok(config.join("sesflow").join("master.key"))
}

fn derive(master: &[u8; 32], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, master)
        .expand(info, out.as_mut())
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    out
}

fn parse_hex(text: &str) -> Option<MasterKey> {
    let bytes = Zeroizing::new(hex::decode(text).ok()?);
    let array: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(MasterKey::from_bytes(array))
}

fn create_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let key = MasterKey::generate();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(key.bytes.as_ref())));
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_value_opens_only_with_its_key_and_row() {
        let key = MasterKey::generate();
        let sealed = key.seal("cert:01", b"secret seed");
        let opened = key.open("cert:01", key.id(), &sealed).expect("opens");
        assert_eq!(opened.as_slice(), b"secret seed");
        assert!(matches!(
            key.open("cert:02", key.id(), &sealed),
            Err(Error::Damaged { .. })
        ));
        let other = MasterKey::generate();
        assert!(matches!(
            other.open("cert:01", key.id(), &sealed),
            Err(Error::WrongKey { .. })
        ));
        assert!(other.open("cert:01", other.id(), &sealed).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("conf").join("master.key");
        let first = MasterKey::from_file(&path).expect("created");
        let again = MasterKey::from_file(&path).expect("read");
        assert_eq!(first.id(), again.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
