//! Whatever bytes arrive, the reader never panics and every record is accounted for: each one
//! lands in staging, and is either among the good rows or reported with an issue.
mod common;

use common::{PRODUCTS_SPEC, TestDb};
use proptest::prelude::*;

fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"SKU-0123456789,.\"\n\r\tabcN/A ".to_vec()),
        1 => any::<u8>(),
        1 => Just(0u8),
        1 => Just(0xffu8),
    ];
    prop::collection::vec(byte, 0..300)
}

#[test]
fn every_record_is_staged_and_accounted_for() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let db = rt.block_on(TestDb::with_catalog());
    let spec = db.write(
        "feed.toml",
        format!("{PRODUCTS_SPEC}[policy]\nallow_empty = true\n"),
    );
    let client = rt.block_on(db.client());
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let checked = std::cell::Cell::new(0);
    runner
        .run(&(any::<bool>(), csvish()), |(with_header, body)| {
            let mut bytes = Vec::new();
            if with_header {
                bytes.extend_from_slice(b"sku,name,price,category\n");
            }
            bytes.extend_from_slice(&body);
            let file = db.write("fuzz.csv", &bytes);
            match rt.block_on(db.check(&spec, &file)) {
                // A header that does not fit the target is a clear error, never a panic.
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(msg.contains("fuzz.csv"), "unexpected error: {msg}");
                }
                Ok(id) => {
                    checked.set(checked.get() + 1);
                    let row = rt
                        .block_on(client.query_one(
                            &format!(
                                "SELECT (SELECT rows_total FROM airlock.batches WHERE id = {id}),
                                        (SELECT count(*) FROM airlock_stage.batch_{id}),
                                        (SELECT count(*) FROM airlock_stage.batch_{id} s
                                         WHERE NOT EXISTS (SELECT 1 FROM airlock_stage.batch_{id}_rows r WHERE r.__ord = s._ord)
                                           AND NOT EXISTS (SELECT 1 FROM airlock_stage.batch_{id}_issues i
                                                           WHERE i.ord = s._ord AND i.severity IN ('error', 'superseded'))),
                                        (SELECT count(*) FROM airlock_stage.batch_{id}_rows r
                                         WHERE EXISTS (SELECT 1 FROM airlock_stage.batch_{id}_issues i
                                                       WHERE i.ord = r.__ord AND i.severity = 'error'))"
                            ),
                            &[],
                        ))
                        .expect("invariants query");
                    let (total, staged, lost, bad_but_good): (i64, i64, i64, i64) =
                        (row.get(0), row.get(1), row.get(2), row.get(3));
                    prop_assert_eq!(total, staged, "every record is staged");
                    prop_assert_eq!(lost, 0, "a record neither good nor reported");
                    prop_assert_eq!(bad_but_good, 0, "a reported row among the good ones");
                    let s = rt.block_on(db.summary(id));
                    prop_assert_eq!(s.rows.total, s.rows.good + s.rows.quarantined + s.rows.superseded);
                }
            }
            Ok(())
        })
        .expect("property holds");
    assert!(
        checked.get() > 10,
        "only {} inputs got past the header",
        checked.get()
    );
}
