//! Staging: Airlock's catalog (`airlock.batches`, `airlock.decisions`), the per-batch UNLOGGED
//! staging and issues tables in `airlock_stage`, and the streaming load that fills them with
//! COPY while the row checks run on another core.
mod encode;

use std::io::Read;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::{Client, GenericClient};

use crate::db::ident;
use crate::error::{Error, Result};
use crate::layout::{
    BYTE_COLUMN, LINE_COLUMN, ORD_COLUMN, STAGE_SCHEMA, StageNames, parsed_field, source_field,
    stage_field,
};
use crate::validate::binding::Binding;

use encode::{CHUNK, TypedOut};
pub use encode::{Fast, Reading, lookup_severity};

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
-- Version 4: a good row's source fields are kept beside its typed values. Older batches'
-- typed rows tables gain the columns, empty: their staging tables hold every record.
DO $$
DECLARE
    t record;
    n integer;
BEGIN
    FOR t IN SELECT c.relname, regexp_replace(c.relname, '_rows$', '') AS raw
             FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
             WHERE s.nspname = 'airlock_stage' AND c.relkind = 'r'
               AND c.relname ~ '^batch_[0-9]+_rows$'
               AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                               WHERE a.attrelid = c.oid AND a.attname = '__byte')
    LOOP
        EXECUTE format('ALTER TABLE airlock_stage.%I ADD COLUMN "__byte" bigint', t.relname);
        SELECT count(*) INTO n FROM pg_attribute a
        WHERE a.attrelid = to_regclass(format('airlock_stage.%I', t.raw))
          AND a.attname ~ '^f[0-9]+$' AND NOT a.attisdropped;
        FOR i IN 1..n LOOP
            EXECUTE format('ALTER TABLE airlock_stage.%I ADD COLUMN %I text', t.relname, '__f' || i);
        END LOOP;
    END LOOP;
