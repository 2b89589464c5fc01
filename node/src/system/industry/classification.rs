//! The 新产业新业态新商业模式统计分类 as a code list, by edition. Three layers of numeric codes,
//! each extending its parent's: 2 digits (大类, section), 4 (中类), 6 (小类). The nine
//! sections of the 2018 edition are seeded by migration; an operator imports the middle and
//! small classes (with the GB/T 4754-2017 industries each covers) from a CSV file, and a
//! later edition is imported whole as a new code list. An import is taken whole or not at
//! all.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::sanxin_classes as sc;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// The edition seeded with the node.
pub const EDITION_2018: &str = "2018";
/// Rows one import may carry: the 2018 edition has a few hundred.
pub const MAX_IMPORT_ROWS: usize = 5_000;
/// Longest class name, characters.
const MAX_NAME: usize = 100;
/// Longest list of GB/T 4754 industries, characters.
const MAX_INDUSTRIES: usize = 500;

/// One class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = sc)]
pub struct Class {
    /// The edition (year of publication).
    pub edition: String,
    /// 2, 4 or 6 digits.
    pub code: String,
    /// Name.
    pub name: String,
    /// 1 (大类), 2 (中类) or 3 (小类).
    pub level: i16,
    /// The GB/T 4754-2017 industries it covers (`*`: in part), as published.
    pub industries: String,
}

/// The layer a code of `digits` digits belongs to.
fn level_of(code: &str) -> Option<i16> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match code.len() {
        2 => Some(1),
        4 => Some(2),
        6 => Some(3),
        _ => None,
    }
}

/// Whether `edition` is a four-digit year.
fn check_edition(edition: &str) -> AppResult<()> {
    if edition.len() == 4 && edition.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AppError::invalid("edition", "版本应为四位年份，如 2018", "an edition is a four-digit year, e.g. 2018"))
    }
}

/// The editions held.
pub fn editions(conn: &mut DbConnection) -> AppResult<Vec<String>> {
    Ok(sc::table.select(sc::edition).distinct().order(sc::edition.desc()).load(conn)?)
}

/// The classes of `edition` under `parent` (every section when `parent` is empty).
pub fn children(conn: &mut DbConnection, edition: &str, parent: &str) -> AppResult<Vec<Class>> {
    let mut q = sc::table.filter(sc::edition.eq(edition)).into_boxed();
    q = match level_of(parent) {
        Some(level) => q.filter(sc::level.eq(level + 1)).filter(sc::code.like(format!("{parent}%"))),
        None => q.filter(sc::level.eq(1)),
    };
    Ok(q.order(sc::code.asc()).select(Class::as_select()).load(conn)?)
}

/// The class `code` of `edition`, if held.
pub fn find(conn: &mut DbConnection, edition: &str, code: &str) -> AppResult<Option<Class>> {
    Ok(sc::table.find((edition, code)).select(Class::as_select()).first(conn).optional()?)
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// The edition.
    pub edition: String,
    /// Classes added.
    pub added: usize,
    /// Classes whose name or industries changed.
    pub changed: usize,
    /// Classes as they were.
    pub unchanged: usize,
}

fn bad_row(line: usize, zh: impl std::fmt::Display, en: impl std::fmt::Display) -> AppError {
    AppError::invalid("file", format!("第 {line} 行：{zh}"), format!("line {line}: {en}"))
}

/// Reads an import file: CSV (UTF-8) with the columns `code,name,industries` (the header
/// row first; `industries` may be left out), one class a row, sorted or not.
fn read(text: &str) -> AppResult<Vec<(usize, Class)>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| bad_row(1, &e, &e))?.clone();
    let column = |name: &str| header.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
    let (Some(code_at), Some(name_at)) = (column("code"), column("name")) else {
        return Err(AppError::invalid(
            "file",
            "首行应为列名 code,name,industries",
            "the first row names the columns code,name,industries",
        ));
    };
    let industries_at = column("industries");
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| bad_row(line, &e, &e))?;
        if rows.len() >= MAX_IMPORT_ROWS {
            return Err(bad_row(
                line,
                format!("超过 {MAX_IMPORT_ROWS} 行"),
                format!("more than {MAX_IMPORT_ROWS} rows"),
            ));
        }
        let code = record.get(code_at).unwrap_or("").to_owned();
        let name = record.get(name_at).unwrap_or("").to_owned();
        let industries = industries_at.and_then(|at| record.get(at)).unwrap_or("").to_owned();
        let level = level_of(&code).ok_or_else(|| {
            bad_row(
                line,
                format!("代码“{code}”应为 2、4 或 6 位数字"),
                format!("code “{code}” is not 2, 4 or 6 digits"),
            )
        })?;
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(bad_row(
                line,
                format!("名称应为 1–{MAX_NAME} 个字符"),
                format!("a name takes 1–{MAX_NAME} characters"),
            ));
        }
        if industries.chars().count() > MAX_INDUSTRIES {
            return Err(bad_row(line, "国民经济行业代码过长", "the list of industries is too long"));
        }
        rows.push((line, Class { edition: String::new(), code, name, level, industries }));
    }
    Ok(rows)
}

