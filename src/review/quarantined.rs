//! The quarantined rows: every field as the file had it, with the checks each row failed.
use serde::Deserialize;
use tokio_postgres::GenericClient;

use super::PageFrom;
use crate::error::{Error, Result};
use crate::layout::StageNames;
use crate::layout::stage_field;

/// Narrows the quarantined rows to one check and/or column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub check: Option<String>,
    pub column: Option<String>,
    /// Rows kept despite their issue instead of the quarantined ones: `warning` (a warning
    /// let them through) or `superseded` (another row with the same key won).
    pub kept: Option<String>,
    /// Only the rows whose offending value is this one (from the frequency view).
    pub value: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.check.is_none() && self.column.is_none() && self.kept.is_none() && self.value.is_none()
    }

    /// The issues' severity the rows are chosen by, and shown with (a known one only: it is
    /// spliced into the query).
    pub(crate) fn severity(&self) -> &'static str {
        match self.kept.as_deref() {
            Some("warning") => "warning",
            Some("superseded") => "superseded",
            _ => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RowIssueView {
    pub column: Option<String>,
    pub check: String,
    pub value: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuarantinedRow {
    /// The record's line in the batch (through every part, for a batch of several files).
    pub line: i64,
    /// The part the record is in, for a batch of several files, and its line there.
    pub file: Option<String>,
    pub file_line: i64,
    pub ord: i64,
    /// The fields under the file's header; `None` for NULL or missing.
    pub fields: Vec<Option<String>>,
    /// The record as it came, when its fields could not be trusted (ragged, undecodable).
    pub raw: Option<String>,
    pub issues: Vec<RowIssueView>,
}

impl QuarantinedRow {
    /// Where a person finds the record: its line, after its file's name when the batch has
    /// several (`part-002.csv:40`).
    pub fn place(&self) -> String {
        crate::source::parts::Place {
            file: self.file.as_deref(),
            line: self.file_line,
        }
        .to_string()
    }
}

/// The condition on an issue `i` that `filter` chooses; its values are the parameters from
/// `$2` on, in [`filter_params`]' order.
pub(super) fn filter_cond(filter: &Filter) -> String {
    let mut cond = format!("i.severity = '{}'", filter.severity());
    let chosen = [
        (filter.check.is_some(), "i.\"check\""),
        (filter.column.is_some(), "i.\"column\""),
        (filter.value.is_some(), "i.value"),
    ];
    for (n, (_, col)) in chosen.iter().filter(|(on, _)| *on).enumerate() {
        cond.push_str(&format!(" AND {col} = ${}", n + 2));
    }
    cond
}

/// The ordinals of quarantined rows matching `filter`, as a subquery over the issues table.
pub(super) fn ords_sql(names: &StageNames, filter: &Filter) -> String {
    format!(
        "SELECT i.ord FROM {} i WHERE {}",
        names.issues,
        filter_cond(filter)
    )
}

/// A query's parameters: `first` ($1), then the filter's values.
pub(super) fn params_with<'a>(
    extra: &'a [&'a str],
    first: &'a (dyn tokio_postgres::types::ToSql + Sync),
) -> Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)> {
    let mut params = vec![first];
    for p in extra {
        params.push(p as &(dyn tokio_postgres::types::ToSql + Sync));
    }
    params
}

pub(super) fn filter_params(filter: &Filter) -> Vec<&str> {
    filter
        .check
        .iter()
        .chain(filter.column.iter())
        .chain(filter.value.iter())
        .map(String::as_str)
        .collect()
}

/// One page of quarantined rows, ascending by file position.
pub async fn quarantined_page(
    client: &impl GenericClient,
    batch: i64,
    fields: usize,
    filter: &Filter,
    from: PageFrom,
    limit: i64,
) -> Result<Vec<QuarantinedRow>> {
    let names = StageNames::new(batch);
    // Grouping over an ordered index scan stops at the LIMIT, and each row is then probed by
    // ordinal (LIMIT 1 keeps the planner from turning the probes into a scan): a page costs
    // the same whether the batch has ten bad rows or a million.
    let (keyset, ascending) = from.keyset("i.ord");
    let page = format!(
        "{ords} AND {keyset} GROUP BY i.ord ORDER BY i.ord {dir} LIMIT {limit}",
        ords = ords_sql(&names, filter),
        dir = if ascending { "ASC" } else { "DESC" },
        limit = limit.max(1),
    );
    rows_of_page(
        client,
        batch,
        fields,
        filter,
        &page,
        "page.ord",
        from.bound(),
    )
    .await
}

