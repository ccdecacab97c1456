//! The case study on ClickHouse: the broken partner feed is checked with the same issues, on
//! the same lines, as on PostgreSQL (`tests/check_case_study.rs`); production is only read.
mod common;

use airlock::clickhouse::{batches, check};
use common::clickhouse::TestCh;
use common::fixture;

/// The sample catalog, as `demo --engine clickhouse` loads it.
async fn catalog(t: &TestCh) {
    let schema = std::fs::read_to_string(fixture("schema-clickhouse.sql")).expect("schema");
    for statement in schema.split(";\n").filter(|s| {
        s.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    }) {
        t.exec(statement).await;
    }
}

/// The partner's spec, pointed at the ClickHouse tables.
fn spec(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("partner-products.toml"))
        .expect("spec")
        .replace("\"public.products\"", "\"products\"")
        .replace("\"public.categories\"", "\"categories\"");
    assert!(text.contains("target = \"products\""), "{text}");
    let path = dir.join("partner-products.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

/// Checks fixture `file` with the partner's spec; the batch's number.
async fn check_fixture(t: &TestCh, file: &str) -> i64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = airlock::feed::load(&t.ch, &spec(dir.path()))
        .await
        .expect("feed");
    check::check(&t.ch, &feed, &fixture(file), &Default::default())
        .await
        .expect("check")
}

async fn production(t: &TestCh) -> Vec<Vec<Option<String>>> {
    t.rows("SELECT count(), groupBitXor(cityHash64(sku, name, price, category_id)) FROM products")
        .await
}

/// Removes what the check left in Airlock's catalog and staging on the shared engine.
async fn drop_batch(t: &TestCh, id: i64) {
    for suffix in ["", "_issues", "_rows"] {
        t.exec(&format!(
            "DROP TABLE IF EXISTS airlock_stage.batch_{id}{suffix}"
        ))
        .await;
    }
    t.exec(&format!("DELETE FROM airlock.batches WHERE id = {id}"))
        .await;
}

#[tokio::test]
async fn case_study_reports_the_same_rows_as_on_postgresql() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let before = production(&t).await;
    let id = check_fixture(&t, "products-broken.csv").await;

    let errors = t
        .rows(&format!(
            "SELECT toString(line), `column`, `check` FROM airlock_stage.batch_{id}_issues \
             WHERE severity = 'error' ORDER BY line, `column`"
        ))
        .await;
    let expected: Vec<Vec<Option<String>>> = common::CASE_STUDY_ERRORS
        .into_iter()
        .map(|(l, c, k)| {
            vec![
                Some(l.to_string()),
                c.map(str::to_string),
                Some(k.to_string()),
            ]
        })
        .collect();
    assert_eq!(errors, expected);
    let warnings = t
        .rows(&format!(
            "SELECT toString(line), `column`, `check`, message FROM airlock_stage.batch_{id}_issues \
             WHERE severity = 'warning'"
        ))
        .await;
    assert_eq!(
        warnings,
        vec![vec![
            Some("10".into()),
            Some("price".into()),
            Some("rounded".into()),
            Some("12.345 will be stored as 12.35 (Decimal(10, 2) keeps 2 decimal places)".into())
        ]]
    );

    let s = batches::summary(&t.ch, id).await.expect("summary");
    assert_eq!(s.state.as_str(), "validated");
    assert_eq!(s.verdict.map(|v| v.as_str()), Some("review"));
    assert_eq!(
        (
            s.rows.total,
            s.rows.good,
            s.rows.quarantined,
            s.rows.superseded
        ),
        (300, 287, 13, 0)
    );
    assert_eq!(s.plan.production_rows, 100);
    assert_eq!(s.plan.insert + s.plan.update + s.plan.unchanged, 287);
    let typed = t
        .rows(&format!(
            "SELECT count(), toString(sum(price)) FROM airlock_stage.batch_{id}_rows"
        ))
        .await;
    assert_eq!(typed[0][0].as_deref(), Some("287"));
    // The rounded price is stored as the warning says.
    assert_eq!(
        t.rows(&format!(
            "SELECT toString(price) FROM airlock_stage.batch_{id}_rows WHERE __line = 10"
        ))
        .await,
        vec![vec![Some("12.35".into())]]
    );
    // A bad row's fields are in staging as the file has them: line 13 is the shifted row.
    assert_eq!(
        t.rows(&format!(
            "SELECT f3 FROM airlock_stage.batch_{id} WHERE _line = 13"
        ))
        .await,
        vec![vec![Some("Garden".into())]]
    );
    assert_eq!(
        production(&t).await,
        before,
        "check must not touch production"
    );
    drop_batch(&t, id).await;
}

#[tokio::test]
async fn clean_feed_is_clean_with_an_exact_plan() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let id = check_fixture(&t, "products-clean.csv").await;
    let s = batches::summary(&t.ch, id).await.expect("summary");
    assert_eq!(
        s.verdict.map(|v| v.as_str()),
        Some("clean"),
        "{:?}",
        s.checks
    );
    assert_eq!(s.rows.good, 40);
    assert_eq!(
        (s.plan.insert, s.plan.update, s.plan.unchanged),
        (20, 3, 17)
    );
    assert_eq!(s.plan.columns.get("price"), Some(&3));
    assert_eq!(s.plan.columns.get("name"), Some(&1));
    drop_batch(&t, id).await;
}

