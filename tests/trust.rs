//! Trust under hostile specs and catalogs: a feed can never write into Airlock's own catalog
//! or the server's system catalogs, the audit log stays append-only whatever statement is
//! tried, and a batch row cannot be made to name a table for Airlock to drop.
mod common;

use common::{PRODUCTS_SPEC, TestDb, fixture};

/// A spec of the sample feed's shape aimed at `target`, with extra TOML.
fn aimed_at(target: &str, extra: &str) -> String {
    format!("name = \"hostile\"\ntarget = \"{target}\"\nkey = [\"id\"]\n{extra}")
}

async fn count(db: &TestDb, table: &str) -> i64 {
    db.client()
        .await
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn no_spec_reaches_airlocks_catalog_or_the_system_catalogs() {
    let db = TestDb::with_catalog().await;
    // A first batch creates the catalog, its staging and an audit row to protect.
    let first = db.check_broken().await;
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "INSERT INTO airlock.decisions (batch_id, decision, note) VALUES ({first}, 'hold', 'real')"
        ))
        .await
        .expect("audit row");
    // A user table with a foreign key into the catalog, and one looked up from it.
    client
        .batch_execute(
            "CREATE TABLE public.sneaky (id bigint PRIMARY KEY REFERENCES airlock.batches (id), note text);
             CREATE TABLE public.plain (id bigint PRIMARY KEY, note text);",
        )
        .await
        .expect("tables");
    let file = db.write("forged.csv", "id,decision,note\n1,approve,forged\n");
    let cases = [
        (aimed_at("airlock.decisions", ""), "target", "airlock"),
        (aimed_at("airlock.batches", ""), "target", "airlock"),
        (
            aimed_at(&format!("airlock_stage.batch_{first}_issues"), ""),
            "target",
            "airlock_stage",
        ),
        (
            aimed_at("pg_catalog.pg_description", "").replace("[\"id\"]", "[\"objoid\"]"),
            "target",
            "pg_catalog",
        ),
        (
            aimed_at("information_schema.sql_features", "").replace("[\"id\"]", "[\"feature_id\"]"),
            "target",
            "information_schema",
        ),
        (aimed_at("public.sneaky", ""), "target", "airlock"),
        (
            aimed_at(
                "public.plain",
                "[columns]\nnote = { lookup = \"airlock.decisions\", match = \"note\", value = \"note\", from = \"note\" }\n",
            ),
            "columns.note.lookup",
            "airlock",
        ),
        (
            aimed_at(
                "public.plain",
                "[columns]\nnote = { lookup = \"pg_catalog.pg_authid\", match = \"rolname\", value = \"rolpassword\", from = \"note\" }\n",
            ),
            "columns.note.lookup",
            "pg_catalog",
        ),
    ];
    let decisions = count(&db, "airlock.decisions").await;
    let batches = count(&db, "airlock.batches").await;
    for (i, (spec, key, schema)) in cases.iter().enumerate() {
        let path = db.write(&format!("hostile{i}.toml"), spec);
        let err = db
            .check(&path, &file)
            .await
            .expect_err("a spec aimed at a reserved schema is refused");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("key `{key}`")) && msg.contains("no feed may use"),
            "{spec}: {msg}"
        );
        assert!(msg.contains(&format!("`{schema}`")), "{spec}: {msg}");
    }
    // Refused before any batch was made or any row read.
    assert_eq!(count(&db, "airlock.decisions").await, decisions);
    assert_eq!(count(&db, "airlock.batches").await, batches);
    // A schema that only looks like Airlock's is a user's own.
    client
        .batch_execute(
            "CREATE SCHEMA \"Airlock\"; CREATE TABLE \"Airlock\".t (id int PRIMARY KEY, note text);",
        )
        .await
        .expect("schema");
    let ok = db.write("ok.toml", aimed_at("\\\"Airlock\\\".t", ""));
    let ok_file = db.write("ok.csv", "id,note\n1,x\n");
    db.check(&ok, &ok_file)
        .await
        .expect("a user schema is fine");
}

#[tokio::test]
async fn a_batch_of_an_older_version_aimed_at_the_catalog_is_not_promoted() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let client = db.client().await;
    // As a version without the check could have recorded it.
    client
        .execute(
            "UPDATE airlock.batches SET spec = replace(spec, 'public.products', 'airlock.decisions') \
             WHERE id = $1",
            &[&id],
        )
        .await
        .expect("forge");
    let decisions = count(&db, "airlock.decisions").await;
    let opts = airlock::promote::PromoteOptions::default();
    let err = airlock::promote::promote(&db.target, id, &opts)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("no feed may use"), "{err}");
    let err = airlock::promote::undo(&db.target, id, None, &opts)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("no feed may use"), "{err}");
    assert_eq!(count(&db, "airlock.decisions").await, decisions);
}

