//! The rows that would update production, before → after for each changed column, and
//! holding rows back by hand.
use tokio_postgres::{Client, GenericClient};

use super::PageFrom;
use crate::batch::{self, State};
use crate::db::ident;
use crate::error::{Error, Result};
use crate::feed::Mode;
use crate::plan::{distinct_expr, key_join};
use crate::promote::Loaded;
use crate::stage::{LINE_COLUMN, ORD_COLUMN};

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub column: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What promoting a row would do to production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A row production does not have: every value is an `after`.
    Insert,
    /// A row production has with other values: the changed columns, before and after.
    Update,
    /// A production row a swap or mirror would delete: its values are the `before`s.
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangedRow {
    /// The file line; 0 for a row the file does not have (a delete).
    pub line: i64,
    pub ord: i64,
    pub key: String,
    pub changes: Vec<Change>,
    pub kind: ChangeKind,
}

/// One page of the rows whose promotion would change production: the inserts and updates in
/// file order, then, for a swap or mirror, the rows it would delete in key order (kept by
/// the plan, see `plan::keep_absent`). A kind the plan counts none of is not looked for.
pub async fn changes_page(
    client: &impl GenericClient,
    b: &Loaded,
    from: PageFrom,
    limit: i64,
) -> Result<Vec<ChangedRow>> {
    let values: Vec<_> = b.binding.value_columns().collect();
    let keyed = b.binding.key_columns().next().is_some();
    let ord = format!("r.{}", ident(ORD_COLUMN));
    let (keyset, ascending) = from.keyset(&ord);
    let dir = if ascending { "ASC" } else { "DESC" };
    let limit = limit.max(1);
    let key: Vec<String> = b
        .binding
        .key_columns()
        .map(|c| format!("r.{}::text", ident(&c.target)))
        .collect();
    let key_text = match keyed {
        true => format!("concat_ws(', ', {})", key.join(", ")),
        false => "''".to_string(),
    };
    let head = |line: &str| [line.to_string(), ord.clone(), key_text.clone()].join(", ");
    let value = |c: &&crate::validate::binding::BoundColumn, alias: &str| {
        format!("coalesce({alias}.{}::text, '∅')", ident(&c.target))
    };
    let page = |select: String, from_where: String| {
        format!("(SELECT {select} {from_where} AND {keyset} ORDER BY {ord} {dir} LIMIT {limit})")
    };
    let mut parts = Vec::new();
    // An append, or a table without a key, inserts every good row.
    let inserts_all = b.feed.spec.mode == Mode::Append || !keyed;
    if b.plan.insert > 0 {
        let mut select = vec![head(&format!("r.{}", ident(LINE_COLUMN)))];
        for c in &values {
            select.push("NULL::text".into());
            select.push(value(c, "r"));
        }
        select.push("'i'".into());
        let absent = match inserts_all {
            true => "true".to_string(),
            false => format!(
                "NOT EXISTS (SELECT 1 FROM {target} t WHERE {join})",
                target = b.target_sql(),
                join = key_join(&b.binding, "t", "r"),
            ),
        };
        parts.push(page(
            select.join(", "),
            format!("FROM {} r WHERE {absent}", b.names.rows),
        ));
    }
    // An insert skips the rows production has: neither it nor an append updates.
    let updates = !matches!(b.feed.spec.mode, Mode::Insert | Mode::Append);
    if updates && keyed && !values.is_empty() && b.plan.update > 0 {
        let mut select = vec![head(&format!("r.{}", ident(LINE_COLUMN)))];
        for c in &values {
            let d = distinct_expr(c, "t", "r");
            select.push(format!("CASE WHEN {d} THEN {} END", value(c, "t")));
            select.push(format!("CASE WHEN {d} THEN {} END", value(c, "r")));
        }
        select.push("'u'".into());
        let changed: Vec<String> = values
            .iter()
            .map(|c| format!("({})", distinct_expr(c, "t", "r")))
            .collect();
        parts.push(page(
            select.join(", "),
            format!(
                "FROM {rows} r JOIN {target} t ON {join} WHERE ({changed})",
                rows = b.names.rows,
                target = b.target_sql(),
                join = key_join(&b.binding, "t", "r"),
                changed = changed.join(" OR "),
            ),
        ));
    }
    if keyed && deletes_kept(client, b).await? {
        let mut select = vec![head("0::bigint")];
        for c in &values {
            select.push(value(c, "r"));
            select.push("NULL::text".into());
        }
        select.push("'d'".into());
        parts.push(page(
            select.join(", "),
            format!("FROM {} r WHERE true", b.names.absent),
        ));
    }
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM ({}) p ORDER BY 2 {dir} LIMIT {limit}",
        parts.join(" UNION ALL ")
    );
    let bound = from.bound();
    let rows = client
        .query(&sql, &[&bound])
        .await
        .map_err(Error::db(format!("reading the changes of batch {}", b.id)))?;
    let kind_at = 3 + 2 * values.len();
    let mut rows: Vec<ChangedRow> = rows
        .into_iter()
        .map(|r| ChangedRow {
            kind: match r.get::<_, &str>(kind_at) {
                "i" => ChangeKind::Insert,
                "d" => ChangeKind::Delete,
                _ => ChangeKind::Update,
            },
            line: r.get(0),
            ord: r.get(1),
            key: r.get(2),
            changes: values
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let before: Option<String> = r.get(3 + 2 * i);
                    let after: Option<String> = r.get(4 + 2 * i);
                    (before.is_some() || after.is_some()).then(|| Change {
                        column: c.target.clone(),
                        before,
                        after,
                    })
                })
                .collect(),
        })
        .collect();
    rows.sort_by_key(|r| r.ord);
    Ok(rows)
}

/// Whether the plan kept the rows a swap or mirror would delete (a batch planned by an older
/// version did not).
async fn deletes_kept(client: &impl GenericClient, b: &Loaded) -> Result<bool> {
    if !matches!(b.feed.spec.mode, Mode::Swap | Mode::Mirror) {
        return Ok(false);
    }
    Ok(client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&b.names.absent])
        .await
        .map_err(Error::db("looking for the rows to delete"))?
        .get(0))
}

/// Holds rows back by hand: they join the quarantine with the note, the decision is recorded,
/// and the batch is judged again. Returns how many rows were held.
pub async fn hold_back(client: &mut Client, b: &Loaded, ords: &[i64], note: &str) -> Result<u64> {
    let tx = client
        .transaction()
        .await
        .map_err(Error::db("holding rows back"))?;
    let current = batch::lock_state(&tx, b.id).await?;
    if current != State::Validated {
        return Err(Error::BatchState {
            id: b.id,
            state: current.to_string(),
            action: "hold",
            expected: "validated".into(),
        });
    }
    let who = batch::os_user().unwrap_or_else(|| "an operator".into());
    let rows: Vec<(i64, String)> = ords
        .iter()
        .map(|o| (*o, format!("held back by {who}: {note}")))
        .collect();
    let held = crate::validate::sql::set_aside(&tx, &b.binding, &b.names, "held", &rows).await?;
    let counts = serde_json::json!({ "held": held });
    batch::record_decision(&tx, b.id, "hold", Some(note), Some(&counts)).await?;
    tx.commit().await.map_err(Error::db("holding rows back"))?;
    crate::pipeline::judge(client, &b.feed, &b.binding, &b.names, b.rows_total, false).await?;
    Ok(held)
}
