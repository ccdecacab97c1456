//! The target's unique indexes other than the merge key, checked before promotion instead of
//! refused by it: good rows that share such a value among themselves, and — in upsert mode,
//! where production's other rows stay — rows whose value another row of production already
//! holds. Every such row is set aside with the index's name.
//!
//! The server checks a unique index row by row as `MERGE` writes, so a file that hands a
//! value from one row of production to another can be refused halfway, depending on the
//! order the rows come in; such a row is flagged too. Indexes with another operator class or
//! collation than their columns', a nondeterministic collation, or columns the file does not
//! feed are left to the promotion, which finds the rows it refuses by bisection.
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::aside::{ISSUE_COLUMNS, by_address, exec, key_text};
use super::binding::Binding;
use crate::db::catalog::UniqueIndex;
use crate::db::ident;
use crate::error::{Error, Result};
use crate::feed::{Feed, Mode};
use crate::layout::{LINE_COLUMN, ORD_COLUMN, StageNames};
use crate::staged::Staged;

/// The unique indexes this check can judge for `binding`: plain equality, every column fed
/// by the file, and not the merge key itself.
fn indexes<'a>(feed: &'a Feed, binding: &Binding) -> Vec<&'a UniqueIndex> {
    let key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    feed.target
        .unique_indexes
        .iter()
        .filter(|u| u.plain_equality && !u.is_on(&key))
        .filter(|u| u.columns.iter().all(|c| binding.column(c).is_some()))
        .collect()
}

/// Sets aside the good rows that would break one of the target's other unique indexes.
pub(super) async fn other_unique_indexes(client: &Client, staged: Staged<'_>) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    // In a swap, production's rows go with the old table: only the file's rows can collide.
    let key: Vec<&str> = binding.key_columns().map(|c| c.target.as_str()).collect();
    let production =
        matches!(feed.spec.mode, Mode::Upsert | Mode::Insert | Mode::Mirror) && !key.is_empty();
    let (shown, key_list) = (feed.target.display_name(), key.join(", "));
    for index in indexes(feed, binding) {
        let what = format!("checking unique index {}", index.name);
        let sql = Sql::new(feed, binding, names, index, production);
        // Read-only queries, which the server may run in parallel, find the rows; most
        // files have none, and nothing more is done.
        let mut ords: Vec<i64> = Vec::new();
        for query in sql.offending() {
            let found = client
                .query(&query, &[])
                .await
                .map_err(Error::db(what.clone()))?;
            ords.extend(found.iter().map(|r| r.get::<_, i64>(0)));
        }
        if ords.is_empty() {
            continue;
        }
        ords.sort_unstable();
        ords.dedup();
        let columns = index.columns.join(", ");
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&columns, &index.name, &ords];
        if production {
            params.extend([&shown as &(dyn ToSql + Sync), &key_list]);
        }
        exec(client, &what, &sql.set_aside(binding, names), &params).await?;
    }
    Ok(())
}

/// The statements for one index, over the typed rows `r`.
struct Sql {
    rows: String,
    list: String,
    /// Rows whose value can collide (no NULL, unless NULLS NOT DISTINCT).
    counted: String,
    cols: Vec<String>,
    nulls_collide: bool,
    value: String,
    /// With production: the target, the key's columns and `t`'s key differing from `r`'s.
    production: Option<(String, Vec<String>, String)>,
}

