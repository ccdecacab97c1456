//! JSON Lines feeds: keys as columns, values as the file writes them, NULL for `null` and
//! absent keys, nested values only into json/jsonb columns, and every line that is not an
//! object quarantined with its line number — never a panic, never a dropped key.
mod common;

use common::TestDb;

const SCHEMA: &str = "
CREATE TABLE events (
    id      integer PRIMARY KEY,
    kind    text NOT NULL,
    amount  numeric(10,2),
    payload jsonb,
    seen    date
);";

const SPEC: &str = r#"
name   = "events"
target = "public.events"
[source]
null = ["", "N/A"]
[policy]
max_bad_fraction = 1
"#;

async fn setup() -> (TestDb, std::path::PathBuf) {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute(SCHEMA)
        .await
        .expect("schema");
    let spec = db.write("events.toml", SPEC);
    (db, spec)
}

async fn typed(db: &TestDb, id: i64) -> Vec<(i32, String, Option<String>, Option<String>)> {
    db.client()
        .await
        .query(
            &format!(
                "SELECT id, kind, amount::text, payload::text FROM airlock_stage.batch_{id}_rows \
                 ORDER BY id"
            ),
            &[],
        )
        .await
        .expect("typed rows")
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[tokio::test]
async fn values_arrive_as_the_file_writes_them() {
    let (db, spec) = setup().await;
    let file = db.write(
        "events.jsonl",
        concat!(
            "{\"id\": 1, \"kind\": \"sale\", \"amount\": 12.30, \"payload\": {\"a\": [1, 2]}, \"seen\": \"2026-03-15\"}\n",
            "\n",
            "{\"kind\": \"refund\", \"id\": 2, \"amount\": null, \"payload\": \"text\"}\r\n",
            "{\"id\": 3, \"kind\": \"N/A\", \"amount\": \"7\", \"payload\": [true]}\n",
            "{\"id\": 4, \"kind\": \"caf\\u00e9 \\\"quoted\\\"\", \"amount\": 1e2}\n",
        ),
    );
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.errors(id).await, vec![]);
    assert_eq!(
        typed(&db, id).await,
        vec![
            (
                1,
                "sale".into(),
                Some("12.30".into()),
                Some(r#"{"a": [1, 2]}"#.into())
            ),
            // An absent key and null are NULL; a JSON string into jsonb is that string.
            (2, "refund".into(), None, Some(r#""text""#.into())),
            // A string is literal: the NULL markers of a text format do not apply to it.
            (3, "N/A".into(), Some("7.00".into()), Some("[true]".into())),
            (4, "café \"quoted\"".into(), Some("100.00".into()), None),
        ]
    );
    let s = db.summary(id).await;
    assert_eq!(s.file.format.as_deref(), Some("jsonl"));
    assert_eq!(s.rows.total, 4);
}

#[tokio::test]
async fn a_bad_line_is_quarantined_with_its_line() {
    let (db, spec) = setup().await;
    let file = db.write(
        "events.ndjson",
        concat!(
            "{\"id\": 1, \"kind\": \"sale\", \"amount\": 1}\n",
            "{\"id\": 2, \"kind\": \"sale\", \"amount\": 1\n",
            "[1, 2, 3]\n",
            "{\"id\": 4, \"kind\": {\"nested\": true}}\n",
            "{\"id\": 5, \"kind\": \"sale\", \"kind\": \"twice\"}\n",
            "{\"id\": 6, \"kind\": \"sale\", \"colour\": \"red\"}\n",
            "{\"id\": 7, \"kind\": \"sale\", \"amount\": \"12,5\"}\n",
            "\"just a string\"\n",
            "{\"id\": 9, \"kind\": \"ok\"}\n",
        ),
    );
    // `colour` is not among the first objects' keys only because the sample is small: it
    // is a key of line 6, so it is a column, not mapped to the target, and noted.
    let id = db.check(&spec, &file).await.expect("check");
    let errors: Vec<(i64, String)> = db
        .errors(id)
        .await
        .into_iter()
        .map(|(line, _, check)| (line, check))
        .collect();
    assert_eq!(
        errors,
        [
            (2, "json".to_string()),
            (3, "json".to_string()),
            (4, "json".to_string()),
            (5, "json".to_string()),
            (7, "type".to_string()),
            (8, "json".to_string()),
        ]
    );
    let messages = db.messages(id, "json").await;
    assert!(
        messages[0].starts_with("not a JSON object: EOF while parsing"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("expected a JSON object"),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].contains("goes only into a json or jsonb column"),
        "{}",
        messages[2]
    );
    assert!(messages[3].contains("appears twice"), "{}", messages[3]);
    let good: Vec<i32> = db
        .client()
        .await
        .query(
            &format!("SELECT id FROM airlock_stage.batch_{id}_rows ORDER BY id"),
            &[],
        )
        .await
        .expect("typed rows")
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(good, [1, 6, 9]);
    // The row detail shows the line as the file has it.
    let client = db.client().await;
    let text = airlock::review::source_text(&client, id, 2)
        .await
        .expect("source text");
    assert_eq!(
        text.as_deref(),
        Some("{\"id\": 2, \"kind\": \"sale\", \"amount\": 1")
    );
    let rows = airlock::review::quarantined_page(
        &client,
        id,
        s_width(&db, id).await,
        &Default::default(),
        airlock::review::PageFrom::Start,
        10,
    )
    .await
    .expect("page");
    assert_eq!(
        rows[0].raw.as_deref(),
        Some("{\"id\": 2, \"kind\": \"sale\", \"amount\": 1")
    );
}

async fn s_width(db: &TestDb, id: i64) -> usize {
    let header: serde_json::Value = db
        .client()
        .await
        .query_one("SELECT header FROM airlock.batches WHERE id = $1", &[&id])
        .await
        .expect("header")
        .get(0);
    header.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_key_past_the_sample_is_a_problem_of_its_row() {
    let (db, spec) = setup().await;
    let mut text = String::new();
    for i in 1..=1200 {
        text.push_str(&format!("{{\"id\": {i}, \"kind\": \"k\"}}\n"));
    }
    text.push_str("{\"id\": 5000, \"kind\": \"k\", \"amount\": 3}\n");
    let file = db.write("late.jsonl", text);
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![(1201, None, "columns".to_string())]
    );
    let messages = db.messages(id, "columns").await;
    assert!(messages[0].contains("`amount`"), "{}", messages[0]);
}

#[tokio::test]
async fn a_line_past_the_record_cap_fails_the_load_with_its_line() {
    let (db, _) = setup().await;
    let spec = db.write(
        "capped.toml",
        format!("{SPEC}\n").replace("[policy]", "max_record_bytes = 100000\n[policy]"),
    );
    // Among the first objects, the line is read for the columns: nothing is made.
    let mut text = String::from("{\"id\": 1, \"kind\": \"k\"}\n");
    let huge = format!("{{\"id\": 2, \"kind\": \"{}\"}}\n", "x".repeat(10 << 20));
    text.push_str(&huge);
    let file = db.write("huge.jsonl", &text);
    let e = db.check(&spec, &file).await.expect_err("too long");
    assert!(e.to_string().contains("record at line 2"), "{e}");
    // Past them, the load fails with the line, and the batch says so.
    let mut text = String::new();
    for i in 1..=1500 {
        text.push_str(&format!("{{\"id\": {i}, \"kind\": \"k\"}}\n"));
    }
    text.push_str(&huge);
    let file = db.write("huge.jsonl", &text);
    let e = db.check(&spec, &file).await.expect_err("too long");
    assert!(e.to_string().contains("record at line 1501"), "{e}");
    let (state, error) = db.last_batch().await;
    assert_eq!(state, "load_failed");
    assert!(error.contains("record at line 1501"), "{error}");
}

#[tokio::test]
async fn keys_that_do_not_apply_to_json_lines_are_refused() {
    let (db, _) = setup().await;
    let file = db.write("e.jsonl", "{\"id\": 1, \"kind\": \"k\"}\n");
    for (key, value) in [
        ("delimiter", "\";\""),
        ("encoding", "\"windows-1252\""),
        ("sheet", "\"S\""),
    ] {
        let spec = db.write(
            "bad.toml",
            SPEC.replace("[source]", &format!("[source]\n{key} = {value}")),
        );
        let e = db.check(&spec, &file).await.expect_err(key);
        assert!(e.to_string().contains(&format!("source.{key}")), "{e}");
        assert!(e.to_string().contains("jsonl"), "{e}");
    }
}
