//! Staging on ClickHouse: a batch's three tables in `airlock_stage`, laid out as on PostgreSQL
//! (`crate::layout`), and the streaming load that fills them. The reader, decoder, row checks
//! and lookups are PostgreSQL's own (`crate::stage`): their COPY text is what ClickHouse's
//! TabSeparated reads, and each typed value is sent in the form ClickHouse's rules give it.
use std::sync::Arc;

use bytes::Bytes;

use super::client::{ClickHouse, ident, quote};
use crate::error::{Error, Result};
use crate::layout::{BYTE_COLUMN, LINE_COLUMN, ORD_COLUMN, StageNames, source_field};
use crate::stage::{self, LoadStats, Reading};
use crate::validate::binding::{Binding, BoundColumn};
use crate::validate::lookup::{LookupMap, MAX_IN_MEMORY_ROWS};

/// Lookup tables on ClickHouse are read into memory up to this many rows.
const MAX_LOOKUP_ROWS: i64 = 10 * MAX_IN_MEMORY_ROWS;

/// Creates the batch's staging (every record with an issue, as text), issues and typed rows
/// tables (the good rows as the target's types, with their source fields).
pub async fn create_tables(ch: &ClickHouse, names: &StageNames, binding: &Binding) -> Result<()> {
    let context = format!("creating staging tables for batch {}", names.batch);
    let text = |c: String| format!("{c} Nullable(String)");
    let mut raw = vec![
        "`_line` Int64".to_string(),
        "`_ord` Int64".to_string(),
        "`_byte` Nullable(Int64)".to_string(),
        "`_raw` Nullable(String)".to_string(),
    ];
    raw.extend(
        stage::staging_columns(binding)
            .into_iter()
            .skip(4)
            .map(|c| text(ch_name(&c))),
    );
    let mut typed = vec![
        format!("{} Int64", ident(LINE_COLUMN)),
        format!("{} Int64", ident(ORD_COLUMN)),
    ];
    typed.extend(
        binding
            .columns
            .iter()
            .map(|c| format!("{} {}", ident(&c.target), staged_type(c))),
    );
    typed.push(format!("{} Nullable(Int64)", ident(BYTE_COLUMN)));
    typed.extend((0..binding.header.len()).map(|i| text(ch_name(&source_field(i)))));
    for sql in [
        format!(
            "CREATE TABLE {} ({}) ENGINE = MergeTree ORDER BY `_ord`",
            names.raw,
            raw.join(", ")
        ),
        format!(
            "CREATE TABLE {} (line Int64, ord Int64, `column` Nullable(String), \
             `check` String, severity LowCardinality(String), value Nullable(String), \
             message String) ENGINE = MergeTree ORDER BY (ord, `check`)",
            names.issues
        ),
        format!(
            "CREATE TABLE {} ({}) ENGINE = MergeTree ORDER BY {}",
            names.rows,
            typed.join(", "),
            ident(ORD_COLUMN)
        ),
    ] {
        ch.execute(&sql, &context).await?;
    }
    Ok(())
}

/// The type a column's values are staged as: its own, but a date-time in UTC, the form its
/// values are sent in (`super::datetime`).
fn staged_type(c: &BoundColumn) -> String {
    match &c.value_rule {
        crate::validate::types::TypeRule::ClickHouse(t) => match &t.base {
            super::types::ChType::DateTime { precision, .. } => {
                super::datetime::staged_type(*precision, t.nullable)
            }
            _ => c.type_sql.clone(),
        },
        _ => c.type_sql.clone(),
    }
}

/// A name the layout quoted for PostgreSQL (`"f1"`), quoted for ClickHouse.
pub(super) fn ch_name(quoted: &str) -> String {
    ident(&quoted.trim_matches('"').replace("\"\"", "\""))
}

/// Each column's lookup table, read into memory (ClickHouse is read whole, up to
/// [`MAX_LOOKUP_ROWS`]; a larger one is refused with the reason).
pub async fn lookups(ch: &ClickHouse, binding: &Binding) -> Result<Vec<Option<Arc<LookupMap>>>> {
    let mut maps = Vec::new();
    for col in &binding.columns {
        maps.push(match &col.lookup {
            None => None,
            Some(_) => Some(Arc::new(lookup(ch, col).await?)),
        });
    }
    Ok(maps)
}

