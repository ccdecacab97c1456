//! Whatever the bytes, memory stays bounded and the batch records exactly what was read: a
//! record or header past its cap fails the load with its line, a device is refused, a pipe
//! streams, and a file that changes while it is read is never validated.
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{PRODUCTS_SPEC, TestDb};

fn spec_with(db: &TestDb, source: &str) -> PathBuf {
    db.write(
        "feed.toml",
        PRODUCTS_SPEC.replace("[columns]", &format!("[source]\n{source}\n[columns]")),
    )
}

/// A FIFO in the test's directory, fed by `write` on a thread of its own until the reader
/// goes away.
fn fifo(db: &TestDb, name: &str, write: impl FnOnce(std::fs::File) + Send + 'static) -> PathBuf {
    let path = db.dir.path().join(name);
    let made = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
    assert!(made.success());
    let writer = path.clone();
    std::thread::spawn(move || {
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(writer) {
            write(f);
        }
    });
    path
}

/// A header, then `byte` without end.
fn endless(byte: u8) -> impl FnOnce(std::fs::File) + Send + 'static {
    move |mut f| {
        let _ = f.write_all(b"sku,name,price,category\n");
        let chunk = vec![byte; 1 << 16];
        while f.write_all(&chunk).is_ok() {}
    }
}

#[tokio::test]
async fn a_record_or_header_past_its_cap_fails_the_load_with_its_line() {
    let db = TestDb::with_catalog().await;
    let before = db.table_hash("products").await;
    let capped = spec_with(&db, "max_record_bytes = 1000000\nmax_header_bytes = 4096");
    let mut unclosed =
        b"sku,name,price,category\nSKU-0000201,ok,1.00,Tools\n\nSKU-0000202,\"open quote".to_vec();
    unclosed.extend(std::iter::repeat_n(b'x', 3_000_000));
    unclosed.extend_from_slice(b"\",2.00,Tools\n");
    let mut no_line_ends = b"sku,name,price,category\n".to_vec();
    no_line_ends.extend(std::iter::repeat_n(b'y', 5_000_000));
    let mut wide_header = vec![b'h'; 10_000];
    wide_header.extend_from_slice(b"\nSKU-0000201,ok,1.00,Tools\n");
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("unclosed.csv", unclosed, "record at line 4"),
        ("no-line-ends.csv", no_line_ends, "record at line 2"),
        ("wide-header.csv", wide_header, "header at line 1"),
    ];
    for (name, bytes, at) in cases {
        let file = db.write(name, &bytes);
        let err = db.check(&capped, &file).await.expect_err(name).to_string();
        assert!(err.contains(at), "{name}: {err}");
        assert!(err.contains("exceeds"), "{name}: {err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
        if at.starts_with("record") {
            let (state, error) = db.last_batch().await;
            assert_eq!(state, "load_failed", "{name}");
            assert!(error.contains(at), "{error}");
        }
    }
    // Under the cap, the same shapes load.
    let mut big = b"sku,name,price,category\nSKU-0000201,\"".to_vec();
    big.extend(std::iter::repeat_n(b'z', 900_000));
    big.extend_from_slice(b"\",1.00,Tools\n");
    let file = db.write("under.csv", &big);
    let id = db.check(&capped, &file).await.expect("under the cap");
    assert_eq!(db.summary(id).await.rows.good, 1);
    // A cap of zero is a spec error.
    let zero = spec_with(&db, "max_record_bytes = 0");
    let err = db.check(&zero, &file).await.expect_err("zero").to_string();
    assert!(err.contains("source.max_record_bytes"), "{err}");
    assert_eq!(db.table_hash("products").await, before);
}

#[tokio::test]
async fn devices_are_refused_and_pipes_stream_with_bounded_memory() {
    let db = TestDb::with_catalog().await;
    let spec = spec_with(&db, "max_record_bytes = 1000000");
    for device in ["/dev/zero", "/dev/urandom", "/dev/null"] {
        let err = db
            .check(&spec, Path::new(device))
            .await
            .expect_err(device)
            .to_string();
        assert!(err.contains("is a character device, not a file"), "{err}");
    }
    // A directory is the parts of one feed (tests/parts.rs); one without any is refused.
    let empty = db.dir.path().join("empty");
    std::fs::create_dir(&empty).expect("dir");
    let err = db.check(&spec, &empty).await.expect_err("dir");
    assert!(err.to_string().contains("holds no file to read"), "{err}");
    // Endless bytes down a pipe: zeros (NUL, no line end), and one long line of text.
    for byte in [0u8, b'q'] {
        let pipe = fifo(&db, &format!("endless-{byte}"), endless(byte));
        let err = db
            .check(&spec, &pipe)
            .await
            .expect_err("endless")
            .to_string();
        assert!(err.contains("exceeds 1,000,000 bytes"), "{err}");
    }
    // A real feed down a pipe streams like a file; the review cannot read it back.
    let feed =
        b"sku,name,price,category\nSKU-0000201,piped,1.00,Tools\nSKU-0000202,piped,N/A,Tools\n";
    let pipe = fifo(&db, "feed", |mut f| {
        let _ = f.write_all(feed);
    });
    let spec = spec_with(&db, "");
    let id = db.check(&spec, &pipe).await.expect("a pipe streams");
    let s = db.summary(id).await;
    assert_eq!((s.rows.total, s.rows.good, s.rows.quarantined), (2, 1, 1));
    assert_eq!(s.file.size, Some(feed.len() as i64));
    let client = db.client().await;
    let text = tokio::time::timeout(
        Duration::from_secs(5),
        airlock::review::source_text(&client, id, 2),
    )
    .await
    .expect("never waits on the pipe")
    .expect("source text");
    assert_eq!(text, None);
}