/// The quarantined rows whose ordinals the query `page` chooses (a column `ord`, and what
/// `order` sorts them by; `$1` is `bound`, the filter's values follow), every field and
/// issue with them.
pub(super) async fn rows_of_page(
    client: &impl GenericClient,
    batch: i64,
    fields: usize,
    filter: &Filter,
    page: &str,
    order: &str,
    bound: i64,
) -> Result<Vec<QuarantinedRow>> {
    let names = StageNames::new(batch);
    let field_list: String = (0..fields)
        .map(|i| format!(", s.{}", stage_field(i)))
        .collect();
    let sql = format!(
        "WITH page AS ({page}) \
         SELECT s.\"_line\", s.\"_ord\", s.\"_raw\", \
                (SELECT json_agg(json_build_object('column', i.\"column\", 'check', i.\"check\", \
                        'value', i.value, 'message', i.message) ORDER BY i.id) \
                   FROM {issues} i WHERE i.ord = s.\"_ord\" AND i.severity = '{severity}')::text \
                {field_list} \
         FROM page CROSS JOIN LATERAL (SELECT * FROM {raw} r WHERE r.\"_ord\" = page.ord LIMIT 1) s \
         ORDER BY {order}",
        severity = filter.severity(),
        issues = names.issues,
        raw = names.raw,
    );
    let extra = filter_params(filter);
    let params = params_with(&extra, &bound);
    let rows = client
        .query(&sql, &params)
        .await
        .map_err(Error::db(format!(
            "reading quarantined rows of batch {batch}"
        )))?;
    let parts = crate::batch::parts(client, batch).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let line: i64 = r.get(0);
            let place = parts.locate(line);
            QuarantinedRow {
                line,
                file: place.file.map(str::to_owned),
                file_line: place.line,
                ord: r.get(1),
                raw: r.get(2),
                issues: r
                    .get::<_, Option<String>>(3)
                    .and_then(|j| serde_json::from_str(&j).ok())
                    .unwrap_or_default(),
                fields: (0..fields).map(|i| r.get(4 + i)).collect(),
            }
        })
        .collect())
}

/// How many quarantined rows `filter` chooses before the row `ord`: where that row stands
/// in the list (0 for the first). With `ord` past the last, how many there are.
pub async fn quarantined_rank(
    client: &impl GenericClient,
    batch: i64,
    filter: &Filter,
    ord: i64,
) -> Result<u64> {
    let names = StageNames::new(batch);
    // Counting distinct ordinals over the issues' (ord) index: one index-only pass.
    let sql = format!(
        "SELECT count(DISTINCT i.ord) FROM {} i WHERE {} AND i.ord < $1",
        names.issues,
        filter_cond(filter)
    );
    let extra = filter_params(filter);
    let params = params_with(&extra, &ord);
    let n: i64 = client
        .query_one(&sql, &params)
        .await
        .map_err(Error::db(format!(
            "counting quarantined rows of batch {batch}"
        )))?
        .get(0);
    Ok(n as u64)
}

/// The ordinal of the first quarantined row (matching `filter`) at or after file line `line`
/// (of the part named `file`, in a batch of several files).
pub async fn jump_to_line(
    client: &impl GenericClient,
    batch: i64,
    filter: &Filter,
    file: Option<&str>,
    line: i64,
) -> Result<Option<i64>> {
    let names = StageNames::new(batch);
    let line = match file {
        None => line,
        Some(file) => {
            let parts = crate::batch::parts(client, batch).await?;
            match parts.batch_line(file, line) {
                Some(line) => line,
                None => {
                    return Err(Error::Refused {
                        id: batch,
                        action: "searched",
                        reason: format!(
                            "it has no file named `{}`",
                            crate::format::visible(file, false)
                        ),
                    });
                }
            }
        }
    };
    let sql = format!(
        "SELECT min(s.\"_ord\") FROM {raw} s WHERE s.\"_line\" >= $1 \
           AND s.\"_ord\" IN ({ords})",
        raw = names.raw,
        ords = ords_sql(&names, filter),
    );
    let extra = filter_params(filter);
    let params = params_with(&extra, &line);
    Ok(client
        .query_one(&sql, &params)
        .await
        .map_err(Error::db("finding a line"))?
        .get(0))
}

/// The ordinal of the next (or previous) quarantined row whose fields, issues or raw text
/// contain `text` (case-insensitive), searching from `from_ord`.
pub async fn find_text(
    client: &impl GenericClient,
    batch: i64,
    fields: usize,
    filter: &Filter,
    text: &str,
    from_ord: i64,
    forward: bool,
) -> Result<Option<i64>> {
    let (cmp, agg) = if forward { (">", "min") } else { ("<", "max") };
    let select = format!("{agg}(s.\"_ord\")");
    let cond = format!("s.\"_ord\" {cmp} $1");
    Ok(search_query(
        client, batch, fields, filter, text, from_ord, &select, &cond,
    )
    .await?
    .get(0))
}

