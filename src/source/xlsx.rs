//! An Excel workbook's sheet (calamine), read cell by cell on a thread of its own and handed
//! over a row at a time, so memory holds a few rows whatever the sheet's size. Positions are
//! the sheet's row numbers. Cells arrive as Excel typed them: a date as an ISO date (not a
//! serial), a number as its shortest decimal at Excel's 15 digits (not `12.299999999999999`),
//! a formula as its cached value, an error cell (`#N/A`) as a problem of its row.
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use calamine::{DataRef, Reader, Xlsx};
use csv::ByteRecord;

use super::hashing::{Fingerprint, ReadProgress};
use super::{Compression, Opened, RecordNotes, RecordProblem, Records, SourceOptions};
use crate::error::{Error, Result};

/// Rows handed from the reading thread at a time.
const ROWS_PER_HANDOVER: usize = 256;
/// A workbook read from a pipe is held in memory, up to this.
const MAX_PIPED: u64 = 256 << 20;
/// calamine holds the shared strings in memory: a workbook declaring more is refused.
const MAX_SHARED_STRINGS: u64 = 512 << 20;

/// One cell's value as the load sees it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Empty,
    /// An error value (`#DIV/0!`, `#N/A`).
    Error(String),
}

/// A row of the sheet: its 0-based index and its cells by 0-based column.
struct Row {
    index: u32,
    cells: Vec<(u32, Cell)>,
}

pub(super) struct Sheet {
    path: PathBuf,
    rows: Receiver<std::result::Result<Handover, String>>,
    /// Rows received and not yet read.
    ready: std::collections::VecDeque<Row>,
    options: SourceOptions,
    progress: Arc<ReadProgress>,
    opened: Option<Opened>,
    header_line: Option<u64>,
    /// The header's first column and width: fields are the cells from there.
    first_column: u32,
    width: Option<usize>,
    last_line: u64,
    at_end: bool,
}

impl Sheet {
    pub(super) fn open(
        path: &Path,
        input: Box<dyn Read + Send>,
        progress: Arc<ReadProgress>,
        options: &SourceOptions,
        opened: Option<Opened>,
    ) -> Result<Self> {
        let file_err = |problem: String| Error::File {
            path: path.to_owned(),
            problem,
        };
        // The bytes as received are hashed and counted first; calamine then reads the
        // workbook by seeking.
        let mut received = Fingerprint::new(input, progress.clone());
        let workbook: Workbook = match opened {
            Some(_) => {
                std::io::copy(&mut received, &mut std::io::sink())
                    .map_err(|e| file_err(format!("cannot read: {e}")))?;
                Workbook::File(path.to_owned())
            }
            None => {
                let mut bytes = Vec::new();
                (&mut received)
                    .take(MAX_PIPED + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| file_err(format!("cannot read: {e}")))?;
                if bytes.len() as u64 > MAX_PIPED {
                    return Err(file_err(format!(
                        "a workbook read from a pipe is held in memory, and this one is over {}; \
                         save it to a file first",
                        crate::format::thousands(MAX_PIPED as i64)
                    )));
                }
                Workbook::Bytes(bytes)
            }
        };
        workbook.guard().map_err(file_err)?;
        // Rows travel in batches: one handover per row costs more than reading it.
        let (tx, rows) = std::sync::mpsc::sync_channel(8);
        let sheet = options.sheet.clone();
        let limit = options.max_record_bytes;
        std::thread::Builder::new()
            .name("airlock-xlsx".into())
            .spawn(move || {
                let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    workbook.read(sheet.as_deref(), limit, &tx)
                }));
                let failed = match panicked {
                    Ok(Ok(())) => return,
                    Ok(Err(message)) => message,
                    Err(_) => "the workbook is malformed (its reader failed)".to_string(),
                };
                let _ = tx.send(Err(failed));
            })
            .map_err(|e| file_err(format!("cannot start reading the workbook: {e}")))?;
        Ok(Self {
            path: path.to_owned(),
            rows,
            ready: Default::default(),
            options: options.clone(),
            progress,
            opened,
            header_line: None,
            first_column: 0,
            width: None,
            last_line: 0,
            at_end: false,
        })
    }

    fn next_row(&mut self) -> Result<Option<Row>> {
        if self.at_end {
            return Ok(None);
        }
        if let Some(row) = self.ready.pop_front() {
            self.last_line = u64::from(row.index) + 1;
            return Ok(Some(row));
        }
        match self.rows.recv() {
            Ok(Ok(handover)) => {
                handover.rows_into(&mut self.ready);
                self.next_row()
            }
            Ok(Err(problem)) => Err(Error::File {
                path: self.path.clone(),
                problem,
            }),
            Err(_) => {
                self.at_end = true;
                if let Some(opened) = &self.opened {
                    opened.check_unchanged(&self.path, self.progress.bytes())?;
                }
                Ok(None)
            }
        }
    }
}

