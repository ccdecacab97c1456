//! Duplicate keys, found exactly while the file streams, in bounded memory. Every good row's
//! canonical key is hashed; the hash and the row's ordinal go to one of [`PARTS`] partitions
//! by the hash's top bits, held in memory up to [`HELD`] entries and spilled to a temporary
//! file past that. After the file, each partition is sorted on its own and the rows whose
//! hash repeats are the candidates: every row whose key repeats, and — 40 bits of hash —
//! about one false one per 2^40 pairs of keys. SQL then confirms the candidates over the
//! typed rows by ordinal instead of grouping every row. Time grows with the file, memory
//! with the largest partition (1/256 of the keys), the spill file by 8 bytes a row.
use std::fs::File;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use super::binding::{BPCHAR_OID, Binding};
use super::types::TypeRule;
use crate::error::{Error, Result};

/// Partitions, by the hash's top 8 bits.
const PARTS: usize = 256;
/// Entries (8 bytes each) held in memory before the partitions are written out: 8 MB, in
/// one fixed buffer per partition, written out when any of them is full.
const HELD: usize = 1 << 20;
const PER_PART: usize = HELD / PARTS;
/// Beyond this many candidate rows, confirming them by ordinal costs more than grouping
/// every row: SQL does that instead.
const MAX_CANDIDATES: usize = 2_000_000;

#[derive(Clone, Copy)]
enum Canon {
    /// Text compares byte for byte: the value is its own canonical form.
    Text,
    /// Integers compare by value: ` 007` and `7` are the same key.
    Int,
}

pub struct KeyTracker {
    hasher: foldhash::quality::RandomState,
    canon: Vec<Canon>,
    /// Index into the record's fields of each key column.
    fields: Vec<usize>,
    /// Per partition, `hash's low 32 bits << 32 | ordinal`.
    parts: Vec<Vec<u64>>,
    spill: Option<Spilled>,
    /// A key that is not what its type says, or an ordinal past 32 bits: SQL groups every row.
    overflow: bool,
}

/// The partitions written out so far: one file, and where each partition's runs are in it.
struct Spilled {
    file: BufWriter<File>,
    runs: Vec<Vec<(u64, usize)>>,
    written: u64,
}

fn spill_err(cause: std::io::Error) -> Error {
    Error::Io {
        path: std::env::temp_dir(),
        cause,
    }
}

impl KeyTracker {
    /// A tracker for the binding's merge key; `None` when the key's types have no simple
    /// canonical text form (those files are grouped in SQL).
    pub fn for_binding(binding: &Binding) -> Option<Self> {
        let mut canon = Vec::new();
        let mut fields = Vec::new();
        for col in binding.key_columns() {
            if col.lookup.is_some() {
                return None;
            }
            canon.push(match col.rule {
                // `character(n)` ignores trailing spaces when comparing: not byte for byte.
                TypeRule::Text { .. } if col.type_oid != BPCHAR_OID => Canon::Text,
                TypeRule::Int { .. } => Canon::Int,
                _ => return None,
            });
            fields.push(col.source_index);
        }
        if canon.is_empty() {
            return None;
        }
        Some(Self {
            hasher: foldhash::quality::RandomState::default(),
            canon,
            fields,
            parts: Vec::new(),
            spill: None,
            overflow: false,
        })
    }

