//! Undo for every promotion: an upsert, insert, mirror or append is taken back exactly — the
//! target's content hash as before the promotion, identity values and generated columns
//! included — in one transaction with an audit row; refused, naming the rows, when any row
//! it would touch changed since; refused when a later batch was promoted; refused when
//! deleting a row it inserted would cascade into another table. `keep_undo = false` keeps
//! nothing, and `prune` keeps the latest promotion's undo data unless told.
mod common;

use airlock::promote::{self, PromoteOptions};
use common::{TestDb, fixture};

fn spec_in_mode(db: &TestDb, mode: &str, policy: &str) -> std::path::PathBuf {
    let spec = std::fs::read_to_string(fixture("partner-products.toml"))
        .expect("spec")
        .replace("mode   = \"upsert\"", &format!("mode   = \"{mode}\""))
        + policy;
    db.write(&format!("{mode}.toml"), spec)
}

async fn promote_now(db: &TestDb, id: i64) -> promote::Applied {
    promote::promote(&db.target, id, &PromoteOptions::default())
        .await
        .expect("promote")
}

/// Checks the case study's broken file in `mode` and promotes it: the batch and what it did.
async fn promote_broken(db: &TestDb, mode: &str) -> (i64, promote::Applied) {
    let spec = spec_in_mode(db, mode, "");
    let id = db
        .check(&spec, &fixture("products-broken.csv"))
        .await
        .expect("check");
    (id, promote_now(db, id).await)
}

async fn undo(db: &TestDb, id: i64) -> airlock::Result<String> {
    promote::undo(
        &db.target,
        id,
        Some("wrong file"),
        &PromoteOptions::default(),
    )
    .await
}

async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(db: &TestDb, sql: &str) -> T {
    db.client()
        .await
        .query_one(sql, &[])
        .await
        .expect(sql)
        .get(0)
}

async fn exec(db: &TestDb, sql: &str) {
    db.client().await.batch_execute(sql).await.expect(sql);
}

/// A key the promotion of `id` wrote with `kind` (`i` inserted, `u` updated, `d` deleted).
async fn key_of(db: &TestDb, id: i64, kind: &str) -> String {
    one(
        db,
        &format!(
            "SELECT sku FROM airlock_stage.batch_{id}_undo WHERE __undo = '{kind}' ORDER BY sku LIMIT 1"
        ),
    )
    .await
}

async fn decisions(db: &TestDb, id: i64) -> Vec<String> {
    db.summary(id)
        .await
        .decisions
        .iter()
        .map(|d| d.decision.clone())
        .collect()
}

