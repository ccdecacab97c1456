//! libpq's password file: `~/.pgpass` (or `PGPASSFILE`), lines of
//! `hostname:port:database:username:password` with `*` wildcards and `\:`/`\\` escapes, used
//! when the connection gives no password. Like libpq, a file readable by group or others is
//! ignored.
use std::path::{Path, PathBuf};

/// The password file libpq would read.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass"))
}

/// The password for (host, port, database, user) in `path`, if any line matches.
pub fn lookup(path: &Path, host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    let port = port.to_string();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split(line);
            let [h, p, d, u, password] = fields.as_slice() else {
                return None;
            };
            let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
            (matches(h, host) && matches(p, &port) && matches(d, database) && matches(u, user))
                .then(|| password.clone())
        })
}

/// Splits on unescaped `:`; `\:` and `\\` stand for themselves.
fn split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            // The password is the rest of the line, colons and all.
            ':' if fields.len() < 4 => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(contents: &str, mode: u32) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(f.path(), contents).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
        }
        f
    }

    #[test]
    fn matches_like_libpq() {
        let f = file(
            "# comment\ndb.example:5432:prod:alice:s3cret\n*:*:*:bob:b\\:ob\\\\pw\nlocalhost:*:*:*:local:with:colons\n",
            0o600,
        );
        assert_eq!(
            lookup(f.path(), "db.example", 5432, "prod", "alice").as_deref(),
            Some("s3cret")
        );
        assert_eq!(lookup(f.path(), "db.example", 5433, "prod", "alice"), None);
        assert_eq!(
            lookup(f.path(), "anywhere", 1, "x", "bob").as_deref(),
            Some("b:ob\\pw")
        );
        assert_eq!(
            lookup(f.path(), "localhost", 5432, "x", "carol").as_deref(),
            Some("local:with:colons")
        );
        let open = file("*:*:*:*:visible\n", 0o644);
        assert_eq!(
            lookup(open.path(), "h", 1, "d", "u"),
            None,
            "a readable file is ignored"
        );
    }
}
