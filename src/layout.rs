//! The database layout, in one leaf every stage of the pipeline imports: Airlock's two
//! schemas, the columns a staged row carries beside the file's (its line, ordinal and byte
//! offset; its source fields), and the names of one batch's staging objects.
use crate::db::ident;

pub const CATALOG_SCHEMA: &str = "airlock";
pub const STAGE_SCHEMA: &str = "airlock_stage";
/// Columns of the typed rows table that carry the record's position.
pub const LINE_COLUMN: &str = "__line";
pub const ORD_COLUMN: &str = "__ord";
/// In the typed rows table: the record's byte offset when its source fields are kept beside
/// its typed values (see [`StageNames`]), NULL when staging holds them.
pub const BYTE_COLUMN: &str = "__byte";

/// The typed rows table's copy of source field `index` (0-based), quoted.
pub fn source_field(index: usize) -> String {
    ident(&format!("__f{}", index + 1))
}

/// The name of the staging column for source field `index` (0-based).
pub fn stage_field(index: usize) -> String {
    ident(&format!("f{}", index + 1))
}

/// The staging column for what a column's parsing rules made of source field `index`.
pub fn parsed_field(index: usize) -> String {
    ident(&format!("n{}", index + 1))
}

/// The names of one batch's staging objects, quoted.
#[derive(Debug, Clone)]
/// Each record's source fields are kept once: in staging (`raw`) when the record has an
/// issue (or when the load left every value to SQL), otherwise beside its typed values in
/// `rows`, where `__byte` is then set. A row set aside after the load takes its fields
/// with it to staging. The good rows of a clean file are thus written once, not twice;
/// the `records` view shows every record of the file, as staging alone used to.
pub struct StageNames {
    pub batch: i64,
    /// Records with issues, every field as text (every record when SQL types the values).
    pub raw: String,
    /// One row per problem.
    pub issues: String,
    /// The good rows, typed as the target, with the source fields of those not in `raw`.
    pub rows: String,
    /// A view of every record once, as staging has them: `raw` and the fields kept in `rows`.
    pub records: String,
    /// The table a swap of this batch replaced, while it is kept for undo, and its bare name
    /// (the name it bears in the target's schema between the rename and the move).
    pub previous: String,
    pub previous_bare: String,
    /// What an upsert, insert or mirror promotion of this batch changed, for undo: the keys
    /// it inserted and the rows it updated or deleted as they were before (`__undo` says
    /// which: `i`, `u`, `d`).
    pub undo: String,
    /// The production rows a swap or mirror would delete, as its plan found them, each with
    /// an ordinal after the file's (`__ord`), so the review's Changes lists them after the
    /// updates.
    pub absent: String,
    /// How many rows each offending value has, by severity, check and column, counted once
    /// for the review's frequency view (`review::value_frequencies`).
    pub values: String,
    /// The ordinals of the rows promotion would change and how (`i`, `u`, `d`), listed once
    /// per plan for the review's Changes tab (`review::changes_page`).
    pub changes: String,
}

impl StageNames {
    pub fn new(batch: i64) -> Self {
        let name = |suffix: &str| {
            format!(
                "{}.{}",
                ident(STAGE_SCHEMA),
                ident(&format!("batch_{batch}{suffix}"))
            )
        };
        Self {
            batch,
            raw: name(""),
            issues: name("_issues"),
            rows: name("_rows"),
            records: name("_records"),
            previous: name("_previous"),
            previous_bare: format!("batch_{batch}_previous"),
            undo: name("_undo"),
            absent: name("_absent"),
            values: name("_values"),
            changes: name("_changes"),
        }
    }
}

/// SQL for the line `line` (an expression) as a message shows it: for a batch of several
/// files, its file and line there (`airlock.place`); else the line itself.
pub fn line_sql(names: &StageNames, parts: bool, line: &str) -> String {
    match parts {
        true => format!("airlock.place({}, {line})", names.batch),
        false => line.to_string(),
    }
}

/// SQL for an array of lines as a message shows them, comma-separated (see [`line_sql`]).
pub fn lines_sql(names: &StageNames, parts: bool, lines: &str) -> String {
    match parts {
        true => format!(
            "(SELECT string_agg(airlock.place({}, u.l), ', ' ORDER BY u.o) \
              FROM unnest({lines}) WITH ORDINALITY AS u(l, o))",
            names.batch
        ),
        false => format!("array_to_string({lines}, ', ')"),
    }
}
