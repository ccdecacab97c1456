//! What the target table really is, read from the server's catalog: columns with their types
//! and typmods, NOT NULL, keys, CHECK constraints and foreign keys.
use tokio_postgres::GenericClient;

use super::qualified;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
    /// `format_type(type, typmod)`, e.g. `numeric(10,2)`; already quoted by the server.
    pub type_sql: String,
    /// `format_type(type, NULL)`, e.g. `character varying`.
    pub base_type_sql: String,
    /// `b` base, `d` domain, `e` enum, `c` composite, `r` range, ...
    pub type_kind: char,
    pub not_null: bool,
    pub has_default: bool,
    pub identity: bool,
    pub generated: bool,
    /// Whether values of the type can be compared for equality as the server compares them
    /// in `IS DISTINCT FROM`, arrays and row values (its type cache: a default btree or hash
    /// operator class, all the way down arrays, domains and composites). `point`, `xml`,
    /// `polygon`, `box` (whose `=` compares areas) and `point[]` cannot.
    pub equality: bool,
    /// A stored generated column's expression (over bare column names) and the columns it
    /// reads.
    pub generation: Option<(String, Vec<String>)>,
    /// On ClickHouse, the column's type as the engine has it (`type_oid` is then 0).
    pub clickhouse: Option<crate::clickhouse::types::ColumnType>,
}

#[derive(Debug, Clone)]
pub struct CheckConstraint {
    pub name: String,
    /// The boolean expression (`pg_get_expr`), over bare column names.
    pub expr: String,
    pub columns: Vec<String>,
}

/// A plain unique index (no predicate, no expressions).
#[derive(Debug, Clone)]
pub struct UniqueIndex {
    pub name: String,
    pub columns: Vec<String>,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15): NULLs collide like values.
    pub nulls_not_distinct: bool,
    /// Every column compared as SQL's `=` compares it, byte for byte where it is text: the
    /// default operator class and the column's own, deterministic collation. Only such an
    /// index is checked before promotion.
    pub plain_equality: bool,
}

impl UniqueIndex {
    /// Whether the index is on exactly `columns`, in any order.
    pub fn is_on<S: AsRef<str>>(&self, columns: &[S]) -> bool {
        let mut mine: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        let mut theirs: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
        mine.sort_unstable();
        theirs.sort_unstable();
        mine == theirs
    }
}

#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    /// Quoted by the server (`format('%I.%I')`).
    pub ref_table_sql: String,
    pub ref_table_oid: u32,
    /// The referenced table's schema, unquoted.
    pub ref_schema: String,
    pub ref_columns: Vec<String>,
}

/// How a partitioned table routes rows: a row goes in when one of its leaf partitions'
/// constraints holds for it.
#[derive(Debug, Clone)]
pub struct Partitioning {
    /// `RANGE (created_at)`, as the server prints the partition key.
    pub key: String,
    /// The key's columns; empty when the key has expressions.
    pub columns: Vec<String>,
    /// Each leaf partition's constraint (with its ancestors'), over bare column names.
    pub leaves: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Table {
    /// The engine the table lives on.
    pub engine: crate::engine::Engine,
    /// PostgreSQL's OID; 0 on ClickHouse.
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// Every plain unique index (primary key included).
    pub unique_indexes: Vec<UniqueIndex>,
    pub checks: Vec<CheckConstraint>,
    pub foreign_keys: Vec<ForeignKey>,
    /// For a partitioned table, how it routes rows.
    pub partitioning: Option<Partitioning>,
}

impl Column {
    /// Whether the column holds numbers (PostgreSQL's integers, numeric and floats;
    /// ClickHouse's integers, decimals and floats).
    /// Whether the column holds text (`text`, `varchar`; ClickHouse's `String`).
    pub fn is_text(&self) -> bool {
        use crate::clickhouse::types::ChType;
        match &self.clickhouse {
            Some(t) => t.base == ChType::String,
            None => matches!(self.base_type_sql.as_str(), "text" | "character varying"),
        }
    }

