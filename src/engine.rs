//! The engines Airlock loads into, told apart by the connection string, and the first part of
//! the seam between them: what feed resolution reads of the engine's catalog.
//!
//! The flow is the same on every engine; what differs sits behind this seam. PostgreSQL
//! resolves names with `to_regclass` and reads `pg_catalog`; ClickHouse reads
//! `system.tables` and `system.columns` (`crate::clickhouse::catalog`). Both give the same
//! [`Table`], whose columns carry the rule their values are judged by.
use tokio_postgres::GenericClient;

use crate::clickhouse::{self, ClickHouse};
use crate::db::catalog::{self, ForeignKey, Table};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    #[default]
    PostgreSql,
    ClickHouse,
}

impl Engine {
    /// `clickhouse://…` and `clickhouses://…` name ClickHouse; anything else (a
    /// `postgresql://` URL, `key=value` pairs, nothing) PostgreSQL.
    pub fn of(conn: Option<&str>) -> Self {
        match conn {
            Some(c) if clickhouse::is_clickhouse(c) => Engine::ClickHouse,
            _ => Engine::PostgreSql,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::PostgreSql => "PostgreSQL",
            Engine::ClickHouse => "ClickHouse",
        }
    }
}

/// An engine's catalog, as feed resolution reads it.
pub trait Catalog {
    fn engine(&self) -> Engine;

    /// The table `name` names, as the engine resolves names; `Ok(None)` when there is none,
    /// the inner `Err` (the engine's words) when `name` is not a table name at all.
    fn table(
        &self,
        name: &str,
    ) -> impl std::future::Future<Output = Result<std::result::Result<Option<Table>, String>>> + Send;

    /// Where column `column` of `table` may look its values up (`init` guessing a lookup):
    /// on PostgreSQL its foreign key; ClickHouse has none, so there the other tables of its
    /// database with a column of that name, each as a foreign key without a name.
    fn lookups_for(
        &self,
        table: &Table,
        column: &str,
    ) -> impl std::future::Future<Output = Result<Vec<ForeignKey>>> + Send;

    /// The table a foreign key (or a [`Catalog::lookups_for`] guess) references.
    fn referenced(
        &self,
        fk: &ForeignKey,
    ) -> impl std::future::Future<Output = Result<Table>> + Send;

    /// How many of `values` column `column` of `table` holds, compared as text (`init`
    /// guessing a lookup).
    fn count_matches(
        &self,
        table: &Table,
        column: &str,
        values: &[&str],
    ) -> impl std::future::Future<Output = Result<i64>> + Send;
}

impl<C: GenericClient + Sync> Catalog for C {
    fn engine(&self) -> Engine {
        Engine::PostgreSql
    }

    async fn table(&self, name: &str) -> Result<std::result::Result<Option<Table>, String>> {
        let oid = match catalog::find_table(self, name).await {
            Ok(Some(oid)) => oid,
            Ok(None) => return Ok(Ok(None)),
            Err(e) => {
                return Ok(Err(e
                    .as_db_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_else(|| e.to_string())));
            }
        };
        Ok(Ok(Some(catalog::describe(self, oid).await?)))
    }

    async fn lookups_for(&self, table: &Table, column: &str) -> Result<Vec<ForeignKey>> {
        Ok(table
            .foreign_keys
            .iter()
            .filter(|f| f.columns.len() == 1 && f.columns[0] == column)
            .cloned()
            .collect())
    }

    async fn referenced(&self, fk: &ForeignKey) -> Result<Table> {
        catalog::describe(self, fk.ref_table_oid).await
    }

    async fn count_matches(&self, table: &Table, column: &str, values: &[&str]) -> Result<i64> {
        Ok(self
            .query_one(
                &format!(
                    "SELECT count(*) FROM unnest($1::text[]) v WHERE EXISTS \
                     (SELECT 1 FROM {} r WHERE r.{}::text = v)",
                    table.sql_name(),
                    crate::db::ident(column)
                ),
                &[&values],
            )
            .await
            .map_err(crate::error::Error::db(
                "matching sample values against a lookup table",
            ))?
            .get(0))
    }
}

impl Catalog for ClickHouse {
    fn engine(&self) -> Engine {
        Engine::ClickHouse
    }

    async fn table(&self, name: &str) -> Result<std::result::Result<Option<Table>, String>> {
        match clickhouse::catalog::find(self, name).await? {
            Err(problem) => Ok(Err(problem)),
            Ok(None) => Ok(Ok(None)),
            Ok(Some(t)) => Ok(Ok(Some(t.to_table()))),
        }
    }

    async fn lookups_for(&self, table: &Table, column: &str) -> Result<Vec<ForeignKey>> {
        use crate::clickhouse::client::{ident, quote};
        let rows = self
            .rows(
                &format!(
                    "SELECT table FROM system.columns WHERE database = {db} AND name = {col} \
                     AND table != {name} AND table IN (SELECT name FROM system.tables \
                     WHERE database = {db} AND engine NOT LIKE '%View') ORDER BY table",
                    db = quote(&table.schema),
                    col = quote(column),
                    name = quote(&table.name),
                ),
                "looking for tables to look values up in",
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .map(|t| ForeignKey {
                name: String::new(),
                columns: vec![column.to_string()],
                ref_table_sql: format!("{}.{}", ident(&table.schema), ident(&t)),
                ref_table_oid: 0,
                ref_schema: table.schema.clone(),
                ref_columns: vec![column.to_string()],
            })
            .collect())
    }

    async fn referenced(&self, fk: &ForeignKey) -> Result<Table> {
        let name = fk
            .ref_table_sql
            .split('.')
            .map(|p| p.trim_matches('`'))
            .collect::<Vec<_>>()
            .join(".");
        Ok(clickhouse::catalog::describe(self, &name).await?.to_table())
    }

    async fn count_matches(&self, table: &Table, column: &str, values: &[&str]) -> Result<i64> {
        use crate::clickhouse::client::{ident, quote};
        let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
        let n = self
            .value(
                &format!(
                    "SELECT count() FROM (SELECT arrayJoin([{}]) AS v) \
                     WHERE v IN (SELECT toString({}) FROM {})",
                    list.join(", "),
                    ident(column),
                    table.sql_name()
                ),
                "matching sample values against a lookup table",
            )
            .await?;
        Ok(n.and_then(|n| n.parse().ok()).unwrap_or(0))
    }
}
