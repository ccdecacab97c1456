//! The reader over an input: one file, or the parts of one feed in order, each in its
//! format; the parts' headers compared before any load, lines counted on through the parts.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

use super::opened::{Opened, open_file};
use super::{
    Compression, Format, ReadProgress, RecordNotes, RecordPosition, Records, SourceOptions, Text,
    delimited, jsonl, parts, xlsx,
};
use crate::error::{Error, Result};

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
