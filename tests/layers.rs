//! Each validation layer on its own: NOT NULL, CHECK constraints, foreign keys, lookups,
//! duplicate keys under each policy, the spec's rules, warnings, server-checked types,
//! file-level policy, and odd identifiers.
mod common;

use common::{PRODUCTS_SPEC, TestDb};

fn e(line: i64, column: Option<&str>, check: &str) -> (i64, Option<String>, String) {
    (line, column.map(str::to_string), check.to_string())
}

const HEADER: &str = "sku,name,price,category\n";

#[tokio::test]
async fn constraints_of_the_target_are_checked_without_touching_it() {
    let db = TestDb::with_catalog().await;
    // Direct category_id (no lookup): the target's foreign key is checked instead.
    let spec = db.write("feed.toml", "name = \"p\"\ntarget = \"products\"\n");
    let file = db.write(
        "feed.csv",
        "sku,name,price,category_id\n\
         SKU-0000201,,1.00,1\n\
         SKU-0000202,B,-0.01,1\n\
         SKU-0000203,C,2.00,99\n\
         SKU-0000204,D,,1\n\
         SKU-0000205,E,3.00,\n",
    );
    let before = db.table_hash("products").await;
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![
            e(2, Some("name"), "not_null"),
            e(3, Some("price"), "check_constraint"),
            e(4, Some("category_id"), "foreign_key"),
            e(5, Some("price"), "not_null"),
        ]
    );
    let msgs = db.messages(id, "check_constraint").await;
    assert!(msgs[0].contains("products_price_check"), "{msgs:?}");
    let msgs = db.messages(id, "foreign_key").await;
    assert_eq!(
        msgs[0],
        "99 is not in public.categories(category_id) (products_category_id_fkey)"
    );
    assert_eq!(db.summary(id).await.rows.good, 1);
    assert_eq!(db.table_hash("products").await, before);
}

#[tokio::test]
async fn duplicate_keys_follow_the_policy() {
    let db = TestDb::with_catalog().await;
    let file = db.write(
        "feed.csv",
        format!("{HEADER}SKU-0000201,first,1.00,Tools\nSKU-0000202,other,1.00,Tools\nSKU-0000201,second,2.00,Tools\nSKU-0000201,third,3.00,Tools\n"),
    );
    let spec = db.write("q.toml", PRODUCTS_SPEC);
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![
            e(2, Some("sku"), "duplicate_key"),
            e(4, Some("sku"), "duplicate_key"),
            e(5, Some("sku"), "duplicate_key")
        ]
    );
    assert_eq!(
        db.messages(id, "duplicate_key").await[0],
        "the key appears on 3 rows (lines 2, 4, 5)"
    );
    assert_eq!(db.typed_names(id).await, vec!["other"]);

    let spec = db.write(
        "l.toml",
        format!("{PRODUCTS_SPEC}[policy]\nduplicate_keys = \"last\"\n"),
    );
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.errors(id).await, vec![]);
    assert_eq!(
        db.issues(id, "superseded").await,
        vec![
            e(2, Some("sku"), "duplicate_key"),
            e(4, Some("sku"), "duplicate_key")
        ]
    );
    assert!(db.messages(id, "duplicate_key").await[0].starts_with("superseded by line 5"));
    assert_eq!(db.typed_names(id).await, vec!["third", "other"]);
    let s = db.summary(id).await;
    assert_eq!(
        (s.rows.good, s.rows.quarantined, s.rows.superseded),
        (2, 0, 2)
    );

    let spec = db.write(
        "f.toml",
        format!("{PRODUCTS_SPEC}[policy]\nduplicate_keys = \"first\"\n"),
    );
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.typed_names(id).await, vec!["first", "other"]);
}

