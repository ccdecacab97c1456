//! Opening a connection from `--database-url`, `DATABASE_URL` or the libpq environment.
use std::path::Path;

use tokio_postgres::{Client, Config};

use super::conninfo;
use super::tls::{self, SslMode, TlsOptions};

use crate::error::{Error, Result};

/// Where to connect, already parsed. Its `Display` never shows a password.
#[derive(Clone)]
pub struct ConnectTarget {
    config: Config,
    tls: TlsOptions,
}

impl ConnectTarget {
    /// `url` is a libpq URL or key=value string; what it leaves unsaid comes from the service
    /// file, the libpq variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`,
    /// `PGOPTIONS`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`, `PGSSLMODE`, …) and libpq's defaults, in
    /// that order (see [`conninfo`]).
    pub fn resolve(url: Option<&str>) -> Result<Self> {
        let setup = |problem: String| Error::ConnectionSetup { problem };
        let given = match url {
            Some(url) => conninfo::parse(url)
                .map_err(|problem| setup(format!("the database URL: {problem}")))?,
            None => conninfo::Params::new(),
        };
        let params = conninfo::complete(given).map_err(setup)?;
        let (mut config, tls) = build(&params).map_err(setup)?;
        fill_password_from_pgpass(&mut config);
        Ok(Self { config, tls })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The same server and credentials, another database.
    pub fn with_dbname(&self, dbname: &str) -> Self {
        let mut config = self.config.clone();
        config.dbname(dbname);
        Self {
            config,
            tls: self.tls.clone(),
        }
    }
}

impl ConnectTarget {
    /// The connection as key=value pairs a command line can carry — host, port, user,
    /// database, never a password (the password file or the environment supplies it).
    pub fn conninfo(&self) -> String {
        let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut parts = Vec::new();
        if let Some(host) = self.config.get_hosts().first() {
            let host = match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            parts.push(format!("host={}", quote(&host)));
        }
        if let Some(port) = self.config.get_ports().first() {
            parts.push(format!("port={port}"));
        }
        if let Some(user) = self.config.get_user() {
            parts.push(format!("user={}", quote(user)));
        }
        if let Some(db) = self.config.get_dbname() {
            parts.push(format!("dbname={}", quote(db)));
        }
        parts.join(" ")
    }
}

impl std::fmt::Display for ConnectTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = self
            .config
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        write!(
            f,
            "{host}:{port} as {} to database {}",
            self.config.get_user().unwrap_or("?"),
            self.config.get_dbname().unwrap_or("?")
        )
    }
}

/// With no password given, the password file, as libpq reads it (the default socket counts
/// as `localhost`).
fn fill_password_from_pgpass(config: &mut Config) {
    if config.get_password().is_some() {
        return;
    }
    let Some(path) = super::pgpass::default_path() else {
        return;
    };
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or_default().to_string();
    let dbname = config.get_dbname().unwrap_or(&user).to_string();
    if let Some(password) = super::pgpass::lookup(&path, &host, port, &dbname, &user) {
        config.password(password);
    }
}

/// The connection the parameters describe, with libpq's defaults for what none of them says:
/// the local socket (or `localhost`), the OS user, a database named after the user.
fn build(params: &conninfo::Params) -> std::result::Result<(Config, TlsOptions), String> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let mut config = Config::new();
    let hosts: Vec<&str> = match get("host") {
        Some(hosts) => hosts.split(',').collect(),
        None if get("hostaddr").is_some() => Vec::new(),
        None if Path::new("/var/run/postgresql").exists() => vec!["/var/run/postgresql"],
        None => vec!["localhost"],
    };
    for host in &hosts {
        match *host {
            "" if Path::new("/var/run/postgresql").exists() => {
                config.host_path("/var/run/postgresql")
            }
            "" => config.host("localhost"),
            h if h.starts_with('/') => config.host_path(h),
            h => config.host(h),
        };
    }
    for addr in get("hostaddr").into_iter().flat_map(|a| a.split(',')) {
        let ip = addr
            .parse::<std::net::IpAddr>()
            .map_err(|_| format!("hostaddr `{addr}` is not an IP address"))?;
        config.hostaddr(ip);
    }
    for port in get("port").map_or(vec![""], |p| p.split(',').collect()) {
        let port = match port {
            "" => 5432,
            p => p
                .parse::<u16>()
                .map_err(|_| format!("port `{p}` is not a port number"))?,
        };
        config.port(port);
    }
    let os_user = whoami::username().unwrap_or_else(|_| "postgres".into());
    let user = get("user").unwrap_or(&os_user);
    config.user(user);
    config.dbname(get("dbname").unwrap_or(user));
    if let Some(password) = get("password") {
        config.password(password);
    }
    if let Some(options) = get("options") {
        config.options(options);
    }
    config.application_name(
        get("application_name")
            .or(get("fallback_application_name"))
            .unwrap_or("airlock"),
    );
    if let Some(t) = get("connect_timeout") {
        let seconds: i64 = t
            .parse()
            .map_err(|_| format!("connect_timeout `{t}` is not a number of seconds"))?;
        // As libpq: zero or less waits without end; less than 2 seconds is 2.
        if seconds > 0 {
            config.connect_timeout(std::time::Duration::from_secs(seconds.max(2) as u64));
        }
    }
    match get("target_session_attrs") {
        None | Some("any") => {}
        Some("read-write") => {
            config.target_session_attrs(tokio_postgres::config::TargetSessionAttrs::ReadWrite);
        }
        Some(other) => {
            return Err(format!(
                "target_session_attrs `{other}` is not supported (any, read-write): Airlock writes"
            ));
        }
    }
    if let Some(k) = get("keepalives") {
        config.keepalives(k != "0");
    }
    if let Some(enc) = get("client_encoding") {
        let normalized = enc.to_ascii_uppercase().replace(['-', '_'], "");
        if normalized != "UTF8" && normalized != "UNICODE" && normalized != "AUTO" {
            return Err(format!(
                "client_encoding `{enc}`: Airlock speaks UTF8 to the server (a file's own encoding is set in its feed's [source])"
            ));
        }
    }
    let tls = TlsOptions {
        mode: match get("sslmode") {
            Some(m) => Some(SslMode::parse(m).ok_or_else(|| {
                format!(
                    "sslmode `{m}` is not one of disable, prefer, require, verify-ca, verify-full"
                )
            })?),
            None => None,
        },
        root_cert: get("sslrootcert").map(Into::into),
    };
    Ok((config, tls))
}

