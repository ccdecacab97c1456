//! Set-based checks over staging: values the server must judge, lookups, the typed rows
//! table, foreign keys, the target's CHECK constraints and duplicate keys. Each step is one
//! statement; nothing runs per row.
use tokio_postgres::{Client, GenericClient};

use super::aside::{ISSUE_COLUMNS, exec, key_text, set_aside_where};
use super::binding::{Binding, BoundColumn};
use super::lookup::{self, Judged};
use super::row::PENDING;
use super::types::TypeRule;
use crate::db::ident;
use crate::error::{Error, Result};
use crate::feed::{Feed, Lookup};
use crate::layout::{LINE_COLUMN, ORD_COLUMN, StageNames};
use crate::staged::Staged;
use crate::timing::Timings;

/// What the load already did, which the set-based layers then skip.
pub struct FromLoad<'a> {
    /// Target columns with values the Rust rules left to the server.
    pub pending: &'a std::collections::BTreeSet<String>,
    /// Whether the load wrote the typed rows (all but those with undecided values).
    pub typed_written: bool,
    /// Keys that may repeat (from the load), or `None` to group every row.
    pub candidates: Option<&'a [i64]>,
}

/// Runs every set-based layer; afterwards the rows table holds exactly the rows to promote.
pub async fn run(
    client: &Client,
    staged: Staged<'_>,
    loaded: &FromLoad<'_>,
    timings: &mut Timings,
) -> Result<()> {
    let Staged { binding, names, .. } = staged;
    let pending = loaded.pending;
    // Columns of server-checked types, and columns where the Rust rules left values open.
    for col in &binding.columns {
        if matches!(col.rule, TypeRule::Server) || pending.contains(&col.target) {
            server_types(client, names, col).await?;
        }
    }
    timings.lap("server casts");
    // Lookups were resolved while loading whenever the typed rows were written then.
    if !loaded.typed_written {
        for col in &binding.columns {
            if col.lookup.is_some() {
                lookups(client, names, col).await?;
            }
        }
        timings.lap("lookups");
    }
    match (loaded.typed_written, pending.is_empty()) {
        (true, true) => {}
        // Only the rows held back for the server's judgement are left to add.
        (true, false) => {
            let filter = format!(
                "s.\"_ord\" IN (SELECT ord FROM {} WHERE severity = '{PENDING}')",
                names.issues
            );
            build_rows_judged(client, binding, names, &filter).await?;
        }
        (false, _) => build_rows_judged(client, binding, names, "true").await?,
    }
    if !pending.is_empty() {
        clear_pending(client, names).await?;
    }
    timings.lap("typed rows");
    foreign_keys(client, staged).await?;
    timings.lap("foreign keys");
    super::scan::constraints_and_duplicates(client, staged, loaded.candidates).await?;
    timings.lap("check constraints and duplicate keys");
    super::unique::other_unique_indexes(client, staged).await?;
    timings.lap("other unique indexes");
    super::generated::generated_columns(client, staged).await?;
    timings.lap("generated columns");
    Ok(())
}

/// Builds typed rows; if the server refuses a value the Rust rules accepted — a gap in the
/// rules, never a reason to fail — it judges every value, and the rows are built again.
async fn build_rows_judged(
    client: &Client,
    binding: &Binding,
    names: &StageNames,
    filter: &str,
) -> Result<()> {
    match build_rows(client, binding, names, filter).await {
        Err(e) if is_data_exception(&e) => {
            server_types_every_column(client, binding, names).await?;
            build_rows(client, binding, names, filter).await
        }
        other => other,
    }
}

/// Every value of the columns the Rust rules judge, cast by the server.
async fn server_types_every_column(
    client: &Client,
    binding: &Binding,
    names: &StageNames,
) -> Result<()> {
    for col in &binding.columns {
        if !matches!(col.rule, TypeRule::Server) && col.lookup.is_none() {
            server_types_all(client, names, col).await?;
        }
    }
    Ok(())
}

/// Values the Rust rules left to the server were recorded as `pending` issues; once the
/// server has judged them they go.
async fn clear_pending(client: &Client, names: &StageNames) -> Result<()> {
    exec(
        client,
        "clearing pending values",
        &format!("DELETE FROM {} WHERE severity = $1", names.issues),
        &[&PENDING],
    )
    .await?;
    Ok(())
}

