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

/// Every product row's values.
const VALUES: &str = "SELECT md5(string_agg(p::text, ',' ORDER BY sku)) FROM products p";

/// Every product row with the transaction that wrote it.
const ALL: &str = "SELECT md5(string_agg(p::text || xmin::text, ',' ORDER BY sku)) FROM products p";

/// Checks the case study's broken file with `spec`.
async fn check(db: &TestDb, spec: &std::path::Path) -> i64 {
    db.check(spec, &fixture("products-broken.csv"))
        .await
        .expect("check")
}

/// Promotes batch `id` with a note.
async fn promote_noted(db: &TestDb, id: i64, note: &str) -> promote::Applied {
    promote::promote(
        &db.target,
        id,
        &PromoteOptions {
            note: Some(note.into()),
            ..PromoteOptions::default()
        },
    )
    .await
    .expect("promote")
}

/// How many transactions wrote the new products, the approval and the batches: one.
async fn writing_transactions(db: &TestDb) -> i64 {
    count(
        db,
        "SELECT count(DISTINCT x) FROM (
             SELECT xmin::text AS x FROM products WHERE sku > 'SKU-0000100'
             UNION ALL SELECT xmin::text FROM airlock.decisions WHERE decision = 'approve'
             UNION ALL SELECT xmin::text FROM airlock.batches) t",
    )
    .await
}

#[tokio::test]
async fn only_new_keys_go_in_and_existing_rows_stay_as_they_are() {
    let db = TestDb::with_catalog().await;
    let spec = insert_spec(&db);
    let before = hash(&db, EXISTING).await;
    let id = check(&db, &spec).await;
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
    // The review's Changes tab lists the inserts and no updates: an insert mode makes none,
    // and the keys production has are left out.
    let client = db.client().await;
    let loaded = airlock::batch::load(&client, id).await.expect("load");
    let changes =
        airlock::review::changes_page(&client, &loaded, airlock::review::PageFrom::Start, 300)
            .await
            .expect("changes");
    assert_eq!(changes.len(), 242);
    assert!(
        changes
            .iter()
            .all(|c| c.kind == airlock::review::ChangeKind::Insert)
    );
    let applied = promote_noted(&db, id, "new products only").await;
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
    let xids = writing_transactions(&db).await;
    assert_eq!(xids, 1);
    let s = db.summary(id).await;
    assert_eq!(s.state, "promoted");
    let counts = s.decisions[0].counts.as_ref().expect("counts");
    assert_eq!(
        (counts["inserted"].as_i64(), counts["skipped"].as_i64()),
        (Some(242), Some(45))
    );

    // The same file again: every key is there now, nothing is written.
    let all = hash(&db, ALL).await;
    let again = check(&db, &spec).await;
    let applied = promote_noted(&db, again, "again").await;
    assert_eq!((applied.inserted, applied.skipped), (0, 287));
    assert_eq!(hash(&db, ALL).await, all);
}

#[tokio::test]
async fn a_key_inserted_since_the_review_refuses_the_promotion() {
    let db = TestDb::with_catalog().await;
    let spec = insert_spec(&db);
    let id = check(&db, &spec).await;
    // Someone inserts one of the file's new keys after the review.
    db.client()
        .await
        .batch_execute("INSERT INTO products VALUES ('SKU-0000200', 'Inserted meanwhile', 1.00, 1)")
        .await
        .expect("insert");
    let before = hash(&db, VALUES).await;
    let err = promote::promote(&db.target, id, &PromoteOptions::default())
        .await
        .expect_err("the plan changed");
    let message = err.to_string();
    assert!(message.contains("insert 242 → 241"), "{message}");
    assert!(message.contains("skipped 45 → 46"), "{message}");
    assert_eq!(hash(&db, VALUES).await, before, "production untouched");
}

