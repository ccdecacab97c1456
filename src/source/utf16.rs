//! UTF-16 text with a byte order mark (what Excel's "Unicode text" export writes), turned
//! into UTF-8 as it streams, so the parser and every check read it like any other file. A
//! malformed sequence is an error naming where it is, never a replacement character.
use std::io::{BufRead, BufReader, Read};

/// Which UTF-16 the text's first bytes announce, if any.
fn sniff(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    match head {
        [0xff, 0xfe, ..] => Some(encoding_rs::UTF_16LE),
        [0xfe, 0xff, ..] => Some(encoding_rs::UTF_16BE),
        _ => None,
    }
}

/// `text`, as UTF-8 when it is UTF-16 with a byte order mark; the encoding found.
pub fn wrap(
    text: Box<dyn Read + Send>,
) -> std::io::Result<(Option<&'static encoding_rs::Encoding>, Box<dyn Read + Send>)> {
    let mut buffered = BufReader::with_capacity(1 << 16, text);
    let found = sniff(buffered.fill_buf()?);
    Ok(match found {
        None => (None, Box::new(buffered)),
        Some(enc) => (
            Some(enc),
            Box::new(Transcoded {
                inner: buffered,
                // Takes the byte order mark off.
                decoder: enc.new_decoder_with_bom_removal(),
                input: vec![0; 1 << 15],
                output: Vec::with_capacity(1 << 16),
                at: 0,
                read: 0,
                done: false,
            }),
        ),
    })
}

struct Transcoded<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Where the unread part of `output` starts.
    at: usize,
    /// Bytes of UTF-16 read so far, for messages.
    read: u64,
    done: bool,
}

impl<R: Read> Read for Transcoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.output.len() && !self.done {
            let n = self.inner.read(&mut self.input)?;
            let last = n == 0;
            self.output.clear();
            self.at = 0;
            let room = self
                .decoder
                .max_utf8_buffer_length_without_replacement(n)
                .unwrap_or(n * 3 + 16);
            self.output.resize(room, 0);
            let (result, consumed, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[..n],
                &mut self.output,
                last,
            );
            self.output.truncate(written);
            if let encoding_rs::DecoderResult::Malformed(_, _) = result {
                return Err(std::io::Error::other(format!(
                    "invalid UTF-16 near byte {} of the text",
                    self.read + consumed as u64
                )));
            }
            self.read += n as u64;
            self.done = last;
        }
        let n = (self.output.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.output[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
