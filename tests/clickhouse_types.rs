//! For each ClickHouse type, a table of tricky inputs, judged by Airlock's rules and then by
//! the engine itself:
//! - a value Airlock accepts is sent as the text it gives, and the engine reads that text back
//!   exactly; where the engine can read the field as given, it reads what Airlock read;
//! - a value Airlock refuses is one the engine would refuse too, or store as something else
//!   without a word (`300` in a `UInt8` is stored as 44).
mod common;

use airlock::clickhouse::client::{ident, quote};
use airlock::clickhouse::types::{self, Judged};
use common::clickhouse::TestCh;

const CASES: &[(&str, &[&str])] = &[
    (
        "UInt8",
        &[
            "0", "255", "256", "300", "-1", "+7", "007", " 42 ", "1.0", "1e2", "abc", "0x1F",
            "1_000", "-0",
        ],
    ),
    (
        "Int8",
        &["-128", "127", "128", "-129", "-0", "+0", "--1", "+"],
    ),
    ("UInt16", &["65535", "65536"]),
    (
        "Int32",
        &[
            "2147483647",
            "2147483648",
            "-2147483648",
            "-2147483649",
            "12abc",
        ],
    ),
    ("UInt32", &["4294967295", "4294967296", "-5"]),
    (
        "Int64",
        &[
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
        ],
    ),
    (
        "UInt64",
        &[
            "18446744073709551615",
            "18446744073709551616",
            "00000000000000000000001",
        ],
    ),
    (
        "Int128",
        &[
            "170141183460469231731687303715884105727",
            "170141183460469231731687303715884105728",
            "-170141183460469231731687303715884105728",
        ],
    ),
    (
        "UInt256",
        &[
            "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "115792089237316195423570985008687907853269984665640564039457584007913129639936",
        ],
    ),
    (
        "Int256",
        &[
            "-57896044618658097711785492504343953926634992332820282019728792003956564819968",
            "-57896044618658097711785492504343953926634992332820282019728792003956564819969",
        ],
    ),
    (
        "Float64",
        &[
            "0",
            "1.5",
            "-2.25e10",
            "1e308",
            "1e309",
            "0.1",
            "inf",
            "-Infinity",
            "nan",
            "abc",
            "1,5",
            "0x10",
            ".5",
            "5.",
            "-0.0",
        ],
    ),
    (
        "Float32",
        &["3.4028235e38", "3.5e38", "0.1", "16777217", "1e-50"],
    ),
    (
        "Decimal(5, 2)",
        &[
            "1.5", "999.99", "1000", "999.995", "1.235", "-1.235", "1.2e2", "0.001", "-0.001",
            "abc", "1,50", "12.", ".5", "1e-3",
        ],
    ),
    (
        "Decimal(38, 10)",
        &[
            "12345678901234567890.0123456789",
            "1234567890123456789012345678.1",
            "0.00000000005",
        ],
    ),
    (
        "Decimal(76, 0)",
        &[
            "9999999999999999999999999999999999999999999999999999999999999999999999999999",
            "1.5",
        ],
    ),
    (
        "Decimal64(4)",
        &[
            "3.14159",
            "-0.00005",
            "99999999999999.9999",
            "100000000000000",
        ],
    ),
    (
        "String",
        &[
            "anything",
            "é ✓ 東京",
            " spaces ",
            "tab\there",
            "back\\slash",
        ],
    ),
    ("FixedString(3)", &["abc", "ab", "abcd", "é", "éé"]),
    (
        "Date",
        &[
            "2024-02-29",
            "2023-02-29",
            "1970-01-01",
            "1969-12-31",
            "2149-06-06",
            "2149-06-07",
            "2200-01-01",
            "24-01-01",
            "2024/01/01",
            "2024-1-1",
            "2024-13-01",
            "20240101",
            "2024-01-01 10:00:00",
        ],
    ),
    (
        "Date32",
        &[
            "1900-01-01",
            "1899-12-31",
            "2299-12-31",
            "2300-01-01",
            "1969-07-20",
        ],
    ),
    (
        "Bool",
        &[
            "true", "FALSE", "t", "F", "yes", "no", "y", "N", "on", "off", "1", "0", "enable",
            "disabled", "2", "maybe", "ja",
        ],
    ),
    (
        "UUID",
        &[
            "123e4567-e89b-12d3-a456-426614174000",
            "123E4567-E89B-12D3-A456-426614174000",
            "123e4567e89b12d3a456426614174000",
            "123e4567-e89b-12d3-a456-42661417400",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "not-a-uuid",
        ],
    ),
    (
        "IPv4",
        &[
            "192.168.0.1",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "01.2.3.4",
            "::1",
        ],
    ),
    (
        "IPv6",
        &[
            "::1",
            "2001:db8::ff00:42:8329",
            "2001:DB8::1",
            "::ffff:1.2.3.4",
            "1.2.3.4",
            "2001:db8::g",
            "12345::",
        ],
    ),
    (
        "Enum8('small' = 1, 'large' = 2)",
        &["small", "large", "Small", "1", "3", "medium"],
    ),
    (
        "Enum16('a b' = -1000, 'it\\'s' = 1000)",
        &["a b", "it's", "-1000", "a"],
    ),
    ("LowCardinality(String)", &["x", "yz"]),
    ("Nullable(UInt8)", &["5", "300"]),
];

