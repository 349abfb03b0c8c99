//! The one seam to PostgreSQL (`vbda publish`): where the target is, how to log in, the
//! tables the gold specs become there, and replacing one date of one table in one transaction.
//!
//! A target is a `postgres://user@host:port/database` URL (or libpq's `key=value` form) with no
//! password in it: the password comes from `PGPASSWORD` or the password file (`PGPASSFILE`,
//! default `~/.pgpass`, ignored like libpq does when others can read it), so it never sits in a
//! command line, a `vbda.toml`, a log line, `--show-settings` or commit info. TLS follows
//! `sslmode` (`disable`, `prefer` — the default — or `require`); the server's certificate is
//! always verified, against the platform's roots and `PGSSLROOTCERT` when set (stricter than
//! libpq's `require`, which encrypts without verifying).

mod copy;
mod ddl;
mod pgpass;

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;

use crate::error::{Error, Result};

pub use copy::{DateOutcome, Published, mark_current, published, replace_date};
pub use ddl::{ensure_tables, pg_type, quote_ident};

/// Where gold is published: a PostgreSQL server, database and schema.
#[derive(Debug, Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    /// `postgres://user@host:port/database`: what errors and reports show.
    shown: String,
    schema: String,
}

impl Target {
    /// Parse a target; one with a password in it is refused (the password is never echoed).
    pub fn parse(target: &str, schema: &str) -> Result<Self> {
        if holds_password(target) {
            return Err(Error::data("the publish target holds a password; vbda takes it only from the environment or a password file")
                .with_hint("remove it from the URL and set PGPASSWORD, or add a line to ~/.pgpass (host:port:database:user:password, mode 0600)"));
        }
        // The parse error names the option, never the target itself (it may hold a password
        // in a spelling `holds_password` does not know).
        let config: tokio_postgres::Config = target.parse().map_err(|e: tokio_postgres::Error| {
            Error::data(format!("the publish target is not a PostgreSQL connection string: {e}"))
                .with_hint("write it as postgres://user@host:5432/database (sslmode=require to insist on TLS)")
        })?;
        if config.get_password().is_some() {
            return Err(Error::data("the publish target holds a password; vbda takes it only from the environment or a password file")
                .with_hint("remove it from the target and set PGPASSWORD, or add a line to ~/.pgpass (host:port:database:user:password, mode 0600)"));
        }
        if schema.is_empty() {
            return Err(Error::data("the publish schema is empty").with_hint("pass --schema NAME (default: gold)"));
        }
        let shown = describe(&config);
        Ok(Self { config, shown, schema: schema.to_string() })
    }

    /// `postgres://user@host:port/database`, never a password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Log in: password from `PGPASSWORD` or the password file, TLS as `sslmode` says. A
    /// refused login is exit 1 (fix the password or the user), an unreachable server exit 3.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        let mut config = self.config.clone();
        let (host, port) = first_host(&config);
        let user = config.get_user().map(str::to_string).unwrap_or_else(current_user);
        let dbname = config.get_dbname().map(str::to_string).unwrap_or_else(|| user.clone());
        if let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
            config.password(password);
        } else if let Some(password) = pgpass::lookup(&host, port, &dbname, &user) {
            config.password(password);
        }
        if config.get_application_name().is_none() {
            config.application_name("vbda publish");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let connected = match config.get_ssl_mode() {
            SslMode::Disable => config.connect(tokio_postgres::NoTls).await.map(|(client, conn)| {
                tokio::spawn(async move { drop(conn.await) });
                client
            }),
            _ => config.connect(tls()?).await.map(|(client, conn)| {
                tokio::spawn(async move { drop(conn.await) });
                client
            }),
        };
        connected.map_err(|e| self.error(e, "cannot log in to PostgreSQL"))
    }

    /// A PostgreSQL error as a vbda error: login refusals, permissions and SQL the server
    /// rejects are exit 1; a server that cannot be reached or went away is exit 3.
    pub fn error(&self, e: tokio_postgres::Error, what: &str) -> Error {
        let at = &self.shown;
        let source = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
        let text = format!("{e}{source}");
        if let Some(db) = e.as_db_error() {
            let class = db.code().code().get(..2).unwrap_or("");
            let message = format!("{what} at {at}: {} ({})", db.message(), db.code().code());
            return match class {
                "28" if db.message().contains("pg_hba.conf") => Error::data(message).with_hint(
                    "the server's pg_hba.conf does not let this user in from here over this kind of connection; with sslmode=disable try sslmode=require, or ask the server's admin",
                ),
                "28" => Error::data(message).with_hint(
                    "check the user in the target and the password in PGPASSWORD or ~/.pgpass (host:port:database:user:password, mode 0600)",
                ),
                "42" if db.code() == &SqlState::INSUFFICIENT_PRIVILEGE => {
                    Error::data(message).with_hint(format!("grant the user CREATE and USAGE on schema {}", self.schema))
                }
                "08" | "40" | "53" | "57" | "58" | "55" => Error::environment(message).with_hint("retry when the server is back"),
                _ => Error::data(message),
            };
        }
        if text.contains("password missing") {
            return Error::data(format!("{what} at {at}: the server asks for a password and none was found"))
                .with_hint("set PGPASSWORD, or add host:port:database:user:password to ~/.pgpass (mode 0600)");
        }
        // A certificate this machine does not trust, or no TLS where sslmode=require asks for
        // it: a setting to fix, not worth a retry (exit 1), like Kafka's TLS refusals.
        if text.contains("error performing TLS handshake") || text.contains("server does not support TLS") {
            return Error::data(format!("{what} at {at}: {text}")).with_hint(
                "the server must offer TLS with a certificate this machine trusts: set PGSSLROOTCERT to the CA file that signed it (or add the CA to the system's roots)",
            );
        }
        Error::environment(format!("{what} at {at}: {text}"))
            .with_hint("check that the server is running and reachable from here (host, port, firewall), then rerun")
    }
}

