//! CSV and TSV: the `csv` crate's parser over the file's text, each record's physical line
//! and first byte found by [`hashing::Positions`], memory held to the record cap.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

use super::hashing::{self, ReadProgress};
use super::{Compression, Opened, RecordNotes, Records, SourceOptions, compression, decode};
use crate::error::{Error, Result};

pub(super) struct Delimited {
    path: PathBuf,
    reader: csv::Reader<hashing::Positions<Box<dyn std::io::Read + Send>>>,
    options: SourceOptions,
    progress: Arc<ReadProgress>,
    compression: Compression,
    header_line: Option<u64>,
    opened: Option<Opened>,
    past_header: bool,
    /// The first byte of the record read last.
    last_start: u64,
}

impl Delimited {
    pub(super) fn new(
        path: &Path,
        text: super::Text,
        options: SourceOptions,
        opened: Option<Opened>,
    ) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(options.delimiter)
            .quoting(options.quoting)
            .buffer_capacity(1 << 20)
            .from_reader(hashing::Positions::new(
                text.text,
                text.progress.clone(),
                options.max_header_bytes,
            ));
        Self {
            path: path.to_owned(),
            reader,
            options,
            progress: text.progress,
            compression: text.compression,
            header_line: None,
            opened,
            past_header: false,
            last_start: 0,
        }
    }

    /// The physical line and byte where `record` starts. The parser's own position is where
    /// its read began, before any terminators and blank lines it skipped; step over those.
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
                if let Some(opened) = &self.opened {
                    opened.check_unchanged(&self.path, self.progress.bytes())?;
                }
                Ok(false)
            }
            Err(e) if hashing::is_too_long(&e) => Err(self.too_long(&before, limit)),
            Err(e) => Err(Error::File {
                path: self.path.clone(),
                problem: compression::broken(&e).unwrap_or_else(|| format!("read error: {e}")),
            }),
        }
    }

    /// The record that began at `before` (or the header) spans more than `limit` bytes.
    fn too_long(&mut self, before: &csv::Position, limit: u64) -> Error {
        let (byte, line) = self.reader.get_mut().record_start(before.byte());
        super::too_long(&self.path, self.past_header, line, byte, limit)
    }

    fn pass_header(&mut self) {
        self.past_header = true;
        self.reader
            .get_mut()
            .set_limit(self.options.max_record_bytes);
    }
}

impl Records for Delimited {
    fn header(&mut self) -> Result<Option<Vec<String>>> {
        let mut record = ByteRecord::new();
        for _ in 0..self.options.skip_rows {
            if !self.read_raw(&mut record)? {
                break;
            }
        }
        if !self.options.has_header {
            self.pass_header();
            return Ok(None);
        }
        let found = self.read_raw(&mut record)?;
        self.pass_header();
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

    fn header_line(&self) -> Option<u64> {
        self.header_line
    }

    fn next(
        &mut self,
        record: &mut ByteRecord,
        _notes: &mut RecordNotes,
    ) -> Result<Option<(u64, u64)>> {
        if !self.read_raw(record)? {
            return Ok(None);
        }
        let (line, byte) = self.record_start(record);
        self.last_start = byte;
        Ok(Some((line, byte)))
    }

    fn literal_fields(&self) -> Vec<bool> {
        if !self.options.quoting {
            return Vec::new();
        }
        let end = self.reader.position().byte();
        let text = self.reader.get_ref().text(self.last_start, end);
        quoted(&text, self.options.delimiter)
    }

    fn end_line(&mut self) -> u64 {
        let end = self.progress.text_bytes();
        self.reader.get_mut().record_start(end).1
    }

    fn compression(&self) -> Compression {
        self.compression
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

#[cfg(test)]
mod tests {
    use super::quoted;

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
}