END $$;
-- Version 5: the audit log refuses TRUNCATE too (row triggers do not see it; a TRUNCATE of
-- airlock.batches must cascade here and is refused with it); when a server restart emptied
-- a batch's UNLOGGED staging, the batch says so.
DROP TRIGGER IF EXISTS decisions_no_truncate ON airlock.decisions;
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON airlock.decisions
    FOR EACH STATEMENT EXECUTE FUNCTION airlock.decisions_append_only();
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS staging_lost_at timestamptz;
-- Version 6: how the file was compressed, the size of its text, what the parsing rules changed,
-- and the check of a generated column's expression row by row.
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS compression text;
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS text_size bigint;
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS conversions jsonb NOT NULL DEFAULT '[]';
-- The ordinals of the rows of `rel` between `lo` and `hi` whose value of `expr` as `typ` the
-- server refuses (or, with `not_null`, is NULL), each computed in its own exception block,
-- with the server's message. `expr` and `typ` come from the server's own catalog (a generated
-- column's expression and type), never from a file.
CREATE OR REPLACE FUNCTION airlock.expression_errors(rel regclass, expr text, typ text,
                                                     lo bigint, hi bigint, not_null boolean)
RETURNS TABLE (ord bigint, message text) LANGUAGE plpgsql AS $$
DECLARE
    o bigint;
    v text;
    q text := format('SELECT ((%s)::%s)::text FROM %s r WHERE "__ord" = $1', expr, typ, rel);
BEGIN
    FOR o IN EXECUTE format('SELECT "__ord" FROM %s WHERE "__ord" BETWEEN $1 AND $2 ORDER BY 1', rel)
             USING lo, hi LOOP
        BEGIN
            EXECUTE q INTO v USING o;
            IF not_null AND v IS NULL THEN
                ord := o;
                message := 'the value is NULL, but the column is NOT NULL';
                RETURN NEXT;
            END IF;
        EXCEPTION WHEN others THEN
            ord := o;
            message := SQLERRM;
            RETURN NEXT;
        END;
    END LOOP;
END $$;
-- Version 7: the format the file was read in, and the parts of a batch of several files.
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS format text;
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS parts jsonb NOT NULL DEFAULT '[]';
-- and insert mode.
ALTER TABLE airlock.batches DROP CONSTRAINT IF EXISTS batches_mode_check;
ALTER TABLE airlock.batches ADD CONSTRAINT batches_mode_check
    CHECK (mode IN ('upsert', 'swap', 'insert', 'mirror', 'append'));
-- A batch line as a person finds it: `part-002.csv:40` for a batch of several files (its
-- parts' bases), else the line.
CREATE OR REPLACE FUNCTION airlock.place(bigint, bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT x.name || ':' || ($2 - x.base)
                     FROM airlock.batches b,
                          jsonb_to_recordset(b.parts) AS x(name text, base bigint)
                     WHERE b.id = $1 AND x.base < $2 ORDER BY x.base DESC LIMIT 1),
                    $2::text)
$$;
-- Version 8: what a promotion kept for undo besides a replaced table (see promote/undo.rs).
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS undo jsonb;
-- Version 9: each source column's profile, gathered while reading (see profile.rs).
ALTER TABLE airlock.batches ADD COLUMN IF NOT EXISTS profile jsonb;
-- Version 10: a quarantined batch can be released, with a note, back to a decision.
ALTER TABLE airlock.decisions DROP CONSTRAINT IF EXISTS decisions_decision_check;
ALTER TABLE airlock.decisions ADD CONSTRAINT decisions_decision_check
    CHECK (decision IN ('approve', 'quarantine', 'abort', 'undo', 'hold', 'release'));
COMMENT ON SCHEMA airlock IS 'Airlock catalog, version 10';
"#;

const CATALOG_VERSION: &str = "Airlock catalog, version 10";

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

/// Indexes a batch for browsing, once: what the review's summary, filters, row pages, row
/// detail and bisection look rows up by. Issues by line, ordinal and check; staging and the
/// typed rows by ordinal. The typed rows are written in file order, so a BRIN index finds
/// one in a few pages at a fraction of a btree's cost; staging gains the rows set aside
/// after the load at its end, so it gets a btree. Built the first time a batch is browsed or
/// bisected, never by a check or a headless run that promotes at once. The issues' indexes
/// bear the names the server gives unnamed ones, which batches before this built at check.
pub async fn index_for_browsing(client: &impl GenericClient, names: &StageNames) -> Result<()> {
    let batch = names.batch;
    let ctx = || Error::db(format!("indexing staging of batch {batch}"));
    let bare = |suffix: &str| format!("batch_{batch}{suffix}");
    let indexes = [
        bare("_ord"),
        bare("_rows_ord"),
        bare("_issues_line_id_idx"),
        bare("_issues_ord_idx"),
        bare("_issues_check_column_ord_idx"),
    ];
    let qualified: Vec<String> = indexes
        .iter()
        .map(|i| format!("{}.{}", ident(STAGE_SCHEMA), ident(i)))
        .collect();
    let built: bool = client
        .query_one(
            "SELECT bool_and(to_regclass(i) IS NOT NULL) FROM unnest($1::text[]) AS i",
            &[&qualified],
        )
        .await
        .map_err(ctx())?
        .get(0);
    if built {
        return Ok(());
    }
    let [raw_ord, rows_ord, line_id, ord, check] = indexes.map(|i| ident(&i));
    client
        .batch_execute(&format!(
            "CREATE INDEX IF NOT EXISTS {raw_ord} ON {raw} (\"_ord\"); \
             CREATE INDEX IF NOT EXISTS {rows_ord} ON {rows} USING brin ({ord_column}) \
                 WITH (pages_per_range = 16); \
             CREATE INDEX IF NOT EXISTS {line_id} ON {issues} (line, id); \
             CREATE INDEX IF NOT EXISTS {ord} ON {issues} (ord); \
             CREATE INDEX IF NOT EXISTS {check} ON {issues} (\"check\", \"column\", ord) \
                 WHERE severity = 'error'; \
             ANALYZE {raw}; ANALYZE {issues};",
            raw = names.raw,
            rows = names.rows,
            issues = names.issues,
            ord_column = ident(ORD_COLUMN),
        ))
        .await
        .map_err(ctx())
}

/// Where every record of a batch can be read once: the `records` view, or staging for a
/// batch from before the view, whose staging holds every record.
pub async fn records_relation<'a>(
    client: &impl GenericClient,
    names: &'a StageNames,
) -> Result<&'a str> {
    let has_view: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&names.records])
        .await
        .map_err(Error::db(format!(
            "reading staging of batch {}",
            names.batch
        )))?
        .get(0);
    Ok(if has_view { &names.records } else { &names.raw })
}

/// Empties a batch's staging, issues and typed rows tables, to load the file again.
pub async fn empty_tables(client: &Client, names: &StageNames) -> Result<()> {
    client
        .batch_execute(&format!(
            "TRUNCATE {}, {}, {}",
            names.raw, names.issues, names.rows
        ))
        .await
        .map_err(Error::db(format!(
            "emptying staging of batch {}",
            names.batch
        )))
}