/// Whether a connection string carries a password: `scheme://user:pass@host` or `password=`.
fn holds_password(target: &str) -> bool {
    if let Some((_, rest)) = target.split_once("://") {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if authority.rfind('@').is_some_and(|at| authority[..at].contains(':')) {
            return true;
        }
        let query = rest.split_once('?').map(|(_, q)| q).unwrap_or("");
        return query.split('&').any(|kv| kv.trim().to_ascii_lowercase().starts_with("password="));
    }
    target.split_whitespace().any(|kv| kv.to_ascii_lowercase().replace(' ', "").starts_with("password="))
}

fn first_host(config: &tokio_postgres::Config) -> (String, u16) {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

fn current_user() -> String {
    std::env::var("PGUSER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "postgres".into())
}

fn describe(config: &tokio_postgres::Config) -> String {
    let (host, port) = first_host(config);
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}:{port}/{db}")
}

/// TLS for `sslmode=prefer|require`: rustls with the platform's roots, plus `PGSSLROOTCERT`.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = std::env::var_os("PGSSLROOTCERT").filter(|p| !p.is_empty()) {
        let shown = std::path::Path::new(&path).display().to_string();
        let pem = std::fs::read(&path).map_err(|e| Error::data(format!("PGSSLROOTCERT={shown}: cannot read: {e}")))?;
        let mut reader = std::io::Cursor::new(pem);
        for cert in rustls_pemfile_certs(&mut reader) {
            roots.add(cert).map_err(|e| Error::data(format!("PGSSLROOTCERT={shown}: not a usable CA certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::environment(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The certificates of a PEM file (rustls-pki-types' own PEM reader).
fn rustls_pemfile_certs(reader: &mut dyn std::io::BufRead) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    let mut text = Vec::new();
    if reader.read_to_end(&mut text).is_err() {
        return Vec::new();
    }
    rustls::pki_types::CertificateDer::pem_slice_iter(&text).filter_map(|c| c.ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_target_is_refused_without_echoing_it() {
        for target in [
            "postgres://bi:hunter2@db:5432/analytics",
            "postgresql://bi:hunter2@db/analytics?sslmode=require",
            "postgres://db/analytics?user=bi&password=hunter2",
            "host=db user=bi password=hunter2 dbname=analytics",
        ] {
            let err = Target::parse(target, "gold").unwrap_err();
            assert_eq!(err.exit_code(), 1, "{target}");
            assert!(!format!("{err} {}", err.hint().unwrap_or("")).contains("hunter2"), "{target}: {err}");
        }
    }

    #[test]
    fn targets_are_shown_without_secrets() {
        let t = Target::parse("postgres://bi@db.internal:6432/analytics?sslmode=require", "gold").unwrap();
        assert_eq!(t.shown(), "postgres://bi@db.internal:6432/analytics");
        let t = Target::parse("host=127.0.0.1 port=5433 user=vbda dbname=lake", "gold").unwrap();
        assert_eq!(t.shown(), "postgres://vbda@127.0.0.1:5433/lake");
        assert!(Target::parse("postgres://db/x?sslmode=sometimes", "gold").is_err());
    }
}