#[tokio::test]
async fn check_constraints_and_duplicate_keys_read_alike_either_way() {
    let db = TestDb::with_catalog().await;
    // An integer key: the load names the keys that may repeat, and one statement reads the
    // typed rows for the constraints and the duplicates. A numeric key: the constraints are
    // read alone, and every row is grouped.
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE by_int (code integer PRIMARY KEY, name text NOT NULL, price numeric,
                 CHECK (price >= 0), CHECK (price < 1000), CONSTRAINT no_x CHECK (name <> 'X'));
             CREATE TABLE by_numeric (LIKE by_int INCLUDING CONSTRAINTS,
                 PRIMARY KEY (code));
             ALTER TABLE by_numeric ALTER COLUMN code TYPE numeric;",
        )
        .await
        .expect("tables");
    let file = db.write(
        "feed.csv",
        "code,name,price\n\
         1,A,10\n\
         2,X,5000\n\
         3,B,-1\n\
         3,C,20\n\
         4,D,30\n\
         4,E,40\n\
         5,X,50\n",
    );
    let mut outcomes = Vec::new();
    for table in ["by_int", "by_numeric"] {
        let spec = db.write(
            "feed.toml",
            format!("name = \"t\"\ntarget = \"{table}\"\n[policy]\nmax_bad_fraction = 1.0\n"),
        );
        let id = db.check(&spec, &file).await.expect("check");
        let errors = db.errors(id).await;
        let messages = db.messages(id, "check_constraint").await;
        let good = db.typed_names_by(id, "code").await;
        outcomes.push((errors, messages.len(), good));
    }
    // Line 3 breaks two constraints: both are reported. Line 4 breaks one, so its key's
    // other row (line 5) is no duplicate; lines 6 and 7 are.
    assert_eq!(
        outcomes[0].0,
        vec![
            e(3, Some("name"), "check_constraint"),
            e(3, Some("price"), "check_constraint"),
            e(4, Some("price"), "check_constraint"),
            e(6, Some("code"), "duplicate_key"),
            e(7, Some("code"), "duplicate_key"),
            e(8, Some("name"), "check_constraint"),
        ]
    );
    assert_eq!(outcomes[0].1, 4);
    assert_eq!(outcomes[0].2, vec!["A", "C"]);
    assert_eq!(outcomes[0], outcomes[1], "the same either way");
}

/// A key of two columns repeats only as a whole (` 1` is `1` in the number part), and a row
/// a CHECK constraint sets aside is nobody's duplicate, whether the load names the keys that
/// may repeat (text and integer parts) or every row is grouped (a numeric part).
#[tokio::test]
async fn composite_keys_repeat_only_as_a_whole() {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE by_pair (region text, code integer,
                 name text NOT NULL CHECK (name <> 'X'), PRIMARY KEY (region, code));
             CREATE TABLE by_pair_numeric (region text, code numeric,
                 name text NOT NULL CHECK (name <> 'X'), PRIMARY KEY (region, code));",
        )
        .await
        .expect("tables");
    let file = db.write(
        "feed.csv",
        "region,code,name\neu,1,a\nus,1,b\neu,2,c\neu, 1,d\nus,2,X\nus,2,e\n",
    );
    for table in ["by_pair", "by_pair_numeric"] {
        let spec = db.write(
            "feed.toml",
            format!("name = \"t\"\ntarget = \"{table}\"\n[policy]\nmax_bad_fraction = 1.0\n"),
        );
        let id = db.check(&spec, &file).await.expect("check");
        assert_eq!(
            db.errors(id).await,
            vec![
                e(2, Some("region, code"), "duplicate_key"),
                e(5, Some("region, code"), "duplicate_key"),
                e(6, Some("name"), "check_constraint"),
            ],
            "{table}"
        );
        assert_eq!(
            db.typed_names_by(id, "name").await,
            vec!["b", "c", "e"],
            "{table}"
        );
    }
}