/// Creates the staging, issues and typed rows tables of a batch. The typed rows get
/// statistics only when the promotion decides (`promote::order`): an automatic analyze would
/// change how its `MERGE` is planned by how long the batch waited for review.
pub async fn create_tables(client: &Client, names: &StageNames, binding: &Binding) -> Result<()> {
    let fields = binding.header.len();
    let mut cols = String::from(
        "\"_line\" bigint NOT NULL, \"_ord\" bigint NOT NULL, \"_byte\" bigint NOT NULL, \
         \"_raw\" text",
    );
    for i in 0..fields {
        cols.push_str(&format!(", {} text", stage_field(i)));
    }
    for i in binding.parsed_sources() {
        cols.push_str(&format!(", {} text", parsed_field(i)));
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
             message text NOT NULL);
         CREATE UNLOGGED TABLE {rows} ({typed}) WITH (autovacuum_enabled = false);
         CREATE VIEW {records} AS SELECT {staged} FROM {raw} \
             UNION ALL SELECT {line}, {ord}, {byte}, NULL{kept} FROM {rows} WHERE {byte} IS NOT NULL;",
        raw = names.raw,
        issues = names.issues,
        rows = names.rows,
        records = names.records,
        typed = rows_definition(binding),
        staged = std::iter::once("\"_line\", \"_ord\", \"_byte\", \"_raw\"".to_string())
            .chain((0..fields).map(stage_field))
            .collect::<Vec<_>>()
            .join(", "),
        line = ident(LINE_COLUMN),
        ord = ident(ORD_COLUMN),
        byte = ident(BYTE_COLUMN),
        kept = (0..fields)
            .map(|i| format!(", {}", kept_field(binding, i)))
            .collect::<String>(),
    );
    client.batch_execute(&sql).await.map_err(Error::db(format!(
        "creating staging tables for batch {}",
        names.batch
    )))
}

/// The typed rows table: the record's line and ordinal, each bound column as the type its
/// values are cast to, then the record's byte offset and source fields (when kept here).
fn rows_definition(binding: &Binding) -> String {
    let mut columns = vec![
        format!("{} bigint NOT NULL", ident(LINE_COLUMN)),
        format!("{} bigint NOT NULL", ident(ORD_COLUMN)),
    ];
    columns.extend(
        binding
            .columns
            .iter()
            .map(|c| format!("{} {}", ident(&c.target), c.cast_sql)),
    );
    columns.push(format!("{} bigint", ident(BYTE_COLUMN)));
    columns.extend((0..binding.header.len()).map(|i| format!("{} text", source_field(i))));
    columns.join(", ")
}

/// What the streaming load saw.
#[derive(Debug, Default)]
pub struct LoadStats {
    pub records: u64,
    /// The file's bytes as received (compressed, when it is).
    pub bytes: u64,
    /// The text they hold.
    pub text_bytes: u64,
    pub sha256: String,
    /// Target columns with values only the server can judge.
    pub pending: std::collections::BTreeSet<String>,
    /// The row issues found while reading, as COPY text, spilled to a temporary file so
    /// memory stays flat however many rows are bad.
    pub issues: Option<std::fs::File>,
    /// The good rows in the target's shape (COPY text), when they were written while reading.
    pub typed: Option<std::fs::File>,
    /// The ordinals of the good rows whose key may repeat (sorted; every row whose key
    /// repeats is among them); `None` when every row must be grouped.
    pub candidates: Option<Vec<i64>>,
    /// What the columns' parsing rules changed.
    pub conversions: Vec<Conversion>,
    /// Each source column's profile, as the file has it.
    pub profile: Vec<crate::profile::ColumnProfile>,
    /// How the (first) file was compressed.
    pub compression: crate::source::Compression,
    /// The parts of an input of several files.
    pub parts: Vec<crate::source::parts::Part>,
}

/// How many values one column's parsing rules changed, with the first as an example
/// (`price`: 287 values, `1.299,00 €` → `1299.00`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Conversion {
    pub column: String,
    /// The column's rules that did it, as the spec says them.
    #[serde(default)]
    pub rules: String,
    pub rows: u64,
    pub from: String,
    pub to: String,
}

