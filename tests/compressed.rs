//! Compressed feeds are read as their text: the same issues on the same lines as the plain
//! file, the batch fingerprinting the bytes as received, and a broken stream failing the load
//! with where it broke — never a panic, never a partial batch.
mod common;

use std::io::Write;

use common::{PRODUCTS_SPEC, TestDb, fixture};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).expect("zstd")
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(bytes).expect("bzip2");
    e.finish().expect("bzip2")
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(bytes).expect("xz");
    e.finish().expect("xz")
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn batches(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT count(*) FROM airlock.batches", &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn every_compression_reads_as_the_plain_file() {
    let db = TestDb::with_catalog().await;
    let spec = db.write("feed.toml", PRODUCTS_SPEC);
    let plain = std::fs::read(fixture("products-broken.csv")).expect("fixture");
    let baseline = db
        .check(&spec, &fixture("products-broken.csv"))
        .await
        .expect("plain");
    let expected = db.errors(baseline).await;
    assert!(expected.len() >= 10);
    let mut twice = gzip(&plain[..5000]);
    twice.extend(gzip(&plain[5000..]));
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("feed.csv.gz", gzip(&plain), "gzip"),
        ("feed.csv.zst", zstd(&plain), "zstd"),
        ("feed.csv.bz2", bzip2(&plain), "bzip2"),
        ("feed.csv.xz", xz(&plain), "xz"),
        // Two gzip members one after the other, as `cat a.gz b.gz` makes.
        ("feed-two-members.gz", twice, "gzip"),
    ];
    let client = db.client().await;
    for (name, bytes, compression) in cases {
        let file = db.write(name, &bytes);
        let id = db.check(&spec, &file).await.expect(name);
        assert_eq!(db.errors(id).await, expected, "{name}");
        let s = db.summary(id).await;
        assert_eq!(
            s.file.size,
            Some(bytes.len() as i64),
            "{name}: size as received"
        );
        assert_eq!(
            s.file.sha256.as_deref(),
            Some(sha256(&bytes).as_str()),
            "{name}"
        );
        assert_eq!(
            s.file.text_size,
            Some(plain.len() as i64),
            "{name}: text size"
        );
        assert_eq!(s.file.compression.as_deref(), Some(compression), "{name}");
        // The row detail reads each record back from the decompressed text, as from the
        // plain file.
        for ord in [1, 12, 150, 299] {
            let text = airlock::review::source_text(&client, id, ord)
                .await
                .expect("source text");
            let plain_text = airlock::review::source_text(&client, baseline, ord)
                .await
                .expect("source text");
            assert!(text.is_some(), "{name}: record {ord}");
            assert_eq!(text, plain_text, "{name}: record {ord}");
        }
    }
    // The plain file's batch said no compression, and its text is its size.
    let s = db.summary(baseline).await;
    assert_eq!(s.file.compression.as_deref(), Some("none"));
    assert_eq!(s.file.text_size, s.file.size);
}

#[tokio::test]
async fn broken_streams_fail_the_load_with_where_they_broke() {
    let db = TestDb::with_catalog().await;
    let spec = db.write("feed.toml", PRODUCTS_SPEC);
    let plain = std::fs::read(fixture("products-broken.csv")).expect("fixture");
    let before = db.table_hash("products").await;
    db.check_broken().await; // the catalog exists from here on
    let gz = gzip(&plain);
    let mut corrupt = gz.clone();
    for b in &mut corrupt[200..260] {
        *b ^= 0x5a;
    }
    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "cut.csv.gz",
            gz[..gz.len() / 2].to_vec(),
            "the gzip stream ends early at byte",
        ),
        ("corrupt.csv.gz", corrupt, "the gzip stream"),
        (
            "cut.csv.zst",
            zstd(&plain)[..300].to_vec(),
            "the zstd stream",
        ),
        (
            "cut.csv.bz2",
            bzip2(&plain)[..400].to_vec(),
            "the bzip2 stream",
        ),
        ("cut.csv.xz", xz(&plain)[..500].to_vec(), "the xz stream"),
        (
            "plain.csv.gz",
            plain.clone(),
            "the name says gzip, but the file's first bytes are not compressed",
        ),
    ];
    for (name, bytes, says) in cases {
        let file = db.write(name, &bytes);
        let made = batches(&db).await;
        let err = db.check(&spec, &file).await.expect_err(name).to_string();
        assert!(err.contains(says), "{name}: {err}");
        assert!(err.contains(&file.display().to_string()), "{name}: {err}");
        // Broken within the header: refused before a batch exists; after it: load_failed.
        if batches(&db).await > made {
            let (state, error) = db.last_batch().await;
            assert_eq!(state, "load_failed", "{name}");
            assert!(error.contains(says), "{name}: {error}");
        }
    }
    // Asked for one compression, given another.
    let asked = db.write(
        "zstd.toml",
        PRODUCTS_SPEC.replace("[columns]", "[source]\ncompression = \"zstd\"\n[columns]"),
    );
    let file = db.write("really.gz", gzip(&plain));
    let err = db
        .check(&asked, &file)
        .await
        .expect_err("mismatch")
        .to_string();
    assert!(
        err.contains("compression says zstd, but the file's first bytes are gzip data"),
        "{err}"
    );
    let unknown = db.write(
        "rar.toml",
        PRODUCTS_SPEC.replace("[columns]", "[source]\ncompression = \"rar\"\n[columns]"),
    );
    let err = db
        .check(&unknown, &file)
        .await
        .expect_err("unknown")
        .to_string();
    assert!(err.contains("source.compression"), "{err}");
    // A tiny file that inflates without end is held to the record cap like any other.
    let capped = db.write(
        "capped.toml",
        PRODUCTS_SPEC.replace(
            "[columns]",
            "[source]\nmax_record_bytes = 1000000\n[columns]",
        ),
    );
    let mut bomb = b"sku,name,price,category\n".to_vec();
    bomb.extend(std::iter::repeat_n(b'x', 30_000_000));
    let bomb = gzip(&bomb);
    assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
    let file = db.write("bomb.csv.gz", &bomb);
    let err = db
        .check(&capped, &file)
        .await
        .expect_err("bomb")
        .to_string();
    assert!(
        err.contains("record at line 2") && err.contains("exceeds"),
        "{err}"
    );
    assert_eq!(db.table_hash("products").await, before);
}

