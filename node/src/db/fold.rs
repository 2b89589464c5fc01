//! Text searches that answer alike on both backends.
//!
//! A plain `LIKE` ignores the case of ASCII letters on SQLite and not on PostgreSQL, so the
//! same search found "VitaC Tablets" for `vitac` on one and not the other. Every name and
//! keyword search therefore compares `fold_ascii(column)` with the folded search text:
//! ASCII letters to lower case, every other character itself (Chinese has no case, and
//! full-width letters stay as written on both). PostgreSQL has `fold_ascii` from a migration
//! (an immutable SQL function over `translate`, with trigram indexes on the folded names
//! where `pg_trgm` is installed); SQLite gets it from [`register`] on each connection.

use diesel::sqlite::SqliteConnection;
use diesel::QueryResult;

diesel::define_sql_function! {
    /// ASCII letters to lower case, every other character unchanged.
    fn fold_ascii(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Registers `fold_ascii` on a SQLite connection.
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    fold_ascii_utils::register_impl(conn, |text: String| text.to_ascii_lowercase())
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
