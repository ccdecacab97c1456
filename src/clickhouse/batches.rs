//! Airlock's catalog on ClickHouse: the `airlock` database holds one row per batch version in
//! `airlock.batches`, the `airlock_stage` database each batch's staging. ClickHouse has no
//! transactions nor row updates: a batch's every change is a new version of its row
//! (`ReplacingMergeTree(version)`, read with `FINAL`), its summary kept whole as JSON, the
//! same summary `show --json` prints on PostgreSQL. Batch numbers are claimed through an
//! insert the engine deduplicates by token, so two checks started at once never share one.
use super::client::{ClickHouse, quote};
use crate::error::{Error, Result};
use crate::layout::{CATALOG_SCHEMA, STAGE_SCHEMA};
use crate::report::Summary;

/// The catalog, created on first use.
pub async fn ensure_catalog(ch: &ClickHouse) -> Result<()> {
    let context = "creating Airlock's catalog on ClickHouse (databases airlock and airlock_stage)";
    for sql in [
        format!("CREATE DATABASE IF NOT EXISTS {CATALOG_SCHEMA} ENGINE = Atomic"),
        format!("CREATE DATABASE IF NOT EXISTS {STAGE_SCHEMA} ENGINE = Atomic"),
        format!(
            "CREATE TABLE IF NOT EXISTS {CATALOG_SCHEMA}.batches (\
                 id UInt64, version UInt64, state LowCardinality(String), feed String, \
                 target String, created_at DateTime64(3, 'UTC'), summary String) \
             ENGINE = ReplacingMergeTree(version) ORDER BY id"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {CATALOG_SCHEMA}.batch_ids (id UInt64, claimant UUID) \
             ENGINE = MergeTree ORDER BY id \
             SETTINGS non_replicated_deduplication_window = 100000"
        ),
    ] {
        ch.execute(&sql, context).await?;
    }
    Ok(())
}

/// A new batch number: the next free one, claimed by an insert the engine keeps only once per
/// number (its deduplication token), then read back to see whose claim it kept.
pub async fn claim_id(ch: &ClickHouse) -> Result<i64> {
    let context = "numbering a new batch";
    let claimant = ch
        .value("SELECT generateUUIDv4()", context)
        .await?
        .unwrap_or_default();
    for _ in 0..100 {
        let next: i64 = ch
            .value(
                &format!("SELECT max(id) + 1 FROM {CATALOG_SCHEMA}.batch_ids"),
                context,
            )
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        ch.execute(
            &format!(
                "INSERT INTO {CATALOG_SCHEMA}.batch_ids \
                 SETTINGS insert_deduplication_token = 'airlock-batch-{next}' \
                 VALUES ({next}, {})",
                quote(&claimant)
            ),
            context,
        )
        .await?;
        let kept = ch
            .value(
                &format!(
                    "SELECT toString(claimant) FROM {CATALOG_SCHEMA}.batch_ids \
                     WHERE id = {next} LIMIT 1"
                ),
                context,
            )
            .await?;
        if kept.as_deref() == Some(claimant.as_str()) {
            return Ok(next);
        }
    }
    Err(Error::ClickHouse {
        context: context.into(),
        message: "another session claimed every number tried (100 attempts)".into(),
    })
}

/// Writes the batch's summary as its newest version.
pub async fn record(ch: &ClickHouse, summary: &Summary) -> Result<()> {
    let json = serde_json::to_string(summary).map_err(|e| Error::ClickHouse {
        context: format!("recording batch {}", summary.batch),
        message: e.to_string(),
    })?;
    let version = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    ch.execute(
        &format!(
            "INSERT INTO {CATALOG_SCHEMA}.batches \
             (id, version, state, feed, target, created_at, summary) VALUES \
             ({}, {version}, {}, {}, {}, parseDateTime64BestEffort({}, 3, 'UTC'), {})",
            summary.batch,
            quote(summary.state.as_str()),
            quote(&summary.feed),
            quote(&summary.target),
            quote(&summary.created_at),
            quote(&json)
        ),
        &format!("recording batch {}", summary.batch),
    )
    .await
}

/// The batch's newest summary.
pub async fn summary(ch: &ClickHouse, id: i64) -> Result<Summary> {
    let found = ch
        .value(
            &format!("SELECT summary FROM {CATALOG_SCHEMA}.batches FINAL WHERE id = {id}"),
            &format!("reading batch {id}"),
        )
        .await?
        .ok_or(Error::BatchNotFound { id })?;
    parse(&found, id)
}

/// Every batch, newest first.
pub async fn list(ch: &ClickHouse) -> Result<Vec<Summary>> {
    let rows = ch
        .rows(
            &format!("SELECT id, summary FROM {CATALOG_SCHEMA}.batches FINAL ORDER BY id DESC"),
            "listing batches",
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            let id = r
                .first()
                .cloned()
                .flatten()
                .and_then(|v| v.parse().ok())
                .unwrap_or_default();
            parse(&r.get(1).cloned().flatten().unwrap_or_default(), id)
        })
        .collect()
}

/// What each batch's staging holds on disk, by batch number.
pub async fn staging_bytes(ch: &ClickHouse) -> Result<std::collections::HashMap<i64, i64>> {
    let rows = ch
        .rows(
            &format!(
                "SELECT toInt64OrZero(extract(table, '^batch_([0-9]+)')) AS id, \
                        sum(bytes_on_disk) FROM system.parts \
                 WHERE database = {} AND active GROUP BY id",
                quote(STAGE_SCHEMA)
            ),
            "measuring staging",
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let n = |i: usize| r.get(i).cloned().flatten()?.parse::<i64>().ok();
            Some((n(0)?, n(1)?))
        })
        .collect())
}

fn parse(json: &str, id: i64) -> Result<Summary> {
    serde_json::from_str(json).map_err(|e| Error::ClickHouse {
        context: format!("reading batch {id}"),
        message: format!("its record is not one Airlock wrote: {e}"),
    })
}
