//! The feed spec: a small TOML file describing one feed, resolved against the target table's
//! real definition. Everything that can be wrong with a spec is reported here, naming the
//! file, the key and the problem, before any data is read.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{Catalog, Engine};
use serde::{Deserialize, Serialize};

use crate::db::catalog::{self, Table};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Upsert,
    Swap,
    /// New keys only: a row whose key production has is skipped, that row left as it is.
    Insert,
    /// Upsert, and delete the production rows whose key the file does not have.
    Mirror,
    /// Every good row goes in; no merge key (logs, events, identity keys the file does not
    /// feed). A file sent twice is caught by `repeat_file`, whose default is then `abort`.
    Append,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Upsert => "upsert",
            Mode::Swap => "swap",
            Mode::Insert => "insert",
            Mode::Mirror => "mirror",
            Mode::Append => "append",
        }
    }
}

pub use crate::source::Format;

/// What the verdict makes of a finding of the feed's history: a file the feed has sent
/// before (the same sha256, `repeat_file`), a column that drifted (`drift`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Reaction {
    /// The verdict is abort.
    Abort,
    /// A warning: the verdict is at least review.
    #[default]
    Warn,
    Allow,
}

/// Which verdicts a headless `run` promotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AutoPromote {
    /// Any verdict but abort.
    #[default]
    Review,
    /// Only a clean one; a review verdict is left for a person (exit status 4).
    Clean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateKeys {
    /// Every row sharing a key is quarantined.
    #[default]
    Quarantine,
    /// The row nearest the end of the file wins; the others are set aside as superseded.
    Last,
    /// The row nearest the start of the file wins.
    First,
}

/// The spec as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub name: String,
    pub target: String,
    #[serde(default)]
    pub key: Option<Vec<String>>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub source: SourceSpec,
    #[serde(default)]
    pub columns: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub checks: BTreeMap<String, CheckSpec>,
    #[serde(default)]
    pub policy: Policy,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// "csv", "tsv", "jsonl" or "xlsx"; by the file's extension when not given.
    #[serde(default)]
    pub format: Option<Format>,
    /// The sheet of an xlsx workbook; the first when not given.
    #[serde(default)]
    pub sheet: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default = "default_encoding")]
    pub encoding: String,
    #[serde(default = "default_null")]
    pub null: Vec<String>,
    /// Rows above the header to pass over (a title line, an export date).
    #[serde(default)]
    pub skip_rows: Option<u64>,
    /// Whether the first row names the columns (default true); without one, `columns`
    /// names them in file order.
    #[serde(default)]
    pub header: Option<bool>,
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// "auto" (by the magic bytes, the default), "none", "gzip", "zstd", "bzip2", "xz".
    #[serde(default)]
    pub compression: Option<String>,
    /// The most bytes one record may span; default 128 MiB.
    #[serde(default)]
    pub max_record_bytes: Option<u64>,
    /// The most bytes the header may span; default 16 MiB.
    #[serde(default)]
    pub max_header_bytes: Option<u64>,
}

impl Default for SourceSpec {
    fn default() -> Self {
        Self {
            format: None,
            sheet: None,
            delimiter: None,
            encoding: default_encoding(),
            null: default_null(),
            skip_rows: None,
            header: None,
            columns: None,
            compression: None,
            max_record_bytes: None,
            max_header_bytes: None,
        }
    }
}

fn default_encoding() -> String {
    "utf-8".into()
}

fn default_null() -> Vec<String> {
    vec![String::new()]
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<String>,
    pub one_of: Option<Vec<String>>,
    pub not_null: Option<bool>,
    pub max_length: Option<usize>,
    /// "error" (the row is quarantined, the default) or "warn" (it goes through, counted).
    pub severity: Option<CheckSeverity>,
    /// The verdict is abort when more than this fraction of the rows break these rules.
    pub max_fraction: Option<f64>,
    /// ... or more than this many rows.
    pub max_rows: Option<u64>,
}