fn is_data_exception(e: &Error) -> bool {
    matches!(e, Error::Database { cause, .. }
        if cause.code().is_some_and(|c| c.code().starts_with("22")))
}

/// Values of server-checked types, and values the Rust rules left undecided, are cast by the
/// server once per distinct value; the failures become issues with the server's message.
async fn server_types(client: &Client, names: &StageNames, col: &BoundColumn) -> Result<()> {
    cast_on_server(client, names, col, matches!(col.rule, TypeRule::Server)).await
}

/// Every value of a column not yet rejected, cast by the server.
async fn server_types_all(client: &Client, names: &StageNames, col: &BoundColumn) -> Result<()> {
    cast_on_server(client, names, col, true).await
}

async fn cast_on_server(
    client: &Client,
    names: &StageNames,
    col: &BoundColumn,
    all: bool,
) -> Result<()> {
    let field = col.stage_column();
    let candidates = if all {
        format!(
            "SELECT DISTINCT s.{field} FROM {raw} s WHERE s.{field} IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM {issues} i WHERE i.ord = s.\"_ord\" AND i.severity = 'error')",
            raw = names.raw,
            issues = names.issues
        )
    } else {
        format!(
            "SELECT DISTINCT s.{field} FROM {raw} s JOIN {issues} p ON p.ord = s.\"_ord\" \
             WHERE p.severity = '{PENDING}' AND p.\"column\" = $1",
            raw = names.raw,
            issues = names.issues
        )
    };
    let sql = format!(
        "INSERT INTO {issues} ({ISSUE_COLUMNS}) \
         SELECT s.\"_line\", s.\"_ord\", $1, 'type', 'error', left(s.{field}, 500), f.message \
         FROM {raw} s \
         JOIN airlock.cast_errors(ARRAY({candidates}), $2::oid::regtype, $3) f \
           ON f.value = s.{field} \
         ORDER BY s.\"_ord\"",
        issues = names.issues,
        raw = names.raw,
    );
    exec(
        client,
        "casting values on the server",
        &sql,
        &[&col.target, &col.type_oid, &col.typmod],
    )
    .await?;
    Ok(())
}

/// File values with no match (or more than one) in the lookup table.
async fn lookups(client: &Client, names: &StageNames, col: &BoundColumn) -> Result<()> {
    let Some(lookup) = &col.lookup else {
        return Ok(());
    };
    let field = col.stage_column();
    let sql = format!(
        "INSERT INTO {issues} ({ISSUE_COLUMNS}) \
         SELECT s.\"_line\", s.\"_ord\", $1, 'lookup', '{severity}', left(s.{field}, 500), \
                CASE WHEN l.n IS NULL THEN format($3::text, left(s.{field}, 60), $2::text) \
                     ELSE format($4::text, left(s.{field}, 60), l.n, $2::text) END \
         FROM {raw} s \
         LEFT JOIN (SELECT {m}::text AS m, count(*) AS n FROM {table} GROUP BY 1) l ON l.m = s.{field} \
         WHERE s.{field} IS NOT NULL AND (l.n IS NULL OR l.n > 1) \
         ORDER BY s.\"_ord\"",
        issues = names.issues,
        raw = names.raw,
        m = ident(&lookup.match_column),
        table = lookup.table_sql,
        severity = crate::stage::lookup_severity(col).as_str(),
    );
    let shown = format!("{}.{}", lookup.table_display, lookup.match_column);
    // The wording is the in-memory path's (`lookup::NOT_IN`, `lookup::MATCHES_MANY`).
    let (not_in, many) = (lookup::NOT_IN, lookup::MATCHES_MANY);
    exec(
        client,
        "checking lookups",
        &sql,
        &[&col.target, &shown, &not_in, &many],
    )
    .await?;
    unfit_lookups(client, names, col, lookup).await
}

/// The unique match of each lookup value, as text: `m`, the match, and `v`, the value.
fn lookup_matches(lookup: &Lookup) -> String {
    format!(
        "(SELECT {m}::text AS m, (array_agg({v}))[1]::text AS v FROM {table} \
          GROUP BY 1 HAVING count(*) = 1)",
        m = ident(&lookup.match_column),
        v = ident(&lookup.value_column),
        table = lookup.table_sql,
    )
}

