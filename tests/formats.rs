//! Values as partners write them — `1.299,00 €`, `15/03/2026`, `J`/`nein`, padded names,
//! `-` for nothing — read by the columns' parsing rules, each reported when a value does not
//! fit; and dates whose day and month the server's DateStyle would decide, never taken
//! silently one way.
mod common;

use airlock::db::{self, ConnectTarget};
use common::TestDb;

const TABLES: &str = "
    CREATE TYPE mood AS ENUM ('calm', 'busy');
    CREATE TABLE orders (id int PRIMARY KEY, price numeric(10,2), shipped date, at timestamp,
                         active boolean, name text, notes text);
    CREATE TABLE orders_enum (id int PRIMARY KEY, price numeric(10,2), shipped date, at timestamp,
                              active boolean, name text, notes text, kind mood);
    CREATE TABLE days (id int PRIMARY KEY, day date, at timestamp);";

const RULES: &str = r#"
[source]
delimiter = ";"
encoding  = "windows-1252"
[columns]
price   = { from = ["unit_price", "Unit Price"], decimal = ",", thousands = ".", currency = ["€", "EUR"] }
shipped = { date_format = "%d/%m/%Y" }
at      = { date_format = "%d/%m/%Y %H:%M" }
active  = { true = ["J", "ja"], false = ["N", "nein"] }
name    = { trim = true }
notes   = { null = ["-", "n/a"] }
[policy]
max_bad_fraction = 1
"#;

/// The European feed, as Windows-1252 bytes (`€` is 0x80 there).
fn european(with_kind: bool) -> Vec<u8> {
    let kind = |k: &str| {
        if with_kind {
            format!(";{k}")
        } else {
            String::new()
        }
    };
    let text = format!(
        "id;Unit Price;shipped;at;active;name;notes{}\n\
         1;1.299,00 €;15/03/2026;15/03/2026 14:05;J;  Hammer ;-{}\n\
         2;12,50;03/04/2026;01/02/2026 00:00;nein;Zange;gut{}\n\
         3;1.29,00;13/13/2026;15/03/2026 14:05;vielleicht;x;n/a{}\n\
         4;EUR 7;01/01/2026;31/12/2026 23:59;ja;Säge;-{}\n",
        kind("kind"),
        kind("calm"),
        kind("busy"),
        kind("calm"),
        kind("calm"),
    );
    encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
}

