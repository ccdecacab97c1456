//! Reading the data: CSV/TSV, JSON Lines or an xlsx sheet, compressed or not, one file or the
//! parts of one feed, streamed with memory bounded whatever the size, every record keeping
//! the physical position where it starts. Bytes are decoded here (UTF-8, or a single-byte
//! encoding such as windows-1252); a field that cannot be decoded or holds a NUL byte is
//! reported, never guessed at.
mod compression;
mod delimited;
mod hashing;
mod jsonl;
mod opened;
pub mod parts;
mod reader;
mod utf16;
mod xlsx;

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use csv::ByteRecord;

pub use compression::{Compression, CompressionOption, sample, text_of};
pub use hashing::ReadProgress;
use opened::Opened;
pub use reader::SourceReader;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub format: Format,
    /// `[source] sheet`: the sheet of a workbook to read; the first when `None`.
    pub sheet: Option<String>,
    pub delimiter: u8,
    /// CSV quoting; off for TSV, where a quote is an ordinary character.
    pub quoting: bool,
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The most bytes one record may span (`[source] max_record_bytes`): what keeps memory
    /// bounded on a file without line ends or with an unclosed quote.
    pub max_record_bytes: u64,
    /// The most bytes the header may span (`[source] max_header_bytes`).
    pub max_header_bytes: u64,
    /// `[source] compression`: by the magic bytes, or as said.
    pub compression: CompressionOption,
    /// `[source] skip_rows`: rows above the header (a title, a date line), passed over.
    pub skip_rows: u64,
    /// `[source] header`: whether the first row (after those) names the columns.
    pub has_header: bool,
}

/// 128 MiB: a record larger than this is not a partner's row.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 128 << 20;
/// 16 MiB: ten thousand columns with long names fit many times over.
pub const DEFAULT_MAX_HEADER_BYTES: u64 = 16 << 20;

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            format: Format::Csv,
            sheet: None,
            delimiter: b',',
            quoting: true,
            encoding: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            compression: CompressionOption::Auto,
            skip_rows: 0,
            has_header: true,
        }
    }
}

/// Where a record sits in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPosition {
    /// Physical line (1-based) on which the record starts; the header is line 1.
    pub line: u64,
    /// 1-based position among the data records.
    pub ordinal: u64,
    /// Byte offset of the record's first byte.
    pub byte: u64,
}

/// Why a field's bytes could not become text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    /// Not valid UTF-8; `offset` is the first bad byte within the field.
    InvalidUtf8 { offset: usize },
    /// A NUL byte, which PostgreSQL text cannot hold.
    Nul { offset: usize },
}

impl FieldProblem {
    pub fn check(&self) -> &'static str {
        match self {
            FieldProblem::InvalidUtf8 { .. } => "encoding",
            FieldProblem::Nul { .. } => "nul_byte",
        }
    }

    pub fn describe(&self, record_byte: u64) -> String {
        match self {
            FieldProblem::InvalidUtf8 { offset } => format!(
                "invalid UTF-8 at byte {offset} of the field (the record starts at byte offset {record_byte} of the file); set encoding = \"windows-1252\" in [source] if the file is not UTF-8"
            ),
            FieldProblem::Nul { offset } => format!(
                "NUL byte at byte {offset} of the field (the record starts at byte offset {record_byte} of the file); PostgreSQL text cannot hold it"
            ),
        }
    }
}

/// The file formats Airlock reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Csv,
    Tsv,
    /// JSON Lines: one object per line, its keys the columns.
    Jsonl,
    /// An Excel workbook's sheet.
    Xlsx,
}

impl Format {
    pub const NAMES: &'static str = "csv, tsv, jsonl, xlsx";

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::Xlsx => "xlsx",
        }
    }

    /// By the file's extension, under any compression's (`feed.jsonl.gz` is JSON Lines);
    /// CSV when it says nothing.
    pub fn of_name(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = ["gz", "gzip", "zst", "zstd", "bz2", "xz"]
            .iter()
            .find_map(|ext| name.strip_suffix(&format!(".{ext}")))
            .unwrap_or(&name);
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("tsv" | "tab") => Format::Tsv,
            Some("jsonl" | "ndjson") => Format::Jsonl,
            Some("xlsx" | "xlsm") => Format::Xlsx,
            _ => Format::Csv,
        }
    }
}

/// What the format knows of the record just read beyond its fields' text.
#[derive(Debug, Default, Clone)]
pub struct RecordNotes {
    /// Per field: NULL whatever its text (JSON `null`, an absent key, an empty cell). Empty
    /// when no field is.
    pub null: Vec<bool>,
    /// Problems of the record the reader found: a line that is not JSON, an Excel error
    /// cell, a nested value for a column that is not JSON.
    pub problems: Vec<RecordProblem>,
    /// The record has no fields to read (a line that is not JSON): every field is unusable.
    pub unreadable: bool,
}

