//! Every connection string form libpq documents, and the environment habits psql users have
//! (`PGOPTIONS`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`, `PGSERVICE` with a service file), against
//! the local server. One test, because it sets the process's environment.
mod common;

use airlock::db::{self, ConnectTarget};
use common::TestDb;

async fn session(target: &ConnectTarget) -> Result<(String, String, String), String> {
    let client = db::connect(target).await.map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT current_database()::text, current_setting('DateStyle'), \
                    current_setting('application_name')",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok((row.get(0), row.get(1), row.get(2)))
}

async fn connects(conn: &str) -> Result<(String, String, String), String> {
    let target = ConnectTarget::resolve(Some(conn)).map_err(|e| e.to_string())?;
    session(&target).await
}

fn set(key: &str, value: &str) {
    // SAFETY: nextest runs this test alone in its process; nothing else reads the
    // environment meanwhile.
    unsafe { std::env::set_var(key, value) };
}

fn unset(key: &str) {
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var(key) };
}

#[tokio::test]
async fn libpq_connection_strings_and_environment() {
    let db = TestDb::empty().await;
    let user = db
        .target
        .config()
        .get_user()
        .unwrap_or("postgres")
        .to_string();
    let name = db.name.clone();
    for key in [
        "PGHOST",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGOPTIONS",
        "PGAPPNAME",
        "PGSERVICE",
    ] {
        unset(key);
    }
    // URL forms: an empty host with `host=` as a parameter, a percent-encoded socket path,
    // several hosts (the first refuses), IPv4, and the key=value form with quoting.
    for conn in [
        format!("postgresql://{user}@/{name}?host=/var/run/postgresql"),
        format!("postgresql://{user}@%2Fvar%2Frun%2Fpostgresql/{name}"),
        format!("postgresql://{user}@%2Fvar%2Frun%2Fpostgresql:5432/{name}"),
        format!("postgresql://{user}@127.0.0.1:1,127.0.0.1:5432/{name}?connect_timeout=5"),
        format!("postgres://{user}@127.0.0.1/{name}?sslmode=disable"),
        format!("postgresql:///{name}?host=/var/run/postgresql&user={user}"),
        format!("host=/var/run/postgresql user='{user}' dbname='{name}'"),
        format!("host=127.0.0.1,/var/run/postgresql port=1,5432 user={user} dbname={name}"),
    ] {
        let (database, _, app) = connects(&conn)
            .await
            .unwrap_or_else(|e| panic!("{conn}: {e}"));
        assert_eq!(database, name, "{conn}");
        assert_eq!(app, "airlock", "{conn}");
    }
    // Precise errors for what cannot work.
    for (conn, says) in [
        (
            format!("postgresql://{user}@/{name}?nosuch=1"),
            "`nosuch` is not a connection option",
        ),
        ("postgresql://[::1/x".to_string(), "is not closed"),
        (
            "host=/var/run/postgresql port=99999".to_string(),
            "port `99999`",
        ),
        (
            format!("postgresql://{user}@/{name}?target_session_attrs=standby"),
            "target_session_attrs",
        ),
        (
            "service=nowhere".to_string(),
            "service `nowhere` is not defined",
        ),
    ] {
        let err = connects(&conn).await.expect_err(&conn);
        assert!(err.contains(says), "{conn}: {err}");
    }
    // The environment fills what the string leaves out, as in libpq.
    set("PGHOST", "/var/run/postgresql");
    set("PGUSER", &user);
    set("PGOPTIONS", "-c DateStyle=SQL,DMY");
    set("PGAPPNAME", "nightly-import");
    set("PGCONNECT_TIMEOUT", "7");
    let (database, datestyle, app) = connects(&format!("postgresql:///{name}"))
        .await
        .expect("env");
    assert_eq!(
        (database.as_str(), datestyle.as_str(), app.as_str()),
        (name.as_str(), "SQL, DMY", "nightly-import")
    );
    let target = ConnectTarget::resolve(None).expect("env only");
    assert_eq!(
        target.config().get_connect_timeout(),
        Some(&std::time::Duration::from_secs(7))
    );
    // The string still wins over the environment.
    let (_, _, app) = connects(&format!("dbname={name} application_name=given"))
        .await
        .expect("string");
    assert_eq!(app, "given");
    for key in [
        "PGHOST",
        "PGUSER",
        "PGOPTIONS",
        "PGAPPNAME",
        "PGCONNECT_TIMEOUT",
    ] {
        unset(key);
    }
    // A service file: by `service=` or `PGSERVICE`; the string and the environment still
    // win over its section.
    let file = db.write(
        "pg_service.conf",
        format!(
            "# nightly\n[warehouse]\nhost=/var/run/postgresql\nuser={user}\ndbname={name}\n\
             application_name=from-service\n\n[other]\ndbname=nope\n"
        ),
    );
    set("PGSERVICEFILE", &file.display().to_string());
    let (database, _, app) = connects("service=warehouse").await.expect("service");
    assert_eq!(
        (database.as_str(), app.as_str()),
        (name.as_str(), "from-service")
    );
    set("PGSERVICE", "warehouse");
    let (database, _, app) = connects("application_name=mine").await.expect("PGSERVICE");
    assert_eq!((database.as_str(), app.as_str()), (name.as_str(), "mine"));
    let target = ConnectTarget::resolve(None).expect("PGSERVICE alone");
    let (database, _, _) = session(&target).await.expect("session");
    assert_eq!(database, name);
    unset("PGSERVICE");
    unset("PGSERVICEFILE");
    // The binary takes the same forms.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["batches", "--json"])
        .env(
            "DATABASE_URL",
            format!("postgresql://{user}@/{name}?host=/var/run/postgresql"),
        )
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
