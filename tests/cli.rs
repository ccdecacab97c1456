//! The command-line contract: JSON fields, exit statuses, export, abort and quarantine, and
//! production unchanged (content hash) through all of them.
mod common;

use std::process::{Command, Output};

use common::{TestDb, fixture};
use serde_json::Value;

fn airlock(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run airlock")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

fn spec() -> String {
    fixture("partner-products.toml").display().to_string()
}

#[tokio::test]
async fn check_json_contract_and_show_agree() {
    let db = TestDb::with_catalog().await;
    let broken = fixture("products-broken.csv").display().to_string();
    let out = airlock(&db, &["check", &spec(), &broken, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = json(&out);
    let id = j["batch"].as_i64().expect("batch id");
    assert_eq!(j["state"], "validated");
    assert_eq!(j["verdict"], "review");
    assert_eq!(j["breaches"], Value::Array(vec![]));
    assert_eq!(j["rows"]["total"], 300);
    assert_eq!(j["rows"]["good"], 287);
    assert_eq!(j["rows"]["quarantined"], 13);
    for k in ["insert", "update", "unchanged", "delete"] {
        assert!(j["plan"][k].is_i64(), "plan.{k} missing");
    }
    let checks = j["checks"].as_array().expect("checks");
    let type_check = checks
        .iter()
        .find(|c| c["check"] == "type" && c["column"] == "price")
        .expect("type/price");
    assert_eq!(type_check["rows"], 4);
    assert_eq!(type_check["example"]["line"], 13);
    assert_eq!(type_check["example"]["value"], "Garden");
    assert_eq!(
        type_check["example"]["message"],
        "'Garden' is not a valid number"
    );

    let shown = json(&airlock(&db, &["show", &id.to_string(), "--json"]));
    for k in [
        "batch", "state", "verdict", "breaches", "rows", "checks", "plan",
    ] {
        assert_eq!(shown[k], j[k], "show and check differ on {k}");
    }

    let human = stdout(&airlock(&db, &["check", &spec(), &broken]));
    assert!(human.contains("verdict: REVIEW"), "{human}");
    assert!(
        human.contains("line 13: 'Garden' is not a valid number"),
        "{human}"
    );
    assert!(
        human.contains("line 14: '34.50' is not in public.categories.name"),
        "{human}"
    );
}

#[tokio::test]
async fn exit_statuses() {
    let db = TestDb::with_catalog().await;
    // 3: the verdict is abort (a header-only file).
    let empty = db.write("empty.csv", "sku,name,price,category\n");
    let out = airlock(&db, &["check", &spec(), &empty.display().to_string()]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("no data rows"));
    // 2: usage.
    assert_eq!(airlock(&db, &["check"]).status.code(), Some(2));
    assert_eq!(
        airlock(&db, &["quarantine", "1"]).status.code(),
        Some(2),
        "a note is required"
    );
    // 1: errors, with a message a person can act on.
    let bad = db.write("bad.toml", "name = \"x\"\ntarget = \"public.nope\"\n");
    let out = airlock(
        &db,
        &[
            "check",
            &bad.display().to_string(),
            &empty.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("key `target`: table `public.nope` not found"),
        "{}",
        stderr(&out)
    );
    // A missing file says so once (the OS's words are not repeated).
    let out = airlock(&db, &["check", &spec(), "/nonexistent/feed.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).matches("No such file or directory").count(),
        1,
        "{}",
        stderr(&out)
    );
    let out = airlock(&db, &["show", "999"]);
    assert_eq!(out.status.code(), Some(1));
    // Which database was asked: the batch may be in another.
    assert!(
        stderr(&out).contains(&format!("batch 999 not found in database {}", db.name)),
        "{}",
        stderr(&out)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["batches"])
        .env(
            "DATABASE_URL",
            "host=127.0.0.1 port=1 user=nobody password=s3cret dbname=x",
        )
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot connect to PostgreSQL at 127.0.0.1:1"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("s3cret"), "the password leaked");
}

#[tokio::test]
async fn export_abort_quarantine_leave_production_unchanged() {
    let db = TestDb::with_catalog().await;
    let before = db.table_hash("products").await;
    let broken = fixture("products-broken.csv").display().to_string();
    let id = json(&airlock(&db, &["check", &spec(), &broken, "--json"]))["batch"]
        .as_i64()
        .expect("id")
        .to_string();

    let out_csv = db.dir.path().join("bad rows.csv");
    let out = airlock(
        &db,
        &[
            "export",
            &id,
            "--quarantined",
            &out_csv.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("wrote 14 problem rows"),
        "{}",
        stdout(&out)
    );
    let mut reader = csv::Reader::from_path(&out_csv).expect("export csv");
    assert_eq!(
        reader
            .headers()
            .expect("headers")
            .iter()
            .collect::<Vec<_>>(),
        vec![
            "line", "column", "check", "value", "message", "sku", "name", "price", "category"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 14);
    assert_eq!(
        rows[3].iter().collect::<Vec<_>>(),
        vec![
            "23",
            "price",
            "type",
            "N/A",
            "'N/A' is not a valid number",
            "SKU-0000071",
            "Catalog item 71",
            "N/A",
            "Garden"
        ]
    );
    let ragged = rows
        .iter()
        .find(|r| &r[2] == "columns")
        .expect("ragged row");
    assert_eq!(
        (&ragged[0], &ragged[5], &ragged[8]),
        ("93", "SKU-0000141", "")
    );
    assert_eq!(db.table_hash("products").await, before);

    let out = airlock(
        &db,
        &["quarantine", &id, "--note", "partner asked to resend"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(db.table_hash("products").await, before);
    let shown = json(&airlock(&db, &["show", &id, "--json"]));
    assert_eq!(shown["state"], "quarantined");
    assert_eq!(shown["decisions"][0]["decision"], "quarantine");
    assert_eq!(shown["decisions"][0]["note"], "partner asked to resend");

    let out = airlock(
        &db,
        &["abort", &id, "--note", "resent file will replace it"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = json(&airlock(&db, &["show", &id, "--json"]));
    assert_eq!(shown["state"], "aborted");
    assert_eq!(shown["decisions"][1]["decision"], "abort");
    assert_eq!(db.table_hash("products").await, before);

    // An aborted batch cannot be quarantined again; the audit log cannot be rewritten.
    let out = airlock(&db, &["quarantine", &id, "--note", "again"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is aborted; quarantine needs a batch that is validated"),
        "{}",
        stderr(&out)
    );
    let tamper = db
        .client()
        .await
        .execute("DELETE FROM airlock.decisions", &[])
        .await;
    assert!(tamper.is_err(), "decisions must be append-only");

    let list = json(&airlock(&db, &["batches", "--json"]));
    assert_eq!(list[0]["batch"].to_string(), id);
    assert_eq!(list[0]["state"], "aborted");
    assert!(list[0]["staging_bytes"].as_i64().expect("bytes") > 0);
    let human = stdout(&airlock(&db, &["batches"]));
    assert!(
        human.contains("partner-products") && human.contains("aborted"),
        "{human}"
    );
}

#[tokio::test]
async fn drop_and_prune_clean_up_leftovers() {
    let db = TestDb::with_catalog().await;
    let broken = fixture("products-broken.csv").display().to_string();
    let before = db.table_hash("products").await;
    let id = json(&airlock(&db, &["check", &spec(), &broken, "--json"]))["batch"].to_string();
    let exists = |t: String| {
        let client = db.client();
        async move {
            client
                .await
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t])
                .await
                .expect("regclass")
                .get::<_, bool>(0)
        }
    };
    assert!(exists(format!("airlock_stage.batch_{id}")).await);
    assert_eq!(
        airlock(&db, &["drop", &id]).status.code(),
        Some(2),
        "drop needs --yes"
    );
    let out = airlock(&db, &["drop", &id, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!exists(format!("airlock_stage.batch_{id}")).await);
    assert!(!exists(format!("airlock_stage.batch_{id}_issues")).await);
    let shown = json(&airlock(&db, &["show", &id, "--json"]));
    assert_eq!(shown["state"], "aborted");
    assert_eq!(shown["decisions"][0]["note"], "staging dropped");
    assert_eq!(db.table_hash("products").await, before);

    // A swap kept the table it replaced: prune drops staging but keeps that for undo.
    let swap = db.write(
        "swap.toml",
        std::fs::read_to_string(fixture("partner-products.toml"))
            .expect("spec")
            .replace("mode   = \"upsert\"", "mode   = \"swap\"")
            + "max_count_change = 10.0\n",
    );
    let out = airlock(
        &db,
        &[
            "run",
            &swap.display().to_string(),
            &broken,
            "--yes",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let swapped = json(&out)["batch"].to_string();
    let other = json(&airlock(&db, &["check", &spec(), &broken, "--json"]))["batch"].to_string();
    let listed = stdout(&airlock(&db, &["prune", "--older-than", "1h"]));
    assert!(listed.contains("nothing older than 1h"), "{listed}");
    let dry = stdout(&airlock(&db, &["prune", "--older-than", "0s", "--dry-run"]));
    assert!(
        dry.contains(&format!(
            "batch {swapped}: would drop batch_{swapped}_records, batch_{swapped}, batch_{swapped}_issues, batch_{swapped}_rows ("
        )),
        "{dry}"
    );
    assert!(
        dry.contains(&format!("kept batch_{swapped}_previous (")),
        "{dry}"
    );
    assert!(
        dry.contains(
            " kB) for undo (the latest promotion into public.products; --undo drops it too)"
        ),
        "{dry}"
    );
    assert!(
        dry.contains(&format!(
            "batch {other}: would drop batch_{other}_records, batch_{other}, "
        )),
        "{dry}"
    );
    assert!(exists(format!("airlock_stage.batch_{other}")).await);
    let out = airlock(&db, &["prune", "--older-than", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!exists(format!("airlock_stage.batch_{other}")).await);
    assert!(!exists(format!("airlock_stage.batch_{swapped}_rows")).await);
    assert!(
        exists(format!("airlock_stage.batch_{swapped}_previous")).await,
        "kept for undo"
    );
    assert_eq!(
        json(&airlock(&db, &["show", &swapped, "--json"]))["state"],
        "promoted"
    );
    let out = airlock(&db, &["undo", &swapped]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        db.table_hash("products").await,
        before,
        "undo still works after a prune"
    );

    // An upsert keeps its undo data through a prune; `--undo` drops it, and undo then says
    // there is nothing to undo with.
    let out = airlock(&db, &["run", &spec(), &broken, "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let upserted = json(&out)["batch"].to_string();
    let pruned = stdout(&airlock(&db, &["prune", "--older-than", "0s"]));
    assert!(
        pruned.contains(&format!("kept batch_{upserted}_undo (")),
        "{pruned}"
    );
    assert!(exists(format!("airlock_stage.batch_{upserted}_undo")).await);
    let shown = stdout(&airlock(&db, &["show", &upserted]));
    assert!(
        shown.contains(&format!(
            "Kept for undo: \"airlock_stage\".\"batch_{upserted}_undo\""
        )),
        "{shown}"
    );
    let pruned = stdout(&airlock(&db, &["prune", "--older-than", "0s", "--undo"]));
    assert!(
        pruned.contains(&format!(
            "batch {upserted}: dropped batch_{upserted}_undo ("
        )),
        "{pruned}"
    );
    let out = airlock(&db, &["undo", &upserted]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kept no undo data"),
        "{}",
        stderr(&out)
    );

    // An older promotion's undo data can no longer be used (undo takes back the latest
    // only): prune drops it without `--undo`, as its dry run said, and keeps the latest's.
    let upsert =
        || json(&airlock(&db, &["run", &spec(), &broken, "--yes", "--json"]))["batch"].to_string();
    let (older, latest) = (upsert(), upsert());
    let line = |said: &str, id: &str| {
        said.lines()
            .find(|l| l.starts_with(&format!("batch {id}: ")))
            .unwrap_or_default()
            .to_string()
    };
    let dry = stdout(&airlock(&db, &["prune", "--older-than", "0s", "--dry-run"]));
    assert!(
        line(&dry, &older).contains(&format!(" would drop batch_{older}_records, "))
            && line(&dry, &older).contains(&format!(", batch_{older}_undo (")),
        "{dry}"
    );
    let pruned = stdout(&airlock(&db, &["prune", "--older-than", "0s"]));
    assert!(
        line(&pruned, &older).contains(&format!(", batch_{older}_undo (")),
        "{pruned}"
    );
    assert!(
        line(&pruned, &latest).contains(&format!("kept batch_{latest}_undo (")),
        "{pruned}"
    );
    assert!(!exists(format!("airlock_stage.batch_{older}_undo")).await);
    assert!(exists(format!("airlock_stage.batch_{latest}_undo")).await);
}

#[tokio::test]
async fn commands_close_their_connections_cleanly() {
    let db = TestDb::with_catalog().await;
    let client = db.client().await;
    // (sessions ended, of which abandoned: the client vanished without saying goodbye)
    let sessions = || async {
        client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .expect("clear");
        let row = client
            .query_one(
                "SELECT sessions, sessions_abandoned FROM pg_stat_database \
                 WHERE datname = current_database()",
                &[],
            )
            .await
            .expect("stats");
        (row.get::<_, i64>(0), row.get::<_, i64>(1))
    };
    let (ended_before, abandoned_before) = sessions().await;
    let broken = fixture("products-broken.csv").display().to_string();
    let out = airlock(&db, &["run", &spec(), &broken, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(airlock(&db, &["batches"]).status.code(), Some(0));
    let mut now = sessions().await;
    for _ in 0..50 {
        if now.0 >= ended_before + 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        now = sessions().await;
    }
    assert!(now.0 >= ended_before + 4, "the sessions ended: {now:?}");
    assert_eq!(now.1, abandoned_before, "no session was abandoned");
}

/// Completions and the manual page need no database, and are what their shells read.
#[test]
fn completions_and_the_manual_page() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(args)
            // Nothing answers here: these never connect.
            .env("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
            .output()
            .expect("run airlock")
    };
    let bash = run(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0), "{}", stderr(&bash));
    let script = stdout(&bash);
    assert!(script.contains("complete -F _airlock"), "{script}");
    for command in ["check", "promote", "quarantine", "init", "completions"] {
        assert!(
            script.contains(command),
            "{command} in the bash completions"
        );
    }
    // bash itself reads the script without a syntax error.
    let path = std::env::temp_dir().join(format!("airlock-completions-{}", std::process::id()));
    std::fs::write(&path, &script).expect("write");
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("bash");
    std::fs::remove_file(&path).ok();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for shell in ["zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(stdout(&out).contains("airlock"), "{shell}");
    }
    let man = run(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = stdout(&man);
    assert!(page.contains(".TH airlock 1"), "{page}");
    assert!(page.contains("Exit status: 0 success"), "{page}");
    let usage = run(&["completions", "tcsh"]);
    assert_eq!(
        usage.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// The export command `demo --print` suggests, runnable as printed (this build's binary).
fn export_hint(printed: &str) -> String {
    printed
        .lines()
        .find(|l| l.contains(" export ") && l.contains("--quarantined"))
        .expect("an export hint")
        .trim()
        .split("   ")
        .next()
        .expect("the command")
        .replacen("airlock", env!("CARGO_BIN_EXE_airlock"), 1)
}

/// `demo --print` makes its sandbox and prints commands that work as printed: they carry the
/// sandbox's connection, whatever the default database is.
#[tokio::test]
async fn the_demo_prints_commands_that_work_as_printed() {
    let db = TestDb::empty().await;
    let out = airlock(&db, &["demo", "--print"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    let export = export_hint(&printed);
    assert!(export.contains("dbname='airlock_demo'"), "{export}");
    let dir = tempfile::tempdir().expect("dir");
    let ran = Command::new("sh")
        .arg("-c")
        .arg(&export)
        .current_dir(dir.path())
        // The default database is elsewhere: the hint must not need it.
        .env(
            "DATABASE_URL",
            format!("{} dbname=no_such_database", db.url()),
        )
        .output()
        .expect("sh");
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let exported = std::fs::read_to_string(dir.path().join("bad-rows.csv")).expect("export");
    assert!(exported.starts_with("line,column,check"), "{exported}");
}

/// Quarantine is no dead end: `release` brings the batch back with a note in the audit log,
/// judged again against production as it is now (a key inserted meanwhile moves from the
/// plan's inserts to its updates or unchanged), and it can then be promoted.
#[tokio::test]
async fn a_quarantined_batch_is_released_and_judged_again() {
    let db = TestDb::with_catalog().await;
    let broken = fixture("products-broken.csv").display().to_string();
    let checked = json(&airlock(&db, &["check", &spec(), &broken, "--json"]));
    let id = checked["batch"].to_string();
    let inserts = checked["plan"]["insert"].as_i64().expect("inserts");
    let out = airlock(&db, &["release", &id, "--note", "too early"]);
    assert_eq!(out.status.code(), Some(1), "only a quarantined batch");
    assert!(stderr(&out).contains("validated"), "{}", stderr(&out));
    let out = airlock(
        &db,
        &["quarantine", &id, "--note", "partner to confirm prices"],
    );
    assert!(
        stdout(&out).contains(&format!("airlock release {id} --note")),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        airlock(&db, &["promote", &id, "--yes", "--note", "x"])
            .status
            .code(),
        Some(1),
        "a quarantined batch is not promoted"
    );
    // Production moves while the batch waits: one of the file's new keys arrives.
    db.client()
        .await
        .batch_execute(
            "INSERT INTO products SELECT 'SKU-0000101', 'Early', 1.00, 1 \
             WHERE NOT EXISTS (SELECT 1 FROM products WHERE sku = 'SKU-0000101')",
        )
        .await
        .expect("insert");
    let out = airlock(&db, &["release", &id, "--note", "partner confirmed"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "batch {id} released from quarantine: validated, verdict review; plan"
        )),
        "{}",
        stdout(&out)
    );
    let shown = json(&airlock(&db, &["show", &id, "--json"]));
    assert_eq!(shown["state"], "validated");
    assert_eq!(
        shown["plan"]["insert"].as_i64(),
        Some(inserts - 1),
        "{shown}"
    );
    let decisions: Vec<(String, String)> = shown["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .map(|d| {
            (
                d["decision"].as_str().unwrap_or("").to_string(),
                d["note"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            (
                "quarantine".to_string(),
                "partner to confirm prices".to_string()
            ),
            ("release".to_string(), "partner confirmed".to_string()),
        ]
    );
    let out = airlock(&db, &["promote", &id, "--yes", "--note", "go"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A batch whose staging was dropped cannot come back: its file must be checked again.
    let other = json(&airlock(&db, &["check", &spec(), &broken, "--json"]))["batch"].to_string();
    airlock(&db, &["quarantine", &other, "--note", "later"]);
    db.client()
        .await
        .batch_execute(&format!(
            "DROP TABLE airlock_stage.batch_{other}_rows CASCADE"
        ))
        .await
        .expect("drop rows");
    let out = airlock(&db, &["release", &other, "--note", "now"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("check the file again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        json(&airlock(&db, &["show", &other, "--json"]))["state"],
        "quarantined"
    );
}

/// With no server answering, `demo` starts a private throwaway one in a temporary directory
/// (socket only), runs on it, and removes it at the end; with `--keep` it stays, and the
/// printed commands stop and remove it.
#[test]
fn the_demo_starts_a_private_server_when_none_answers() {
    let nowhere = tempfile::tempdir().expect("dir");
    let tmp = tempfile::tempdir().expect("dir");
    let servers = |tmp: &std::path::Path| -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = [tmp, std::path::Path::new("/tmp")]
            .iter()
            .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("airlock-demo-server-"))
            })
            .collect();
        found.sort();
        found
    };
    let before = servers(tmp.path());
    let demo = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["demo", "--print"])
            .args(extra)
            .env("DATABASE_URL", format!("host={}", nowhere.path().display()))
            .env("TMPDIR", tmp.path())
            .output()
            .expect("airlock")
    };
    let out = demo(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("No PostgreSQL server answers at"),
        "{}",
        stderr(&out)
    );
    let printed = stdout(&out);
    assert!(printed.contains("13 quarantined"), "{printed}");
    assert!(printed.contains("removed now"), "{printed}");
    assert_eq!(servers(tmp.path()), before, "the private server is gone");

    let out = demo(&["--keep"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    let kept = servers(tmp.path());
    assert_eq!(kept.len(), before.len() + 1, "{printed}");
    // The printed commands work on the kept server, and the stop hint removes it.
    let export = export_hint(&printed);
    let ran = Command::new("sh")
        .arg("-c")
        .arg(&export)
        .current_dir(tmp.path())
        .output()
        .expect("sh");
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    let stop = printed.lines().last().expect("the stop hint").trim();
    let ran = Command::new("sh").arg("-c").arg(stop).output().expect("sh");
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    assert_eq!(servers(tmp.path()), before, "stopped and removed");
}

/// The review UI without a terminal (a pipe, cron, CI) says it needs one and what to run
/// instead — before touching anything: no batch is made — rather than failing to draw.
#[tokio::test]
async fn the_review_without_a_terminal_says_what_to_run_instead() {
    let db = TestDb::with_catalog().await;
    let broken = common::fixture("products-broken.csv");
    for args in [
        vec!["review", &spec(), broken.to_str().expect("path")],
        vec!["review", "--batch", "1"],
        vec!["review"],
        vec!["demo"],
    ] {
        let out = airlock(&db, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("the review UI needs a terminal"),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("`airlock check`"), "{}", stderr(&out));
    }
    let batches: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'airlock'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(batches, 0, "nothing was made");
}
