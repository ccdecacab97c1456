//! Least privilege: the whole flow — check, review reads, export, promote — as a role holding
//! only the grants the README lists. Nothing needs a superuser.
mod common;

use std::process::Command;

use common::{TestDb, fixture};

#[tokio::test]
async fn the_documented_grants_are_enough() {
    let db = TestDb::with_catalog().await;
    // An administrator creates the catalog once (any airlock command does it)...
    let admin = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["batches"])
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run");
    assert_eq!(
        admin.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    // ...and grants the importing role what the README lists.
    let role = format!("airlock_runner_{}", std::process::id());
    let password = "runner-password";
    db.client()
        .await
        .batch_execute(&format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                     CREATE ROLE {role} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE;
                 END IF;
             END $$;
             GRANT CONNECT ON DATABASE {db} TO {role};
             GRANT USAGE ON SCHEMA airlock TO {role};
             GRANT SELECT, INSERT, UPDATE ON airlock.batches TO {role};
             GRANT SELECT, INSERT ON airlock.decisions TO {role};
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA airlock TO {role};
             GRANT USAGE, CREATE ON SCHEMA airlock_stage TO {role};
             GRANT SELECT, INSERT, UPDATE ON public.products TO {role};
             GRANT SELECT ON public.categories TO {role};",
            db = db.name
        ))
        .await
        .expect("grants");
    let url = format!(
        "host=127.0.0.1 user={role} password={password} dbname={}",
        db.name
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(args)
            .env("DATABASE_URL", &url)
            .output()
            .expect("run")
    };
    let spec = fixture("partner-products.toml").display().to_string();
    let file = fixture("products-broken.csv").display().to_string();
    let out = run(&["check", &spec, &file, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = id["batch"].to_string();
    let export = db.dir.path().join("bad.csv");
    let out = run(&[
        "export",
        &id,
        "--quarantined",
        &export.display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["promote", &id, "--yes", "--note", "least privilege"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["show", &id, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["state"], "promoted");
    assert_eq!(shown["decisions"][0]["db_role"], role.as_str());
    let count: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM products", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 342);
    // The password never shows, even when the connection fails.
    let bad = Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["batches"])
        .env(
            "DATABASE_URL",
            format!(
                "host=127.0.0.1 user={role} password=wrong-{password} dbname={}",
                db.name
            ),
        )
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&bad.stderr);
    if bad.status.code() == Some(1) {
        assert!(!err.contains(password), "the password leaked: {err}");
    }
    // The role is cluster-wide: drop what it owns here, then the role.
    db.client()
        .await
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
        .await
        .expect("drop the role");
}
