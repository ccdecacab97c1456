//! Promotion on ClickHouse against the real engine: the next production built beside the
//! target and exchanged in one `EXCHANGE TABLES`, undone by exchanging back; refused when
//! production moved; and after `kill -9` at any moment, production is the old table or the
//! new one, with the batch's state saying which.
mod common;

use std::process::{Command, Output};

use common::clickhouse::TestCh;
use common::fixture;

async fn catalog(t: &TestCh) {
    t.exec("CREATE TABLE categories (category_id Int32, name String) ENGINE = MergeTree ORDER BY category_id")
        .await;
    t.exec(
        "CREATE TABLE products (sku String, name String, price Decimal(10, 2), \
         category_id Nullable(Int32), note String DEFAULT 'from production', \
         CONSTRAINT price_nonnegative CHECK price >= 0) ENGINE = MergeTree ORDER BY sku",
    )
    .await;
    t.exec("INSERT INTO categories VALUES (1, 'Tools'), (2, 'Garden'), (3, 'Kitchen'), (4, 'Toys'), (5, 'Electronics')")
        .await;
    t.exec(
        "INSERT INTO products (sku, name, price, category_id, note) \
         SELECT concat('SKU-', leftPad(toString(number), 7, '0')), \
         concat('Catalog item ', toString(number)), toDecimal64(number * 1.25, 2), \
         toInt32(1 + number % 5), 'kept' FROM numbers(1, 100)",
    )
    .await;
}

/// The partner's spec for the ClickHouse tables, in `mode`.
fn spec(dir: &std::path::Path, mode: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("partner-products.toml"))
        .expect("spec")
        .replace("\"public.products\"", "\"products\"")
        .replace("\"public.categories\"", "\"categories\"")
        .replace("mode   = \"upsert\"", &format!("mode   = \"{mode}\""));
    let path = dir.join(format!("{mode}.toml"));
    std::fs::write(&path, text).expect("write spec");
    path
}

struct Cli {
    url: String,
    dir: tempfile::TempDir,
}

