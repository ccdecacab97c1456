//! TLS as libpq users know it: `sslmode` (`disable`, `prefer` — the default —, `require`,
//! `verify-ca`, `verify-full`) and `sslrootcert`, from the connection string or `PGSSLMODE` /
//! `PGSSLROOTCERT`, carried out with rustls. tokio-postgres itself only knows `disable`,
//! `prefer` and `require`, so these options are taken out of the string before it parses it.
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    /// TLS when the server offers it, without verifying the certificate (libpq's default).
    #[default]
    Prefer,
    /// TLS or nothing; the certificate is not verified (unless a root certificate is given,
    /// as libpq does).
    Require,
    /// TLS with a certificate signed by the root certificate, any host name.
    VerifyCa,
    /// TLS with a certificate signed by the root certificate and naming the host.
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" | "allow" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `None`: not said (libpq's default, `prefer`, applies).
    pub mode: Option<SslMode>,
    pub root_cert: Option<PathBuf>,
}

impl TlsOptions {
    pub fn mode(&self) -> SslMode {
        self.mode.unwrap_or_default()
    }

    /// These options, with what they leave unsaid taken from `fallback`.
    pub fn or(self, fallback: TlsOptions) -> TlsOptions {
        TlsOptions {
            mode: self.mode.or(fallback.mode),
            root_cert: self.root_cert.or(fallback.root_cert),
        }
    }
}

const TLS_KEYS: [&str; 2] = ["sslmode", "sslrootcert"];

/// Takes `sslmode` and `sslrootcert` out of a libpq URL or key=value string; returns the rest,
/// for tokio-postgres, and the options.
pub fn split_options(conn: &str) -> Result<(String, TlsOptions), String> {
    let mut opts = TlsOptions::default();
    let mut take = |key: &str, value: &str| -> Result<(), String> {
        match key {
            "sslmode" => {
                opts.mode = Some(SslMode::parse(value).ok_or_else(|| format!("sslmode `{value}` is not one of disable, prefer, require, verify-ca, verify-full"))?);
            }
            _ => opts.root_cert = Some(PathBuf::from(value)),
        }
        Ok(())
    };
    let rest = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let mut url = url::Url::parse(conn).map_err(|e| format!("not a valid URL: {e}"))?;
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let mut kept = Vec::new();
        for (k, v) in pairs {
            if TLS_KEYS.contains(&k.as_str()) {
                take(&k, &v)?;
            } else {
                kept.push((k, v));
            }
        }
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        url.to_string()
    } else {
        let mut kept = Vec::new();
        for (key, raw, value) in key_values(conn)? {
            if TLS_KEYS.contains(&key.as_str()) {
                take(&key, &value)?;
            } else {
                kept.push(format!("{key}={raw}"));
            }
        }
        kept.join(" ")
    };
    Ok((rest, opts))
}

/// libpq's key=value syntax: `key = value` or `key='quoted \' value'`; returns (key, the value
/// as written, the value).
fn key_values(s: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
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
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("`{key}` has no value (expected key=value)"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let (mut raw, mut value) = (String::new(), String::new());
        if chars.peek() == Some(&'\'') {
            raw.push('\'');
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => {
                        let c = chars.next().ok_or("unterminated quoted value")?;
                        raw.push('\\');
                        raw.push(c);
                        value.push(c);
                    }
                    Some('\'') => {
                        raw.push('\'');
                        break;
                    }
                    Some(c) => {
                        raw.push(c);
                        value.push(c);
                    }
                    None => return Err("unterminated quoted value".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                raw.push(c);
                value.push(c);
                chars.next();
            }
        }
        out.push((key, raw, value));
    }
}

/// The root certificates for verification: `sslrootcert`, else libpq's
/// `~/.postgresql/root.crt`.
fn roots(opts: &TlsOptions) -> Result<RootCertStore, String> {
    let path = match &opts.root_cert {
        Some(p) => p.clone(),
        None => {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            let default = home.join(".postgresql/root.crt");
            if !default.exists() {
                return Err(format!(
                    "sslmode verify-ca/verify-full needs a root certificate: set sslrootcert, or put it in {}",
                    default.display()
                ));
            }
            default
        }
    };
    let mut store = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| format!("cannot read root certificate {}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("root certificate {}: {e}", path.display()))?;
        store
            .add(cert)
            .map_err(|e| format!("root certificate {}: {e}", path.display()))?;
    }
    if store.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(store)
}

/// The connector for `opts`.
pub fn connector(opts: &TlsOptions) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    // As libpq: `require` with a root certificate verifies the chain.
    let mode = match (opts.mode(), &opts.root_cert) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (mode, _) => mode,
    };
    let config = match mode {
        SslMode::VerifyFull => builder
            .with_root_certificates(roots(opts)?)
            .with_no_client_auth(),
        SslMode::VerifyCa => {
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots(opts)?), provider)
                    .build()
                    .map_err(|e| e.to_string())?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName { inner }))
                .with_no_client_auth()
        }
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

/// `verify-ca`: the chain must lead to the root certificate; the name is not checked.
#[derive(Debug)]
struct AnyName {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `prefer` and `require`: encrypted, the certificate taken as it comes (libpq does the same).
#[derive(Debug)]
struct Unverified {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn takes_tls_options_out_of_connection_strings() {
        let (rest, o) = split_options(
            "host=localhost sslmode=verify-full sslrootcert='/a b/c\\'s.pem' dbname=x",
        )
        .expect("kv");
        assert_eq!(rest, "host=localhost dbname=x");
        assert_eq!(o.mode, Some(SslMode::VerifyFull));
        assert_eq!(o.root_cert.as_deref(), Some(Path::new("/a b/c's.pem")));
        let (rest, o) =
            split_options("postgresql://u@h:5432/db?sslmode=require&application_name=x")
                .expect("url");
        assert_eq!(rest, "postgresql://u@h:5432/db?application_name=x");
        assert_eq!(o.mode, Some(SslMode::Require));
        let (rest, o) =
            split_options("postgres://u@h/db?sslmode=verify-ca&sslrootcert=%2Ftmp%2Fr.pem")
                .expect("url");
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(
            (o.mode, o.root_cert),
            (Some(SslMode::VerifyCa), Some(PathBuf::from("/tmp/r.pem")))
        );
        assert!(split_options("sslmode=sometimes").is_err());
        assert!(split_options("host='unterminated").is_err());
        let (rest, o) = split_options("host=/var/run/postgresql password='p w'").expect("kv");
        assert_eq!(
            (rest.as_str(), o.mode),
            ("host=/var/run/postgresql password='p w'", None)
        );
    }
}
