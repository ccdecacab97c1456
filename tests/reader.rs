//! Reading files as they come: BOM, CRLF, quoting, multi-line fields, TSV, encodings, NUL
//! bytes, ragged rows, empty and header-only files, missing and extra columns. Every record
//! keeps the physical line where it starts.
mod common;

use common::{PRODUCTS_SPEC, TestDb};

async fn spec(db: &TestDb, extra: &str) -> std::path::PathBuf {
    db.write("feed.toml", format!("{PRODUCTS_SPEC}{extra}"))
}

async fn rows_table(db: &TestDb, id: i64) -> Vec<(i64, String, String)> {
    db.client()
        .await
        .query(
            &format!("SELECT __line, sku, name FROM airlock_stage.batch_{id}_rows ORDER BY __line"),
            &[],
        )
        .await
        .expect("rows")
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn bom_crlf_quotes_and_multiline_fields_keep_physical_lines() {
    let db = TestDb::with_catalog().await;
    let file = db.write(
        "feed.csv",
        "\u{feff}sku,name,price,category\r\n\
         SKU-0000201,\"Hammer, claw\",1.00,Tools\r\n\
         SKU-0000202,\"Bird feeder\r\nwith \"\"hook\"\"\r\nand pole\",2.00,Garden\r\n\
         \r\n\
         SKU-0000203,Rake,N/A,Garden\r\n\
         SKU-0000204,Spade,4.00,Garden",
    );
    let id = db.check(&spec(&db, "").await, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![(7, Some("price".into()), "type".into())],
        "the bad price is on physical line 7 (after a 3-line field and a blank line)"
    );
    let rows = rows_table(&db, id).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0], (2, "SKU-0000201".into(), "Hammer, claw".into()));
    assert_eq!(
        rows[1],
        (
            3,
            "SKU-0000202".into(),
            "Bird feeder\r\nwith \"hook\"\r\nand pole".into()
        )
    );
    assert_eq!(rows[2].0, 8);
    let s = db.summary(id).await;
    assert_eq!(s.rows.total, 4);
    assert_eq!(s.file.sha256.as_deref().map(str::len), Some(64));
}

#[tokio::test]
async fn tsv_has_no_quoting() {
    let db = TestDb::with_catalog().await;
    let file = db.write(
        "feed.tsv",
        "sku\tname\tprice\tcategory\nSKU-0000201\t\"Quoted\" name\t1.00\tTools\n",
    );
    let id = db
        .check(&spec(&db, "[source]\nformat = \"tsv\"\n").await, &file)
        .await
        .expect("check");
    assert_eq!(db.errors(id).await, vec![]);
    assert_eq!(rows_table(&db, id).await[0].2, "\"Quoted\" name");
}

#[tokio::test]
async fn invalid_utf8_and_nul_bytes_quarantine_the_row_without_mojibake() {
    let db = TestDb::with_catalog().await;
    let file = db.write(
        "feed.csv",
        b"sku,name,price,category\nSKU-0000201,caf\xe9,1.00,Tools\nSKU-0000202,nul\x00here,2.00,Tools\nSKU-0000203,ok,3.00,Tools\n",
    );
    let id = db.check(&spec(&db, "").await, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![
            (2, Some("name".into()), "encoding".into()),
            (3, Some("name".into()), "nul_byte".into())
        ]
    );
    let enc = db.messages(id, "encoding").await;
    assert!(
        enc[0].contains("invalid UTF-8 at byte 3 of the field"),
        "{}",
        enc[0]
    );
    assert!(enc[0].contains("byte offset 24"), "{}", enc[0]);
    // Staging holds no mojibake: the undecodable field and the raw record are escaped, so
    // the review shows what the file holds, never an empty value.
    let client = db.client().await;
    let raw = client
        .query(
            &format!("SELECT f2, _raw FROM airlock_stage.batch_{id} ORDER BY _ord"),
            &[],
        )
        .await
        .expect("raw");
    assert_eq!(
        raw[0].get::<_, Option<String>>(0).as_deref(),
        Some("caf\\xE9")
    );
    assert_eq!(
        raw[1].get::<_, Option<String>>(0).as_deref(),
        Some("nul\\x00here")
    );
    let page = airlock::review::quarantined_page(
        &client,
        id,
        4,
        &airlock::review::Filter::default(),
        airlock::review::PageFrom::Start,
        10,
    )
    .await
    .expect("page");
    assert_eq!(page[0].fields[1].as_deref(), Some("caf\\xE9"));
    assert_eq!(
        raw[0].get::<_, Option<String>>(1).as_deref(),
        Some("SKU-0000201,caf\\xE9,1.00,Tools")
    );
    assert_eq!(
        raw[1].get::<_, Option<String>>(1).as_deref(),
        Some("SKU-0000202,nul\\x00here,2.00,Tools")
    );
    assert_eq!(rows_table(&db, id).await.len(), 1);
}

#[tokio::test]
async fn windows_1252_is_decoded() {
    let db = TestDb::with_catalog().await;
    let file = db.write(
        "feed.csv",
        b"sku,name,price,category\nSKU-0000201,caf\xe9 \x80 cr\xe8me,1.00,Tools\n",
    );
    for label in ["windows-1252", "latin1"] {
        let id = db
            .check(
                &spec(&db, &format!("[source]\nencoding = \"{label}\"\n")).await,
                &file,
            )
            .await
            .expect("check");
        assert_eq!(db.errors(id).await, vec![]);
        assert_eq!(rows_table(&db, id).await[0].2, "café € crème");
    }
}

