//! What the commands print: a reader that goes away (`| head`) ends the output quietly —
//! never a panic, and a promotion whose report could not be printed is still finished and
//! says so by its exit status — and text from specs, files, notes and the database reaches
//! the terminal with its control characters escaped.
mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::{TestDb, fixture};

/// Runs the binary with stdout (or stderr) a pipe whose reader has gone: what `| head` does
/// once it has its lines. Returns the exit status and what stderr (or stdout) said.
fn with_closed(db: &TestDb, args: &[&str], close_stderr: bool) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (closed, mut open): (Box<dyn Read>, Box<dyn Read>) = if close_stderr {
        (
            Box::new(child.stderr.take().expect("stderr")),
            Box::new(child.stdout.take().expect("stdout")),
        )
    } else {
        (
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        )
    };
    drop(closed);
    let mut said = String::new();
    open.read_to_string(&mut said).expect("read");
    let status = child.wait().expect("wait");
    (status.code(), said)
}

fn airlock(db: &TestDb, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run airlock")
}

#[tokio::test]
async fn a_closed_pipe_ends_output_quietly_and_loses_no_outcome() {
    let db = TestDb::with_catalog().await;
    let spec = fixture("partner-products.toml").display().to_string();
    let broken = fixture("products-broken.csv").display().to_string();
    let id = db.check_broken().await.to_string();
    for args in [
        vec!["show", id.as_str(), "--json"],
        vec!["show", id.as_str()],
        vec!["batches"],
        vec!["batches", "--json"],
        vec!["check", spec.as_str(), broken.as_str()],
        vec!["check", spec.as_str(), broken.as_str(), "--json"],
        vec!["prune", "--older-than", "0s", "--dry-run"],
    ] {
        let (code, stderr) = with_closed(&db, &args, false);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
    }
    // An error with nobody reading stderr: still the error's status, no panic.
    let (code, stdout) = with_closed(&db, &["show", "999999"], true);
    assert_eq!(code, Some(1), "{stdout}");
    // A run whose report nobody reads still promotes, and its status says so.
    let before = db.table_hash("public.products").await;
    let (code, stderr) = with_closed(&db, &["run", &spec, &broken, "--yes"], false);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(db.table_hash("public.products").await, before);
    let out = airlock(&db, &["batches", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list[0]["state"], "promoted", "{list}");
    // And one promoted through `promote` alike.
    let next = db.check_broken().await.to_string();
    let (code, stderr) = with_closed(&db, &["promote", &next, "--yes", "--note", "n"], false);
    assert_eq!(code, Some(0), "{stderr}");
    let out = airlock(&db, &["show", &next, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["state"], "promoted");
}

#[tokio::test]
async fn control_characters_from_every_source_are_escaped() {
    let db = TestDb::with_catalog().await;
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}";
    // The feed's name (from the spec), a header and values (from the file), a note (from
    // the operator), all through the catalog.
    let spec = db.write(
        "hostile.toml",
        format!(
            "name = \"{}\"\ntarget = \"public.products\"\n[columns]\ncategory_id = {{ lookup = \"public.categories\", match = \"name\", value = \"category_id\", from = \"category\" }}\n[policy]\nmax_bad_fraction = 1\n",
            hostile
                .replace('\u{1b}', "\\u001b")
                .replace('\u{7}', "\\u0007")
                .replace('\u{9b}', "\\u009b")
                .replace('\u{202e}', "\\u202e")
        ),
    );
    let file = db.write(
        "hostile.csv",
        format!("sku,name,price,category\nSKU-0000001,{hostile},N/A{hostile},Tools\n"),
    );
    let spec = spec.display().to_string();
    let file = file.display().to_string();
    let out = airlock(&db, &["check", &spec, &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = {
        let out = airlock(&db, &["check", &spec, &file, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        // The JSON still carries the real value once parsed.
        assert!(
            v["checks"][0]["example"]["value"]
                .as_str()
                .is_some_and(|s| s.contains(hostile)),
            "{v}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains('\u{1b}'),
            "raw escape in JSON output"
        );
        v["batch"].to_string()
    };
    let note = format!("looked at {hostile}");
    let quarantine = airlock(&db, &["quarantine", &id, "--note", &note]);
    assert!(quarantine.status.success());
    let outputs = [
        out,
        airlock(&db, &["show", &id]),
        airlock(&db, &["show", &id, "--json"]),
        airlock(&db, &["batches"]),
        airlock(&db, &["batches", "--json"]),
        // An error that quotes the batch's feed: the spec's name again.
        airlock(&db, &["promote", &id, "--yes"]),
        airlock(&db, &["check", &spec, "/nonexistent/\u{1b}[2J.csv"]),
    ];
    for (i, o) in outputs.iter().enumerate() {
        for stream in [&o.stdout, &o.stderr] {
            let text = String::from_utf8_lossy(stream);
            let raw: Vec<char> = text
                .chars()
                .filter(|&c| airlock::format::needs_escape(c) && c != '\n')
                .collect();
            assert!(raw.is_empty(), "output {i} carries {raw:?} raw:\n{text}");
        }
    }
    let shown = String::from_utf8_lossy(&outputs[1].stdout);
    assert!(shown.contains("\\x1b]0;pwned\\x07"), "{shown}");
}
