//! `mode = "insert"`: only new keys go in, in one transaction with the audit row; a row whose
//! key production has is skipped and that production row left exactly as it was; the plan,
//! the summary and the promotion say how many were skipped; a re-run inserts nothing.
mod common;

use airlock::promote::{self, PromoteOptions};
use common::{TestDb, fixture};

fn insert_spec(db: &TestDb) -> std::path::PathBuf {
    let spec = std::fs::read_to_string(fixture("partner-products.toml"))
        .expect("spec")
        .replace("mode   = \"upsert\"", "mode   = \"insert\"");
    assert!(spec.contains("\"insert\""));
    db.write("insert.toml", spec)
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .expect(sql)
        .get(0)
}

/// Production's rows that the file also has: their hash, to see them untouched.
const EXISTING: &str = "SELECT md5(string_agg(p::text || xmin::text, ',' ORDER BY sku)) FROM products p \
                        WHERE sku <= 'SKU-0000100'";

async fn hash(db: &TestDb, sql: &str) -> String {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .expect(sql)
        .get(0)
}

#[tokio::test]
async fn only_new_keys_go_in_and_existing_rows_stay_as_they_are() {
    let db = TestDb::with_catalog().await;
    let spec = insert_spec(&db);
    let before = hash(&db, EXISTING).await;
    let id = db
        .check(&spec, &fixture("products-broken.csv"))
        .await
        .expect("check");
    let s = db.summary(id).await;
    // The case study's good rows: 242 new keys, 45 keys production has (10 of them with other
    // values, which an upsert would update).
    assert_eq!(
        (
            s.plan.insert,
            s.plan.skipped,
            s.plan.update,
            s.plan.unchanged
        ),
        (242, 45, 0, 0)
    );
    let human = airlock::report::render(&s);
    assert!(
        human.contains("242 insert · 45 skipped (key already in production)"),
        "{human}"
    );
    let applied = promote::promote(
        &db.target,
        id,
        &PromoteOptions {
            note: Some("new products only".into()),
            ..PromoteOptions::default()
        },
    )
    .await
    .expect("promote");
    assert_eq!(
        (
            applied.mode.as_str(),
            applied.inserted,
            applied.updated,
            applied.skipped
        ),
        ("insert", 242, 0, 45)
    );
    assert_eq!(
        applied.describe(", "),
        "242 inserted, 45 skipped (key already in production)"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM products").await, 342);
    assert_eq!(
        hash(&db, EXISTING).await,
        before,
        "no row production had was written, not even rewritten with the same values"
    );
    // One transaction: the new rows, the audit row and the batch's state share one xid.
    let xids = count(
        &db,
        "SELECT count(DISTINCT x) FROM (
             SELECT xmin::text AS x FROM products WHERE sku > 'SKU-0000100'
             UNION ALL SELECT xmin::text FROM airlock.decisions WHERE decision = 'approve'
             UNION ALL SELECT xmin::text FROM airlock.batches) t",
    )
    .await;
    assert_eq!(xids, 1);
    let s = db.summary(id).await;
    assert_eq!(s.state, "promoted");
    let counts = s.decisions[0].counts.as_ref().expect("counts");
    assert_eq!(
        (counts["inserted"].as_i64(), counts["skipped"].as_i64()),
        (Some(242), Some(45))
    );

    // The same file again: every key is there now, nothing is written.
    let all = hash(
        &db,
        "SELECT md5(string_agg(p::text || xmin::text, ',' ORDER BY sku)) FROM products p",
    )
    .await;
    let again = db
        .check(&spec, &fixture("products-broken.csv"))
        .await
        .expect("check again");
    let applied = promote::promote(
        &db.target,
        again,
        &PromoteOptions {
            note: Some("again".into()),
            ..PromoteOptions::default()
        },
    )
    .await
    .expect("promote again");
    assert_eq!((applied.inserted, applied.skipped), (0, 287));
    assert_eq!(
        hash(
            &db,
            "SELECT md5(string_agg(p::text || xmin::text, ',' ORDER BY sku)) FROM products p"
        )
        .await,
        all
    );
}

#[tokio::test]
async fn a_key_inserted_since_the_review_refuses_the_promotion() {
    let db = TestDb::with_catalog().await;
    let spec = insert_spec(&db);
    let id = db
        .check(&spec, &fixture("products-broken.csv"))
        .await
        .expect("check");
    // Someone inserts one of the file's new keys after the review.
    db.client()
        .await
        .batch_execute("INSERT INTO products VALUES ('SKU-0000200', 'Inserted meanwhile', 1.00, 1)")
        .await
        .expect("insert");
    let before = hash(
        &db,
        "SELECT md5(string_agg(p::text, ',' ORDER BY sku)) FROM products p",
    )
    .await;
    let err = promote::promote(&db.target, id, &PromoteOptions::default())
        .await
        .expect_err("the plan changed");
    let message = err.to_string();
    assert!(message.contains("insert 242 → 241"), "{message}");
    assert!(message.contains("skipped 45 → 46"), "{message}");
    assert_eq!(
        hash(
            &db,
            "SELECT md5(string_agg(p::text, ',' ORDER BY sku)) FROM products p"
        )
        .await,
        before,
        "production untouched"
    );
}