impl Sql {
    fn new(
        feed: &Feed,
        binding: &Binding,
        names: &StageNames,
        index: &UniqueIndex,
        production: bool,
    ) -> Self {
        let cols: Vec<String> = index.columns.iter().map(|c| ident(c)).collect();
        let nulls_collide = index.nulls_not_distinct;
        let counted = if nulls_collide {
            "true".to_string()
        } else {
            cols.iter()
                .map(|c| format!("r.{c} IS NOT NULL"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        // As the message shows it: a NULL (colliding under NULLS NOT DISTINCT) as NULL.
        let value = format!(
            "concat_ws(', ', {})",
            cols.iter()
                .map(|c| format!("COALESCE(r.{c}::text, 'NULL')"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let key: Vec<String> = binding.key_columns().map(|c| c.target.clone()).collect();
        Self {
            rows: names.rows.clone(),
            list: cols.join(", "),
            cols,
            nulls_collide,
            counted,
            value,
            production: production.then(|| {
                let differs = key
                    .iter()
                    .map(|k| format!("t.{k} IS DISTINCT FROM r.{k}", k = ident(k)))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                (feed.target.sql_name(), key, differs)
            }),
        }
    }

    /// `a`'s and `b`'s values collide. Under NULLS NOT DISTINCT two NULLs do: `ARRAY[x] =
    /// ARRAY[y]` says so (array equality counts NULL elements equal) and, unlike `IS NOT
    /// DISTINCT FROM`, can be hashed, so the joins stay hash joins.
    fn same(&self, a: &str, b: &str) -> String {
        self.cols
            .iter()
            .map(|c| {
                if self.nulls_collide {
                    format!("ARRAY[{a}.{c}] = ARRAY[{b}.{c}]")
                } else {
                    format!("{a}.{c} = {b}.{c}")
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// Read-only queries for the ordinals of the rows breaking the index: their value
    /// repeats among the typed rows, or another row of production holds it. Each on its own,
    /// so that the server can run each in parallel.
    fn offending(&self) -> Vec<String> {
        let Self { rows, counted, .. } = self;
        let ord = ident(ORD_COLUMN);
        let mut queries = vec![format!(
            "SELECT r.{ord} FROM {rows} r WHERE {counted} AND EXISTS \
                 (SELECT 1 FROM {rows} o WHERE {repeats} AND o.{ord} <> r.{ord})",
            repeats = self.same("o", "r"),
        )];
        if let Some((target, _, differs)) = &self.production {
            queries.push(format!(
                "SELECT r.{ord} FROM {rows} r JOIN {target} t ON {joined} \
                 WHERE {counted} AND ({differs})",
                joined = self.same("t", "r"),
            ));
        }
        queries
    }

    /// Sets aside the rows `offending` found (`$3`, their ordinals), each with its reason:
    /// issues with `$1` the index's columns and `$2` its name (with production, `$4` the
    /// target's name and `$5` the key's columns), and out of the typed rows.
    fn set_aside(&self, binding: &Binding, names: &StageNames) -> String {
        let Self {
            rows,
            list,
            counted,
            value,
            ..
        } = self;
        let same = |a, b| self.same(a, b);
        let line = ident(LINE_COLUMN);
        let ord = ident(ORD_COLUMN);
        let in_production = match &self.production {
            Some((target, key, differs)) => format!(
                " UNION ALL SELECT r.tid, r.{line}, r.{ord}, {value}, \
                        format('%s ''%s'' is already taken in %s by the row with %s = %s; \
                                unique index %s', $1::text, {value}, $4::text, $5::text, \
                               {other}, $2::text) \
                  FROM cand r JOIN {target} t ON {joined} WHERE {counted} AND ({differs})",
                other = key_text(&strs(key), "t"),
                joined = same("t", "r"),
            ),
            None => String::new(),
        };
        // The lines of each repeated value: an ordered aggregate, over these few rows only.
        format!(
            "WITH cand AS MATERIALIZED (SELECT r.ctid AS tid, r.* FROM {rows} r \
                 WHERE r.{ord} = ANY ($3::bigint[])), \
             d AS (SELECT {list}, count(*) AS n, \
                          (array_agg({line} ORDER BY {ord}))[1:5] AS lines \
                   FROM cand r WHERE {counted} GROUP BY {list} HAVING count(*) > 1), \
             found AS MATERIALIZED (SELECT r.tid, r.{line} AS line, r.{ord} AS ord, \
                    {value} AS value, \
                    format('%s ''%s'' appears on %s rows (lines %s%s); unique index %s', \
                           $1::text, {value}, d.n, {lines}, \
                           CASE WHEN d.n > 5 THEN ', …' ELSE '' END, $2::text) AS message \
                 FROM cand r JOIN d ON {joined} WHERE {counted}{in_production}), \
             bad AS MATERIALIZED (SELECT DISTINCT ON (ord) * FROM found ORDER BY ord, message), \
             noted AS (INSERT INTO {issues} ({ISSUE_COLUMNS}) \
                       SELECT line, ord, $1, 'unique', 'error', value, message FROM bad \
                       ORDER BY ord), \
             {delete}",
            joined = same("r", "d"),
            lines = crate::layout::lines_sql(names, binding.parts, "d.lines"),
            issues = names.issues,
            delete = by_address(binding, names),
        )
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
