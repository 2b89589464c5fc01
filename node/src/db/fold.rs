//! Text searches that answer alike on both backends.
//!
//! A plain `LIKE` ignores the case of ASCII letters on SQLite and not on PostgreSQL, so the
//! same search found "VitaC Tablets" for `vitac` on one and not the other. Every name and
//! keyword search ([`text_contains!`](crate::text_contains)) therefore matches the search text
//! with ASCII letters folded to lower case and every other character as written (Chinese has
//! no case, and full-width letters stay as written on both):
//!
//! - on SQLite against the column itself: SQLite's `LIKE` folds exactly the ASCII letters,
//!   so no function runs per row;
//! - on PostgreSQL against `fold_ascii(column)`, an immutable SQL function over `translate`
//!   made by a migration, served by trigram indexes on the folded names where `pg_trgm` is
//!   installed.

diesel::define_sql_function! {
    /// ASCII letters to lower case, every other character unchanged (PostgreSQL).
    fn fold_ascii(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A boxed filter of `$table`: `$column` contains `$needle`, ASCII letters in any case, on the
/// backend `$backend` (see the module documentation).
#[macro_export]
macro_rules! text_contains {
    ($backend:expr, $table:ty, $column:expr, $needle:expr) => {{
        use diesel::TextExpressionMethods as _;
        let pattern = $crate::db::fold::containing($needle);
        let filter: Box<
            dyn diesel::BoxableExpression<$table, $crate::db::MultiBackend, SqlType = diesel::sql_types::Bool>,
        > = match $backend {
            $crate::config::Backend::Sqlite => Box::new($column.like(pattern).escape('\\')),
            $crate::config::Backend::Postgres => {
                Box::new($crate::db::fold::fold_ascii($column).like(pattern).escape('\\'))
            }
        };
        filter
    }};
}

/// The `LIKE` pattern (escape `\`) that finds `needle` anywhere in a folded column.
pub fn containing(needle: &str) -> String {
    format!("%{}%", escape_like(&needle.to_ascii_lowercase()))
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as the escape.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ascii_letters_fold() {
        assert_eq!(containing("VitaC 维C ＶＣ 100%_"), "%vitac 维c ＶＣ 100\\%\\_%");
    }
}
