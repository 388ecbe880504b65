//! What is signed: a file (the SHA-256 of its content) or an app item (the
//! SHA-256 of the canonical JSON of its app, id, version and signed fields).

use std::fmt;
use std::io::Read;
use std::path::Path;

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::apps;
use crate::canonical;
use crate::error::{Error, Result};

/// What a signature covers, as its record names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A file, by name (not path).
    File {
        /// The file's name.
        name: String,
    },
    /// A version of an app item.
    AppItem {
        /// The app.
        app: String,
        /// The item id.
        id: String,
        /// The version signed.
        version: i32,
        /// The fields the signature covers, sorted.
        fields: Vec<String>,
    },
}

impl Target {
    /// The key signatures are listed under: `file:NAME` or `app:APP/ID`.
    pub fn key(&self) -> String {
        match self {
            Target::File { name } => format!("file:{name}"),
            Target::AppItem { app, id, .. } => format!("app:{app}/{id}"),
        }
    }
}

impl Target {
    /// Appends the canonical JSON (RFC 8785) of the target, as serde names
    /// its fields, to `out`.
    pub(crate) fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut object = canonical::Object::new(out);
        match self {
            Target::File { name } => {
                object.string("kind", "file");
                object.string("name", name);
            }
            Target::AppItem {
                app,
                id,
                version,
                fields,
            } => {
                object.string("app", app);
                object.strings("fields", fields);
                object.string("id", id);
                object.string("kind", "app_item");
                object.integer("version", i64::from(*version));
            }
        }
        object.end();
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::File { name } => write!(f, "file {name}"),
            Target::AppItem {
                app, id, version, ..
            } => write!(f, "app item {app}/{id} version {version}"),
        }
    }
}

/// A document to sign or verify: its target and digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// What it is.
    pub target: Target,
    /// SHA-256 of what is signed, lower-case hex.
    pub digest: String,
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (sha-256 {})",
            self.target,
            &self.digest[..12.min(self.digest.len())]
        )
    }
}

impl Document {
    /// The file at `path`, read in full.
    pub fn file(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buffer).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(Self {
            target: Target::File { name },
            digest: hex::encode(hasher.finalize()),
        })
    }

    /// A file named `name` with content `bytes`.
    pub fn bytes(name: &str, bytes: &[u8]) -> Self {
        Self {
            target: Target::File {
                name: name.to_owned(),
            },
            digest: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The latest version of the app item `app/id`.
    pub async fn app_item<C: ConnectionTrait>(conn: &C, app: &str, id: &str) -> Result<Self> {
        let item = apps::get(conn, app, id).await?;
        let fields = apps::signed_fields(conn, &item).await?;
        let digest = apps::digest(app, id, item.version, &item.fields, &fields);
        Ok(Self {
            target: Target::AppItem {
                app: item.app,
                id: item.id,
                version: item.version,
                fields,
            },
            digest,
        })
    }
}