impl Records for Sheet {
    fn header(&mut self) -> Result<Option<Vec<String>>> {
        for _ in 0..self.options.skip_rows {
            if self.next_row()?.is_none() {
                break;
            }
        }
        if !self.options.has_header {
            return Ok(None);
        }
        let Some(row) = self.next_row()? else {
            return Ok(None);
        };
        self.header_line = Some(u64::from(row.index) + 1);
        let first = row.cells.first().map_or(0, |(c, _)| *c);
        let last = row.cells.last().map_or(0, |(c, _)| *c);
        let mut names = vec![String::new(); (last - first + 1) as usize];
        for (column, cell) in row.cells {
            names[(column - first) as usize] = match cell {
                Cell::Text(text) => text,
                Cell::Error(e) => e,
                Cell::Empty => String::new(),
            };
        }
        if let Some(i) = names.iter().position(String::is_empty) {
            return Err(Error::File {
                path: self.path.clone(),
                problem: format!(
                    "header cell {}{} is empty, between named cells (a merged cell?); \
                     every column of the header needs its own name",
                    column_name(first + i as u32),
                    row.index + 1
                ),
            });
        }
        self.first_column = first;
        self.width = Some(names.len());
        Ok(Some(names))
    }

    fn header_line(&self) -> Option<u64> {
        self.header_line
    }

    fn next(
        &mut self,
        record: &mut ByteRecord,
        notes: &mut RecordNotes,
    ) -> Result<Option<(u64, u64)>> {
        let Some(row) = self.next_row()? else {
            return Ok(None);
        };
        let last = row.cells.last().map_or(0, |(c, _)| *c);
        let width = self
            .width
            .unwrap_or(0)
            .max((last + 1).saturating_sub(self.first_column) as usize);
        let mut fields = vec![Cell::Empty; width];
        for (column, cell) in row.cells {
            if column < self.first_column {
                notes.problems.push(RecordProblem {
                    field: None,
                    check: "columns",
                    value: Some(match &cell {
                        Cell::Text(t) | Cell::Error(t) => crate::validate::clip(t, 60),
                        Cell::Empty => String::new(),
                    }),
                    message: format!(
                        "cell {}{} is left of the header's first column",
                        column_name(column),
                        row.index + 1
                    ),
                });
                continue;
            }
            fields[(column - self.first_column) as usize] = cell;
        }
        record.clear();
        notes.null.clear();
        for (i, cell) in fields.iter().enumerate() {
            notes.null.push(matches!(cell, Cell::Empty));
            match cell {
                Cell::Text(text) => record.push_field(text.as_bytes()),
                Cell::Empty => record.push_field(b""),
                Cell::Error(e) => {
                    notes.problems.push(RecordProblem {
                        field: Some(i),
                        check: "cell",
                        value: Some(e.clone()),
                        message: format!(
                            "cell {}{} holds Excel's error {e}, not a value",
                            column_name(self.first_column + i as u32),
                            row.index + 1
                        ),
                    });
                    record.push_field(e.as_bytes());
                }
            }
        }
        let line = u64::from(row.index) + 1;
        Ok(Some((line, 0)))
    }

    fn literal_fields(&self) -> Vec<bool> {
        Vec::new()
    }

    fn end_line(&mut self) -> u64 {
        self.last_line + 1
    }

    fn compression(&self) -> Compression {
        Compression::None
    }
}

/// Where calamine reads the workbook from.
enum Workbook {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Workbook {
    /// Refuses a workbook whose shared strings would not fit in memory: calamine reads them
    /// whole, and reserves room for as many as the file claims before reading one.
    fn guard(&self) -> std::result::Result<(), String> {
        match self {
            Workbook::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
                guard_archive(std::io::BufReader::new(file))
            }
            Workbook::Bytes(bytes) => guard_archive(std::io::Cursor::new(bytes.as_slice())),
        }
    }