/// How a `[checks]` rule's failures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CheckSeverity {
    #[default]
    Error,
    Warn,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Abort above this many quarantined rows.
    #[serde(default)]
    pub max_bad_rows: Option<u64>,
    /// Abort above this fraction of quarantined rows.
    #[serde(default = "default_bad_fraction")]
    pub max_bad_fraction: f64,
    /// Swap mode: abort when the row count moves more than this fraction against production.
    #[serde(default = "default_count_change")]
    pub max_count_change: f64,
    #[serde(default)]
    pub allow_empty: bool,
    #[serde(default)]
    pub duplicate_keys: DuplicateKeys,
    /// The same file (sha256) as an earlier batch of this feed; by default `warn`, and
    /// `abort` in append mode, where a repeat would add every row again.
    #[serde(default)]
    pub repeat_file: Option<Reaction>,
    /// Abort when the row count moves more than this fraction against the feed's last
    /// promoted batch.
    #[serde(default)]
    pub max_change_vs_last: Option<f64>,
    /// Abort when more than this fraction of production's rows would be updated.
    #[serde(default)]
    pub max_update_fraction: Option<f64>,
    /// Mirror and swap: abort when more than this fraction of production's rows would be
    /// deleted.
    #[serde(default)]
    pub max_delete_fraction: Option<f64>,
    /// Which verdicts a headless `run` promotes.
    #[serde(default)]
    pub auto_promote: AutoPromote,
    /// What a column that drifted against the feed's last promoted batch makes of the
    /// verdict (see `validate/drift.rs`).
    #[serde(default)]
    pub drift: Reaction,
    /// Whether a promotion keeps what `undo` needs: the before-images of the rows it updates
    /// or deletes and the keys it inserts (a swap: the table it replaced).
    #[serde(default = "default_keep_undo")]
    pub keep_undo: bool,
}

fn default_keep_undo() -> bool {
    true
}

fn default_bad_fraction() -> f64 {
    0.05
}

fn default_count_change() -> f64 {
    0.10
}

impl Policy {
    /// What the verdict makes of the same file again, in `mode`.
    pub fn repeat_file(&self, mode: Mode) -> Reaction {
        self.repeat_file.unwrap_or(match mode {
            Mode::Append => Reaction::Abort,
            _ => Reaction::Warn,
        })
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_bad_rows: None,
            max_bad_fraction: default_bad_fraction(),
            max_count_change: default_count_change(),
            allow_empty: false,
            duplicate_keys: DuplicateKeys::Quarantine,
            repeat_file: None,
            max_change_vs_last: None,
            max_update_fraction: None,
            max_delete_fraction: None,
            auto_promote: AutoPromote::Review,
            drift: Reaction::Warn,
            keep_undo: true,
        }
    }
}

/// A target column filled from a lookup: the file's `from` value is matched against
/// `match_column` of `table` and replaced by its `value_column`.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub table_sql: String,
    pub table_oid: u32,
    pub table_display: String,
    pub match_column: String,
    pub value_column: String,
    /// What a value the lookup table does not have makes of its row: quarantined (`error`),
    /// or let through with no value, counted as warned (`warn`, a nullable column only).
    pub severity: CheckSeverity,
}

/// Where a target column's value comes from, per the spec: a source column, by its name
/// and any aliases (`from = ["unit_price", "Unit Price"]`, tried in order).
#[derive(Debug, Clone)]
pub enum Source {
    Field(Vec<String>),
    Lookup { from: Vec<String>, lookup: Lookup },
}

impl Source {
    /// The source column's names, the first as the spec gives it.
    pub fn names(&self) -> &[String] {
        match self {
            Source::Field(f) => f,
            Source::Lookup { from, .. } => from,
        }
    }

    pub fn field(&self) -> &str {
        self.names().first().map_or("", String::as_str)
    }
}

