//! JSON Lines: one object per line, its keys the columns. The columns are the keys of the
//! first objects, in the order first seen (a key first met later is a problem of its row,
//! never dropped). Values become text as the file writes them: a number keeps its digits
//! (`12.30` stays `12.30`), a string is its text, `null` or an absent key is NULL; a nested
//! object or array goes only into a json or jsonb column, as JSON. A line that is not a JSON
//! object is quarantined with its line number.
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::hashing::ReadProgress;
use super::{Compression, Opened, RecordNotes, RecordProblem, Records, SourceOptions};
use crate::error::{Error, Result};

/// How many objects (at most) the columns are taken from.
pub const SAMPLE_LINES: usize = 1000;

pub(super) struct JsonLines {
    path: PathBuf,
    reader: BufReader<Box<dyn std::io::Read + Send>>,
    options: SourceOptions,
    progress: Arc<ReadProgress>,
    compression: Compression,
    opened: Option<Opened>,
    /// The lines read for the header, each with its line number and first byte, to be
    /// read again as records.
    sample: VecDeque<(u64, u64, Vec<u8>)>,
    columns: HashMap<String, usize>,
    width: usize,
    json: Vec<bool>,
    /// Lines read so far, and the byte where the next one starts.
    lines: u64,
    byte: u64,
    /// The line read last, and which of its fields were strings.
    last: Vec<u8>,
    literal: Vec<bool>,
    at_end: bool,
}

impl JsonLines {
    pub(super) fn new(
        path: &Path,
        text: super::Text,
        options: SourceOptions,
        opened: Option<Opened>,
    ) -> Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            reader: BufReader::with_capacity(1 << 16, text.text),
            options,
            progress: text.progress,
            compression: text.compression,
            opened,
            sample: VecDeque::new(),
            columns: HashMap::new(),
            width: 0,
            json: Vec::new(),
            lines: 0,
            byte: 0,
            last: Vec::new(),
            literal: Vec::new(),
            at_end: false,
        })
    }

    /// Reads one line into `buf` (without its line end); its line number and first byte.
    /// `None` at the end. A line past `limit` bytes fails the read: memory stays bounded.
    fn read_line(&mut self, buf: &mut Vec<u8>, limit: u64) -> Result<Option<(u64, u64)>> {
        buf.clear();
        if self.at_end {
            return Ok(None);
        }
        let start = self.byte;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) => {
                    return Err(Error::File {
                        path: self.path.clone(),
                        problem: super::compression::broken_io(&e)
                            .unwrap_or_else(|| format!("read error: {e}")),
                    });
                }
            };
            if available.is_empty() {
                self.at_end = true;
                if let Some(opened) = &self.opened {
                    opened.check_unchanged(&self.path, self.progress.bytes())?;
                }
                if buf.is_empty() {
                    return Ok(None);
                }
                break;
            }
            let (taken, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            buf.extend_from_slice(&available[..taken]);
            self.reader.consume(taken);
            self.byte += taken as u64;
            self.progress.add_text(taken as u64);
            if buf.len() as u64 > limit.saturating_add(1) {
                return Err(super::too_long(
                    &self.path,
                    limit == self.options.max_record_bytes,
                    self.lines + 1,
                    start,
                    limit,
                ));
            }
            if ended {
                break;
            }
        }
        self.lines += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if self.lines == 1 && buf.starts_with(b"\xef\xbb\xbf") {
            buf.drain(..3);
        }
        Ok(Some((self.lines, start)))
    }

    fn set_columns(&mut self, header: &[String]) {
        self.columns = header
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        self.width = header.len();
    }
}

impl Records for JsonLines {
    /// The keys of the first objects (up to [`SAMPLE_LINES`], or `max_header_bytes` of
    /// lines), in the order first seen.
    fn header(&mut self) -> Result<Option<Vec<String>>> {
        let mut keys: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut bytes = 0u64;
        let mut objects = 0;
        let mut line = Vec::new();
        while objects < SAMPLE_LINES && bytes < self.options.max_header_bytes {
            let Some((number, byte)) = self.read_line(&mut line, self.options.max_record_bytes)?
            else {
                break;
            };
            bytes += line.len() as u64;
            if !is_blank(&line) {
                objects += 1;
                if let Ok(Entries(entries)) = serde_json::from_slice::<Entries>(&line) {
                    for (key, _) in entries {
                        if seen.insert(key.clone()) {
                            keys.push(key);
                        }
                    }
                }
            }
            self.sample
                .push_back((number, byte, std::mem::take(&mut line)));
        }
        if objects == 0 {
            return Ok(None);
        }
        self.set_columns(&keys);
        Ok(Some(keys))
    }

