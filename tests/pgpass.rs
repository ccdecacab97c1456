//! The libpq password file is read when the connection gives no password.
use airlock::db::ConnectTarget;

#[test]
fn the_password_file_fills_a_missing_password() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("pgpass");
    std::fs::write(
        &path,
        "db.example:5433:prod:alice:from-the-file\n*:*:*:*:fallback\n",
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    // SAFETY: this test binary runs this one test in its own process (nextest), and no other
    // thread reads the environment while it is set.
    unsafe { std::env::set_var("PGPASSFILE", &path) };
    let password = |conn: &str| {
        ConnectTarget::resolve(Some(conn))
            .expect("resolve")
            .config()
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    };
    assert_eq!(
        password("host=db.example port=5433 dbname=prod user=alice").as_deref(),
        Some("from-the-file")
    );
    assert_eq!(
        password("host=other dbname=x user=bob").as_deref(),
        Some("fallback")
    );
    assert_eq!(
        password("host=db.example port=5433 dbname=prod user=alice password=given").as_deref(),
        Some("given")
    );
    // The password never shows when a target is printed.
    let target = ConnectTarget::resolve(Some("host=db.example port=5433 dbname=prod user=alice"))
        .expect("resolve");
    assert!(!target.to_string().contains("from-the-file"));
}
