//! TLS against the local server, which Debian sets up with a self-signed ("snakeoil")
//! certificate for `localhost`: each sslmode does what libpq users expect.
mod common;

use airlock::db::{self, ConnectTarget};
use common::TestDb;

const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// Whether the session is encrypted, or the connection error.
async fn encrypted(conn: &str) -> Result<bool, String> {
    let target = ConnectTarget::resolve(Some(conn)).map_err(|e| e.to_string())?;
    let client = db::connect(&target).await.map_err(|e| e.to_string())?;
    Ok(client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?
        .get(0))
}

#[tokio::test]
async fn sslmodes_against_a_self_signed_server() {
    let db = TestDb::empty().await;
    let admin = db.client().await;
    let ssl: String = admin
        .query_one("SHOW ssl", &[])
        .await
        .expect("show ssl")
        .get(0);
    assert_eq!(
        ssl, "on",
        "the test server must offer TLS (Debian's default, with the snakeoil certificate)"
    );
    assert!(
        std::path::Path::new(SNAKEOIL).exists(),
        "{SNAKEOIL} is missing"
    );
    let user = db
        .target
        .config()
        .get_user()
        .unwrap_or("postgres")
        .to_string();
    let base = |host: &str| format!("host={host} user={user} dbname={}", db.name);

    assert_eq!(
        encrypted(&format!("{} sslmode=disable", base("127.0.0.1"))).await,
        Ok(false)
    );
    assert_eq!(
        encrypted(&base("127.0.0.1")).await,
        Ok(true),
        "prefer (the default) encrypts when offered"
    );
    assert_eq!(
        encrypted(&format!("{} sslmode=require", base("127.0.0.1"))).await,
        Ok(true)
    );
    assert_eq!(
        encrypted(&format!(
            "{} sslmode=verify-full sslrootcert={SNAKEOIL}",
            base("localhost")
        ))
        .await,
        Ok(true)
    );
    assert_eq!(
        encrypted(&format!(
            "{} sslmode=verify-ca sslrootcert={SNAKEOIL}",
            base("127.0.0.1")
        ))
        .await,
        Ok(true),
        "verify-ca does not check the host name"
    );
    let wrong_name = encrypted(&format!(
        "{} sslmode=verify-full sslrootcert={SNAKEOIL}",
        base("127.0.0.1")
    ))
    .await
    .expect_err("the certificate names localhost, not 127.0.0.1");
    assert!(
        wrong_name.contains("cannot connect to PostgreSQL at 127.0.0.1"),
        "{wrong_name}"
    );
    assert!(
        wrong_name.to_lowercase().contains("certificate"),
        "{wrong_name}"
    );
    let other_ca = encrypted(&format!(
        "{} sslmode=verify-full sslrootcert=/etc/ssl/certs/ca-certificates.crt",
        base("localhost")
    ))
    .await
    .expect_err("not signed by a public CA");
    assert!(
        other_ca.to_lowercase().contains("certificate"),
        "{other_ca}"
    );
    let missing = encrypted(&format!(
        "{} sslmode=verify-full sslrootcert=/nonexistent.pem",
        base("localhost")
    ))
    .await
    .expect_err("no such file");
    assert!(missing.contains("/nonexistent.pem"), "{missing}");

    let url = format!(
        "postgresql://{user}@localhost/{}?sslmode=verify-full&sslrootcert={SNAKEOIL}",
        db.name
    );
    assert_eq!(encrypted(&url).await, Ok(true), "the URL form");

    // The binary, with the libpq environment variables.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["batches"])
        .env("DATABASE_URL", base("localhost"))
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", SNAKEOIL)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["batches"])
        .env("DATABASE_URL", base("127.0.0.1"))
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", SNAKEOIL)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}
