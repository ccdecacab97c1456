//! The case study, end to end through the library: the broken partner feed reports exactly
//! the rows it breaks, with file line, column, check and message; production is unchanged.
mod common;

use common::{TestDb, fixture};

#[tokio::test]
async fn case_study_reports_exactly_the_broken_rows() {
    let db = TestDb::with_catalog().await;
    let before = db.table_hash("products").await;
    let id = db.check_broken().await;

    let errors = db.errors(id).await;
    let expected: Vec<(i64, Option<String>, String)> = common::CASE_STUDY_ERRORS
        .into_iter()
        .map(|(l, c, k)| (l, c.map(str::to_string), k.to_string()))
        .collect();
    assert_eq!(errors, expected);

    // The multi-line quoted name on line 6-7 is a good row; the rounding is a warning.
    assert_eq!(
        db.issues(id, "warning").await,
        vec![(10, Some("price".into()), "rounded".into())]
    );

    let s = db.summary(id).await;
    assert_eq!(s.state, "validated");
    assert_eq!(s.verdict.map(|v| v.as_str()), Some("review"));
    assert_eq!(s.rows.total, 300);
    assert_eq!(s.rows.quarantined, 13);
    assert_eq!(s.rows.good, 287);
    assert_eq!(
        s.rows.total,
        s.rows.good + s.rows.quarantined + s.rows.superseded
    );
    // Production holds SKU 1..100; the feed has 51..350 with 13 bad rows and two sharing a key.
    assert_eq!(s.plan.insert + s.plan.update + s.plan.unchanged, 287);
    assert_eq!(s.plan.production_rows, 100);

    let messages = db.messages(id, "type").await;
    assert_eq!(messages[2], "'N/A' is not a valid number");
    let lookups = db.messages(id, "lookup").await;
    assert_eq!(lookups[1], "'Gadgets' is not in public.categories.name");

    assert_eq!(
        db.table_hash("products").await,
        before,
        "check must not touch production"
    );
}

#[tokio::test]
async fn clean_feed_is_clean_with_an_exact_plan() {
    let db = TestDb::with_catalog().await;
    let id = db
        .check(
            &fixture("partner-products.toml"),
            &fixture("products-clean.csv"),
        )
        .await
        .expect("check");
    let s = db.summary(id).await;
    assert_eq!(
        s.verdict.map(|v| v.as_str()),
        Some("clean"),
        "{:?}",
        s.checks
    );
    assert_eq!(s.rows.good, 40);
    // SKU 81..100 exist: 84, 91, 98 have new prices; 84 also a new name ("Hammer, claw").
    // SKU 101..120 are new.
    assert_eq!(s.plan.insert, 20);
    assert_eq!(s.plan.update, 3);
    assert_eq!(s.plan.unchanged, 17);
    assert_eq!(s.plan.columns.get("price"), Some(&3));
    assert_eq!(s.plan.columns.get("name"), Some(&1));
}