/// How the typed rows table was filled while loading.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum TypedLoad {
    /// Not written while reading: SQL builds the typed rows from staging.
    #[default]
    NotWritten,
    /// The good rows are in; only rows with undecided values remain for SQL.
    Written,
    /// The server refused a value the Rust rules accepted: SQL must judge every value.
    Refused,
}

/// Reads, checks and encodes every record as [`load`] does, for an engine that reads the
/// same text (ClickHouse's TabSeparated reads COPY's text format): staging rows go to `tx`
/// and, with `reading.fast`, the good rows to `typed`, both in chunks while reading (an empty
/// chunk ends the typed rows); the row issues are spooled to a temporary file, returned in
/// the stats.
pub(crate) fn encode_streamed(
    reading: Reading,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    typed: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<LoadStats> {
    let out = reading.fast.is_some().then(|| TypedOut::Stream {
        tx: typed,
        enc: Default::default(),
    });
    encode::encode_records(reading, out, tx)
}

/// The staging table's columns, in the order the load writes them.
pub(crate) fn staging_columns(binding: &Binding) -> Vec<String> {
    let mut columns: Vec<String> = ["_line", "_ord", "_byte", "_raw"]
        .iter()
        .map(|c| ident(c))
        .collect();
    columns.extend((0..binding.header.len()).map(stage_field));
    columns.extend(binding.parsed_sources().into_iter().map(parsed_field));
    columns
}

/// Streams the file into the batch's staging table with COPY. The reader, decoder and row
/// checks run on a blocking thread while this task feeds the server. With `fast`, the good
/// rows are written to the typed rows table too: through `second` at the same time, when
/// there is a second connection, else spooled and copied after staging.
#[allow(clippy::too_many_arguments)]
pub async fn load(
    client: &Client,
    second: Option<&Client>,
    names: &StageNames,
    reading: Reading,
) -> Result<(LoadStats, TypedLoad)> {
    let binding = reading.binding.clone();
    let columns = staging_columns(&binding).join(", ");
    let ctx = || Error::db(format!("loading batch {} into staging", names.batch));
    let typed_ctx = || Error::db(format!("writing the typed rows of batch {}", names.batch));
    let typed_into = format!("{} ({})", names.rows, rows_columns(&binding));
    let sink = client
        .copy_in::<_, Bytes>(&format!("COPY {} ({columns}) FROM STDIN", names.raw))
        .await
        .map_err(ctx())?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let (typed_out, typed_rx) = match (&reading.fast, second) {
        (None, _) => (None, None),
        (Some(_), None) => (Some(TypedOut::Spill(encode::Spill::new()?)), None),
        (Some(_), Some(_)) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
            let enc = Default::default();
            (Some(TypedOut::Stream { tx, enc }), Some(rx))
        }
    };
    let producer =
        tokio::task::spawn_blocking(move || encode::encode_records(reading, typed_out, tx));
    futures_util::pin_mut!(sink);
    let staging = async {
        while let Some(chunk) = rx.recv().await {
            if let Err(e) = sink.send(chunk).await {
                // Stops the reader, which would otherwise wait for room in the channel.
                rx.close();
                return Err(e);
            }
        }
        Ok(())
    };
    let typed = async {
        match (second, typed_rx) {
            (Some(second), Some(typed_rx)) => {
                Some(stream_typed(second, &typed_into, typed_rx).await)
            }
            _ => None,
        }
    };
    let (staged, streamed) = tokio::join!(staging, typed);
    drop(rx);
    let stats = producer.await.map_err(|e| Error::File {
        path: std::path::PathBuf::from("(reader)"),
        problem: format!("the reader stopped unexpectedly: {e}"),
    })?;
    staged.map_err(ctx())?;
    // Dropping an unfinished sink aborts the COPY; on success, finish it.
    let mut stats = stats?;
    sink.finish().await.map_err(ctx())?;
    if let Some(spill) = stats.issues.take() {
        let into = format!(
            "{} (line, ord, \"column\", \"check\", severity, value, message)",
            names.issues
        );
        copy_spill(client, &into, spill)
            .await?
            .map_err(Error::db(format!(
                "recording the row issues of batch {}",
                names.batch
            )))?;
    }
    let written = match (streamed, stats.typed.take()) {
        (Some(result), _) => Some(result),
        (None, Some(spill)) => Some(copy_spill(client, &typed_into, spill).await?),
        (None, None) => None,
    };
    let typed = match written {
        None => TypedLoad::NotWritten,
        Some(Ok(())) => TypedLoad::Written,
        // A value the Rust rules accepted was refused by the server's input function.
        // That is a gap in the rules, never a reason to fail: the COPY wrote nothing, and
        // SQL judges every value instead.
        Some(Err(e)) if e.code().is_some_and(|c| c.code().starts_with("22")) => TypedLoad::Refused,
        Some(Err(e)) => return Err(typed_ctx()(e)),
    };
    Ok((stats, typed))
}