impl RecordNotes {
    fn clear(&mut self) {
        self.null.clear();
        self.problems.clear();
        self.unreadable = false;
    }
}

/// One problem the reader found in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    /// The field it is in, when it is in one.
    pub field: Option<usize>,
    pub check: &'static str,
    pub value: Option<String>,
    pub message: String,
}

/// One part's records, in one format.
trait Records: Send {
    /// The header, after the rows `skip_rows` passes over; `None` when there is none.
    fn header(&mut self) -> Result<Option<Vec<String>>>;
    /// The physical line the header was read from.
    fn header_line(&self) -> Option<u64>;
    /// The next record's fields, and its line and first byte in this part.
    fn next(
        &mut self,
        record: &mut ByteRecord,
        notes: &mut RecordNotes,
    ) -> Result<Option<(u64, u64)>>;
    /// Which fields of the record read last are literal text a NULL marker does not match
    /// (a quoted CSV field); empty when none is.
    fn literal_fields(&self) -> Vec<bool>;
    /// The record read last as its line, where its fields alone do not show it (a line that
    /// is not JSON).
    fn raw_text(&self) -> Option<String> {
        None
    }
    /// Past the end: the line after the last, so the next part's lines follow.
    fn end_line(&mut self) -> u64;
    fn compression(&self) -> Compression;
    /// The names fields are read by, where the format reads fields by name (JSON Lines):
    /// the header of the whole input, and which of them feed JSON columns.
    fn use_header(&mut self, _header: &[String], _json: &[bool]) {}
}

/// A part's text: decompressed, transcoded from UTF-16, counted and hashed as it streams.
pub(crate) struct Text {
    text: Box<dyn Read + Send>,
    progress: Arc<ReadProgress>,
    compression: Compression,
}

impl Text {
    fn open(
        path: &Path,
        input: Box<dyn Read + Send>,
        progress: Arc<ReadProgress>,
        options: &SourceOptions,
    ) -> Result<Self> {
        let file_err = |problem: String| Error::File {
            path: path.to_owned(),
            problem,
        };
        let received = hashing::Fingerprint::new(input, progress.clone());
        let (compression, text) = compression::open(
            path,
            Box::new(received),
            options.compression,
            progress.clone(),
        )
        .map_err(file_err)?;
        let (utf16, text) = utf16::wrap(text).map_err(|e| file_err(format!("cannot read: {e}")))?;
        if let (Some(found), Some(said)) = (utf16, options.encoding) {
            return Err(file_err(format!(
                "the file is {} (by its byte order mark), but [source] encoding says {}",
                found.name(),
                said.name()
            )));
        }
        Ok(Self {
            text,
            progress,
            compression,
        })
    }
}

/// A record or header past its cap.
fn too_long(path: &Path, past_header: bool, line: u64, byte: u64, limit: u64) -> Error {
    let (what, key) = match past_header {
        true => ("record", "max_record_bytes"),
        false => ("header", "max_header_bytes"),
    };
    Error::File {
        path: path.to_owned(),
        problem: format!(
            "{what} at line {line} (byte offset {byte}) exceeds {} bytes without ending \
             (an unclosed quote, or no line ends?); the limit is [source] {key}",
            crate::format::thousands(limit as i64),
        ),
    }
}

/// Decodes one field's bytes.
pub fn decode<'a>(
    bytes: &'a [u8],
    encoding: Option<&'static encoding_rs::Encoding>,
) -> std::result::Result<Cow<'a, str>, FieldProblem> {
    if let Some(offset) = memchr(0, bytes) {
        return Err(FieldProblem::Nul { offset });
    }
    match encoding {
        None => {
            std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|e| FieldProblem::InvalidUtf8 {
                    offset: e.valid_up_to(),
                })
        }
        // Single-byte encodings map every byte to a character.
        Some(enc) => Ok(enc.decode_without_bom_handling(bytes).0),
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// A byte string shown to a person: valid UTF-8 as is, other bytes as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch == '\0' {
                out.push_str("\\x00");
            } else {
                out.push(ch);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_reports() {
        assert_eq!(decode(b"abc", None).ok().as_deref(), Some("abc"));
        assert_eq!(
            decode(b"ab\xffc", None),
            Err(FieldProblem::InvalidUtf8 { offset: 2 })
        );
        assert_eq!(decode(b"a\0", None), Err(FieldProblem::Nul { offset: 1 }));
        let w1252 = encoding_rs::Encoding::for_label(b"windows-1252");
        assert_eq!(decode(b"caf\xe9", w1252).ok().as_deref(), Some("café"));
        assert_eq!(escape_bytes(b"a\xffb\0"), "a\\xFFb\\x00");
    }
}
