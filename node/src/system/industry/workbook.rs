//! Forms as XLSX workbooks. A unit downloads its form's workbook for a period, fills the
//! value column and uploads it; the upload is checked to be that form's workbook for that
//! period (sheet, form code, period, header, every indicator row in order) and each fault
//! names its cell. Summaries export in the form's own layout: one row per indicator, the
//! jurisdiction's figure, then each part of it.
//!
//! Layout of the sheet `填报`:
//!
//! | row | A | B | C | D | E | F |
//! |---|---|---|---|---|---|---|
//! | 1 | 报表代码 | *code* | | | | |
//! | 2 | 报告期 | *period* | | | | |
//! | 3 | 报送单位 | *unit* | | | | |
//! | 4 | 报表名称 | *name* | | | | |
//! | 6 | 指标代码 | 指标名称 | 计量单位 | 三新分类 | 必填 | 数值 |
//! | 7… | *one indicator a row* | | | | | *value* |

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::forms::Form;
use super::summary::{shown, Held};
use super::value::{self, ValueInput};
use crate::error::{AppError, AppResult};

/// The sheet a unit fills.
pub const SHEET: &str = "填报";
/// The most bytes the parts of an uploaded workbook may unpack to.
pub const MAX_UNPACKED_BYTES: u64 = 16 * 1024 * 1024;
/// Zero-based row of the header.
const HEADER_ROW: u32 = 5;
/// The header's labels.
const HEADER: [&str; 6] = ["指标代码", "指标名称", "计量单位", "三新分类", "必填", "数值"];
/// Zero-based column of the values.
const VALUE_COLUMN: u16 = 5;

fn x(e: XlsxError) -> AppError {
    AppError::internal(e)
}

/// `A1`-style name of a zero-based cell.
pub fn cell_name(row: u32, column: u16) -> String {
    let mut letters = String::new();
    let mut c = u32::from(column) + 1;
    while c > 0 {
        let rem = (c - 1) % 26;
        letters.insert(0, char::from(b'A' + rem as u8));
        c = (c - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}

/// The cell of indicator `code`'s value in the workbook of `form`.
pub fn value_cell(form: &Form, code: &str) -> Option<String> {
    let i = form.indicators.iter().position(|ind| ind.code == code)?;
    Some(cell_name(HEADER_ROW + 1 + i as u32, VALUE_COLUMN))
}

/// The workbook of `form` for `period` and the unit `unit` (empty: a blank one), with the
/// values of `values` filled in.
pub fn template(form: &Form, period: &str, unit: &str, values: &BTreeMap<String, String>) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(SHEET).map_err(x)?;
    let bold = Format::new().set_bold();
    let filled = Format::new().set_background_color("FFF2CC").set_unlocked();
    for (row, (label, text)) in
        [("报表代码", form.code.as_str()), ("报告期", period), ("报送单位", unit), ("报表名称", form.name.as_str())]
            .iter()
            .enumerate()
    {
        sheet.write_string_with_format(row as u32, 0, *label, &bold).map_err(x)?;
        sheet.write_string(row as u32, 1, *text).map_err(x)?;
    }
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string_with_format(HEADER_ROW, c as u16, *h, &bold).map_err(x)?;
    }
    for (i, ind) in form.indicators.iter().enumerate() {
        let row = HEADER_ROW + 1 + i as u32;
        sheet.write_string(row, 0, &ind.code).map_err(x)?;
        sheet.write_string(row, 1, &ind.name).map_err(x)?;
        sheet.write_string(row, 2, &ind.unit).map_err(x)?;
        sheet.write_string(row, 3, &ind.class_code).map_err(x)?;
        sheet.write_string(row, 4, if ind.required { "是" } else { "否" }).map_err(x)?;
        match values.get(&ind.code) {
            Some(v) => sheet.write_string_with_format(row, VALUE_COLUMN, v, &filled).map_err(x)?,
            None => sheet.write_blank(row, VALUE_COLUMN, &filled).map_err(x)?,
        };
    }
    sheet.set_column_width(0, 12).map_err(x)?;
    sheet.set_column_width(1, 32).map_err(x)?;
    sheet.set_column_width(5, 18).map_err(x)?;
    if !form.rules.is_empty() {
        let top = HEADER_ROW + 2 + form.indicators.len() as u32;
        sheet.write_string_with_format(top, 0, "审核关系", &bold).map_err(x)?;
        for (i, r) in form.rules.iter().enumerate() {
            sheet.write_string(top + 1 + i as u32, 0, r).map_err(x)?;
        }
    }
    book.save_to_buffer().map_err(x)
}

fn not_the_form(zh: impl std::fmt::Display, en: impl std::fmt::Display) -> AppError {
    AppError::invalid("file", format!("不是本报表的填报文件：{zh}"), format!("not this form's workbook: {en}"))
}

fn at(cell: String, zh: impl std::fmt::Display, en: impl std::fmt::Display) -> AppError {
    AppError::invalid(&format!("cell {cell}"), format!("单元格 {cell}：{zh}"), format!("cell {cell}: {en}"))
}

