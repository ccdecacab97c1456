//! Opening a connection from `--database-url`, `DATABASE_URL` or the libpq environment.
use std::str::FromStr;

use tokio_postgres::{Client, Config};

use super::tls::{self, SslMode, TlsOptions};

use crate::error::{Error, Result};

/// Where to connect, already parsed. Its `Display` never shows a password.
#[derive(Clone)]
pub struct ConnectTarget {
    config: Config,
    tls: TlsOptions,
}

impl ConnectTarget {
    /// `url` is a libpq URL or key=value string; `None` falls back to the libpq variables
    /// (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`) and libpq's defaults.
    pub fn resolve(url: Option<&str>) -> Result<Self> {
        let env_tls = || -> Result<TlsOptions> {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            Ok(TlsOptions {
                mode: match var("PGSSLMODE") {
                    Some(m) => Some(SslMode::parse(&m).ok_or_else(|| Error::ConnectionSetup {
                        problem: format!("PGSSLMODE `{m}` is not one of disable, prefer, require, verify-ca, verify-full"),
                    })?),
                    None => None,
                },
                root_cert: var("PGSSLROOTCERT").map(Into::into),
            })
        };
        let (config, tls) = match url {
            Some(url) => {
                let (rest, tls) =
                    tls::split_options(url).map_err(|problem| Error::ConnectionSetup {
                        problem: format!("the database URL: {problem}"),
                    })?;
                // The string wins; the environment fills what it leaves out, as in libpq.
                let tls = tls.or(env_tls()?);
                let config = Config::from_str(&rest).map_err(|cause| Error::Connection {
                    target: "the given database URL".into(),
                    cause,
                })?;
                (config, tls)
            }
            None => (config_from_env(), env_tls()?),
        };
        let mut config = config;
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

fn config_from_env() -> Config {
    let mut config = Config::new();
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match var("PGHOST") {
        Some(host) => {
            config.host(&host);
        }
        None if std::path::Path::new("/var/run/postgresql").exists() => {
            config.host_path("/var/run/postgresql");
        }
        None => {
            config.host("localhost");
        }
    }
    if let Some(port) = var("PGPORT").and_then(|p| p.parse().ok()) {
        config.port(port);
    }
    let user = var("PGUSER")
        .or_else(|| whoami::username().ok())
        .unwrap_or_else(|| "postgres".into());
    config.user(&user);
    config.dbname(var("PGDATABASE").unwrap_or(user));
    if let Some(password) = var("PGPASSWORD") {
        config.password(password);
    }
    config
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
    client
        .batch_execute("SET application_name = 'airlock'")
        .await
        .map_err(Error::db("setting up the session"))?;
    Ok(client)
}

/// A second connection, for work that runs alongside the first (the typed rows' COPY, the
/// review's indexes); `None` when the server refuses one (say, at `max_connections`), and
/// that work then runs on the first connection after the rest.
pub async fn connect_second(target: &ConnectTarget) -> Option<Client> {
    connect(target).await.ok()
}
