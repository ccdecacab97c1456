//! Connection parameters as libpq reads them: a URL (`postgresql://user@host1:5432,host2/db?
//! sslmode=require`, with an empty host, percent-encoded socket paths, IPv6 in brackets and
//! any keyword as a query parameter) or `key=value` pairs; then the service file's section
//! (`service=` or `PGSERVICE`, from `PGSERVICEFILE` or `~/.pg_service.conf`, else
//! `PGSYSCONFDIR`'s `pg_service.conf`), then the `PG*` environment variables, each filling only
//! what the ones before left unsaid.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// libpq keywords, by name.
pub type Params = BTreeMap<String, String>;

/// The keywords Airlock carries out, and the environment variable of each.
const KNOWN: [(&str, Option<&str>); 16] = [
    ("host", Some("PGHOST")),
    ("hostaddr", Some("PGHOSTADDR")),
    ("port", Some("PGPORT")),
    ("dbname", Some("PGDATABASE")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("options", Some("PGOPTIONS")),
    ("application_name", Some("PGAPPNAME")),
    ("fallback_application_name", None),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("sslmode", Some("PGSSLMODE")),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("service", Some("PGSERVICE")),
    ("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    ("keepalives", None),
    ("client_encoding", Some("PGCLIENTENCODING")),
];

/// Parses a connection string of either form.
pub fn parse(conn: &str) -> Result<Params, String> {
    let params = match conn
        .strip_prefix("postgresql://")
        .or_else(|| conn.strip_prefix("postgres://"))
    {
        Some(rest) => parse_url(rest)?,
        None => key_values(conn)?.into_iter().collect(),
    };
    for key in params.keys() {
        if !KNOWN.iter().any(|(k, _)| k == key) {
            return Err(format!(
                "`{key}` is not a connection option Airlock supports (it takes {})",
                KNOWN.map(|(k, _)| k).join(", ")
            ));
        }
    }
    Ok(params)
}

/// `params` with the service file's section and then the environment filling what they
/// leave out, as libpq does.
pub fn complete(mut params: Params) -> Result<Params, String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let service = params.get("service").cloned().or_else(|| var("PGSERVICE"));
    if let Some(service) = service {
        for (k, v) in service_section(&service)? {
            if !KNOWN.iter().any(|(known, _)| *known == k) {
                return Err(format!(
                    "service `{service}`: `{k}` is not a connection option Airlock supports"
                ));
            }
            params.entry(k).or_insert(v);
        }
    }
    for (key, env) in KNOWN {
        if let Some(value) = env.and_then(var) {
            params.entry(key.to_string()).or_insert(value);
        }
    }
    Ok(params)
}

/// The body of a URL after its scheme: `[user[:password]@][host[:port][,…]][/dbname][?k=v&…]`.
fn parse_url(rest: &str) -> Result<Params, String> {
    let mut params = Params::new();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (rest, None),
    };
    let hostspec = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                params.insert("user".into(), decode(user)?);
            }
            if let Some(p) = password {
                params.insert("password".into(), decode(p)?);
            }
            hosts
        }
        None => authority,
    };
    if !hostspec.is_empty() {
        let (mut hosts, mut ports) = (Vec::new(), Vec::new());
        for entry in hostspec.split(',') {
            let (host, port) = split_host_port(entry)?;
            hosts.push(decode(host)?);
            ports.push(port.to_string());
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            params.insert("host".into(), hosts.join(","));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            params.insert("port".into(), ports.join(","));
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        params.insert("dbname".into(), decode(db)?);
    }
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("URL parameter `{pair}` has no value (expected key=value)"))?;
        let key = match decode(k)?.as_str() {
            // libpq's spelling for the URL form.
            "ssl" if v == "true" => {
                params.insert("sslmode".into(), "require".into());
                continue;
            }
            other => other.to_string(),
        };
        params.insert(key, decode(v)?);
    }
    Ok(params)
}

