//! How the good rows' keys arrive, for the server's plan of the promotion's joins. Staged
//! rows carry no statistics, so the server probes the target's key for each row in file
//! order: the fastest way when the file comes in key order (as most exports do), since the
//! probes then walk the index in order. When the keys come in no order, those probes jump
//! all over the index; the rows are then analyzed, and the server joins by hash instead.
use tokio_postgres::Client;

use crate::batch::Loaded;
use crate::db::ident;
use crate::error::{Error, Result};

/// The pages of the staged rows sampled from the start (in the order they were written).
const SAMPLED_PAGES: u32 = 1000;
/// The share of consecutive rows whose key goes down past which the keys are in no order.
const OUT_OF_ORDER: f64 = 0.10;

/// Analyzes the good rows when their keys arrive in no order; says whether it did.
pub async fn fit_plan_to_key_order(client: &Client, b: &Loaded) -> Result<bool> {
    let keys: Vec<String> = b.binding.key_columns().map(|c| ident(&c.target)).collect();
    if keys.is_empty() {
        return Ok(false);
    }
    let before: Vec<String> = keys
        .iter()
        .map(|k| format!("lag({k}) OVER (ORDER BY ctid)"))
        .collect();
    let ctx = || Error::db(format!("analyzing the typed rows of batch {}", b.id));
    // Only a choice of plan: keys whose type has no order (compared as text elsewhere) are
    // left to the server's default.
    let Ok(row) = client
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE back), count(*) FROM \
                   (SELECT ROW({keys}) < ROW({before}) AS back FROM {rows} \
                    WHERE ctid < '({SAMPLED_PAGES},0)'::tid) s",
                keys = keys.join(", "),
                before = before.join(", "),
                rows = b.names.rows,
            ),
            &[],
        )
        .await
    else {
        return Ok(false);
    };
    let (back, all): (i64, i64) = (row.get(0), row.get(1));
    if all < 2 || (back as f64) < OUT_OF_ORDER * (all - 1) as f64 {
        return Ok(false);
    }
    client
        .batch_execute(&format!("ANALYZE {}", b.names.rows))
        .await
        .map_err(ctx())?;
    Ok(true)
}
