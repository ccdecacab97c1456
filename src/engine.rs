//! The engines Airlock loads into, told apart by the connection string, and the first part of
//! the seam between them: what feed resolution reads of the engine's catalog.
//!
//! The flow is the same on every engine; what differs sits behind this seam. PostgreSQL
//! resolves names with `to_regclass` and reads `pg_catalog`; ClickHouse reads
//! `system.tables` and `system.columns` (`crate::clickhouse::catalog`). Both give the same
//! [`Table`], whose columns carry the rule their values are judged by.
use tokio_postgres::GenericClient;

use crate::clickhouse::{self, ClickHouse};
use crate::db::catalog::{self, Table};
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
}