    fn header_line(&self) -> Option<u64> {
        None
    }

    fn use_header(&mut self, header: &[String], json: &[bool]) {
        self.set_columns(header);
        self.json = json.to_vec();
    }

    fn next(
        &mut self,
        record: &mut ByteRecord,
        notes: &mut RecordNotes,
    ) -> Result<Option<(u64, u64)>> {
        let mut line = std::mem::take(&mut self.last);
        let (number, byte) = loop {
            let read = match self.sample.pop_front() {
                Some((number, byte, text)) => {
                    line = text;
                    Some((number, byte))
                }
                None => self.read_line(&mut line, self.options.max_record_bytes)?,
            };
            match read {
                None => {
                    self.last = line;
                    return Ok(None);
                }
                Some(_) if is_blank(&line) => continue,
                Some(at) => break at,
            }
        };
        record.clear();
        self.literal.clear();
        notes.null.clear();
        notes.null.resize(self.width, true);
        self.literal.resize(self.width, false);
        let mut fields: Vec<Option<String>> = vec![None; self.width];
        let mut seen = vec![false; self.width];
        match serde_json::from_slice::<Entries>(&line) {
            Err(e) => {
                notes.unreadable = true;
                notes.problems.push(RecordProblem {
                    field: None,
                    check: "json",
                    value: None,
                    message: format!("not a JSON object: {}", describe(&e)),
                })
            }
            Ok(Entries(entries)) => {
                let mut unknown = Vec::new();
                for (key, raw) in entries {
                    let Some(&i) = self.columns.get(&key) else {
                        unknown.push(key);
                        continue;
                    };
                    if std::mem::replace(&mut seen[i], true) {
                        notes.problems.push(RecordProblem {
                            field: Some(i),
                            check: "json",
                            value: Some(key.clone()),
                            message: format!("the key `{key}` appears twice in the object"),
                        });
                        continue;
                    }
                    let json = self.json.get(i).copied().unwrap_or(false);
                    let (text, literal) = value_text(raw, json, i, notes);
                    notes.null[i] = text.is_none();
                    self.literal[i] = literal;
                    fields[i] = text;
                }
                if !unknown.is_empty() {
                    let shown: Vec<String> = unknown
                        .iter()
                        .map(|k| format!("`{}`", crate::format::visible(k, false)))
                        .collect();
                    notes.problems.push(RecordProblem {
                        field: None,
                        check: "columns",
                        value: None,
                        message: format!(
                            "key{} {} not among the keys of the file's first objects, which \
                             give the columns; the row is set aside rather than loaded without it",
                            if unknown.len() == 1 { "" } else { "s" },
                            shown.join(", ")
                        ),
                    });
                }
            }
        }
        for field in &fields {
            record.push_field(field.as_deref().unwrap_or("").as_bytes());
        }
        if !notes.null.iter().any(|n| *n) {
            notes.null.clear();
        }
        self.last = line;
        Ok(Some((number, byte)))
    }

    fn literal_fields(&self) -> Vec<bool> {
        self.literal.clone()
    }

    fn raw_text(&self) -> Option<String> {
        Some(super::escape_bytes(&self.last))
    }

    fn end_line(&mut self) -> u64 {
        self.lines + 1
    }

    fn compression(&self) -> Compression {
        self.compression
    }
}

