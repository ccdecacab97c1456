//! Headers as partners write them: other case, spaces, `_` against `-`, aliases, title rows
//! above the header, no header at all — matched when the match is sure, and otherwise a
//! message that says what the header holds and what was probably meant.
mod common;

use common::TestDb;

const LOOKUP: &str = "category_id = { lookup = \"public.categories\", match = \"name\", value = \"category_id\", from = \"category\" }";

fn spec(db: &TestDb, name: &str, source: &str, columns: &str) -> std::path::PathBuf {
    db.write(
        name,
        format!(
            "name = \"partner-products\"\ntarget = \"public.products\"\n[source]\n{source}\n[columns]\n{columns}\n"
        ),
    )
}

async fn good_and_lines(db: &TestDb, id: i64) -> (i64, Vec<i64>) {
    let lines = db.errors(id).await.into_iter().map(|(l, _, _)| l).collect();
    (db.summary(id).await.rows.good, lines)
}

#[tokio::test]
async fn loose_headers_match_and_misses_say_what_was_meant() {
    let db = TestDb::with_catalog().await;
    let plain = spec(&db, "plain.toml", "", LOOKUP);
    // Case, surrounding spaces, and space / `_` / `-` alike.
    for header in [
        "SKU,Name,PRICE,Category",
        " sku , name ,price, category ",
        "Sku,NAME,Price,CATEGORY",
    ] {
        let file = db.write(
            "loose.csv",
            format!("{header}\nSKU-0000201,one,1.00,Tools\nSKU-0000202,two,N/A,Tools\n"),
        );
        let id = db
            .check(&plain, &file)
            .await
            .unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(good_and_lines(&db, id).await, (1, vec![3]), "{header}");
    }
    // Aliases, tried in order, loosely too.
    let aliased = spec(
        &db,
        "aliased.toml",
        "",
        &format!(
            "{LOOKUP}\nprice = {{ from = [\"unit_price\", \"Unit Price\"] }}\nname = {{ from = [\"title\"] }}"
        ),
    );
    let file = db.write(
        "aliased.csv",
        "sku,Title,Unit-Price,category\nSKU-0000201,one,1.00,Tools\n",
    );
    let id = db.check(&aliased, &file).await.expect("aliases");
    assert_eq!(good_and_lines(&db, id).await, (1, vec![]));
    // A misspelt column: the closest header field is named.
    let file = db.write(
        "typo.csv",
        "sku,name,Prce,category\nSKU-0000201,one,1.00,Tools\n",
    );
    let err = db.check(&plain, &file).await.expect_err("typo").to_string();
    assert!(
        err.contains(
            "`price` (NOT NULL without a default); the header has `Prce` — did you mean it?"
        ),
        "{err}"
    );
    assert!(
        err.contains("The header (line 1) reads: `sku`, `name`, `Prce`, `category`"),
        "{err}"
    );
    // One field holding semicolons: the delimiter is wrong, and the message says so.
    let file = db.write(
        "semicolons.csv",
        "sku;name;price;category\nSKU-0000201;one;1,00;Tools\n",
    );
    let err = db
        .check(&plain, &file)
        .await
        .expect_err("delimiter")
        .to_string();
    assert!(
        err.contains(
            "the header is one field, `sku;name;price;category`: the delimiter is probably `;`"
        ),
        "{err}"
    );
    let file = db.write(
        "tabs.csv",
        "sku\tname\tprice\tcategory\nSKU-0000201\tone\t1.00\tTools\n",
    );
    let err = db.check(&plain, &file).await.expect_err("tabs").to_string();
    assert!(err.contains("the delimiter is probably `\\t`"), "{err}");
    // Two header columns that match one name alike are never guessed between.
    let file = db.write(
        "twice.csv",
        "sku,title,unit-price,Unit Price ,category\nSKU-0000201,one,1,2,Tools\n",
    );
    let err = db
        .check(&aliased, &file)
        .await
        .expect_err("twice")
        .to_string();
    assert!(
        err.contains("appears 2 times in the header (columns 3, 4)"),
        "{err}"
    );
}

#[tokio::test]
async fn an_exact_name_wins_over_a_loose_one() {
    let db = TestDb::empty().await;
    db.client()
        .await
        .batch_execute("CREATE TABLE odd (id int PRIMARY KEY, \" padded \" text, padded text)")
        .await
        .expect("table");
    let spec = db.write("odd.toml", "name = \"odd\"\ntarget = \"public.odd\"\n");
    let file = db.write("odd.csv", "id, padded ,padded\n1,spaces,plain\n");
    let id = db.check(&spec, &file).await.expect("check");
    let row = db
        .client()
        .await
        .query_one(
            &format!("SELECT \" padded \", padded FROM airlock_stage.batch_{id}_rows"),
            &[],
        )
        .await
        .expect("row");
    let (spaced, plain): (String, String) = (row.get(0), row.get(1));
    assert_eq!((spaced.as_str(), plain.as_str()), ("spaces", "plain"));
}

#[tokio::test]
async fn title_rows_and_files_without_a_header() {
    let db = TestDb::with_catalog().await;
    // Two title rows above the header: lines keep counting from the file's first.
    let skip = spec(&db, "skip.toml", "skip_rows = 2", LOOKUP);
    let file = db.write(
        "titled.csv",
        "Partner export\nGenerated 2026-03-15\nsku,name,price,category\nSKU-0000201,one,1.00,Tools\nSKU-0000202,two,N/A,Tools\n",
    );
    let id = db.check(&skip, &file).await.expect("skip");
    assert_eq!(good_and_lines(&db, id).await, (1, vec![5]));
    // The wrong number of title rows: the error shows the line taken as the header.
    let one = spec(&db, "one.toml", "skip_rows = 1", LOOKUP);
    let err = db
        .check(&one, &file)
        .await
        .expect_err("one row short")
        .to_string();
    assert!(
        err.contains("The header (line 2) reads: `Generated 2026-03-15`"),
        "{err}"
    );
    // No header at all: the spec names the columns in file order; data starts on line 1.
    let bare = spec(
        &db,
        "bare.toml",
        "header = false\ncolumns = [\"sku\", \"name\", \"price\", \"category\"]",
        LOOKUP,
    );
    let file = db.write(
        "bare.csv",
        "SKU-0000201,one,1.00,Tools\nSKU-0000202,two,N/A,Tools\nSKU-0000203,three,3.00,Tools\n",
    );
    let id = db.check(&bare, &file).await.expect("bare");
    assert_eq!(good_and_lines(&db, id).await, (2, vec![2]));
    assert_eq!(db.summary(id).await.rows.total, 3);
    // Half of that is a spec error.
    for (source, key) in [
        ("header = false", "source.header"),
        ("columns = [\"sku\"]", "source.columns"),
    ] {
        let path = spec(&db, "half.toml", source, LOOKUP);
        let err = db.check(&path, &file).await.expect_err(source).to_string();
        assert!(err.contains(&format!("key `{key}`")), "{source}: {err}");
    }
}
