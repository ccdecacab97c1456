//! The ClickHouse connection against the real engine: what it reads and writes, and what a
//! person is told when the server refuses or cannot be reached.
mod common;

use airlock::clickhouse::{ClickHouse, ClickHouseUrl};
use bytes::Bytes;
use common::clickhouse::TestCh;

#[tokio::test]
async fn rows_come_back_as_the_engine_prints_them() {
    let t = TestCh::new().await;
    assert!(
        t.ch.version().starts_with(|c: char| c.is_ascii_digit()),
        "{}",
        t.ch.version()
    );
    let rows = t
        .rows("SELECT number, if(number = 1, NULL, concat('a\tb\\n', toString(number))) FROM numbers(3)")
        .await;
    assert_eq!(
        rows,
        vec![
            vec![Some("0".into()), Some("a\tb\n0".into())],
            vec![Some("1".into()), None],
            vec![Some("2".into()), Some("a\tb\n2".into())],
        ]
    );
    assert!(t.rows("SELECT 1 WHERE 0").await.is_empty());
    assert_eq!(
        t.rows("SELECT currentDatabase()").await,
        vec![vec![Some(t.name.clone())]]
    );
}

#[tokio::test]
async fn an_insert_streams_its_data_in_chunks() {
    let t = TestCh::new().await;
    t.exec("CREATE TABLE t (n UInt32, s String) ENGINE = MergeTree ORDER BY n")
        .await;
    // Rows cut across chunk boundaries, with escapes and non-ASCII text.
    let body: String = (0..5000)
        .map(|i| format!("{i}\tname {i} \\t é\n"))
        .collect();
    let chunks: Vec<Bytes> = body
        .as_bytes()
        .chunks(777)
        .map(Bytes::copy_from_slice)
        .collect();
    t.ch.insert("INSERT INTO t FORMAT TabSeparated", chunks, "loading")
        .await
        .expect("insert");
    let rows = t
        .rows("SELECT count(), sum(n), any(s) FROM t WHERE n = 4999")
        .await;
    assert_eq!(
        rows,
        vec![vec![
            Some("1".into()),
            Some("4999".into()),
            Some("name 4999 \t é".into())
        ]]
    );
    assert_eq!(
        t.rows("SELECT count() FROM t").await,
        vec![vec![Some("5000".into())]]
    );
}

#[tokio::test]
async fn the_servers_refusal_is_shown_with_what_was_being_done() {
    let t = TestCh::new().await;
    let e =
        t.ch.execute("SELECT * FROM no_such_table", "reading the target")
            .await
            .expect_err("refused")
            .to_string();
    assert!(e.starts_with("reading the target: Code: 60."), "{e}");
    assert!(e.contains("no_such_table"), "{e}");
    assert!(!e.contains("(version "), "{e}");

    t.exec("CREATE TABLE t (n UInt8) ENGINE = MergeTree ORDER BY n")
        .await;
    let e =
        t.ch.insert(
            "INSERT INTO t FORMAT TabSeparated",
            [Bytes::from_static(b"1\nnot a number\n")],
            "loading the file",
        )
        .await
        .expect_err("refused")
        .to_string();
    assert!(e.starts_with("loading the file: Code: "), "{e}");
    assert_eq!(
        t.rows("SELECT count() FROM t").await,
        vec![vec![Some("0".into())]]
    );
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_named_in_the_error() {
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = ClickHouseUrl::parse(&format!("clickhouse://loader:secret@127.0.0.1:{port}/db"))
        .expect("url");
    let e = match ClickHouse::connect(&url).await {
        Ok(_) => panic!("connected to a port nothing listens on"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.starts_with(&format!(
            "cannot connect to ClickHouse at clickhouse://loader@127.0.0.1:{port}/db: "
        )),
        "{e}"
    );
    assert!(!e.contains("secret"), "{e}");
}
