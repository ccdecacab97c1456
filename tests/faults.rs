//! Fault injection: `airlock run` killed with SIGKILL at random moments — during load,
//! validation, plan or promotion — over many trials. After every trial production is exactly
//! the old content or exactly the promoted content, the batch's state says what happened,
//! `batches` lists the leftovers, and a re-run finishes the job and then changes nothing.
//!
//! AIRLOCK_FAULT_TRIALS sets the number of trials (default 12; the soak uses hundreds).
mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TestDb, fixture};
use serde_json::Value;

/// A partner feed of `rows` products, with a bad row in about every fifty.
fn feed(rows: usize) -> String {
    let categories = ["Tools", "Garden", "Kitchen", "Toys", "Electronics"];
    let mut out = String::from("sku,name,price,category\n");
    for i in 1..=rows {
        let price = match i % 97 {
            0 => "N/A".to_string(),
            1 => "-3.00".to_string(),
            n => format!("{}.{:02}", 1 + n, i % 100),
        };
        let category = if i % 113 == 0 {
            "Gadgets"
        } else {
            categories[i % 5]
        };
        out.push_str(&format!(
            "SKU-{i:07},\"Item {i}, boxed\",{price},{category}\n"
        ));
    }
    out
}

/// xorshift: reproducible delays without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn airlock(db: &TestDb, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .output()
        .await
        .expect("run airlock")
}

/// Waits until the killed process's server backends are gone (a backend busy with a long
/// statement notices the closed connection only when it finishes).
async fn wait_for_backends(db: &TestDb) {
    let client = db.client().await;
    let start = Instant::now();
    loop {
        let n: i64 = client
            .query_one(
                // Its backends, and the batch work locks they held (released as a backend
                // exits, which can trail its leaving pg_stat_activity).
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                         AND application_name = 'airlock' AND pid <> pg_backend_pid()) \
                      + (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                         AND classid = x'41524c42'::int::oid \
                         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
                &[],
            )
            .await
            .expect("activity")
            .get(0);
        if n == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "backends of a killed run linger"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_moments_never_leaves_production_in_between() {
    let trials: usize = std::env::var("AIRLOCK_FAULT_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(12);
    let spec = fixture("partner-products.toml").display().to_string();
    let contents = feed(20_000);

    // The reference: one undisturbed run gives the promoted content and how long a run takes.
    let reference = TestDb::with_catalog().await;
    let file = reference.write("feed.csv", &contents).display().to_string();
    let old = reference.table_hash("products").await;
    let started = Instant::now();
    let out = airlock(&reference, &["run", &spec, &file, "--yes"]).await;
    let full = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let promoted = reference.table_hash("products").await;
    assert_ne!(old, promoted);

    let mut rng = Rng(0x5eed_a1b2_c3d4_e5f6);
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for trial in 0..trials {
        let db = TestDb::with_catalog().await;
        let file = db.write("feed.csv", &contents).display().to_string();
        // Anywhere from the start to a little past the end of an undisturbed run.
        let delay = full.mul_f64((rng.next() % 110) as f64 / 100.0);
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["run", &spec, &file, "--yes"])
            .env("DATABASE_URL", db.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        tokio::time::sleep(delay).await;
        let _ = child.start_kill();
        let finished = child.wait().await.expect("wait").success();
        wait_for_backends(&db).await;

        let now = db.table_hash("products").await;
        assert!(
            now == old || now == promoted,
            "trial {trial} (killed after {delay:?}): production is neither the old nor the promoted content"
        );
        let listed = airlock(&db, &["batches", "--json"]).await;
        let list: Value = serde_json::from_slice(&listed.stdout).expect("batches json");
        let states: Vec<String> = list
            .as_array()
            .expect("list")
            .iter()
            .map(|b| b["state"].as_str().unwrap_or("?").to_string())
            .collect();
        for s in &states {
            assert!(
                s != "loading" && s != "promoting",
                "trial {trial}: a dead process's batch still claims to be {s}"
            );
        }
        assert_eq!(
            states.iter().any(|s| s == "promoted"),
            now == promoted,
            "trial {trial}: the batch state {states:?} disagrees with production"
        );
        let outcome = if finished {
            "finished before the kill".to_string()
        } else {
            states
                .first()
                .cloned()
                .unwrap_or_else(|| "killed before a batch existed".into())
        };
        *outcomes.entry(outcome).or_default() += 1;

        // A re-run finishes the job; one more changes nothing.
        let out = airlock(&db, &["run", &spec, &file, "--yes", "--json"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "trial {trial}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            db.table_hash("products").await,
            promoted,
            "trial {trial}: the re-run did not finish the job"
        );
        let out = airlock(&db, &["run", &spec, &file, "--yes", "--json"]).await;
        let j: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(
            (
                j["applied"]["inserted"].as_i64(),
                j["applied"]["updated"].as_i64()
            ),
            (Some(0), Some(0))
        );
        assert_eq!(db.table_hash("products").await, promoted);
    }
    eprintln!("{trials} trials, killed at: {outcomes:?}");
    assert!(
        outcomes
            .keys()
            .filter(|k| !k.starts_with("finished"))
            .count()
            >= 2
            || trials < 6,
        "the kills should land in different phases: {outcomes:?}"
    );
}