async fn lookup(ch: &ClickHouse, col: &BoundColumn) -> Result<LookupMap> {
    let Some(l) = &col.lookup else {
        return Ok(LookupMap::from_rows(col, []));
    };
    let context = format!("reading lookup table {}", l.table_display);
    let rows = ch
        .rows(
            &format!(
                "SELECT toString({m}), toString({v}) FROM {table} WHERE {m} IS NOT NULL \
                 LIMIT {limit}",
                m = ident(&l.match_column),
                v = ident(&l.value_column),
                table = l.table_sql,
                limit = MAX_LOOKUP_ROWS + 1
            ),
            &context,
        )
        .await?;
    if rows.len() as i64 > MAX_LOOKUP_ROWS {
        return Err(Error::ClickHouse {
            context,
            message: format!(
                "it has more than {MAX_LOOKUP_ROWS} rows; on ClickHouse Airlock reads lookup tables into memory, up to that size"
            ),
        });
    }
    Ok(LookupMap::from_rows(
        col,
        rows.into_iter().map(|r| {
            let mut r = r.into_iter();
            (r.next().flatten().unwrap_or_default(), r.next().flatten())
        }),
    ))
}

/// Streams the file into staging, and the good rows into the typed rows, while the row
/// checks run on a blocking thread; then adds the row issues, spooled while reading.
pub async fn load(ch: &ClickHouse, names: &StageNames, reading: Reading) -> Result<LoadStats> {
    let binding = reading.binding.clone();
    let context = format!("loading batch {} into staging", names.batch);
    let columns: Vec<String> = stage::staging_columns(&binding)
        .iter()
        .map(|c| ch_name(c))
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let (typed_tx, typed_rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let producer = tokio::task::spawn_blocking(move || {
        let stats = stage::encode_streamed(reading, tx.clone(), typed_tx);
        if stats.is_ok() {
            let _ = tx.blocking_send(Bytes::new());
        }
        stats
    });
    let insert = format!(
        "INSERT INTO {} ({}) FORMAT TabSeparated",
        names.raw,
        columns.join(", ")
    );
    let typed_columns: Vec<String> = stage::rows_columns(&binding)
        .split(", ")
        .map(ch_name)
        .collect();
    let typed_insert = format!(
        "INSERT INTO {} ({}) FORMAT TabSeparated",
        names.rows,
        typed_columns.join(", ")
    );
    let typed_context = format!("writing the typed rows of batch {}", names.batch);
    // Staging and the typed rows stream at once, as the file is read.
    let (staged, typed) = tokio::join!(
        ch.insert_channel(&insert, rx, &context),
        ch.insert_channel(&typed_insert, typed_rx, &typed_context)
    );
    let stats = producer.await.map_err(|e| Error::File {
        path: std::path::PathBuf::from("(reader)"),
        problem: format!("the reader stopped unexpectedly: {e}"),
    })??;
    staged?;
    typed?;
    let mut stats = stats;
    if let Some(issues) = stats.issues.take() {
        ch.insert_file(
            &format!(
                "INSERT INTO {} (line, ord, `column`, `check`, severity, value, message) \
                 FORMAT TabSeparated",
                names.issues
            ),
            issues,
            &format!("recording the row issues of batch {}", names.batch),
        )
        .await?;
    }
    Ok(stats)
}

/// Moves the typed rows whose ordinal has an issue of `severities` back to staging (their
/// source fields with them, so they are browsed like any other set-aside row) and out of the
/// typed rows.
pub async fn set_aside(
    ch: &ClickHouse,
    names: &StageNames,
    binding: &Binding,
    severities: &[&str],
) -> Result<()> {
    let context = format!("setting rows of batch {} aside", names.batch);
    let list: Vec<String> = severities.iter().map(|s| quote(s)).collect();
    let bad = format!(
        "(SELECT ord FROM {} WHERE severity IN ({}))",
        names.issues,
        list.join(", ")
    );
    let fields: Vec<String> = (0..binding.header.len())
        .map(|i| ch_name(&source_field(i)))
        .collect();
    let staged: Vec<String> = stage::staging_columns(binding)
        .iter()
        .take(4 + binding.header.len())
        .map(|c| ch_name(c))
        .collect();
    ch.execute(
        &format!(
            "INSERT INTO {raw} ({staged}) SELECT {line}, {ord}, {byte}, NULL{fields} \
             FROM {rows} WHERE {ord} IN {bad} AND {byte} IS NOT NULL",
            raw = names.raw,
            staged = staged.join(", "),
            line = ident(LINE_COLUMN),
            ord = ident(ORD_COLUMN),
            byte = ident(BYTE_COLUMN),
            fields = fields.iter().map(|f| format!(", {f}")).collect::<String>(),
            rows = names.rows,
        ),
        &context,
    )
    .await?;
    ch.execute(
        &format!(
            "DELETE FROM {} WHERE {} IN {bad}",
            names.rows,
            ident(ORD_COLUMN)
        ),
        &context,
    )
    .await
}