/// Imports the classes of a CSV file into `edition`, each checked against its parent (held
/// already or in the same file), with an audit row.
pub fn import(conn: &mut DbConnection, ctx: &AuditContext, edition: &str, text: &str) -> AppResult<Imported> {
    check_edition(edition)?;
    let mut rows = read(text)?;
    if rows.is_empty() {
        return Err(AppError::invalid("file", "文件中没有分类", "the file holds no class"));
    }
    let held: BTreeMap<String, Class> = sc::table
        .filter(sc::edition.eq(edition))
        .select(Class::as_select())
        .load(conn)?
        .into_iter()
        .map(|c| (c.code.clone(), c))
        .collect();
    let mut seen = BTreeMap::new();
    for (line, class) in &rows {
        if let Some(first) = seen.insert(class.code.clone(), *line) {
            return Err(bad_row(
                *line,
                format!("代码 {} 与第 {first} 行重复", class.code),
                format!("code {} repeats line {first}", class.code),
            ));
        }
    }
    for (line, class) in &rows {
        if class.level == 1 {
            continue;
        }
        let parent = &class.code[..class.code.len() - 2];
        if !held.contains_key(parent) && !seen.contains_key(parent) {
            return Err(bad_row(
                *line,
                format!("代码 {} 的上级分类 {parent} 不存在", class.code),
                format!("the parent {parent} of code {} is neither held nor in the file", class.code),
            ));
        }
    }
    let mut done = Imported { edition: edition.to_owned(), added: 0, changed: 0, unchanged: 0 };
    rows.sort_by(|a, b| a.1.code.cmp(&b.1.code));
    for (_, mut class) in rows {
        class.edition = edition.to_owned();
        match held.get(&class.code) {
            Some(h) if h.name == class.name && h.industries == class.industries => done.unchanged += 1,
            Some(_) => {
                diesel::update(sc::table.find((edition, &class.code)))
                    .set((sc::name.eq(&class.name), sc::industries.eq(&class.industries)))
                    .execute(conn)?;
                done.changed += 1;
            }
            None => {
                diesel::insert_into(sc::table)
                    .values((
                        sc::edition.eq(edition),
                        sc::code.eq(&class.code),
                        sc::name.eq(&class.name),
                        sc::level.eq(class.level),
                        sc::industries.eq(&class.industries),
                    ))
                    .execute(conn)?;
                done.added += 1;
            }
        }
    }
    audit::record(
        conn,
        ctx,
        "sanxin_classes.import",
        &format!("sanxin:{edition}"),
        Outcome::Success,
        serde_json::json!({"added": done.added, "changed": done.changed, "unchanged": done.unchanged}),
    )?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_layer_by_length() {
        assert_eq!(level_of("01"), Some(1));
        assert_eq!(level_of("0101"), Some(2));
        assert_eq!(level_of("010101"), Some(3));
        assert_eq!(level_of("010"), None);
        assert_eq!(level_of("0a01"), None);
    }

    #[test]
    fn a_file_is_read_with_its_header_and_checked_row_by_row() {
        let rows =
            read("\u{feff}code,name,industries\n0101,现代种业,0511*\n010101,农作物种子培育,0511*\n").expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].0, rows[1].1.level, rows[1].1.industries.as_str()), (3, 3, "0511*"));
        let e = read("code,name\n0101,现代种业\n01011,x\n").expect_err("five digits");
        assert!(e.detail_en.contains("line 3"), "{}", e.detail_en);
        let e = read("kode,name\n").expect_err("header");
        assert!(e.detail_en.contains("code,name"), "{}", e.detail_en);
    }
}
