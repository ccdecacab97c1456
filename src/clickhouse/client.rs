//! A connection to ClickHouse's HTTP interface, through the official `clickhouse` crate. The
//! crate's typed rows suit tables known when the program is compiled; Airlock's tables are
//! the operator's, so it reads results as TabSeparated text and writes data as a formatted
//! `INSERT … FORMAT` body streamed in chunks (memory stays bounded by a chunk).
use bytes::Bytes;

use super::url::ClickHouseUrl;
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct ClickHouse {
    client: clickhouse::Client,
    url: ClickHouseUrl,
    version: String,
}

/// One result row: each column's text as the server prints it, `None` for NULL.
pub type Row = Vec<Option<String>>;

impl ClickHouse {
    /// Connects and asks the server its version: a server that does not answer, or refuses
    /// the user, fails here with its reason rather than at the first real statement.
    pub async fn connect(url: &ClickHouseUrl) -> Result<Self> {
        let mut client = clickhouse::Client::default()
            .with_url(url.endpoint())
            .with_user(&url.user)
            .with_database(&url.database)
            .with_compression(clickhouse::Compression::None);
        if let Some(password) = &url.password {
            client = client.with_password(password);
        }
        let mut ch = Self {
            client,
            url: url.clone(),
            version: String::new(),
        };
        let version = ch
            .value("SELECT version()", "asking the server its version")
            .await
            .map_err(|e| Error::ClickHouse {
                context: format!("cannot connect to ClickHouse at {url}"),
                message: match e {
                    Error::ClickHouse { message, .. } => message,
                    other => other.to_string(),
                },
            })?;
        ch.version = version.unwrap_or_default();
        Ok(ch)
    }

    pub fn url(&self) -> &ClickHouseUrl {
        &self.url
    }

    /// The server's version, as `SELECT version()` gave it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Runs a statement that returns nothing Airlock reads (DDL, `INSERT … SELECT`, …).
    pub async fn execute(&self, sql: &str, context: &str) -> Result<()> {
        self.client
            .query_raw(sql)
            .execute()
            .await
            .map_err(failed(context))
    }

    /// Every row of a query's result.
    pub async fn rows(&self, sql: &str, context: &str) -> Result<Vec<Row>> {
        let mut cursor = self
            .client
            .query_raw(sql)
            .fetch_bytes("TabSeparated")
            .map_err(failed(context))?;
        let text = cursor.collect().await.map_err(failed(context))?;
        Ok(decode_tsv(&text))
    }

    /// Every row of a query's result, handed to `each` as it arrives: memory holds a chunk
    /// of the result, not all of it. TabSeparated escapes newlines inside values, so a row
    /// ends at each newline.
    pub async fn for_each_row(
        &self,
        sql: &str,
        context: &str,
        mut each: impl FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        let mut cursor = self
            .client
            .query_raw(sql)
            .fetch_bytes("TabSeparated")
            .map_err(failed(context))?;
        let mut carry: Vec<u8> = Vec::new();
        while let Some(chunk) = cursor.next().await.map_err(failed(context))? {
            carry.extend_from_slice(&chunk);
            let Some(end) = carry.iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            let rest = carry.split_off(end + 1);
            for row in decode_tsv(&carry) {
                each(row)?;
            }
            carry = rest;
        }
        for row in decode_tsv(&carry) {
            each(row)?;
        }
        Ok(())
    }

    /// The first column of the first row, when there is one.
    pub async fn value(&self, sql: &str, context: &str) -> Result<Option<String>> {
        Ok(self
            .rows(sql, context)
            .await?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()))
    }

    /// Streams `chunks` as the data of `insert` (an `INSERT INTO … FORMAT …` statement). The
    /// server parses as it receives; nothing is kept beyond the chunk being sent.
    pub async fn insert(
        &self,
        insert: &str,
        chunks: impl IntoIterator<Item = Bytes>,
        context: &str,
    ) -> Result<()> {
        let mut sink = self.client.insert_formatted_with(insert);
        for chunk in chunks {
            sink.send(chunk).await.map_err(failed(context))?;
        }
        sink.end().await.map_err(failed(context))
    }
}