#[tokio::test]
async fn parsing_rules_read_a_european_feed_on_both_paths() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(TABLES)
        .await
        .expect("schema");
    for (target, with_kind) in [("public.orders", false), ("public.orders_enum", true)] {
        let spec = db.write(
            "eu.toml",
            format!("name = \"eu\"\ntarget = \"{target}\"\n{RULES}"),
        );
        let file = db.write("eu.csv", european(with_kind));
        let id = db
            .check(&spec, &file)
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let errors: Vec<(i64, Option<String>, String)> = db.errors(id).await;
        assert_eq!(
            errors,
            vec![
                (4, Some("active".into()), "type".into()),
                (4, Some("price".into()), "format".into()),
                (4, Some("shipped".into()), "format".into()),
            ],
            "{target}"
        );
        let messages = db.messages(id, "format").await;
        assert!(
            messages
                .iter()
                .any(|m| m == "'13/13/2026' is not a date in %d/%m/%Y"),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("'1.29,00' does not group thousands by three")),
            "{messages:?}"
        );
        let rows: Vec<String> = db
            .client()
            .await
            .query(
                &format!(
                    "SELECT concat_ws('|', id, price, shipped, at, active, name, coalesce(notes, 'NULL')) \
                     FROM airlock_stage.batch_{id}_rows ORDER BY id"
                ),
                &[],
            )
            .await
            .expect("rows")
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            rows,
            vec![
                "1|1299.00|2026-03-15|2026-03-15 14:05:00|t|Hammer|NULL",
                "2|12.50|2026-04-03|2026-02-01 00:00:00|f|Zange|gut",
                "4|7.00|2026-01-01|2026-12-31 23:59:00|t|Säge|NULL",
            ],
            "{target}"
        );
        // The summary says what the rules changed; the file's own text stays for the review
        // and the partner.
        let s = db.summary(id).await;
        let price = s
            .conversions
            .iter()
            .find(|c| c.column == "price")
            .expect("price conversions");
        assert_eq!(
            (price.rows, price.from.as_str(), price.to.as_str()),
            (3, "1.299,00 €", "1299.00")
        );
        assert_eq!(
            price.rules, "decimal = \",\", thousands = \".\", currency",
            "which rules did it"
        );
        // A column's own NULL markers count among its conversions too.
        let nulls: Vec<&airlock::stage::Conversion> =
            s.conversions.iter().filter(|c| c.to == "NULL").collect();
        assert!(
            nulls.iter().all(|c| c.rules.contains("null")) && !nulls.is_empty(),
            "{:?}",
            s.conversions
        );
        assert!(
            s.conversions
                .iter()
                .any(|c| c.column == "shipped" && c.rows == 3)
        );
        let client = db.client().await;
        let first = airlock::review::source_text(&client, id, 1)
            .await
            .expect("text");
        assert!(
            first.as_deref().is_some_and(|t| t.contains("1.299,00 ")),
            "{first:?}"
        );
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["show", &id.to_string()])
            .env("DATABASE_URL", db.url())
            .output()
            .expect("show");
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("Read by the [columns] rules"), "{shown}");
        assert!(shown.contains("e.g. '1.299,00 €' → 1299.00"), "{shown}");
    }
}

#[tokio::test]
async fn rules_that_cannot_apply_are_spec_errors() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(TABLES)
        .await
        .expect("schema");
    let file = db.write("x.csv", "id;price\n1;2\n");
    for (columns, key, says) in [
        (
            "name = { decimal = \",\" }",
            "columns.name.decimal",
            "read numbers",
        ),
        (
            "price = { date_format = \"%d/%m/%Y\" }",
            "columns.price.date_format",
            "reads dates",
        ),
        (
            "shipped = { date_format = \"%Q\" }",
            "columns.shipped.date_format",
            "is not a date format",
        ),
        (
            "price = { decimal = \",\", thousands = \",\" }",
            "columns.price.thousands",
            "differ",
        ),
        (
            "price = { decimal = \",,\" }",
            "columns.price.decimal",
            "one character",
        ),
        (
            "name = { true = [\"J\"] }",
            "columns.name.true",
            "read booleans",
        ),
        (
            "name = { trim = \"yes\" }",
            "columns.name.trim",
            "true or false",
        ),
        ("name = { round = 2 }", "columns.name.round", "unknown key"),
    ] {
        let spec = db.write(
            "bad.toml",
            format!("name = \"x\"\ntarget = \"public.orders\"\n[source]\ndelimiter = \";\"\n[columns]\n{columns}\n"),
        );
        let err = db.check(&spec, &file).await.expect_err(columns).to_string();
        assert!(
            err.contains(&format!("key `{key}`")) && err.contains(says),
            "{columns}: {err}"
        );
    }
}

/// A client whose session has `datestyle`.
async fn checked_under(
    db: &TestDb,
    datestyle: &str,
    spec: &std::path::Path,
    file: &std::path::Path,
) -> i64 {
    let target = ConnectTarget::resolve(Some(&format!(
        "{} options='-c DateStyle={datestyle}'",
        db.url()
    )))
    .expect("target");
    let mut client = db::connect(&target).await.expect("connect");
    let shown: String = client
        .query_one("SHOW DateStyle", &[])
        .await
        .expect("show")
        .get(0);
    let order = datestyle.split(',').nth(1).unwrap_or_default();
    assert!(shown.ends_with(order), "{shown}");
    let feed = airlock::feed::load(&client, spec).await.expect("feed");
    airlock::pipeline::check(&mut client, None, &feed, file, &Default::default())
        .await
        .expect("check")
}