/// One value as text: `None` for `null`. A string is literal text (a NULL marker does not
/// match it); for a JSON column, every value goes in as its JSON.
fn value_text(
    raw: &RawValue,
    json: bool,
    i: usize,
    notes: &mut RecordNotes,
) -> (Option<String>, bool) {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => (None, false),
        _ if json => (Some(text.to_string()), false),
        Some(b'"') => match serde_json::from_str::<String>(text) {
            Ok(s) => (Some(s), true),
            Err(e) => {
                notes.problems.push(RecordProblem {
                    field: Some(i),
                    check: "json",
                    value: Some(crate::validate::clip(text, 60)),
                    message: format!("not a JSON string: {}", describe(&e)),
                });
                (Some(text.to_string()), false)
            }
        },
        Some(b'{' | b'[') => {
            let what = match text.as_bytes()[0] {
                b'{' => "an object",
                _ => "an array",
            };
            notes.problems.push(RecordProblem {
                field: Some(i),
                check: "json",
                value: Some(crate::validate::clip(text, 60)),
                message: format!(
                    "a nested JSON value ({what}) goes only into a json or jsonb column"
                ),
            });
            (Some(text.to_string()), false)
        }
        _ => (Some(text.to_string()), false),
    }
}

/// serde_json's message without its position on the (one-line) input, which is the line.
fn describe(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(i) => format!("{} (at character {})", &message[..i], e.column()),
        None => message,
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

/// An object's entries in the order written, duplicates kept (a map would keep one).
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_entries_in_order_with_duplicates() {
        let Ok(Entries(e)) = serde_json::from_str::<Entries>(r#"{"b": 1.50, "a": "x", "b": null}"#)
        else {
            panic!("parses");
        };
        let shown: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.get())).collect();
        assert_eq!(shown, [("b", "1.50"), ("a", "\"x\""), ("b", "null")]);
        assert!(serde_json::from_str::<Entries>("[1, 2]").is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use crate::source::{Format, SourceOptions, SourceReader};

    fn line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            // Objects, with keys from a few and values of every kind.
            prop::collection::vec(
                (
                    prop::sample::select(vec!["a", "b", "c", "d"]),
                    prop::sample::select(vec![
                        "1",
                        "-2.50",
                        "\"x\"",
                        "null",
                        "true",
                        "{\"n\": [1]}",
                        "[]",
                        "\"\\u00e9\"",
                    ]),
                ),
                0..5,
            )
            .prop_map(|entries| {
                let body: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("\"{k}\": {v}"))
                    .collect();
                format!("{{{}}}", body.join(", ")).into_bytes()
            }),
            // Anything but a line end.
            prop::collection::vec(
                any::<u8>().prop_filter("no line end", |b| *b != b'\n'),
                0..40
            ),
            Just(Vec::new()),
            Just(b"   \t".to_vec()),
        ]
    }

    proptest! {
        /// Any lines: no panic, one record per line that is not blank, each on its own line.
        #[test]
        fn every_line_is_a_record_on_its_line(lines in prop::collection::vec(line(), 0..30)) {
            let text = lines.join(&b'\n');
            let options = SourceOptions {
                format: Format::Jsonl,
                compression: crate::source::CompressionOption::Exactly(
                    crate::source::Compression::None,
                ),
                ..SourceOptions::default()
            };
            let input = Box::new(std::io::Cursor::new(text.clone()));
            let Ok(mut reader) = SourceReader::from_reader(
                std::path::Path::new("p.jsonl"),
                input,
                text.len() as u64,
                options,
            ) else {
                // Only a UTF-16 byte order mark at the start can refuse the file.
                prop_assert!(text.starts_with(&[0xff, 0xfe]) || text.starts_with(&[0xfe, 0xff]));
                return Ok(());
            };
            let header = reader.header();
            prop_assert!(header.is_ok(), "{header:?}");
            let mut record = csv::ByteRecord::new();
            let mut lines_read = Vec::new();
            while let Some(position) = reader.next_record(&mut record).ok().flatten() {
                lines_read.push(position.line);
            }
            let expected: Vec<u64> = lines
                .iter()
                .enumerate()
                .filter(|(i, l)| {
                    let l: &[u8] = match (*i, l.strip_prefix(b"\xef\xbb\xbf")) {
                        (0, Some(rest)) => rest,
                        _ => l,
                    };
                    !l.iter().all(|b| b.is_ascii_whitespace())
                })
                .map(|(i, _)| i as u64 + 1)
                .collect();
            prop_assert_eq!(lines_read, expected);
        }
    }
}