/// `host:port`, `[v6::addr]:port`, `host` or `:port` (the default host).
fn split_host_port(entry: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = entry.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{entry}`: an IPv6 address opened with [ is not closed"))?;
        return match after {
            "" => Ok((addr, "")),
            port => port
                .strip_prefix(':')
                .map(|p| (addr, p))
                .ok_or_else(|| format!("`{entry}`: expected :port after the address")),
        };
    }
    Ok(entry.split_once(':').unwrap_or((entry, "")))
}

/// Percent-decoding, as libpq does it (a `+` stays a `+`).
fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("`{s}`: invalid percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}`: percent-encoding is not UTF-8"))
}

/// libpq's key=value syntax: `key = value` or `key='quoted \' value'`.
pub fn key_values(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    let skip_space = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    loop {
        skip_space(&mut chars);
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        skip_space(&mut chars);
        if chars.next() != Some('=') {
            return Err(format!("`{key}` has no value (expected key=value)"));
        }
        skip_space(&mut chars);
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or("unterminated quoted value")?),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err("unterminated quoted value".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    value.push(chars.next().ok_or("a value ends in a backslash")?);
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value));
    }
}

/// The section `name` of the user's service file, else of the system's.
fn service_section(name: &str) -> Result<Vec<(String, String)>, String> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let user_file = var("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".pg_service.conf")));
    let system_dir = var("PGSYSCONFDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/postgresql-common"));
    let files = [user_file, Some(system_dir.join("pg_service.conf"))];
    for file in files.iter().flatten() {
        if let Some(section) = read_section(file, name)? {
            return Ok(section);
        }
    }
    let looked: Vec<String> = files
        .iter()
        .flatten()
        .map(|p| p.display().to_string())
        .collect();
    Err(format!(
        "service `{name}` is not defined (looked in {})",
        looked.join(" and ")
    ))
}

/// One `[name]` section of a service file; `None` when the file or the section is missing.
fn read_section(file: &Path, name: &str) -> Result<Option<Vec<(String, String)>>, String> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Ok(None);
    };
    let mut section = None;
    let mut current: Option<&str> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(header);
            if header == name {
                section.get_or_insert_with(Vec::new);
            }
            continue;
        }
        if current != Some(name) {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{}: line {}: expected key=value", file.display(), n + 1))?;
        section
            .get_or_insert_with(Vec::new)
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Params {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn urls_as_libpq_reads_them() {
        let u = p("postgresql://alice@/prod?host=/var/run/postgresql");
        assert_eq!(u["host"], "/var/run/postgresql");
        assert_eq!(u["user"], "alice");
        assert_eq!(u["dbname"], "prod");
        let u = p("postgresql://%2Fvar%2Frun%2Fpostgresql:5433/my%20db");
        assert_eq!(
            (u["host"].as_str(), u["port"].as_str()),
            ("/var/run/postgresql", "5433")
        );
        assert_eq!(u["dbname"], "my db");
        let u =
            p("postgres://a:p%40ss@h1:5432,h2,[::1]:6543/d?sslmode=require&application_name=x+y");
        assert_eq!(u["host"], "h1,h2,::1");
        assert_eq!(u["port"], "5432,,6543");
        assert_eq!(u["password"], "p@ss");
        assert_eq!(u["application_name"], "x+y");
        assert_eq!(u["sslmode"], "require");
        assert_eq!(p("postgresql://").len(), 0);
        assert_eq!(p("postgresql:///db")["dbname"], "db");
        let kv = p("host=h dbname='a b' password='it\\'s' options='-c DateStyle=ISO'");
        assert_eq!(
            (kv["dbname"].as_str(), kv["password"].as_str()),
            ("a b", "it's")
        );
        assert_eq!(kv["options"], "-c DateStyle=ISO");
        for bad in [
            "postgresql://h/db?nope=1",
            "postgresql://h/db?sslmode",
            "postgresql://[::1/db",
            "postgresql://h/d%zz",
            "hots=x",
            "host",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