#[tokio::test]
async fn spec_rules_are_applied() {
    let db = TestDb::with_catalog().await;
    let spec = db.write(
        "feed.toml",
        format!(
            "{PRODUCTS_SPEC}[checks]\nprice = {{ min = 1, max = 100 }}\nsku = {{ pattern = '^SKU-[0-9]{{7}}$' }}\n\
             name = {{ max_length = 5 }}\ncategory_id = {{ one_of = [\"Tools\", \"Garden\"] }}\n\
             [policy]\nmax_bad_fraction = 1.0\n"
        ),
    );
    let file = db.write(
        "feed.csv",
        format!(
            "{HEADER}SKU-0000201,ok,50,Tools\nSKU-0000202,ok,0.5,Tools\nSKU-0000203,ok,101,Tools\n\
             SKU-204,ok,50,Tools\nSKU-0000205,toolong,50,Tools\nSKU-0000206,ok,50,Kitchen\nSKU-0000207,ok,NaN,Tools\n"
        ),
    );
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![
            e(3, Some("price"), "min"),
            e(4, Some("price"), "max"),
            e(5, Some("sku"), "pattern"),
            e(6, Some("name"), "max_length"),
            e(7, Some("category_id"), "one_of"),
            e(8, Some("price"), "min"),
        ]
    );
    assert_eq!(
        db.messages(id, "max").await[0],
        "101 is above the maximum 100"
    );
}

#[tokio::test]
async fn surprising_values_are_flagged() {
    let db = TestDb::with_catalog().await;
    let spec = db.write("feed.toml", PRODUCTS_SPEC);
    let file = db.write(
        "feed.csv",
        format!("{HEADER}SKU-0000201,a,12.345,Tools\nSKU-0000202,b,NaN,Tools\nSKU-0000203,c,1.50,Tools\n"),
    );
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.errors(id).await, vec![]);
    assert_eq!(
        db.issues(id, "warning").await,
        vec![
            e(2, Some("price"), "rounded"),
            e(3, Some("price"), "not_a_number")
        ]
    );
    assert_eq!(
        db.messages(id, "rounded").await[0],
        "12.345 will be stored as 12.35 (numeric(10,2) keeps 2 decimal places)"
    );
    let s = db.summary(id).await;
    assert_eq!(s.verdict.map(|v| v.as_str()), Some("review"));
    assert_eq!((s.rows.good, s.rows.warned), (3, 2));
}

#[tokio::test]
async fn file_level_policy_breaches_make_the_verdict_abort() {
    let db = TestDb::with_catalog().await;
    let file = db.write(
        "feed.csv",
        format!("{HEADER}SKU-0000201,a,1,Tools\nSKU-0000202,b,N/A,Tools\nSKU-0000203,c,x,Tools\nSKU-0000204,d,1,Tools\n"),
    );
    let spec = db.write(
        "rows.toml",
        format!("{PRODUCTS_SPEC}[policy]\nmax_bad_rows = 1\nmax_bad_fraction = 1.0\n"),
    );
    let s = db
        .summary(db.check(&spec, &file).await.expect("check"))
        .await;
    assert_eq!(s.verdict.map(|v| v.as_str()), Some("abort"));
    assert_eq!(
        s.breaches,
        vec!["2 quarantined rows, more than max_bad_rows = 1"]
    );

    let spec = db.write(
        "frac.toml",
        format!("{PRODUCTS_SPEC}[policy]\nmax_bad_fraction = 0.25\n"),
    );
    let s = db
        .summary(db.check(&spec, &file).await.expect("check"))
        .await;
    assert_eq!(s.verdict.map(|v| v.as_str()), Some("abort"));
    assert!(
        s.breaches[0].starts_with("50.0% of rows quarantined (2 of 4)"),
        "{:?}",
        s.breaches
    );

    // Swap mode: 2 good rows would replace 100 in production.
    let swap = PRODUCTS_SPEC.replacen("[columns]", "mode = \"swap\"\n[columns]", 1);
    let spec = db.write(
        "swap.toml",
        format!("{swap}[policy]\nmax_bad_fraction = 1.0\n"),
    );
    let s = db
        .summary(db.check(&spec, &file).await.expect("check"))
        .await;
    assert_eq!(s.plan.delete, 100);
    assert_eq!(s.verdict.map(|v| v.as_str()), Some("abort"));
    assert!(
        s.breaches[0].contains("from 100 to 2 rows"),
        "{:?}",
        s.breaches
    );
}

