//! Compressed files, read as their text: gzip, zstd, bzip2 and xz, recognised by their magic
//! bytes (a name that claims one and bytes that are not is an error, never a guess). The
//! decoders are the well-kept crates (flate2, zstd, bzip2, liblzma), multi-member streams
//! included; one that stops early or finds corrupt data says so with the compressed byte
//! where it happened.
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use super::ReadProgress;

/// How a file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

/// What `[source] compression` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionOption {
    /// By the magic bytes.
    #[default]
    Auto,
    /// Exactly this (`none` reads the bytes as they are).
    Exactly(Compression),
}

impl Compression {
    pub const NAMES: &'static str = "auto, none, gzip, zstd, bzip2, xz";

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }

    pub fn parse(s: &str) -> Option<CompressionOption> {
        Some(match s.to_ascii_lowercase().as_str() {
            "auto" => CompressionOption::Auto,
            "none" => CompressionOption::Exactly(Compression::None),
            "gzip" | "gz" => CompressionOption::Exactly(Compression::Gzip),
            "zstd" | "zst" => CompressionOption::Exactly(Compression::Zstd),
            "bzip2" | "bz2" => CompressionOption::Exactly(Compression::Bzip2),
            "xz" => CompressionOption::Exactly(Compression::Xz),
            _ => return None,
        })
    }

    /// The compression the magic bytes at the start of a stream announce.
    fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }

    /// The compression a file name's extension claims.
    fn of_name(path: &Path) -> Option<Compression> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "gz" | "gzip" => Compression::Gzip,
            "zst" | "zstd" => Compression::Zstd,
            "bz2" => Compression::Bzip2,
            "xz" => Compression::Xz,
            _ => return None,
        })
    }
}

/// A decoder's failure, with where in the compressed bytes it happened.
#[derive(Debug)]
pub struct Broken {
    pub compression: Compression,
    pub at: u64,
    pub truncated: bool,
    pub cause: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.truncated {
            write!(
                f,
                "the {} stream ends early at byte {} (the file is cut short?)",
                self.compression.as_str(),
                self.at
            )
        } else {
            write!(
                f,
                "the {} stream is corrupt at byte {}: {}",
                self.compression.as_str(),
                self.at,
                self.cause
            )
        }
    }
}

impl std::error::Error for Broken {}

/// Reports a decoder's errors as [`Broken`], at the compressed byte reached so far.
struct Reporting<R> {
    inner: R,
    compression: Compression,
    progress: Arc<ReadProgress>,
}

impl<R: Read> Read for Reporting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let truncated = e.kind() == std::io::ErrorKind::UnexpectedEof;
            std::io::Error::other(Broken {
                compression: self.compression,
                at: self.progress.bytes(),
                truncated,
                cause: e.to_string(),
            })
        })
    }
}

/// Sees which compression `input` has (as `option` asks, checked against the file's name),
/// and returns the text it holds. `progress` counts the compressed bytes.
pub fn open(
    path: &Path,
    input: Box<dyn Read + Send>,
    option: CompressionOption,
    progress: Arc<ReadProgress>,
) -> Result<(Compression, Box<dyn Read + Send>), String> {
    let mut buffered = BufReader::with_capacity(1 << 16, input);
    let head = buffered
        .fill_buf()
        .map_err(|e| format!("cannot read: {e}"))?;
    let sniffed = Compression::sniff(head);
    let compression = match option {
        CompressionOption::Exactly(c) if c == sniffed || c == Compression::None => c,
        CompressionOption::Exactly(c) => {
            return Err(format!(
                "[source] compression says {}, but the file's first bytes are {}",
                c.as_str(),
                describe(sniffed)
            ));
        }
        CompressionOption::Auto => match Compression::of_name(path) {
            Some(named) if named != sniffed && !head.is_empty() => {
                return Err(format!(
                    "the name says {}, but the file's first bytes are {}; set [source] compression if that is right",
                    named.as_str(),
                    describe(sniffed)
                ));
            }
            _ => sniffed,
        },
    };
    let text: Box<dyn Read + Send> = match compression {
        Compression::None => return Ok((compression, Box::new(buffered))),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| format!("cannot start the zstd decoder: {e}"))?,
        ),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(buffered)),
    };
    Ok((
        compression,
        Box::new(Reporting {
            inner: text,
            compression,
            progress,
        }),
    ))
}

/// The text of the file at `path` as a batch read it (`compression` as recorded), from its
/// start: for reading one record again. A compressed file is decompressed up to there.
pub fn text_of(path: &Path, compression: Option<&str>) -> std::io::Result<Box<dyn Read + Send>> {
    let file = std::fs::File::open(path)?;
    let option = compression
        .and_then(Compression::parse)
        .unwrap_or(CompressionOption::Exactly(Compression::None));
    let progress = Arc::new(ReadProgress::new(0));
    let text = open(path, Box::new(file), option, progress)
        .map(|(_, text)| text)
        .map_err(std::io::Error::other)?;
    // Offsets are in the text the parser read: UTF-16 is turned into UTF-8 here as there.
    super::utf16::wrap(text).map(|(_, text)| text)
}

/// The text of a sample, with its compression found by its bytes, and whether it was UTF-16
/// (turned into UTF-8): for `airlock init`.
pub fn sample(path: &Path) -> Result<(Compression, bool, Box<dyn Read + Send>), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let progress = Arc::new(ReadProgress::new(0));
    let (compression, text) = open(path, Box::new(file), CompressionOption::Auto, progress)?;
    let (utf16, text) = super::utf16::wrap(text).map_err(|e| format!("cannot read: {e}"))?;
    Ok((compression, utf16.is_some(), text))
}

fn describe(c: Compression) -> String {
    match c {
        Compression::None => "not compressed".into(),
        other => format!("{} data", other.as_str()),
    }
}

/// Whether a parser error is a broken compressed stream; its message if so.
pub fn broken(e: &csv::Error) -> Option<String> {
    match e.kind() {
        csv::ErrorKind::Io(io) => broken_io(io),
        _ => None,
    }
}

/// Whether a read error is a broken compressed stream; its message if so.
pub fn broken_io(e: &std::io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Broken>())
        .map(ToString::to_string)
}