#[tokio::test]
async fn a_forged_previous_table_names_nothing_to_drop() {
    let db = TestDb::with_catalog().await;
    // Two batches of one target: promoting the second swap drops the table the first kept.
    // A forged `previous_table` on the first must not make that drop another table.
    let first = db.check_broken().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE public.precious (id int PRIMARY KEY); INSERT INTO public.precious VALUES (1)")
        .await
        .expect("table");
    client
        .execute(
            "UPDATE airlock.batches SET previous_table = 'public.precious' WHERE id = $1",
            &[&first],
        )
        .await
        .expect("forge");
    let swap_spec = db.write(
        "swap.toml",
        format!("{PRODUCTS_SPEC}\n[policy]\nmax_count_change = 10\nmax_bad_fraction = 1\n")
            .replace("[columns]", "mode = \"swap\"\n[columns]"),
    );
    let second = db
        .check(&swap_spec, &fixture("products-broken.csv"))
        .await
        .expect("check");
    airlock::promote::promote(
        &db.target,
        second,
        &airlock::promote::PromoteOptions {
            override_policy: true,
            note: Some("swap".into()),
            ..Default::default()
        },
    )
    .await
    .expect("swap");
    assert_eq!(count(&db, "public.precious").await, 1);
}

#[tokio::test]
async fn the_audit_log_refuses_truncate_update_and_delete() {
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    airlock::batch::abort(&mut db.client().await, id, Some("kept"))
        .await
        .expect("abort");
    let client = db.client().await;
    let before = count(&db, "airlock.decisions").await;
    assert!(before >= 1);
    for statement in [
        "TRUNCATE airlock.decisions",
        "TRUNCATE airlock.batches CASCADE",
        "TRUNCATE airlock.decisions, airlock.batches",
        "DELETE FROM airlock.decisions",
        "UPDATE airlock.decisions SET note = 'rewritten'",
        "UPDATE airlock.decisions SET decision = 'approve'",
    ] {
        let err = client.batch_execute(statement).await.expect_err(statement);
        assert!(
            airlock::error::db_message(&err).contains("append-only"),
            "{statement}: {err}"
        );
    }
    assert_eq!(count(&db, "airlock.decisions").await, before);
    let note: Option<String> = client
        .query_one(
            "SELECT note FROM airlock.decisions WHERE batch_id = $1",
            &[&id],
        )
        .await
        .expect("note")
        .get(0);
    assert_eq!(note.as_deref(), Some("kept"));
}

/// Every transition the state machine does not draw is refused by the catalog's only writer,
/// and the batch keeps its state; the drawn ones go through.
#[tokio::test]
async fn every_illegal_transition_is_refused() {
    use airlock::batch::{self, State};
    let db = TestDb::with_catalog().await;
    let id = db.check_broken().await;
    let client = db.client().await;
    let mut refused = 0;
    for from in State::ALL {
        for to in State::ALL {
            client
                .execute(
                    "UPDATE airlock.batches SET state = $2 WHERE id = $1",
                    &[&id, &from.as_str()],
                )
                .await
                .expect("set up the state");
            let result = batch::mark_failed(&client, id, to, "test").await;
            let now = batch::current_state(&client, id).await.expect("state");
            if from.may_become(to) {
                result.unwrap_or_else(|e| panic!("{from} → {to}: {e}"));
                assert_eq!(now, to);
            } else {
                let err = result.expect_err("refused").to_string();
                assert!(err.contains(&format!("is {from}")), "{from} → {to}: {err}");
                assert_eq!(now, from, "{from} → {to} left the state alone");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 81 - 19);
    // The decisions go through the same table: a promoted batch cannot be quarantined.
    client
        .execute(
            "UPDATE airlock.batches SET state = 'promoted' WHERE id = $1",
            &[&id],
        )
        .await
        .expect("promoted");
    let mut c = db.client().await;
    assert!(batch::quarantine(&mut c, id, "no").await.is_err());
    assert!(batch::abort(&mut c, id, None).await.is_err());
    assert_eq!(
        batch::current_state(&client, id).await.expect("state"),
        State::Promoted
    );
}

/// Looking for staging a restart emptied never fails a command: a batch whose typed rows an
/// operator dropped by hand is passed over, and one whose rows are there says nothing.
#[tokio::test]
async fn a_hand_dropped_staging_table_does_not_stop_every_command() {
    let db = TestDb::with_catalog().await;
    let kept = db.check_broken().await;
    let dropped = db.check_broken().await;
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "DROP VIEW airlock_stage.batch_{dropped}_records; DROP TABLE airlock_stage.batch_{dropped}_rows;
             UPDATE airlock.batches SET updated_at = pg_postmaster_start_time() - interval '1 hour'"
        ))
        .await
        .expect("drop by hand");
    let lost = airlock::batch::notice_emptied_staging(&client)
        .await
        .expect("no error for a missing table");
    assert_eq!(lost, 0);
    for id in [kept, dropped] {
        assert!(db.summary(id).await.staging_lost_at.is_none(), "batch {id}");
    }
}