#[tokio::test]
async fn a_date_the_datestyle_would_decide_is_never_read_silently() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(TABLES)
        .await
        .expect("schema");
    let client = db.client().await;
    // What the server itself would do with 03/04/2026: it depends on the setting.
    client
        .batch_execute("SET DateStyle = 'ISO, DMY'")
        .await
        .expect("dmy");
    let dmy: String = client
        .query_one("SELECT '03/04/2026'::date::text", &[])
        .await
        .expect("d")
        .get(0);
    client
        .batch_execute("SET DateStyle = 'ISO, MDY'")
        .await
        .expect("mdy");
    let mdy: String = client
        .query_one("SELECT '03/04/2026'::date::text", &[])
        .await
        .expect("d")
        .get(0);
    assert_ne!(dmy, mdy, "the server reads it two ways");
    let plain = db.write(
        "days.toml",
        "name = \"days\"\ntarget = \"public.days\"\n[policy]\nmax_bad_fraction = 1\n",
    );
    let file = db.write(
        "days.csv",
        "id,day,at\n\
         1,03/04/2026,2026-03-04 10:00\n\
         2,15/03/2026,2026-03-04 10:00\n\
         3,2026-03-04,03/04/2026 10:00\n\
         4,3.4.26,2026-03-04 10:00\n\
         5,2026-03-04,2026-03-04 10:00\n\
         6,2026/03/04,2026-03-04T10:00\n",
    );
    let mut seen = Vec::new();
    for style in ["ISO,DMY", "ISO,MDY", "SQL,DMY", "German,DMY", "ISO,YMD"] {
        let id = checked_under(&db, style, &plain, &file).await;
        let lines: Vec<(i64, Option<String>, String)> = db.errors(id).await;
        let rows: Vec<String> = db
            .client()
            .await
            .query(
                &format!("SELECT concat_ws('|', id, day, at) FROM airlock_stage.batch_{id}_rows ORDER BY id"),
                &[],
            )
            .await
            .expect("rows")
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        seen.push((lines, rows));
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "the result depends on DateStyle: {seen:?}"
    );
    let (lines, rows) = &seen[0];
    assert_eq!(
        lines
            .iter()
            .map(|(l, c, _)| (*l, c.clone().unwrap_or_default()))
            .collect::<Vec<_>>(),
        vec![
            (2, "day".into()),
            (3, "day".into()),
            (4, "at".into()),
            (5, "day".into())
        ]
    );
    assert_eq!(
        rows,
        &vec![
            "5|2026-03-04|2026-03-04 10:00:00",
            "6|2026-03-04|2026-03-04 10:00:00"
        ]
    );
    let messages = db.messages(1, "type").await;
    assert!(
        messages[0].contains("'03/04/2026' could be 3 April or 4 March")
            && messages[0].contains("date_format"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("'15/03/2026' is not an ISO date") && messages[1].contains("%d/%m/%Y"),
        "{messages:?}"
    );
    // With a date_format the same file reads one way, whatever the server's setting.
    let ruled = db.write(
        "ruled.toml",
        "name = \"days\"\ntarget = \"public.days\"\n[columns]\nday = { date_format = \"%d/%m/%Y\" }\n[policy]\nmax_bad_fraction = 1\n",
    );
    let file = db.write(
        "dmy.csv",
        "id,day,at\n1,03/04/2026,2026-03-04 10:00\n2,15/03/2026,2026-03-04 10:00\n",
    );
    for style in ["ISO,DMY", "ISO,MDY"] {
        let id = checked_under(&db, style, &ruled, &file).await;
        let days: Vec<String> = db
            .client()
            .await
            .query(
                &format!("SELECT day::text FROM airlock_stage.batch_{id}_rows ORDER BY id"),
                &[],
            )
            .await
            .expect("rows")
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(days, vec!["2026-04-03", "2026-03-15"], "{style}");
    }
}
