//! A ClickHouse table read from the engine's own catalog.
mod common;

use airlock::clickhouse::catalog::{self, Constraint, Default};
use airlock::clickhouse::types::ChType;
use common::clickhouse::TestCh;

#[tokio::test]
async fn a_table_is_read_with_its_types_defaults_key_and_checks() {
    let t = TestCh::new().await;
    t.exec(
        "CREATE TABLE products (sku String, name String DEFAULT '', price Decimal(10, 2), \
         cat LowCardinality(String), n Nullable(Int32), m UInt8 MATERIALIZED 1, \
         a String ALIAS upper(name), \
         CONSTRAINT price_pos CHECK price >= 0, \
         CONSTRAINT `odd, name` CHECK (length(sku) = 11) AND (sku LIKE 'SKU-%'), \
         CONSTRAINT a1 ASSUME n > 0) \
         ENGINE = ReplacingMergeTree ORDER BY (sku, cat) PRIMARY KEY sku",
    )
    .await;
    let table = catalog::describe(&t.ch, "products")
        .await
        .expect("describe");
    assert_eq!(table.display_name(), format!("{}.products", t.name));
    assert_eq!(
        (table.engine.as_str(), table.database_engine.as_str()),
        ("ReplacingMergeTree", "Atomic")
    );
    assert_eq!(
        table.natural_key(),
        Some(&["sku".to_string(), "cat".to_string()][..])
    );
    assert_eq!(table.primary_key, Some(vec!["sku".to_string()]));
    let names: Vec<&str> = table.settable().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["sku", "name", "price", "cat", "n"]);
    let col = |n: &str| table.columns.iter().find(|c| c.name == n).expect(n);
    assert_eq!(
        col("price").ty.base,
        ChType::Decimal {
            precision: 10,
            scale: 2
        }
    );
    assert!(col("cat").ty.low_cardinality && !col("cat").ty.nullable);
    assert!(col("n").ty.nullable);
    assert_eq!(col("name").default, Default::Expression("''".into()));
    assert_eq!(
        col("a").default,
        Default::Computed("ALIAS upper(name)".into())
    );
    assert_eq!(
        table.constraints,
        vec![
            Constraint {
                name: "price_pos".into(),
                check: "price >= 0".into()
            },
            Constraint {
                name: "odd, name".into(),
                check: "(length(sku) = 11) AND (sku LIKE 'SKU-%')".into()
            },
        ]
    );
    assert_eq!(table.exchange_refused(), None);
    // The same table named with its database, quoted.
    let again = catalog::describe(&t.ch, &format!("`{}`.products", t.name))
        .await
        .expect("describe");
    assert_eq!(again.columns, table.columns);
}

#[tokio::test]
async fn what_cannot_be_loaded_into_is_refused_with_the_reason() {
    let t = TestCh::new().await;
    t.exec("CREATE TABLE base (id UInt32) ENGINE = MergeTree ORDER BY tuple()")
        .await;
    t.exec("CREATE VIEW v AS SELECT id FROM base").await;
    let refusal = |target: &'static str| async {
        catalog::describe(&t.ch, target)
            .await
            .expect_err(target)
            .to_string()
    };
    assert_eq!(
        refusal("missing").await,
        format!(
            "--target missing: no table missing in ClickHouse database {}",
            t.name
        )
    );
    assert_eq!(
        refusal("v").await,
        "--target v: is a View; Airlock loads into tables"
    );
    assert!(refusal("a.b.c").await.contains("is not a table name"));
    let base = catalog::describe(&t.ch, "base").await.expect("describe");
    assert_eq!(base.natural_key(), None, "ORDER BY tuple() names no key");

    // A database whose engine cannot exchange tables.
    let memory = format!("{}_memory", t.name);
    t.exec(&format!("CREATE DATABASE `{memory}` ENGINE = Memory"))
        .await;
    t.exec(&format!(
        "CREATE TABLE `{memory}`.m (id UInt32) ENGINE = Memory"
    ))
    .await;
    let m = catalog::describe(&t.ch, &format!("`{memory}`.m"))
        .await
        .expect("describe");
    t.exec(&format!("DROP DATABASE `{memory}`")).await;
    assert_eq!(
        m.exchange_refused(),
        Some(format!(
            "database {memory} uses the Memory engine; EXCHANGE TABLES needs an Atomic database"
        ))
    );
}
