//! The server restarted in the middle of `airlock run`. The test runs on a PostgreSQL cluster
//! of its own (created once with pg_createcluster, on port 5499), so restarting it disturbs no
//! other test. After each restart: production is the old or the promoted content, no batch
//! claims to be loading or promoting, and a re-run finishes the job.
use std::process::Command;
use std::time::{Duration, Instant};

const CLUSTER: &str = "airlock_restart";
const PORT: &str = "5499";

fn version() -> String {
    let out = Command::new("ls")
        .arg("/etc/postgresql")
        .output()
        .expect("ls /etc/postgresql");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|v| v.parse::<u32>().ok())
        .max()
        .expect("a PostgreSQL version under /etc/postgresql")
        .to_string()
}

fn ctl(version: &str, action: &str) {
    ctl_mode(version, action, "fast");
}

/// `pg_ctlcluster` with a shutdown mode: `immediate` stops the server as a crash does, and
/// its next start runs crash recovery.
fn ctl_mode(version: &str, action: &str, mode: &str) {
    let out = Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            version,
            CLUSTER,
            action,
            "-m",
            mode,
        ])
        .output()
        .expect("pg_ctlcluster");
    // A cluster left running by an interrupted earlier run says so on stdout.
    let status = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() || status.contains("already running"),
        "pg_ctlcluster {action}: {status}"
    );
}

