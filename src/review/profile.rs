//! The column profile the review shows: the one kept with the batch since it was read (see
//! `profile.rs`), or, for a batch read before profiles were kept, one computed from staging.
use tokio_postgres::GenericClient;

pub use crate::profile::ColumnProfile;

use crate::error::{Error, Result};
use crate::layout::StageNames;
use crate::layout::stage_field;

pub async fn column_profile(
    client: &impl GenericClient,
    batch: i64,
    header: &[String],
) -> Result<Vec<ColumnProfile>> {
    let kept = client
        .query_opt(
            "SELECT profile FROM airlock.batches WHERE id = $1",
            &[&batch],
        )
        .await
        .map_err(Error::db("reading the column profile"))?
        .and_then(|r| r.get::<_, Option<serde_json::Value>>(0))
        .and_then(|v| serde_json::from_value::<Vec<ColumnProfile>>(v).ok())
        .filter(|p| p.len() == header.len());
    if let Some(kept) = kept {
        return Ok(kept);
    }
    from_staging(client, batch, header).await
}

/// The profile computed from the batch's staged records, two scans per column.
pub async fn from_staging(
    client: &impl GenericClient,
    batch: i64,
    header: &[String],
) -> Result<Vec<ColumnProfile>> {
    let names = StageNames::new(batch);
    // Every record once, staged or kept beside its typed values.
    let raw = crate::stage::records_relation(client, &names).await?;
    let mut out = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let f = stage_field(i);
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE {f} IS NULL), count(DISTINCT {f}), \
                            count(*) FILTER (WHERE {f} ~ '^\\s*[-+]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)\\s*$'), \
                            count({f}), coalesce(max(length({f})), 0) FROM {raw}"
                ),
                &[],
            )
            .await
            .map_err(Error::db("profiling the columns"))?;
        let top = client
            .query(
                &format!(
                    "SELECT left({f}, 40), count(*) FROM {raw} WHERE {f} IS NOT NULL \
                     GROUP BY {f} ORDER BY count(*) DESC, {f} LIMIT 3"
                ),
                &[],
            )
            .await
            .map_err(Error::db("profiling the columns"))?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        out.push(ColumnProfile {
            name: name.clone(),
            nulls: row.get(0),
            distinct: row.get(1),
            numeric: row.get(2),
            non_null: row.get(3),
            max_length: row.get(4),
            top,
            estimated: false,
            mean: None,
        });
    }
    Ok(out)
}