fn mirror_spec(db: &TestDb, policy: &str) -> std::path::PathBuf {
    let spec = std::fs::read_to_string(fixture("partner-products.toml"))
        .expect("spec")
        .replace("mode   = \"upsert\"", "mode   = \"mirror\"")
        .replace("[policy]", &format!("[policy]\n{policy}"));
    db.write("mirror.toml", spec)
}

/// `mode = "mirror"`: the upsert, and in the same transaction the production rows whose key
/// the file does not name are deleted — never one whose row in the file was quarantined.
#[tokio::test]
async fn a_mirror_deletes_the_keys_the_file_does_not_name() {
    let db = TestDb::with_catalog().await;
    let spec = mirror_spec(&db, "");
    let id = check(&db, &spec).await;
    let s = db.summary(id).await;
    // Production has SKU-1..100; the file names 51..100 and new keys.
    assert_eq!(
        (
            s.plan.insert,
            s.plan.update,
            s.plan.unchanged,
            s.plan.delete
        ),
        (242, 10, 35, 50)
    );
    let human = airlock::report::render(&s);
    assert!(
        human.contains("242 insert · 10 update · 35 unchanged · 50 delete"),
        "{human}"
    );
    // The review's Changes lists the 242 inserts and 10 updates in file order, then the 50
    // rows to delete in key order, each with its values; paging from either end, or a few
    // rows at a time, gives the same rows.
    use airlock::review::ChangeKind;
    let client = db.client().await;
    let loaded = airlock::batch::load(&client, id).await.expect("load");
    let page = |from, limit| airlock::review::changes_page(&client, &loaded, from, limit);
    let all = page(airlock::review::PageFrom::Start, 400)
        .await
        .expect("changes");
    assert_eq!(all.len(), 302);
    let kinds = |kind| all.iter().filter(|r| r.kind == kind).count();
    assert_eq!(
        (
            kinds(ChangeKind::Insert),
            kinds(ChangeKind::Update),
            kinds(ChangeKind::Delete)
        ),
        (242, 10, 50)
    );
    assert!(
        all[..252]
            .iter()
            .all(|r| r.kind != ChangeKind::Delete && r.line > 0)
    );
    assert!(all[..252].windows(2).all(|w| w[0].line < w[1].line));
    // An insert shows every value it brings, as an `after`.
    let insert = all
        .iter()
        .find(|r| r.kind == ChangeKind::Insert)
        .expect("an insert");
    assert_eq!(insert.changes.len(), loaded.binding.value_columns().count());
    assert!(
        insert
            .changes
            .iter()
            .all(|c| c.before.is_none() && c.after.is_some())
    );
    let deleted: Vec<&str> = all[252..].iter().map(|r| r.key.as_str()).collect();
    let expected: Vec<String> = (1..=50).map(|i| format!("SKU-{i:07}")).collect();
    assert_eq!(deleted, expected);
    assert!(
        all[252..]
            .iter()
            .all(|r| r.kind == ChangeKind::Delete && r.line == 0)
    );
    assert_eq!(
        (
            all[252].changes[0].column.as_str(),
            all[252].changes[0].before.as_deref()
        ),
        ("name", Some("Catalog item 1"))
    );
    let last = page(airlock::review::PageFrom::End, 400)
        .await
        .expect("changes");
    assert_eq!(last, all);
    let mut walked = Vec::new();
    let mut from = airlock::review::PageFrom::Start;
    loop {
        let rows = page(from, 7).await.expect("changes");
        let Some(end) = rows.last() else { break };
        from = airlock::review::PageFrom::After(end.ord);
        walked.extend(rows);
    }
    assert_eq!(walked, all);
    let tail = page(airlock::review::PageFrom::After(all[254].ord), 400)
        .await
        .expect("changes");
    assert_eq!(tail, all[255..].to_vec());
    let applied = promote_noted(&db, id, "mirror").await;
    assert_eq!(
        (applied.inserted, applied.updated, applied.deleted),
        (242, 10, 50)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM products").await, 292);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM products WHERE sku <= 'SKU-0000050'"
        )
        .await,
        0
    );
    // SKU-0000071's row in the file was quarantined ('N/A' price): production keeps it as
    // it was, neither updated nor deleted.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM products WHERE sku = 'SKU-0000071' AND price = 88.75"
        )
        .await,
        1
    );
    // The deletes, the upsert and the audit row commit together.
    let xids = writing_transactions(&db).await;
    assert_eq!(xids, 1);
    let counts = db.summary(id).await.decisions[0]
        .counts
        .clone()
        .expect("counts");
    assert_eq!(counts["deleted"].as_i64(), Some(50));

    // The same file again changes nothing.
    let all = hash(&db, ALL).await;
    let again = check(&db, &spec).await;
    let applied = promote_noted(&db, again, "again").await;
    assert_eq!(
        (applied.inserted, applied.updated, applied.deleted),
        (0, 0, 0)
    );
    assert_eq!(hash(&db, ALL).await, all);
}