/// Rows whose lookup finds a value the target column cannot hold, or holds changed (a
/// rounding). The values the file's rows find are judged by the column's type rule, those it
/// leaves open by the server; rows finding a refused one get an error, so the typed rows
/// are built without them, and rows finding a changed one a warning. The messages are the
/// in-memory path's own (`lookup::found_message`).
async fn unfit_lookups(
    client: &Client,
    names: &StageNames,
    col: &BoundColumn,
    lookup: &Lookup,
) -> Result<()> {
    let field = col.stage_column();
    let what = || Error::db("judging the lookup's values");
    // Each file value with a match, and the value it finds.
    let found: Vec<(String, String)> = client
        .query(
            &format!(
                "SELECT DISTINCT l.m, l.v FROM {raw} s JOIN {matches} l ON l.m = s.{field} \
                 WHERE l.v IS NOT NULL",
                raw = names.raw,
                matches = lookup_matches(lookup),
            ),
            &[],
        )
        .await
        .map_err(what())?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut judged: Vec<(&str, &str, Judged)> = found
        .iter()
        .map(|(m, v)| (m.as_str(), v.as_str(), lookup::judge(col, v)))
        .collect();
    let open: Vec<&str> = judged
        .iter()
        .filter(|(_, _, j)| matches!(j, Judged::Open))
        .map(|(_, v, _)| *v)
        .collect();
    if !open.is_empty() {
        let refused: std::collections::HashMap<String, String> = client
            .query(
                "SELECT value, message FROM airlock.cast_errors($1::text[], $2::oid::regtype, $3)",
                &[&open, &col.type_oid, &col.typmod],
            )
            .await
            .map_err(what())?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        for (_, v, j) in &mut judged {
            if let (Judged::Open, Some(reason)) = (&j, refused.get(*v)) {
                *j = Judged::Unfit(reason.clone());
            }
        }
    }
    let shown = format!("{}.{}", lookup.table_display, lookup.value_column);
    // Per file value: the value, the issue's check, severity and message.
    let mut issues: [Vec<String>; 4] = Default::default();
    for (m, v, j) in judged {
        let (check, severity, message) = match j {
            Judged::Unfit(reason) => (
                "lookup",
                "error",
                lookup::found_message(m, &shown, v, Some(&col.target), &reason),
            ),
            Judged::Fits(Some(note)) => (
                note.check,
                "warning",
                lookup::found_message(m, &shown, v, None, &note.message),
            ),
            Judged::Fits(None) | Judged::Open => continue,
        };
        let items = [m.to_string(), check.into(), severity.into(), message];
        for (list, item) in issues.iter_mut().zip(items) {
            list.push(item);
        }
    }
    if issues[0].is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO {issues} ({ISSUE_COLUMNS}) \
         SELECT s.\"_line\", s.\"_ord\", $1, u.kind, u.severity, left(s.{field}, 500), u.message \
         FROM {raw} s \
         JOIN unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u (m, kind, severity, message) \
           ON u.m = s.{field} \
         ORDER BY s.\"_ord\"",
        issues = names.issues,
        raw = names.raw,
    );
    let [values, checks, severities, messages] = &issues;
    exec(
        client,
        "checking the lookup's values",
        &sql,
        &[&col.target, values, checks, severities, messages],
    )
    .await?;
    Ok(())
}