/// The command line on ClickHouse: `check`, `batches` and `show` as on PostgreSQL (JSON,
/// exit statuses); the review UI without a terminal says it needs one, before anything is
/// touched.
#[tokio::test]
async fn the_command_line_checks_lists_and_shows() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(dir.path());
    let url = format!(
        "clickhouse://default@{}:{}/{}",
        t.url.host, t.url.port, t.name
    );
    let airlock = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .arg("--database-url")
            .arg(&url)
            .args(args)
            .output()
            .expect("run airlock")
    };
    let spec_arg = spec.to_str().expect("utf-8 path");
    let broken = fixture("products-broken.csv");
    let out = airlock(&["check", spec_arg, broken.to_str().expect("path"), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = summary["batch"].as_i64().expect("batch");
    assert_eq!(summary["verdict"], "review");
    assert_eq!(summary["rows"]["quarantined"], 13);

    let shown = airlock(&["show", &id.to_string()]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success());
    assert!(
        text.contains("300 read · 287 good · 13 quarantined"),
        "{text}"
    );
    // The next steps it suggests all work on ClickHouse (tests/clickhouse_promote.rs).
    assert!(
        text.contains(&format!("airlock promote {id} --yes")),
        "{text}"
    );

    let listed = airlock(&["batches", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .any(|b| b["batch"] == id && b["state"] == "validated"),
        "{list}"
    );

    // A stricter policy: the verdict is abort, and the exit status says so, as on PostgreSQL.
    let strict = dir.path().join("strict.toml");
    let text = std::fs::read_to_string(&spec)
        .expect("spec")
        .replace("max_bad_fraction = 0.05", "max_bad_fraction = 0.01");
    std::fs::write(&strict, text).expect("write");
    let out = airlock(&[
        "check",
        strict.to_str().expect("path"),
        broken.to_str().expect("path"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let aborted: i64 = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("Batch N");

    let before = production(&t).await;
    // The review UI, and `demo` without --print, need a terminal: without one they say so.
    for args in [vec!["review"], vec!["review", "--batch", "1"], vec!["demo"]] {
        let refused = airlock(&args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains("the review UI needs a terminal"), "{err}");
    }
    assert_eq!(production(&t).await, before);
    drop_batch(&t, id).await;
    drop_batch(&t, aborted).await;
}

/// `demo --engine clickhouse --print`: the sample catalog recreated in `airlock_demo`, the
/// case-study feed checked there, and the commands it prints work as printed.
#[tokio::test]
async fn the_clickhouse_demo_prints_commands_that_work() {
    let t = TestCh::new().await;
    let url = format!("clickhouse://default@{}:{}/default", t.url.host, t.url.port);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args([
            "--database-url",
            &url,
            "demo",
            "--engine",
            "clickhouse",
            "--print",
        ])
        .output()
        .expect("run airlock");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("300 read · 287 good · 13 quarantined"),
        "{text}"
    );
    let promote = text
        .lines()
        .find(|l| l.contains(" promote "))
        .expect("a promote command")
        .trim()
        .split("              ")
        .next()
        .expect("command")
        .replace("\"…\"", "demo");
    let words: Vec<String> = promote
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_string())
        .collect();
    let ran = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(&words)
        .output()
        .expect("run the printed command");
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{words:?}: {said}{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(
        said.contains("242 inserted, 10 updated, 35 unchanged"),
        "{said}"
    );
    assert_eq!(
        t.rows("SELECT toString(count()) FROM airlock_demo.products")
            .await,
        vec![vec![Some("342".into())]]
    );
}

/// `init` on ClickHouse: a first spec from the table and a sample, with the lookup guessed
/// by the column's name (ClickHouse has no foreign keys) and its evidence; the spec it
/// writes checks the sample as written, and an existing file is never overwritten.
#[tokio::test]
async fn init_writes_a_spec_that_checks_the_sample() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "clickhouse://default@{}:{}/{}",
        t.url.host, t.url.port, t.name
    );
    let airlock = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .arg("--database-url")
            .arg(&url)
            .args(args)
            .output()
            .expect("run airlock")
    };
    let sample = fixture("products-broken.csv");
    let spec = dir.path().join("feed.toml");
    let out = airlock(&[
        "init",
        "--target",
        "products",
        sample.to_str().expect("path"),
        "--output",
        spec.to_str().expect("path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&spec).expect("spec");
    assert!(
        text.contains(&format!(
            "category_id = {{ lookup = \"{db}.categories\", match = \"name\", value = \"category_id\", from = \"category\" }}   # {db}.categories has a column `category_id` too (ClickHouse has no foreign keys): 5 of 8 distinct sampled `category` values are in {db}.categories.name",
            db = t.name
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("target = \"{}.products\"", t.name)),
        "{text}"
    );
    let out = airlock(&[
        "check",
        spec.to_str().expect("path"),
        sample.to_str().expect("path"),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let lookups = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "lookup")
        .expect("the lookup is in force");
    assert_eq!(lookups["rows"], 3, "{v:#}");
    let again = airlock(&[
        "init",
        "--target",
        "products",
        sample.to_str().expect("path"),
        "--output",
        spec.to_str().expect("path"),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists; not overwritten"));
    let id = v["batch"].as_i64().expect("batch");
    drop_batch(&t, id).await;
}
