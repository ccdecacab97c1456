//! The target's unique indexes other than the merge key, checked before promotion instead of
//! refused by it: good rows that share such a value among themselves, and — in upsert mode,
//! where production's other rows stay — rows whose value another row of production already
//! holds. Every such row is set aside with the index's name.
//!
//! The server checks a unique index row by row as `MERGE` writes, so a file that hands a
//! value from one row of production to another can be refused halfway, depending on the
//! order the rows come in; such a row is flagged too. Indexes with another operator class or
//! collation than their columns', or over columns the file does not feed, are left to the
//! promotion, which finds the rows it refuses by bisection.
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::binding::Binding;
use super::sql::{ISSUE_COLUMNS, by_address, exec, key_text};
use crate::db::catalog::UniqueIndex;
use crate::db::{ident, ident_list};
use crate::error::Result;
use crate::feed::{Feed, Mode};
use crate::stage::{LINE_COLUMN, ORD_COLUMN, StageNames};

/// The unique indexes this check can judge for `binding`: plain equality, every column fed
/// by the file, and not the merge key itself.
fn indexes<'a>(feed: &'a Feed, binding: &Binding) -> Vec<&'a UniqueIndex> {
    let mut key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    key.sort_unstable();
    feed.target
        .unique_indexes
        .iter()
        .filter(|u| u.plain_equality)
        .filter(|u| u.columns.iter().all(|c| binding.column(c).is_some()))
        .filter(|u| {
            let mut cols: Vec<&str> = u.columns.iter().map(String::as_str).collect();
            cols.sort_unstable();
            cols != key
        })
        .collect()
}

/// Sets aside the good rows that would break one of the target's other unique indexes.
pub(super) async fn other_unique_indexes(
    client: &Client,
    feed: &Feed,
    binding: &Binding,
    names: &StageNames,
) -> Result<()> {
    // In a swap, production's rows go with the old table: only the file's rows can collide.
    let key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    let production = feed.spec.mode == Mode::Upsert && !key.is_empty();
    let (shown, key_list) = (feed.target.display_name(), key.join(", "));
    for index in indexes(feed, binding) {
        let sql = statement(feed, binding, names, index, production);
        let columns = index.columns.join(", ");
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&columns, &index.name];
        if production {
            params.extend([&shown as &(dyn ToSql + Sync), &key_list]);
        }
        exec(
            client,
            &format!("checking unique index {}", index.name),
            &sql,
            &params,
        )
        .await?;
    }
    Ok(())
}

/// One statement per index: `bad` holds the rows breaking it, with their messages; they
/// become issues (`$1` the index's columns, `$2` its name; with `production`, also rows
/// colliding with production's, `$3` the target's name and `$4` the merge key's columns) and
/// leave the typed rows.
fn statement(
    feed: &Feed,
    binding: &Binding,
    names: &StageNames,
    index: &UniqueIndex,
    production: bool,
) -> String {
    let cols: Vec<&str> = index.columns.iter().map(String::as_str).collect();
    let key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    // Under NULLS NOT DISTINCT two NULLs collide. `ARRAY[x] = ARRAY[y]` says so (array
    // equality counts NULL elements equal) and, unlike `IS NOT DISTINCT FROM`, can be hashed:
    // the join against production stays a hash join.
    let same = |a: &str, b: &str| -> String {
        cols.iter()
            .map(|c| {
                let c = ident(c);
                if index.nulls_not_distinct {
                    format!("ARRAY[{a}.{c}] = ARRAY[{b}.{c}]")
                } else {
                    format!("{a}.{c} = {b}.{c}")
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    // Without NULLS NOT DISTINCT, a NULL in any column collides with nothing.
    let counted = if index.nulls_not_distinct {
        "true".to_string()
    } else {
        cols.iter()
            .map(|c| format!("r.{} IS NOT NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let value = key_text(&cols, "r");
    let line = ident(LINE_COLUMN);
    let ord = ident(ORD_COLUMN);
    let list = ident_list(cols.iter().copied(), None);
    let in_file = format!(
        "SELECT r.ctid AS tid, r.{line} AS line, r.{ord} AS ord, {value} AS value, \
                format('%s ''%s'' appears on %s rows (lines %s%s); unique index %s', $1::text, \
                       {value}, d.n, array_to_string(d.lines, ', '), \
                       CASE WHEN d.n > 5 THEN ', …' ELSE '' END, $2::text) AS message \
         FROM {rows} r JOIN (SELECT {list}, count(*) AS n, \
                                    (array_agg({line} ORDER BY {ord}))[1:5] AS lines \
                             FROM {rows} r WHERE {counted} GROUP BY {list} HAVING count(*) > 1) d \
           ON {joined} WHERE {counted}",
        rows = names.rows,
        joined = same("r", "d"),
    );
    let in_production = if production {
        format!(
            " UNION ALL SELECT r.ctid, r.{line}, r.{ord}, {value}, \
                    format('%s ''%s'' is already taken in %s by the row with %s = %s; \
                            unique index %s', $1::text, {value}, $3::text, $4::text, {other}, \
                           $2::text) \
              FROM {rows} r JOIN {target} t ON {joined} \
              WHERE {counted} AND ({key_differs})",
            rows = names.rows,
            target = feed.target.sql_name(),
            other = key_text(&key, "t"),
            joined = same("t", "r"),
            key_differs = key
                .iter()
                .map(|k| format!("t.{k} IS DISTINCT FROM r.{k}", k = ident(k)))
                .collect::<Vec<_>>()
                .join(" OR "),
        )
    } else {
        String::new()
    };
    format!(
        "WITH found AS MATERIALIZED ({in_file}{in_production}), \
         bad AS MATERIALIZED (SELECT DISTINCT ON (ord) * FROM found ORDER BY ord, message), \
         noted AS (INSERT INTO {issues} ({ISSUE_COLUMNS}) \
                   SELECT line, ord, $1, 'unique', 'error', value, message FROM bad ORDER BY ord), \
         {delete}",
        issues = names.issues,
        delete = by_address(binding, names),
    )
}
