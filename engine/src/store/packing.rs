//! The stored form of history records.
//!
//! A change records a few hundred bytes of JSON whose keys and shapes repeat
//! from row to row (`{"type":"entered","node":…`). Stored as they are, they
//! would be most of what a waiting instance takes on disk, so each row holds
//! its JSON compressed with zstd against a fixed dictionary of typical
//! records: one format byte, then one zstd frame. Rows written before this
//! form hold the plain JSON array and are read as they are.
//!
//! The dictionary is part of the stored format: `dict/history-v1.dict` never
//! changes (a test pins its digest). A better dictionary would be a new
//! format byte beside this one, never a change to it.

use std::cell::RefCell;
use std::sync::LazyLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::history::{self, Record};

/// The first byte of a row packed with [`DICTIONARY_V1`].
const ZSTD_V1: u8 = 1;

/// Typical records of every kind, the shared context of every packed row.
const DICTIONARY_V1: &[u8] = include_bytes!("dict/history-v1.dict");

/// zstd's level: fast to write, within a few bytes of the higher levels on
/// rows this small.
const LEVEL: i32 = 3;

/// The most one row may unpack to; a larger claimed size is corrupt data.
const MAX_UNPACKED: u64 = 256 << 20;

static ENCODER: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(DICTIONARY_V1, LEVEL));
static DECODER: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(DICTIONARY_V1));

thread_local! {
    /// A compression context per thread, made once: making one costs far
    /// more than packing a row.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
}

/// Why a stored row could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The row holds no bytes at all.
    #[error("empty history row (no format byte); restore the row from a backup")]
    Empty,
    /// The row starts with a byte no format uses.
    #[error(
        "unknown history format (first byte {0:#04x}); a newer sesflow may have written it, \
         or the row is damaged"
    )]
    Format(u8),
    /// The zstd frame is damaged or claims an impossible size.
    #[error("damaged compressed history: {0}")]
    Frame(String),
    /// The unpacked bytes are not the records' JSON.
    #[error("history records are not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The stored form of `records`: packed, or the plain JSON array should
/// compression fail (which [`unpack`] reads as well).
pub fn pack(records: &[Record]) -> Vec<u8> {
    let json = history::encode(records).into_bytes();
    let packed = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Compressor::with_prepared_dictionary(&ENCODER).ok();
        }
        slot.as_mut()?.compress(&json).ok()
    });
    match packed {
        Some(frame) => {
            let mut row = Vec::with_capacity(frame.len() + 1);
            row.push(ZSTD_V1);
            row.extend_from_slice(&frame);
            row
        }
        None => json,
    }
}

/// The records of a stored row, in either form.
pub fn unpack(row: &[u8]) -> Result<Vec<Record>, UnpackError> {
    match row.first() {
        Some(b'[') => Ok(history::decode(row)?),
        Some(&ZSTD_V1) => {
            let frame = &row[1..];
            let size = zstd::zstd_safe::get_frame_content_size(frame)
                .map_err(|error| UnpackError::Frame(format!("{error:?}")))?
                .filter(|size| *size <= MAX_UNPACKED)
                .ok_or_else(|| UnpackError::Frame("no plausible content size".into()))?;
            let size =
                usize::try_from(size).map_err(|error| UnpackError::Frame(error.to_string()))?;
            let json = Decompressor::with_prepared_dictionary(&DECODER)
                .and_then(|mut decompressor| decompressor.decompress(frame, size))
                .map_err(|error| UnpackError::Frame(error.to_string()))?;
            Ok(history::decode(&json)?)
        }
        Some(other) => Err(UnpackError::Format(*other)),
        None => Err(UnpackError::Empty),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sha2::{Digest, Sha256};

    use super::*;

    fn sample() -> Vec<Record> {
        vec![
            Record::Started {
                process: "intake".into(),
                version: 3,
                vars: json!({"amount": 12})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                initiator: Some("ann".into()),
                now_ms: 1_796_413_109_180,
                seed: 5_147_529_887_580_547_878,
            },
            Record::Entered {
                node: "check".into(),
                token: 2,
                from: Some("start".into()),
            },
            Record::Waiting {
                node: "check".into(),
                token: 2,
                wait: "task".into(),
                due_ms: None,
                key: None,
                assignee: Some("ann".into()),
            },
        ]
    }

    #[test]
    fn packed_records_read_back_equal_and_smaller() {
        let records = sample();
        let row = pack(&records);
        assert_eq!(row[0], ZSTD_V1);
        let json_len = history::encode(&records).len();
        assert!(
            row.len() * 2 < json_len,
            "{} packed bytes for {json_len} of JSON",
            row.len()
        );
        assert_eq!(unpack(&row).expect("unpacks"), records);
    }

    #[test]
    fn rows_of_plain_json_are_read_as_they_are() {
        let records = sample();
        let row = history::encode(&records).into_bytes();
        assert_eq!(unpack(&row).expect("reads"), records);
    }

    #[test]
    fn damaged_rows_are_errors_not_panics() {
        let row = pack(&sample());
        let mut cut = row.clone();
        cut.truncate(row.len() / 2);
        assert!(matches!(unpack(&cut), Err(UnpackError::Frame(_))));
        let mut flipped = row.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x55;
        assert!(unpack(&flipped).is_err());
        assert!(matches!(unpack(&[]), Err(UnpackError::Empty)));
        assert!(matches!(unpack(&[7, 1, 2]), Err(UnpackError::Format(7))));
        assert!(matches!(unpack(b"[{\"type\":"), Err(UnpackError::Json(_))));
    }

    #[test]
    fn the_version_1_dictionary_never_changes() {
        let digest = hex(&Sha256::digest(DICTIONARY_V1));
        assert_eq!(digest, DICTIONARY_V1_SHA256);
    }

    const DICTIONARY_V1_SHA256: &str =
        "b6ab64116295ead7a6e93b4158ba4a45a21f3a24f68e1e83bf10dddc4328e612";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}