    pub fn is_numeric(&self) -> bool {
        use crate::clickhouse::types::ChType;
        match &self.clickhouse {
            Some(t) => matches!(
                t.base,
                ChType::Int { .. } | ChType::Float { .. } | ChType::Decimal { .. }
            ),
            None => crate::validate::types::is_numeric_type(self.type_oid),
        }
    }
}

/// Why a table in `schema` may not be written or read as a feed's table: Airlock's own
/// catalog and staging (`airlock`, `airlock_stage`) and the server's system schemas (every
/// `pg_*` name is reserved for them, and `information_schema`). `None` for other schemas.
pub fn reserved_schema(schema: &str) -> Option<&'static str> {
    if schema == crate::layout::CATALOG_SCHEMA || schema == crate::layout::STAGE_SCHEMA {
        Some("it is Airlock's own catalog or staging")
    } else if schema.starts_with("pg_") || schema == "information_schema" {
        Some("it is a system schema of PostgreSQL")
    } else {
        None
    }
}

impl Table {
    pub fn sql_name(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Resolves a table name as SQL would (`public.products`, `"Odd.Name"`), without splicing it
/// into SQL: the server parses it through `to_regclass`. `None` when no such table exists.
pub async fn find_table(
    client: &impl GenericClient,
    name: &str,
) -> std::result::Result<Option<u32>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass($1) \
             AND c.relkind IN ('r', 'p')",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| r.get::<_, u32>(0)))
}

/// Reads a table's definition by OID.
pub async fn describe(client: &impl GenericClient, oid: u32) -> Result<Table> {
    let ctx = || Error::db(format!("reading the definition of table oid {oid}"));
    let head = client
        .query_one(
            "SELECT n.nspname, c.relname FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
            &[&oid],
        )
        .await
        .map_err(ctx())?;
    let columns = client
        .query(
            "SELECT a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), \
                    format_type(a.atttypid, NULL), t.typtype, a.attnotnull, a.atthasdef, \
                    a.attidentity <> '', a.attgenerated <> '', \
                    EXISTS (SELECT 1 FROM pg_opclass o JOIN pg_am am ON am.oid = o.opcmethod \
                            WHERE o.opcdefault AND am.amname IN ('btree', 'hash') \
                              AND o.opcintype = a.atttypid AND t.typtype = 'b' \
                              AND t.typcategory <> 'A'), \
                    CASE WHEN a.attgenerated = 's' THEN \
                        (SELECT pg_get_expr(ad.adbin, ad.adrelid) FROM pg_attrdef ad \
                         WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum) END, \
                    ARRAY(SELECT r.attname::text FROM pg_attrdef ad \
                          JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid \
                          JOIN pg_attribute r ON r.attrelid = d.refobjid AND r.attnum = d.refobjsubid \
                          WHERE a.attgenerated = 's' AND ad.adrelid = a.attrelid \
                            AND ad.adnum = a.attnum AND d.refobjsubid > 0 \
                            AND d.refobjsubid <> a.attnum ORDER BY r.attnum) \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )
        .await
        .map_err(ctx())?
        .into_iter()
        .map(|r| Column {
            name: r.get(0),
            type_oid: r.get(1),
            typmod: r.get(2),
            type_sql: r.get(3),
            base_type_sql: r.get(4),
            type_kind: r.get::<_, i8>(5) as u8 as char,
            not_null: r.get(6),
            has_default: r.get(7),
            identity: r.get(8),
            generated: r.get(9),
            equality: r.get(10),
            generation: r
                .get::<_, Option<String>>(11)
                .map(|expr| (expr, r.get::<_, Vec<String>>(12))),
            clickhouse: None,
        })
        .collect::<Vec<_>>();
    let mut columns = columns;
    for col in columns.iter_mut().filter(|c| !c.equality) {
        col.equality = has_equality(client, &col.type_sql).await;
    }

    let attnames = "ARRAY(SELECT a.attname::text FROM unnest(%K) WITH ORDINALITY k(n, i) \
                    JOIN pg_attribute a ON a.attrelid = %R AND a.attnum = k.n ORDER BY k.i)";
    let cols = |keys: &str, rel: &str| attnames.replace("%K", keys).replace("%R", rel);
    let constraints = client
        .query(
            &format!(
                "SELECT con.conname::text, con.contype, {}, pg_get_expr(con.conbin, con.conrelid), \
                        (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
                         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = con.confrelid), \
                        {}, con.confrelid, \
                        (SELECT n.nspname::text FROM pg_class c \
                         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = con.confrelid) \
                 FROM pg_constraint con WHERE con.conrelid = $1 ORDER BY con.conname",
                cols("con.conkey", "con.conrelid"),
                cols("con.confkey", "con.confrelid"),
            ),
            &[&oid],
        )
        .await
        .map_err(ctx())?;
    let unique_indexes = client
        .query(
            &format!(
                "SELECT {}, i.indisprimary, (SELECT c.relname::text FROM pg_class c \
                        WHERE c.oid = i.indexrelid), \
                        COALESCE((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false), \
                        NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[], i.indclass::oid[], \
                                        i.indcollation::oid[]) AS k(attnum, opclass, coll) \
                                    JOIN pg_attribute a ON a.attrelid = i.indrelid \
                                        AND a.attnum = k.attnum \
                                    JOIN pg_opclass o ON o.oid = k.opclass \
                                    LEFT JOIN pg_collation co ON co.oid = k.coll \
                                    WHERE NOT o.opcdefault OR k.coll <> a.attcollation \
                                       OR NOT COALESCE(co.collisdeterministic, true)) \
                 FROM pg_index i \
                 WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL \
                   AND i.indexprs IS NULL AND i.indisvalid ORDER BY i.indexrelid",
                cols("i.indkey::int2[]", "i.indrelid")
            ),
            &[&oid],
        )
        .await
        .map_err(ctx())?;

    let mut table = Table {
        engine: crate::engine::Engine::PostgreSql,
        oid,
        schema: head.get(0),
        name: head.get(1),
        columns,
        primary_key: Vec::new(),
        unique_indexes: Vec::new(),
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        partitioning: partitioning(client, oid).await?,
    };
    for r in unique_indexes {
        let key: Vec<String> = r.get(0);
        if r.get::<_, bool>(1) {
            table.primary_key = key.clone();
        }
        table.unique_indexes.push(UniqueIndex {
            name: r.get(2),
            columns: key,
            nulls_not_distinct: r.get(3),
            plain_equality: r.get(4),
        });
    }
    for r in constraints {
        let kind = r.get::<_, i8>(1) as u8;
        let name: String = r.get(0);
        let columns: Vec<String> = r.get(2);
        match kind {
            b'c' => table.checks.push(CheckConstraint {
                name,
                expr: r.get(3),
                columns,
            }),
            b'f' => table.foreign_keys.push(ForeignKey {
                name,
                columns,
                ref_table_sql: r.get(4),
                ref_table_oid: r.get(6),
                ref_schema: r.get(7),
                ref_columns: r.get(5),
            }),
            _ => {}
        }
    }
    Ok(table)
}

/// A partitioned table's key and leaf constraints; `None` for a plain table, or when some
/// leaf takes every row (a lone default partition).
async fn partitioning(client: &impl GenericClient, oid: u32) -> Result<Option<Partitioning>> {
    let ctx = || Error::db(format!("reading the partitions of table oid {oid}"));
    let Some(head) = client
        .query_opt(
            "SELECT pg_get_partkeydef(p.partrelid), \
                    CASE WHEN 0 = ANY (p.partattrs::int2[]) THEN ARRAY[]::text[] ELSE \
                    ARRAY(SELECT a.attname::text FROM unnest(p.partattrs::int2[]) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.n \
                          ORDER BY k.i) END \
             FROM pg_partitioned_table p WHERE p.partrelid = $1",
            &[&oid],
        )
        .await
        .map_err(ctx())?
    else {
        return Ok(None);
    };
    let leaves: Vec<Option<String>> = client
        .query(
            "SELECT pg_get_partition_constraintdef(t.relid) FROM pg_partition_tree($1::oid::regclass) t \
             WHERE t.isleaf ORDER BY t.relid",
            &[&oid],
        )
        .await
        .map_err(ctx())?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    if leaves.iter().any(Option::is_none) {
        return Ok(None);
    }
    Ok(Some(Partitioning {
        key: head.get(0),
        columns: head.get(1),
        leaves: leaves.into_iter().flatten().collect(),
    }))
}

/// Asks the server whether `type_sql` (as `format_type` spells it) has equality: comparing
/// one-element arrays of it makes the server look the equality up in its type cache, the
/// rule `IS DISTINCT FROM` and row comparisons follow. The catalog query above already knows
/// the plain base types; this answers for the rest (varchar, enums, domains, arrays,
/// composites, geometric types). Runs outside any transaction, where a refused statement
/// changes nothing.
async fn has_equality(client: &impl GenericClient, type_sql: &str) -> bool {
    client
        .simple_query(&format!(
            "SELECT ARRAY[NULL::{type_sql}] = ARRAY[NULL::{type_sql}]"
        ))
        .await
        .is_ok()
}
