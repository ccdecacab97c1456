//! Reading the data file: streaming CSV/TSV with the `csv` crate, memory bounded whatever the
//! file size, every record keeping the physical line where it starts. Bytes are decoded here
//! (UTF-8, or a single-byte encoding such as windows-1252); a field that cannot be decoded or
//! holds a NUL byte is reported, never guessed at.
mod compression;
mod delimited;
mod hashing;
mod jsonl;
pub mod parts;
mod utf16;
mod xlsx;

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

pub use compression::{Compression, CompressionOption, sample, text_of};
pub use hashing::ReadProgress;

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

/// A regular file's open handle and what it was, checked once its end is read.
pub(crate) struct Opened {
    handle: File,
    identity: Identity,
}

impl Opened {
    /// At the end of a regular file: the bytes read must be the whole file as it was opened,
    /// and the path must still name that file, unchanged. Otherwise what was read is neither
    /// the old file nor the new one.
    fn check_unchanged(&self, path: &Path, read: u64) -> Result<()> {
        let opened = &self.identity;
        let now = self.handle.metadata().map(|m| Identity::of(&m)).ok();
        let named = std::fs::metadata(path).map(|m| Identity::of(&m).inode).ok();
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
            path: path.to_owned(),
            problem: format!(
                "the file changed while it was read ({}); nothing of it can be promoted, \
                 check it again once it is complete",
                changes.join("; ")
            ),
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

/// Opens a regular file or a pipe (a FIFO, `/dev/stdin` fed by a pipe); a device, a socket
/// or a directory is refused: it has no end, or no records.
fn open_file(path: &Path) -> Result<(File, Option<Opened>)> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        cause: source,
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
        true => Some(Opened {
            handle: file.try_clone().map_err(io)?,
            identity: Identity::of(&meta),
        }),
        false => None,
    };
    Ok((file, opened))
}

/// The records of one part, in the options' format.
fn open_records(
    path: &Path,
    input: Box<dyn Read + Send>,
    opened: Option<Opened>,
    progress: Arc<ReadProgress>,
    options: &SourceOptions,
) -> Result<Box<dyn Records>> {
    Ok(match options.format {
        Format::Csv | Format::Tsv => {
            let text = Text::open(path, input, progress, options)?;
            Box::new(delimited::Delimited::new(
                path,
                text,
                options.clone(),
                opened,
            ))
        }
        Format::Jsonl => {
            let text = Text::open(path, input, progress, options)?;
            Box::new(jsonl::JsonLines::new(path, text, options.clone(), opened)?)
        }
        Format::Xlsx => Box::new(xlsx::Sheet::open(path, input, progress, options, opened)?),
    })
}

/// A streaming reader over one data file, or the parts of one input in order. Every record
/// keeps its physical position; with several parts, lines count on through the parts (see
/// [`parts::PartMap`]).
pub struct SourceReader {
    options: SourceOptions,
    progress: Arc<ReadProgress>,
    /// The parts still to read, and the one being read.
    pending: std::collections::VecDeque<PathBuf>,
    current: OpenPart,
    rereadable: bool,
    /// Lines of the parts before the current one.
    base: u64,
    ordinal: u64,
    header: Option<Vec<String>>,
    json_fields: Vec<bool>,
    /// The parts read to their end, for the batch.
    done: Vec<parts::Part>,
    /// What the parts' first look found: empty parts, parts with a header only.
    part_notes: Vec<String>,
    multi: bool,
    notes: RecordNotes,
    /// The last part has been read to its end.
    ended: bool,
    /// How the first part read to its end was compressed.
    first_compression: Option<Compression>,
}

impl SourceReader {
    /// Opens one file (or pipe).
    pub fn open(path: &Path, options: SourceOptions) -> Result<Self> {
        let input = parts::Input {
            given: path.to_owned(),
            parts: vec![path.to_owned()],
            multi: false,
        };
        Self::open_input(&input, options)
    }

    /// Opens every part of `input`, the first one ready to read.
    pub fn open_input(input: &parts::Input, options: SourceOptions) -> Result<Self> {
        let total = input.size();
        let progress = Arc::new(ReadProgress::new(total));
        let mut pending: std::collections::VecDeque<PathBuf> =
            input.parts.iter().cloned().collect();
        let first = pending.pop_front().ok_or_else(|| Error::File {
            path: input.given.clone(),
            problem: "names no file".into(),
        })?;
        let (current, rereadable) = OpenPart::open(&first, &progress, &options)?;
        Ok(Self::starting(
            options,
            progress,
            pending,
            current,
            rereadable,
            input.multi,
        ))
    }