/// The binary's peak memory on an endless line down a pipe, under the default cap.
#[tokio::test]
async fn the_default_cap_bounds_memory() {
    let db = TestDb::with_catalog().await;
    let spec = spec_with(&db, "");
    let pipe = fifo(&db, "endless", endless(0));
    let out = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kb=%M", env!("CARGO_BIN_EXE_airlock"), "check"])
        .arg(&spec)
        .arg(&pipe)
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("record at line 2"), "{stderr}");
    let kb: u64 = stderr
        .rsplit("maxrss_kb=")
        .next()
        .and_then(|s| s.trim().parse().ok())
        .expect("maxrss");
    // The 128 MiB record cap stops it: the parser's record and the reader's window, no more.
    eprintln!("peak RSS on an endless record: {kb} kB");
    assert!(kb < 600 * 1024, "peak RSS {kb} kB: {stderr}");
}

/// Rows of a feed big enough that a check is still reading when the file is changed.
fn big_feed(rows: usize) -> Vec<u8> {
    let mut out = b"sku,name,price,category\n".to_vec();
    for i in 0..rows {
        out.extend_from_slice(
            format!(
                "SKU-{:07},Catalog item {i} with a longer name,{}.25,Tools\n",
                i + 1,
                i % 900
            )
            .as_bytes(),
        );
    }
    out
}

#[tokio::test]
async fn a_file_changed_while_it_is_read_is_never_validated() {
    let db = TestDb::with_catalog().await;
    let spec = db.write(
        "feed.toml",
        format!("{PRODUCTS_SPEC}\n[policy]\nmax_bad_fraction = 1\n"),
    );
    let before = db.table_hash("products").await;
    let feed = big_feed(400_000);
    type Change = fn(&Path, &[u8]);
    let changes: [(&str, Change); 4] = [
        ("truncated", |p, _| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .expect("open");
            f.set_len(1_000_000).expect("truncate");
        }),
        ("appended", |p, _| {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(p)
                .expect("open");
            f.write_all(b"SKU-9999999,late,1.00,Tools\n")
                .expect("append");
        }),
        ("rewritten in place", |p, bytes| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .expect("open");
            let mut changed = bytes.to_vec();
            changed[100] = b'9';
            f.write_all(&changed).expect("rewrite");
        }),
        ("replaced", |p, bytes| {
            let next = p.with_extension("next");
            std::fs::write(&next, bytes).expect("write");
            std::fs::rename(&next, p).expect("rename");
        }),
    ];
    for (what, change) in changes {
        let file = db.write(&format!("{}.csv", what.replace(' ', "-")), &feed);
        let control = airlock::pipeline::CheckControl::default();
        let watch = control.clone();
        let bytes = feed.clone();
        let path = file.clone();
        let changer = tokio::spawn(async move {
            // As soon as the reader is under way.
            loop {
                let progress = watch.progress.lock().ok().and_then(|p| p.clone());
                if progress.is_some_and(|p| p.bytes() > 0) {
                    break;
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            change(&path, &bytes);
        });
        let result = db.check_with(&spec, &file, &control).await;
        changer.await.expect("changer");
        let err = result.expect_err(what).to_string();
        assert!(
            err.contains("the file changed while it was read"),
            "{what}: {err}"
        );
        let (state, error) = db.last_batch().await;
        assert_eq!(state, "load_failed", "{what}");
        assert!(error.contains("changed while it was read"), "{error}");
        watch_stopped(&control);
    }
    assert_eq!(db.table_hash("products").await, before);
    // Unchanged, the same file is validated and the batch records what was read.
    let file = db.write("steady.csv", &feed);
    let id = db.check(&spec, &file).await.expect("steady");
    let s = db.summary(id).await;
    assert_eq!(s.file.size, Some(feed.len() as i64));
    assert_eq!(s.rows.total, 400_000);
}

fn watch_stopped(control: &airlock::pipeline::CheckControl) {
    assert!(!control.cancel.load(Ordering::Relaxed));
}