/// A spec checked against the database.
#[derive(Debug, Clone)]
pub struct Feed {
    pub path: PathBuf,
    pub spec_text: String,
    pub spec: Spec,
    pub target: Table,
    pub key: Vec<String>,
    /// `[source] delimiter`; otherwise the format's own.
    pub delimiter: Option<u8>,
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub compression: crate::source::CompressionOption,
    /// Explicit `[columns]` entries, by target column.
    pub explicit: BTreeMap<String, Source>,
    /// The parsing rules of `[columns]`, by target column.
    pub parsing: BTreeMap<String, crate::validate::parse::ParseRules>,
    /// Checks' own thresholds (`max_fraction`, `max_rows` of a `[checks]` rule or a lookup).
    pub thresholds: Vec<crate::validate::policy::Threshold>,
    pub rules: BTreeMap<String, Rules>,
}

impl Feed {
    /// The format `file` is read in: `[source] format`, else by its name.
    pub fn format_of(&self, file: &Path) -> Format {
        self.spec
            .source
            .format
            .unwrap_or_else(|| Format::of_name(file))
    }

    /// The delimiter of a delimited format: `[source] delimiter`, else a tab for TSV and a
    /// comma for CSV.
    pub fn delimiter_of(&self, format: Format) -> u8 {
        self.delimiter.unwrap_or(match format {
            Format::Tsv => b'\t',
            _ => b',',
        })
    }

    /// How `file` is read: its format (said or by name) and the `[source]` keys, those that
    /// do not apply to that format refused by name.
    pub fn source_options(&self, file: &Path) -> Result<crate::source::SourceOptions> {
        let source = &self.spec.source;
        let format = self.format_of(file);
        let err = |key: &str, problem: String| Error::Spec {
            path: self.path.clone(),
            key: key.to_owned(),
            problem,
        };
        let how = match source.format {
            Some(_) => "[source] format",
            None => "its name",
        };
        let refused: &[(&str, bool)] = match format {
            Format::Csv | Format::Tsv => &[("source.sheet", source.sheet.is_some())],
            Format::Jsonl => &[
                ("source.sheet", source.sheet.is_some()),
                ("source.delimiter", source.delimiter.is_some()),
                ("source.encoding", self.encoding.is_some()),
                ("source.header", source.header.is_some()),
                ("source.skip_rows", source.skip_rows.is_some()),
            ],
            Format::Xlsx => &[
                ("source.delimiter", source.delimiter.is_some()),
                ("source.encoding", self.encoding.is_some()),
                ("source.compression", source.compression.is_some()),
            ],
        };
        if let Some((key, _)) = refused.iter().find(|(_, set)| *set) {
            return Err(err(
                key,
                format!(
                    "does not apply to {} read as {} (by {how}); {}",
                    file.display(),
                    format.as_str(),
                    match format {
                        Format::Jsonl => "JSON Lines is UTF-8 text whose keys name the columns",
                        Format::Xlsx => "a workbook's cells are typed and it is compressed already",
                        _ => "only a workbook has sheets",
                    }
                ),
            ));
        }
        let limits = crate::source::SourceOptions::default();
        Ok(crate::source::SourceOptions {
            format,
            sheet: source.sheet.clone(),
            delimiter: self.delimiter_of(format),
            quoting: format == Format::Csv,
            encoding: self.encoding,
            max_record_bytes: source.max_record_bytes.unwrap_or(limits.max_record_bytes),
            max_header_bytes: source.max_header_bytes.unwrap_or(limits.max_header_bytes),
            compression: self.compression,
            skip_rows: source.skip_rows.unwrap_or(0),
            has_header: source.header != Some(false),
        })
    }
}

/// The compiled `[checks]` of one column.
#[derive(Debug, Clone)]
pub struct Rules {
    pub spec: CheckSpec,
    pub pattern: Option<regex::Regex>,
}

/// Reads and parses a spec file (no database needed).
pub fn read_spec(path: &Path) -> Result<(Spec, String)> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        cause: source,
    })?;
    let spec: Spec = toml::from_str(&text).map_err(|e| Error::SpecSyntax {
        path: path.to_owned(),
        problem: e.to_string().trim_end().to_string(),
    })?;
    Ok((spec, text))
}

