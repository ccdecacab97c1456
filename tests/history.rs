//! A feed's history in the verdict: last night's file sent again, a file far from the usual
//! size, a file that would rewrite most of production — caught before promotion — and the
//! gate that lets cron promote clean batches only (exit status 4, production untouched).
mod common;

use std::process::{Command, Output};

use common::TestDb;

fn airlock(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run airlock")
}

const SPEC: &str = "name = \"nightly\"\ntarget = \"public.products\"\n[columns]\n\
    category_id = { lookup = \"public.categories\", match = \"name\", value = \"category_id\", from = \"category\" }\n\
    [policy]\n";

/// `n` good rows from SKU `first` on, prices `price`.
fn feed(first: usize, n: usize, price: &str) -> String {
    let mut out = String::from("sku,name,price,category\n");
    for i in first..first + n {
        out.push_str(&format!("SKU-{i:07},Catalog item {i},{price},Tools\n"));
    }
    out
}

fn spec(db: &TestDb, name: &str, policy: &str) -> String {
    db.write(name, format!("{SPEC}{policy}\n"))
        .display()
        .to_string()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("json: {}", String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn the_same_file_again_is_named_and_by_policy_refused() {
    let db = TestDb::with_catalog().await;
    let file = db
        .write("tonight.csv", feed(201, 50, "9.99"))
        .display()
        .to_string();
    let warn = spec(&db, "warn.toml", "");
    // Checking a file again before anything was promoted is not sending it twice.
    for _ in 0..2 {
        let checked = json(&airlock(&db, &["check", &warn, &file, "--json"]));
        assert_eq!(checked["verdict"], "clean", "{checked}");
    }
    let first = airlock(&db, &["run", &warn, &file, "--yes", "--json"]);
    assert_eq!(first.status.code(), Some(0));
    let first = json(&first);
    assert_eq!(first["verdict"], "clean");
    // Sent again: a warning naming the earlier batch, its state and date; the verdict is review.
    let again = airlock(&db, &["check", &warn, &file, "--json"]);
    let again = json(&again);
    assert_eq!(again["verdict"], "review", "{again}");
    let notes = again["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "the same file (sha256) as batch {} of this feed, promoted on",
            first["batch"]
        )),
        "{notes}"
    );
    // A copy under another name is the same file.
    let copy = db
        .write("copy.csv", feed(201, 50, "9.99"))
        .display()
        .to_string();
    let abort = spec(&db, "abort.toml", "repeat_file = \"abort\"");
    let before = db.table_hash("products").await;
    let out = airlock(&db, &["run", &abort, &copy, "--yes", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refused = json(&out);
    assert!(
        refused["breaches"][0]
            .as_str()
            .unwrap_or("")
            .contains("repeat_file = \"abort\""),
        "{refused}"
    );
    assert_eq!(db.table_hash("products").await, before);
    // "allow" says nothing; another feed's batches are not this feed's history.
    let allow = spec(&db, "allow.toml", "repeat_file = \"allow\"");
    assert_eq!(
        json(&airlock(&db, &["check", &allow, &copy, "--json"]))["verdict"],
        "clean"
    );
    let other = db.write(
        "other.toml",
        SPEC.replace("nightly", "weekly") + "repeat_file = \"abort\"\n",
    );
    let out = airlock(
        &db,
        &["check", &other.display().to_string(), &copy, "--json"],
    );
    assert_eq!(json(&out)["verdict"], "clean");
}

#[tokio::test]
async fn a_file_far_from_the_last_and_a_rewrite_of_production_are_aborts() {
    let db = TestDb::with_catalog().await;
    let policy = "max_change_vs_last = 0.20\nmax_update_fraction = 0.40\nrepeat_file = \"allow\"";
    let path = spec(&db, "guarded.toml", policy);
    let usual = db
        .write("usual.csv", feed(201, 100, "5.00"))
        .display()
        .to_string();
    assert_eq!(
        airlock(&db, &["run", &path, &usual, "--yes"]).status.code(),
        Some(0)
    );
    // 60% of the usual size: cut short somewhere.
    let cut = db
        .write("cut.csv", feed(201, 60, "5.00"))
        .display()
        .to_string();
    let before = db.table_hash("products").await;
    let out = airlock(&db, &["run", &path, &cut, "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let breach = json(&out)["breaches"][0].as_str().unwrap_or("").to_string();
    assert!(
        breach.contains("60 rows against 100 in batch 1, the feed's last promoted (-40.0%), more than max_change_vs_last = 0.2"),
        "{breach}"
    );
    // Without max_change_vs_last, a move past 20% is a warning: the verdict is review and
    // the run still promotes (auto_promote = "review").
    let unset = spec(&db, "unset.toml", "repeat_file = \"allow\"");
    let checked = json(&airlock(&db, &["check", &unset, &cut, "--json"]));
    assert_eq!(checked["verdict"], "review", "{checked}");
    assert!(
        checked["notes"].to_string().contains(
            "warning: 60 rows against 100 in batch 1, the feed's last promoted (-40.0%), more than max_change_vs_last = 0.2 (the default, a warning)"
        ),
        "{checked}"
    );
    // Within 20%, fine.
    let near = db
        .write("near.csv", feed(201, 110, "5.00"))
        .display()
        .to_string();
    assert_eq!(
        json(&airlock(&db, &["check", &path, &near, "--json"]))["verdict"],
        "clean"
    );
    // Every price of production moved: most of it would be updated.
    let all = db
        .write("all.csv", feed(1, 100, "1000.00"))
        .display()
        .to_string();
    let out = airlock(&db, &["run", &path, &all, "--yes", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = json(&out);
    let breaches = shown["breaches"].to_string();
    assert!(breaches.contains("would be updated") && breaches.contains("100 of production's 200 rows would be updated (50.0%), more than max_update_fraction = 0.4"), "{breaches}");
    assert_eq!(db.table_hash("products").await, before);
}

#[tokio::test]
async fn cron_can_be_told_to_promote_clean_batches_only() {
    let db = TestDb::with_catalog().await;
    let path = spec(&db, "clean-only.toml", "auto_promote = \"clean\"");
    let before = db.table_hash("products").await;
    // One bad price: the verdict is review, and the batch waits for a person.
    let mut text = feed(201, 20, "3.00");
    text.push_str("SKU-0000999,Broken,N/A,Tools\n");
    let file = db.write("review.csv", text).display().to_string();
    let out = airlock(&db, &["run", &path, &file, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Left for review: the verdict is review"),
        "{said}"
    );
    assert_eq!(
        db.table_hash("products").await,
        before,
        "production untouched"
    );
    let list = json(&airlock(&db, &["batches", "--json"]));
    assert_eq!(list[0]["state"], "validated");
    // A person approves it later; its plan is made then.
    let id = list[0]["batch"].to_string();
    let out = airlock(&db, &["promote", &id, "--yes", "--note", "looked at it"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A clean file goes straight in.
    let clean = db
        .write("clean.csv", feed(400, 20, "3.00"))
        .display()
        .to_string();
    let out = airlock(&db, &["run", &path, &clean, "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["applied"]["inserted"], 20);
}

#[tokio::test]
async fn checks_have_a_severity_and_thresholds_of_their_own() {
    let db = TestDb::with_catalog().await;
    let mut text = feed(201, 48, "9.00");
    text.push_str("SKU-0000301,Pricey,250.00,Tools\n");
    text.push_str("SKU-12,Short sku,5.00,Tools\n");
    text.push_str("SKU-0000302,Unknown,5.00,Gadgets\n");
    text.push_str("SKU-0000303,Unknown too,5.00,Outdoor\n");
    let file = db.write("mixed.csv", text).display().to_string();
    // A warn rule lets its rows through, counted.
    let warn = db
        .write(
            "warn.toml",
            SPEC.replace("[policy]\n", "[checks]\nprice = { max = 100, severity = \"warn\" }\n[policy]\nmax_bad_fraction = 0.5\n"),
        )
        .display()
        .to_string();
    let shown = json(&airlock(&db, &["check", &warn, &file, "--json"]));
    assert_eq!(shown["verdict"], "review", "{shown}");
    assert_eq!(shown["rows"]["warned"], 1, "{shown}");
    let max = shown["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == "max"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(max["severity"], "warning", "{shown}");
    // Its own threshold makes the verdict abort though the global policy holds.
    let strict = db
        .write(
            "strict.toml",
            SPEC.replace(
                "[columns]\n",
                "[checks]\nsku = { pattern = '^SKU-[0-9]{7}$', max_rows = 0 }\n[columns]\n",
            )
            .replace(
                "from = \"category\" }",
                "from = \"category\", max_fraction = 0.03 }",
            ) + "max_bad_fraction = 0.5\n",
        )
        .display()
        .to_string();
    let out = airlock(&db, &["run", &strict, &file, "--yes", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let breaches = json(&out)["breaches"].to_string();
    assert!(
        breaches.contains("[checks] sku failed on 1 row, more than its max_rows = 0"),
        "{breaches}"
    );
    assert!(
        breaches.contains(
            "lookup category_id failed on 3.8% of rows (2 of 52), more than its max_fraction = 0.03"
        ),
        "{breaches}"
    );
    // Thresholds that cannot mean anything are spec errors.
    for (bad, key) in [
        (
            "[checks]\nprice = { max = 1, max_fraction = 2 }\n",
            "checks.price.max_fraction",
        ),
        (
            "[checks]\nprice = { max = 1, severity = \"loud\" }\n",
            "unknown variant `loud`, expected `error` or `warn`",
        ),
    ] {
        let path = db.write(
            "bad.toml",
            SPEC.replace("[columns]\n", &format!("{bad}[columns]\n")),
        );
        let out = airlock(&db, &["check", &path.display().to_string(), &file]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(key),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = db.write(
        "bad2.toml",
        SPEC.replace(
            "[policy]\n",
            "name = { from = \"name\", max_rows = 3 }\n[policy]\n",
        ),
    );
    let out = airlock(&db, &["check", &path.display().to_string(), &file]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("belongs to a lookup"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Drift: a file like every other but with each price a hundred times larger, or a column
/// that went empty, is named against the feed's last promoted batch — a warning by default,
/// an abort under `drift = "abort"` (exit 3, production untouched), nothing under "allow".
#[tokio::test]
async fn a_file_that_drifted_from_the_last_promoted_is_named() {
    let db = TestDb::with_catalog().await;
    let warn = spec(&db, "warn.toml", "");
    let last = db.write("monday.csv", feed(201, 50, "9.99"));
    let out = airlock(&db, &["run", &warn, &last.display().to_string(), "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    // Tuesday: the same rows, every price ×100.
    let tuesday = db
        .write("tuesday.csv", feed(201, 50, "999.00"))
        .display()
        .to_string();
    let checked = json(&airlock(&db, &["check", &warn, &tuesday, "--json"]));
    assert_eq!(checked["verdict"], "review", "{checked}");
    let notes = checked["notes"].to_string();
    assert!(
        notes.contains(
            "warning: column price drifted against batch 1, the feed's last promoted: mean 999, 9.99 before (×100); commonest now: '999.00' (50)"
        ),
        "{notes}"
    );
    let human = String::from_utf8_lossy(&airlock(&db, &["show", "2"]).stdout).into_owned();
    assert!(human.contains("column price drifted"), "{human}");

    let before = db.table_hash("products").await;
    let abort = spec(&db, "abort.toml", "drift = \"abort\"");
    let out = airlock(&db, &["run", &abort, &tuesday, "--yes", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = json(&out);
    assert!(
        ran["breaches"][0].as_str().is_some_and(
            |b| b.ends_with("(×100); commonest now: '999.00' (50) (policy drift = \"abort\")")
        ),
        "{ran}"
    );
    assert_eq!(db.table_hash("products").await, before);

    // A column that went empty: the category is gone from every row (and quarantined by
    // its lookup — drift names the cause).
    let empty = feed(201, 50, "9.99").replace(",Tools\n", ",\n");
    let empty = db.write("wednesday.csv", empty).display().to_string();
    let checked = json(&airlock(&db, &["check", &warn, &empty, "--json"]));
    assert!(
        checked["notes"]
            .to_string()
            .contains("column category drifted against batch 1, the feed's last promoted: empty in 100.0% of rows, 0.0% before"),
        "{checked}"
    );
    let allow = spec(&db, "allow.toml", "drift = \"allow\"");
    let checked = json(&airlock(&db, &["check", &allow, &tuesday, "--json"]));
    assert_eq!(checked["verdict"], "clean", "{checked}");
}

/// Drift against production, from the first batch on: a file that would move most of the
/// prices production has by more than half is named with an example row; under `drift =
/// "abort"` a headless run makes its plan first and exits 3 with production untouched.
#[tokio::test]
async fn a_file_that_rewrites_most_prices_is_named_against_production() {
    let db = TestDb::with_catalog().await;
    // Production holds SKU-0000001 … SKU-0000100 at i × 1.25; the file has the first 40 at
    // a hundred times that, and 10 at the price they have.
    let mut file = String::from("sku,name,price,category\n");
    for i in 1..=50 {
        let price = if i <= 40 {
            i as f64 * 125.0
        } else {
            i as f64 * 1.25
        };
        file.push_str(&format!(
            "SKU-{i:07},Catalog item {i},{price:.2},{}\n",
            ["Tools", "Garden", "Kitchen", "Toys", "Electronics"][i % 5]
        ));
    }
    let file = db.write("rewrite.csv", file).display().to_string();
    let warn = spec(&db, "warn.toml", "max_update_fraction = 0.9");
    let checked = json(&airlock(&db, &["check", &warn, &file, "--json"]));
    assert_eq!(checked["verdict"], "review", "{checked}");
    assert!(
        checked["notes"].to_string().contains(
            "warning: column price drifted against production: 80% of the rows production has (40 of 50) would change by more than half; e.g. SKU-0000001: 1.25 → 125.00"
        ),
        "{checked}"
    );
    let before = db.table_hash("products").await;
    let abort = spec(&db, "abort.toml", "drift = \"abort\"");
    let out = airlock(&db, &["run", &abort, &file, "--yes", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(db.table_hash("products").await, before);
    // The same prices production has: no drift, whatever the file's size.
    let mut same_file = String::from("sku,name,price,category\n");
    for i in 1..=50 {
        same_file.push_str(&format!(
            "SKU-{i:07},Catalog item {i},{:.2},{}\n",
            i as f64 * 1.25,
            ["Tools", "Garden", "Kitchen", "Toys", "Electronics"][i % 5]
        ));
    }
    let same_file = db.write("same.csv", same_file).display().to_string();
    let out = airlock(&db, &["run", &abort, &same_file, "--yes", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// "Since last night": `show` and its JSON compare a batch with the feed's last promoted
/// one — rows, keys added and gone, the same file or not, the columns that drifted.
#[tokio::test]
async fn show_compares_a_batch_with_the_last_promoted_one() {
    let db = TestDb::with_catalog().await;
    let warn = spec(&db, "warn.toml", "");
    let monday = db
        .write("monday.csv", feed(201, 50, "9.99"))
        .display()
        .to_string();
    let first = json(&airlock(&db, &["check", &warn, &monday, "--json"]));
    assert_eq!(
        first["since_last"],
        serde_json::Value::Null,
        "nothing before"
    );
    let out = airlock(&db, &["promote", &first["batch"].to_string(), "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    // Tuesday: 20 keys gone (201–220), 20 new (251–270), 60 rows.
    let tuesday = db
        .write("tuesday.csv", feed(221, 60, "9.99"))
        .display()
        .to_string();
    let id = json(&airlock(&db, &["check", &warn, &tuesday, "--json"]))["batch"].to_string();
    let shown = json(&airlock(&db, &["show", &id, "--json"]));
    let since = &shown["since_last"];
    assert_eq!(
        (
            since["batch"].as_i64(),
            since["rows_before"].as_i64(),
            since["rows_now"].as_i64(),
            since["keys_added"].as_i64(),
            since["keys_gone"].as_i64(),
            since["same_file"].as_bool(),
        ),
        (Some(1), Some(50), Some(60), Some(30), Some(20), Some(false)),
        "{since}"
    );
    assert_eq!(since["drift"], serde_json::json!([]));
    // The column profile kept while reading is in the JSON, every column of it.
    let names: Vec<&str> = shown["profile"]
        .as_array()
        .expect("profile")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["sku", "name", "price", "category"]);
    let human = String::from_utf8_lossy(&airlock(&db, &["show", &id]).stdout).into_owned();
    assert!(
        human.contains("\nSince batch 1 (the feed's last promoted, ")
            && human
                .contains("): 50 → 60 rows (+20.0%) · 30 keys new, 20 gone · no column drifted"),
        "{human}"
    );
    // Its staging pruned, the last batch's keys are no longer counted; the rest still is.
    let out = airlock(&db, &["drop", "1", "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    let since = &json(&airlock(&db, &["show", &id, "--json"]))["since_last"];
    assert_eq!(
        (since["keys_added"].clone(), since["rows_before"].as_i64()),
        (serde_json::Value::Null, Some(50))
    );
}

/// A lookup takes a severity too: under "warn" a value the lookup table does not have lets
/// its row through with no value, counted as warned, in both the in-memory and the SQL path;
/// a NOT NULL column refuses it, naming why.
#[tokio::test]
async fn a_lookup_can_warn_instead_of_quarantining() {
    let db = TestDb::with_catalog().await;
    let mut text = feed(201, 10, "9.00");
    text.push_str("SKU-0000302,Unknown,5.00,Gadgets\n");
    text.push_str("SKU-0000303,Unknown too,5.00,Outdoor\n");
    let file = db.write("lookups.csv", text).display().to_string();
    let warn_spec = SPEC.replace(
        "from = \"category\" }",
        "from = \"category\", severity = \"warn\" }",
    );
    // The SQL path: a domain over text makes the server judge the name's values.
    let sql_path = "CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100); \
                    CREATE TABLE products2 (LIKE products INCLUDING ALL); \
                    ALTER TABLE products2 ALTER COLUMN name TYPE short_text; \
                    ALTER TABLE products2 ADD FOREIGN KEY (category_id) REFERENCES categories;";
    db.client()
        .await
        .batch_execute(sql_path)
        .await
        .expect("schema");
    for target in ["public.products", "public.products2"] {
        let spec = db
            .write("warn.toml", warn_spec.replace("public.products", target))
            .display()
            .to_string();
        let out = airlock(&db, &["run", &spec, &file, "--yes", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ran = json(&out);
        assert_eq!(
            (ran["rows"]["good"].as_i64(), ran["rows"]["warned"].as_i64()),
            (Some(12), Some(2)),
            "{target}: {ran}"
        );
        let table = target.trim_start_matches("public.");
        let got: Vec<(String, Option<i32>)> = db
            .client()
            .await
            .query(
                &format!("SELECT sku, category_id FROM {table} WHERE sku IN ('SKU-0000302', 'SKU-0000303') ORDER BY 1"),
                &[],
            )
            .await
            .expect("rows")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            got,
            [
                ("SKU-0000302".to_string(), None),
                ("SKU-0000303".to_string(), None)
            ],
            "{target}"
        );
    }
    // A NOT NULL column cannot take a row without its value.
    db.client()
        .await
        .batch_execute(
            "DELETE FROM products WHERE category_id IS NULL; \
             ALTER TABLE products ALTER COLUMN category_id SET NOT NULL",
        )
        .await
        .expect("not null");
    let spec = db
        .write("warn.toml", warn_spec.clone())
        .display()
        .to_string();
    let out = airlock(&db, &["check", &spec, &file]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("columns.category_id.severity") && said.contains("is NOT NULL"),
        "{said}"
    );
    let loud = db
        .write("loud.toml", warn_spec.replace("\"warn\"", "\"loud\""))
        .display()
        .to_string();
    let said = String::from_utf8_lossy(&airlock(&db, &["check", &loud, &file]).stderr).into_owned();
    assert!(said.contains("`loud` is not a severity"), "{said}");
}
