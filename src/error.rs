//! The library's error type. Every variant carries the context a person needs to act.
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cause is spelled out in the message (the driver hides it otherwise), so it is
    /// not also chained as a source.
    #[error("cannot connect to PostgreSQL at {target}: {}", chain(.cause))]
    Connection {
        target: String,
        cause: tokio_postgres::Error,
    },

    /// Carries the server's own message; like `Connection`, not chained a second time.
    #[error("cannot connect: {problem}")]
    ConnectionSetup { problem: String },

    #[error("{context}: {}", db_message(.cause))]
    Database {
        context: String,
        cause: tokio_postgres::Error,
    },

    /// A ClickHouse server's answer (`Code: N. DB::Exception: …`) or why it could not be
    /// reached, with what Airlock was doing.
    #[error("{context}: {message}")]
    ClickHouse { context: String, message: String },

    #[error("{}: {problem}", .path.display())]
    SpecSyntax { path: PathBuf, problem: String },

    #[error("{}: key `{key}`: {problem}", .path.display())]
    Spec {
        path: PathBuf,
        key: String,
        problem: String,
    },

    #[error("{}: {problem}", .path.display())]
    File { path: PathBuf, problem: String },

    /// The cause is in the message, and not chained a second time (the CLI prints chains).
    #[error("{}: {cause}", .path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    #[error("--target {target}: {problem}")]
    Target { target: String, problem: String },

    #[error("batch {id} not found")]
    BatchNotFound { id: i64 },

    #[error("batch {id} is {state}; {action} needs a batch that is {expected}")]
    BatchState {
        id: i64,
        state: String,
        action: &'static str,
        expected: String,
    },

    #[error("interrupted: {what}")]
    Cancelled { what: String },

    /// Promotion would not be safe or would not do what was reviewed; nothing was changed.
    #[error("batch {id} not {action}: {reason}")]
    Refused {
        id: i64,
        /// "promoted" or "undone".
        action: &'static str,
        reason: String,
    },

    /// The server refused rows that had passed validation. They are quarantined now with the
    /// server's message; the batch is validated again and waits for a new approval.
    #[error(
        "batch {id} not promoted: the server refused {count} row{} that had passed validation (first: line {line}: {message}); they are quarantined now, review and approve again",
        if *.count == 1 { "" } else { "s" }
    )]
    RowsRejected {
        id: i64,
        count: usize,
        line: i64,
        message: String,
    },

    /// Other sessions held the locks promotion needs for longer than it would wait.
    #[error(
        "batch {id} not promoted: {target} stayed locked after {attempts} attempts of {timeout_ms} ms each; blocking sessions: {blockers}"
    )]
    Blocked {
        id: i64,
        target: String,
        attempts: u32,
        timeout_ms: u64,
        blockers: String,
    },
}

impl Error {
    /// Wraps a driver error with what Airlock was doing when it happened.
    pub fn db(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
        let context = context.into();
        move |cause| Error::Database { context, cause }
    }
}

/// The server's own message (and detail) rather than the driver's terse "db error".
pub fn db_message(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => err.to_string(),
    }
}

/// An error and its causes on one line ("error connecting to server: Connection refused").
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}