/// `SELECT {select} FROM` the quarantined rows (matching `filter`) that contain `text` and
/// meet `cond` (over `s."_ord"` and `$1`, which is `bound`).
#[allow(clippy::too_many_arguments)]
async fn search_query(
    client: &impl GenericClient,
    batch: i64,
    fields: usize,
    filter: &Filter,
    text: &str,
    bound: i64,
    select: &str,
    cond: &str,
) -> Result<tokio_postgres::Row> {
    let names = StageNames::new(batch);
    let field_list: Vec<String> = (0..fields)
        .map(|i| format!("s.{}", stage_field(i)))
        .collect();
    // Fields are joined by a unit separator, not a space: a query's trailing space only
    // matches a value that has one (`'toys '`).
    let haystack = if field_list.is_empty() {
        "coalesce(s.\"_raw\", '')".to_string()
    } else {
        format!("concat_ws(E'\\x1f', s.\"_raw\", {})", field_list.join(", "))
    };
    let sql = format!(
        "SELECT {select} FROM {raw} s \
         WHERE {cond} AND s.\"_ord\" IN ({ords}) \
           AND (strpos(lower({haystack}), lower($TEXT)) > 0 \
                OR EXISTS (SELECT 1 FROM {issues} m WHERE m.ord = s.\"_ord\" \
                           AND strpos(lower(m.message || E'\\x1f' || coalesce(m.value, '')), lower($TEXT)) > 0))",
        raw = names.raw,
        issues = names.issues,
        ords = ords_sql(&names, filter),
    );
    let extra = filter_params(filter);
    let text_param = format!("${}", 2 + extra.len());
    let sql = sql.replace("$TEXT", &text_param);
    let mut params = params_with(&extra, &bound);
    params.push(&text);
    client
        .query_one(&sql, &params)
        .await
        .map_err(Error::db("searching the quarantined rows"))
}

/// Where a search or a jump landed, and what the reviewer should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub ord: i64,
    /// `match 3 of 41`, `wrapped to the first match`, `no quarantined row on line 100; the
    /// next is line 103`.
    pub note: String,
}

/// The next (or previous) match of `text` after the row `from_ord`, wrapping around the end
/// (or the start), with its rank among all matches.
#[allow(clippy::too_many_arguments)]
pub async fn search(
    client: &impl GenericClient,
    batch: i64,
    fields: usize,
    filter: &Filter,
    text: &str,
    from_ord: i64,
    forward: bool,
) -> Result<Option<Hit>> {
    let find = |from| find_text(client, batch, fields, filter, text, from, forward);
    let (ord, wrapped) = match find(from_ord).await? {
        Some(ord) => (ord, false),
        None => match find(if forward { i64::MIN } else { i64::MAX }).await? {
            Some(ord) => (ord, true),
            None => return Ok(None),
        },
    };
    let counts = search_query(
        client,
        batch,
        fields,
        filter,
        text,
        ord,
        "count(*) FILTER (WHERE s.\"_ord\" <= $1), count(*)",
        "true",
    )
    .await?;
    let (rank, total): (i64, i64) = (counts.get(0), counts.get(1));
    let mut note = format!(
        "match {} of {}",
        crate::format::thousands(rank),
        crate::format::thousands(total)
    );
    if wrapped {
        note.push_str(match forward {
            true => " (from the top again)",
            false => " (from the bottom again)",
        });
    }
    Ok(Some(Hit { ord, note }))
}

/// The quarantined row at file line `line`, or the nearest: the next after it, else the last
/// before it — saying so when it is not on that line.
pub async fn go_to_line(
    client: &impl GenericClient,
    batch: i64,
    filter: &Filter,
    file: Option<&str>,
    line: i64,
) -> Result<Option<Hit>> {
    let names = StageNames::new(batch);
    let asked = match file {
        Some(f) => format!("{}:{line}", crate::format::visible(f, false)),
        None => line.to_string(),
    };
    let raw = &names.raw;
    let place = |ord: i64| async move {
        client
            .query_one(
                &format!(
                    "SELECT airlock.place($1, s.\"_line\"), s.\"_line\" FROM {raw} s WHERE s.\"_ord\" = $2"
                ),
                &[&batch, &ord],
            )
            .await
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
            .map_err(Error::db("finding a line"))
    };
    if let Some(ord) = jump_to_line(client, batch, filter, file, line).await? {
        let (at, _) = place(ord).await?;
        let note = match at == asked || at == line.to_string() {
            true => format!("line {at}"),
            false => format!("no quarantined row on line {asked}; the next is line {at}"),
        };
        return Ok(Some(Hit { ord, note }));
    }
    // None at or after it: every row is before it, and the last is the nearest.
    let last: Option<i64> = {
        let sql = format!(
            "SELECT max(s.\"_ord\") FROM {raw} s WHERE s.\"_ord\" < $1 AND s.\"_ord\" IN ({ords})",
            ords = ords_sql(&names, filter),
        );
        let extra = filter_params(filter);
        let params = params_with(&extra, &i64::MAX);
        client
            .query_one(&sql, &params)
            .await
            .map_err(Error::db("finding a line"))?
            .get(0)
    };
    let Some(ord) = last else {
        return Ok(None);
    };
    let (at, _) = place(ord).await?;
    Ok(Some(Hit {
        ord,
        note: format!("no quarantined row at or after line {asked}; the last is line {at}"),
    }))
}

