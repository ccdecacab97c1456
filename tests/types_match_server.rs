//! For each supported type, a table of tricky inputs: Airlock's verdict (Rust rules, with the
//! server deciding what they leave open) must equal what PostgreSQL itself does when the value
//! is cast and assigned to the column, as promotion will do.
mod common;

use airlock::validate::types::{self, TypeRule, Verdict};
use common::TestDb;

struct Case {
    column_type: &'static str,
    /// `CREATE TYPE`/`CREATE DOMAIN` needed first, if any.
    setup: &'static str,
    values: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        column_type: "smallint",
        setup: "",
        values: &[
            "0", "32767", "32768", "-32768", "-32769", " 42 ", "+5", "1.0", "1e3", "0x1F", "1_000",
            "", "abc", "٣", "--1", "+-1", "+", "12abc", "\t7\n",
        ],
    },
    Case {
        column_type: "integer",
        setup: "",
        values: &[
            "2147483647",
            "2147483648",
            "-2147483648",
            "-2147483649",
            " -7 ",
            "007",
            "0b101",
            "1 2",
            "99999999999999999999999999999999999999999",
        ],
    },
    Case {
        column_type: "bigint",
        setup: "",
        values: &[
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "1e10",
            "N/A",
        ],
    },
    Case {
        column_type: "numeric(10,2)",
        setup: "",
        values: &[
            "12.34",
            "12.345",
            "12.355",
            "-0.005",
            "99999999.99",
            "99999999.995",
            "99999999999.99",
            "1e5",
            "1e8",
            "1e7",
            ".5",
            "5.",
            "-.5",
            "NaN",
            "nan",
            "Infinity",
            "-inf",
            "+Infinity",
            "1e",
            "e5",
            "1.2.3",
            "N/A",
            "  3.5  ",
            "+0",
            "1E-2",
            "0.001",
            "1_000.5",
            "$5",
            "5,00",
            "",
            "0000000000000000000001.5",
            "-99999999.994",
        ],
    },
    Case {
        column_type: "numeric",
        setup: "",
        values: &[
            "Infinity",
            "-Infinity",
            "1e400",
            "1e-400",
            "1e131072",
            "123456789012345678901234567890.123",
            "NaN",
            "x",
        ],
    },
    Case {
        column_type: "numeric(4,-2)",
        setup: "",
        values: &["123456", "999949", "999950", "49", "-50", "1.5"],
    },
    Case {
        column_type: "numeric(3,5)",
        setup: "",
        values: &["0.00999", "0.01", "0.009994", "0.009995", "0"],
    },
    Case {
        column_type: "real",
        setup: "",
        values: &[
            "1.5",
            "3.4e38",
            "3.5e38",
            "1e-50",
            "1e-40",
            "NaN",
            "-Infinity",
            "1e",
            "abc",
            "0x1p3",
            " 2 ",
            "inf",
        ],
    },
    Case {
        column_type: "double precision",
        setup: "",
        values: &[
            "1e308",
            "1e309",
            "1e-400",
            "4.9e-324",
            "2.3e-308",
            "-0",
            ".5e1",
            "1.7976931348623157e308",
            "infinity",
            "-nan",
        ],
    },
    Case {
        column_type: "boolean",
        setup: "",
        values: &[
            "t", "true", "TRUE", " yes ", "on", "of", "off", "o", "1", "0", "2", "y", "ye", "yess",
            "", " f ", "tru", "nO", "oN", "10",
        ],
    },
    Case {
        column_type: "date",
        setup: "",
        values: &[
            "2023-02-28",
            "2023-02-29",
            "2024-02-29",
            "0000-01-01",
            "2023-13-01",
            "2023-1-5",
            "Jan 8 1999",
            "today",
            "epoch",
            "infinity",
            "N/A",
            "2023/01/05",
            "20230105",
            "10000-01-01",
            " 2023-01-01 ",
            "2023-00-10",
            "2023-04-31",
            "1999-12-31 BC",
        ],
    },
    Case {
        column_type: "timestamp",
        setup: "",
        values: &[
            "2023-01-01 12:00:00",
            "2023-01-01T12:00",
            "2023-01-01 24:00:00",
            "2023-01-01 23:59:60",
            "2023-01-01 25:00:00",
            "2023-01-01 12:00:00.1234567",
            "2023-01-01 12:00:00.123456",
            "2023-01-01 12:00:00+02",
            "yesterday",
            "2023-02-30 10:00:00",
            "garbage",
            "2023-01-01 12:60",
            "2023-01-01",
        ],
    },
    Case {
        column_type: "timestamp with time zone",
        setup: "",
        values: &[
            "2023-01-01 12:00:00Z",
            "2023-01-01T12:00:00+05:30",
            "2023-01-01 12:00:00-0800",
            "2023-01-01 12:00:00 PST",
            "2023-01-01 12:00:00+25",
            "now",
            "2023-01-01 12:00:00-08",
            "2023-02-29 12:00:00Z",
            "2023-01-01 12:00:00+05:3",
        ],
    },
    Case {
        column_type: "uuid",
        setup: "",
        values: &[
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "urn:uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ],
    },
    Case {
        column_type: "character varying(5)",
        setup: "",
        values: &[
            "abcde", "abcdef", "abc  ", "abcde   ", "ñandú", "ñandús", "", "ab cd e",
        ],
    },
    Case {
        column_type: "character(3)",
        setup: "",
        values: &["ab", "abc", "abcd", "abc   ", "x"],
    },
    Case {
        column_type: "json",
        setup: "",
        values: &[
            "{}",
            "[1,2",
            " {\"a\":1} ",
            "\"\\ud800\"",
            "1e400",
            "{\"a\":1,\"a\":2}",
            "nul",
            "NaN",
            "'x'",
            "\"\\u0000\"",
            "[1,]",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a\tb\"",
            "[1, 2] x",
        ],
    },
    Case {
        column_type: "jsonb",
        setup: "",
        values: &[
            "\"\\u0000\"",
            "\"\\ud800\"",
            "{\"a\":[1,2,{\"b\":null}]}",
            "1e400",
            "{",
            "true",
            "\"\\\\u0000\"",
        ],
    },
    Case {
        column_type: "text",
        setup: "",
        values: &[
            "anything",
            "back\\slash",
            "tab\there",
            "",
            "multi\nline",
            "\u{1F600}",
        ],
    },
    Case {
        column_type: "mood",
        setup: "CREATE TYPE mood AS ENUM ('red', 'green', 'blue');",
        values: &["red", "purple", "RED", ""],
    },
    Case {
        column_type: "posint",
        setup: "CREATE DOMAIN posint AS integer CHECK (VALUE > 0);",
        values: &["5", "-1", "x", "0"],
    },
    Case {
        column_type: "inet",
        setup: "",
        values: &["192.168.0.1", "999.1.1.1", "::1", "10.0.0.0/8", "host"],
    },
    Case {
        column_type: "integer[]",
        setup: "",
        values: &["{1,2}", "{1,a}", "1,2", "{}"],
    },
    Case {
        column_type: "interval",
        setup: "",
        values: &["1 day", "banana", "P1D", "01:02:03"],
    },
];