    fn starting(
        options: SourceOptions,
        progress: Arc<ReadProgress>,
        pending: std::collections::VecDeque<PathBuf>,
        current: OpenPart,
        rereadable: bool,
        multi: bool,
    ) -> Self {
        Self {
            options,
            progress,
            pending,
            current,
            rereadable,
            base: 0,
            ordinal: 0,
            header: None,
            json_fields: Vec::new(),
            done: Vec::new(),
            part_notes: Vec::new(),
            multi,
            notes: RecordNotes::default(),
            ended: false,
            first_compression: None,
        }
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
        let part_progress = Arc::new(ReadProgress::part_of(&progress, size));
        let current = OpenPart {
            records: open_records(path, input, None, part_progress.clone(), &options)?,
            path: path.to_owned(),
            progress: part_progress,
            count: 0,
        };
        Ok(Self::starting(
            options,
            progress,
            Default::default(),
            current,
            false,
            false,
        ))
    }

    /// Whether the input can be read again from the start (regular files, not a pipe).
    pub fn rereadable(&self) -> bool {
        self.rereadable
    }

    /// Which fields of the record just read are literal text (a quoted CSV field: `"N/A"`,
    /// `""`): as in PostgreSQL's COPY, a NULL marker matches only an unquoted field, so
    /// `""` is an empty string where an unquoted empty field is NULL. Read from the
    /// record's text, so asked only when a field holds a marker; empty when none is.
    pub fn literal_fields(&self) -> Vec<bool> {
        self.current.records.literal_fields()
    }

    /// What the format knows of the record just read beyond its fields' text.
    pub fn notes(&self) -> &RecordNotes {
        &self.notes
    }

    /// The record just read as a line, where its fields alone do not show it.
    pub fn raw_text(&self) -> Option<String> {
        self.current.records.raw_text()
    }

    /// The physical line the header was read from (after `skip_rows`).
    pub fn header_line(&self) -> Option<u64> {
        self.current.records.header_line()
    }

    /// How the first part is compressed.
    pub fn compression(&self) -> Compression {
        self.first_compression
            .unwrap_or_else(|| self.current.records.compression())
    }

    pub fn progress(&self) -> Arc<ReadProgress> {
        self.progress.clone()
    }

    pub fn options(&self) -> &SourceOptions {
        &self.options
    }

    /// The header record, decoded, after the rows `skip_rows` passes over; `None` for a file
    /// with no records at all, or one read without a header (`has_header` false). Names keep
    /// their own spaces: matching ignores them only after an exact match failed. With
    /// several parts, each part's header is read first: one that differs from the first
    /// part's is refused, naming it (JSON Lines takes the keys of every part's first
    /// objects); empty parts are noted and passed over.
    pub fn header(&mut self) -> Result<Option<Vec<String>>> {
        let header = match self.multi {
            true => self.survey_parts()?,
            false => None,
        };
        let mut own = self.current.records.header()?;
        // Empty parts first: the header is the first part that has one.
        while own.is_none() && self.options.has_header && !self.pending.is_empty() {
            let next = self.pending.pop_front().unwrap_or_default();
            self.finish_part()?;
            self.open_next(&next)?;
            own = self.current.records.header()?;
        }
        let header = match self.multi {
            true => header,
            false => own,
        };
        if let Some(header) = &header {
            self.current.records.use_header(header, &self.json_fields);
        }
        self.header = header.clone();
        Ok(header)
    }

    /// Reads every part's header and first record before any is loaded: a part whose header
    /// differs from the first part's is refused, naming it (JSON Lines takes the keys of
    /// every part's first objects); empty parts and parts with a header only are noted.
    /// Returns the header of the whole input.
    fn survey_parts(&mut self) -> Result<Option<Vec<String>>> {
        let mut header: Option<(Vec<String>, String)> = None;
        let all = std::iter::once(self.current.path.clone()).chain(self.pending.iter().cloned());
        for path in all.collect::<Vec<_>>() {
            let mut part = SourceReader::open(&path, self.options.clone())?;
            let theirs = part.current.records.header()?;
            let has_rows = part
                .current
                .records
                .next(&mut ByteRecord::new(), &mut RecordNotes::default())?
                .is_some();
            let name = part_name(&path);
            match (theirs, &mut header) {
                (None, _) if self.options.has_header => {
                    self.part_notes
                        .push(format!("part {name} is empty: no header, no rows"));
                    continue;
                }
                (theirs, None) => header = theirs.map(|h| (h, name.clone())),
                (Some(theirs), Some((ours, _))) if self.options.format == Format::Jsonl => {
                    for key in theirs {
                        if !ours.contains(&key) {
                            ours.push(key);
                        }
                    }
                }
                (Some(theirs), Some((ours, first))) if &theirs != ours => {
                    return Err(Error::File {
                        path,
                        problem: format!(
                            "its header differs from the first part's ({first}): {}; \
                             every part of one batch must have the same columns",
                            header_difference(ours, &theirs)
                        ),
                    });
                }
                _ => {}
            }
            if !has_rows {
                self.part_notes.push(format!("part {name} has no rows"));
            }
        }
        Ok(header.map(|(h, _)| h))
    }

