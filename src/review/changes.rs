//! The rows that would update production, before → after for each changed column, and
//! holding rows back by hand.
use tokio_postgres::{Client, GenericClient};

use super::PageFrom;
use crate::batch::Loaded;
use crate::batch::{self, State};
use crate::db::ident;
use crate::error::{Error, Result};
use crate::feed::Mode;
use crate::layout::{LINE_COLUMN, ORD_COLUMN};
use crate::plan::{distinct_expr, key_join};

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
/// the plan, see `plan::keep_absent`). The rows are listed once per plan (`listed`), so a
/// page is a keyset range over that list wherever it is, and its values are read by ordinal.
pub async fn changes_page(
    client: &impl GenericClient,
    b: &Loaded,
    from: PageFrom,
    limit: i64,
) -> Result<Vec<ChangedRow>> {
    let values: Vec<_> = b.binding.value_columns().collect();
    let ctx = || Error::db(format!("reading the changes of batch {}", b.id));
    let deletes = deletes_kept(client, b).await?;
    let kinds = kinds_sql(b, deletes);
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    // Another review making the list right now, or a role that may only read: the rows are
    // classified on the fly (slower past a few hundred thousand rows).
    let list = match listed(client, b, &kinds, deletes).await {
        Ok(()) => format!("{} k", b.names.changes),
        Err(_) => format!("({}) k", kinds.join(" UNION ALL ")),
    };
    let (keyset, ascending) = from.keyset("k.ord");
    let dir = if ascending { "ASC" } else { "DESC" };
    let key = |alias: &str| {
        let key: Vec<String> = b
            .binding
            .key_columns()
            .map(|c| format!("{alias}.{}::text", ident(&c.target)))
            .collect();
        match key.is_empty() {
            true => "''".to_string(),
            false => format!("concat_ws(', ', {})", key.join(", ")),
        }
    };
    let shown = |alias: &str, c: &&crate::validate::binding::BoundColumn| {
        format!("coalesce({alias}.{}::text, '∅')", ident(&c.target))
    };
    // Each kind's values: an insert's are its own, an update's the changed columns before
    // and after, a delete's production's. A kind this batch cannot have is not named (its
    // table is not joined).
    let keyed = b.binding.key_columns().next().is_some();
    let case = |branches: Vec<(bool, &str, String)>| {
        let whens: Vec<String> = branches
            .into_iter()
            .filter(|(on, _, _)| *on)
            .map(|(_, kind, then)| format!("WHEN '{kind}' THEN {then}"))
            .collect();
        match whens.is_empty() {
            true => "NULL::text".to_string(),
            false => format!("CASE p.kind {} END", whens.join(" ")),
        }
    };
    let mut select = vec![
        format!("coalesce(r.{}, 0)", ident(LINE_COLUMN)),
        "p.ord".to_string(),
        case(vec![
            (deletes, "d", key("a")),
            (true, "i", key("r")),
            (true, "u", key("r")),
        ]),
    ];
    for c in &values {
        let d = distinct_expr(c, "t", "r");
        select.push(case(vec![
            (
                keyed,
                "u",
                format!("CASE WHEN {d} THEN {} END", shown("t", c)),
            ),
            (deletes, "d", shown("a", c)),
        ]));
        select.push(case(vec![
            (true, "i", shown("r", c)),
            (
                keyed,
                "u",
                format!("CASE WHEN {d} THEN {} END", shown("r", c)),
            ),
        ]));
    }
    select.push("p.kind".into());
    // Each page row is probed by ordinal or key (LIMIT 1 keeps the planner from turning the
    // probes into scans), so a page needs no statistics on the staged rows: giving them
    // some would change how the promotion's MERGE is planned.
    let absent = match deletes {
        true => format!(
            " LEFT JOIN LATERAL (SELECT * FROM {} a WHERE p.kind = 'd' AND a.{} = p.ord \
               LIMIT 1) a ON true",
            b.names.absent,
            ident(ORD_COLUMN)
        ),
        false => String::new(),
    };
    let target = match keyed {
        true => format!(
            " LEFT JOIN LATERAL (SELECT * FROM {} t WHERE p.kind = 'u' AND {} LIMIT 1) t ON true",
            b.target_sql(),
            key_join(&b.binding, "t", "r")
        ),
        false => String::new(),
    };
    let sql = format!(
        "WITH p AS MATERIALIZED (SELECT k.ord, k.kind FROM {list} WHERE {keyset} \
                                 ORDER BY k.ord {dir} LIMIT {limit}) \
         SELECT {select} FROM p \
         LEFT JOIN LATERAL (SELECT * FROM {rows} r WHERE p.kind <> 'd' AND r.{ord} = p.ord \
             LIMIT 1) r ON true\
         {target}{absent} ORDER BY p.ord",
        select = select.join(", "),
        rows = b.names.rows,
        ord = ident(ORD_COLUMN),
        limit = limit.max(1),
    );
    let rows = client.query(&sql, &[&from.bound()]).await.map_err(ctx())?;
    let kind_at = 3 + 2 * values.len();
    Ok(rows
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
        .collect())
}