#[tokio::test]
async fn deletes_past_max_delete_fraction_abort_and_production_stays() {
    let db = TestDb::with_catalog().await;
    let before = hash(&db, VALUES).await;
    let spec = mirror_spec(&db, "max_delete_fraction = 0.3");
    let id = check(&db, &spec).await;
    let s = db.summary(id).await;
    assert_eq!(s.verdict, Some(airlock::batch::Verdict::Abort));
    assert!(
        s.breaches.iter().any(|b| b
            == "50 of production's 100 rows would be deleted (50.0%), more than max_delete_fraction = 0.3"),
        "{:?}",
        s.breaches
    );
    let refused = promote::promote(&db.target, id, &PromoteOptions::default()).await;
    assert!(refused.is_err());
    // A run leaves it too, with exit status 3.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["run", &spec.display().to_string()])
        .arg(fixture("products-broken.csv"))
        .arg("--yes")
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(hash(&db, VALUES).await, before);
    // A bad value is refused by name.
    let bad = mirror_spec(&db, "max_delete_fraction = 1.5");
    let e = db
        .check(&bad, &fixture("products-broken.csv"))
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("policy.max_delete_fraction"), "{e}");
}

const EVENTS: &str = "
CREATE TABLE events (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     timestamp NOT NULL,
    kind   text NOT NULL,
    amount numeric(10,2) CHECK (amount >= 0)
);";

fn events_spec(db: &TestDb, extra: &str) -> std::path::PathBuf {
    db.write(
        "events.toml",
        format!(
            "name = \"events\"\ntarget = \"public.events\"\nmode = \"append\"\n{extra}\n[policy]\nmax_bad_fraction = 0.5\n"
        ),
    )
}