#[tokio::test]
async fn server_checked_types_and_odd_identifiers() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(
            "CREATE SCHEMA \"Odd.Schema\";
             CREATE TYPE \"Odd.Schema\".colour AS ENUM ('red', 'green');
             CREATE TABLE \"Odd.Schema\".\"we\"\"ird\" (
                 \"Key Col\" integer PRIMARY KEY,
                 \"select\" \"Odd.Schema\".colour NOT NULL,
                 addr inet);",
        )
        .await
        .expect("schema");
    let spec = db.write(
        "feed.toml",
        "name = \"odd\"\ntarget = '\"Odd.Schema\".\"we\"\"ird\"'\n[columns]\n\"Key Col\" = \"id\"\n",
    );
    let file = db.write(
        "feed.csv",
        "id,select,addr\n1,red,10.0.0.1\n2,purple,10.0.0.2\n3,green,999.0.0.1\n4,red,\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(
        db.errors(id).await,
        vec![e(3, Some("select"), "type"), e(4, Some("addr"), "type")]
    );
    let msgs = db.messages(id, "type").await;
    assert_eq!(
        msgs[0],
        "invalid input value for enum \"Odd.Schema\".colour: \"purple\""
    );
    let s = db.summary(id).await;
    assert_eq!(s.target, "Odd.Schema.we\"ird");
    assert_eq!((s.rows.good, s.plan.insert), (2, 2));
}

/// Rows whose values only the server can judge join the rows written during the load; an
/// integer key compares by value (` 7` and `7` are one key), and a lookup table too large
/// to hold in memory is joined in SQL with the same result.
#[tokio::test]
async fn undecided_values_and_keys_by_value() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE kinds (kind_id integer PRIMARY KEY, label text NOT NULL);
             INSERT INTO kinds SELECT i, 'k' || i FROM generate_series(1, 3) i;
             CREATE TABLE events (id integer PRIMARY KEY, day date NOT NULL, n integer,
                                  kind_id integer REFERENCES kinds);",
        )
        .await
        .expect("schema");
    let spec_text = "name = \"ev\"\ntarget = \"events\"\n\
        [columns]\nkind_id = { lookup = \"kinds\", match = \"label\", value = \"kind_id\", from = \"kind\" }\n";
    let spec = db.write("feed.toml", spec_text);
    let file = db.write(
        "feed.csv",
        "id,day,n,kind\n1,epoch,5,k1\n2,2024-01-02,0x1F,k2\n 7,2024-01-03,7,k3\n7,2024-01-04,8,k1\n\
         9,2024-01-05,9,kx\n10,yesterday-ish,1,k1\n11,2024-01-06,,k2\n",
    );
    let expect_errors = vec![
        e(3, Some("n"), "type"),
        e(4, Some("id"), "duplicate_key"),
        e(5, Some("id"), "duplicate_key"),
        e(6, Some("kind_id"), "lookup"),
        e(7, Some("day"), "type"),
    ];
    let rows = |id: i64| {
        let db = &db;
        async move {
            db.client()
                .await
                .query(
                    &format!(
                        "SELECT id, day::text, n, kind_id FROM airlock_stage.batch_{id}_rows ORDER BY id"
                    ),
                    &[],
                )
                .await
                .expect("rows")
                .into_iter()
                .map(|r| {
                    let t: (i32, String, Option<i32>, Option<i32>) =
                        (r.get(0), r.get(1), r.get(2), r.get(3));
                    t
                })
                .collect::<Vec<_>>()
        }
    };
    let expect_rows = vec![
        (1, "1970-01-01".to_string(), Some(5), Some(1)),
        (11, "2024-01-06".to_string(), None, Some(2)),
    ];
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.errors(id).await, expect_errors);
    assert_eq!(rows(id).await, expect_rows);
    assert_eq!(
        db.messages(id, "lookup").await,
        vec!["'kx' is not in public.kinds.label"]
    );

    // The same file against a lookup table too large for memory: joined in SQL, same verdicts.
    db.client()
        .await
        .batch_execute("INSERT INTO kinds SELECT i, 'k' || i FROM generate_series(4, 100001) i")
        .await
        .expect("more kinds");
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.errors(id).await, expect_errors);
    assert_eq!(rows(id).await, expect_rows);
}

