//! `airlock demo`: a sandbox database `airlock_demo` holding the sample catalog, and the
//! broken case-study feed checked against it.
use std::path::PathBuf;

use anyhow::Context;
use tokio_postgres::Client;

use crate::db::{self, ConnectTarget};

pub const DEMO_DATABASE: &str = "airlock_demo";
const SCHEMA: &str = include_str!("../../fixtures/schema.sql");
const SPEC: &str = include_str!("../../fixtures/partner-products.toml");
const BROKEN: &str = include_str!("../../fixtures/products-broken.csv");

/// How to get a server when none answers.
const START_HINT: &str = "Airlock needs a PostgreSQL server. Start one, for example:
    sudo pg_ctlcluster 15 main start          (Debian/Ubuntu, installed)
    sudo apt-get install postgresql           (Debian/Ubuntu, not installed)
then point Airlock at it with DATABASE_URL, e.g.
    export DATABASE_URL='host=/var/run/postgresql user=postgres dbname=postgres'";

/// Recreates the sandbox database and writes the demo feed; returns a client on it and the
/// paths of the spec and the file.
pub async fn prepare(base: &ConnectTarget) -> anyhow::Result<(Client, PathBuf, PathBuf)> {
    // The maintenance database exists on every server.
    let admin = match db::connect(&base.with_dbname("postgres")).await {
        Ok(client) => client,
        Err(e) => anyhow::bail!("{e}\n\n{START_HINT}"),
    };
    let name = db::ident(DEMO_DATABASE);
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).await.with_context(|| {
            format!("creating the sandbox database {DEMO_DATABASE} (the role needs CREATEDB)")
        })?;
    }
    let client = db::connect(&base.with_dbname(DEMO_DATABASE)).await?;
    client
        .batch_execute(SCHEMA)
        .await
        .context("loading the sample catalog")?;
    let (spec, file) = write_feed("airlock-demo", |spec| spec.to_string())?;
    Ok((client, spec, file))
}

/// Writes the demo's spec (as `adapt` makes it for the engine) and broken feed into a
/// directory `dir` under the temporary directory; returns their paths.
pub fn write_feed(dir: &str, adapt: impl Fn(&str) -> String) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = std::env::temp_dir().join(dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let spec = dir.join("partner-products.toml");
    let file = dir.join("products-broken.csv");
    std::fs::write(&spec, adapt(SPEC)).with_context(|| format!("writing {}", spec.display()))?;
    std::fs::write(&file, BROKEN).with_context(|| format!("writing {}", file.display()))?;
    Ok((spec, file))
}