/// Adds the rows of staging that passed the row checks (and `filter`), cast to the target's
/// types, lookups resolved, to the typed rows: the table the remaining checks, the plan and
/// the promotion read.
async fn build_rows(
    client: &Client,
    binding: &Binding,
    names: &StageNames,
    filter: &str,
) -> Result<()> {
    let mut select = vec![
        format!("s.\"_line\" AS {}", ident(LINE_COLUMN)),
        format!("s.\"_ord\" AS {}", ident(ORD_COLUMN)),
    ];
    let mut joins = String::new();
    for (i, col) in binding.columns.iter().enumerate() {
        let field = col.stage_column();
        match &col.lookup {
            Some(lookup) => {
                let alias = format!("lk{i}");
                joins.push_str(&format!(
                    " LEFT JOIN {} {alias} ON {alias}.m = s.{field}",
                    lookup_matches(lookup)
                ));
                select.push(format!(
                    "{alias}.v::{} AS {}",
                    col.cast_sql,
                    ident(&col.target)
                ));
            }
            None => select.push(format!(
                "s.{field}::{} AS {}",
                col.cast_sql,
                ident(&col.target)
            )),
        }
    }
    // The source fields stay in staging: `__byte` and `__f…` are left NULL.
    let columns = std::iter::once(ident(LINE_COLUMN))
        .chain(std::iter::once(ident(ORD_COLUMN)))
        .chain(binding.columns.iter().map(|c| ident(&c.target)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {rows} ({columns}) SELECT {select} FROM {raw} s{joins} \
         WHERE ({filter}) AND NOT EXISTS \
             (SELECT 1 FROM {issues} i WHERE i.ord = s.\"_ord\" AND i.severity = 'error')",
        rows = names.rows,
        select = select.join(", "),
        raw = names.raw,
        issues = names.issues,
    );
    client
        .batch_execute(&format!("ANALYZE {issues}; {sql}", issues = names.issues))
        .await
        .map_err(Error::db("casting staged rows to the target's types"))
}

struct FkCheck<'a> {
    fk: &'a crate::db::catalog::ForeignKey,
    columns: Vec<&'a str>,
    /// Rows of `r` (the typed rows) whose reference is missing.
    missing: String,
}

fn fk_checks<'a>(feed: &'a Feed, binding: &Binding) -> Vec<FkCheck<'a>> {
    feed.target
        .foreign_keys
        .iter()
        .filter(|fk| fk.columns.iter().all(|c| binding.column(c).is_some()))
        .map(|fk| {
            let columns: Vec<&str> = fk.columns.iter().map(String::as_str).collect();
            let not_null: Vec<String> = columns
                .iter()
                .map(|c| format!("r.{} IS NOT NULL", ident(c)))
                .collect();
            let matches: Vec<String> = columns
                .iter()
                .zip(&fk.ref_columns)
                .map(|(c, rc)| format!("f.{} = r.{}", ident(rc), ident(c)))
                .collect();
            let missing = format!(
                "{} AND NOT EXISTS (SELECT 1 FROM {} f WHERE {})",
                not_null.join(" AND "),
                fk.ref_table_sql,
                matches.join(" AND ")
            );
            FkCheck {
                fk,
                columns,
                missing,
            }
        })
        .collect()
}

/// A one-column foreign key whose column is filled by a lookup into the very table and
/// column it references holds by construction at validation; promotion checks it again.
fn filled_by_lookup(fk: &crate::db::catalog::ForeignKey, binding: &Binding) -> bool {
    let ([column], [referenced]) = (fk.columns.as_slice(), fk.ref_columns.as_slice()) else {
        return false;
    };
    binding
        .column(column)
        .and_then(|c| c.lookup.as_ref())
        .is_some_and(|l| l.table_oid == fk.ref_table_oid && &l.value_column == referenced)
}

/// The target's foreign keys whose columns the file feeds.
async fn foreign_keys(client: &Client, staged: Staged<'_>) -> Result<()> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    for check in fk_checks(feed, binding) {
        if filled_by_lookup(check.fk, binding) {
            continue;
        }
        let sql = set_aside_where(
            binding,
            names,
            &check.missing,
            &format!(
                "$1, 'foreign_key', 'error', {value}, format('%s is not in %s (%s)', {value}, $2::text, $3::text)",
                value = key_text(&check.columns, "r"),
            ),
        );
        let fk = check.fk;
        let reference = format!("{}({})", fk.ref_table_sql, fk.ref_columns.join(", "));
        exec(
            client,
            &format!("checking foreign key {}", fk.name),
            &sql,
            &[&check.columns.join(", "), &reference, &fk.name],
        )
        .await?;
    }
    Ok(())
}

/// Good rows whose reference has disappeared since validation (a category deleted), one
/// line per foreign key: `3 rows reference public.categories(category_id) rows that no
/// longer exist`.
pub async fn foreign_key_violations(
    client: &impl GenericClient,
    staged: Staged<'_>,
) -> Result<Vec<String>> {
    let Staged {
        feed,
        binding,
        names,
    } = staged;
    let mut out = Vec::new();
    for check in fk_checks(feed, binding) {
        let n: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {} r WHERE {}",
                    names.rows, check.missing
                ),
                &[],
            )
            .await
            .map_err(Error::db(format!("checking foreign key {}", check.fk.name)))?
            .get(0);
        if n > 0 {
            out.push(format!(
                "{n} good row{} reference{} {}({}) rows that no longer exist",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" },
                check.fk.ref_table_sql,
                check.fk.ref_columns.join(", ")
            ));
        }
    }
    Ok(out)
}