/// The tasks driving the connections this process opened. Once its client is dropped, a
/// task tells the server goodbye (Terminate) and ends.
static OPEN: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Waits (briefly) for every connection whose client is gone to say goodbye, so a finished
/// command does not leave the server logging a client that vanished mid-conversation.
/// Called once the command's clients are dropped.
pub async fn close_all() {
    let open = OPEN
        .lock()
        .map(|mut open| std::mem::take(&mut *open))
        .unwrap_or_default();
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        futures_util::future::join_all(open),
    )
    .await;
}

/// Connects and drives the connection on a spawned task.
pub async fn connect(target: &ConnectTarget) -> Result<Client> {
    let connector = tls::connector(&target.tls).map_err(|problem| Error::ConnectionSetup {
        problem: format!("TLS for {target}: {problem}"),
    })?;
    let mut config = target.config.clone();
    config.ssl_mode(match target.tls.mode() {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    let (client, connection) =
        config
            .connect(connector)
            .await
            .map_err(|cause| Error::Connection {
                target: target.to_string(),
                cause,
            })?;
    let task = tokio::spawn(async move {
        // The error, if any, surfaces on the next query through the client.
        let _ = connection.await;
    });
    if let Ok(mut open) = OPEN.lock() {
        open.retain(|t| !t.is_finished());
        open.push(task);
    }
    Ok(client)
}

/// A second connection, for work that runs alongside the first (the typed rows' COPY, the
/// review's indexes); `None` when the server refuses one (say, at `max_connections`), and
/// that work then runs on the first connection after the rest.
pub async fn connect_second(target: &ConnectTarget) -> Option<Client> {
    connect(target).await.ok()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn tls_of(conn: &str) -> std::result::Result<TlsOptions, String> {
        ConnectTarget::resolve(Some(conn))
            .map(|t| t.tls)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn tls_options_come_from_either_form() {
        let o = tls_of("host=localhost sslmode=verify-full sslrootcert='/a b/c\\'s.pem' dbname=x")
            .expect("kv");
        assert_eq!(o.mode, Some(SslMode::VerifyFull));
        assert_eq!(o.root_cert.as_deref(), Some(Path::new("/a b/c's.pem")));
        let o = tls_of("postgresql://u@h:5432/db?sslmode=require&application_name=x").expect("url");
        assert_eq!(o.mode, Some(SslMode::Require));
        let o =
            tls_of("postgres://u@h/db?sslmode=verify-ca&sslrootcert=%2Ftmp%2Fr.pem").expect("url");
        assert_eq!(
            (o.mode, o.root_cert),
            (Some(SslMode::VerifyCa), Some(PathBuf::from("/tmp/r.pem")))
        );
        assert!(tls_of("sslmode=sometimes").is_err());
        assert!(tls_of("host='unterminated").is_err());
        let t = ConnectTarget::resolve(Some("postgresql://u@h1:5432,h2:5433/db?connect_timeout=1"))
            .expect("multi-host");
        assert_eq!(t.config().get_hosts().len(), 2);
        assert_eq!(t.config().get_ports(), &[5432, 5433]);
        assert_eq!(
            t.config().get_connect_timeout(),
            Some(&std::time::Duration::from_secs(2))
        );
        assert_eq!(t.config().get_application_name(), Some("airlock"));
        for bad in [
            "port=eighty",
            "hostaddr=not-an-ip",
            "target_session_attrs=standby",
            "client_encoding=LATIN1",
            "connect_timeout=soon",
        ] {
            assert!(ConnectTarget::resolve(Some(bad)).is_err(), "{bad}");
        }
    }
}
