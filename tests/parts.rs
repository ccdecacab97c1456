//! A feed in several files — a directory or a quoted glob — is one batch: parts in name
//! order, every position naming its file and line, a key in two parts a duplicate like any
//! other, a part whose header differs refused before anything is loaded, empty parts said.
mod common;

use std::io::Write;

use common::{PRODUCTS_SPEC, TestDb};

const HEADER: &str = "sku,name,price,category\n";

fn part(rows: &[&str]) -> String {
    let mut text = HEADER.to_string();
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    text
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// Three parts in a directory; SKU-0000201 is in the first and the third.
fn three_parts(db: &TestDb) -> (std::path::PathBuf, Vec<Vec<u8>>) {
    let dir = db.write("drop", "").with_file_name("drop");
    std::fs::remove_file(&dir).ok();
    std::fs::create_dir(&dir).expect("dir");
    let parts = vec![
        part(&["SKU-0000201,One,1.00,Tools", "SKU-0000202,Two,2.00,Garden"]).into_bytes(),
        part(&[
            "SKU-0000203,Three,N/A,Garden",
            "SKU-0000204,Four,4.00,Kitchen",
            "SKU-0000205,\"Five,\nwith a line break\",5.00,Toys",
        ])
        .into_bytes(),
        part(&[
            "SKU-0000206,Six,6.00,Toys",
            "SKU-0000201,One again,1.50,Tools",
        ])
        .into_bytes(),
    ];
    // Names sort by their numbers: part-2 comes before part-10.
    for (name, bytes) in ["part-1.csv", "part-2.csv", "part-10.csv"]
        .iter()
        .zip(&parts)
    {
        std::fs::write(dir.join(name), bytes).expect("part");
    }
    // Not parts: a hidden file and a marker.
    std::fs::write(dir.join(".partial"), "garbage").expect("hidden");
    std::fs::write(dir.join("_SUCCESS"), "").expect("marker");
    (dir, parts)
}

#[tokio::test]
async fn a_directory_is_one_batch_with_file_and_line_positions() {
    let db = TestDb::with_catalog().await;
    let spec = db.write("feed.toml", PRODUCTS_SPEC);
    let (dir, parts) = three_parts(&db);
    let id = db.check(&spec, &dir).await.expect("check");
    let s = db.summary(id).await;
    assert_eq!(s.rows.total, 7);
    let names: Vec<&str> = s.file.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["part-1.csv", "part-2.csv", "part-10.csv"]);
    let records: Vec<u64> = s.file.parts.iter().map(|p| p.records).collect();
    assert_eq!(records, [2, 3, 2]);
    for (p, bytes) in s.file.parts.iter().zip(&parts) {
        assert_eq!(p.size, bytes.len() as u64, "{}", p.name);
        assert_eq!(p.sha256, sha256(bytes), "{}", p.name);
    }
    assert_eq!(
        s.file.size,
        Some(parts.iter().map(|p| p.len() as i64).sum::<i64>())
    );
    // The batch's digest is that of its parts' digests, one per line.
    let listing: String = parts.iter().map(|p| format!("{}\n", sha256(p))).collect();
    assert_eq!(
        s.file.sha256.as_deref(),
        Some(sha256(listing.as_bytes()).as_str())
    );

    // The duplicate key is in part-1.csv line 2 and part-10.csv line 3; the bad price in
    // part-2.csv line 2. Every issue's place names its file.
    let client = db.client().await;
    let filter = airlock::review::Filter::default();
    let rows = airlock::review::quarantined_page(
        &client,
        id,
        4,
        &filter,
        airlock::review::PageFrom::Start,
        50,
    )
    .await
    .expect("page");
    let places: Vec<String> = rows.iter().map(|r| r.place()).collect();
    assert_eq!(places, ["part-1.csv:2", "part-2.csv:2", "part-10.csv:3"]);
    let duplicate = s
        .checks
        .iter()
        .find(|c| c.check == "duplicate_key")
        .expect("duplicate found across parts");
    assert_eq!(duplicate.rows, 2);
    assert_eq!(duplicate.example.place(), "part-1.csv:2");
    assert!(
        duplicate
            .example
            .message
            .contains("(lines part-1.csv:2, part-10.csv:3)"),
        "{}",
        duplicate.example.message
    );
    let json = serde_json::to_value(&s).expect("json");
    let example = &json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "type")
        .expect("type check")["example"];
    assert_eq!(example["file"], "part-2.csv");
    assert_eq!(example["line"], 2);

    // The export names the file and the line in it.
    let out = dir.with_file_name("bad.csv");
    airlock::export::quarantined(&client, id, &out)
        .await
        .expect("export");
    let text = std::fs::read_to_string(&out).expect("export");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("file,line,column,check"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("part-1.csv,2,sku,duplicate_key"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("part-2.csv,2,price,type"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("part-10.csv,3,sku,duplicate_key"),
        "{}",
        lines[3]
    );

    // The row detail reads the record back from its own part.
    for r in &rows {
        let text = airlock::review::source_text(&client, id, r.ord)
            .await
            .expect("source text")
            .expect("readable");
        assert!(
            text.starts_with(r.fields[0].as_deref().unwrap_or("?")),
            "{text}"
        );
    }
    // A jump names the file and its line; a bare line is the batch's own.
    let at = airlock::review::jump_to_line(&client, id, &filter, Some("part-10.csv"), 1)
        .await
        .expect("jump");
    assert_eq!(at, Some(rows[2].ord));
    let at = airlock::review::jump_to_line(&client, id, &filter, Some("part-2.csv"), 1)
        .await
        .expect("jump");
    assert_eq!(at, Some(rows[1].ord));
    let e = airlock::review::jump_to_line(&client, id, &filter, Some("nope.csv"), 1)
        .await
        .expect_err("no such part");
    assert!(e.to_string().contains("no file named `nope.csv`"), "{e}");
    let human = airlock::report::render(&s);
    assert!(human.contains("part part-10.csv"), "{human}");
    assert!(human.contains("line part-1.csv:2"), "{human}");
}

#[tokio::test]
async fn a_glob_takes_the_matching_parts_compressed_or_not() {
    let db = TestDb::with_catalog().await;
    let spec = db.write("feed.toml", PRODUCTS_SPEC);
    let (dir, parts) = three_parts(&db);
    // The second part arrives gzipped; a file the pattern does not match is left alone.
    std::fs::remove_file(dir.join("part-2.csv")).expect("rm");
    std::fs::write(dir.join("part-2.csv.gz"), gzip(&parts[1])).expect("gz");
    std::fs::write(dir.join("notes.txt"), "not a part").expect("notes");
    let pattern = dir.join("part-*");
    let id = db.check(&spec, &pattern).await.expect("check");
    let s = db.summary(id).await;
    let names: Vec<&str> = s.file.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["part-1.csv", "part-2.csv.gz", "part-10.csv"]);
    assert_eq!(s.file.parts[1].compression, "gzip");
    assert_eq!(s.rows.total, 7);
    assert_eq!(
        db.errors(id).await.len(),
        3,
        "the same issues as the plain parts"
    );
    // A pattern matching nothing, and a directory without parts, are errors that say so.
    let none = db.check(&spec, &dir.join("nothing-*.csv")).await;
    assert!(
        none.as_ref()
            .is_err_and(|e| e.to_string().contains("no file matches")),
        "{none:?}"
    );
    let empty = dir.with_file_name("empty-drop");
    std::fs::create_dir(&empty).expect("dir");
    std::fs::write(empty.join("_SUCCESS"), "").expect("marker");
    let none = db.check(&spec, &empty).await;
    assert!(
        none.as_ref()
            .is_err_and(|e| e.to_string().contains("holds no file")),
        "{none:?}"
    );
}

