//! A reader that hashes (SHA-256) and counts the bytes as they stream past, so the file is read
//! once for parsing, fingerprinting and progress.
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// Shared counters a progress display can read while the load runs.
#[derive(Debug, Default)]
pub struct ReadProgress {
    pub total_bytes: u64,
    bytes: AtomicU64,
    records: AtomicU64,
    digest: Mutex<Option<String>>,
}

impl ReadProgress {
    pub fn new(total_bytes: u64) -> Self {
        Self {
            total_bytes,
            ..Self::default()
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    pub fn add_record(&self) {
        self.records.fetch_add(1, Ordering::Relaxed);
    }

    /// The file's SHA-256, once it has been read to the end.
    pub fn sha256(&self) -> Option<String> {
        self.digest.lock().ok().and_then(|d| d.clone())
    }
}

pub struct HashingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    progress: Arc<ReadProgress>,
    /// The bytes handed out from `window_start` on: what the CSV parser has read but not yet
    /// turned into records (its read-ahead), so a record's true first byte can be found.
    window: VecDeque<u8>,
    window_start: u64,
    /// The most bytes the current record may span: past it, reading fails (see
    /// [`is_too_long`]) instead of growing the parser's buffers without end.
    limit: u64,
}

/// The error a read gives once a record has gone past the limit.
#[derive(Debug)]
struct TooLong;

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("record too long")
    }
}

impl std::error::Error for TooLong {}

/// Whether a parser error is the limit of [`HashingReader`] being reached.
pub fn is_too_long(e: &csv::Error) -> bool {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.get_ref().is_some_and(|inner| inner.is::<TooLong>()),
        _ => false,
    }
}

/// Read-ahead the parser may hold beyond the record it is in (its buffer capacity).
const READ_AHEAD: u64 = 1 << 20;

impl<R> HashingReader<R> {
    pub fn new(inner: R, progress: Arc<ReadProgress>, limit: u64) -> Self {
        Self {
            inner,
            hasher: Some(Sha256::new()),
            progress,
            window: VecDeque::new(),
            window_start: 0,
            limit,
        }
    }

    /// Holds the records from here on to `limit` bytes each.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The parser starts each record read at `from`, but first skips the line terminators and
    /// blank lines left before the record. Returns the record's first byte and how many `\n`
    /// were skipped, and forgets everything before `from`.
    pub fn record_start(&mut self, from: u64) -> (u64, u64) {
        let drop = (from.saturating_sub(self.window_start) as usize).min(self.window.len());
        self.window.drain(..drop);
        self.window_start += drop as u64;
        let mut newlines = 0;
        let mut skipped = 0;
        for &b in self.window.iter() {
            match b {
                b'\n' => newlines += 1,
                b'\r' => {}
                _ => break,
            }
            skipped += 1;
        }
        (from + skipped, newlines)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // The window holds every byte since the current record began (and the parser's
        // read-ahead): once it passes the limit, the record is too long.
        if self.window.len() as u64 > self.limit.saturating_add(READ_AHEAD) {
            return Err(std::io::Error::other(TooLong));
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            if let Some(hasher) = self.hasher.take()
                && let Ok(mut digest) = self.progress.digest.lock()
            {
                *digest = Some(hex::encode(hasher.finalize()));
            }
        } else if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(&buf[..n]);
            self.window.extend(&buf[..n]);
            self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}
