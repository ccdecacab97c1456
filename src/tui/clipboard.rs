//! Copying to the terminal's clipboard with OSC 52: the terminal itself takes the text, so it
//! works over SSH and inside tmux (with `set-clipboard on`), with no clipboard tool installed.

/// The escape sequence that puts `text` on the clipboard.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

/// A row's fields as one CSV record (RFC 4180: a field with a comma, quote or line break is
/// quoted, its quotes doubled); an empty field for a missing value.
pub fn csv_record(fields: &[Option<String>]) -> String {
    fields
        .iter()
        .map(|f| {
            let f = f.as_deref().unwrap_or("");
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_rfc_4648_says() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain}");
        }
        assert_eq!(osc52("N/A"), "\x1b]52;c;Ti9B\x07");
    }

    #[test]
    fn a_row_is_one_csv_record() {
        let row = [
            Some("SKU-1".to_string()),
            Some("Bird feeder, \"deluxe\"".to_string()),
            None,
            Some("two\nlines".to_string()),
        ];
        assert_eq!(
            csv_record(&row),
            "SKU-1,\"Bird feeder, \"\"deluxe\"\"\",,\"two\nlines\""
        );
    }
}