#[tokio::test]
async fn classic_mac_line_ends_count_as_lines() {
    let db = TestDb::with_catalog().await;
    let spec = db.write("feed.toml", PRODUCTS_SPEC);
    for (name, end) in [("cr.csv", "\r"), ("lf.csv", "\n"), ("crlf.csv", "\r\n")] {
        let text = [
            "sku,name,price,category",
            "SKU-0000201,one,1.00,Tools",
            "SKU-0000202,two,N/A,Tools",
            "",
            "SKU-0000203,three,oops,Tools",
        ]
        .join(end)
            + end;
        let file = db.write(name, text);
        let id = db.check(&spec, &file).await.expect(name);
        let lines: Vec<i64> = db.errors(id).await.into_iter().map(|(l, _, _)| l).collect();
        assert_eq!(lines, vec![3, 5], "{name}");
    }
}

/// UTF-16 with a byte order mark, as Excel's "Unicode text" saves it.
fn utf16(text: &str, little: bool) -> Vec<u8> {
    let mut out = if little {
        vec![0xff, 0xfe]
    } else {
        vec![0xfe, 0xff]
    };
    for unit in text.encode_utf16() {
        out.extend(if little {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    out
}

#[tokio::test]
async fn excel_unicode_text_is_read_as_its_characters() {
    let db = TestDb::with_catalog().await;
    let spec = db.write(
        "tabs.toml",
        PRODUCTS_SPEC.replace("[columns]", "[source]\nformat = \"tsv\"\n[columns]"),
    );
    let text = "sku\tname\tprice\tcategory\r\nSKU-0000201\tSäge — 10€\t1.00\tTools\r\nSKU-0000202\t🔨 Hammer\tN/A\tTools\r\n";
    for little in [true, false] {
        let bytes = utf16(text, little);
        let file = db.write("unicode.txt", &bytes);
        let id = db.check(&spec, &file).await.expect("utf-16");
        assert_eq!(
            db.errors(id).await,
            vec![(3, Some("price".into()), "type".into())]
        );
        assert_eq!(db.typed_names(id).await, vec!["Säge — 10€"]);
        let client = db.client().await;
        let back = airlock::review::source_text(&client, id, 2)
            .await
            .expect("text");
        assert_eq!(back.as_deref(), Some("SKU-0000202\t🔨 Hammer\tN/A\tTools"));
        // Compressed too.
        let file = db.write("unicode.txt.gz", gzip(&bytes));
        let id = db.check(&spec, &file).await.expect("utf-16 gzip");
        assert_eq!(db.typed_names(id).await, vec!["Säge — 10€"]);
    }
    // A lone surrogate is an error saying where, not a replacement character.
    let mut broken = utf16("sku\tname\tprice\tcategory\r\nSKU-0000201\tx", true);
    broken.extend([0x00, 0xd8, b'y', 0x00]);
    let file = db.write("broken.txt", &broken);
    let err = db
        .check(&spec, &file)
        .await
        .expect_err("malformed")
        .to_string();
    assert!(err.contains("invalid UTF-16 near byte"), "{err}");
    // A byte order mark and an encoding that contradict it.
    let cp = db.write(
        "cp.toml",
        PRODUCTS_SPEC.replace(
            "[columns]",
            "[source]\nformat = \"tsv\"\nencoding = \"windows-1252\"\n[columns]",
        ),
    );
    let file = db.write("unicode2.txt", utf16(text, true));
    let err = db
        .check(&cp, &file)
        .await
        .expect_err("contradiction")
        .to_string();
    assert!(
        err.contains(
            "the file is UTF-16LE (by its byte order mark), but [source] encoding says windows-1252"
        ),
        "{err}"
    );
}