/// Parses a spec kept in a batch row, as it was when the batch was checked.
pub fn parse_stored(path: &Path, text: &str) -> Result<Spec> {
    toml::from_str(text).map_err(|e| Error::SpecSyntax {
        path: path.to_owned(),
        problem: e.to_string(),
    })
}

/// Reads a spec file and resolves it against the database.
pub async fn load(client: &impl Catalog, path: &Path) -> Result<Feed> {
    let (spec, text) = read_spec(path)?;
    resolve(client, path, spec, text).await
}

pub async fn resolve(
    client: &impl Catalog,
    path: &Path,
    spec: Spec,
    spec_text: String,
) -> Result<Feed> {
    let err = |key: &str, problem: String| Error::Spec {
        path: path.to_owned(),
        key: key.to_owned(),
        problem,
    };
    let target = client
        .table(&spec.target)
        .await?
        .map_err(|e| {
            err(
                "target",
                format!("`{}` is not a valid table name: {e}", spec.target),
            )
        })?
        .ok_or_else(|| err("target", format!("table `{}` not found", spec.target)))?;
    refuse_reserved("target", &target.schema, &target.display_name(), &err)?;
    for fk in &target.foreign_keys {
        refuse_reserved("target", &fk.ref_schema, &fk.ref_table_sql, &|k, p| {
            err(
                k,
                format!(
                    "{}'s foreign key {} references a table Airlock will not read: {p}",
                    target.display_name(),
                    fk.name
                ),
            )
        })?;
    }

    for reserved in [crate::layout::LINE_COLUMN, crate::layout::ORD_COLUMN] {
        if target.column(reserved).is_some() {
            return Err(err(
                "target",
                format!("the target has a column named `{reserved}`, which Airlock reserves"),
            ));
        }
    }

    let key = match &spec.key {
        Some(_) if spec.mode == Mode::Append => {
            return Err(err(
                "key",
                "append mode takes no key: every good row goes in (a file sent twice is caught by repeat_file)"
                    .into(),
            ));
        }
        None if spec.mode == Mode::Append => Vec::new(),
        // A full replace of a table without a key (a reference file: iris, a census extract)
        // matches no rows: it needs none.
        None if spec.mode == Mode::Swap && target.primary_key.is_empty() => Vec::new(),
        Some(key) if key.is_empty() => return Err(err("key", "the key names no column".into())),
        Some(key) => key.clone(),
        None if target.primary_key.is_empty() => {
            return Err(err(
                "key",
                format!(
                    "{} has no primary key; name the merge key, e.g. key = [\"id\"], or use mode = \"append\" (every row goes in) or \"swap\" (a full replace needs no key)",
                    target.display_name()
                ),
            ));
        }
        None => target.primary_key.clone(),
    };
    for k in &key {
        if target.column(k).is_none() {
            return Err(err(
                "key",
                format!("column `{k}` is not in {}", target.display_name()),
            ));
        }
    }
    let keyless = key.is_empty() && matches!(spec.mode, Mode::Append | Mode::Swap);
    // ClickHouse has no unique indexes: its promotion builds the next table itself, one row
    // per key, so the key needs no index there.
    let indexed =
        target.engine == Engine::ClickHouse || target.unique_indexes.iter().any(|u| u.is_on(&key));
    if !keyless && !indexed {
        return Err(err(
            "key",
            format!(
                "{} has no primary key or unique index on ({}); an upsert needs one to match rows",
                target.display_name(),
                key.join(", ")
            ),
        ));
    }

    let delimiter = match &spec.source.delimiter {
        None => None,
        Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
        Some(d) if d == "\\t" => Some(b'\t'),
        Some(d) => {
            return Err(err(
                "source.delimiter",
                format!("`{d}` is not a single ASCII character"),
            ));
        }
    };
    let encoding = match spec.source.encoding.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => None,
        label => match encoding_rs::Encoding::for_label(label.as_bytes()) {
            Some(enc) if enc == encoding_rs::UTF_8 => None,
            Some(enc) if enc.is_single_byte() => Some(enc),
            _ => {
                return Err(err(
                    "source.encoding",
                    format!(
                        "`{}` is not a supported encoding (utf-8, windows-1252, latin1, or another single-byte encoding)",
                        spec.source.encoding
                    ),
                ));
            }
        },
    };

    let mut explicit = BTreeMap::new();
    let mut parsing = BTreeMap::new();
    let mut thresholds = Vec::new();
    let mut used_sources: BTreeMap<String, String> = BTreeMap::new();
    for (column, value) in &spec.columns {
        let key_name = format!("columns.{column}");
        let col = target.column(column).ok_or_else(|| {
            err(
                &key_name,
                format!("column `{column}` is not in {}", target.display_name()),
            )
        })?;
        if col.generated || col.identity {
            return Err(err(
                &key_name,
                format!("column `{column}` is generated by the database and cannot be loaded"),
            ));
        }
        let column_err = |k: &str, p: String| err(&format!("{key_name}.{k}"), p);
        let source = parse_column(client, value, &column_err).await?;
        if let Some(Source::Lookup { lookup, .. }) = &source
            && lookup.severity == CheckSeverity::Warn
            && (col.not_null || target.primary_key.contains(column))
        {
            return Err(column_err(
                "severity",
                format!(
                    "`{column}` is NOT NULL: a row whose lookup finds nothing cannot go through without a value, so its severity must be \"error\""
                ),
            ));
        }
        if let toml::Value::Table(table) = value
            && let Some(rules) =
                crate::validate::parse::ParseRules::from_spec(table, col, &column_err)?
        {
            parsing.insert(column.clone(), rules);
        }
        if let toml::Value::Table(table) = value
            && (table.contains_key("max_fraction") || table.contains_key("max_rows"))
        {
            if !table.contains_key("lookup") {
                return Err(err(
                    &format!("{key_name}.max_fraction"),
                    "a threshold in [columns] belongs to a lookup; put a rule's in [checks]".into(),
                ));
            }
            thresholds.push(crate::validate::policy::Threshold {
                what: format!("lookup {column}"),
                column: column.clone(),
                checks: vec!["lookup"],
                max_fraction: threshold_value(table, "max_fraction", &column_err)?,
                max_rows: threshold_value(table, "max_rows", &column_err)?.map(|n: f64| n as u64),
            });
        }
        // Parsing rules alone read the column of the same name.
        let source = match source {
            Some(s) => s,
            None if parsing.contains_key(column) => Source::Field(vec![column.clone()]),
            None => {
                return Err(err(
                    &key_name,
                    "expected a source column name or a table such as { from = \"...\" } or { lookup = \"...\", match = \"...\", value = \"...\", from = \"...\" }"
                        .into(),
                ));
            }
        };
        for name in source.names() {
            if let Some(other) = used_sources.insert(name.to_owned(), column.clone()) {
                return Err(err(
                    &key_name,
                    format!("source column `{name}` is mapped twice (to `{other}` and `{column}`)"),
                ));
            }
        }
        explicit.insert(column.clone(), source);
    }

    let mut rules = BTreeMap::new();
    for (column, check) in &spec.checks {
        let key_name = format!("checks.{column}");
        let col = target.column(column).ok_or_else(|| {
            err(
                &key_name,
                format!("column `{column}` is not in {}", target.display_name()),
            )
        })?;
        if (check.min.is_some() || check.max.is_some())
            && !col.is_numeric()
            && !matches!(explicit.get(column), Some(Source::Lookup { .. }))
        {
            return Err(err(
                &key_name,
                format!(
                    "min/max need a numeric column; `{column}` is {}",
                    col.type_sql
                ),
            ));
        }
        if check
            .max_fraction
            .is_some_and(|f| !(0.0..=1.0).contains(&f))
        {
            return Err(err(
                &format!("{key_name}.max_fraction"),
                "must be between 0 and 1".into(),
            ));
        }
        let pattern = match &check.pattern {
            Some(p) => Some(regex::Regex::new(p).map_err(|e| {
                err(
                    &format!("{key_name}.pattern"),
                    format!("not a valid regular expression: {e}"),
                )
            })?),
            None => None,
        };
        if check.max_fraction.is_some() || check.max_rows.is_some() {
            thresholds.push(crate::validate::policy::Threshold {
                what: format!("[checks] {column}"),
                column: column.clone(),
                checks: crate::validate::policy::RULE_CHECKS.to_vec(),
                max_fraction: check.max_fraction,
                max_rows: check.max_rows,
            });
        }
        rules.insert(
            column.clone(),
            Rules {
                spec: check.clone(),
                pattern,
            },
        );
    }

    let compression = match spec.source.compression.as_deref() {
        None => crate::source::CompressionOption::Auto,
        Some(name) => crate::source::Compression::parse(name).ok_or_else(|| {
            err(
                "source.compression",
                format!(
                    "`{name}` is not one of {}",
                    crate::source::Compression::NAMES
                ),
            )
        })?,
    };
    match (spec.source.header, &spec.source.columns) {
        (Some(false), None) => {
            return Err(err(
                "source.header",
                "a file without a header needs [source] columns = [...], its columns in file order"
                    .into(),
            ));
        }
        (Some(false), Some(cols)) if cols.is_empty() => {
            return Err(err("source.columns", "names no column".into()));
        }
        (None | Some(true), Some(_)) => {
            return Err(err(
                "source.columns",
                "names the columns of a file without a header: set header = false too".into(),
            ));
        }
        _ => {}
    }
    for (key, limit) in [
        ("source.max_record_bytes", spec.source.max_record_bytes),
        ("source.max_header_bytes", spec.source.max_header_bytes),
    ] {
        if limit == Some(0) {
            return Err(err(key, "must be at least 1".into()));
        }
    }

    let p = &spec.policy;
    if !(0.0..=1.0).contains(&p.max_bad_fraction) {
        return Err(err(
            "policy.max_bad_fraction",
            "must be between 0 and 1".into(),
        ));
    }
    if p.max_count_change < 0.0 {
        return Err(err(
            "policy.max_count_change",
            "must not be negative".into(),
        ));
    }
    if p.max_change_vs_last.is_some_and(|f| f < 0.0) {
        return Err(err(
            "policy.max_change_vs_last",
            "must not be negative".into(),
        ));
    }
    for (key, fraction) in [
        ("policy.max_update_fraction", p.max_update_fraction),
        ("policy.max_delete_fraction", p.max_delete_fraction),
    ] {
        if fraction.is_some_and(|f| !(0.0..=1.0).contains(&f)) {
            return Err(err(key, "must be between 0 and 1".into()));
        }
    }

    Ok(Feed {
        path: path.to_owned(),
        spec_text,
        target,
        key,
        delimiter,
        encoding,
        compression,
        explicit,
        parsing,
        thresholds,
        rules,
        spec,
    })
}