fn psql(sql: &str) -> String {
    let out = Command::new("su")
        .args([
            "postgres",
            "-c",
            &format!("psql -X -q -At -h /var/run/postgresql -p {PORT} -d postgres -c \"{sql}\""),
        ])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_ready() {
    let start = Instant::now();
    while !Command::new("pg_isready")
        .args(["-q", "-h", "/var/run/postgresql", "-p", PORT])
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the restarted cluster never came up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn airlock(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("airlock")
}

#[test]
fn a_server_restart_mid_run_leaves_production_whole() {
    let version = version();
    if !std::path::Path::new(&format!("/etc/postgresql/{version}/{CLUSTER}")).exists() {
        let out = Command::new("pg_createcluster")
            .args([&version, CLUSTER, "-p", PORT, "--", "--auth=trust"])
            .output()
            .expect("pg_createcluster (run the tests as root, or create the cluster once)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ctl(&version, "start");
    wait_ready();
    let schema =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/schema.sql"))
            .expect("schema");
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/partner-products.toml"
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("feed.csv");
    let mut feed = String::from("sku,name,price,category\n");
    for i in 1..=60_000 {
        feed.push_str(&format!("SKU-{i:07},Item {i},{}.50,Tools\n", 1 + i % 90));
    }
    std::fs::write(&file, feed).expect("feed");
    let file = file.display().to_string();
    let url = format!("host=/var/run/postgresql port={PORT} user=postgres dbname=restart_test");

    let mut seen = Vec::new();
    for delay_ms in [150u64, 600, 1200, 2500] {
        fresh_database(dir.path(), &schema);
        let hash = || {
            let out = Command::new("psql")
                .args([
                    "-X",
                    "-q",
                    "-At",
                    "-h",
                    "/var/run/postgresql",
                    "-p",
                    PORT,
                    "-U",
                    "postgres",
                    "-d",
                    "restart_test",
                    "-c",
                    "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM products t",
                ])
                .output()
                .expect("hash");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let old = hash();
        let mut child = Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["run", spec, &file, "--yes"])
            .env("DATABASE_URL", &url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        ctl(&version, "restart");
        wait_ready();
        let finished = child.wait().expect("wait").success();
        let mid = hash();
        let list = airlock(&url, &["batches", "--json"]);
        assert_eq!(
            list.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&list.stderr)
        );
        let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
        let states: Vec<String> = list
            .as_array()
            .expect("array")
            .iter()
            .map(|b| b["state"].as_str().unwrap_or("?").to_string())
            .collect();
        assert!(
            !states.iter().any(|s| s == "loading" || s == "promoting"),
            "after a restart: {states:?}"
        );
        let promoted = states.iter().any(|s| s == "promoted");
        assert_eq!(
            promoted,
            mid != old,
            "production and batch states disagree: {states:?}"
        );

        let out = airlock(&url, &["run", spec, &file, "--yes"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "re-run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let done = hash();
        if promoted {
            assert_eq!(done, mid, "a re-run after a promotion changes nothing");
        }
        assert_ne!(done, old, "the re-run finished the job");
        seen.push(format!(
            "{delay_ms} ms: {} {states:?}",
            if finished { "finished" } else { "interrupted" }
        ));
    }
    eprintln!("restarts: {seen:?}");
    a_crash_that_empties_staging_is_said(&version, &url, spec, &file, &dir, &schema);
    psql("DROP DATABASE IF EXISTS restart_test WITH (FORCE)");
    ctl(&version, "stop");
}

/// `restart_test` made anew on the test's cluster, holding the sample catalog.
fn fresh_database(dir: &std::path::Path, schema: &str) {
    psql("DROP DATABASE IF EXISTS restart_test WITH (FORCE)");
    psql("CREATE DATABASE restart_test");
    let schema_file = dir.join("schema.sql");
    std::fs::write(&schema_file, schema).expect("schema file");
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-h",
            "/var/run/postgresql",
            "-p",
            PORT,
            "-U",
            "postgres",
        ])
        .args(["-d", "restart_test", "-f"])
        .arg(&schema_file)
        .output()
        .expect("load schema");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn show(url: &str, id: &str) -> serde_json::Value {
    let out = airlock(url, &["show", id, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Crash recovery empties UNLOGGED tables, and staging is UNLOGGED: every batch whose rows
/// were there says so, none is promoted or exported from what is left, and checking the
/// file again redoes it.
fn a_crash_that_empties_staging_is_said(
    version: &str,
    url: &str,
    spec: &str,
    file: &str,
    dir: &tempfile::TempDir,
    schema: &str,
) {
    fresh_database(dir.path(), schema);
    let broken = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/products-broken.csv");
    let checked = |args: &[&str]| {
        let out = airlock(url, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    checked(&["check", spec, broken]); // 1: validated, rows quarantined
    checked(&["check", spec, broken]); // 2: quarantined below
    checked(&["quarantine", "2", "--note", "later"]);
    checked(&["run", spec, file, "--yes"]); // 3: promoted
    assert_eq!(show(url, "1")["rows"]["quarantined"], 13);
    ctl_mode(version, "stop", "immediate");
    ctl(version, "start");
    wait_ready();
    for (id, state) in [
        ("1", "load_failed"),
        ("2", "load_failed"),
        ("3", "promoted"),
    ] {
        let s = show(url, id);
        assert_eq!(s["state"], state, "batch {id}: {s}");
        assert!(s["staging_lost_at"].is_string(), "batch {id}: {s}");
        let said = format!("{} {}", s["error"], s["notes"]);
        assert!(
            said.contains("emptied by a server restart"),
            "batch {id}: {said}"
        );
    }
    let human = airlock(url, &["show", "1"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("emptied by a server restart"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
    let promote = airlock(url, &["promote", "1", "--yes", "--note", "after the crash"]);
    assert_eq!(promote.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&promote.stderr).contains("load_failed"));
    let out = dir.path().join("bad.csv");
    let export = airlock(
        url,
        &["export", "3", "--quarantined", &out.display().to_string()],
    );
    assert_eq!(export.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&export.stderr).contains("emptied by a server restart"));
    // Checking the file again redoes it (its id is not 4: sequences skip ahead after a crash).
    let out = airlock(url, &["check", spec, broken, "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (
            again["state"].as_str(),
            again["rows"]["quarantined"].as_i64()
        ),
        (Some("validated"), Some(13))
    );
    assert!(again["staging_lost_at"].is_null());
}
