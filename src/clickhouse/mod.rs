//! The ClickHouse engine: its connection over the HTTP interface, its catalog, and its types
//! as Airlock judges values for them. ClickHouse has no transactions; what stands for one in
//! promotion is `EXCHANGE TABLES` on an Atomic database (see the README's Engines section).
pub mod batches;
pub mod catalog;
pub mod check;
pub mod client;
pub mod datetime;
pub mod decide;
pub mod history;
mod lease;
pub mod leftovers;
mod printed;
pub mod promote;
pub mod review;
mod stage;
pub mod types;
pub mod url;
mod validate;
pub mod zone;

pub use client::ClickHouse;
pub use url::ClickHouseUrl;

/// Whether a connection string names a ClickHouse server (`clickhouse://`, `clickhouses://`)
/// rather than PostgreSQL (a `postgresql://` URL or `key=value` pairs).
pub fn is_clickhouse(conn: &str) -> bool {
    let lower = conn.trim_start().to_ascii_lowercase();
    lower.starts_with("clickhouse://") || lower.starts_with("clickhouses://")
}
