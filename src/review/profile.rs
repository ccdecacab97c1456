//! A profile of each source column — empty values, distinct values, how many look like
//! numbers, the commonest values — so a shifted column shows at a glance.
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::error::{Error, Result};
use crate::stage::StageNames;
use crate::validate::binding::stage_field;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnProfile {
    pub name: String,
    pub nulls: i64,
    pub distinct: i64,
    /// Values that look like numbers, of the non-empty ones.
    pub numeric: i64,
    pub non_null: i64,
    pub max_length: i32,
    /// The commonest values with their counts.
    pub top: Vec<(String, i64)>,
}

impl ColumnProfile {
    /// A column that is mostly one kind with a few of the other: the signature of values that
    /// slid into the wrong column.
    pub fn suspicious(&self) -> bool {
        if self.non_null == 0 {
            return false;
        }
        let share = self.numeric as f64 / self.non_null as f64;
        (share > 0.0 && share < 0.05) || (share > 0.95 && share < 1.0)
    }
}

pub async fn column_profile(
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
        });
    }
    Ok(out)
}