/// One `[columns]` value: `"source"` or `{ from = ... }` or a lookup table.
async fn parse_column(
    client: &impl Catalog,
    value: &toml::Value,
    err: &(dyn Fn(&str, String) -> Error + Sync),
) -> Result<Option<Source>> {
    let table = match value {
        toml::Value::String(s) => return Ok(Some(Source::Field(vec![s.clone()]))),
        toml::Value::Table(t) => t,
        _ => return Ok(None),
    };
    for k in table.keys() {
        let parse_key = crate::validate::parse::KEYS.contains(&k.as_str());
        const OWN: [&str; 7] = [
            "from",
            "lookup",
            "match",
            "value",
            "max_fraction",
            "max_rows",
            "severity",
        ];
        if !OWN.contains(&k.as_str()) && !parse_key {
            return Err(err(
                k,
                format!(
                    "unknown key; expected one of `from`, `lookup`, `match`, `value`, `max_fraction`, `max_rows`, `severity`, `{}`",
                    crate::validate::parse::KEYS.join("`, `")
                ),
            ));
        }
    }
    let get = |k: &str| -> Result<Option<String>> {
        match table.get(k) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(err(k, "expected a string".into())),
        }
    };
    // `from`: one name, or a list of aliases tried in order.
    let from: Option<Vec<String>> = match table.get("from") {
        None => None,
        Some(toml::Value::String(s)) => Some(vec![s.clone()]),
        Some(toml::Value::Array(list)) if !list.is_empty() => Some(
            list.iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    _ => Err(err("from", "expected a list of source column names".into())),
                })
                .collect::<Result<_>>()?,
        ),
        Some(_) => {
            return Err(err(
                "from",
                "expected a source column name or a non-empty list of them".into(),
            ));
        }
    };
    let Some(lookup_name) = get("lookup")? else {
        if table.contains_key("match") || table.contains_key("value") {
            return Err(err("lookup", "`match` and `value` need `lookup`".into()));
        }
        if table.contains_key("severity") {
            return Err(err(
                "severity",
                "a severity in [columns] belongs to a lookup; put a rule's in [checks]".into(),
            ));
        }
        return Ok(from.map(Source::Field));
    };
    let from = from.ok_or_else(|| err("from", "a lookup needs the source column `from`".into()))?;
    let match_column =
        get("match")?.ok_or_else(|| err("match", "a lookup needs `match`".into()))?;
    let value_column =
        get("value")?.ok_or_else(|| err("value", "a lookup needs `value`".into()))?;
    let lookup_table = client
        .table(&lookup_name)
        .await?
        .map_err(|e| {
            err(
                "lookup",
                format!("`{lookup_name}` is not a valid table name: {e}"),
            )
        })?
        .ok_or_else(|| err("lookup", format!("lookup table `{lookup_name}` not found")))?;
    for (k, c) in [("match", &match_column), ("value", &value_column)] {
        if lookup_table.column(c).is_none() {
            return Err(err(
                k,
                format!("column `{c}` is not in lookup table `{lookup_name}`"),
            ));
        }
    }
    let severity = match get("severity")?.as_deref() {
        None | Some("error") => CheckSeverity::Error,
        Some("warn") => CheckSeverity::Warn,
        Some(other) => {
            return Err(err(
                "severity",
                format!("`{other}` is not a severity; expected \"error\" or \"warn\""),
            ));
        }
    };
    refuse_reserved(
        "lookup",
        &lookup_table.schema,
        &lookup_table.display_name(),
        err,
    )?;
    Ok(Some(Source::Lookup {
        from,
        lookup: Lookup {
            table_sql: lookup_table.sql_name(),
            table_oid: lookup_table.oid,
            table_display: lookup_table.display_name(),
            match_column,
            value_column,
            severity,
        },
    }))
}