/// The text of a cell as the node reads it: numbers in their shortest exact form.
fn text_of(cell: Option<&Data>) -> Option<String> {
    match cell? {
        Data::Empty => None,
        Data::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(f.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// Refuses a file whose parts would unpack to more than [`MAX_UNPACKED_BYTES`] (as its
/// directory declares them) or that is no ZIP at all.
fn check_size(bytes: &[u8]) -> AppResult<()> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| not_the_form("不是 XLSX 文件", e))?;
    let mut total = 0u64;
    for i in 0..archive.len() {
        let part = archive.by_index_raw(i).map_err(|e| not_the_form("不是 XLSX 文件", e))?;
        total = total.saturating_add(part.size());
    }
    if total > MAX_UNPACKED_BYTES {
        return Err(AppError::invalid(
            "file",
            format!("文件解压后超过 {} MiB", MAX_UNPACKED_BYTES >> 20),
            format!("the workbook unpacks to more than {} MiB", MAX_UNPACKED_BYTES >> 20),
        ));
    }
    Ok(())
}

/// Reads an uploaded workbook of `form` for `period`: the values it gives, by indicator code.
pub fn read(form: &Form, period: &str, bytes: &[u8]) -> AppResult<BTreeMap<String, ValueInput>> {
    check_size(bytes)?;
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| not_the_form("不是 XLSX 文件", e))?;
    let range = book
        .worksheet_range(SHEET)
        .map_err(|_| not_the_form(format!("没有工作表“{SHEET}”"), format!("no sheet “{SHEET}”")))?;
    let cell = |row: u32, column: u16| text_of(range.get_value((row, u32::from(column))));
    if cell(0, 1).as_deref() != Some(form.code.as_str()) {
        return Err(not_the_form(
            format!("B1 应为报表代码 {}", form.code),
            format!("B1 must hold the form code {}", form.code),
        ));
    }
    if cell(1, 1).as_deref() != Some(period) {
        return Err(not_the_form(format!("B2 应为报告期 {period}"), format!("B2 must hold the period {period}")));
    }
    for (c, h) in HEADER.iter().enumerate() {
        if cell(HEADER_ROW, c as u16).as_deref() != Some(*h) {
            return Err(not_the_form(format!("第 6 行表头应为“{}”", HEADER.join("、")), "row 6 is not the header"));
        }
    }
    let mut values = BTreeMap::new();
    for (i, ind) in form.indicators.iter().enumerate() {
        let row = HEADER_ROW + 1 + i as u32;
        if cell(row, 0).as_deref() != Some(ind.code.as_str()) {
            return Err(at(
                cell_name(row, 0),
                format!("应为指标代码 {}", ind.code),
                format!("must hold indicator code {}", ind.code),
            ));
        }
        if cell(row, 2).unwrap_or_default() != ind.unit {
            return Err(at(
                cell_name(row, 2),
                format!("计量单位应为“{}”", ind.unit),
                format!("the unit must be “{}”", ind.unit),
            ));
        }
        if let Some(v) = cell(row, VALUE_COLUMN) {
            values.insert(ind.code.clone(), ValueInput::Text(v));
        }
    }
    Ok(values)
}

/// Renames the field of a fault in a report's values (`values.CODE`) to the cell of the
/// workbook that holds it.
pub fn locate(form: &Form, mut e: AppError) -> AppError {
    let Some(code) = e.field.as_deref().and_then(|f| f.strip_prefix("values.")).map(str::to_owned) else { return e };
    if let Some(cell) = value_cell(form, &code) {
        e.field = Some(format!("cell {cell}"));
        e.detail_zh = format!("单元格 {cell}：{}", e.detail_zh);
        e.detail_en = format!("cell {cell}: {}", e.detail_en);
    }
    e
}

/// The summaries of a form's period in the form's layout: a row per indicator with the
/// jurisdiction's figure (`total`) and then each of `parts` (label, summary).
pub fn summary(form: &Form, period: &str, total: &Held, parts: &[(String, &Held)]) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("汇总").map_err(x)?;
    let bold = Format::new().set_bold();
    sheet.write_string_with_format(0, 0, format!("{}（{}）汇总表", form.name, form.code), &bold).map_err(x)?;
    sheet.write_string(1, 0, format!("报告期：{period}")).map_err(x)?;
    sheet
        .write_string(
            2,
            0,
            format!(
                "报送单位 {}/{}，下级节点 {}/{}",
                total.summary.units_reported,
                total.summary.units_expected,
                total.summary.children_reported,
                total.summary.children_expected
            ),
        )
        .map_err(x)?;
    let header = ["指标代码", "指标名称", "计量单位", "汇总方式", "本辖区"];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(4, c as u16, *h, &bold).map_err(x)?;
    }
    for (j, (label, _)) in parts.iter().enumerate() {
        sheet.write_string_with_format(4, (header.len() + j) as u16, label, &bold).map_err(x)?;
    }
    for (i, ind) in form.indicators.iter().enumerate() {
        let row = 5 + i as u32;
        sheet.write_string(row, 0, &ind.code).map_err(x)?;
        sheet.write_string(row, 1, &ind.name).map_err(x)?;
        sheet.write_string(row, 2, &ind.unit).map_err(x)?;
        sheet.write_string(row, 3, ind.aggregation.label_zh()).map_err(x)?;
        let columns = std::iter::once(total).chain(parts.iter().map(|(_, h)| *h));
        for (j, held) in columns.enumerate() {
            let figure = held.summary.figures.iter().find(|f| f.code == ind.code);
            if let Some(v) = figure.and_then(|f| shown(f, ind.aggregation)) {
                let column = (header.len() - 1 + j) as u16;
                sheet.write_number(row, column, v as f64 / 1000.0).map_err(x)?;
            }
        }
    }
    sheet.set_column_width(1, 32).map_err(x)?;
    book.save_to_buffer().map_err(x)
}

/// A value as the console shows it.
pub fn shown_text(milli: Option<i64>) -> String {
    milli.map_or_else(|| "—".to_owned(), value::format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_named_as_spreadsheets_name_them() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(6, 5), "F7");
        assert_eq!(cell_name(9, 25), "Z10");
        assert_eq!(cell_name(0, 26), "AA1");
    }
}
