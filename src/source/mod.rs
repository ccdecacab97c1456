//! Reading the data file: streaming CSV/TSV with the `csv` crate, memory bounded whatever the
//! file size, every record keeping the physical line where it starts. Bytes are decoded here
//! (UTF-8, or a single-byte encoding such as windows-1252); a field that cannot be decoded or
//! holds a NUL byte is reported, never guessed at.
mod hashing;

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

pub use hashing::{HashingReader, ReadProgress};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct SourceOptions {
    pub delimiter: u8,
    /// CSV quoting; off for TSV, where a quote is an ordinary character.
    pub quoting: bool,
    pub encoding: Option<&'static encoding_rs::Encoding>,
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

/// A streaming reader over one data file.
pub struct SourceReader {
    path: PathBuf,
    reader: csv::Reader<HashingReader<Box<dyn Read + Send>>>,
    options: SourceOptions,
    progress: Arc<ReadProgress>,
    ordinal: u64,
}

impl SourceReader {
    pub fn open(path: &Path, options: SourceOptions) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self::from_reader(path, Box::new(file), size, options))
    }

    /// Reads from any byte stream; `path` names it in messages, `size` feeds the progress.
    pub fn from_reader(
        path: &Path,
        input: Box<dyn Read + Send>,
        size: u64,
        options: SourceOptions,
    ) -> Self {
        let progress = Arc::new(ReadProgress::new(size));
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(options.delimiter)
            .quoting(options.quoting)
            .buffer_capacity(1 << 20)
            .from_reader(HashingReader::new(input, progress.clone()));
        Self {
            path: path.to_owned(),
            reader,
            options,
            progress,
            ordinal: 0,
        }
    }

    pub fn progress(&self) -> Arc<ReadProgress> {
        self.progress.clone()
    }

    /// The header record, decoded; `None` for a file with no records at all.
    pub fn header(&mut self) -> Result<Option<Vec<String>>> {
        let mut record = ByteRecord::new();
        if !self.read_raw(&mut record)? {
            return Ok(None);
        }
        let mut names = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            match decode(field, self.options.encoding) {
                Ok(name) => names.push(name.trim().to_string()),
                Err(problem) => {
                    return Err(Error::File {
                        path: self.path.clone(),
                        problem: format!("header column {}: {}", i + 1, problem.describe(0)),
                    });
                }
            }
        }
        Ok(Some(names))
    }

    /// Reads the next data record into `record`.
    pub fn next_record(&mut self, record: &mut ByteRecord) -> Result<Option<RecordPosition>> {
        if !self.read_raw(record)? {
            return Ok(None);
        }
        self.ordinal += 1;
        let (line, byte) = self.record_start(record);
        Ok(Some(RecordPosition {
            line,
            ordinal: self.ordinal,
            byte,
        }))
    }

    /// The physical line and byte where `record` starts. The parser's own position is where
    /// its read began, before any terminators and blank lines it skipped; step over those.
    fn record_start(&mut self, record: &ByteRecord) -> (u64, u64) {
        let (line, byte) = record
            .position()
            .map(|p| (p.line(), p.byte()))
            .unwrap_or((1, 0));
        let (start, skipped_lines) = self.reader.get_mut().record_start(byte);
        (line + skipped_lines, start)
    }

    fn read_raw(&mut self, record: &mut ByteRecord) -> Result<bool> {
        self.reader
            .read_byte_record(record)
            .map_err(|e| Error::File {
                path: self.path.clone(),
                problem: format!("read error: {e}"),
            })
    }

    pub fn options(&self) -> SourceOptions {
        self.options
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