/// Whether PostgreSQL accepts `value` the way promotion will write it: cast from text to the
/// staging type, then assigned to the column.
async fn server_accepts(client: &mut tokio_postgres::Client, cast: &str, value: &str) -> bool {
    let tx = client.transaction().await.expect("tx");
    let ok = tx
        .execute(
            &format!("INSERT INTO probe (id, v) SELECT 0, $1::text::{cast}"),
            &[&value],
        )
        .await
        .is_ok();
    let _ = tx.rollback().await;
    ok
}

#[tokio::test]
async fn airlock_type_verdicts_equal_the_servers_casts() {
    let db = TestDb::empty().await;
    let mut client = db.client().await;
    let mut mismatches = Vec::new();
    let mut tried = 0;
    let mut printed_back = 0;
    for case in CASES {
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS probe; DROP TYPE IF EXISTS mood CASCADE; DROP DOMAIN IF EXISTS posint CASCADE; \
                 {setup} CREATE TABLE probe (id integer PRIMARY KEY, v {ty});",
                setup = case.setup,
                ty = case.column_type
            ))
            .await
            .expect("probe table");
        let cast: String = client
            .query_one(
                "SELECT CASE WHEN atttypid = 'varchar'::regtype THEN 'varchar' \
                             WHEN atttypid = 'bpchar'::regtype THEN 'bpchar' \
                             ELSE format_type(atttypid, atttypmod) END \
                 FROM pg_attribute WHERE attrelid = 'probe'::regclass AND attname = 'v'",
                &[],
            )
            .await
            .expect("type")
            .get(0);

        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(["id", "v"]).expect("csv");
        for (i, v) in case.values.iter().enumerate() {
            csv.write_record([(i + 1).to_string().as_str(), v])
                .expect("csv");
        }
        let file = db.write("probe.csv", csv.into_inner().expect("csv"));
        let spec = db.write(
            "probe.toml",
            "name = \"probe\"\ntarget = \"probe\"\n[source]\nnull = []\n[policy]\nmax_bad_fraction = 1.0\n",
        );
        let id = db.check(&spec, &file).await.expect("check");
        let rejected: Vec<i64> = client
            .query(
                &format!(
                    "SELECT DISTINCT ord FROM airlock_stage.batch_{id}_issues \
                     WHERE severity = 'error' ORDER BY ord"
                ),
                &[],
            )
            .await
            .expect("issues")
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        // The Rust rules alone: where they decide, they must decide as the server does
        // (the pipeline would also survive a wrong "accept", but it should not need to).
        let oid: u32 = client
            .query_one("SELECT 'probe'::regclass::oid", &[])
            .await
            .expect("oid")
            .get(0);
        let table = airlock::db::catalog::describe(&client, oid)
            .await
            .expect("describe");
        let col = table.column("v").expect("column v");
        let rule = TypeRule::for_column(col);
        // Every record reads back as the file has it, whether its field was staged, kept
        // beside its typed value, or left for the typed value to print back.
        let records: Vec<(i64, Option<String>)> = client
            .query(
                &format!("SELECT _ord, f2 FROM airlock_stage.batch_{id}_records ORDER BY _ord"),
                &[],
            )
            .await
            .expect("records")
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let expected: Vec<(i64, Option<String>)> = (1i64..)
            .zip(case.values.iter().map(|v| Some(v.to_string())))
            .collect();
        if records != expected {
            mismatches.push(format!(
                "{}: the records view reads {records:?}, the file has {expected:?}",
                case.column_type
            ));
        }
        for (i, v) in case.values.iter().enumerate() {
            tried += 1;
            let airlock_ok = !rejected.contains(&(i as i64 + 1));
            let server_ok = server_accepts(&mut client, &cast, v).await;
            let rust = match types::check(&rule, v, &col.type_sql) {
                Verdict::Accept(_) => Some(true),
                Verdict::Reject(_) => Some(false),
                Verdict::Unsure => None,
            };
            if rust.is_some_and(|r| r != server_ok) {
                mismatches.push(format!(
                    "{}: {v:?}: the Rust rule alone disagrees with the server",
                    case.column_type
                ));
            }
            if server_ok && rule.prints_as_given(col.type_oid, v) {
                printed_back += 1;
                let printed: String = client
                    .query_one(&format!("SELECT $1::text::{cast}::text"), &[v])
                    .await
                    .expect("print")
                    .get(0);
                if printed != *v {
                    mismatches.push(format!(
                        "{}: {v:?} is taken to print as given, the server prints {printed:?}",
                        case.column_type
                    ));
                }
            }
            if airlock_ok != server_ok {
                mismatches.push(format!(
                    "{}: {v:?}: airlock {}, server {}",
                    case.column_type,
                    if airlock_ok { "accepts" } else { "rejects" },
                    if server_ok { "accepts" } else { "rejects" }
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "verdicts differ from the server:\n{}",
        mismatches.join("\n")
    );
    assert!(tried >= 230, "only {tried} inputs tried");
    assert!(
        printed_back >= 20,
        "only {printed_back} values taken to print as given"
    );
}