#[tokio::test]
async fn a_part_whose_header_differs_is_refused_before_any_load() {
    let db = TestDb::with_catalog().await;
    let spec = db.write("feed.toml", PRODUCTS_SPEC);
    let (dir, _) = three_parts(&db);
    let cases = [
        "sku,name,unit_price,category\nSKU-0000299,X,1.00,Tools\n",
        "sku,name,price\nSKU-0000299,X,1.00\n",
        "sku,price,name,category\nSKU-0000299,1.00,X,Tools\n",
    ];
    for header in cases {
        std::fs::write(dir.join("part-10.csv"), header).expect("part");
        let e = db.check(&spec, &dir).await.expect_err("refused");
        let message = e.to_string();
        assert!(message.contains("part-10.csv"), "{message}");
        assert!(
            message.contains("differs from the first part's (part-1.csv)"),
            "{message}"
        );
        let batches: i64 = db
            .client()
            .await
            .query_one("SELECT count(*) FROM airlock.batches", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(batches, 0, "nothing was loaded: {message}");
    }
}

#[tokio::test]
async fn a_later_part_supersedes_an_earlier_one_by_name() {
    let db = TestDb::with_catalog().await;
    let spec = db.write(
        "feed.toml",
        format!("{PRODUCTS_SPEC}[policy]\nduplicate_keys = \"last\"\n"),
    );
    let (dir, _) = three_parts(&db);
    let id = db.check(&spec, &dir).await.expect("check");
    let superseded = db.messages(id, "duplicate_key").await;
    assert_eq!(
        superseded,
        [
            "superseded by line part-10.csv:3, a later row with the same key (duplicate_keys = \"last\")"
        ]
    );
}

#[tokio::test]
async fn empty_parts_are_said_and_passed_over() {
    let db = TestDb::with_catalog().await;
    let spec = db.write("feed.toml", PRODUCTS_SPEC);
    let (dir, _) = three_parts(&db);
    // An empty first part: the header comes from the next.
    std::fs::write(dir.join("part-0.csv"), "").expect("empty");
    std::fs::write(dir.join("part-5.csv"), HEADER).expect("header only");
    let id = db.check(&spec, &dir).await.expect("check");
    let s = db.summary(id).await;
    assert_eq!(s.rows.total, 7);
    assert_eq!(s.file.parts.len(), 5);
    let notes = s.notes.join("\n");
    assert!(notes.contains("part part-0.csv is empty"), "{notes}");
    assert!(notes.contains("part part-5.csv has no rows"), "{notes}");
    // Lines still name the right parts after them.
    let errors: Vec<String> = db
        .errors(id)
        .await
        .into_iter()
        .map(|(line, _, _)| {
            let map = airlock::source::parts::PartMap::new(s.file.parts.clone());
            map.locate(line).to_string()
        })
        .collect();
    assert_eq!(errors, ["part-1.csv:2", "part-2.csv:2", "part-10.csv:3"]);
}