    fn read(
        self,
        sheet: Option<&str>,
        limit: u64,
        tx: &SyncSender<std::result::Result<Handover, String>>,
    ) -> std::result::Result<(), String> {
        match self {
            Workbook::File(path) => {
                let file = std::fs::File::open(&path).map_err(|e| format!("cannot read: {e}"))?;
                read_sheet(std::io::BufReader::new(file), sheet, limit, tx)
            }
            Workbook::Bytes(bytes) => read_sheet(std::io::Cursor::new(bytes), sheet, limit, tx),
        }
    }
}

fn guard_archive<R: Read + Seek>(reader: R) -> std::result::Result<(), String> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| format!("is not an xlsx workbook (not a zip archive: {e})"))?;
    let Some(name) = zip
        .file_names()
        .filter_map(std::result::Result::ok)
        .find(|n| n.eq_ignore_ascii_case("xl/sharedStrings.xml"))
        .map(|n| n.into_owned())
    else {
        return Ok(());
    };
    let entry = zip
        .by_name(&name)
        .map_err(|e| format!("cannot read its shared strings: {e}"))?;
    let size = entry.size();
    if size > MAX_SHARED_STRINGS {
        return Err(format!(
            "its shared strings unpack to {} bytes, over the {} Airlock holds in memory",
            crate::format::thousands(size as i64),
            crate::format::thousands(MAX_SHARED_STRINGS as i64)
        ));
    }
    let mut head = Vec::new();
    entry
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| format!("cannot read its shared strings: {e}"))?;
    let head = String::from_utf8_lossy(&head);
    let claimed = head
        .split_once("uniqueCount=\"")
        .and_then(|(_, rest)| rest.split('"').next())
        .and_then(|n| n.parse::<u64>().ok());
    // Each string takes at least `<si><t/></si>`.
    if claimed.is_some_and(|n| n > size / 10 + 1) {
        return Err(format!(
            "its shared strings claim {} strings in {} bytes, which cannot be; the workbook is \
             damaged or hostile",
            claimed.unwrap_or_default(),
            crate::format::thousands(size as i64)
        ));
    }
    Ok(())
}