    /// Notes one good row's key (`ordinal`, its record's ordinal); `field` gives the record's
    /// field at an index. Nothing is allocated per row: this runs for every row.
    pub fn add_key<'a>(&mut self, ordinal: u64, field: impl Fn(usize) -> &'a str) -> Result<()> {
        if self.overflow {
            return Ok(());
        }
        let Ok(ordinal) = u32::try_from(ordinal) else {
            self.give_up();
            return Ok(());
        };
        let mut hasher = self.hasher.build_hasher();
        for (&index, canon) in self.fields.iter().zip(&self.canon) {
            let value = field(index);
            match canon {
                Canon::Text => value.hash(&mut hasher),
                Canon::Int => match super::types::pg_int(value) {
                    Some(n) => n.hash(&mut hasher),
                    // Not an integer after all: let SQL group every row.
                    None => {
                        self.give_up();
                        return Ok(());
                    }
                },
            }
        }
        let hash = hasher.finish();
        if self.parts.is_empty() {
            self.parts = (0..PARTS).map(|_| Vec::with_capacity(PER_PART)).collect();
        }
        let part = &mut self.parts[(hash >> 56) as usize];
        part.push((hash << 32) | u64::from(ordinal));
        if part.len() == PER_PART {
            self.write_out()?;
        }
        Ok(())
    }

    fn give_up(&mut self) {
        self.overflow = true;
        self.parts = Vec::new();
        self.spill = None;
    }

    /// Writes every partition's entries to the spill file and empties them.
    fn write_out(&mut self) -> Result<()> {
        let spill = match &mut self.spill {
            Some(s) => s,
            None => self.spill.insert(Spilled {
                file: BufWriter::with_capacity(1 << 16, tempfile::tempfile().map_err(spill_err)?),
                runs: vec![Vec::new(); PARTS],
                written: 0,
            }),
        };
        for (part, runs) in self.parts.iter_mut().zip(&mut spill.runs) {
            if part.is_empty() {
                continue;
            }
            for e in part.iter() {
                spill.file.write_all(&e.to_le_bytes()).map_err(spill_err)?;
            }
            runs.push((spill.written, part.len()));
            spill.written += 8 * part.len() as u64;
            part.clear();
        }
        Ok(())
    }

    /// The ordinals of the rows whose key may repeat, sorted (every row whose key repeats is
    /// among them), or `None` when SQL must group every row.
    pub fn into_candidates(mut self) -> Result<Option<Vec<i64>>> {
        if self.overflow {
            return Ok(None);
        }
        let mut file = match self.spill.take() {
            Some(s) => Some((
                s.file.into_inner().map_err(|e| spill_err(e.into_error()))?,
                s.runs,
            )),
            None => None,
        };
        let mut found = Vec::new();
        let mut bytes = Vec::new();
        let mut parts = std::mem::take(&mut self.parts);
        parts.resize_with(PARTS, Vec::new);
        for (i, mut part) in parts.into_iter().enumerate() {
            if let Some((file, runs)) = &mut file {
                for &(at, n) in &runs[i] {
                    bytes.resize(8 * n, 0);
                    file.seek(SeekFrom::Start(at)).map_err(spill_err)?;
                    file.read_exact(&mut bytes).map_err(spill_err)?;
                    part.extend(
                        bytes
                            .chunks_exact(8)
                            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())),
                    );
                }
            }
            part.sort_unstable();
            for run in part.chunk_by(|a, b| a >> 32 == b >> 32) {
                if run.len() > 1 {
                    found.extend(run.iter().map(|e| (e & 0xffff_ffff) as i64));
                }
            }
            if found.len() > MAX_CANDIDATES {
                return Ok(None);
            }
        }
        found.sort_unstable();
        Ok(Some(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::binding::BoundColumn;

    fn key_column(rule: TypeRule) -> BoundColumn {
        BoundColumn {
            target: "id".into(),
            source_index: 0,
            source_name: "id".into(),
            rule: rule.clone(),
            value_rule: rule,
            type_oid: 0,
            equality: true,
            parse: None,
            typmod: -1,
            type_sql: "t".into(),
            cast_sql: "t".into(),
            not_null: true,
            key: true,
            lookup: None,
            rules: None,
        }
    }

    fn tracker(rule: TypeRule) -> KeyTracker {
        let binding = Binding {
            header: vec!["id".into()],
            columns: vec![key_column(rule)],
            notes: Vec::new(),
            parts: false,
        };
        KeyTracker::for_binding(&binding).expect("a tracker")
    }

    /// Keys `SKU-i` for the given `i`s, ordinals from 1; returns the tracker's candidates.
    fn candidates_of(keys: impl IntoIterator<Item = u64>) -> Vec<i64> {
        let mut tracker = tracker(TypeRule::Text { max_chars: None });
        for (ordinal, i) in (1..).zip(keys) {
            let key = format!("SKU-{i:07}");
            tracker.add_key(ordinal, |_| &key).expect("add");
        }
        tracker
            .into_candidates()
            .expect("read")
            .expect("candidates")
    }

    #[test]
    fn every_repeated_row_is_a_candidate_and_no_other() {
        // Past the in-memory limit, so partitions are spilled and read back.
        let n = HELD as u64 + 300_000;
        let repeats: Vec<u64> = (0..n).step_by(1000).collect();
        let found = candidates_of((0..n).chain(repeats.iter().copied()));
        // The first row of each repeated key (ordinal i + 1) and its repeat (after the n).
        let mut want: Vec<i64> = repeats.iter().map(|&i| i as i64 + 1).collect();
        want.extend((0..repeats.len() as i64).map(|j| n as i64 + 1 + j));
        want.sort_unstable();
        // 40 bits of hash: a false candidate among 2.4M keys is possible but rare.
        let extra = found.len() - want.len();
        assert!(extra <= 20, "{extra} false candidates");
        assert!(want.iter().all(|w| found.binary_search(w).is_ok()));
    }

    #[test]
    fn keys_in_any_order_and_all_repeating() {
        // Every key three times, scattered: every row is a candidate.
        let keys: Vec<u64> = (0..30_000u64).map(|i| (i * 7919) % 10_000).collect();
        assert_eq!(candidates_of(keys), (1..=30_000).collect::<Vec<i64>>());
        // All distinct, in reverse: none (a false one at most, by chance).
        assert!(candidates_of((0..100_000).rev()).len() <= 2);
    }

    #[test]
    fn too_many_candidates_leave_the_grouping_to_sql() {
        let mut keys = tracker(TypeRule::Text { max_chars: None });
        for ordinal in 1..=(MAX_CANDIDATES as u64 + 2) {
            keys.add_key(ordinal, |_| "same").expect("add");
        }
        assert_eq!(keys.into_candidates().expect("read"), None);
    }

    #[test]
    fn integer_keys_compare_by_value() {
        let mut keys = tracker(TypeRule::Int { bits: 32 });
        keys.add_key(1, |_| " 007").expect("add");
        keys.add_key(2, |_| "8").expect("add");
        keys.add_key(3, |_| "+7").expect("add");
        assert_eq!(keys.into_candidates().expect("read"), Some(vec![1, 3]));
        let mut keys = tracker(TypeRule::Int { bits: 32 });
        keys.add_key(1, |_| "x").expect("add");
        assert_eq!(keys.into_candidates().expect("read"), None);
        let date = Binding {
            header: vec!["id".into()],
            columns: vec![key_column(TypeRule::Date)],
            notes: Vec::new(),
            parts: false,
        };
        assert!(KeyTracker::for_binding(&date).is_none());
    }
}
