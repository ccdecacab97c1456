//! The quarantined rows of a ClickHouse batch: pages by keyset in file order or sorted by a
//! field, their rank, search and jump, the frequencies of their offending values, the
//! record's text from the file, and the column profile.
use std::collections::HashMap;

use super::{ClickHouse, field, filter_cond, number, ord_list, ords_sql, records};
use crate::clickhouse::batches;
use crate::clickhouse::client::quote;
use crate::error::{Error, Result};
use crate::layout::StageNames;
use crate::review::{
    ColumnProfile, Filter, Frequencies, Hit, PageFrom, QuarantinedRow, RowIssueView, Sort,
};
use crate::source::parts::PartMap;

/// One page of quarantined rows, ascending by file position.
pub async fn quarantined_page(
    ch: &ClickHouse,
    batch: i64,
    fields: usize,
    filter: &Filter,
    from: PageFrom,
    limit: i64,
) -> Result<Vec<QuarantinedRow>> {
    let names = StageNames::new(batch);
    let (cmp, ascending) = from.direction();
    let ords = ords_of(
        ch,
        batch,
        &format!(
            "{ords} AND ord {cmp} {bound} GROUP BY ord ORDER BY ord {dir} LIMIT {limit}",
            ords = ords_sql(&names, filter),
            bound = from.bound(),
            dir = if ascending { "ASC" } else { "DESC" },
            limit = limit.max(1),
        ),
    )
    .await?;
    rows_of(ch, batch, fields, filter, ords, !ascending).await
}

/// The first column of every row of `sql`, as ordinals.
async fn ords_of(ch: &ClickHouse, batch: i64, sql: &str) -> Result<Vec<i64>> {
    Ok(ch
        .rows(sql, &format!("reading quarantined rows of batch {batch}"))
        .await?
        .iter()
        .map(|r| number(r.first()))
        .collect())
}

/// The quarantined rows of `ords`, every field and issue with them, in that order (reversed
/// when `reverse`: a page read backwards is shown forwards).
async fn rows_of(
    ch: &ClickHouse,
    batch: i64,
    fields: usize,
    filter: &Filter,
    mut ords: Vec<i64>,
    reverse: bool,
) -> Result<Vec<QuarantinedRow>> {
    if reverse {
        ords.reverse();
    }
    if ords.is_empty() {
        return Ok(Vec::new());
    }
    let names = StageNames::new(batch);
    let context = format!("reading quarantined rows of batch {batch}");
    let list = ord_list(&ords);
    let field_list: String = (0..fields).map(|i| format!(", {}", field(i))).collect();
    let mut records: HashMap<i64, Vec<Option<String>>> = ch
        .rows(
            &format!(
                "SELECT `_ord`, `_line`, `_raw`{field_list} FROM {} WHERE `_ord` IN ({list})",
                records(&names, fields)
            ),
            &context,
        )
        .await?
        .into_iter()
        .map(|r| (number(r.first()), r))
        .collect();
    let mut issues: HashMap<i64, Vec<RowIssueView>> = HashMap::new();
    for r in ch
        .rows(
            &format!(
                "SELECT ord, `column`, `check`, value, message FROM {} \
                 WHERE ord IN ({list}) AND severity = '{}' ORDER BY ord, line, `check`, `column`",
                names.issues,
                filter.severity()
            ),
            &context,
        )
        .await?
    {
        let f = |i: usize| r.get(i).cloned().flatten();
        issues
            .entry(number(r.first()))
            .or_default()
            .push(RowIssueView {
                column: f(1),
                check: f(2).unwrap_or_default(),
                value: f(3),
                message: f(4).unwrap_or_default(),
            });
    }
    let parts = PartMap::new(batches::summary(ch, batch).await?.file.parts);
    Ok(ords
        .into_iter()
        .filter_map(|ord| {
            let r = records.remove(&ord)?;
            let line = number(r.get(1));
            let place = parts.locate(line);
            Some(QuarantinedRow {
                line,
                file: place.file.map(str::to_owned),
                file_line: place.line,
                ord,
                raw: r.get(2).cloned().flatten(),
                issues: issues.remove(&ord).unwrap_or_default(),
                fields: r.into_iter().skip(3).collect(),
            })
        })
        .collect())
}

/// The sort key of field `field` of the records: its value when it reads as a number, else
/// infinity; then whether it is empty (an empty field after every text); then its bytes.
fn sort_key(field_index: usize) -> String {
    let f = field(field_index);
    format!(
        "ifNull(if(match({f}, '^\\\\s*[-+]?([0-9]+\\\\.?[0-9]*|\\\\.[0-9]+)([eE][-+]?[0-9]{{1,3}})?\\\\s*$'), \
                   toFloat64OrNull(trimBoth({f})), NULL), inf), isNull({f}), ifNull({f}, '')"
    )
}