/// A file value the lookup table does not have, and one it has twice, are told in the same
/// words whether the table is held in memory or joined in SQL.
#[tokio::test]
async fn lookup_misses_read_alike_in_memory_and_in_sql() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE kinds (kind_id integer PRIMARY KEY, label text NOT NULL);
             INSERT INTO kinds VALUES (1, 'a'), (2, 'b'), (3, 'b');
             CREATE TABLE items (id integer PRIMARY KEY, kind_id integer);",
        )
        .await
        .expect("schema");
    let spec = db.write(
        "feed.toml",
        "name = \"items\"\ntarget = \"items\"\n\
         [columns]\nkind_id = { lookup = \"kinds\", match = \"label\", value = \"kind_id\", from = \"kind\" }\n",
    );
    let file = db.write("feed.csv", "id,kind\n1,a\n2,b\n3,zz\n");
    let expected = vec![
        "'b' matches 2 rows of public.kinds.label".to_string(),
        "'zz' is not in public.kinds.label".to_string(),
    ];
    let id = db.check(&spec, &file).await.expect("check in memory");
    assert_eq!(db.messages(id, "lookup").await, expected);
    db.client()
        .await
        .batch_execute("INSERT INTO kinds SELECT i, 'k' || i FROM generate_series(4, 100004) i")
        .await
        .expect("more kinds");
    let id = db.check(&spec, &file).await.expect("check in SQL");
    assert_eq!(db.messages(id, "lookup").await, expected);
}

/// A lookup value the target column cannot hold sets its rows aside, whether the lookup
/// table is held in memory or joined in SQL: the rows finding `3000000000` (out of range),
/// `twelve` (no integer) or `none` (too long for `varchar(3)`, which a cast would have cut
/// silently) are quarantined with the reason, the others go on.
#[tokio::test]
async fn a_lookup_value_the_column_cannot_hold_quarantines_its_rows() {
    let db = TestDb::empty().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE codes (name text UNIQUE, code text);
             INSERT INTO codes VALUES ('a', '1'), ('big', '3000000000'), ('odd', 'twelve'), ('none', NULL);
             CREATE TABLE items (id integer PRIMARY KEY, code integer, label varchar(3));",
        )
        .await
        .expect("schema");
    let spec = db.write(
        "items.toml",
        "name = \"items\"\ntarget = \"public.items\"\nkey = [\"id\"]\n\
         [columns]\ncode = { lookup = \"public.codes\", match = \"name\", value = \"code\", from = \"kind\" }\n\
         label = { lookup = \"public.codes\", match = \"name\", value = \"name\", from = \"tag\" }\n",
    );
    let file = db.write(
        "items.csv",
        "id,kind,tag\n1,a,a\n2,big,a\n3,odd,a\n4,none,none\n5,a,a\n",
    );
    let expect = vec![
        "'big' finds public.codes.code = '3000000000', which code cannot hold: 3000000000 is out of range for integer",
        "'odd' finds public.codes.code = 'twelve', which code cannot hold: 'twelve' is not a valid integer",
        "'none' finds public.codes.name = 'none', which label cannot hold: 4 characters is too long for character varying(3)",
    ];
    for in_memory in [true, false] {
        if !in_memory {
            client
                .batch_execute(
                    "INSERT INTO codes SELECT 'k' || i, i::text FROM generate_series(1, 100001) i",
                )
                .await
                .expect("a lookup table too large for memory");
        }
        let id = db.check(&spec, &file).await.expect("check");
        assert_eq!(
            db.errors(id).await,
            vec![
                e(3, Some("code"), "lookup"),
                e(4, Some("code"), "lookup"),
                e(5, Some("label"), "lookup")
            ],
            "in memory: {in_memory}"
        );
        assert_eq!(
            db.messages(id, "lookup").await,
            expect,
            "in memory: {in_memory}"
        );
        let s = db.summary(id).await;
        assert_eq!((s.state.as_str(), s.rows.good), ("validated", 2));
    }
    let production: i64 = client
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .expect("items")
        .get(0);
    assert_eq!(production, 0);
}

