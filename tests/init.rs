//! `airlock init` writes a spec that `airlock check` takes without edits on the sample it came
//! from: a gzip-compressed European export, a feed whose category is a lookup behind a
//! foreign key; and what the sample cannot decide stays commented out, for a person.
mod common;

use std::io::Write;
use std::process::Command;

use common::TestDb;

fn airlock(db: &TestDb, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run airlock")
}

/// `airlock init --target TARGET SAMPLE [-o OUT]`.
fn init(
    db: &TestDb,
    target: &str,
    sample: &std::path::Path,
    out: Option<&std::path::Path>,
) -> std::process::Output {
    let sample = sample.display().to_string();
    let mut args = vec!["init", "--target", target, &sample];
    let out = out.map(|o| o.display().to_string());
    if let Some(out) = &out {
        args.extend(["-o", out]);
    }
    airlock(db, &args)
}

/// The same, which must succeed.
fn init_ok(
    db: &TestDb,
    target: &str,
    sample: &std::path::Path,
    out: Option<&std::path::Path>,
) -> String {
    let done = init(db, target, sample, out);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    String::from_utf8_lossy(&done.stdout).into_owned()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

#[tokio::test]
async fn a_spec_from_a_european_gzip_sample_checks_without_edits() {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE orders (id int PRIMARY KEY, price numeric(10,2) NOT NULL, shipped date,
                                  at timestamp, name text)",
        )
        .await
        .expect("table");
    let mut text = String::from("id;Unit Price;shipped;at;name\n");
    for i in 1..=300 {
        text.push_str(&format!(
            "{i};{}.{:03},{:02} €;{:02}/{:02}/2026;{:02}/03/2026 14:05;Säge {i}\n",
            i,
            i % 1000,
            i % 100,
            i % 28 + 1,
            i % 12 + 1,
            i % 28 + 1
        ));
    }
    let bytes = gzip(&encoding_rs::WINDOWS_1252.encode(&text).0);
    let sample = db.write("orders-2026-03-15.csv.gz", bytes);
    let spec = db.dir.path().join("orders.toml");
    init_ok(&db, "public.orders", &sample, Some(&spec));
    let written = std::fs::read_to_string(&spec).expect("spec");
    for expected in [
        "name   = \"orders-2026-03-15\"",
        "delimiter = \";\"",
        "encoding  = \"windows-1252\"",
        "the sample is gzip data",
        "price = { from = \"Unit Price\", decimal = \",\", thousands = \".\", currency = [\"€\"] }",
        "100% of 300 sampled values have a decimal comma",
        "shipped = { date_format = \"%d/%m/%Y\" }",
        "at = { date_format = \"%d/%m/%Y %H:%M\" }",
    ] {
        assert!(
            written.contains(expected),
            "missing {expected:?} in:\n{written}"
        );
    }
    // Not overwritten.
    let again = init(&db, "public.orders", &sample, Some(&spec));
    assert_eq!(again.status.code(), Some(1));
    // The check takes it as written: every row good, numbers and dates right.
    let id = db.check(&spec, &sample).await.expect("check");
    let s = db.summary(id).await;
    assert_eq!((s.rows.total, s.rows.good), (300, 300), "{:?}", s.checks);
    let row: String = db
        .client()
        .await
        .query_one(
            &format!(
                "SELECT concat_ws('|', price, shipped, at, name) FROM airlock_stage.batch_{id}_rows WHERE id = 13"
            ),
            &[],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(row, "13013.13|2026-02-14|2026-03-14 14:05:00|Säge 13");
}

#[tokio::test]
async fn lookups_behind_foreign_keys_and_undecidable_dates() {
    let db = TestDb::with_catalog().await;
    let mut feed = String::from("sku,name,price,category\n");
    for (i, cat) in (1..=120).zip(["Tools", "Garden", "Kitchen"].iter().cycle()) {
        feed.push_str(&format!("SKU-{:07},Item {i},{i}.50,{cat}\n", i + 200));
    }
    let sample = db.write("products.csv", feed);
    let out = init(&db, "public.products", &sample, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        written.contains(
            "category_id = { lookup = \"public.categories\", match = \"name\", value = \"category_id\", from = \"category\" }"
        ),
        "{written}"
    );
    assert!(
        written.contains("3 of 3 distinct sampled `category` values are in public.categories.name"),
        "{written}"
    );
    let spec = db.write("products.toml", &written);
    let id = db.check(&spec, &sample).await.expect("check");
    assert_eq!(db.summary(id).await.rows.good, 120);

    // Every day is 12 or less: day and month cannot be told apart, so the rule is left for a
    // person, and the check says so row by row instead of guessing.
    db.client()
        .await
        .batch_execute("CREATE TABLE visits (id int PRIMARY KEY, day date)")
        .await
        .expect("table");
    let mut days = String::from("id,day\n");
    for i in 1..=40 {
        days.push_str(&format!(
            "{i},{:02}/{:02}/2026\n",
            i % 12 + 1,
            (i + 5) % 12 + 1
        ));
    }
    let sample = db.write("visits.csv", days);
    let out = init(&db, "public.visits", &sample, None);
    let written = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(written.contains("# day = { date_format = "), "{written}");
    assert!(written.contains("cannot be told apart"), "{written}");
    let spec = db.write(
        "visits.toml",
        format!("{written}\n").replace("max_bad_fraction = 0.05", "max_bad_fraction = 1"),
    );
    let id = db.check(&spec, &sample).await.expect("check");
    let s = db.summary(id).await;
    assert!(s.rows.quarantined > 30, "{:?}", s.rows);
    // A target Airlock may not write is refused.
    let out = init(&db, "airlock.decisions", &sample, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no feed may use"));
}

/// A JSON Lines sample and an Excel sample are read as such (by their names): the spec says
/// the format, and `check` takes it as written.
#[tokio::test]
async fn specs_from_json_lines_and_excel_samples_check_without_edits() {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE stock (sku text PRIMARY KEY, qty integer NOT NULL, seen date, note text)",
        )
        .await
        .expect("table");
    let mut lines = String::new();
    for i in 1..=50 {
        lines.push_str(&format!(
            "{{\"sku\": \"S-{i}\", \"qty\": {i}, \"seen\": \"2026-03-{:02}\", \"note\": null}}\n",
            i % 28 + 1
        ));
    }
    let jsonl = db.write("stock.jsonl", lines);
    let xlsx = db.dir.path().join("stock.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, name) in ["SKU", "Qty", "Seen"].iter().enumerate() {
        sheet.write_string(0, c as u16, *name).expect("header");
    }
    let date = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    for i in 1..=50u32 {
        sheet.write_string(i, 0, format!("S-{i}")).expect("sku");
        sheet.write_number(i, 1, f64::from(i)).expect("qty");
        let day =
            rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 3, (i % 28 + 1) as u8).expect("date");
        sheet
            .write_datetime_with_format(i, 2, &day, &date)
            .expect("seen");
    }
    book.save(&xlsx).expect("save");
    for (sample, format) in [(&jsonl, "jsonl"), (&xlsx, "xlsx")] {
        let spec = db.dir.path().join(format!("{format}.toml"));
        init_ok(&db, "public.stock", sample, Some(&spec));
        let written = std::fs::read_to_string(&spec).expect("spec");
        assert!(
            written.contains(&format!("format = \"{format}\"")),
            "{written}"
        );
        assert!(!written.contains("delimiter"), "{written}");
        let id = db.check(&spec, sample).await.expect("check");
        let s = db.summary(id).await;
        assert_eq!((s.rows.total, s.rows.good), (50, 50), "{format}: {written}");
    }
}
