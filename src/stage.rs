//! Staging: Airlock's catalog (`airlock.batches`, `airlock.decisions`), the per-batch UNLOGGED
//! staging and issues tables in `airlock_stage`, and the streaming load that fills them with
//! COPY while the row checks run on another core.
use std::borrow::Cow;
use std::io::{Read, Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use csv::ByteRecord;
use futures_util::SinkExt;
use tokio_postgres::Client;

use crate::db::ident;
use crate::error::{Error, Result};
use crate::source::{self, FieldProblem, SourceReader};
use crate::validate::Severity;
use crate::validate::binding::{Binding, stage_field};
use crate::validate::row::{self, FieldValue, RowIssue};

pub const CATALOG_SCHEMA: &str = "airlock";
pub const STAGE_SCHEMA: &str = "airlock_stage";
/// Columns of the typed rows table that carry the record's position.
pub const LINE_COLUMN: &str = "__line";
pub const ORD_COLUMN: &str = "__ord";

/// The catalog, created on first use. Guarded by an advisory lock so concurrent first runs
/// do not race on `CREATE ... IF NOT EXISTS`.
const CATALOG_DDL: &str = r#"
SELECT pg_advisory_xact_lock(hashtext('airlock.catalog'));
CREATE SCHEMA IF NOT EXISTS airlock;
CREATE SCHEMA IF NOT EXISTS airlock_stage;
CREATE TABLE IF NOT EXISTS airlock.batches (
    id               bigserial PRIMARY KEY,
    feed             text NOT NULL,
    spec_path        text NOT NULL,
    spec             text NOT NULL,
    target           text NOT NULL,
    target_oid       oid NOT NULL,
    mode             text NOT NULL CHECK (mode IN ('upsert', 'swap')),
    file_path        text NOT NULL,
    file_size        bigint,
    file_sha256      text,
    encoding         text NOT NULL,
    header           jsonb NOT NULL DEFAULT '[]',
    state            text NOT NULL,
    verdict          text CHECK (verdict IN ('clean', 'review', 'abort')),
    breaches         jsonb NOT NULL DEFAULT '[]',
    notes            jsonb NOT NULL DEFAULT '[]',
    rows_total       bigint,
    rows_good        bigint,
    rows_quarantined bigint,
    rows_superseded  bigint,
    rows_warned      bigint,
    checks           jsonb NOT NULL DEFAULT '[]',
    plan             jsonb,
    error            text,
    db_role          text NOT NULL DEFAULT current_user,
    os_user          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Version 2: the target's definition as validated, the table a swap replaced, `undone`.
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS target_definition jsonb;
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS previous_table text;
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS applied jsonb;
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS previous_indexes jsonb;
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS timings jsonb;
ALTER TABLE airlock.batches DROP CONSTRAINT IF EXISTS batches_state_check;
ALTER TABLE airlock.batches ADD CONSTRAINT batches_state_check CHECK (state IN ('loading',
    'validated', 'promoting', 'promoted', 'quarantined', 'aborted', 'load_failed',
    'promote_failed', 'undone'));
CREATE INDEX IF NOT EXISTS batches_target_oid ON airlock.batches (target_oid, id);
CREATE TABLE IF NOT EXISTS airlock.decisions (
    id         bigserial PRIMARY KEY,
    batch_id   bigint NOT NULL REFERENCES airlock.batches (id),
    decision   text NOT NULL CHECK (decision IN ('approve', 'quarantine', 'abort', 'undo', 'hold')),
    db_role    text NOT NULL DEFAULT current_user,
    os_user    text,
    decided_at timestamptz NOT NULL DEFAULT now(),
    note       text,
    counts     jsonb
);
CREATE INDEX IF NOT EXISTS decisions_batch_id ON airlock.decisions (batch_id);
CREATE OR REPLACE FUNCTION airlock.decisions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'airlock.decisions is an append-only audit log';
END $$;
DROP TRIGGER IF EXISTS decisions_append_only ON airlock.decisions;
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON airlock.decisions
    FOR EACH ROW EXECUTE FUNCTION airlock.decisions_append_only();
-- The server's own verdict on values the Rust rules leave undecided: each value is cast in
-- its own exception block. Values arrive as a parameter array, never as SQL text.
CREATE OR REPLACE FUNCTION airlock.cast_errors(vals text[], typ regtype, typmod integer)
RETURNS TABLE (value text, message text) LANGUAGE plpgsql AS $$
DECLARE
    v text;
    q text := format('SELECT $1::%s', format_type(typ, typmod));
BEGIN
    FOREACH v IN ARRAY vals LOOP
        BEGIN
            EXECUTE q USING v;
        EXCEPTION WHEN others THEN
            value := v;
            message := SQLERRM;
            RETURN NEXT;
        END;
    END LOOP;
END $$;
COMMENT ON SCHEMA airlock IS 'Airlock catalog, version 3';
"#;

const CATALOG_VERSION: &str = "Airlock catalog, version 3";

/// Creates the catalog when it is missing or older than this version.
pub async fn ensure_catalog(client: &mut Client) -> Result<()> {
    let current: Option<String> = client
        .query_one(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace \
             WHERE nspname = 'airlock' UNION ALL SELECT NULL LIMIT 1",
            &[],
        )
        .await
        .map_err(Error::db("reading the airlock catalog"))?
        .get(0);
    if current.as_deref() == Some(CATALOG_VERSION) {
        crate::batch::reconcile(client).await?;
        return Ok(());
    }
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("creating the airlock catalog"))?;
    tx.batch_execute(CATALOG_DDL).await.map_err(Error::db(
        "creating the airlock catalog (schemas airlock and airlock_stage)",
    ))?;
    tx.commit()
        .await
        .map_err(Error::db("creating the airlock catalog"))?;
    crate::batch::reconcile(client).await?;
    Ok(())
}

/// The names of one batch's staging objects, quoted.
#[derive(Debug, Clone)]
pub struct StageNames {
    pub batch: i64,
    /// Every record, every field as text.
    pub raw: String,
    /// One row per problem.
    pub issues: String,
    /// The good rows, typed as the target.
    pub rows: String,
}

impl StageNames {
    pub fn new(batch: i64) -> Self {
        let name = |suffix: &str| {
            format!(
                "{}.{}",
                ident(STAGE_SCHEMA),
                ident(&format!("batch_{batch}{suffix}"))
            )
        };
        Self {
            batch,
            raw: name(""),
            issues: name("_issues"),
            rows: name("_rows"),
        }
    }
}

/// Creates the staging and issues tables of a batch.
pub async fn create_tables(client: &Client, names: &StageNames, fields: usize) -> Result<()> {
    let mut cols = String::from(
        "\"_line\" bigint NOT NULL, \"_ord\" bigint NOT NULL, \"_byte\" bigint NOT NULL, \
         \"_raw\" text",
    );
    for i in 0..fields {
        cols.push_str(&format!(", {} text", stage_field(i)));
    }
    let sql = format!(
        "CREATE UNLOGGED TABLE {raw} ({cols});
         CREATE UNLOGGED TABLE {issues} (
             id bigserial PRIMARY KEY,
             line bigint NOT NULL,
             ord bigint NOT NULL,
             \"column\" text,
             \"check\" text NOT NULL,
             severity text NOT NULL,
             value text,
             message text NOT NULL);",
        raw = names.raw,
        issues = names.issues,
    );
    client.batch_execute(&sql).await.map_err(Error::db(format!(
        "creating staging tables for batch {}",
        names.batch
    )))
}

/// What the streaming load saw.
#[derive(Debug, Default)]
pub struct LoadStats {
    pub records: u64,
    pub bytes: u64,
    pub sha256: String,
    /// Target columns with values only the server can judge.
    pub pending: std::collections::BTreeSet<String>,
    /// The row issues found while reading, as COPY text, spilled to a temporary file so
    /// memory stays flat however many rows are bad.
    pub issues: Option<std::fs::File>,
}

/// Text-format COPY encoding: tab-separated, `\N` for NULL, backslash escapes.
#[derive(Default)]
struct CopyEncoder {
    buf: BytesMut,
    first: bool,
}

impl CopyEncoder {
    fn field(&mut self, value: Option<&str>) {
        if !self.first {
            self.buf.put_u8(b'\t');
        }
        self.first = false;
        let Some(value) = value else {
            self.buf.put_slice(b"\\N");
            return;
        };
        let bytes = value.as_bytes();
        if !bytes
            .iter()
            .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
        {
            self.buf.put_slice(bytes);
            return;
        }
        for &b in bytes {
            match b {
                b'\\' => self.buf.put_slice(b"\\\\"),
                b'\t' => self.buf.put_slice(b"\\t"),
                b'\n' => self.buf.put_slice(b"\\n"),
                b'\r' => self.buf.put_slice(b"\\r"),
                _ => self.buf.put_u8(b),
            }
        }
    }

    fn int(&mut self, n: u64) {
        self.field(Some(&n.to_string()));
    }

    fn end_row(&mut self) {
        self.buf.put_u8(b'\n');
        self.first = true;
    }
}

const CHUNK: usize = 1 << 20;

/// Reads every record, runs the row checks and encodes the staging rows; runs on a blocking
/// thread and hands full buffers to the COPY.
fn encode_records(
    mut reader: SourceReader,
    binding: Arc<Binding>,
    nulls: Arc<Vec<String>>,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    cancel: Arc<AtomicBool>,
) -> Result<LoadStats> {
    let encoding = reader.options().encoding;
    let progress = reader.progress();
    let width = binding.header.len();
    let mut record = ByteRecord::new();
    let mut enc = CopyEncoder {
        first: true,
        ..Default::default()
    };
    let mut issues: Vec<RowIssue> = Vec::new();
    let mut records = 0u64;
    let mut pending = std::collections::BTreeSet::new();
    let spill_err = |source| Error::Io {
        path: std::env::temp_dir(),
        source,
    };
    let mut spill = tempfile::tempfile().map_err(spill_err)?;
    let mut issue_enc = CopyEncoder {
        first: true,
        ..Default::default()
    };
    while let Some(pos) = reader.next_record(&mut record)? {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled {
                what: "loading the file".into(),
            });
        }
        records += 1;
        progress.add_record();
        issues.clear();
        if record.len() != width {
            issues.push(RowIssue::new(
                None,
                "columns",
                Severity::Error,
                None,
                format!(
                    "the row has {} field{}, the header has {width}",
                    record.len(),
                    if record.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        let decoded: Vec<Option<std::result::Result<Cow<'_, str>, FieldProblem>>> = (0..width)
            .map(|i| record.get(i).map(|bytes| source::decode(bytes, encoding)))
            .collect();
        let mut broken = false;
        let mut fields: Vec<FieldValue<'_>> = Vec::with_capacity(width);
        for (i, field) in decoded.iter().enumerate() {
            fields.push(match field {
                None => FieldValue::Unusable,
                Some(Ok(text)) if nulls.iter().any(|n| n == text) => FieldValue::Null,
                Some(Ok(text)) => FieldValue::Text(text),
                Some(Err(problem)) => {
                    broken = true;
                    let column = binding.header.get(i).map(String::as_str);
                    let bytes = record.get(i).unwrap_or_default();
                    issues.push(RowIssue::new(
                        column,
                        problem.check(),
                        Severity::Error,
                        Some(&source::escape_bytes(bytes)),
                        problem.describe(pos.byte),
                    ));
                    FieldValue::Unusable
                }
            });
        }
        row::check_row(&binding, &fields, &mut issues);
        for issue in issues.iter().filter(|i| i.k == row::PENDING) {
            if let Some(c) = &issue.c
                && !pending.contains(c)
            {
                pending.insert(c.clone());
            }
        }

        for issue in &issues {
            issue_enc.int(pos.line);
            issue_enc.int(pos.ordinal);
            issue_enc.field(issue.c.as_deref());
            issue_enc.field(Some(issue.k));
            issue_enc.field(Some(issue.s));
            issue_enc.field(issue.v.as_deref());
            issue_enc.field(Some(&issue.m));
            issue_enc.end_row();
        }
        if issue_enc.buf.len() >= CHUNK {
            spill.write_all(&issue_enc.buf).map_err(spill_err)?;
            issue_enc.buf.clear();
        }
        enc.int(pos.line);
        enc.int(pos.ordinal);
        enc.int(pos.byte);
        if broken || record.len() != width {
            enc.field(Some(&raw_record(&record, reader.options().delimiter)));
        } else {
            enc.field(None);
        }
        for f in &fields {
            match f {
                FieldValue::Text(t) => enc.field(Some(t)),
                FieldValue::Null | FieldValue::Unusable => enc.field(None),
            }
        }
        enc.end_row();
        if enc.buf.len() >= CHUNK {
            let chunk = enc.buf.split().freeze();
            if tx.blocking_send(chunk).is_err() {
                break;
            }
        }
    }
    if !enc.buf.is_empty() {
        let _ = tx.blocking_send(enc.buf.split().freeze());
    }
    spill.write_all(&issue_enc.buf).map_err(spill_err)?;
    spill.flush().map_err(spill_err)?;
    spill.seek(std::io::SeekFrom::Start(0)).map_err(spill_err)?;
    Ok(LoadStats {
        records,
        bytes: progress.bytes(),
        sha256: progress.sha256().unwrap_or_default(),
        pending,
        issues: Some(spill),
    })
}

/// A record as text for the `_raw` column: fields re-joined with the delimiter, bytes that are
/// not UTF-8 shown as `\xNN`.
fn raw_record(record: &ByteRecord, delimiter: u8) -> String {
    let mut out = Vec::new();
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut out);
        let _ = writer.write_byte_record(record);
        let _ = writer.flush();
    }
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    source::escape_bytes(&out)
}

/// Streams the file into the batch's staging table with COPY. The reader, decoder and row
/// checks run on a blocking thread while this task feeds the server.
pub async fn load(
    client: &Client,
    names: &StageNames,
    reader: SourceReader,
    binding: Arc<Binding>,
    nulls: Vec<String>,
    cancel: Arc<AtomicBool>,
) -> Result<LoadStats> {
    let mut columns = String::from("\"_line\", \"_ord\", \"_byte\", \"_raw\"");
    for i in 0..binding.header.len() {
        columns.push_str(", ");
        columns.push_str(&stage_field(i));
    }
    let ctx = || Error::db(format!("loading batch {} into staging", names.batch));
    let sink = client
        .copy_in::<_, Bytes>(&format!("COPY {} ({columns}) FROM STDIN", names.raw))
        .await
        .map_err(ctx())?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let nulls = Arc::new(nulls);
    let producer =
        tokio::task::spawn_blocking(move || encode_records(reader, binding, nulls, tx, cancel));
    futures_util::pin_mut!(sink);
    let mut send_error = None;
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = sink.send(chunk).await {
            send_error = Some(e);
            break;
        }
    }
    drop(rx);
    let stats = producer.await.map_err(|e| Error::File {
        path: std::path::PathBuf::from("(reader)"),
        problem: format!("the reader stopped unexpectedly: {e}"),
    })?;
    if let Some(e) = send_error {
        return Err(ctx()(e));
    }
    // Dropping an unfinished sink aborts the COPY; on success, finish it.
    let mut stats = stats?;
    sink.finish().await.map_err(ctx())?;
    if let Some(spill) = stats.issues.take() {
        copy_issues(client, names, spill).await?;
    }
    Ok(stats)
}

/// Streams the spilled row issues into the batch's issues table.
async fn copy_issues(client: &Client, names: &StageNames, mut spill: std::fs::File) -> Result<()> {
    let ctx = || Error::db(format!("recording the row issues of batch {}", names.batch));
    let sink = client
        .copy_in::<_, Bytes>(&format!(
            "COPY {} (line, ord, \"column\", \"check\", severity, value, message) FROM STDIN",
            names.issues
        ))
        .await
        .map_err(ctx())?;
    futures_util::pin_mut!(sink);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = spill.read(&mut buf).map_err(|source| Error::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        if n == 0 {
            break;
        }
        sink.send(Bytes::copy_from_slice(&buf[..n]))
            .await
            .map_err(ctx())?;
    }
    sink.finish().await.map_err(ctx())?;
    Ok(())
}
