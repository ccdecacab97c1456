//! Reading the data file: streaming CSV/TSV with the `csv` crate, memory bounded whatever the
//! file size, every record keeping the physical line where it starts. Bytes are decoded here
//! (UTF-8, or a single-byte encoding such as windows-1252); a field that cannot be decoded or
//! holds a NUL byte is reported, never guessed at.
mod compression;
mod hashing;
mod utf16;

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

pub use compression::{Compression, CompressionOption, sample, text_of};
pub use hashing::ReadProgress;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct SourceOptions {
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

/// What the file was when it was opened, to tell at the end whether it changed while it was
/// read: truncated, appended to, rewritten in place or replaced by another file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    size: u64,
    modified: Option<std::time::SystemTime>,
    inode: (u64, u64),
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            size: meta.len(),
            modified: meta.modified().ok(),
            inode: (meta.dev(), meta.ino()),
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

/// A streaming reader over one data file.
pub struct SourceReader {
    path: PathBuf,
    reader: csv::Reader<hashing::Positions<Box<dyn Read + Send>>>,
    options: SourceOptions,
    progress: Arc<ReadProgress>,
    ordinal: u64,
    compression: Compression,
    /// The physical line the header was read from.
    header_line: Option<u64>,
    /// For a regular file: the open handle and what it was, checked once the end is read.
    opened: Option<(File, Identity)>,
    /// Past the header: records are held to `max_record_bytes`.
    past_header: bool,
}

impl SourceReader {
    /// Opens a regular file or a pipe (a FIFO, `/dev/stdin` fed by a pipe); a device, a
    /// socket or a directory is refused: it has no end, or no records.
    pub fn open(path: &Path, options: SourceOptions) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let kind = std::fs::metadata(path).map_err(io)?.file_type();
        if !kind.is_file() && !is_pipe(&kind) {
            return Err(Error::File {
                path: path.to_owned(),
                problem: format!(
                    "is {}, not a file; Airlock reads regular files and pipes",
                    describe_kind(&kind)
                ),
            });
        }
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let opened = match meta.is_file() {
            true => Some((file.try_clone().map_err(io)?, Identity::of(&meta))),
            false => None,
        };
        let mut reader = Self::from_reader(path, Box::new(file), meta.len(), options)?;
        reader.opened = opened;
        Ok(reader)
    }

    /// Whether the input can be read again from the start (a regular file, not a pipe).
    pub fn rereadable(&self) -> bool {
        self.opened.is_some()
    }

    /// Reads from any byte stream; `path` names it in messages (and its extension is checked
    /// against the compression the bytes show), `size` feeds the progress.
    pub fn from_reader(
        path: &Path,
        input: Box<dyn Read + Send>,
        size: u64,
        options: SourceOptions,
    ) -> Result<Self> {
        let progress = Arc::new(ReadProgress::new(size));
        let received = hashing::Fingerprint::new(input, progress.clone());
        let (compression, text) = compression::open(
            path,
            Box::new(received),
            options.compression,
            progress.clone(),
        )
        .map_err(|problem| Error::File {
            path: path.to_owned(),
            problem,
        })?;
        let file_err = |problem: String| Error::File {
            path: path.to_owned(),
            problem,
        };
        let (utf16, text) = utf16::wrap(text).map_err(|e| file_err(format!("cannot read: {e}")))?;
        if let (Some(found), Some(said)) = (utf16, options.encoding) {
            return Err(file_err(format!(
                "the file is {} (by its byte order mark), but [source] encoding says {}",
                found.name(),
                said.name()
            )));
        }
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(options.delimiter)
            .quoting(options.quoting)
            .buffer_capacity(1 << 20)
            .from_reader(hashing::Positions::new(
                text,
                progress.clone(),
                options.max_header_bytes,
            ));
        Ok(Self {
            path: path.to_owned(),
            reader,
            options,
            progress,
            ordinal: 0,
            compression,
            header_line: None,
            opened: None,
            past_header: false,
        })
    }

    /// Which fields of the record just read were quoted (`"N/A"`, `""`), from its text: as
    /// in PostgreSQL's COPY, a NULL marker matches only an unquoted field, so `""` is an
    /// empty string where an unquoted empty field is NULL. Empty when quoting is off.
    pub fn quoted_fields(&self, position: &RecordPosition) -> Vec<bool> {
        if !self.options.quoting {
            return Vec::new();
        }
        let end = self.reader.position().byte();
        let text = self.reader.get_ref().text(position.byte, end);
        quoted(&text, self.options.delimiter)
    }

    /// The physical line the header was read from (after `skip_rows`).
    pub fn header_line(&self) -> Option<u64> {
        self.header_line
    }

    /// How the file is compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    pub fn progress(&self) -> Arc<ReadProgress> {
        self.progress.clone()
    }

    /// The header record, decoded, after the rows `skip_rows` passes over; `None` for a file
    /// with no records at all, or one read without a header (`has_header` false). Names keep
    /// their own spaces: matching ignores them only after an exact match failed.
    pub fn header(&mut self) -> Result<Option<Vec<String>>> {
        let mut record = ByteRecord::new();
        for _ in 0..self.options.skip_rows {
            if !self.read_raw(&mut record)? {
                break;
            }
        }
        if !self.options.has_header {
            self.past_header = true;
            self.reader
                .get_mut()
                .set_limit(self.options.max_record_bytes);
            return Ok(None);
        }
        let found = self.read_raw(&mut record)?;
        self.past_header = true;
        self.reader
            .get_mut()
            .set_limit(self.options.max_record_bytes);
        if !found {
            return Ok(None);
        }
        self.header_line = Some(self.record_start(&record).0);
        let mut names = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            match decode(field, self.options.encoding) {
                Ok(name) => names.push(name.into_owned()),
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
    /// Lines are counted by [`hashing::Positions`] (CR, LF and CRLF line ends alike; the
    /// parser counts LF only).
    fn record_start(&mut self, record: &ByteRecord) -> (u64, u64) {
        let byte = record.position().map_or(0, |p| p.byte());
        let (start, line) = self.reader.get_mut().record_start(byte);
        (line, start)
    }

    fn read_raw(&mut self, record: &mut ByteRecord) -> Result<bool> {
        let before = self.reader.position().clone();
        let limit = match self.past_header {
            true => self.options.max_record_bytes,
            false => self.options.max_header_bytes,
        };
        match self.reader.read_byte_record(record) {
            // The reader's own cap holds memory to the limit and the read-ahead; this holds
            // each record to the limit exactly.
            Ok(true) if self.reader.position().byte() - before.byte() > limit => {
                Err(self.too_long(&before, limit))
            }
            Ok(true) => Ok(true),
            Ok(false) => {
                self.check_unchanged()?;
                Ok(false)
            }
            Err(e) if hashing::is_too_long(&e) => Err(self.too_long(&before, limit)),
            Err(e) if compression::broken(&e).is_some() => Err(Error::File {
                path: self.path.clone(),
                problem: compression::broken(&e).unwrap_or_default(),
            }),
            Err(e) => Err(Error::File {
                path: self.path.clone(),
                problem: format!("read error: {e}"),
            }),
        }
    }

    /// The record that began at `before` (or the header) spans more than `limit` bytes.
    fn too_long(&mut self, before: &csv::Position, limit: u64) -> Error {
        let (byte, line) = self.reader.get_mut().record_start(before.byte());
        let (what, key) = match self.past_header {
            true => ("record", "max_record_bytes"),
            false => ("header", "max_header_bytes"),
        };
        Error::File {
            path: self.path.clone(),
            problem: format!(
                "{what} at line {} (byte offset {byte}) exceeds {} bytes without ending \
                 (an unclosed quote, or no line ends?); the limit is [source] {key}",
                line,
                crate::format::thousands(limit as i64),
            ),
        }
    }

    /// At the end of a regular file: the bytes read must be the whole file as it was opened,
    /// and the path must still name that file, unchanged. Otherwise what was read is neither
    /// the old file nor the new one.
    fn check_unchanged(&self) -> Result<()> {
        let Some((handle, opened)) = &self.opened else {
            return Ok(());
        };
        let read = self.progress.bytes();
        let now = handle.metadata().map(|m| Identity::of(&m)).ok();
        let named = std::fs::metadata(&self.path)
            .map(|m| Identity::of(&m).inode)
            .ok();
        let mut changes = Vec::new();
        if read != opened.size {
            changes.push(format!(
                "{} bytes read of the {} it had",
                crate::format::thousands(read as i64),
                crate::format::thousands(opened.size as i64)
            ));
        }
        match &now {
            Some(now) if now.size != opened.size => changes.push(format!(
                "its size went from {} to {} bytes",
                crate::format::thousands(opened.size as i64),
                crate::format::thousands(now.size as i64)
            )),
            Some(now) if now.modified != opened.modified => {
                changes.push("it was written to".into())
            }
            Some(_) => {}
            None => changes.push("it can no longer be examined".into()),
        }
        if named != Some(opened.inode) {
            changes.push("the path now names another file".into());
        }
        if changes.is_empty() {
            return Ok(());
        }
        Err(Error::File {
            path: self.path.clone(),
            problem: format!(
                "the file changed while it was read ({}); nothing of it can be promoted, \
                 check it again once it is complete",
                changes.join("; ")
            ),
        })
    }

    pub fn options(&self) -> SourceOptions {
        self.options
    }
}

/// For each field of one CSV record's text, whether it began with a quote.
fn quoted(text: &[u8], delimiter: u8) -> Vec<bool> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let quoted = text.get(i) == Some(&b'"');
        out.push(quoted);
        if quoted {
            i += 1;
            // To the closing quote; a doubled quote is a quote inside the field.
            while i < text.len() {
                if text[i] == b'"' {
                    if text.get(i + 1) == Some(&b'"') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
        }
        while i < text.len() && text[i] != delimiter && text[i] != b'\n' && text[i] != b'\r' {
            i += 1;
        }
        if i < text.len() && text[i] == delimiter {
            i += 1;
            continue;
        }
        return out;
    }
}

fn is_pipe(kind: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_fifo()
}

fn describe_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
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
    fn tells_quoted_fields() {
        assert_eq!(
            quoted(b"a,\"\",,\"x\"\"y\",z\n", b','),
            [false, true, false, true, false]
        );
        assert_eq!(quoted(b"\"a\nb\",\"\"\r\n", b','), [true, true]);
        assert_eq!(quoted(b"", b','), [false]);
        assert_eq!(quoted(b"x;\"\"", b';'), [false, true]);
    }

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