/// Feeds the typed rows COPY on the second connection until the reader's end marker (an
/// empty chunk). A channel that closes without it means the load failed: the COPY is then
/// dropped unfinished, which aborts it.
async fn stream_typed(
    second: &Client,
    into: &str,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> std::result::Result<(), tokio_postgres::Error> {
    let sink = second
        .copy_in::<_, Bytes>(&format!("COPY {into} FROM STDIN"))
        .await?;
    futures_util::pin_mut!(sink);
    while let Some(chunk) = rx.recv().await {
        if chunk.is_empty() {
            sink.finish().await?;
            return Ok(());
        }
        sink.send(chunk).await?;
    }
    // Aborted: whatever the load reports is the error that matters.
    Ok(())
}

/// The typed rows table's columns, in the order the load writes them.
pub(crate) fn rows_columns(binding: &Binding) -> String {
    let mut columns = vec![ident(LINE_COLUMN), ident(ORD_COLUMN)];
    columns.extend(binding.columns.iter().map(|c| ident(&c.target)));
    columns.push(ident(BYTE_COLUMN));
    columns.extend((0..binding.header.len()).map(source_field));
    columns.join(", ")
}

/// A good row's source field `index` in the typed rows table: the kept copy, or, where the
/// load left it NULL because the typed value prints it back exactly, that value as text.
pub fn kept_field(binding: &Binding, index: usize) -> String {
    match binding.fed_directly(index) {
        Some(col) => format!(
            "COALESCE({}, {}::text)",
            source_field(index),
            ident(&col.target)
        ),
        None => source_field(index),
    }
}

/// The statement tail that deletes typed rows matching `condition` and moves the source
/// fields kept with them to staging, so a row set aside is browsed like any other. Goes
/// after the statement's own `WITH` parts.
pub fn delete_rows_keeping_source(
    names: &StageNames,
    binding: &Binding,
    condition: &str,
) -> String {
    let fields = binding.header.len();
    let staged: Vec<String> = (0..fields).map(stage_field).collect();
    let kept: Vec<String> = (0..fields).map(source_field).collect();
    format!(
        "gone AS (DELETE FROM {rows} WHERE {condition} \
                  RETURNING {line}, {ord}, {byte}{returned}) \
         INSERT INTO {raw} (\"_line\", \"_ord\", \"_byte\"{staged}) \
         SELECT {line}, {ord}, {byte}{kept} FROM gone WHERE {byte} IS NOT NULL",
        rows = names.rows,
        raw = names.raw,
        line = ident(LINE_COLUMN),
        ord = ident(ORD_COLUMN),
        byte = ident(BYTE_COLUMN),
        returned = (0..fields)
            .map(|i| format!(", {} AS {}", kept_field(binding, i), source_field(i)))
            .collect::<String>(),
        kept = kept.iter().map(|k| format!(", {k}")).collect::<String>(),
        staged = staged.iter().map(|k| format!(", {k}")).collect::<String>(),
    )
}

/// Streams a spilled COPY text file into `into` (a table and its column list). The outer
/// error is the spill file failing; the inner one the server refusing the data.
async fn copy_spill(
    client: &Client,
    into: &str,
    mut spill: std::fs::File,
) -> Result<std::result::Result<(), tokio_postgres::Error>> {
    let sink = match client
        .copy_in::<_, Bytes>(&format!("COPY {into} FROM STDIN"))
        .await
    {
        Ok(sink) => sink,
        Err(e) => return Ok(Err(e)),
    };
    futures_util::pin_mut!(sink);
    let mut buf = vec![0u8; CHUNK];
    loop {
        // Returning early drops the sink, which aborts the COPY: nothing half-written stays.
        let n = spill.read(&mut buf).map_err(|source| Error::Io {
            path: std::env::temp_dir(),
            cause: source,
        })?;
        if n == 0 {
            break;
        }
        if let Err(e) = sink.send(Bytes::copy_from_slice(&buf[..n])).await {
            return Ok(Err(e));
        }
    }
    Ok(sink.finish().await.map(|_| ()))
}