/// A lookup value the column holds only rounded is a warning, as a file value would be: the
/// row goes on with the rounded value, whether the lookup is held in memory or joined in SQL.
#[tokio::test]
async fn a_lookup_value_the_column_rounds_is_a_warning() {
    let db = TestDb::empty().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE prices (name text UNIQUE, amount text);
             INSERT INTO prices VALUES ('a', '1.005'), ('b', '2.50');
             CREATE TABLE items (id integer PRIMARY KEY, price numeric(6,2));",
        )
        .await
        .expect("schema");
    let spec = db.write(
        "items.toml",
        "name = \"items\"\ntarget = \"public.items\"\nkey = [\"id\"]\n\
         [columns]\nprice = { lookup = \"public.prices\", match = \"name\", value = \"amount\", from = \"kind\" }\n",
    );
    let file = db.write("items.csv", "id,kind\n1,a\n2,b\n");
    for in_memory in [true, false] {
        if !in_memory {
            client
                .batch_execute(
                    "INSERT INTO prices SELECT 'k' || i, '1' FROM generate_series(1, 100001) i",
                )
                .await
                .expect("a lookup table too large for memory");
        }
        let id = db.check(&spec, &file).await.expect("check");
        assert_eq!(
            db.issues(id, "warning").await,
            vec![e(2, Some("price"), "rounded")],
            "in memory: {in_memory}"
        );
        assert_eq!(
            db.messages(id, "rounded").await,
            vec![
                "'a' finds public.prices.amount = '1.005': 1.005 will be stored as 1.01 (numeric(6,2) keeps 2 decimal places)"
            ],
            "in memory: {in_memory}"
        );
        let prices: Vec<String> = client
            .query(
                &format!("SELECT price::text FROM airlock_stage.batch_{id}_rows ORDER BY id"),
                &[],
            )
            .await
            .expect("rows")
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(prices, vec!["1.01", "2.50"], "in memory: {in_memory}");
    }
}

/// The server refuses a value the load wrote into the typed rows: here a lookup's value
/// (`X1`) that the Rust rules leave to the server, since a newer PostgreSQL reads `0x1F`-like
/// integers. The load starts over from the file with every value left to SQL, so every
/// record is staged, and the server's own words set that row aside. Production is only read.
#[tokio::test]
async fn a_typed_row_the_server_refuses_reloads_the_file() {
    let db = TestDb::empty().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE codes (name text UNIQUE, code text);
             INSERT INTO codes VALUES ('a', '1'), ('b', 'X1');
             CREATE TABLE items (id integer PRIMARY KEY, code integer);",
        )
        .await
        .expect("schema");
    let spec = db.write(
        "items.toml",
        "name = \"items\"\ntarget = \"public.items\"\nkey = [\"id\"]\n\
         [columns]\ncode = { lookup = \"public.codes\", match = \"name\", value = \"code\", from = \"kind\" }\n",
    );
    let file = db.write("items.csv", "id,kind\n1,a\n2,b\n3,a\n");
    let id = db.check(&spec, &file).await.expect("check");
    assert_eq!(db.errors(id).await, vec![e(3, Some("code"), "lookup")]);
    assert_eq!(
        db.messages(id, "lookup").await,
        vec![
            "'b' finds public.codes.code = 'X1', which code cannot hold: invalid input syntax for type integer: \"X1\""
        ]
    );
    let row = client
        .query_one(
            &format!(
                "SELECT b.state, (SELECT count(*) FROM airlock_stage.batch_{id}),
                        (SELECT count(*) FROM airlock_stage.batch_{id}_rows),
                        (SELECT count(*) FROM items)
                 FROM airlock.batches b WHERE b.id = $1"
            ),
            &[&id],
        )
        .await
        .expect("batch");
    let (state, staged, typed, production): (String, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (state.as_str(), staged, typed, production),
        ("validated", 3, 2, 0)
    );
}