/// The rows promotion would change, as `SELECT ord, kind` parts (`i`, `u`, `d`): the good
/// rows production lacks (every one, for an append or a table without a key), those whose
/// values differ (not for an insert or append), and the rows a swap or mirror deletes. A
/// kind the plan counts none of is left out.
fn kinds_sql(b: &Loaded, deletes: bool) -> Vec<String> {
    let ord = ident(ORD_COLUMN);
    let values: Vec<_> = b.binding.value_columns().collect();
    let mut parts = Vec::new();
    let first_key = b.binding.key_columns().next();
    let join = |select: &str, cond: &str| {
        format!(
            "SELECT r.{ord} AS ord, {select} AS kind FROM {rows} r              LEFT JOIN {target} t ON {join} WHERE {cond}",
            rows = b.names.rows,
            target = b.target_sql(),
            join = key_join(&b.binding, "t", "r"),
        )
    };
    let appends = b.feed.spec.mode == Mode::Append || first_key.is_none();
    let updates = !matches!(b.feed.spec.mode, Mode::Insert | Mode::Append)
        && !values.is_empty()
        && b.plan.update > 0;
    match (appends, first_key) {
        (true, _) if b.plan.insert > 0 => parts.push(format!(
            "SELECT {ord} AS ord, 'i'::text AS kind FROM {}",
            b.names.rows
        )),
        (false, Some(k)) if b.plan.insert > 0 || updates => {
            let missing = format!("t.{} IS NULL", ident(&k.target));
            let changed: Vec<String> = values
                .iter()
                .map(|c| format!("({})", distinct_expr(c, "t", "r")))
                .collect();
            let cond = match (b.plan.insert > 0, updates) {
                (true, true) => format!("{missing} OR ({})", changed.join(" OR ")),
                (true, false) => missing.clone(),
                (false, _) => format!("NOT {missing} AND ({})", changed.join(" OR ")),
            };
            parts.push(join(
                &format!("CASE WHEN {missing} THEN 'i' ELSE 'u' END::text"),
                &cond,
            ));
        }
        _ => {}
    }
    if deletes && b.plan.delete > 0 {
        parts.push(format!(
            "SELECT {ord} AS ord, 'd'::text AS kind FROM {}",
            b.names.absent
        ));
    }
    parts
}

/// Makes sure the batch's changed rows are listed, by ordinal, for the plan in force: the
/// list is stamped with the plan's counts and production's write count when it was made,
/// and made again when the plan was (production changed, rows were held back).
async fn listed(
    client: &impl GenericClient,
    b: &Loaded,
    kinds: &[String],
    deletes: bool,
) -> std::result::Result<(), tokio_postgres::Error> {
    let p = &b.plan;
    let stamp = format!(
        "{} {} {} {}",
        p.insert,
        p.update,
        p.delete,
        p.writes.unwrap_or(-1)
    );
    let now: Option<String> = client
        .query_one(
            "SELECT obj_description(to_regclass($1), 'pg_class')",
            &[&b.names.changes],
        )
        .await?
        .get(0);
    if now.as_deref() == Some(stamp.as_str()) {
        return Ok(());
    }
    let ord = ident(ORD_COLUMN);
    let absent_index = match deletes {
        true => format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} ({ord}); ",
            ident(&format!("batch_{}_absent_ord", b.id)),
            b.names.absent
        ),
        false => String::new(),
    };
    // Several statements in one simple query are one transaction: a page sees the list
    // whole or not at all. A page reads its rows' values by ordinal: the good rows get a
    // b-tree on it (browsing makes do with a BRIN index).
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {list}; \
             CREATE UNLOGGED TABLE {list} AS {kinds}; \
             ALTER TABLE {list} ADD PRIMARY KEY (ord); \
             CREATE INDEX IF NOT EXISTS {rows_ord} ON {rows} ({ord}); \
             {absent_index}\
             ANALYZE {list}; \
             COMMENT ON TABLE {list} IS '{stamp}'",
            list = b.names.changes,
            kinds = kinds.join(" UNION ALL "),
            rows = b.names.rows,
            rows_ord = ident(&format!("batch_{}_rows_ord_key", b.id)),
        ))
        .await
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
    let held = crate::validate::aside::set_aside(&tx, &b.binding, &b.names, "held", &rows).await?;
    let counts = serde_json::json!({ "held": held });
    batch::record_decision(&tx, b.id, "hold", Some(note), Some(&counts)).await?;
    tx.commit().await.map_err(Error::db("holding rows back"))?;
    crate::judge::judge(client, b.staged(), b.rows_total, false).await?;
    Ok(held)
}
