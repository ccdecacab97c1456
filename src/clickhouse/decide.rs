//! The decisions on a ClickHouse batch that leave production as it is — abort, quarantine,
//! release — each an allowed move of its state (`State::may_become`, the one home of
//! the batch's transitions) recorded with the person's note; and the export of its
//! quarantined rows for the partner, in the same CSV as on PostgreSQL.
use std::io::Write;
use std::path::Path;

use super::ClickHouse;
use super::batches;
use super::client::ident;
use super::promote::{self, reconcile};
use crate::batch::State;
use crate::error::{Error, Result};
use crate::layout::{STAGE_SCHEMA, StageNames, stage_field};

/// Moves batch `id` to `to` with an audit entry, when its state may become that.
pub async fn decide(
    ch: &ClickHouse,
    id: i64,
    decision: &str,
    to: State,
    note: Option<&str>,
) -> Result<()> {
    batches::ensure_catalog(ch).await?;
    reconcile(ch).await?;
    let mut batch = batches::load(ch, id).await?;
    let from = batch.summary.state;
    if !from.may_become(to) {
        return Err(Error::BatchState {
            id,
            state: from.to_string(),
            action: action_name(decision),
            expected: allowed_from(to),
        });
    }
    batch.summary.state = to;
    batch.summary.decisions.push(promote::decision(
        ch,
        decision,
        note.map(str::to_string),
        None,
    ));
    batches::record(ch, &batch).await
}

/// The action's name, for the error (a fixed set of words).
fn action_name(decision: &str) -> &'static str {
    match decision {
        "abort" => "abort",
        "quarantine" => "quarantine",
        "release" => "release",
        _ => "decide",
    }
}

/// The states that may become `to`, for a message.
fn allowed_from(to: State) -> String {
    let from: Vec<&str> = State::ALL
        .into_iter()
        .filter(|s| s.may_become(to))
        .map(State::as_str)
        .collect();
    from.join(" or ")
}

/// Ends a batch; production untouched.
pub async fn abort(ch: &ClickHouse, id: i64, note: Option<&str>) -> Result<()> {
    decide(ch, id, "abort", State::Aborted, note).await
}

/// Sets a batch aside with a note; everything is kept.
pub async fn quarantine(ch: &ClickHouse, id: i64, note: &str) -> Result<()> {
    decide(ch, id, "quarantine", State::Quarantined, Some(note)).await
}

/// Releases a quarantined batch with a note: judged again against production as it is now
/// (plan, counts, verdict), waiting for a decision.
pub async fn release(ch: &ClickHouse, id: i64, note: &str) -> Result<()> {
    if note.trim().is_empty() {
        return Err(Error::Refused {
            id,
            action: "released",
            reason: "a release needs a note saying why (--note)".into(),
        });
    }
    batches::ensure_catalog(ch).await?;
    reconcile(ch).await?;
    let mut r = promote::ready(ch, id).await?;
    let state = r.batch.summary.state;
    if state != State::Quarantined {
        return Err(Error::BatchState {
            id,
            state: state.to_string(),
            action: "release",
            expected: State::Quarantined.to_string(),
        });
    }
    let total = r.batch.summary.rows.total;
    let mut summary = r.batch.summary.clone();
    super::check::judge(ch, r.staged(), total, &mut summary).await?;
    summary.decisions.push(promote::decision(
        ch,
        "release",
        Some(note.to_string()),
        None,
    ));
    r.batch.summary = summary;
    batches::record(ch, &r.batch).await
}

/// Writes one CSV row per problem of every quarantined row — line, column, check, value,
/// message, then the row's fields under the file's header — and returns how many. The file
/// appears whole or not at all (written aside, then renamed).
pub async fn export(ch: &ClickHouse, id: i64, out: &Path) -> Result<u64> {
    batches::ensure_catalog(ch).await?;
    let batch = batches::load(ch, id).await?;
    let names = StageNames::new(id);
    let staged = ch
        .value(
            &format!(
                "SELECT count() FROM system.tables WHERE database = '{STAGE_SCHEMA}' \
                 AND name = 'batch_{id}_issues'"
            ),
            &format!("reading batch {id}"),
        )
        .await?;
    if staged.as_deref() != Some("1") {
        return Err(Error::File {
            path: out.to_owned(),
            problem: format!(
                "batch {id} has no staged issues to export (it never finished loading, or its staging was dropped)"
            ),
        });
    }
    let fields: String = (0..batch.header.len())
        .map(|i| format!(", s.{}", ident(stage_field(i).trim_matches('"'))))
        .collect();
    let io = |cause| Error::Io {
        path: out.to_owned(),
        cause,
    };
    let csv_err = |e: csv::Error| Error::File {
        path: out.to_owned(),
        problem: e.to_string(),
    };
    let tmp = out.with_extension("airlock-partial");
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(
        std::fs::File::create(&tmp).map_err(io)?,
    ));
    // A batch of several files names each row's file, and its line there.
    let parts = crate::source::parts::PartMap::new(batch.summary.file.parts.clone());
    let mut head = match parts.is_multi() {
        true => vec!["file"],
        false => vec![],
    };
    head.extend(["line", "column", "check", "value", "message"]);
    head.extend(batch.header.iter().map(String::as_str));
    writer.write_record(&head).map_err(csv_err)?;
    let mut written = 0u64;
    ch.for_each_row(
        &format!(
            "SELECT i.line, i.`column`, i.`check`, i.value, i.message{fields} \
             FROM {issues} AS i JOIN {raw} AS s ON s.`_ord` = i.ord \
             WHERE i.severity = 'error' ORDER BY i.line, i.ord, i.`check`",
            issues = names.issues,
            raw = names.raw,
        ),
        &format!("exporting the quarantined rows of batch {id}"),
        |row| {
            let mut cells: Vec<String> = row.into_iter().map(Option::unwrap_or_default).collect();
            if parts.is_multi() {
                let place = parts.locate(cells[0].parse().unwrap_or_default());
                let file = place.file.unwrap_or_default().to_string();
                cells[0] = place.line.to_string();
                cells.insert(0, file);
            }
            written += 1;
            writer.write_record(&cells).map_err(csv_err)
        },
    )
    .await?;
    let mut inner = writer.into_inner().map_err(|e| Error::File {
        path: out.to_owned(),
        problem: e.to_string(),
    })?;
    inner.flush().map_err(io)?;
    drop(inner);
    std::fs::rename(&tmp, out).map_err(io)?;
    Ok(written)
}
