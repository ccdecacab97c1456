//! Every type rule on arbitrary text: never panics, answers the same twice, and for integers
//! agrees with exact arithmetic (PostgreSQL 15's int input: spaces, a sign, digits, range).
#![no_main]

use airlock::validate::types::{TypeRule, Verdict, check};
use libfuzzer_sys::fuzz_target;

fn rules() -> Vec<TypeRule> {
    vec![
        TypeRule::Text { max_chars: None },
        TypeRule::Text { max_chars: Some(0) },
        TypeRule::Text { max_chars: Some(5) },
        TypeRule::Int { bits: 16 },
        TypeRule::Int { bits: 32 },
        TypeRule::Int { bits: 64 },
        TypeRule::Numeric { typmod: None },
        TypeRule::Numeric {
            typmod: Some((10, 2)),
        },
        TypeRule::Numeric {
            typmod: Some((3, 3)),
        },
        TypeRule::Numeric {
            typmod: Some((5, -2)),
        },
        TypeRule::Float { bits: 32 },
        TypeRule::Float { bits: 64 },
        TypeRule::Bool,
        TypeRule::Date,
        TypeRule::Timestamp { tz: false },
        TypeRule::Timestamp { tz: true },
        TypeRule::Uuid,
        TypeRule::Json { binary: false },
        TypeRule::Json { binary: true },
        TypeRule::Server,
    ]
}

fn pg_int(value: &str, bits: u32) -> Option<i128> {
    let t = value.trim_matches([' ', '\t', '\n', '\u{0b}', '\u{0c}', '\r']);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = t.parse::<i128>().ok()?;
    let (lo, hi) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
    (lo..=hi).contains(&n).then_some(n)
}

fuzz_target!(|value: &str| {
    for rule in rules() {
        let verdict = check(&rule, value, "t");
        assert_eq!(verdict, check(&rule, value, "t"));
        if let Verdict::Reject(message) = &verdict {
            assert!(!message.is_empty());
        }
        if let TypeRule::Int { bits } = rule {
            match verdict {
                Verdict::Accept(_) => assert!(pg_int(value, bits).is_some(), "{value:?} accepted"),
                Verdict::Reject(_) => assert!(pg_int(value, bits).is_none(), "{value:?} refused"),
                Verdict::Unsure => {}
            }
        }
    }
});