/// Sends the sheet's rows that hold a value, in order.
fn read_sheet<RS: Read + Seek>(
    reader: RS,
    sheet: Option<&str>,
    limit: u64,
    tx: &SyncSender<std::result::Result<Handover, String>>,
) -> std::result::Result<(), String> {
    let mut workbook: Xlsx<RS> =
        Xlsx::new(reader).map_err(|e| format!("is not a readable xlsx workbook: {e}"))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) if names.iter().any(|n| n == wanted) => wanted.to_string(),
        Some(wanted) => {
            return Err(format!(
                "has no sheet `{wanted}`; its sheets are {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| "has no sheet".to_string())?,
    };
    let mut cells = workbook
        .worksheet_cells_reader(&name)
        .map_err(|e| format!("cannot read sheet `{name}`: {e}"))?;
    let mut batch = Handover::default();
    let (mut row, mut rows, mut bytes) = (None, 0, 0u64);
    loop {
        let cell = cells
            .next_cell()
            .map_err(|e| format!("sheet `{name}` cannot be read: {e}"))?;
        let Some(cell) = cell else { break };
        let (r, c) = cell.get_position();
        if row != Some(r) {
            if rows >= ROWS_PER_HANDOVER {
                if tx.send(Ok(std::mem::take(&mut batch))).is_err() {
                    return Ok(());
                }
                rows = 0;
            }
            (row, bytes) = (Some(r), 0);
            rows += 1;
        }
        let start = batch.text.len();
        let Some(error) = write_cell(cell.get_value(), &mut batch.text) else {
            continue;
        };
        bytes += (batch.text.len() - start) as u64;
        if bytes > limit {
            return Err(format!(
                "row {} of sheet `{name}` holds more than {} bytes; the limit is [source] \
                 max_record_bytes",
                r + 1,
                crate::format::thousands(limit as i64)
            ));
        }
        batch.cells.push(Placed {
            row: r,
            column: c,
            error,
            text: start..batch.text.len(),
        });
    }
    if !batch.cells.is_empty() {
        let _ = tx.send(Ok(batch));
    }
    Ok(())
}

/// Rows as the reading thread hands them over: every cell's text in one buffer, so the
/// thread that frees them is the one that made them (memory freed across threads is slow).
#[derive(Default)]
struct Handover {
    text: String,
    cells: Vec<Placed>,
}

/// One cell with a value: where it is, whether it is an error, its text in the buffer.
struct Placed {
    row: u32,
    column: u32,
    error: bool,
    text: std::ops::Range<usize>,
}

impl Handover {
    /// The rows of the handover, in order, each with its cells.
    fn rows_into(self, ready: &mut std::collections::VecDeque<Row>) {
        for cell in self.cells {
            let text = self.text[cell.text].to_string();
            let value = match cell.error {
                true => Cell::Error(text),
                false => Cell::Text(text),
            };
            match ready.back_mut() {
                Some(row) if row.index == cell.row => row.cells.push((cell.column, value)),
                _ => ready.push_back(Row {
                    index: cell.row,
                    cells: vec![(cell.column, value)],
                }),
            }
        }
    }
}

/// Writes a cell's text, the way Excel typed it, to `out`: whether it is an error value
/// (`#N/A`); `None` for an empty cell.
fn write_cell(value: &DataRef<'_>, out: &mut String) -> Option<bool> {
    use std::fmt::Write as _;
    match value {
        DataRef::Empty => return None,
        DataRef::String(s) => out.push_str(s),
        DataRef::SharedString(s) => out.push_str(s),
        DataRef::Int(i) => {
            let _ = write!(out, "{i}");
        }
        DataRef::Float(f) => out.push_str(&number(*f)),
        DataRef::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => out.push_str(s),
        DataRef::DateTime(d) if d.is_duration() => out.push_str(&duration(d.as_f64())),
        DataRef::DateTime(d) => {
            let (y, mo, day, h, mi, s, ms) = d.to_ymd_hms_milli();
            let time = match ms {
                0 => format!("{h:02}:{mi:02}:{s:02}"),
                ms => format!("{h:02}:{mi:02}:{s:02}.{ms:03}"),
            };
            if (0.0..1.0).contains(&d.as_f64()) {
                // A time of day alone: the serial has no day.
                out.push_str(&time);
            } else if (h, mi, s, ms) == (0, 0, 0, 0) {
                let _ = write!(out, "{y:04}-{mo:02}-{day:02}");
            } else {
                let _ = write!(out, "{y:04}-{mo:02}-{day:02} {time}");
            }
        }
        DataRef::Error(e) => {
            let _ = write!(out, "{e}");
            return Some(true);
        }
    }
    Some(false)
}

/// A number as Excel shows it at most: 15 significant digits, the shortest decimal for
/// them (`12.299999999999999` is `12.3`, `0.1 + 0.2` is `0.3`).
pub fn number(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f == f.trunc() && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    // The shortest decimal that reads back as `f`: when it has 15 significant digits or
    // fewer, it is what Excel shows (most values: 839.1, 0.25).
    if (1e-15..1e15).contains(&f.abs()) {
        let shortest = f.to_string();
        let significant = shortest
            .bytes()
            .filter(u8::is_ascii_digit)
            .skip_while(|&b| b == b'0')
            .count();
        if significant <= 15 {
            return shortest;
        }
    }
    let scientific = format!("{:.14e}", f.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return f.to_string();
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-20..=20).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        return format!("{sign}{first}{rest}e{exponent}");
    }
    let point = exponent + 1;
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!(
            "{sign}{digits}{}",
            "0".repeat(point as usize - digits.len())
        )
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{sign}{whole}.{fraction}")
    }
}

/// A duration cell (`[h]:mm:ss`) as hours, minutes and seconds, as an interval reads them.
fn duration(days: f64) -> String {
    let ms = (days.abs() * 86_400_000.0).round() as u64;
    let sign = if days < 0.0 { "-" } else { "" };
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (mi, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    match ms {
        0 => format!("{sign}{h}:{mi:02}:{s:02}"),
        ms => format!("{sign}{h}:{mi:02}:{s:02}.{ms:03}"),
    }
}

/// A column's letters (0 is A, 26 is AA).
fn column_name(mut column: u32) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (column % 26) as u8);
        if column < 26 {
            break;
        }
        column = column / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_excel_shows_them() {
        assert_eq!(number(12.299999999999999), "12.3");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(1299.0), "1299");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(number(0.000123), "0.000123");
        assert_eq!(number(1.5e300), "1.5e300");
        assert_eq!(number(123456789012345680.0), "123456789012346000");
        assert_eq!(number(-0.0), "0");
    }

    #[test]
    fn names_columns_and_durations() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(16383), "XFD");
        assert_eq!(duration(1.5), "36:00:00");
        assert_eq!(duration(0.000_011_574_074), "0:00:01");
    }
}