/// The type a value is cast to: what `Nullable`/`LowCardinality` wrap.
fn inner(ty: &str) -> &str {
    let mut t = ty;
    for w in ["Nullable(", "LowCardinality("] {
        if let Some(rest) = t.strip_prefix(w) {
            t = rest.strip_suffix(')').unwrap_or(rest);
        }
    }
    t
}

fn tsv_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

#[tokio::test]
async fn clickhouse_reads_what_airlock_accepts_and_would_change_what_it_refuses() {
    let t = TestCh::new().await;
    let mut failures = Vec::new();
    let mut counted = (0, 0, 0);
    let mut noted = Vec::new();
    for (i, (ty, values)) in CASES.iter().enumerate() {
        let column = types::parse(ty);
        let cast_to = quote(inner(ty));
        let table = ident(&format!("t{i}"));
        t.exec(&format!("CREATE TABLE {table} (v {ty}) ENGINE = Memory"))
            .await;
        for value in values.iter().copied() {
            let read = |text: &str| {
                format!(
                    "SELECT accurateCastOrNull({}, {cast_to}) \
                     SETTINGS output_format_decimal_trailing_zeros = 1",
                    quote(text)
                )
            };
            let engine_reads = |rows: Vec<Vec<Option<String>>>| {
                rows.into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next().flatten())
            };
            match types::judge(&column, value) {
                Judged::Value(sent) | Judged::Changed(sent, _) => {
                    counted.0 += 1;
                    let back = engine_reads(t.rows(&read(&sent)).await);
                    if let Judged::Changed(_, note) = types::judge(&column, value) {
                        noted.push(format!("{ty} {value:?}: {}", note.message));
                    }
                    if back.as_deref() != Some(sent.as_str()) {
                        failures.push(format!(
                            "{ty} {value:?}: Airlock sends {sent:?}, the engine reads {back:?}"
                        ));
                    }
                    let given = engine_reads(t.rows(&read(value)).await);
                    let changed = matches!(types::judge(&column, value), Judged::Changed(..));
                    if !changed && given.is_some() && given != back {
                        failures.push(format!("{ty} {value:?}: Airlock reads {sent:?}, the engine reads the field as {given:?}"));
                    }
                }
                Judged::Reject(message) => {
                    counted.1 += 1;
                    t.exec(&format!("TRUNCATE TABLE {table}")).await;
                    let loaded = t
                        .ch
                        .insert(
                            &format!("INSERT INTO {table} FORMAT TabSeparated SETTINGS input_format_allow_errors_num = 0"),
                            [bytes::Bytes::from(format!("{}\n", tsv_escape(value)))],
                            "loading one value",
                        )
                        .await;
                    if loaded.is_ok() {
                        let stored =
                            engine_reads(t.rows(&format!("SELECT toString(v) FROM {table}")).await);
                        if stored.as_deref() == Some(value) {
                            failures.push(format!("{ty} {value:?}: Airlock refuses it ({message}), but the engine stores it as given"));
                        }
                    }
                }
                Judged::Engine => {
                    counted.2 += 1;
                    failures.push(format!(
                        "{ty} {value:?}: left to the engine, yet this type has rules of its own"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        counted.0 > 80 && counted.1 > 60,
        "accepted, refused, left: {counted:?}"
    );
    // What is stored other than it was written is said, and only that.
    assert_eq!(
        noted,
        [
            "Decimal(5, 2) \"1.235\": 1.235 will be stored as 1.24 (Decimal(5, 2) keeps 2 decimal places)",
            "Decimal(5, 2) \"-1.235\": -1.235 will be stored as -1.24 (Decimal(5, 2) keeps 2 decimal places)",
            "Decimal(5, 2) \"0.001\": 0.001 will be stored as 0.00 (Decimal(5, 2) keeps 2 decimal places)",
            "Decimal(5, 2) \"-0.001\": -0.001 will be stored as 0.00 (Decimal(5, 2) keeps 2 decimal places)",
            "Decimal(5, 2) \"1e-3\": 1e-3 will be stored as 0.00 (Decimal(5, 2) keeps 2 decimal places)",
            "Decimal(38, 10) \"0.00000000005\": 0.00000000005 will be stored as 0.0000000001 (Decimal(38, 10) keeps 10 decimal places)",
            "Decimal(76, 0) \"1.5\": 1.5 will be stored as 2 (Decimal(76, 0) keeps 0 decimal places)",
            "Decimal64(4) \"3.14159\": 3.14159 will be stored as 3.1416 (Decimal64(4) keeps 4 decimal places)",
            "Decimal64(4) \"-0.00005\": -0.00005 will be stored as -0.0001 (Decimal64(4) keeps 4 decimal places)",
            "FixedString(3) \"ab\": 'ab' is 2 bytes; FixedString(3) pads it with 1 zero byte",
            "FixedString(3) \"é\": 'é' is 2 bytes; FixedString(3) pads it with 1 zero byte",
        ]
    );
}

/// Without its zone's rules (the catalog reads them), a date-time is left to the engine, and
/// so are composites: `check` refuses such columns, naming them.
#[test]
fn unread_zones_and_composites_are_left_to_the_engine() {
    for ty in [
        "DateTime",
        "DateTime('Europe/Paris')",
        "DateTime64(3, 'UTC')",
        "Array(UInt8)",
        "Map(String, UInt8)",
    ] {
        assert_eq!(
            types::judge(&types::parse(ty), "2024-01-01 00:00:00"),
            Judged::Engine,
            "{ty}"
        );
    }
}

/// Why the rules exist: a plain `INSERT` of one partner row into ClickHouse stores four values
/// other than the partner wrote, and says nothing. Airlock refuses three and reports the fourth.
#[tokio::test]
async fn the_engine_alone_changes_values_without_a_word() {
    let t = TestCh::new().await;
    let columns = [
        ("a", "UInt8"),
        ("d", "Date"),
        ("x", "Decimal(5, 2)"),
        ("e", "Enum8('a' = 1)"),
    ];
    let defs: Vec<String> = columns.iter().map(|(c, ty)| format!("{c} {ty}")).collect();
    t.exec(&format!(
        "CREATE TABLE w ({}) ENGINE = Memory",
        defs.join(", ")
    ))
    .await;
    let row = ["300", "2200-01-01", "1.239", "1"];
    t.ch.insert(
        "INSERT INTO w FORMAT TabSeparated",
        [bytes::Bytes::from(format!("{}\n", row.join("\t")))],
        "loading",
    )
    .await
    .expect("the engine takes the row");
    let stored = t.rows("SELECT * FROM w").await;
    assert_eq!(
        stored,
        vec![vec![
            Some("44".into()),
            Some("2149-06-06".into()),
            Some("1.23".into()),
            Some("a".into())
        ]]
    );
    let judged: Vec<Judged> = columns
        .iter()
        .zip(row)
        .map(|((_, ty), v)| types::judge(&types::parse(ty), v))
        .collect();
    assert!(
        matches!(&judged[0], Judged::Reject(m) if m == "300 is out of range for UInt8 (0 to 255)"),
        "{judged:?}"
    );
    assert!(
        matches!(&judged[1], Judged::Reject(m) if m == "2200-01-01 is out of range for Date (1970-01-01 to 2149-06-06)"),
        "{judged:?}"
    );
    assert!(
        matches!(&judged[2], Judged::Changed(v, n) if v == "1.24" && n.check == "rounded"),
        "{judged:?}"
    );
    assert!(
        matches!(&judged[3], Judged::Reject(m) if m.contains("is not one of")),
        "{judged:?}"
    );
}

/// Date-times on the engine, in zones with and without summer time (New York, Berlin, Lord
/// Howe's half hour, Kolkata, UTC, the server's own): each value Airlock accepts it sends as
/// its instant in UTC, which the engine reads back exactly, means what the engine reads the
/// field as where the engine can read it at all, and lands in the zoned column as the wall
/// time written; each one it refuses the engine would store as another instant (a time the
/// clocks skip, one out of range, digits the type drops) or as one of two (a time the clocks
/// repeat), without a word.
#[tokio::test]
async fn date_times_mean_what_the_partner_wrote_in_the_columns_zone() {
    let t = TestCh::new().await;
    let zones: &[(&str, &[&str])] = &[
        (
            "'America/New_York'",
            &[
                "2026-03-08 02:30:00",
                "2026-11-01 01:30:00",
                "2026-11-01 01:30:00-04:00",
            ],
        ),
        (
            "'Europe/Berlin'",
            &[
                "2026-03-29 02:00:00",
                "2026-03-29 03:00:00",
                "2026-10-25 02:59:59",
                "2026-10-25 03:00:00",
                "1916-05-01 00:30:00",
            ],
        ),
        (
            "'Australia/Lord_Howe'",
            &[
                "2026-10-04 02:15:00",
                "2026-04-05 01:45:00",
                "2026-04-05 02:00:00",
            ],
        ),
        (
            "'Asia/Kolkata'",
            &["2026-07-15 10:00:00", "1945-10-15 00:00:00"],
        ),
        ("'UTC'", &["2026-03-29 02:30:00"]),
        ("", &["2026-03-29 02:30:00"]),
    ];
    let common: &[&str] = &[
        "2026-07-15 10:00:00",
        "2026-07-15T10:00",
        "2026-01-15",
        "2026-07-15 10:00:00Z",
        "2026-07-15 10:00:00+05:30",
        "2026-07-15 10:00:00.5",
        "2026-07-15 10:00:00.123456",
        "2026-07-15 10:00:00.1230",
        "1969-12-31 12:00:00",
        "1970-01-01 00:00:00Z",
        "2106-02-07 06:28:15Z",
        "2106-02-07 06:28:16Z",
        "2150-01-01 00:00:00",
        "1901-06-01 00:00:00",
        "2026-02-30 10:00:00",
        "15.07.2026 10:00",
    ];
    let mut failures = Vec::new();
    let mut counted = (0, 0);
    for (z, (zone, extra)) in zones.iter().enumerate() {
        let types = [None, Some(3), Some(6)];
        let defs: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let args = match (p, zone.is_empty()) {
                    (None, true) => String::new(),
                    (None, false) => format!("({zone})"),
                    (Some(p), true) => format!("({p})"),
                    (Some(p), false) => format!("({p}, {zone})"),
                };
                let ty = if p.is_some() {
                    "DateTime64"
                } else {
                    "DateTime"
                };
                format!("c{i} Nullable({ty}{args})")
            })
            .collect();
        let table = format!("z{z}");
        t.exec(&format!(
            "CREATE TABLE {table} ({}) ENGINE = Memory",
            defs.join(", ")
        ))
        .await;
        let described = airlock::clickhouse::catalog::describe(&t.ch, &table)
            .await
            .expect("describe");
        for (i, column) in described.columns.iter().enumerate() {
            assert!(
                column.ty.zone.is_some(),
                "{}: the zone was read",
                column.ty.text
            );
            let zone_name = column
                .ty
                .zone
                .as_ref()
                .map(|z| z.name.clone())
                .unwrap_or_default();
            let precision = types[i];
            let staged = match precision {
                None => "DateTime('UTC')".to_string(),
                Some(p) => format!("DateTime64({p}, 'UTC')"),
            };
            let engine_parse = |v: &str| match precision {
                None => format!(
                    "parseDateTimeBestEffortOrNull({}, {})",
                    quote(v),
                    quote(&zone_name)
                ),
                Some(p) => format!(
                    "parseDateTime64BestEffortOrNull({}, {p}, {})",
                    quote(v),
                    quote(&zone_name)
                ),
            };
            for value in common.iter().chain(extra.iter()).copied() {
                let one = |sql: String| {
                    let t = &t;
                    async move {
                        t.rows(&sql)
                            .await
                            .into_iter()
                            .next()
                            .and_then(|r| r.into_iter().next().flatten())
                    }
                };
                let what = format!("{} {value:?}", column.ty.text);
                match types::judge(&column.ty, value) {
                    Judged::Value(sent) => {
                        counted.0 += 1;
                        let back = one(format!(
                            "SELECT toString(accurateCastOrNull({}, {}))",
                            quote(&sent),
                            quote(&staged)
                        ))
                        .await;
                        if back.as_deref() != Some(sent.as_str()) {
                            failures.push(format!("{what}: sent {sent:?}, read back {back:?}"));
                        }
                        let meant =
                            one(format!("SELECT toString({}, 'UTC')", engine_parse(value))).await;
                        if meant.is_some() && meant.as_deref() != Some(sent.as_str()) {
                            failures.push(format!(
                                "{what}: Airlock reads {sent:?}, the engine {meant:?}"
                            ));
                        }
                        // Through the staged column into the zoned one, as a promotion does.
                        let col = format!("c{i}");
                        t.exec(&format!("TRUNCATE TABLE {table}")).await;
                        t.exec(&format!(
                            "INSERT INTO {table} ({col}) SELECT CAST({}, {})",
                            quote(&sent),
                            quote(&staged)
                        ))
                        .await;
                        let instant =
                            one(format!("SELECT toString({col}, 'UTC') FROM {table}")).await;
                        if instant.as_deref() != Some(sent.as_str()) {
                            failures.push(format!("{what}: promoted as {instant:?}, not {sent:?}"));
                        }
                        let wall = one(format!("SELECT toString({col}) FROM {table}"))
                            .await
                            .unwrap_or_default();
                        let written = value.replace('T', " ");
                        let naive = !value.ends_with('Z') && !value[10..].contains(['+', '-']);
                        if naive && written.len() >= 16 && !wall.starts_with(&written[..16]) {
                            failures.push(format!("{what}: the column shows {wall:?}"));
                        }
                    }
                    Judged::Reject(message) => {
                        counted.1 += 1;
                        let col = format!("c{i}");
                        t.exec(&format!("TRUNCATE TABLE {table}")).await;
                        let loaded =
                            t.ch.insert(
                                &format!("INSERT INTO {table} ({col}) FORMAT TabSeparated"),
                                [bytes::Bytes::from(format!("{value}\n"))],
                                "loading one value",
                            )
                            .await;
                        if loaded.is_err() {
                            continue;
                        }
                        let stored = one(format!("SELECT toString({col}) FROM {table}"))
                            .await
                            .unwrap_or_default();
                        let written = value.replace('T', " ");
                        if message.contains("happens twice") {
                            // The engine took one of the two instants it could mean.
                            let utc =
                                one(format!("SELECT toString({col}, 'UTC') FROM {table}")).await;
                            let offset = one(format!("SELECT timeZoneOffset({col}) FROM {table}"))
                                .await
                                .unwrap_or_default();
                            let secs: i64 = offset.parse().unwrap_or_default();
                            let shown = format!(
                                "{}{:02}:{:02}",
                                if secs < 0 { '-' } else { '+' },
                                secs.abs() / 3600,
                                secs.abs() % 3600 / 60
                            );
                            if !message.contains(&shown) || utc.is_none() {
                                failures.push(format!(
                                    "{what}: refused ({message}), the engine took offset {shown}"
                                ));
                            }
                        } else if stored.starts_with(&written)
                            && stored.len() == written.len().max(stored.len())
                            && stored == written
                        {
                            failures.push(format!(
                                "{what}: refused ({message}), but the engine stores it as given"
                            ));
                        }
                    }
                    other => failures.push(format!("{what}: {other:?}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        counted.0 > 150 && counted.1 > 80,
        "accepted, refused: {counted:?}"
    );
}
