//! The real binary in a real terminal (tmux): load the case-study feed, browse the quarantined
//! rows, open one, approve with a note — then check production and the audit row.
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{TestDb, fixture};

/// The review of the case study's broken file, the pane kept open a while after it ends.
fn review_broken() -> String {
    format!(
        "{} review {} {}; sleep 30",
        env!("CARGO_BIN_EXE_airlock"),
        fixture("partner-products.toml").display(),
        fixture("products-broken.csv").display()
    )
}

#[tokio::test]
async fn load_browse_and_approve_in_a_terminal() {
    let db = TestDb::with_catalog().await;
    let command = review_broken();
    let tmux = Tmux::start("e2e", 100, 30, &db.url(), &command);

    let summary = tmux.wait_for("REVIEW");
    assert!(summary.contains("13 quarantined (4.3%)"), "{summary}");
    tmux.wait_for("⚠ name");

    tmux.keys(&["2"]);
    let rows = tmux.wait_for("Hedge trimmer");
    assert!(rows.contains("23     type price"), "{rows}");
    tmux.keys(&["j"]);
    tmux.keys(&["Enter"]);
    let detail = tmux.wait_for("SKU-0000062,Hedge trimmer,Garden,34.50");
    assert!(
        detail.contains("lookup category_id: '34.50' is not in public.categories.name"),
        "{detail}"
    );
    tmux.keys(&["Escape"]);

    tmux.keys(&["a"]);
    let dialog = tmux.wait_for("Approve and promote");
    assert!(
        dialog.contains("242 insert · 10 update · 35 unchanged"),
        "{dialog}"
    );
    tmux.keys(&["-l", "approved in the e2e test"]);
    tmux.keys(&["Enter"]);
    let result = tmux.wait_for("PROMOTED");
    assert!(
        result.contains("242 inserted · 10 updated · 35 unchanged"),
        "{result}"
    );
    assert!(
        result.contains("note: approved in the e2e test"),
        "{result}"
    );
    tmux.keys(&["q"]);

    let client = db.client().await;
    let products: i64 = client
        .query_one("SELECT count(*) FROM products", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(products, 342);
    let note: String = client
        .query_one(
            "SELECT note FROM airlock.decisions WHERE decision = 'approve'",
            &[],
        )
        .await
        .expect("audit row")
        .get(0);
    assert_eq!(note, "approved in the e2e test");
}

/// Quarantine is no dead end in the terminal either: `Q` sets the batch aside with a note,
/// `U` releases it with another (judged again), and it can then be approved; the audit log
/// holds all three decisions in order. At 80×24.
#[tokio::test]
async fn quarantine_release_and_approve_in_a_terminal() {
    let db = TestDb::with_catalog().await;
    let command = review_broken();
    let tmux = Tmux::start("release", 80, 24, &db.url(), &command);
    tmux.wait_for("REVIEW");
    // The frequency view of the lookup check: Enter on a value opens the rows that carry it.
    tmux.keys(&["j"]);
    tmux.keys(&["F"]);
    let values = tmux.wait_for("Values of lookup category_id");
    assert!(values.contains("'Gadgets'"), "{values}");
    tmux.keys(&["j"]);
    tmux.keys(&["Enter"]);
    let rows = tmux.wait_for("value='Gadgets'");
    assert!(rows.contains("SKU-0000081"), "{rows}");
    tmux.keys(&["1"]);
    tmux.keys(&["Q"]);
    let dialog = tmux.wait_for("Quarantine the batch");
    assert!(dialog.contains("It can be released later"), "{dialog}");
    tmux.keys(&["-l", "prices to confirm"]);
    tmux.keys(&["Enter"]);
    let set_aside = tmux.wait_for("U releases it");
    assert!(set_aside.contains("quarantined: set aside"), "{set_aside}");
    tmux.keys(&["a"]);
    tmux.wait_for("nothing to decide");
    tmux.keys(&["U"]);
    let dialog = tmux.wait_for("Release from quarantine");
    assert!(dialog.contains("judged again against"), "{dialog}");
    tmux.keys(&["-l", "partner confirmed"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("batch released");
    tmux.keys(&["a"]);
    tmux.wait_for("Approve and promote");
    tmux.keys(&["-l", "go"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("PROMOTED");
    tmux.keys(&["q"]);
    let decisions: Vec<String> = db
        .client()
        .await
        .query(
            "SELECT decision || ': ' || note FROM airlock.decisions ORDER BY id",
            &[],
        )
        .await
        .expect("audit")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        decisions,
        [
            "quarantine: prices to confirm",
            "release: partner confirmed",
            "approve: go"
        ]
    );
}

/// A headless check on a terminal draws its progress on stderr, and clears it at the end;
/// with stderr in a file, or with --quiet, it draws nothing. The file arrives down a pipe
/// in two halves, so the check is surely running while the screen is read.
#[tokio::test]
async fn a_headless_check_shows_its_progress_on_a_terminal_only() {
    let db = TestDb::with_catalog().await;
    let dir = tempfile::tempdir().expect("dir");
    let mut rows = String::from("sku,name,price,category\n");
    for i in 0..20_000 {
        rows.push_str(&format!(
            "SKU-{:07},Item {i},{}.50,Tools\n",
            200 + i,
            i % 900
        ));
    }
    let (first, second) = rows.split_at(rows.len() / 2);
    let cases = [("", ""), ("--quiet", ""), ("", "2> {dir}/stderr")];
    for (case, (quiet, redirect)) in cases.into_iter().enumerate() {
        let fifo = dir.path().join("feed.csv");
        let _ = std::fs::remove_file(&fifo);
        let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success());
        let command = format!(
            "{} check {quiet} {} {} > {}/out {}; echo CHECKED; sleep 30",
            env!("CARGO_BIN_EXE_airlock"),
            fixture("partner-products.toml").display(),
            fifo.display(),
            dir.path().display(),
            redirect.replace("{dir}", &dir.path().display().to_string()),
        );
        // A session of its own per case: a server just killed can refuse the next one.
        let tmux = Tmux::start(&format!("progress-{case}"), 120, 10, &db.url(), &command);
        let mut pipe = open_writer(&fifo, &tmux);
        use std::io::Write;
        pipe.write_all(first.as_bytes()).expect("first half");
        pipe.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(900));
        let during = tmux.screen();
        pipe.write_all(second.as_bytes()).expect("second half");
        drop(pipe);
        let after = tmux.wait_for("CHECKED");
        let drawn = during.contains("rows/s") && during.contains("reading, checking rows");
        match (quiet, redirect) {
            ("", "") => assert!(drawn, "the progress line:\n{during}"),
            _ => assert!(!drawn, "no progress with {quiet}{redirect}:\n{during}"),
        }
        assert!(
            !after.contains("rows/s"),
            "the line is cleared at the end:\n{after}"
        );
        let out = std::fs::read_to_string(dir.path().join("out")).expect("out");
        assert!(out.contains("20,000 read"), "{out}");
        if !redirect.is_empty() {
            let err = std::fs::read_to_string(dir.path().join("stderr")).expect("stderr");
            assert!(
                err.is_empty(),
                "nothing on a stderr that is a file: {err:?}"
            );
        }
    }
}

/// The pipe's writing end, once the check has opened its reading end: never a wait without
/// end (a check that did not start would leave a plain open blocked for good).
fn open_writer(fifo: &std::path::Path, tmux: &Tmux) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    /// Linux's O_NONBLOCK: opening a pipe's writing end fails (ENXIO) while nobody reads it.
    const O_NONBLOCK: i32 = 0o4000;
    let start = Instant::now();
    loop {
        let probe = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(fifo);
        if probe.is_ok() {
            // A reader is there: this open does not wait, and writes block as usual.
            return std::fs::OpenOptions::new()
                .write(true)
                .open(fifo)
                .expect("open the pipe");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the check never opened the pipe; the screen shows:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
