//! `clickhouse://user:password@host:8123/database` (HTTP) and `clickhouses://…:8443/…`
//! (HTTPS): where a ClickHouse server's HTTP interface is and who to be there.
use std::fmt;

use crate::error::{Error, Result};

#[derive(Clone, PartialEq, Eq)]
pub struct ClickHouseUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
}

impl ClickHouseUrl {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |problem: String| Error::ConnectionSetup {
            problem: format!("the ClickHouse URL: {problem}"),
        };
        let url = url::Url::parse(text.trim()).map_err(|e| bad(e.to_string()))?;
        let tls = match url.scheme() {
            "clickhouse" => false,
            "clickhouses" => true,
            other => return Err(bad(format!("`{other}://` is not ClickHouse"))),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("it names no host".into()))?
            .to_string();
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| bad(format!("`{s}` is not valid percent-encoding")))
        };
        let user = match url.username() {
            "" => "default".to_string(),
            u => decode(u)?,
        };
        let password = url.password().map(decode).transpose()?;
        let database = match url.path().trim_start_matches('/') {
            "" => "default".to_string(),
            d if d.contains('/') => return Err(bad(format!("`{d}` is not a database name"))),
            d => decode(d)?,
        };
        if let Some((k, _)) = url.query_pairs().next() {
            return Err(bad(format!(
                "`{k}`: settings in the URL are not taken; Airlock sets what it needs"
            )));
        }
        Ok(Self {
            tls,
            port: url.port().unwrap_or(if tls { 8443 } else { 8123 }),
            host,
            user,
            password,
            database,
        })
    }

    /// The HTTP interface's address: `http://host:8123`.
    pub fn endpoint(&self) -> String {
        let host = match self.host.contains(':') {
            true => format!("[{}]", self.host.trim_matches(['[', ']'])),
            false => self.host.clone(),
        };
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}:{}", self.port)
    }
}

/// Shown without the password, for messages.
impl fmt::Display for ClickHouseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls {
            "clickhouses"
        } else {
            "clickhouse"
        };
        write!(
            f,
            "{scheme}://{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

impl fmt::Debug for ClickHouseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_user_and_database() {
        let u = ClickHouseUrl::parse("clickhouse://loader:p%40ss@db.example:9000/sales")
            .expect("parses");
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.user.as_str()),
            (false, "db.example", 9000, "loader")
        );
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.database, "sales");
        assert_eq!(u.endpoint(), "http://db.example:9000");
        assert_eq!(u.to_string(), "clickhouse://loader@db.example:9000/sales");

        let d = ClickHouseUrl::parse("clickhouses://h").expect("parses");
        assert_eq!(
            (d.port, d.user.as_str(), d.database.as_str()),
            (8443, "default", "default")
        );
        assert_eq!(d.endpoint(), "https://h:8443");
        assert_eq!(
            ClickHouseUrl::parse("clickhouse://[::1]/x")
                .expect("parses")
                .endpoint(),
            "http://[::1]:8123"
        );
    }

    #[test]
    fn what_is_not_a_clickhouse_url_is_refused_with_the_reason() {
        for (bad, says) in [
            ("postgresql://h/db", "is not ClickHouse"),
            ("clickhouse:///db", "no host"),
            ("clickhouse://h/a/b", "not a database name"),
            ("clickhouse://h/db?max_threads=1", "settings in the URL"),
            ("clickhouse://u:%zz@h/db", "percent-encoding"),
        ] {
            let e = ClickHouseUrl::parse(bad).expect_err("refused").to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(super::super::is_clickhouse("ClickHouse://h"));
        assert!(!super::super::is_clickhouse("host=h dbname=clickhouse"));
    }
}
