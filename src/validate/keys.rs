//! Duplicate keys, found while the file streams: a Bloom filter over the canonical key of
//! every good row remembers what was seen in a fixed amount of memory; a key it has (probably)
//! seen before becomes a candidate. SQL then confirms the candidates over the typed rows — a
//! join against a handful of keys instead of grouping every row. False positives only make
//! the candidate list a little longer; a key that repeats is never missed.
use super::binding::{BPCHAR_OID, Binding};
use super::types::TypeRule;
use std::hash::{BuildHasher, Hash, Hasher};

/// Beyond this many candidates the filter is not worth it: SQL groups every row instead.
const MAX_CANDIDATES: usize = 200_000;
const MIN_BITS: u64 = 1 << 20;
/// 16 MB: a false positive rate under 1% at five million keys.
const MAX_BITS: u64 = 1 << 27;
/// Bits set per key.
const HASHES: u64 = 4;

#[derive(Clone, Copy)]
enum Canon {
    /// Text compares byte for byte: the value is its own canonical form.
    Text,
    /// Integers compare by value: ` 007` and `7` are the same key.
    Int,
}

pub struct KeyTracker {
    bits: Vec<u64>,
    mask: u64,
    hasher: std::hash::RandomState,
    canon: Vec<Canon>,
    /// Index into the record's fields of each key column.
    fields: Vec<usize>,
    /// One list per key column, as text the server compares with `key::text`.
    candidates: Vec<Vec<String>>,
    overflow: bool,
}

impl KeyTracker {
    /// A tracker sized for a file of `file_bytes`; `None` when the key's types have no simple
    /// canonical text form (those files are grouped in SQL).
    pub fn for_binding(binding: &Binding, file_bytes: u64) -> Option<Self> {
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
        // A bit per four bytes of file: 16 per key for 64-byte records. Small
        // enough to stay in cache, which is what makes the filter cheap.
        let bits = (file_bytes / 4)
            .clamp(MIN_BITS, MAX_BITS)
            .next_power_of_two();
        let words = bits / 64;
        Some(Self {
            bits: vec![0; words as usize],
            mask: words - 1,
            hasher: std::hash::RandomState::new(),
            candidates: vec![Vec::new(); canon.len()],
            canon,
            fields,
            overflow: false,
        })
    }

    /// Notes one good row's key; `field` gives the record's field at an index. Nothing is
    /// allocated unless the key may repeat: this runs for every row.
    pub fn add_key<'a>(&mut self, field: impl Fn(usize) -> &'a str) {
        if self.overflow {
            return;
        }
        let mut hasher = self.hasher.build_hasher();
        for (&index, canon) in self.fields.iter().zip(&self.canon) {
            let value = field(index);
            match canon {
                Canon::Text => value.hash(&mut hasher),
                Canon::Int => match super::types::pg_int(value) {
                    Some(n) => n.hash(&mut hasher),
                    // Not an integer after all: let SQL group every row.
                    None => {
                        self.overflow = true;
                        return;
                    }
                },
            }
        }
        let hash = hasher.finish();
        // A blocked filter: the key's bits all sit in one 64-bit word, so each key costs one
        // cache miss instead of one per bit.
        let word = ((hash >> 32) & self.mask) as usize;
        let mut mask = 0u64;
        for i in 0..HASHES {
            mask |= 1u64 << ((hash >> (6 * i)) & 63);
        }
        let seen = self.bits[word] & mask == mask;
        self.bits[word] |= mask;
        if seen {
            for ((list, &index), canon) in self
                .candidates
                .iter_mut()
                .zip(&self.fields)
                .zip(&self.canon)
            {
                let value = field(index);
                list.push(match canon {
                    Canon::Text => value.to_string(),
                    // Already parsed above; as the server prints it, for `key::text`.
                    Canon::Int => super::types::pg_int(value).unwrap_or_default().to_string(),
                });
            }
            if self.candidates[0].len() > MAX_CANDIDATES {
                self.overflow = true;
                self.candidates = Vec::new();
            }
        }
    }

    /// The candidate keys (one list per key column), or `None` when SQL must group every row.
    pub fn into_candidates(self) -> Option<Vec<Vec<String>>> {
        (!self.overflow).then_some(self.candidates)
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
        KeyTracker::for_binding(&binding, 10_000_000).expect("a tracker")
    }

    #[test]
    fn every_repeat_is_a_candidate_and_false_ones_are_few() {
        let mut keys = tracker(TypeRule::Text { max_chars: None });
        for i in 0..200_000 {
            let key = format!("SKU-{i:07}");
            keys.add_key(|_| &key);
        }
        for i in (0..200_000).step_by(1000) {
            let key = format!("SKU-{i:07}");
            keys.add_key(|_| &key);
        }
        let candidates = keys.into_candidates().expect("candidates");
        let repeats: Vec<String> = (0..200_000)
            .step_by(1000)
            .map(|i| format!("SKU-{i:07}"))
            .collect();
        assert!(repeats.iter().all(|r| candidates[0].contains(r)));
        assert!(candidates[0].len() < 200 + 2_000, "{}", candidates[0].len());
    }

    #[test]
    fn integer_keys_compare_by_value() {
        let mut keys = tracker(TypeRule::Int { bits: 32 });
        keys.add_key(|_| " 007");
        keys.add_key(|_| "+7");
        assert_eq!(keys.into_candidates(), Some(vec![vec!["7".to_string()]]));
        let text = Binding {
            header: vec!["id".into()],
            columns: vec![key_column(TypeRule::Date)],
            notes: Vec::new(),
            parts: false,
        };
        assert!(KeyTracker::for_binding(&text, 100).is_none());
    }
}