impl ClickHouse {
    /// Streams the chunks arriving on `rx` as the data of `insert`, until the channel
    /// closes. An empty chunk is the sender's end marker; a channel closed without one means
    /// the sender failed, and the insert is abandoned (the engine then keeps none of it).
    pub async fn insert_channel(
        &self,
        insert: &str,
        mut rx: tokio::sync::mpsc::Receiver<Bytes>,
        context: &str,
    ) -> Result<bool> {
        let mut sink = self.client.insert_formatted_with(insert);
        while let Some(chunk) = rx.recv().await {
            if chunk.is_empty() {
                sink.end().await.map_err(failed(context))?;
                return Ok(true);
            }
            if let Err(e) = sink.send(chunk).await {
                rx.close();
                return Err(failed(context)(e));
            }
        }
        Ok(false)
    }

    /// Streams a spooled file (COPY text, which the engine reads as TabSeparated) as the
    /// data of `insert`, a chunk at a time.
    pub async fn insert_file(
        &self,
        insert: &str,
        mut file: std::fs::File,
        context: &str,
    ) -> Result<()> {
        use std::io::{Read, Seek};
        let io = |e: std::io::Error| Error::ClickHouse {
            context: context.to_string(),
            message: format!("reading the spooled rows: {e}"),
        };
        file.rewind().map_err(io)?;
        let mut sink = self.client.insert_formatted_with(insert);
        let mut buf = vec![0u8; 1 << 18];
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            sink.send(Bytes::copy_from_slice(&buf[..n]))
                .await
                .map_err(failed(context))?;
        }
        sink.end().await.map_err(failed(context))
    }
}

fn failed(context: &str) -> impl FnOnce(clickhouse::error::Error) -> Error + '_ {
    move |e| Error::ClickHouse {
        context: context.to_string(),
        message: message(&e),
    }
}

/// The server's own message (`Code: 60. DB::Exception: Unknown table …`), without the
/// crate's prefix and the server's version suffix; else the error and its causes.
fn message(e: &clickhouse::error::Error) -> String {
    if let clickhouse::error::Error::BadResponse(text) = e {
        let text = text.trim();
        let text = match text.rfind(" (version ") {
            Some(at) if text.ends_with(')') => &text[..at],
            _ => text,
        };
        return text.to_string();
    }
    crate::error::chain(e)
}

/// A string literal: `'it\'s'`. ClickHouse reads backslash escapes in literals.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// An identifier, always quoted: `` `order` ``, `` `a\`b` ``.
pub fn ident(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('`');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '`' => out.push_str("\\`"),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// Rows of TabSeparated text: fields split at tabs, rows at newlines, `\N` for NULL, and
/// the format's backslash escapes undone.
pub fn decode_tsv(text: &[u8]) -> Vec<Row> {
    if text.is_empty() {
        return Vec::new();
    }
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    text.split(|&b| b == b'\n')
        .map(|line| line.split(|&b| b == b'\t').map(unescape).collect())
        .collect()
}

fn unescape(field: &[u8]) -> Option<String> {
    if field == b"\\N" {
        return None;
    }
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'b') => out.push(0x08),
            Some(b'f') => out.push(0x0c),
            Some(b'0') => out.push(0),
            Some(&other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_separated_text_is_decoded() {
        let rows = decode_tsv(b"1\ta\\tb\n\\N\tline\\nbreak\\\\\n");
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("a\tb".into())],
                vec![None, Some("line\nbreak\\".into())],
            ]
        );
        assert!(decode_tsv(b"").is_empty());
        assert_eq!(decode_tsv(b"\n"), vec![vec![Some(String::new())]]);
    }

    #[test]
    fn literals_and_identifiers_are_quoted() {
        assert_eq!(quote("it's a \\ test"), "'it\\'s a \\\\ test'");
        assert_eq!(ident("we`ird\\"), "`we\\`ird\\\\`");
    }
}
