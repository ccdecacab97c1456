//! The reader on arbitrary bytes: never panics, and every record's position is true — its
//! line is 1 + the newlines before its first byte, and the bytes from there to the next
//! record parse, on their own, to the same fields (what the review UI reads back).
#![no_main]

use std::path::Path;

use airlock::source::{SourceOptions, SourceReader};
use csv::ByteRecord;
use libfuzzer_sys::fuzz_target;

fn options(selector: u8) -> SourceOptions {
    SourceOptions {
        delimiter: [b',', b'\t', b';', b'|'][usize::from(selector & 3)],
        quoting: selector & 4 == 0,
        encoding: if selector & 8 == 0 {
            None
        } else {
            Some(encoding_rs::WINDOWS_1252)
        },
        // The oracle reads the input's own bytes: no decompression.
        compression: airlock::source::CompressionOption::Exactly(airlock::source::Compression::None),
        ..SourceOptions::default()
    }
}

fn reader(data: &[u8], options: SourceOptions) -> Option<SourceReader> {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    SourceReader::from_reader(Path::new("fuzz.csv"), input, data.len() as u64, options).ok()
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    // UTF-16 with a byte order mark is read as its UTF-8: the oracle reads bytes as they are.
    if data.starts_with(&[0xff, 0xfe]) || data.starts_with(&[0xfe, 0xff]) {
        return;
    }
    let options = options(selector);
    let Some(mut source) = reader(data, options.clone()) else {
        return;
    };
    if source.header().is_err() {
        return;
    }
    let mut records = Vec::new();
    let mut record = ByteRecord::new();
    while let Ok(Some(position)) = source.next_record(&mut record) {
        assert_eq!(position.ordinal, records.len() as u64 + 1);
        records.push((position, record.clone()));
    }
    for (i, (position, record)) in records.iter().enumerate() {
        let start = position.byte as usize;
        assert!(start < data.len(), "record starts past the end");
        // Line ends as an editor counts them: LF, CR, and CRLF as one.
        let line_ends = data[..start]
            .iter()
            .enumerate()
            .filter(|&(j, &b)| b == b'\r' || (b == b'\n' && (j == 0 || data[j - 1] != b'\r')))
            .count() as u64;
        assert_eq!(position.line, line_ends + 1, "line of record {}", i + 1);
        let end = records
            .get(i + 1)
            .map_or(data.len(), |(next, _)| next.byte as usize);
        assert!(start < end, "records out of order");
        // The record alone, as the review UI reads it back from the file. The leading blank
        // line keeps csv from taking a record's leading BOM bytes for the file's own BOM.
        let alone = [b"\n", &data[start..end]].concat();
        let mut alone = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(options.delimiter)
            .quoting(options.quoting)
            .from_reader(alone.as_slice());
        let mut again = ByteRecord::new();
        assert!(matches!(alone.read_byte_record(&mut again), Ok(true)));
        assert_eq!(
            again.iter().collect::<Vec<_>>(),
            record.iter().collect::<Vec<_>>()
        );
    }
    for (_, record) in &records {
        for field in record.iter() {
            let _ = airlock::source::decode(field, options.encoding);
        }
    }
});