#[tokio::test]
async fn ragged_rows_are_quarantined_with_their_line() {
    let db = TestDb::with_catalog().await;
    let file = db.write(
        "feed.csv",
        "sku,name,price,category\nSKU-0000201,A,1.00\nSKU-0000202,B,2.00,Tools,extra\nSKU-0000203,C,3.00,Tools\n",
    );
    let id = db.check(&spec(&db, "").await, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![(2, None, "columns".into()), (3, None, "columns".into())]
    );
    let msgs = db.messages(id, "columns").await;
    assert_eq!(msgs[0], "the row has 3 fields, the header has 4");
    assert_eq!(msgs[1], "the row has 5 fields, the header has 4");
}

#[tokio::test]
async fn empty_and_header_only_files_follow_allow_empty() {
    let db = TestDb::with_catalog().await;
    for (name, contents) in [
        ("empty.csv", ""),
        ("header.csv", "sku,name,price,category\n"),
        ("bom.csv", "\u{feff}"),
    ] {
        let file = db.write(name, contents);
        let id = db.check(&spec(&db, "").await, &file).await.expect("check");
        let s = db.summary(id).await;
        assert_eq!(s.rows.total, 0, "{name}");
        assert_eq!(s.verdict.map(|v| v.as_str()), Some("abort"), "{name}");
        assert!(
            s.breaches[0].contains("no data rows"),
            "{name}: {:?}",
            s.breaches
        );
        let id = db
            .check(&spec(&db, "[policy]\nallow_empty = true\n").await, &file)
            .await
            .expect("check");
        let s = db.summary(id).await;
        assert_eq!(s.verdict.map(|v| v.as_str()), Some("clean"), "{name}");
        assert_eq!(s.plan.insert + s.plan.update + s.plan.delete, 0, "{name}");
    }
}

#[tokio::test]
async fn a_missing_required_column_stops_before_any_load() {
    let db = TestDb::with_catalog().await;
    let file = db.write("feed.csv", "sku,price,category\nSKU-0000201,1.00,Tools\n");
    let err = db
        .check(&spec(&db, "").await, &file)
        .await
        .expect_err("name is required")
        .to_string();
    assert!(err.contains("`name` (NOT NULL without a default)"), "{err}");
    assert!(
        err.starts_with(&file.display().to_string()),
        "the error names the data file: {err}"
    );
    let batches: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM airlock.batches", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(batches, 0, "nothing is loaded");
}

#[tokio::test]
async fn extra_and_hostile_header_columns_are_reported_and_kept_literally() {
    let db = TestDb::with_catalog().await;
    let hostile = "x\"; DROP TABLE products; --";
    let file = db.write(
        "feed.csv",
        format!("sku,name,price,category,colour,\"{}\"\nSKU-0000201,A,1.00,Tools,red,'); DELETE FROM products; --\n", hostile.replace('"', "\"\"")),
    );
    let before = db.table_hash("products").await;
    let id = db.check(&spec(&db, "").await, &file).await.expect("check");
    let s = db.summary(id).await;
    assert_eq!(s.verdict.map(|v| v.as_str()), Some("clean"));
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("`colour`") && n.contains(hostile)),
        "{:?}",
        s.notes
    );
    let value: String = db
        .client()
        .await
        .query_one(
            &format!("SELECT __f6 FROM airlock_stage.batch_{id}_rows"),
            &[],
        )
        .await
        .expect("staged")
        .get(0);
    assert_eq!(value, "'); DELETE FROM products; --");
    assert_eq!(db.table_hash("products").await, before);
}

#[tokio::test]
async fn duplicated_header_columns_are_refused() {
    let db = TestDb::with_catalog().await;
    let file = db.write(
        "feed.csv",
        "sku,name,price,price,category\nSKU-0000201,A,1,2,Tools\n",
    );
    let err = db
        .check(&spec(&db, "").await, &file)
        .await
        .expect_err("ambiguous")
        .to_string();
    assert!(
        err.contains("`price` appears 2 times in the header (columns 3, 4)"),
        "{err}"
    );
}

/// As in PostgreSQL's COPY, a NULL marker matches an unquoted field only: `,,` is NULL, `,"",`
/// an empty string, and a quoted `"N/A"` is the text N/A even where N/A means NULL.
#[tokio::test]
async fn a_quoted_field_is_never_a_null_marker() {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL, extra text)")
        .await
        .expect("table");
    let spec = db.write(
        "notes.toml",
        "name = \"notes\"\ntarget = \"public.notes\"\n[source]\nnull = [\"\", \"N/A\"]\n[policy]\nmax_bad_fraction = 1\n",
    );
    let file = db.write(
        "notes.csv",
        "id,body,extra\n1,\"\",\n2,,\"\"\n3,\"N/A\",N/A\n4,\"a,\"\"b\"\"\",\"N/A\"\n5,N/A,x\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![
            (3, Some("body".into()), "not_null".into()),
            (6, Some("body".into()), "not_null".into()),
        ]
    );
    let rows: Vec<String> = db
        .client()
        .await
        .query(
            &format!(
                "SELECT concat_ws('|', id, quote_nullable(body), quote_nullable(extra)) \
                 FROM airlock_stage.batch_{id}_rows ORDER BY id"
            ),
            &[],
        )
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, vec!["1|''|NULL", "3|'N/A'|NULL", "4|'a,\"b\"'|'N/A'"]);
    // TSV has no quoting: a quote is a character there, and the markers match as written.
    let tsv = db.write(
        "notes.toml",
        "name = \"notes\"\ntarget = \"public.notes\"\n[source]\nformat = \"tsv\"\nnull = [\"\"]\n",
    );
    let file = db.write("notes.tsv", "id\tbody\textra\n1\t\"\"\t\n");
    let id = db.check(&tsv, &file).await.expect("tsv");
    assert_eq!(db.summary(id).await.rows.good, 1);
}
