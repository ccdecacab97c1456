//! `export`: the quarantined rows as CSV for the partner — line, column, check, value,
//! message, then the row's own fields under the file's header.
use std::io::Write;
use std::path::Path;

use futures_util::StreamExt;
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::layout::StageNames;
use crate::layout::stage_field;

/// Writes one CSV row per problem of every quarantined row; returns how many were written.
/// The file appears whole or not at all (written aside, then renamed).
pub async fn quarantined(client: &Client, id: i64, out: &Path) -> Result<u64> {
    let row = client
        .query_opt(
            "SELECT header, to_char(staging_lost_at AT TIME ZONE 'UTC', \
                 'YYYY-MM-DD HH24:MI:SS \"UTC\"') FROM airlock.batches WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(Error::db(format!("reading batch {id}")))?
        .ok_or(Error::BatchNotFound { id })?;
    let header: Vec<String> = serde_json::from_value(row.get(0)).unwrap_or_default();
    if let Some(at) = row.get::<_, Option<String>>(1) {
        return Err(Error::File {
            path: out.to_owned(),
            problem: format!("batch {id}: {}", crate::batch::lost_message(&at)),
        });
    }
    let staged: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("airlock_stage.batch_{id}_issues")],
        )
        .await
        .map_err(Error::db(format!("reading batch {id}")))?
        .get(0);
    if !staged {
        return Err(Error::File {
            path: out.to_owned(),
            problem: format!(
                "batch {id} has no staged issues to export (it never finished loading, or its staging was dropped)"
            ),
        });
    }
    let names = StageNames::new(id);
    let fields: String = (0..header.len())
        .map(|i| format!(", s.{}", stage_field(i)))
        .collect();
    let parts = crate::batch::parts(client, id).await?;
    // A batch of several files names each row's file, and its line there.
    let (file_column, line, part_join) = match parts.is_multi() {
        true => (
            "p.name, ",
            "i.line - p.base",
            format!(
                " LEFT JOIN LATERAL (SELECT x.name, x.base FROM airlock.batches b, \
                   jsonb_to_recordset(b.parts) AS x(name text, base bigint) \
                   WHERE b.id = {id} AND x.base < i.line ORDER BY x.base DESC LIMIT 1) p ON true"
            ),
        ),
        false => ("", "i.line", String::new()),
    };
    let query = format!(
        "COPY (SELECT {file_column}{line}, i.\"column\", i.\"check\", i.value, i.message{fields} \
               FROM {issues} i JOIN {raw} s ON s.\"_ord\" = i.ord{part_join} \
               WHERE i.severity = 'error' ORDER BY i.line, i.id) \
         TO STDOUT WITH (FORMAT csv)",
        issues = names.issues,
        raw = names.raw,
    );
    let io_err = |source| Error::Io {
        path: out.to_owned(),
        cause: source,
    };
    let tmp = out.with_extension("airlock-partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io_err)?);
    let mut head = csv::Writer::from_writer(Vec::new());
    let mut columns = match parts.is_multi() {
        true => vec!["file"],
        false => vec![],
    };
    columns.extend(["line", "column", "check", "value", "message"]);
    columns.extend(header.iter().map(String::as_str));
    head.write_record(&columns).map_err(|e| Error::File {
        path: out.to_owned(),
        problem: e.to_string(),
    })?;
    let head = head.into_inner().map_err(|e| Error::File {
        path: out.to_owned(),
        problem: e.to_string(),
    })?;
    file.write_all(&head).map_err(io_err)?;
    let stream = client.copy_out(&query).await.map_err(Error::db(format!(
        "exporting the quarantined rows of batch {id}"
    )))?;
    futures_util::pin_mut!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Error::db("exporting the quarantined rows"))?;
        file.write_all(&chunk).map_err(io_err)?;
    }
    file.flush().map_err(io_err)?;
    drop(file);
    std::fs::rename(&tmp, out).map_err(io_err)?;
    let written: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM {} WHERE severity = 'error'",
                names.issues
            ),
            &[],
        )
        .await
        .map_err(Error::db("counting exported rows"))?
        .get(0);
    Ok(written as u64)
}
