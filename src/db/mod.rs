//! Connection, identifier quoting and catalog introspection: the one place SQL text is built
//! from names. Values never pass through here; they travel as parameters or COPY data.
pub mod catalog;
pub mod connect;
pub mod conninfo;
pub mod pgpass;
pub mod tls;

pub use catalog::{Column, Table};
pub use connect::{ConnectTarget, close_all, connect, connect_second};

/// Quotes an SQL identifier: `a"b` becomes `"a""b"`. Every identifier Airlock puts into SQL
/// text goes through here, whether it came from the catalog, the spec or the file header.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for ch in name.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// Comma-separated quoted identifiers, each optionally prefixed by a table alias.
pub fn ident_list<'a>(names: impl IntoIterator<Item = &'a str>, alias: Option<&str>) -> String {
    names
        .into_iter()
        .map(|n| match alias {
            Some(a) => format!("{a}.{}", ident(n)),
            None => ident(n),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(ident("price"), "\"price\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            ident("x\"; DROP TABLE t; --"),
            "\"x\"\"; DROP TABLE t; --\""
        );
        assert_eq!(qualified("public", "my.table"), "\"public\".\"my.table\"");
        assert_eq!(ident_list(["a", "b"], Some("s")), "s.\"a\", s.\"b\"");
    }
}