/// One page of the quarantined rows `filter` chooses, in `sort`'s order: a keyset range
/// over (the field's sort key, ordinal), anchored at a row's ordinal.
pub async fn sorted_page(
    ch: &ClickHouse,
    batch: i64,
    fields: usize,
    filter: &Filter,
    sort: Sort,
    from: PageFrom,
    limit: i64,
) -> Result<Vec<QuarantinedRow>> {
    let names = StageNames::new(batch);
    let crate::review::Direction {
        forward,
        ascending,
        cmp,
    } = crate::review::direction(sort, from);
    let dir = if ascending { "ASC" } else { "DESC" };
    let key = format!("tuple({}, `_ord`)", sort_key(sort.field));
    let relation = records(&names, fields);
    let anchor = match from {
        PageFrom::Start | PageFrom::End => "1".to_string(),
        _ => format!(
            "{key} {cmp} (SELECT {key} FROM {relation} WHERE `_ord` = {} LIMIT 1)",
            from.bound()
        ),
    };
    let ords = ords_of(
        ch,
        batch,
        &format!(
            "SELECT `_ord` FROM {relation} WHERE `_ord` IN ({ords}) AND {anchor} \
             ORDER BY {key} {dir} LIMIT {limit}",
            ords = ords_sql(&names, filter),
            limit = limit.max(1),
        ),
    )
    .await?;
    rows_of(ch, batch, fields, filter, ords, !forward).await
}

