//! Airlock: stage, validate, review, then promote untrusted data files into live
//! PostgreSQL tables.
//!
//! The modules follow the pipeline: `feed` (the spec) → `source` (reading the file) →
//! `stage` (COPY into staging) → `validate` → `plan` → `batch` (state and audit), with `db`
//! holding connection, identifier quoting and catalog introspection.
#![forbid(unsafe_code)]

pub mod batch;
pub mod cli;
pub mod clickhouse;
pub mod db;
pub mod engine;
pub mod error;
pub mod export;
pub mod feed;
pub mod format;
pub mod init;
pub mod judge;
pub mod layout;
pub mod pipeline;
pub mod plan;
pub mod profile;
pub mod promote;
pub mod report;
pub mod review;
pub mod source;
pub mod stage;
pub mod staged;
pub mod timing;
pub mod tui;
pub mod validate;

pub use error::{Error, Result};