/// `mode = "append"`: a table whose key the file does not feed (an identity) takes every
/// good row; the same file again is an abort by default, so a retried cron run never adds
/// the rows twice.
#[tokio::test]
async fn append_takes_every_good_row_and_refuses_the_same_file_twice() {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute(EVENTS)
        .await
        .expect("schema");
    let file = db.write(
        "events.csv",
        "at,kind,amount\n2026-03-15 10:00,sale,12.50\n2026-03-15 10:01,sale,-1\n\
         2026-03-15 10:02,refund,3.00\n2026-03-15 10:02,refund,3.00\n2026-03-15 10:03,note,\n",
    );
    let spec = events_spec(&db, "");
    let id = db.check(&spec, &file).await.expect("check");
    let s = db.summary(id).await;
    // Identical rows are events, not duplicates: no key says otherwise.
    assert_eq!((s.rows.good, s.rows.quarantined), (4, 1), "{:?}", s.checks);
    assert_eq!(s.plan.insert, 4);
    assert!(
        airlock::report::render(&s).contains("4 insert (every good row is appended)"),
        "{}",
        airlock::report::render(&s)
    );
    let applied = promote_noted(&db, id, "events").await;
    assert_eq!((applied.mode.as_str(), applied.inserted), ("append", 4));
    assert_eq!(count(&db, "SELECT count(*) FROM events").await, 4);
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT id) FROM events WHERE id IS NOT NULL"
        )
        .await,
        4,
        "the identity numbers every row"
    );
    // The same file again: an abort, nothing added.
    let again = db.check(&spec, &file).await.expect("check again");
    let s = db.summary(again).await;
    assert_eq!(s.verdict, Some(airlock::batch::Verdict::Abort));
    assert!(
        s.breaches
            .iter()
            .any(|b| b.contains("policy repeat_file = \"abort\"")),
        "{:?}",
        s.breaches
    );
    assert!(
        promote::promote(&db.target, again, &PromoteOptions::default())
            .await
            .is_err()
    );
    assert_eq!(count(&db, "SELECT count(*) FROM events").await, 4);
    // Said otherwise, it goes in again.
    let allow = events_spec(&db, "");
    let allow_text = std::fs::read_to_string(&allow).expect("spec") + "repeat_file = \"allow\"\n";
    let allow = db.write("events-allow.toml", allow_text);
    let third = db.check(&allow, &file).await.expect("check");
    assert_eq!(promote_noted(&db, third, "on purpose").await.inserted, 4);
    assert_eq!(count(&db, "SELECT count(*) FROM events").await, 8);
    // A key has no meaning here, and is refused by name.
    let keyed = events_spec(&db, "key = [\"kind\"]");
    let e = db.check(&keyed, &file).await.expect_err("keyed");
    assert!(e.to_string().contains("append mode takes no key"), "{e}");
}

/// A full replace needs no key: a reference table without one (iris, a census extract) is
/// swapped whole, identical rows and all, and can be undone; an upsert of it is refused,
/// naming the modes that need none.
#[tokio::test]
async fn a_table_without_a_key_is_swapped_whole() {
    let db = TestDb::with_catalog().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE iris (sepal_length numeric(3,1) NOT NULL, species text NOT NULL);
             INSERT INTO iris VALUES (5.1, 'setosa'), (4.9, 'setosa'), (7.0, 'versicolor');",
        )
        .await
        .expect("schema");
    let before = hash(
        &db,
        "SELECT md5(string_agg(i::text, ',' ORDER BY i::text)) FROM iris i",
    )
    .await;
    let file = db.write(
        "iris.csv",
        "sepal_length,species\n5.1,setosa\n5.1,setosa\n6.3,virginica\n6.3,virginica\nwide,virginica\n",
    );
    let spec = db.write(
        "iris.toml",
        "name = \"iris\"\ntarget = \"public.iris\"\nmode = \"swap\"\n[policy]\nmax_bad_fraction = 0.5\nmax_count_change = 1\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    let s = db.summary(id).await;
    assert_eq!((s.rows.good, s.rows.quarantined), (4, 1));
    assert_eq!(
        (
            s.plan.insert,
            s.plan.update,
            s.plan.unchanged,
            s.plan.delete
        ),
        (4, 0, 0, 3),
        "without a key nothing matches: every row goes, every good row comes"
    );
    let applied = promote_noted(&db, id, "new reference data").await;
    assert_eq!((applied.inserted, applied.deleted), (4, 3));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM iris WHERE species = 'virginica' AND sepal_length = 6.3"
        )
        .await,
        2,
        "identical rows are the file's"
    );
    promote::undo(
        &db.target,
        id,
        Some("wrong file"),
        &PromoteOptions::default(),
    )
    .await
    .expect("undo");
    assert_eq!(
        hash(
            &db,
            "SELECT md5(string_agg(i::text, ',' ORDER BY i::text)) FROM iris i"
        )
        .await,
        before
    );
    let upsert = db.write(
        "iris-upsert.toml",
        "name = \"iris\"\ntarget = \"public.iris\"\n",
    );
    let e = db
        .check(&upsert, &file)
        .await
        .expect_err("no key to upsert by");
    assert!(e.to_string().contains("a full replace needs no key"), "{e}");
}