/// How many quarantined rows `filter` chooses before the row `ord` (with `ord` past the
/// last, how many there are).
pub async fn quarantined_rank(
    ch: &ClickHouse,
    batch: i64,
    filter: &Filter,
    ord: i64,
) -> Result<u64> {
    let names = StageNames::new(batch);
    let n = ch
        .value(
            &format!(
                "SELECT uniqExact(ord) FROM {} WHERE {} AND ord < {ord}",
                names.issues,
                filter_cond(filter)
            ),
            &format!("counting quarantined rows of batch {batch}"),
        )
        .await?;
    Ok(n.and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// The offending values of the rows `filter` chooses (its check and column), commonest
/// first, at most `limit` of them, with how many distinct values and rows there are.
pub async fn value_frequencies(
    ch: &ClickHouse,
    batch: i64,
    filter: &Filter,
    limit: i64,
) -> Result<Frequencies> {
    let names = StageNames::new(batch);
    let filter = Filter {
        value: None,
        ..filter.clone()
    };
    let rows = ch
        .rows(
            &format!(
                "SELECT value, n, count() OVER (), sum(n) OVER () FROM \
                   (SELECT value, uniqExact(ord) AS n FROM {} WHERE {} GROUP BY value) \
                 ORDER BY n DESC, value ASC NULLS LAST LIMIT {}",
                names.issues,
                filter_cond(&filter),
                limit.max(1)
            ),
            &format!("counting the values of batch {batch}"),
        )
        .await?;
    Ok(Frequencies {
        values: rows
            .iter()
            .map(|r| (r.first().cloned().flatten(), number(r.get(1))))
            .collect(),
        distinct: rows.first().map_or(0, |r| number(r.get(2))),
        rows: rows.first().map_or(0, |r| number(r.get(3))),
        filter,
    })
}

/// The quarantined rows (matching `filter`) that contain `text`, case-insensitive, in their
/// fields, raw text, or issues' messages and values: the condition on a record `_ord`.
fn matching(names: &StageNames, fields: usize, filter: &Filter, text: &str) -> String {
    // Fields are joined by a unit separator, not a space: a query's trailing space only
    // matches a value that has one.
    let mut hay = vec!["ifNull(`_raw`, '')".to_string()];
    hay.extend((0..fields).map(|i| format!("ifNull({}, '')", field(i))));
    let needle = quote(text);
    format!(
        "`_ord` IN ({ords}) AND (positionCaseInsensitiveUTF8(concatWithSeparator(char(31), {hay}), {needle}) > 0 \
           OR `_ord` IN (SELECT ord FROM {issues} WHERE positionCaseInsensitiveUTF8(\
               concat(message, char(31), ifNull(value, '')), {needle}) > 0))",
        ords = ords_sql(names, filter),
        hay = hay.join(", "),
        issues = names.issues,
    )
}

/// The next (or previous) match of `text` after the row `from_ord`, wrapping around the end
/// (or the start), with its rank among all matches.
#[allow(clippy::too_many_arguments)]
pub async fn search(
    ch: &ClickHouse,
    batch: i64,
    fields: usize,
    filter: &Filter,
    text: &str,
    from_ord: i64,
    forward: bool,
) -> Result<Option<Hit>> {
    let names = StageNames::new(batch);
    let relation = records(&names, fields);
    let cond = matching(&names, fields, filter, text);
    let context = "searching the quarantined rows";
    let (cmp, agg) = if forward {
        (">", "minOrNull")
    } else {
        ("<", "maxOrNull")
    };
    let find = |from: i64| {
        let sql =
            format!("SELECT {agg}(`_ord`) FROM {relation} WHERE `_ord` {cmp} {from} AND {cond}");
        async move { Ok::<_, Error>(number_opt(ch.value(&sql, context).await?)) }
    };
    let (ord, wrapped) = match find(from_ord).await? {
        Some(ord) => (ord, false),
        None => match find(if forward { i64::MIN } else { i64::MAX }).await? {
            Some(ord) => (ord, true),
            None => return Ok(None),
        },
    };
    let counts = ch
        .rows(
            &format!("SELECT countIf(`_ord` <= {ord}), count() FROM {relation} WHERE {cond}"),
            context,
        )
        .await?;
    let counts = counts.first().cloned().unwrap_or_default();
    let mut note = format!(
        "match {} of {}",
        crate::format::thousands(number(counts.first())),
        crate::format::thousands(number(counts.get(1)))
    );
    if wrapped {
        note.push_str(match forward {
            true => " (from the top again)",
            false => " (from the bottom again)",
        });
    }
    Ok(Some(Hit { ord, note }))
}

fn number_opt(v: Option<String>) -> Option<i64> {
    v.and_then(|v| v.parse().ok())
}

/// The quarantined row at file line `line` (of the part named `file`, in a batch of several
/// files), or the nearest: the next after it, else the last before it — saying so when it
/// is not on that line.
pub async fn go_to_line(
    ch: &ClickHouse,
    batch: i64,
    filter: &Filter,
    file: Option<&str>,
    line: i64,
) -> Result<Option<Hit>> {
    let names = StageNames::new(batch);
    let parts = PartMap::new(batches::summary(ch, batch).await?.file.parts);
    let (asked, batch_line) = match file {
        None => (line.to_string(), line),
        Some(f) => match parts.batch_line(f, line) {
            Some(at) => (format!("{}:{line}", crate::format::visible(f, false)), at),
            None => {
                return Err(Error::Refused {
                    id: batch,
                    action: "searched",
                    reason: format!(
                        "it has no file named `{}`",
                        crate::format::visible(f, false)
                    ),
                });
            }
        },
    };
    let context = "finding a line";
    let parts = &parts;
    let found = |sql: String| async move {
        let row = ch.rows(&sql, context).await?.into_iter().next();
        Ok::<_, Error>(row.and_then(|r| {
            let ord = number_opt(r.first().cloned().flatten())?;
            Some((ord, parts.locate(number(r.get(1))).to_string()))
        }))
    };
    let rows = names.raw.clone();
    let ords = ords_sql(&names, filter);
    let next = found(format!(
        "SELECT `_ord`, `_line` FROM {rows} WHERE `_line` >= {batch_line} AND `_ord` IN ({ords}) \
         ORDER BY `_ord` LIMIT 1"
    ))
    .await?;
    if let Some((ord, at)) = next {
        let note = match at == asked || at == line.to_string() {
            true => format!("line {at}"),
            false => format!("no quarantined row on line {asked}; the next is line {at}"),
        };
        return Ok(Some(Hit { ord, note }));
    }
    // None at or after it: every row is before it, and the last is the nearest.
    let last = found(format!(
        "SELECT `_ord`, `_line` FROM {rows} WHERE `_ord` IN ({ords}) ORDER BY `_ord` DESC LIMIT 1"
    ))
    .await?;
    Ok(last.map(|(ord, at)| Hit {
        ord,
        note: format!("no quarantined row at or after line {asked}; the last is line {at}"),
    }))
}

/// The record exactly as the file has it, read back at the byte offset staging recorded.
pub async fn source_text(ch: &ClickHouse, batch: i64, ord: i64) -> Result<Option<String>> {
    let names = StageNames::new(batch);
    let summary = batches::summary(ch, batch).await?;
    let rows = ch
        .rows(
            &format!(
                "SELECT `_ord`, `_byte`, `_line` FROM {} WHERE `_ord` IN ({ord}, {})",
                records(&names, 0),
                ord + 1
            ),
            "locating the record in the file",
        )
        .await?;
    let at = |o: i64, i: usize| {
        rows.iter()
            .find(|r| number(r.first()) == o)
            .and_then(|r| number_opt(r.get(i).cloned().flatten()))
    };
    let file = summary.file;
    Ok(crate::review::read_record(crate::review::RecordAt {
        path: file.path,
        size: file.size,
        compression: file.compression,
        format: file.format,
        parts: PartMap::new(file.parts),
        start: at(ord, 1),
        next: at(ord + 1, 1),
        line: at(ord, 2),
        next_line: at(ord + 1, 2),
    }))
}

/// The column profile kept with the batch since it was read.
pub async fn column_profile(ch: &ClickHouse, batch: i64) -> Result<Vec<ColumnProfile>> {
    Ok(batches::summary(ch, batch).await?.profile)
}