/// A lookup's `max_fraction` (0 to 1) or `max_rows` (a count).
fn threshold_value(
    table: &toml::Table,
    key: &str,
    err: &(dyn Fn(&str, String) -> Error + Sync),
) -> Result<Option<f64>> {
    let value = match table.get(key) {
        None => return Ok(None),
        Some(toml::Value::Float(f)) => *f,
        Some(toml::Value::Integer(i)) => *i as f64,
        Some(_) => return Err(err(key, "expected a number".into())),
    };
    let fits = match key {
        "max_fraction" => (0.0..=1.0).contains(&value),
        _ => value >= 0.0,
    };
    if !fits {
        return Err(err(
            key,
            "must be between 0 and 1 (a fraction), or a count of rows".into(),
        ));
    }
    Ok(Some(value))
}

/// Refuses a table in a schema no feed may touch (see [`catalog::reserved_schema`]), before
/// any data is read: a target there would let a file rewrite the audit log or the system
/// catalogs, a lookup would read them.
fn refuse_reserved(
    key: &str,
    schema: &str,
    table: &str,
    err: &(dyn Fn(&str, String) -> Error + Sync),
) -> Result<()> {
    match catalog::reserved_schema(schema) {
        Some(why) => Err(err(
            key,
            format!("`{table}` is in schema `{schema}`, which no feed may use: {why}"),
        )),
        None => Ok(()),
    }
}
