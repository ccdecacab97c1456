//! The quarantined rows sorted by one field, paged from the database: numbers by value, then
//! text byte by byte, empty fields last, the file position breaking ties. A page is a keyset
//! range over (that order, ordinal), anchored at a row's ordinal like file-order pages, over
//! an index made the first time the field is sorted.
use tokio_postgres::GenericClient;

use super::PageFrom;
use super::quarantined::{Filter, QuarantinedRow, ords_sql, rows_of_page};
use crate::db::ident;
use crate::error::Result;
use crate::layout::StageNames;
use crate::layout::stage_field;

/// A sort of the quarantined rows by the source field `field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: usize,
    pub descending: bool,
}

/// The sort key of field `field` of the staged record `alias` (`""` for bare columns, as an
/// index has them): its value when it reads as a number, else infinity; then its text, an
/// empty field after every text.
fn key(field: usize, alias: &str) -> [String; 2] {
    let f = format!("{alias}{}", stage_field(field));
    [
        format!(
            "coalesce(CASE WHEN {f} ~ '^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]{{1,3}})?\\s*$' \
             THEN {f}::numeric END, 'Infinity'::numeric)"
        ),
        format!("coalesce({f}, chr(1114111)) COLLATE \"C\""),
    ]
}

/// How a sorted page reads its rows.
pub(crate) struct Direction {
    /// Whether the page reads the list's way (from its start, after or at a row).
    pub forward: bool,
    /// Whether the query reads ascending: the list's way going forward, against it going
    /// back.
    pub ascending: bool,
    /// How the rows compare with the row the page is anchored at.
    pub cmp: &'static str,
}

pub(crate) fn direction(sort: Sort, from: PageFrom) -> Direction {
    let forward = matches!(from, PageFrom::Start | PageFrom::After(_) | PageFrom::At(_));
    let ascending = forward != sort.descending;
    let cmp = match (ascending, from) {
        (true, PageFrom::At(_)) => ">=",
        (false, PageFrom::At(_)) => "<=",
        (true, _) => ">",
        (false, _) => "<",
    };
    Direction {
        forward,
        ascending,
        cmp,
    }
}

/// One page of the quarantined rows `filter` chooses, in `sort`'s order.
pub async fn sorted_page(
    client: &impl GenericClient,
    batch: i64,
    fields: usize,
    filter: &Filter,
    sort: Sort,
    from: PageFrom,
    limit: i64,
) -> Result<Vec<QuarantinedRow>> {
    let names = StageNames::new(batch);
    // Only speeds paging up: a role that may only read sorts without it.
    let _ = index(client, &names, sort.field).await;
    let [n, t] = key(sort.field, "s.");
    let [an, at] = key(sort.field, "a.");
    let Direction { ascending, cmp, .. } = direction(sort, from);
    let dir = if ascending { "ASC" } else { "DESC" };
    let anchor = match from {
        // `$1` is always there; from either end it anchors nothing.
        PageFrom::Start | PageFrom::End => "$1::bigint IS NOT NULL".to_string(),
        _ => format!(
            "({n}, {t}, s.\"_ord\") {cmp} \
             (SELECT {an}, {at}, a.\"_ord\" FROM {raw} a WHERE a.\"_ord\" = $1 LIMIT 1)",
            raw = names.raw
        ),
    };
    let page = format!(
        "SELECT s.\"_ord\" AS ord, {n} AS sn, {t} AS st FROM {raw} s \
         WHERE s.\"_ord\" IN ({ords}) AND {anchor} \
         ORDER BY 2 {dir}, 3 {dir}, 1 {dir} LIMIT {limit}",
        raw = names.raw,
        ords = ords_sql(&names, filter),
        limit = limit.max(1),
    );
    let list = if sort.descending { "DESC" } else { "ASC" };
    let order = format!("page.sn {list}, page.st {list}, page.ord {list}");
    rows_of_page(client, batch, fields, filter, &page, &order, from.bound()).await
}

/// An index of the staged records in field `field`'s sort order, made once.
async fn index(
    client: &impl GenericClient,
    names: &StageNames,
    field: usize,
) -> std::result::Result<(), tokio_postgres::Error> {
    let [n, t] = key(field, "");
    client
        .batch_execute(&format!(
            "CREATE INDEX IF NOT EXISTS {name} ON {raw} (({n}), ({t}), \"_ord\")",
            name = ident(&format!("batch_{}_sort_{field}", names.batch)),
            raw = names.raw,
        ))
        .await
}
