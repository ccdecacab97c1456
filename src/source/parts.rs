//! What `FILE` names: one file, or the parts of one feed — a directory, or a glob such as
//! `'drop/2026-03-15/*.csv'` — read as one batch in name order. Every record's line is then
//! counted through all parts (each part's lines follow the previous part's), and
//! [`PartMap`] turns such a line back into the part's name and its own line.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The files a check reads, in order.
#[derive(Debug, Clone)]
pub struct Input {
    /// As given: a file, a directory or a pattern.
    pub given: PathBuf,
    pub parts: Vec<PathBuf>,
    /// A directory or a pattern: positions name their part, even when only one matched.
    pub multi: bool,
}

impl Input {
    /// A regular file (or pipe) as itself; a directory as its files; a path that does not
    /// exist but holds `*`, `?` or `[` as a glob. Names starting with `.` or `_` (hidden
    /// files, `_SUCCESS` markers) are not parts. Parts are ordered by name, runs of digits
    /// by their value (`part-2` before `part-10`).
    pub fn resolve(given: &Path) -> Result<Self> {
        let text = given.to_string_lossy();
        let parts = if given.is_dir() {
            let entries = std::fs::read_dir(given).map_err(|source| Error::Io {
                path: given.to_owned(),
                cause: source,
            })?;
            let mut parts = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|source| Error::Io {
                    path: given.to_owned(),
                    cause: source,
                })?;
                let path = entry.path();
                if is_part(&path) && path.is_file() {
                    parts.push(path);
                }
            }
            if parts.is_empty() {
                return Err(Error::File {
                    path: given.to_owned(),
                    problem: "the directory holds no file to read (names starting with . or _ \
                              are not parts)"
                        .into(),
                });
            }
            parts
        } else if !given.exists() && text.contains(['*', '?', '[']) {
            let paths = glob::glob(&text).map_err(|e| Error::File {
                path: given.to_owned(),
                problem: format!("not a valid pattern: {e}"),
            })?;
            let mut parts = Vec::new();
            for path in paths {
                let path = path.map_err(|e| Error::File {
                    path: e.path().to_owned(),
                    problem: format!("cannot be read: {}", e.error()),
                })?;
                if is_part(&path) && path.is_file() {
                    parts.push(path);
                }
            }
            if parts.is_empty() {
                return Err(Error::File {
                    path: given.to_owned(),
                    problem: "no file matches the pattern".into(),
                });
            }
            parts
        } else {
            return Ok(Self {
                given: given.to_owned(),
                parts: vec![given.to_owned()],
                multi: false,
            });
        };
        let mut parts = parts;
        parts.sort_by(|a, b| natural_order(&a.to_string_lossy(), &b.to_string_lossy()));
        Ok(Self {
            given: given.to_owned(),
            parts,
            multi: true,
        })
    }

    /// The size of every part together.
    pub fn size(&self) -> u64 {
        self.parts
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

fn is_part(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.starts_with('.') && !n.starts_with('_'))
}

/// Orders names as a person does: runs of digits by their value, the rest byte by byte.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (ra, rb) = (run(a), run(b));
                let trim = |s: &[u8]| {
                    let zeros = s.iter().take_while(|c| **c == b'0').count();
                    s[zeros..].to_vec()
                };
                let (da, db) = (trim(&a[..ra]), trim(&b[..rb]));
                let by_value = da.len().cmp(&db.len()).then_with(|| da.cmp(&db));
                // Equal values: the shorter spelling (fewer zeros) first, so the order is total.
                let order = by_value.then_with(|| ra.cmp(&rb));
                if order != std::cmp::Ordering::Equal {
                    return order;
                }
                a = &a[ra..];
                b = &b[rb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

/// One part of a batch as read: what the batch records of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The file's name, as positions show it.
    pub name: String,
    /// Its absolute path.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub compression: String,
    /// Lines of the parts before it: this part's line `n` is the batch's line `base + n`.
    pub base: u64,
    pub records: u64,
}

/// Where a line of a batch is: the part and its own line, or the line alone for a batch of
/// one file.
#[derive(Debug, Clone, Default)]
pub struct PartMap {
    parts: Vec<Part>,
}

/// A record's place as a person finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place<'a> {
    pub file: Option<&'a str>,
    pub line: i64,
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.file {
            Some(file) => write!(f, "{file}:{}", self.line),
            None => write!(f, "{}", self.line),
        }
    }
}

impl PartMap {
    pub fn new(parts: Vec<Part>) -> Self {
        Self { parts }
    }

    /// From the batch's `parts` column (empty for a batch of one file).
    pub fn from_json(value: Option<serde_json::Value>) -> Self {
        Self::new(
            value
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
        )
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    pub fn is_multi(&self) -> bool {
        !self.parts.is_empty()
    }

    /// The part holding batch line `line`, and the line within it.
    pub fn locate(&self, line: i64) -> Place<'_> {
        let at = self
            .parts
            .partition_point(|p| (p.base as i64) < line)
            .checked_sub(1);
        match at.and_then(|i| self.parts.get(i)) {
            Some(p) => Place {
                file: Some(&p.name),
                line: line - p.base as i64,
            },
            None => Place { file: None, line },
        }
    }

    /// The part a batch line is in, itself.
    pub fn part_of(&self, line: i64) -> Option<&Part> {
        let i = self
            .parts
            .partition_point(|p| (p.base as i64) < line)
            .checked_sub(1)?;
        self.parts.get(i)
    }

    /// The batch line of `line` in the part named `file` (for a jump to `part-002.csv:40`).
    pub fn batch_line(&self, file: &str, line: i64) -> Option<i64> {
        self.parts
            .iter()
            .find(|p| p.name == file)
            .map(|p| p.base as i64 + line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_names_as_a_person_does() {
        let mut names = vec![
            "part-10.csv",
            "part-2.csv",
            "part-001.csv",
            "part-1.csv",
            "a",
        ];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            names,
            [
                "a",
                "part-1.csv",
                "part-001.csv",
                "part-2.csv",
                "part-10.csv"
            ]
        );
        assert_eq!(natural_order("x9", "x10"), std::cmp::Ordering::Less);
        assert_eq!(natural_order("b1", "a2"), std::cmp::Ordering::Greater);
    }

    #[test]
    fn locates_lines_in_their_part() {
        let part = |name: &str, base| Part {
            name: name.into(),
            path: String::new(),
            size: 0,
            sha256: String::new(),
            compression: "none".into(),
            base,
            records: 0,
        };
        let map = PartMap::new(vec![part("a.csv", 0), part("b.csv", 11), part("c.csv", 15)]);
        assert_eq!(map.locate(1).to_string(), "a.csv:1");
        assert_eq!(map.locate(11).to_string(), "a.csv:11");
        assert_eq!(map.locate(12).to_string(), "b.csv:1");
        assert_eq!(map.locate(20).to_string(), "c.csv:5");
        assert_eq!(map.batch_line("b.csv", 3), Some(14));
        assert_eq!(PartMap::default().locate(7).to_string(), "7");
    }
}
