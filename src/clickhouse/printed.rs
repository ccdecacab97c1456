//! Values as text, in SQL, the way a person reads them in issues and in the review: a
//! decimal with its scale's digits (`toString` drops trailing zeros: `-4.00` would read
//! `-4`), a date-time in its column's zone, everything else as `toString` gives it; several columns (a key) joined by `, `,
//! empty ones left out — as PostgreSQL's `concat_ws` shows them.
use super::client::ident;
use super::types::ChType;
use crate::validate::binding::BoundColumn;
use crate::validate::types::TypeRule;

/// The text of `expr`, a value of column `c`'s type.
pub fn value(expr: &str, c: &BoundColumn) -> String {
    match &c.value_rule {
        TypeRule::ClickHouse(t) => match t.base {
            ChType::Decimal { scale, .. } => format!("toDecimalString({expr}, {scale})"),
            // In the column's zone (a staged value is in UTC).
            ChType::DateTime { .. } => match &t.zone {
                Some(z) => format!("toString({expr}, {})", super::client::quote(&z.name)),
                None => format!("toString({expr})"),
            },
            _ => format!("toString({expr})"),
        },
        _ => format!("toString({expr})"),
    }
}

/// The values of `columns` of the row `alias` (`""` for bare columns) as one text: `SKU-1`
/// or `a, b`.
pub fn joined<'a>(columns: impl IntoIterator<Item = &'a BoundColumn>, alias: &str) -> String {
    let parts: Vec<String> = columns
        .into_iter()
        .map(|c| {
            let v = value(&format!("{alias}{}", ident(&c.target)), c);
            format!("CAST({v} AS Nullable(String))")
        })
        .collect();
    match parts.is_empty() {
        true => "''".to_string(),
        false => format!(
            "arrayStringConcat(arrayFilter(x -> isNotNull(x), [{}]), ', ')",
            parts.join(", ")
        ),
    }
}