    /// Which header fields feed JSON columns (their values go in as JSON text).
    pub fn set_json_fields(&mut self, json: Vec<bool>) {
        self.json_fields = json;
        if let Some(header) = &self.header {
            self.current.records.use_header(header, &self.json_fields);
        }
    }

    /// What the parts' first look found (empty parts, parts with a header only).
    pub fn part_notes(&self) -> &[String] {
        &self.part_notes
    }

    /// Reads the next data record into `record`.
    pub fn next_record(&mut self, record: &mut ByteRecord) -> Result<Option<RecordPosition>> {
        loop {
            self.notes.clear();
            if self.ended {
                return Ok(None);
            }
            if let Some((line, byte)) = self.current.records.next(record, &mut self.notes)? {
                self.ordinal += 1;
                self.current.count += 1;
                return Ok(Some(RecordPosition {
                    line: self.base + line,
                    ordinal: self.ordinal,
                    byte,
                }));
            }
            let Some(next) = self.pending.pop_front() else {
                if !self.ended {
                    self.ended = true;
                    self.finish_part()?;
                }
                return Ok(None);
            };
            self.finish_part()?;
            self.open_next(&next)?;
            let theirs = self.current.records.header()?;
            let changed = match self.options.format {
                // Each part's own keys are those of its first objects; any is read by name.
                Format::Jsonl => false,
                _ => theirs.is_some() && theirs != self.header,
            };
            if changed {
                return Err(Error::File {
                    path: next,
                    problem: "its header changed since the parts were first read".into(),
                });
            }
            if let Some(header) = &self.header {
                self.current.records.use_header(header, &self.json_fields);
            }
        }
    }

    fn open_next(&mut self, path: &Path) -> Result<()> {
        self.current = OpenPart::open(path, &self.progress, &self.options)?.0;
        Ok(())
    }

    /// Records the part just read to its end.
    fn finish_part(&mut self) -> Result<()> {
        let end = self.current.records.end_line();
        let compression = self.current.records.compression();
        self.first_compression.get_or_insert(compression);
        let path = std::path::absolute(&self.current.path).unwrap_or(self.current.path.clone());
        self.done.push(parts::Part {
            name: part_name(&self.current.path),
            path: path.display().to_string(),
            size: self.current.progress.bytes(),
            sha256: self.current.progress.sha256().unwrap_or_default(),
            compression: compression.as_str().into(),
            base: self.base,
            records: self.current.count,
        });
        self.base += end;
        Ok(())
    }

    /// The parts read, for a batch of several (empty for one file read alone).
    pub fn parts(&self) -> Vec<parts::Part> {
        match self.multi {
            true => self.done.clone(),
            false => Vec::new(),
        }
    }

    /// The SHA-256 of the input as received, once read to the end: the file's own; for
    /// several parts, that of their digests, one per line in order (so the same parts give
    /// the same digest, whatever their directory).
    pub fn sha256(&self) -> Option<String> {
        if !self.multi {
            return self.current.progress.sha256();
        }
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        for part in &self.done {
            hasher.update(part.sha256.as_bytes());
            hasher.update(b"\n");
        }
        Some(hex::encode(hasher.finalize()))
    }
}

/// The part being read: its records, path, counters, and how many records it has given.
struct OpenPart {
    records: Box<dyn Records>,
    path: PathBuf,
    progress: Arc<ReadProgress>,
    count: u64,
}

impl OpenPart {
    /// Opens `path`, its bytes counted into `whole`; also whether it can be read again.
    fn open(
        path: &Path,
        whole: &Arc<ReadProgress>,
        options: &SourceOptions,
    ) -> Result<(Self, bool)> {
        let (file, opened) = open_file(path)?;
        let rereadable = opened.is_some();
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let progress = Arc::new(ReadProgress::part_of(whole, size));
        let records = open_records(path, Box::new(file), opened, progress.clone(), options)?;
        Ok((
            Self {
                records,
                path: path.to_owned(),
                progress,
                count: 0,
            },
            rereadable,
        ))
    }
}

/// A part's name as positions show it.
fn part_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The first difference between two headers, said.
fn header_difference(ours: &[String], theirs: &[String]) -> String {
    match ours.iter().zip(theirs).position(|(a, b)| a != b) {
        Some(i) => format!(
            "column {} is `{}` there, `{}` here",
            i + 1,
            crate::format::visible(&ours[i], false),
            crate::format::visible(&theirs[i], false)
        ),
        None => format!("{} columns there, {} here", ours.len(), theirs.len()),
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
