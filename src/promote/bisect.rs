//! When the server refuses rows that passed validation, find them: apply the good rows in
//! halves inside savepoints until each refusal is pinned to one row, then roll everything
//! back, quarantine those rows with the server's own message, and validate the batch again.
use tokio_postgres::Client;

use crate::batch::Loaded;
use crate::db::ident;
use crate::error::{Error, Result, db_message};
use crate::layout::ORD_COLUMN;

/// Finds the refused rows of `statement` (which takes an ordinal range as $1, $2), sets them
/// aside, and returns the error to report. `setup` runs first in the same transaction (the
/// swap's next table, for instance).
pub async fn set_aside(
    client: &mut Client,
    b: &Loaded,
    statement: &str,
    setup: &str,
    first: &tokio_postgres::Error,
) -> Error {
    let first = db_message(first);
    match find_and_quarantine(client, b, statement, setup).await {
        Ok(Some((count, line, message))) => Error::RowsRejected {
            id: b.id,
            count,
            line,
            message,
        },
        // The failure did not come back row by row (it depended on the whole set).
        Ok(None) => Error::Refused {
            id: b.id,
            action: "promoted",
            reason: format!(
                "the server refused the promotion ({first}), but no single row fails on its own; nothing was changed"
            ),
        },
        Err(e) => e,
    }
}

async fn find_and_quarantine(
    client: &mut Client,
    b: &Loaded,
    statement: &str,
    setup: &str,
) -> Result<Option<(usize, i64, String)>> {
    // Each try reads a range of ordinals; without the index each would scan every row.
    let _ = crate::stage::index_for_browsing(&*client, &b.names).await;
    let ords: Vec<i64> = client
        .query(
            &format!(
                "SELECT {ord} FROM {} ORDER BY 1",
                b.names.rows,
                ord = ident(ORD_COLUMN)
            ),
            &[],
        )
        .await
        .map_err(Error::db("listing the good rows"))?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("searching for the refused rows"))?;
    tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
        .await
        .map_err(Error::db("searching for the refused rows"))?;
    if !setup.is_empty() {
        tx.batch_execute(setup)
            .await
            .map_err(Error::db("searching for the refused rows"))?;
    }
    let mut refused: Vec<(i64, String)> = Vec::new();
    // Ranges of `ords` to try, earliest first so rows apply in file order.
    let mut pending = vec![(0usize, ords.len())];
    while let Some((lo, hi)) = pending.pop() {
        if lo >= hi {
            continue;
        }
        tx.batch_execute("SAVEPOINT airlock_bisect")
            .await
            .map_err(Error::db("searching for the refused rows"))?;
        match tx.query(statement, &[&ords[lo], &ords[hi - 1]]).await {
            Ok(_) => tx
                .batch_execute("RELEASE SAVEPOINT airlock_bisect")
                .await
                .map_err(Error::db("searching for the refused rows"))?,
            Err(e) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT airlock_bisect")
                    .await
                    .map_err(Error::db("searching for the refused rows"))?;
                if !super::locks::is_data_error(&e) {
                    return Err(Error::db("searching for the refused rows")(e));
                }
                if hi - lo == 1 {
                    refused.push((ords[lo], db_message(&e)));
                } else {
                    let mid = lo + (hi - lo) / 2;
                    pending.push((mid, hi));
                    pending.push((lo, mid));
                }
            }
        }
    }
    tx.rollback()
        .await
        .map_err(Error::db("searching for the refused rows"))?;
    if refused.is_empty() {
        return Ok(None);
    }
    quarantine(client, b, &refused).await?;
    let first_line: i64 = client
        .query_one(
            &format!(
                "SELECT min(line) FROM {} WHERE \"check\" = 'promotion'",
                b.names.issues
            ),
            &[],
        )
        .await
        .map_err(Error::db("reading the refused rows"))?
        .get::<_, Option<i64>>(0)
        .unwrap_or(0);
    Ok(Some((refused.len(), first_line, refused[0].1.clone())))
}

/// Moves the refused rows from the good rows to the issues, then judges the batch again.
async fn quarantine(client: &mut Client, b: &Loaded, refused: &[(i64, String)]) -> Result<()> {
    let rows: Vec<(i64, String)> = refused
        .iter()
        .map(|(ord, m)| (*ord, format!("refused by the server at promotion: {m}")))
        .collect();
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("setting the refused rows aside"))?;
    crate::validate::aside::set_aside(&tx, &b.binding, &b.names, "promotion", &rows).await?;
    tx.commit()
        .await
        .map_err(Error::db("setting the refused rows aside"))?;
    crate::judge::judge(client, b.staged(), b.rows_total, false).await
}
