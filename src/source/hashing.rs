//! The two readers around the parser. [`Fingerprint`] hashes (SHA-256) and counts the file's
//! bytes as they stream past — the bytes as received, compressed or not — so the file is read
//! once for parsing, fingerprinting and progress. [`Positions`] sits on the text the parser
//! reads, to find where each record really starts and to hold a record to its size limit.
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
    /// The text read (the decompressed bytes of a compressed file).
    text_bytes: AtomicU64,
    records: AtomicU64,
    digest: Mutex<Option<String>>,
    /// For one part of several: the whole input's counters, which count its bytes too.
    whole: Option<Arc<ReadProgress>>,
}

impl ReadProgress {
    pub fn new(total_bytes: u64) -> Self {
        Self {
            total_bytes,
            ..Self::default()
        }
    }

    /// The counters of one part of `whole`: its own bytes and digest, added to the whole's.
    pub fn part_of(whole: &Arc<ReadProgress>, total_bytes: u64) -> Self {
        Self {
            total_bytes,
            whole: Some(whole.clone()),
            ..Self::default()
        }
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(whole) = &self.whole {
            whole.add_bytes(n);
        }
    }

    pub fn add_text(&self, n: u64) {
        self.text_bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(whole) = &self.whole {
            whole.add_text(n);
        }
    }

    /// Records the digest of the bytes read, once the end is reached.
    pub fn set_sha256(&self, digest: String) {
        if let Ok(mut slot) = self.digest.lock() {
            *slot = Some(digest);
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Bytes of text read so far: the same as `bytes` unless the file is compressed.
    pub fn text_bytes(&self) -> u64 {
        self.text_bytes.load(Ordering::Relaxed)
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

/// Hashes and counts the bytes read from the file.
pub struct Fingerprint<R> {
    inner: R,
    hasher: Option<Sha256>,
    progress: Arc<ReadProgress>,
}

impl<R> Fingerprint<R> {
    pub fn new(inner: R, progress: Arc<ReadProgress>) -> Self {
        Self {
            inner,
            hasher: Some(Sha256::new()),
            progress,
        }
    }
}

impl<R: Read> Read for Fingerprint<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if let Some(hasher) = self.hasher.take() {
                self.progress.set_sha256(hex::encode(hasher.finalize()));
            }
        } else if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(&buf[..n]);
            self.progress.add_bytes(n as u64);
        }
        Ok(n)
    }
}

/// Keeps the text since the current record began, and holds a record to its limit.
pub struct Positions<R> {
    inner: R,
    progress: Arc<ReadProgress>,
    /// The bytes handed out from `window_start` on: what the CSV parser has read but not yet
    /// turned into records (its read-ahead), so a record's true first byte can be found.
    window: VecDeque<u8>,
    window_start: u64,
    /// Line ends before `window_start`: LF, CR and CRLF (one) alike, as an editor counts
    /// them, so a file with classic Mac line ends has its lines too.
    line_ends: LineEnds,
    /// The most bytes the current record may span: past it, reading fails (see
    /// [`is_too_long`]) instead of growing the parser's buffers without end.
    limit: u64,
}

/// Counts line ends across pieces of a stream: a CR, an LF, or a CR followed by an LF.
#[derive(Debug, Default, Clone, Copy)]
struct LineEnds {
    count: u64,
    after_cr: bool,
}

impl LineEnds {
    fn add(&mut self, b: u8) {
        match b {
            b'\r' => self.count += 1,
            b'\n' if !self.after_cr => self.count += 1,
            _ => {}
        }
        self.after_cr = b == b'\r';
    }

    /// [`add`](Self::add) for every byte of `bytes`: without a CR, a count of the LFs the
    /// compiler vectorizes (this runs over the whole file).
    fn add_all(&mut self, bytes: &[u8]) {
        let Some(&first) = bytes.first() else {
            return;
        };
        if bytes.contains(&b'\r') {
            for &b in bytes {
                self.add(b);
            }
            return;
        }
        let lfs = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        self.count += lfs - u64::from(self.after_cr && first == b'\n');
        self.after_cr = false;
    }
}

/// The error a read gives once a record has gone past the limit.
#[derive(Debug)]
pub(super) struct TooLong;

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("record too long")
    }
}

impl std::error::Error for TooLong {}

/// Whether a parser error is the limit of [`Positions`] being reached.
pub fn is_too_long(e: &csv::Error) -> bool {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.get_ref().is_some_and(|inner| inner.is::<TooLong>()),
        _ => false,
    }
}

/// Read-ahead the parser may hold beyond the record it is in (its buffer capacity).
const READ_AHEAD: u64 = 1 << 20;

impl<R> Positions<R> {
    pub fn new(inner: R, progress: Arc<ReadProgress>, limit: u64) -> Self {
        Self {
            inner,
            progress,
            window: VecDeque::new(),
            window_start: 0,
            line_ends: LineEnds::default(),
            limit,
        }
    }

    /// Holds the records from here on to `limit` bytes each.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The parser starts each record read at `from`, but first skips the line terminators and
    /// blank lines left before the record. Returns the record's first byte and its physical
    /// line (1-based), and forgets everything before `from`.
    pub fn record_start(&mut self, from: u64) -> (u64, u64) {
        let drop = (from.saturating_sub(self.window_start) as usize).min(self.window.len());
        let (front, back) = self.window.as_slices();
        let split = drop.min(front.len());
        self.line_ends.add_all(&front[..split]);
        self.line_ends.add_all(&back[..drop - split]);
        self.window.drain(..drop);
        self.window_start += drop as u64;
        let mut ends = self.line_ends;
        let mut skipped = 0;
        for &b in self.window.iter() {
            if !matches!(b, b'\n' | b'\r') {
                break;
            }
            ends.add(b);
            skipped += 1;
        }
        (from + skipped, ends.count + 1)
    }
}

impl<R> Positions<R> {
    /// The text from byte `from` to byte `to` (the current record, which the window holds).
    pub fn text(&self, from: u64, to: u64) -> Vec<u8> {
        let start = from.saturating_sub(self.window_start) as usize;
        let end = (to.saturating_sub(self.window_start) as usize).min(self.window.len());
        self.window.range(start.min(end)..end).copied().collect()
    }
}

impl<R: Read> Read for Positions<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // The window holds every byte since the current record began (and the parser's
        // read-ahead): once it passes the limit, the record is too long.
        if self.window.len() as u64 > self.limit.saturating_add(READ_AHEAD) {
            return Err(std::io::Error::other(TooLong));
        }
        let n = self.inner.read(buf)?;
        self.window.extend(&buf[..n]);
        self.progress.add_text(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::LineEnds;

    /// Counting a piece at a time agrees with counting byte by byte, however the stream is
    /// cut (a CRLF split between two pieces is one line end).
    #[test]
    fn line_ends_counted_in_pieces_agree_with_bytes() {
        let text = b"a\nb\r\nc\rd\n\ne\r\r\nf\n\r\ng";
        let mut one = LineEnds::default();
        text.iter().for_each(|&b| one.add(b));
        for cut in 0..=text.len() {
            for second in cut..=text.len() {
                let mut pieces = LineEnds::default();
                pieces.add_all(&text[..cut]);
                pieces.add_all(&text[cut..second]);
                pieces.add_all(&text[second..]);
                assert_eq!(
                    (pieces.count, pieces.after_cr),
                    (one.count, one.after_cr),
                    "cut at {cut}, {second}"
                );
            }
        }
        let mut lf = LineEnds::default();
        lf.add_all(b"x\r");
        lf.add_all(b"\ny\n");
        assert_eq!(lf.count, 2);
    }
}