#[tokio::test]
async fn undo_after_an_upsert_restores_the_target_exactly() {
    let db = TestDb::with_catalog().await;
    let before = db.table_hash("products").await;
    let (id, applied) = promote_broken(&db, "upsert").await;
    assert_eq!((applied.inserted, applied.updated), (242, 10));
    assert_ne!(db.table_hash("products").await, before);
    let s = db.summary(id).await;
    let kept = s.kept_for_undo.clone().expect("kept for undo");
    assert!(kept.contains(&format!("batch_{id}_undo")), "{kept}");
    assert!(
        airlock::report::render(&s).contains(&format!("airlock undo {id}")),
        "{}",
        airlock::report::render(&s)
    );

    let updated = key_of(&db, id, "u").await;
    let said = undo(&db, id).await.expect("undo");
    assert_eq!(
        said,
        "242 inserted rows deleted, 10 updated rows restored in public.products"
    );
    assert_eq!(db.table_hash("products").await, before);
    let s = db.summary(id).await;
    assert_eq!(s.state, airlock::batch::State::Undone);
    assert_eq!(s.kept_for_undo, None);
    assert_eq!(decisions(&db, id).await, ["approve", "undo"]);
    assert!(
        !one::<bool>(
            &db,
            &format!("SELECT to_regclass('airlock_stage.batch_{id}_undo') IS NOT NULL")
        )
        .await,
        "the undo data goes with the undo"
    );
    let again = undo(&db, id).await.expect_err("undo twice");
    assert!(again.to_string().contains("state undone"), "{again}");
    // The undo, its audit row and the batch's state are one transaction.
    assert_eq!(
        one::<i64>(
            &db,
            &format!(
                "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM airlock.decisions \
                 WHERE decision = 'undo' UNION ALL SELECT xmin::text FROM airlock.batches WHERE id = {id} \
                 UNION ALL SELECT xmin::text FROM products WHERE sku = '{updated}') t"
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn undo_is_refused_naming_the_rows_changed_since_and_leaves_them() {
    let db = TestDb::with_catalog().await;
    let (id, _) = promote_broken(&db, "upsert").await;
    let updated = key_of(&db, id, "u").await;
    let inserted = key_of(&db, id, "i").await;

    // A row it updated was changed again by someone else.
    exec(
        &db,
        &format!("UPDATE products SET price = price + 1 WHERE sku = '{updated}'"),
    )
    .await;
    let after_change = db.table_hash("products").await;
    let e = undo(&db, id).await.expect_err("changed since");
    let said = e.to_string();
    assert!(said.contains("1 row it would touch changed"), "{said}");
    assert!(
        said.contains(&format!("(sku) = ({updated}) was changed since")),
        "{said}"
    );
    assert_eq!(db.table_hash("products").await, after_change);
    assert_eq!(db.summary(id).await.state, airlock::batch::State::Promoted);

    // Even rewriting the same values is a change: the row is a new version.
    exec(
        &db,
        &format!("UPDATE products SET name = name WHERE sku = '{inserted}'"),
    )
    .await;
    exec(
        &db,
        "DELETE FROM products WHERE sku = (SELECT max(sku) FROM products)",
    )
    .await;
    let said = undo(&db, id).await.expect_err("three changes").to_string();
    assert!(said.contains("3 rows it would touch changed"), "{said}");
    assert!(said.contains("was deleted since"), "{said}");
    assert!(
        said.contains(&format!("({inserted}) was changed since")),
        "{said}"
    );
    assert_eq!(decisions(&db, id).await, ["approve"]);
}

#[tokio::test]
async fn undo_after_an_insert_deletes_only_the_new_keys() {
    let db = TestDb::with_catalog().await;
    let before = db.table_hash("products").await;
    let (id, applied) = promote_broken(&db, "insert").await;
    assert_eq!((applied.inserted, applied.skipped), (242, 45));
    let said = undo(&db, id).await.expect("undo");
    assert!(
        said.starts_with("242 inserted rows deleted, 0 updated rows"),
        "{said}"
    );
    assert_eq!(db.table_hash("products").await, before);
}

/// A mirror's deleted rows come back with their identity values and generated columns, the
/// identity's sequence untouched; the rows it updated get back every column, a column a
/// trigger set included. A trigger that would change the restored rows again makes the undo
/// refuse: exactly as before, or not at all.
#[tokio::test]
async fn undo_after_a_mirror_puts_the_deleted_rows_back() {
    let db = TestDb::with_catalog().await;
    exec(
        &db,
        "CREATE TABLE items (
             id      bigint GENERATED ALWAYS AS IDENTITY,
             sku     text PRIMARY KEY,
             price   numeric(10,2) NOT NULL,
             doubled numeric GENERATED ALWAYS AS (price * 2) STORED,
             touched integer NOT NULL DEFAULT 0);
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN NEW.touched := OLD.touched + 1; RETURN NEW; END $$;
         CREATE TRIGGER touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
         INSERT INTO items (sku, price) SELECT 'A' || i, i FROM generate_series(1, 20) i;",
    )
    .await;
    let before = db.table_hash("items").await;
    let spec = db.write(
        "items.toml",
        "name = \"items\"\ntarget = \"public.items\"\nkey = [\"sku\"]\nmode = \"mirror\"\n\
         [policy]\nmax_delete_fraction = 0.5\n",
    );
    // 15 of the 20 keys (A1..A5 gone), two with new prices, and one new key.
    let mut csv = String::from("sku,price\n");
    for i in 6..=20 {
        let price = if i == 7 || i == 9 { i * 10 } else { i };
        csv.push_str(&format!("A{i},{price}\n"));
    }
    csv.push_str("B1,99\n");
    let file = db.write("items.csv", csv);
    let id = db.check(&spec, &file).await.expect("check");
    let applied = promote_now(&db, id).await;
    assert_eq!(
        (applied.inserted, applied.updated, applied.deleted),
        (1, 2, 5)
    );
    let next_id: i64 = one(&db, "SELECT last_value FROM items_id_seq").await;
    // The trigger would count the undo's restore as another touch: the rows would not be
    // as they were, so the undo is refused and changes nothing.
    let promoted = db.table_hash("items").await;
    let e = undo(&db, id)
        .await
        .expect_err("a trigger changes the restored rows");
    assert!(
        e.to_string()
            .contains("2 restored rows differ from the rows before the promotion")
            && e.to_string().contains("touch"),
        "{e}"
    );
    assert_eq!(db.table_hash("items").await, promoted);
    exec(&db, "DROP TRIGGER touch ON items").await;
    let said = undo(&db, id).await.expect("undo");
    assert_eq!(
        said,
        "1 inserted row deleted, 2 updated rows restored, 5 deleted rows put back in public.items"
    );
    assert_eq!(db.table_hash("items").await, before);
    assert_eq!(
        one::<i64>(&db, "SELECT last_value FROM items_id_seq").await,
        next_id
    );
}

#[tokio::test]
async fn undo_after_an_append_deletes_exactly_the_appended_rows() {
    let db = TestDb::with_catalog().await;
    exec(
        &db,
        "CREATE TABLE events (
             id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             at     timestamp NOT NULL,
             kind   text NOT NULL);
         INSERT INTO events (at, kind) VALUES ('2026-03-14 09:00', 'sale'), ('2026-03-14 09:05', 'sale');",
    )
    .await;
    let before = db.table_hash("events").await;
    let spec = db.write(
        "events.toml",
        "name = \"events\"\ntarget = \"public.events\"\nmode = \"append\"\n",
    );
    let file = db.write(
        "events.csv",
        "at,kind\n2026-03-15 10:00,sale\n2026-03-15 10:01,refund\n2026-03-15 10:01,refund\n",
    );
    let first = db.check(&spec, &file).await.expect("check");
    assert_eq!(promote_now(&db, first).await.inserted, 3);
    assert_eq!(
        undo(&db, first).await.expect("undo"),
        "3 appended rows deleted in public.events"
    );
    assert_eq!(db.table_hash("events").await, before);

    // Another file appended; one of its rows changed since: refused, nothing deleted.
    let file = db.write(
        "events-2.csv",
        "at,kind\n2026-03-16 10:00,sale\n2026-03-16 10:01,refund\n2026-03-16 10:01,refund\n",
    );
    let second = db.check(&spec, &file).await.expect("check again");
    assert_eq!(promote_now(&db, second).await.inserted, 3);
    exec(
        &db,
        "UPDATE events SET kind = 'void' WHERE id = (SELECT max(id) FROM events)",
    )
    .await;
    let e = undo(&db, second).await.expect_err("changed since");
    assert!(
        e.to_string()
            .contains("1 of the 3 rows it appended changed or were deleted"),
        "{e}"
    );
    assert_eq!(one::<i64>(&db, "SELECT count(*) FROM events").await, 5);
}

#[tokio::test]
async fn only_the_latest_promotion_is_undone_and_then_the_one_before() {
    let db = TestDb::with_catalog().await;
    let spec = spec_in_mode(&db, "upsert", "");
    let first = db
        .check(&spec, &fixture("products-broken.csv"))
        .await
        .expect("check");
    promote_now(&db, first).await;
    let after_first = db.table_hash("products").await;
    let second = db
        .check(&spec, &fixture("products-clean.csv"))
        .await
        .expect("check");
    let applied = promote_now(&db, second).await;
    let e = undo(&db, first).await.expect_err("not the latest");
    assert!(
        e.to_string().contains(&format!(
            "batch {second} was promoted into public.products after it"
        )),
        "{e}"
    );
    undo(&db, second).await.expect("undo the latest");
    assert_eq!(db.table_hash("products").await, after_first);
    // The rows both batches wrote were written again by the second undo: the first's undo
    // cannot tell them from a change made by someone else, and says so, naming as many rows
    // as the second batch changed.
    assert!(applied.updated > 0, "{applied:?}");
    let e = undo(&db, first)
        .await
        .expect_err("rows rewritten by the second undo");
    assert!(
        e.to_string().contains(&format!(
            "{} it would touch changed after the promotion",
            airlock::format::count(applied.updated + applied.inserted, "row")
        )),
        "{e}"
    );
    assert_eq!(db.table_hash("products").await, after_first);
}

#[tokio::test]
async fn undo_refuses_when_deleting_an_inserted_row_would_cascade() {
    let db = TestDb::with_catalog().await;
    exec(
        &db,
        "CREATE TABLE reviews (id serial PRIMARY KEY,
             sku text NOT NULL REFERENCES products (sku) ON DELETE CASCADE);
         CREATE TABLE notes (id serial PRIMARY KEY, sku text REFERENCES products (sku));",
    )
    .await;
    let (id, _) = promote_broken(&db, "upsert").await;
    let inserted = key_of(&db, id, "i").await;
    exec(
        &db,
        &format!("INSERT INTO reviews (sku) VALUES ('{inserted}')"),
    )
    .await;
    let hash = db.table_hash("products").await;
    let e = undo(&db, id).await.expect_err("cascade");
    assert!(
        e.to_string()
            .contains("1 row of reviews now reference rows batch")
            && e.to_string().contains("ON DELETE CASCADE"),
        "{e}"
    );
    assert_eq!(one::<i64>(&db, "SELECT count(*) FROM reviews").await, 1);
    // A plain foreign key refuses the delete itself; the undo is refused, nothing changed.
    exec(&db, "DELETE FROM reviews").await;
    exec(
        &db,
        &format!("INSERT INTO notes (sku) VALUES ('{inserted}')"),
    )
    .await;
    let e = undo(&db, id).await.expect_err("referenced");
    assert!(
        e.to_string()
            .contains("rows of another table now reference rows batch"),
        "{e}"
    );
    assert_eq!(db.table_hash("products").await, hash);
    assert_eq!(db.summary(id).await.state, airlock::batch::State::Promoted);
}

#[tokio::test]
async fn keep_undo_false_keeps_nothing_and_undo_says_so() {
    let db = TestDb::with_catalog().await;
    for mode in ["upsert", "swap"] {
        let spec = spec_in_mode(
            &db,
            mode,
            "keep_undo = false\nmax_count_change = 10.0\nrepeat_file = \"allow\"\n",
        );
        let id = db
            .check(&spec, &fixture("products-broken.csv"))
            .await
            .expect("check");
        promote_now(&db, id).await;
        assert_eq!(db.summary(id).await.kept_for_undo, None);
        assert_eq!(
            one::<i64>(
                &db,
                &format!(
                    "SELECT count(*) FROM pg_class WHERE relname IN ('batch_{id}_undo', 'batch_{id}_previous')"
                )
            )
            .await,
            0,
            "{mode}"
        );
        let e = undo(&db, id).await.expect_err("nothing kept");
        assert!(e.to_string().contains("keep_undo = false"), "{mode}: {e}");
    }
}

/// A partitioned target: the rows' ids are read through the partitions.
#[tokio::test]
async fn undo_works_on_a_partitioned_target() {
    let db = TestDb::with_catalog().await;
    exec(
        &db,
        "CREATE TABLE readings (region text NOT NULL, day date NOT NULL, value numeric,
             PRIMARY KEY (region, day)) PARTITION BY LIST (region);
         CREATE TABLE readings_n PARTITION OF readings FOR VALUES IN ('north');
         CREATE TABLE readings_s PARTITION OF readings FOR VALUES IN ('south');
         INSERT INTO readings VALUES ('north', '2026-01-01', 1), ('south', '2026-01-01', 2);",
    )
    .await;
    let before = db.table_hash("readings").await;
    let spec = db.write(
        "readings.toml",
        "name = \"readings\"\ntarget = \"public.readings\"\nkey = [\"region\", \"day\"]\n",
    );
    let file = db.write(
        "readings.csv",
        "region,day,value\nnorth,2026-01-01,10\nsouth,2026-01-02,3\nnorth,2026-01-02,4\n",
    );
    let id = db.check(&spec, &file).await.expect("check");
    let applied = promote_now(&db, id).await;
    assert_eq!((applied.inserted, applied.updated), (2, 1));
    undo(&db, id).await.expect("undo");
    assert_eq!(db.table_hash("readings").await, before);
}