/// The record exactly as the file has it, read back from the file at the byte offset
/// staging recorded. `None` when the file is gone or has changed size since the load, or
/// the batch has no such record.
pub async fn source_text(
    client: &impl GenericClient,
    batch: i64,
    ord: i64,
) -> Result<Option<String>> {
    let names = StageNames::new(batch);
    // The record is staged or kept with its typed values; so is the next one, where this
    // one ends.
    let records = crate::stage::records_relation(client, &names).await?;
    let row = client
        .query_one(
            &format!(
                "SELECT b.file_path, b.file_size, b.compression, \
                        (SELECT \"_byte\" FROM {records} WHERE \"_ord\" = $2), \
                        (SELECT \"_byte\" FROM {records} WHERE \"_ord\" = $2::bigint + 1), \
                        (SELECT \"_line\" FROM {records} WHERE \"_ord\" = $2), \
                        (SELECT \"_line\" FROM {records} WHERE \"_ord\" = $2::bigint + 1), \
                        b.format, b.parts \
                 FROM airlock.batches b WHERE b.id = $1"
            ),
            &[&batch, &ord],
        )
        .await
        .map_err(Error::db("locating the record in the file"))?;
    Ok(read_record(RecordAt {
        path: row.get(0),
        size: row.get(1),
        compression: row.get(2),
        start: row.get(3),
        next: row.get(4),
        line: row.get(5),
        next_line: row.get(6),
        format: row.get(7),
        parts: crate::source::parts::PartMap::from_json(row.get(8)),
    }))
}

/// Where a record is in the batch's file, as the batch and its staging recorded it.
pub struct RecordAt {
    pub path: String,
    pub size: Option<i64>,
    pub compression: Option<String>,
    pub format: Option<String>,
    pub parts: crate::source::parts::PartMap,
    /// The record's byte offset in its (decompressed) text, and the next record's.
    pub start: Option<i64>,
    pub next: Option<i64>,
    /// The record's line in the batch, and the next record's.
    pub line: Option<i64>,
    pub next_line: Option<i64>,
}

/// The record's text read back from its file (up to 64 KiB), escaped for the screen; `None`
/// when it cannot be read as it was (a workbook, a pipe, a file that changed size).
pub fn read_record(at: RecordAt) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let RecordAt {
        mut path,
        mut size,
        mut compression,
        format,
        parts,
        start,
        mut next,
        line,
        next_line,
    } = at;
    // A workbook's row has no text of its own: its cells are the fields.
    if format.as_deref() == Some("xlsx") {
        return None;
    }
    if let Some(line) = line
        && let Some(part) = parts.part_of(line)
    {
        path = part.path.clone();
        size = Some(part.size as i64);
        compression = Some(part.compression.clone());
        // The next record may be in the next part.
        if next_line.and_then(|l| parts.part_of(l)).map(|p| &p.name) != Some(&part.name) {
            next = None;
        }
    }
    let start = start?;
    const MAX: u64 = 64 * 1024;
    let read = || -> std::io::Result<Option<Vec<u8>>> {
        // A pipe cannot be read again (opening it would wait for a writer).
        if !std::fs::metadata(&path)?.is_file() {
            return Ok(None);
        }
        let len = next.map_or(MAX, |n| ((n - start).max(0) as u64).min(MAX));
        let mut buf = Vec::new();
        if size != Some(std::fs::metadata(&path)?.len() as i64) {
            return Ok(None);
        }
        let mut head = [0u8; 2];
        let utf16 = std::fs::File::open(&path)?.read(&mut head)? == 2
            && matches!(head, [0xff, 0xfe] | [0xfe, 0xff]);
        match compression.as_deref() {
            None | Some("none") if !utf16 => {
                let mut file = std::fs::File::open(&path)?;
                file.seek(SeekFrom::Start(start as u64))?;
                file.take(len).read_to_end(&mut buf)?;
            }
            // The record's offset is in the text: decompress (or transcode) up to it.
            _ => {
                let mut text =
                    crate::source::text_of(std::path::Path::new(&path), compression.as_deref())?;
                std::io::copy(&mut (&mut text).take(start as u64), &mut std::io::sink())?;
                text.take(len).read_to_end(&mut buf)?;
            }
        }
        Ok(Some(buf))
    };
    read().ok().flatten().map(|mut bytes| {
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        crate::source::escape_bytes(&bytes)
    })
}
