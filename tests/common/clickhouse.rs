//! A fresh ClickHouse database per test (an Atomic one, as promotion's `EXCHANGE TABLES`
//! needs), dropped afterwards, on the engine named by `AIRLOCK_TEST_CLICKHOUSE_URL`
//! (`scripts/clickhouse` starts one and prints its URL; `scripts/test` does both).
use airlock::clickhouse::client::ident;
use airlock::clickhouse::{ClickHouse, ClickHouseUrl};

pub fn server_url() -> ClickHouseUrl {
    let url = std::env::var("AIRLOCK_TEST_CLICKHOUSE_URL").expect(
        "AIRLOCK_TEST_CLICKHOUSE_URL names the ClickHouse engine the tests run against: \
         `export AIRLOCK_TEST_CLICKHOUSE_URL=$(scripts/clickhouse)` (scripts/test does this)",
    );
    ClickHouseUrl::parse(&url).expect("AIRLOCK_TEST_CLICKHOUSE_URL")
}

pub struct TestCh {
    pub name: String,
    pub url: ClickHouseUrl,
    pub ch: ClickHouse,
}

impl TestCh {
    pub async fn new() -> TestCh {
        let admin = server_url();
        let name = super::unique_name();
        let ch = ClickHouse::connect(&admin)
            .await
            .expect("connect to ClickHouse");
        ch.execute(
            &format!("CREATE DATABASE {} ENGINE = Atomic", ident(&name)),
            "creating the test database",
        )
        .await
        .expect("create the test database");
        let url = ClickHouseUrl {
            database: name.clone(),
            ..admin
        };
        let ch = ClickHouse::connect(&url)
            .await
            .expect("connect to the test database");
        TestCh { name, url, ch }
    }

    /// Every row of `sql`'s result, NULL as `None`.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.ch.rows(sql, "test query").await.expect(sql)
    }

    pub async fn exec(&self, sql: &str) {
        self.ch.execute(sql, "test statement").await.expect(sql)
    }
}

impl Drop for TestCh {
    fn drop(&mut self) {
        let (url, name) = (server_url(), self.name.clone());
        super::on_own_runtime(async move {
            if let Ok(ch) = ClickHouse::connect(&url).await {
                let sql = format!("DROP DATABASE IF EXISTS {} SYNC", ident(&name));
                let _ = ch.execute(&sql, "dropping the test database").await;
            }
        });
    }
}