impl Cli {
    fn new(t: &TestCh) -> Self {
        Self {
            url: format!(
                "clickhouse://default@{}:{}/{}",
                t.url.host, t.url.port, t.name
            ),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_airlock"));
        c.arg("--database-url")
            .arg(&self.url)
            .arg("--quiet")
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run airlock")
    }

    /// Checks the broken partner file in `mode`; the batch's number.
    fn check(&self, mode: &str) -> String {
        let spec = spec(self.dir.path(), mode);
        let file = fixture("products-broken.csv");
        let out = self.run(&[
            "check",
            spec.to_str().expect("path"),
            file.to_str().expect("path"),
            "--json",
        ]);
        // 3: the verdict is abort (a swap that grows the table past max_count_change).
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        v["batch"].as_i64().expect("batch").to_string()
    }

    fn state(&self, id: &str) -> String {
        let out = self.run(&["show", id, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["state"].as_str().unwrap_or_default().to_string()
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn hash(t: &TestCh) -> String {
    t.rows("SELECT toString(count()), toString(groupBitXor(cityHash64(sku, name, price, category_id, note))) FROM products")
        .await
        .concat()
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/")
}

async fn value(t: &TestCh, sql: &str) -> Option<String> {
    t.rows(sql)
        .await
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
}

#[tokio::test]
async fn an_upsert_is_one_exchange_and_undo_exchanges_back() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let before = hash(&t).await;
    let id = cli.check("upsert");
    let said = ok(&cli.run(&["promote", &id, "--yes", "--note", "nightly"]));
    assert!(
        said.contains("242 inserted, 10 updated, 35 unchanged"),
        "{said}"
    );
    assert!(
        said.contains(&format!("`airlock export {id} --quarantined FILE`")),
        "{said}"
    );
    assert_eq!(
        value(&t, "SELECT toString(count()) FROM products")
            .await
            .as_deref(),
        Some("342")
    );
    // Updated: the file's values, and production's for the column the file does not feed.
    assert_eq!(
        t.rows("SELECT toString(price), note FROM products WHERE sku = 'SKU-0000058'")
            .await,
        vec![vec![Some("12.35".into()), Some("kept".into())]]
    );
    // New: the column's default. Untouched: as it was.
    assert_eq!(
        value(&t, "SELECT note FROM products WHERE sku = 'SKU-0000150'")
            .await
            .as_deref(),
        Some("from production")
    );
    assert_eq!(
        value(
            &t,
            "SELECT toString(price) FROM products WHERE sku = 'SKU-0000001'"
        )
        .await
        .as_deref(),
        Some("1.25")
    );
    assert_eq!(cli.state(&id), "promoted");
    // Promoting again is refused; production does not move.
    let after = hash(&t).await;
    let again = cli.run(&["promote", &id, "--yes"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(hash(&t).await, after);

    ok(&cli.run(&["undo", &id]));
    assert_eq!(hash(&t).await, before);
    assert_eq!(cli.state(&id), "undone");
}

#[tokio::test]
async fn a_swap_replaces_the_table_and_keeps_the_old_one_for_undo() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let before = hash(&t).await;
    let id = cli.check("swap");
    // The table grows from 100 to 287 rows: past the policy's max_count_change, so the
    // verdict is abort and the swap needs an override.
    let refused = cli.run(&["promote", &id, "--yes"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--override-policy"));
    assert_eq!(hash(&t).await, before);
    let said = ok(&cli.run(&[
        "promote",
        &id,
        "--yes",
        "--override-policy",
        "--note",
        "the partner's catalog grew",
    ]));
    assert!(said.contains("deleted"), "{said}");
    assert_eq!(
        value(&t, "SELECT toString(count()) FROM products")
            .await
            .as_deref(),
        Some("287")
    );
    assert_eq!(
        value(
            &t,
            "SELECT toString(count()) FROM products WHERE sku = 'SKU-0000001'"
        )
        .await
        .as_deref(),
        Some("0"),
        "a swap keeps only the file's rows"
    );
    let kept = format!("SELECT toString(count()) FROM airlock_stage.batch_{id}_previous");
    assert_eq!(value(&t, &kept).await.as_deref(), Some("100"));
    ok(&cli.run(&["undo", &id]));
    assert_eq!(hash(&t).await, before);
}

#[tokio::test]
async fn a_promotion_is_refused_when_production_moved() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let id = cli.check("upsert");
    // Another writer: the plan the batch was checked with no longer holds.
    t.exec("INSERT INTO products (sku, name, price) VALUES ('SKU-0000300', 'Elsewhere', 1)")
        .await;
    let moved = hash(&t).await;
    let refused = cli.run(&["promote", &id, "--yes"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("production changed since the plan was made"),
        "{err}"
    );
    assert_eq!(hash(&t).await, moved);
    assert_eq!(cli.state(&id), "validated");
    let leftover = format!(
        "SELECT count() FROM system.tables WHERE database = 'airlock_stage' AND name = 'batch_{id}_next'"
    );
    assert_eq!(value(&t, &leftover).await.as_deref(), Some("0"));

    // Promoted after all, then written to: undo would lose the write, so it refuses.
    let id = cli.check("upsert");
    ok(&cli.run(&["promote", &id, "--yes"]));
    t.exec("INSERT INTO products (sku, name, price) VALUES ('SKU-0000301', 'Later', 1)")
        .await;
    let written = hash(&t).await;
    let refused = cli.run(&["undo", &id]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("was written to since the promotion")
    );
    assert_eq!(hash(&t).await, written);
}

/// `kill -9` of a promotion at moments spread over its run: afterwards production is the old
/// table or the new one, never a mix, and the batch says which once anything reads the
/// catalog (`batches` reconciles).
#[tokio::test]
async fn a_promotion_killed_at_any_moment_leaves_production_old_or_new() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let old = hash(&t).await;
    let id = cli.check("upsert");
    let began = std::time::Instant::now();
    ok(&cli.run(&["promote", &id, "--yes", "--lock-timeout", "200"]));
    let whole = began.elapsed();
    let new = hash(&t).await;
    ok(&cli.run(&["undo", &id]));
    assert_eq!(hash(&t).await, old);
    let (mut saw_old, mut saw_new) = (0, 0);
    // Kills spread from the start to past the end of a whole promotion.
    for tenth in 0..12u32 {
        let delay_ms = whole.as_millis() as u64 * u64::from(tenth) / 10;
        let id = cli.check("upsert");
        // A lease of 3 × 200 ms: a process that stopped renewing it is known dead soon.
        let mut child = cli
            .command(&["promote", &id, "--yes", "--lock-timeout", "200"])
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // While the lease runs, the promotion is another session's: refused, untouched.
        if cli.state(&id) == "promoting" {
            let during = hash(&t).await;
            let busy = cli.run(&["promote", &id, "--yes"]);
            let err = String::from_utf8_lossy(&busy.stderr);
            if cli.state(&id) == "promoting" {
                assert!(err.contains("promoting into"), "{err}");
                assert_eq!(hash(&t).await, during);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(700));
        ok(&cli.run(&["batches"]));
        let now = hash(&t).await;
        let state = cli.state(&id);
        if now == new {
            saw_new += 1;
            assert_eq!(state, "promoted", "killed after {delay_ms} ms");
            ok(&cli.run(&["undo", &id]));
        } else {
            saw_old += 1;
            assert_eq!(
                now, old,
                "killed after {delay_ms} ms: production is neither old nor new"
            );
            assert_eq!(state, "validated", "killed after {delay_ms} ms");
            // The batch can still be promoted, and then undone.
            ok(&cli.run(&["promote", &id, "--yes"]));
            assert_eq!(hash(&t).await, new);
            ok(&cli.run(&["undo", &id]));
        }
        assert_eq!(hash(&t).await, old);
    }
    assert!(saw_old > 0, "no kill landed before the exchange");
    assert!(saw_new > 0, "no kill landed after the exchange");
    eprintln!("killed before the exchange: {saw_old}, after: {saw_new}");
}

/// Quarantine, release (judged again against production as it is now), abort, export and
/// drop: production never moves, and each refuses what its state does not allow.
#[tokio::test]
async fn decisions_and_export_leave_production_as_it_is() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let id = cli.check("upsert");
    let before = hash(&t).await;

    ok(&cli.run(&["quarantine", &id, "--note", "partner asked to wait"]));
    assert_eq!(cli.state(&id), "quarantined");
    let refused = cli.run(&["promote", &id, "--yes"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is quarantined"));
    // Production moves while the batch waits: the release judges it again.
    t.exec(
        "INSERT INTO products (sku, name, price) VALUES ('SKU-0000150', 'Arrived meanwhile', 9)",
    )
    .await;
    let moved = hash(&t).await;
    let said = ok(&cli.run(&["release", &id, "--note", "partner confirmed"]));
    assert!(said.contains("validated, verdict review"), "{said}");
    let shown: serde_json::Value =
        serde_json::from_slice(&cli.run(&["show", &id, "--json"]).stdout).expect("json");
    assert_eq!(
        shown["plan"]["insert"], 241,
        "SKU-0000150 is in production now"
    );
    let decisions: Vec<&str> = shown["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter_map(|d| d["decision"].as_str())
        .collect();
    assert_eq!(decisions, ["quarantine", "release"]);

    // The quarantined rows for the partner: one line per problem, with the row's fields.
    let out = cli.dir.path().join("bad.csv");
    let said = ok(&cli.run(&["export", &id, "--quarantined", out.to_str().expect("path")]));
    assert!(said.starts_with("wrote 14 problem rows"), "{said}");
    let mut csv = csv::Reader::from_path(&out).expect("csv");
    let head: Vec<String> = csv
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        head,
        [
            "line", "column", "check", "value", "message", "sku", "name", "price", "category"
        ]
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.expect("row")).collect();
    let found: Vec<(i64, Option<String>, String)> = rows
        .iter()
        .map(|r| {
            let column = Some(r[1].to_string()).filter(|c| !c.is_empty());
            (r[0].parse().expect("line"), column, r[2].to_string())
        })
        .collect();
    let expected: Vec<(i64, Option<String>, String)> = common::CASE_STUDY_ERRORS
        .into_iter()
        .map(|(l, c, k)| (l, c.map(str::to_string), k.to_string()))
        .collect();
    assert_eq!(found, expected);
    // The shifted row, as the partner sent it.
    assert_eq!(
        &rows[0].iter().skip(5).collect::<Vec<_>>(),
        &["SKU-0000061", "76.25", "Garden", ""]
    );

    ok(&cli.run(&["abort", &id, "--note", "not tonight"]));
    assert_eq!(cli.state(&id), "aborted");
    let refused = cli.run(&["release", &id, "--note", "x"]);
    assert_eq!(refused.status.code(), Some(1));
    let said = ok(&cli.run(&["drop", &id, "--yes"]));
    assert!(
        said.contains(&format!("batch {id}: dropped batch_{id}, "))
            && said.contains(&format!("batch_{id}_issues")),
        "{said}"
    );
    assert!(
        !cli.run(&["export", &id, "--quarantined", out.to_str().expect("path")])
            .status
            .success()
    );
    assert_eq!(hash(&t).await, moved);
    assert_ne!(moved, before);
}

/// `run` checks and promotes in one command, for cron; a verdict of abort stops it with
/// exit 3 and production untouched.
#[tokio::test]
async fn run_checks_and_promotes_or_stops_on_abort() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let before = hash(&t).await;
    let file = fixture("products-broken.csv");
    let strict = cli.dir.path().join("strict.toml");
    let text = std::fs::read_to_string(spec(cli.dir.path(), "upsert"))
        .expect("spec")
        .replace("max_bad_fraction = 0.05", "max_bad_fraction = 0.01");
    std::fs::write(&strict, text).expect("write");
    let stopped = cli.run(&[
        "run",
        strict.to_str().expect("path"),
        file.to_str().expect("path"),
        "--yes",
    ]);
    assert_eq!(stopped.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&stopped.stdout).contains("Not promoted: the verdict is abort")
    );
    assert_eq!(hash(&t).await, before);

    let spec = spec(cli.dir.path(), "upsert");
    let said = ok(&cli.run(&[
        "run",
        spec.to_str().expect("path"),
        file.to_str().expect("path"),
        "--yes",
    ]));
    assert!(
        said.contains("242 inserted, 10 updated, 35 unchanged"),
        "{said}"
    );
    assert_eq!(
        value(&t, "SELECT toString(count()) FROM products")
            .await
            .as_deref(),
        Some("342")
    );
}

/// Two sessions promoting the same batch at once, then undoing it at once: one of each goes
/// on, the other is refused, and nothing of production is lost.
#[tokio::test]
async fn racing_promotions_and_undos_of_one_batch_let_one_through() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let old = hash(&t).await;
    let id = cli.check("upsert");
    let race = |args: &[&str]| {
        let children: Vec<std::process::Child> = (0..2)
            .map(|_| {
                cli.command(args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect();
        let won = outs.iter().filter(|o| o.status.success()).count();
        let lost: Vec<String> = outs
            .iter()
            .filter(|o| !o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .collect();
        (won, lost)
    };
    let (won, lost) = race(&["promote", &id, "--yes"]);
    assert_eq!(won, 1, "{lost:?}");
    assert!(
        lost[0].contains("another session is promoting") || lost[0].contains("is promot"),
        "{lost:?}"
    );
    assert_eq!(
        value(&t, "SELECT toString(count()) FROM products")
            .await
            .as_deref(),
        Some("342")
    );
    let kept = format!("SELECT toString(count()) FROM airlock_stage.batch_{id}_previous");
    assert_eq!(value(&t, &kept).await.as_deref(), Some("100"));
    let (won, lost) = race(&["undo", &id]);
    assert_eq!(won, 1, "{lost:?}");
    assert_eq!(hash(&t).await, old);
}

/// A load whose process is gone (its lease ran out) is marked failed by the next command
/// that reads the catalog, and can then be dropped; one whose lease runs is left alone.
#[tokio::test]
async fn a_load_whose_process_is_gone_is_marked_failed() {
    use airlock::clickhouse::batches;
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let id = cli.check("upsert");
    let n: i64 = id.parse().expect("id");
    // As a killed `check` leaves it: loading, its lease renewed last a while ago.
    let mut batch = batches::load(&t.ch, n).await.expect("batch");
    batch.summary.state = airlock::batch::State::Loading;
    batches::record(&t.ch, &batch).await.expect("record");
    batches::set_lease(&t.ch, n, batches::now_ms() + 60_000)
        .await
        .expect("lease");
    ok(&cli.run(&["batches"]));
    assert_eq!(
        cli.state(&id),
        "loading",
        "a running load is left to its process"
    );
    let refused = cli.run(&["drop", &id, "--yes"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not being loaded or promoted"));

    batches::set_lease(&t.ch, n, batches::now_ms() - 1)
        .await
        .expect("lease");
    ok(&cli.run(&["batches"]));
    assert_eq!(cli.state(&id), "load_failed");
    let shown: serde_json::Value =
        serde_json::from_slice(&cli.run(&["show", &id, "--json"]).stdout).expect("json");
    assert_eq!(shown["error"], "the load stopped: its process is gone");
    let said = ok(&cli.run(&["drop", &id, "--yes"]));
    assert!(
        said.contains(&format!("batch {id}: dropped batch_{id}, "))
            && said.contains(&format!("batch_{id}_rows")),
        "{said}"
    );
    assert_eq!(cli.state(&id), "aborted");
}

/// A feed into date-time columns: each value lands as the instant the partner meant — a
/// local time in the column's zone, or the instant an offset names — and the times the engine
/// would change without a word (skipped or repeated by the clocks, out of range, with digits
/// the type drops) are quarantined with their line and reason. Rows the file leaves alone keep
/// their instants; the changes list shows both sides in the column's zone.
#[tokio::test]
async fn date_times_land_as_the_instants_meant() {
    let t = TestCh::new().await;
    t.exec(
        "CREATE TABLE events (id UInt32, at DateTime('Europe/Berlin'), \
         at_ms Nullable(DateTime64(3, 'America/New_York'))) ENGINE = MergeTree ORDER BY id",
    )
    .await;
    t.exec("INSERT INTO events VALUES (1, '2026-01-01 12:00:00', NULL), (9, '2026-06-01 08:00:00', '2026-06-01 08:00:00.250')")
        .await;
    let cli = Cli::new(&t);
    let spec = cli.dir.path().join("events.toml");
    std::fs::write(
        &spec,
        "name = \"events\"\ntarget = \"events\"\nkey = [\"id\"]\nmode = \"upsert\"\n\n\
         [source]\nformat = \"csv\"\nnull = [\"\"]\n\n[policy]\nmax_bad_fraction = 0.9\n",
    )
    .expect("spec");
    let file = cli.dir.path().join("events.csv");
    std::fs::write(
        &file,
        "id,at,at_ms\n\
         1,2026-01-01 13:00:00,2026-07-04 12:00:00.5\n\
         2,2026-07-15T10:00,2026-07-15 10:00:00Z\n\
         3,2026-03-29 02:30:00,\n\
         4,2026-10-25 02:30:00,\n\
         5,2026-10-25 02:30:00+01:00,2026-11-01 01:30:00\n\
         6,1969-07-20 20:17:00Z,\n\
         7,2026-07-15 10:00:00,2026-07-15 10:00:00.1234\n\
         8,2026-07-15 10:00:00.5,\n\
         9,2026-06-01 08:00:00,2026-06-01 08:00:00.250\n",
    )
    .expect("file");
    let out = cli.run(&[
        "check",
        spec.to_str().expect("path"),
        file.to_str().expect("path"),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let id = v["batch"].as_i64().expect("batch").to_string();
    assert_eq!(v["rows"]["good"], 3, "{v:#}");
    assert_eq!(v["rows"]["quarantined"], 6, "{v:#}");
    // The same instants compare equal whatever zone they are shown in.
    assert_eq!(
        (
            &v["plan"]["insert"],
            &v["plan"]["update"],
            &v["plan"]["unchanged"]
        ),
        (&1.into(), &1.into(), &1.into()),
        "{v:#}"
    );
    let r = airlock::clickhouse::promote::ready(&t.ch, v["batch"].as_i64().expect("batch"))
        .await
        .expect("ready");
    let changes =
        airlock::clickhouse::review::changes_page(&t.ch, &r, airlock::review::PageFrom::Start, 10)
            .await
            .expect("changes");
    let shown: Vec<(String, Option<String>, Option<String>)> = changes
        .iter()
        .flat_map(|c| {
            c.changes.iter().map(|x| {
                (
                    format!("{} {}", c.key, x.column),
                    x.before.clone(),
                    x.after.clone(),
                )
            })
        })
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        shown,
        [
            (
                "1 at".to_string(),
                s("2026-01-01 12:00:00"),
                s("2026-01-01 13:00:00")
            ),
            ("1 at_ms".to_string(), s("∅"), s("2026-07-04 12:00:00.500")),
            ("2 at".to_string(), None, s("2026-07-15 10:00:00")),
            ("2 at_ms".to_string(), None, s("2026-07-15 06:00:00.000")),
        ]
    );
    let exported = cli.dir.path().join("bad.csv");
    ok(&cli.run(&[
        "export",
        &id,
        "--quarantined",
        exported.to_str().expect("path"),
    ]));
    let bad = std::fs::read_to_string(&exported).expect("export");
    for (line, says) in [
        (
            "4,at,type",
            "does not exist in Europe/Berlin (the clocks skip it)",
        ),
        (
            "5,at,type",
            "happens twice in Europe/Berlin (the clocks repeat it): say which with its offset, +02:00 or +01:00",
        ),
        ("6,at_ms,type", "happens twice in America/New_York"),
        (
            "7,at,type",
            "is out of range for DateTime('Europe/Berlin') (1970-01-01 00:00:00 to 2106-02-07 06:28:15 UTC)",
        ),
        (
            "8,at_ms,type",
            "has 4 fractional digits; Nullable(DateTime64(3, 'America/New_York')) keeps 3",
        ),
        (
            "9,at,type",
            "has a fraction of a second; DateTime('Europe/Berlin') keeps whole seconds",
        ),
    ] {
        assert!(
            bad.lines().any(|l| l.starts_with(line) && l.contains(says)),
            "{line} {says}:\n{bad}"
        );
    }
    ok(&cli.run(&["promote", &id, "--yes", "--note", "times"]));
    let rows = t
        .rows(
            "SELECT toString(id), toString(at), toString(at, 'UTC'), toString(at_ms), \
             toString(at_ms, 'UTC') FROM events ORDER BY id",
        )
        .await;
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        [
            [
                s("1"),
                s("2026-01-01 13:00:00"),
                s("2026-01-01 12:00:00"),
                s("2026-07-04 12:00:00.500"),
                s("2026-07-04 16:00:00.500")
            ],
            [
                s("2"),
                s("2026-07-15 10:00:00"),
                s("2026-07-15 08:00:00"),
                s("2026-07-15 06:00:00.000"),
                s("2026-07-15 10:00:00.000")
            ],
            [
                s("9"),
                s("2026-06-01 08:00:00"),
                s("2026-06-01 06:00:00"),
                s("2026-06-01 08:00:00.250"),
                s("2026-06-01 12:00:00.250")
            ],
        ]
    );
    // A column whose values only the engine could judge is refused before anything is
    // written, naming it.
    t.exec("CREATE TABLE tagged (id UInt32, tags Array(String)) ENGINE = MergeTree ORDER BY id")
        .await;
    let spec = cli.dir.path().join("tagged.toml");
    std::fs::write(
        &spec,
        "name = \"tagged\"\ntarget = \"tagged\"\nmode = \"upsert\"\n",
    )
    .expect("spec");
    let file = cli.dir.path().join("tagged.csv");
    std::fs::write(&file, "id,tags\n1,\"['a']\"\n").expect("file");
    let out = cli.run(&[
        "check",
        spec.to_str().expect("path"),
        file.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not judge values of these columns' types yet: tags (Array(String))"),
        "{err}"
    );
}

/// The feed's history on ClickHouse: checking a file again before anything was promoted is
/// not sending it twice; once promoted, the same file (under any name) is named with the
/// batch it came in, and refused when the spec says so (production untouched); `show` says
/// what changed since the last promoted batch, keys included; and a column whose values
/// drifted against it is said.
#[tokio::test]
async fn the_same_file_again_and_drift_are_named_on_clickhouse() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let write = |name: &str, text: &str| {
        let p = cli.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.to_str().expect("path").to_string()
    };
    let spec = |name: &str, policy: &str| {
        write(
            name,
            &format!(
                "name = \"nightly\"\ntarget = \"products\"\n[columns]\n\
                 category_id = {{ lookup = \"categories\", match = \"name\", value = \"category_id\", from = \"category\" }}\n\
                 [policy]\n{policy}\n"
            ),
        )
    };
    let feed = |first: usize, category: &str| {
        let mut out = String::from("sku,name,price,category\n");
        for i in first..first + 50 {
            out.push_str(&format!("SKU-{i:07},Catalog item {i},9.99,{category}\n"));
        }
        out
    };
    let json = |out: Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("json: {}", String::from_utf8_lossy(&out.stderr)))
    };
    let warn = spec("warn.toml", "");
    let file = write("tonight.csv", &feed(201, "Tools"));
    for _ in 0..2 {
        let checked = json(cli.run(&["check", &warn, &file, "--json"]));
        assert_eq!(checked["verdict"], "clean", "{checked}");
    }
    let first = json(cli.run(&["run", &warn, &file, "--yes", "--json"]));
    assert_eq!(first["verdict"], "clean", "{first}");
    let again = json(cli.run(&["check", &warn, &file, "--json"]));
    assert_eq!(again["verdict"], "review", "{again}");
    assert!(
        again["notes"].to_string().contains(&format!(
            "the same file (sha256) as batch {} of this feed, promoted on",
            first["batch"]
        )),
        "{again}"
    );
    assert_eq!(again["since_last"]["same_file"], true, "{again}");
    assert_eq!(again["since_last"]["batch"], first["batch"], "{again}");
    let copy = write("copy.csv", &feed(201, "Tools"));
    let abort = spec("abort.toml", "repeat_file = \"abort\"");
    let before = hash(&t).await;
    let out = cli.run(&["run", &abort, &copy, "--yes", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(hash(&t).await, before);
    // Another night: 25 keys new, 25 gone, and most categories empty.
    let mut text = feed(226, "Tools");
    text = text
        .lines()
        .enumerate()
        .map(|(i, l)| match i > 0 && i % 5 != 0 {
            true => l.replace(",Tools", ","),
            false => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let next = json(cli.run(&["check", &warn, &write("next.csv", &text), "--json"]));
    let id = next["batch"].to_string();
    let shown = json(cli.run(&["show", &id, "--json"]));
    let since = &shown["since_last"];
    assert_eq!(
        (&since["batch"], &since["rows_before"], &since["rows_now"]),
        (&first["batch"], &50.into(), &50.into()),
        "{shown}"
    );
    assert_eq!(
        (
            &since["keys_added"],
            &since["keys_gone"],
            &since["same_file"]
        ),
        (&25.into(), &25.into(), &false.into()),
        "{shown}"
    );
    assert!(
        since["drift"].to_string().contains(&format!(
            "column category drifted against batch {}, the feed's last promoted: empty in",
            first["batch"]
        )),
        "{shown}"
    );
    let said = String::from_utf8_lossy(&cli.run(&["show", &id]).stdout).into_owned();
    assert!(said.contains("25 keys new, 25 gone"), "{said}");
    // Prices production has (1.25 × n for SKU n) set to 9.99: most move by more than half.
    let cut = json(cli.run(&[
        "check",
        &warn,
        &write("cut.csv", &feed(1, "Tools")),
        "--json",
    ]));
    let drift = cut["notes"].to_string();
    assert!(
        drift.contains(
            "column price drifted against production: 80% of the rows production has (40 of 50) \
             would change by more than half; e.g. SKU-0000001: 1.25 → 9.99"
        ),
        "{cut}"
    );
}

/// `prune` on ClickHouse: every batch untouched for the given time loses its staging, an
/// unfinished one is aborted, the latest promotion of the target keeps the replaced
/// production so it can still be undone (`--undo` drops that too); `--dry-run` only says.
/// It acts on the whole catalog the tests share, so it runs alone (`.config/nextest.toml`).
#[tokio::test]
async fn prune_drops_old_staging_and_keeps_what_undo_needs() {
    let t = TestCh::new().await;
    catalog(&t).await;
    let cli = Cli::new(&t);
    let first = cli.check("upsert");
    ok(&cli.run(&["promote", &first, "--yes", "--note", "one"]));
    let second = cli.check("upsert");
    ok(&cli.run(&["promote", &second, "--yes", "--note", "two"]));
    let third = cli.check("upsert");
    let tables = |id: &str| {
        let t = &t;
        let id = id.to_string();
        async move {
            t.rows(&format!(
                "SELECT name FROM system.tables WHERE database = 'airlock_stage' \
                 AND match(name, '^batch_{id}(_[a-z]+)?$') ORDER BY name"
            ))
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect::<Vec<_>>()
        }
    };
    assert!(
        tables(&second)
            .await
            .contains(&format!("batch_{second}_previous"))
    );
    // Batches earlier runs left on the engine go first; then nothing is that old.
    ok(&cli.run(&["prune", "--older-than", "1h"]));
    let said = ok(&cli.run(&["prune", "--older-than", "1h"]));
    assert_eq!(said.trim(), "nothing older than 1h to prune");
    let said = ok(&cli.run(&["prune", "--older-than", "0s", "--dry-run"]));
    let line = |id: &str| {
        said.lines()
            .find(|l| l.starts_with(&format!("batch {id}: ")))
            .unwrap_or_else(|| panic!("batch {id} in:\n{said}"))
            .to_string()
    };
    assert!(
        line(&first).contains(&format!("would drop batch_{first}, ")),
        "{said}"
    );
    assert!(
        line(&first).contains(&format!("batch_{first}_previous")),
        "{said}"
    );
    assert!(
        line(&second).contains(&format!("kept batch_{second}_previous (",))
            && line(&second).contains("for undo (the latest promotion into"),
        "{said}"
    );
    assert!(
        line(&third).contains(&format!("would drop batch_{third}, ")),
        "{said}"
    );
    assert_eq!(tables(&first).await.len(), 4, "a dry run drops nothing");
    let before = hash(&t).await;
    let said = ok(&cli.run(&["prune", "--older-than", "0s"]));
    assert!(said.contains(&format!("batch {first}: dropped")), "{said}");
    assert!(
        tables(&first).await.is_empty(),
        "{said} {:?}",
        tables(&first).await
    );
    assert!(tables(&third).await.is_empty());
    assert_eq!(tables(&second).await, [format!("batch_{second}_previous")]);
    assert_eq!(cli.state(&third), "aborted");
    assert_eq!(hash(&t).await, before, "production untouched");
    // The latest promotion can still be undone.
    ok(&cli.run(&["undo", &second]));
    assert_eq!(cli.state(&second), "undone");
    let said = ok(&cli.run(&["prune", "--older-than", "0s", "--undo"]));
    assert!(
        said.contains(&format!("batch {second}: dropped")) || tables(&second).await.is_empty(),
        "{said}"
    );
    let said = ok(&cli.run(&["prune", "--older-than", "0s", "--undo"]));
    assert_eq!(said.trim(), "nothing older than 0s to prune");
}
