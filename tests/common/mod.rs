//! Test support: a fresh PostgreSQL database per test, dropped afterwards, and helpers to
//! write feeds and read production's content hash. No mocks: everything runs against the
//! real server named by `AIRLOCK_TEST_DATABASE_URL` (default: the libpq environment).
#![allow(dead_code)]

pub mod clickhouse;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use airlock::db::{self, ConnectTarget};
use tokio_postgres::Client;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn admin_target() -> ConnectTarget {
    let url = std::env::var("AIRLOCK_TEST_DATABASE_URL").ok();
    let target = ConnectTarget::resolve(url.as_deref()).expect("test database URL");
    if url.is_none() {
        target.with_dbname("postgres")
    } else {
        target
    }
}

/// A database name no other test of any run uses.
pub fn unique_name() -> String {
    format!(
        "airlock_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}

pub struct TestDb {
    pub name: String,
    pub target: ConnectTarget,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    /// A new empty database.
    pub async fn empty() -> TestDb {
        let admin = admin_target();
        let name = unique_name();
        let client = db::connect(&admin)
            .await
            .expect("connect to the admin database");
        client
            .batch_execute(&format!("CREATE DATABASE {}", db::ident(&name)))
            .await
            .expect("create test database");
        TestDb {
            target: admin.with_dbname(&name),
            name,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A new database holding the sample catalog (fixtures/schema.sql).
    pub async fn with_catalog() -> TestDb {
        let t = Self::empty().await;
        let schema = std::fs::read_to_string(fixture("schema.sql")).expect("schema fixture");
        t.client()
            .await
            .batch_execute(&schema)
            .await
            .expect("load schema");
        t
    }

    pub async fn client(&self) -> Client {
        db::connect(&self.target)
            .await
            .expect("connect to the test database")
    }

    /// A connection string for the `airlock` binary.
    pub fn url(&self) -> String {
        let c = self.target.config();
        let mut parts = vec![format!("dbname={}", self.name)];
        if let Some(u) = c.get_user() {
            parts.push(format!("user={u}"));
        }
        match c.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => parts.push(format!("host={h}")),
            Some(tokio_postgres::config::Host::Unix(p)) => {
                parts.push(format!("host={}", p.display()))
            }
            None => {}
        }
        if let Some(p) = c.get_ports().first() {
            parts.push(format!("port={p}"));
        }
        if let Some(pw) = c.get_password() {
            parts.push(format!("password={}", String::from_utf8_lossy(pw)));
        }
        parts.join(" ")
    }

    /// Writes a file into this test's directory.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// Runs `check` through the library; returns the batch id.
    pub async fn check(&self, spec: &Path, file: &Path) -> airlock::Result<i64> {
        self.check_with(spec, file, &Default::default()).await
    }

    /// Checks the case study's broken nightly file against the partner spec: the batch.
    pub async fn check_broken(&self) -> i64 {
        self.check(
            &fixture("partner-products.toml"),
            &fixture("products-broken.csv"),
        )
        .await
        .expect("check")
    }

    /// Runs `check` through the library, as `control` says (a run leaves the plan to the
    /// promotion).
    pub async fn check_with(
        &self,
        spec: &Path,
        file: &Path,
        control: &airlock::pipeline::CheckControl,
    ) -> airlock::Result<i64> {
        let mut client = self.client().await;
        let feed = airlock::feed::load(&client, spec).await?;
        let second = db::connect_second(&self.target).await;
        airlock::pipeline::check(&mut client, second, &feed, file, control).await
    }

    /// The `name` of each typed row of a batch (the rows to promote), by sku.
    pub async fn typed_names(&self, id: i64) -> Vec<String> {
        self.typed_names_by(id, "sku").await
    }

    /// The `name` of each typed row of a batch, ordered by the column `order`.
    pub async fn typed_names_by(&self, id: i64, order: &str) -> Vec<String> {
        self.client()
            .await
            .query(
                &format!("SELECT name FROM airlock_stage.batch_{id}_rows ORDER BY {order}"),
                &[],
            )
            .await
            .expect("rows")
            .into_iter()
            .map(|r| r.get(0))
            .collect()
    }

    pub async fn summary(&self, id: i64) -> airlock::report::Summary {
        airlock::report::load(&self.client().await, id)
            .await
            .expect("load summary")
    }

    /// (line, column, check) of every error issue, sorted.
    pub async fn errors(&self, id: i64) -> Vec<(i64, Option<String>, String)> {
        self.issues(id, "error").await
    }

    pub async fn issues(&self, id: i64, severity: &str) -> Vec<(i64, Option<String>, String)> {
        self.client()
            .await
            .query(
                &format!(
                    "SELECT line, \"column\", \"check\" FROM airlock_stage.batch_{id}_issues \
                     WHERE severity = $1 ORDER BY line, \"column\", \"check\""
                ),
                &[&severity],
            )
            .await
            .expect("read issues")
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// Messages of issues of one check, in line order.
    pub async fn messages(&self, id: i64, check: &str) -> Vec<String> {
        self.client()
            .await
            .query(
                &format!(
                    "SELECT message FROM airlock_stage.batch_{id}_issues \
                     WHERE \"check\" = $1 ORDER BY line, id"
                ),
                &[&check],
            )
            .await
            .expect("read messages")
            .into_iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// The newest batch's state and error.
    pub async fn last_batch(&self) -> (String, String) {
        let row = self
            .client()
            .await
            .query_one(
                "SELECT state, coalesce(error, '') FROM airlock.batches ORDER BY id DESC LIMIT 1",
                &[],
            )
            .await
            .expect("batch");
        (row.get(0), row.get(1))
    }

    /// A content hash of a table, ordered by its first column.
    pub async fn table_hash(&self, table: &str) -> String {
        self.client()
            .await
            .query_one(
                &format!(
                    "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), 'empty') FROM {table} t"
                ),
                &[],
            )
            .await
            .expect("hash table")
            .get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = admin_target();
        let name = self.name.clone();
        on_own_runtime(async move {
            if let Ok(client) = db::connect(&admin).await {
                let _ = client
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        db::ident(&name)
                    ))
                    .await;
            }
        });
    }
}

/// Runs `work` to its end from anywhere, `Drop` included (which runs outside any runtime):
/// on a small runtime of its own thread.
pub fn on_own_runtime(work: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(work);
    })
    .join();
}

/// The errors the broken partner feed (`fixtures/products-broken.csv`) must be reported with,
/// on every engine: (line, column, check), in line order.
pub const CASE_STUDY_ERRORS: [(i64, Option<&str>, &str); 14] = [
    (13, Some("price"), "type"),
    (14, Some("category_id"), "lookup"),
    (14, Some("price"), "type"),
    (23, Some("price"), "type"),
    (33, Some("category_id"), "lookup"),
    (48, Some("price"), "type"),
    (73, Some("category_id"), "lookup"),
    (83, Some("sku"), "duplicate_key"),
    (84, Some("sku"), "duplicate_key"),
    (93, None, "columns"),
    (103, Some("price"), "check_constraint"),
    (113, Some("price"), "max"),
    (123, Some("sku"), "pattern"),
    (133, Some("name"), "not_null"),
];

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The sample spec with extra TOML appended (later tables override nothing; use distinct keys).
pub const PRODUCTS_SPEC: &str = r#"
name   = "partner-products"
target = "public.products"
[columns]
category_id = { lookup = "public.categories", match = "name", value = "category_id", from = "category" }
"#;
