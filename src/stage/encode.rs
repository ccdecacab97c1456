//! The producer side of the load: reads every record, runs the row checks and encodes the
//! staging rows as COPY text. When every value can be decided here (see [`Fast`]), it also
//! resolves lookups, notes duplicate-key candidates and writes the good rows, already in the
//! target's shape, for the typed rows table; a row without issues then goes there only, with
//! its source fields, and staging receives the rest (see `StageNames`).
use std::borrow::Cow;
use std::io::{Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use csv::ByteRecord;

use super::LoadStats;
use crate::error::{Error, Result};
use crate::source::{self, FieldProblem, SourceReader};
use crate::validate::Severity;
use crate::validate::binding::{Binding, BoundColumn};
use crate::validate::keys::KeyTracker;
use crate::validate::lookup::{LookupMap, Resolved};
use crate::validate::parse::Parsed;
use crate::validate::row::{self, FieldValue, RowIssue};

/// Text-format COPY encoding: tab-separated, `\N` for NULL, backslash escapes.
pub(super) struct CopyEncoder {
    pub(super) buf: BytesMut,
    first: bool,
}

impl Default for CopyEncoder {
    fn default() -> Self {
        Self {
            buf: BytesMut::with_capacity(ROOM),
            first: true,
        }
    }
}

impl CopyEncoder {
    fn field(&mut self, value: Option<&str>) {
        if !self.first {
            self.buf.put_u8(b'\t');
        }
        self.first = false;
        let Some(value) = value else {
            self.buf.put_slice(b"\\N");
            return;
        };
        let bytes = value.as_bytes();
        if !bytes
            .iter()
            .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
        {
            self.buf.put_slice(bytes);
            return;
        }
        for &b in bytes {
            match b {
                b'\\' => self.buf.put_slice(b"\\\\"),
                b'\t' => self.buf.put_slice(b"\\t"),
                b'\n' => self.buf.put_slice(b"\\n"),
                b'\r' => self.buf.put_slice(b"\\r"),
                _ => self.buf.put_u8(b),
            }
        }
    }

    fn int(&mut self, n: u64) {
        self.field(Some(itoa::Buffer::new().format(n)));
    }

    /// The encoded rows so far, handed on whole; the buffer starts again with room for a
    /// full chunk, so it is not grown (and copied) step by step.
    fn take_chunk(&mut self) -> Bytes {
        let chunk = self.buf.split().freeze();
        self.buf.reserve(ROOM);
        chunk
    }

    fn end_row(&mut self) {
        self.buf.put_u8(b'\n');
        self.first = true;
    }
}

/// How much COPY text is handed on at a time: 256 KB. Four chunks wait in each channel, so
/// this sets most of the load's memory: 1 MB chunks made a 5M-row check 3–5% faster but
/// kept 5–6 MB more resident.
pub(super) const CHUNK: usize = 1 << 18;
/// An encoder's buffer: a chunk, and room for the row that fills it.
const ROOM: usize = CHUNK + CHUNK / 16;

/// What the reading side of a load needs: the open file, how its fields map to the target,
/// which field values mean NULL, whether the typed rows are written while reading, and the
/// flag that stops it.
pub struct Reading {
    pub reader: SourceReader,
    pub binding: Arc<Binding>,
    pub nulls: Vec<String>,
    pub fast: Option<Fast>,
    pub cancel: Arc<AtomicBool>,
}

/// The typed rows written while reading. Possible when no column needs the server to judge
/// its values by type and every lookup table fits in memory.
pub struct Fast {
    /// One per bound column: the lookup table of a lookup column.
    pub lookups: Vec<Option<Arc<LookupMap>>>,
    pub keys: Option<KeyTracker>,
}

/// COPY text written to a temporary file, so memory stays flat however large the file.
pub(super) struct Spill {
    file: std::fs::File,
    enc: CopyEncoder,
}

fn spill_err(source: std::io::Error) -> Error {
    Error::Io {
        path: std::env::temp_dir(),
        cause: source,
    }
}

impl Spill {
    pub(super) fn new() -> Result<Self> {
        Ok(Self {
            file: tempfile::tempfile().map_err(spill_err)?,
            enc: CopyEncoder::default(),
        })
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.enc.buf.len() >= CHUNK {
            self.file.write_all(&self.enc.buf).map_err(spill_err)?;
            self.enc.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<std::fs::File> {
        self.file.write_all(&self.enc.buf).map_err(spill_err)?;
        self.file.flush().map_err(spill_err)?;
        self.file
            .seek(std::io::SeekFrom::Start(0))
            .map_err(spill_err)?;
        Ok(self.file)
    }
}

/// Where the typed rows go: straight to a second connection's COPY, or to a spill file that
/// is copied after staging.
pub(super) enum TypedOut {
    Stream {
        tx: tokio::sync::mpsc::Sender<Bytes>,
        enc: CopyEncoder,
    },
    Spill(Spill),
}

impl TypedOut {
    fn enc(&mut self) -> &mut CopyEncoder {
        match self {
            TypedOut::Stream { enc, .. } => enc,
            TypedOut::Spill(spill) => &mut spill.enc,
        }
    }

    /// Hands on a full buffer. `false` when the COPY on the other end has stopped (it failed;
    /// the load side reports why), after which typed rows are no longer written.
    fn flush_if_full(&mut self) -> Result<bool> {
        match self {
            TypedOut::Stream { tx, enc } if enc.buf.len() >= CHUNK => {
                Ok(tx.blocking_send(enc.take_chunk()).is_ok())
            }
            TypedOut::Stream { .. } => Ok(true),
            TypedOut::Spill(spill) => spill.flush_if_full().map(|()| true),
        }
    }

    /// Ends the output: the rest of the buffer, then an empty chunk that tells the COPY the
    /// reader got to the end (a channel closed without it means the load failed).
    fn finish(self) -> Result<Option<std::fs::File>> {
        match self {
            TypedOut::Stream { tx, mut enc } => {
                if !enc.buf.is_empty() {
                    let _ = tx.blocking_send(enc.buf.split().freeze());
                }
                let _ = tx.blocking_send(Bytes::new());
                Ok(None)
            }
            TypedOut::Spill(spill) => spill.finish().map(Some),
        }
    }
}

/// Reads every record, runs the row checks and encodes the staging rows; runs on a blocking
/// thread and hands full buffers to the COPY.
pub(super) fn encode_records(
    reading: Reading,
    mut typed_out: Option<TypedOut>,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<LoadStats> {
    let Reading {
        mut reader,
        binding,
        nulls,
        fast,
        cancel,
    } = reading;
    let encoding = reader.options().encoding;
    let progress = reader.progress();
    let width = binding.header.len();
    let direct: Vec<Option<&BoundColumn>> = (0..width).map(|i| binding.fed_directly(i)).collect();
    // The columns with parsing rules, and their source fields.
    let parsing: Vec<(&BoundColumn, usize)> = binding
        .columns
        .iter()
        .filter(|c| c.parse.is_some())
        .map(|c| (c, c.source_index))
        .collect();
    let parsed_sources = binding.parsed_sources();
    let mut conversions = Conversions::default();
    let mut profiler = crate::profile::Profiler::new(width);
    let mut record = ByteRecord::new();
    let mut enc = CopyEncoder::default();
    let mut issues: Vec<RowIssue> = Vec::new();
    let mut records = 0u64;
    let mut pending = std::collections::BTreeSet::new();
    let mut issue_spill = Spill::new()?;
    // The per-row vectors keep their allocations from row to row (see `reuse`).
    let mut spare_decoded: Vec<Option<std::result::Result<Cow<'static, str>, FieldProblem>>> =
        Vec::new();
    let mut spare_fields: Vec<FieldValue<'static>> = Vec::new();
    let mut spare_resolved: Vec<Option<Cow<'static, str>>> = Vec::new();
    let (lookups, mut keys) = match fast {
        Some(f) => (Some(f.lookups), f.keys),
        None => (None, None),
    };
    while let Some(pos) = reader.next_record(&mut record)? {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled {
                what: "loading the file".into(),
            });
        }
        records += 1;
        progress.add_record();
        issues.clear();
        if record.len() != width {
            issues.push(RowIssue::new(
                None,
                "columns",
                Severity::Error,
                None,
                format!(
                    "the row has {} field{}, the header has {width}",
                    record.len(),
                    if record.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        let mut decoded = reuse(std::mem::take(&mut spare_decoded));
        decoded.extend((0..width).map(|i| record.get(i).map(|b| source::decode(b, encoding))));
        let mut broken = false;
        let mut fields = reuse(std::mem::take(&mut spare_fields));
        // A NULL marker matches only an unquoted field, as in COPY: which fields were quoted
        // is read from the record's text only when one holds a marker.
        let is_marker = |f: &Option<std::result::Result<Cow<'_, str>, FieldProblem>>| matches!(f, Some(Ok(text)) if nulls.iter().any(|n| n == text));
        let quoted = if decoded.iter().any(is_marker) {
            reader.literal_fields()
        } else {
            Vec::new()
        };
        // What the format knows beyond the text: NULLs (JSON null, an empty cell), a line
        // that is not JSON, an error cell.
        let notes = reader.notes();
        for problem in &notes.problems {
            let column = problem
                .field
                .and_then(|i| binding.header.get(i))
                .map(String::as_str);
            issues.push(RowIssue::new(
                column,
                problem.check,
                Severity::Error,
                problem.value.as_deref(),
                problem.message.clone(),
            ));
        }
        broken |= notes.unreadable;
        for (i, field) in decoded.iter().enumerate() {
            let was_quoted = quoted.get(i).copied().unwrap_or(false);
            fields.push(match field {
                // The reader's problem with the field is its issue; no check reads it.
                _ if notes.unreadable || notes.problems.iter().any(|p| p.field == Some(i)) => {
                    FieldValue::Unusable
                }
                None => FieldValue::Unusable,
                Some(_) if notes.null.get(i).copied().unwrap_or(false) => FieldValue::Null,
                Some(Ok(text)) if !was_quoted && nulls.iter().any(|n| n == text) => {
                    FieldValue::Null
                }
                Some(Ok(text)) => FieldValue::Text(text),
                Some(Err(problem)) => {
                    broken = true;
                    let column = binding.header.get(i).map(String::as_str);
                    let bytes = record.get(i).unwrap_or_default();
                    issues.push(RowIssue::new(
                        column,
                        problem.check(),
                        Severity::Error,
                        Some(&source::escape_bytes(bytes)),
                        problem.describe(pos.byte),
                    ));
                    FieldValue::Unusable
                }
            });
        }
        profiler.add(fields.iter().map(|f| match f {
            FieldValue::Text(t) => Some(*t),
            _ => None,
        }));
        // What the columns' parsing rules make of their fields; the checks, lookups, keys
        // and typed rows see that, staging keeps the fields as the file has them.
        let parsed: Vec<(usize, Parsed<'_>)> = parse_fields(&parsing, &fields);
        let values: Cow<'_, [FieldValue<'_>]> = if parsed.is_empty() {
            Cow::Borrowed(&fields[..])
        } else {
            let mut values = fields.clone();
            for ((col, index), (_, p)) in parsing.iter().zip(&parsed) {
                values[*index] = match p {
                    Parsed::Value(v) => {
                        if let FieldValue::Text(before) = fields[*index]
                            && before != v.as_ref()
                        {
                            conversions.note(col, before, v);
                        }
                        FieldValue::Text(v)
                    }
                    Parsed::Null => {
                        // A value the column's own NULL markers turned into NULL.
                        if let FieldValue::Text(before) = fields[*index] {
                            conversions.note(col, before, "NULL");
                        }
                        FieldValue::Null
                    }
                    Parsed::Unfit(message) => {
                        let before = match fields[*index] {
                            FieldValue::Text(t) => Some(t),
                            _ => None,
                        };
                        issues.push(RowIssue::new(
                            Some(&col.target),
                            "format",
                            Severity::Error,
                            before,
                            message.clone(),
                        ));
                        FieldValue::Unusable
                    }
                };
            }
            Cow::Owned(values)
        };
        row::check_row(&binding, &values, &mut issues);
        let mut resolved = reuse(std::mem::take(&mut spare_resolved));
        if let Some(lookups) = &lookups {
            resolve_lookups(&binding, lookups, &values, &mut resolved, &mut issues);
        }
        let mut undecided = false;
        for issue in issues.iter().filter(|i| i.k == row::PENDING) {
            undecided = true;
            if let Some(c) = &issue.c
                && !pending.contains(c)
            {
                pending.insert(c.clone());
            }
        }
        let good = !issues.iter().any(|i| i.s == Severity::Error.as_str());
        if let (Some(keys), true) = (keys.as_mut(), good) {
            keys.add_key(pos.ordinal, |i| match values.get(i) {
                Some(FieldValue::Text(t)) => t,
                _ => "",
            })?;
        }
        // A row without issues keeps its source fields beside its typed values; any other
        // row is staged (see `StageNames`).
        let source_here = issues.is_empty() && typed_out.is_some();
        // Rows with values only the server can judge go through SQL after the load.
        if let (Some(typed), true) = (typed_out.as_mut(), good && !undecided) {
            let enc = typed.enc();
            enc.int(pos.line);
            enc.int(pos.ordinal);
            for value in &resolved {
                enc.field(value.as_deref());
            }
            if source_here {
                enc.int(pos.byte);
                write_kept_fields(enc, &direct, &fields);
            } else {
                for _ in 0..=width {
                    enc.field(None);
                }
            }
            enc.end_row();
            if !typed.flush_if_full()? {
                typed_out = None;
            }
        }

        for issue in &issues {
            let e = &mut issue_spill.enc;
            e.int(pos.line);
            e.int(pos.ordinal);
            e.field(issue.c.as_deref());
            e.field(Some(issue.k));
            e.field(Some(issue.s));
            e.field(issue.v.as_deref());
            e.field(Some(&issue.m));
            e.end_row();
        }
        issue_spill.flush_if_full()?;
        if !source_here {
            let undecodable: Vec<bool> =
                decoded.iter().map(|d| matches!(d, Some(Err(_)))).collect();
            stage_row(
                &mut enc,
                &record,
                &pos,
                broken,
                (&fields, &undecodable),
                &reader,
            );
            // The staging row's parsed columns, after its fields (see `create_tables`).
            write_parsed(&mut enc, &parsed_sources, &values);
            enc.end_row();
        }
        spare_resolved = reuse(resolved);
        drop(values);
        drop(parsed);
        spare_fields = reuse(fields);
        spare_decoded = reuse(decoded);
        if enc.buf.len() >= CHUNK && tx.blocking_send(enc.take_chunk()).is_err() {
            break;
        }
    }
    if !enc.buf.is_empty() {
        let _ = tx.blocking_send(enc.buf.split().freeze());
    }
    let candidates = match keys {
        Some(keys) => keys.into_candidates()?,
        None => None,
    };
    Ok(LoadStats {
        conversions: conversions.0,
        profile: profiler.finish(&binding.header),
        records,
        bytes: progress.bytes(),
        text_bytes: progress.text_bytes(),
        sha256: reader.sha256().unwrap_or_default(),
        compression: reader.compression(),
        parts: reader.parts(),
        pending,
        issues: Some(issue_spill.finish()?),
        typed: match typed_out {
            Some(out) => out.finish()?,
            None => None,
        },
        candidates,
    })
}

/// An emptied vector with the same allocation, for values that borrow from another row: the
/// per-row vectors borrow the current record, so each row takes the previous row's vectors
/// back empty instead of allocating. (Collecting an empty `into_iter` in place keeps the
/// allocation; the element types have the same layout.)
fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// Stages a row that does not go to the typed rows only: its position, the raw record when
/// its fields cannot be told apart, and its fields as text. The caller ends the row, after
/// the parsed columns.
/// A field the encoding could not decode is staged as its bytes, escaped (`Caf\xE9`), so the
/// review shows what the file holds rather than an empty value.
fn stage_row(
    enc: &mut CopyEncoder,
    record: &ByteRecord,
    pos: &source::RecordPosition,
    broken: bool,
    (fields, undecodable): (&[FieldValue<'_>], &[bool]),
    reader: &SourceReader,
) {
    enc.int(pos.line);
    enc.int(pos.ordinal);
    enc.int(pos.byte);
    if broken || record.len() != fields.len() {
        let raw = reader
            .raw_text()
            .unwrap_or_else(|| raw_record(record, reader.options().delimiter));
        enc.field(Some(&raw));
    } else {
        enc.field(None);
    }
    for (i, f) in fields.iter().enumerate() {
        match (f, record.get(i)) {
            (FieldValue::Unusable, Some(bytes)) if undecodable.get(i) == Some(&true) => {
                enc.field(Some(&source::escape_bytes(bytes)));
            }
            (FieldValue::Text(t), _) => enc.field(Some(t)),
            (FieldValue::Null | FieldValue::Unusable, _) => enc.field(None),
        }
    }
}

/// Each parsing rule's result for its field; empty when no column has rules.
fn parse_fields<'a>(
    parsing: &[(&BoundColumn, usize)],
    fields: &[FieldValue<'a>],
) -> Vec<(usize, Parsed<'a>)> {
    parsing
        .iter()
        .map(|(col, index)| {
            let p = match (fields.get(*index), &col.parse) {
                (Some(FieldValue::Text(t)), Some(rules)) => rules.apply(t),
                (Some(FieldValue::Null), _) => Parsed::Null,
                _ => Parsed::Unfit(String::new()),
            };
            (*index, p)
        })
        .map(|(i, p)| match p {
            // A missing or undecodable field was reported already.
            Parsed::Unfit(m) if m.is_empty() => (i, Parsed::Null),
            p => (i, p),
        })
        .collect()
}

/// The staging row's parsed columns: for each source field some rules read, the value
/// they made (NULL when it did not fit). Nothing when no column has rules.
fn write_parsed(enc: &mut CopyEncoder, sources: &[usize], values: &[FieldValue<'_>]) {
    for index in sources {
        match values.get(*index) {
            Some(FieldValue::Text(t)) => enc.field(Some(t)),
            _ => enc.field(None),
        }
    }
}

/// How many values each column's parsing rules changed, with the first as an example.
#[derive(Default)]
struct Conversions(Vec<super::Conversion>);

impl Conversions {
    fn note(&mut self, col: &BoundColumn, before: &str, after: &str) {
        match self.0.iter_mut().find(|c| c.column == col.target) {
            Some(c) => c.rows += 1,
            None => self.0.push(super::Conversion {
                column: col.target.clone(),
                rules: col.parse.as_ref().map(|p| p.describe()).unwrap_or_default(),
                rows: 1,
                from: crate::validate::clip(before, 60),
                to: crate::validate::clip(after, 60),
            }),
        }
    }
}

/// A good row's source fields beside its typed values. A field its typed value prints back
/// exactly is left NULL: the records view reads it from the typed value (`stage::kept_field`).
fn write_kept_fields(
    enc: &mut CopyEncoder,
    direct: &[Option<&BoundColumn>],
    fields: &[FieldValue<'_>],
) {
    for (f, column) in fields.iter().zip(direct) {
        match f {
            FieldValue::Text(t) if !column.is_some_and(|c| c.prints_as_given(t)) => {
                enc.field(Some(t))
            }
            _ => enc.field(None),
        }
    }
}

/// Each bound column's value for the typed rows: the field, or the lookup's value for it.
/// A lookup that finds no row, or several, is an error of the row.
fn resolve_lookups<'a>(
    binding: &Binding,
    lookups: &'a [Option<Arc<LookupMap>>],
    fields: &[FieldValue<'a>],
    resolved: &mut Vec<Option<Cow<'a, str>>>,
    issues: &mut Vec<RowIssue>,
) {
    for (col, lookup) in binding.columns.iter().zip(lookups) {
        let value = match fields.get(col.source_index) {
            Some(FieldValue::Text(t)) => Some(*t),
            _ => None,
        };
        let value = match (value, lookup) {
            (Some(v), Some(map)) => match map.resolve(v) {
                Resolved::Value(found, note) => {
                    if let Some((check, message)) = note {
                        issues.push(RowIssue::new(
                            Some(&col.target),
                            check,
                            Severity::Warning,
                            Some(v),
                            message.to_string(),
                        ));
                    }
                    found.map(Cow::Borrowed)
                }
                Resolved::Refused(message) => {
                    issues.push(RowIssue::new(
                        Some(&col.target),
                        "lookup",
                        lookup_severity(col),
                        Some(v),
                        message,
                    ));
                    None
                }
            },
            (v, _) => v.map(Cow::Borrowed),
        };
        resolved.push(sent(col, value));
    }
}

/// The text a target column's value is sent as. PostgreSQL reads the file's text itself;
/// ClickHouse is sent the form its rules give (`crate::clickhouse::types`), which it stores
/// exactly as the value was meant.
fn sent<'a>(col: &BoundColumn, value: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    use crate::clickhouse::types::{Judged, judge};
    match (&col.value_rule, value) {
        (crate::validate::types::TypeRule::ClickHouse(ty), Some(v)) => match judge(ty, &v) {
            Judged::Value(c) | Judged::Changed(c, _) if c != v => Some(Cow::Owned(c)),
            _ => Some(v),
        },
        (_, v) => v,
    }
}

/// How a value a column's lookup does not find counts (`Lookup::severity`).
pub fn lookup_severity(col: &BoundColumn) -> Severity {
    match col.lookup.as_ref().map(|l| l.severity) {
        Some(crate::feed::CheckSeverity::Warn) => Severity::Warning,
        _ => Severity::Error,
    }
}

/// A record as text for the `_raw` column: fields re-joined with the delimiter, bytes that are
/// not UTF-8 shown as `\xNN`.
fn raw_record(record: &ByteRecord, delimiter: u8) -> String {
    let mut out = Vec::new();
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut out);
        let _ = writer.write_byte_record(record);
        let _ = writer.flush();
    }
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    source::escape_bytes(&out)
}

#[cfg(test)]
mod tests {
    use super::{CHUNK, CopyEncoder, reuse};
    use std::borrow::Cow;

    fn encoded(values: &[Option<&str>]) -> String {
        let mut enc = CopyEncoder::default();
        for v in values {
            enc.field(*v);
        }
        enc.end_row();
        String::from_utf8(enc.buf.to_vec()).expect("utf-8")
    }

    #[test]
    fn copy_text_escapes() {
        assert_eq!(encoded(&[Some("plain"), None, Some("")]), "plain\t\\N\t\n");
        assert_eq!(
            encoded(&[Some("a\\b\tc\nd\re"), Some("\r\n\\"), Some("é\t")]),
            "a\\\\b\\tc\\nd\\re\t\\r\\n\\\\\té\\t\n"
        );
    }

    #[test]
    fn a_reused_vector_keeps_its_allocation() {
        let text = String::from("borrowed");
        let mut v: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(16);
        v.push(Some(Cow::Borrowed(&text)));
        let (ptr, cap) = (v.as_ptr() as usize, v.capacity());
        let spare: Vec<Option<Cow<'static, str>>> = reuse(v);
        assert!(spare.is_empty());
        assert_eq!((spare.as_ptr() as usize, spare.capacity()), (ptr, cap));
    }

    #[test]
    fn a_chunk_leaves_room_for_the_next() {
        let mut enc = CopyEncoder::default();
        let row = "x".repeat(1000);
        while enc.buf.len() < CHUNK {
            enc.field(Some(&row));
            enc.end_row();
        }
        let chunk = enc.take_chunk();
        assert!(chunk.len() >= CHUNK);
        assert!(enc.buf.is_empty());
        assert!(enc.buf.capacity() >= CHUNK);
    }
}
