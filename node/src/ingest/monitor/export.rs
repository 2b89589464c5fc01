//! The transmission monitoring report as an XLSX workbook: each sender's traffic over the
//! window, the receiver's last 24 hours, and the alerts.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::alerts::{kind_zh, Alert};
use super::load::ReceiverLoad;
use super::SenderTraffic;
use crate::error::{AppError, AppResult};
use crate::trace::row::CST_HOURS;

fn beijing(t: chrono::NaiveDateTime) -> String {
    (t + chrono::TimeDelta::hours(CST_HOURS)).format("%Y-%m-%d %H:%M").to_string()
}

fn header(sheet: &mut Worksheet, titles: &[&str]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    for (c, t) in titles.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *t, &bold)?;
        sheet.set_column_width(c as u16, 14)?;
    }
    Ok(())
}

fn senders(sheet: &mut Worksheet, days: i64, rows: &[SenderTraffic]) -> Result<(), XlsxError> {
    sheet.set_name(format!("近{days}天各发送方"))?;
    header(
        sheet,
        &[
            "发送方",
            "批次",
            "记录",
            "入库",
            "拒收",
            "重复",
            "失败批次",
            "字节",
            "平均耗时（毫秒）",
            "最近报送（北京时间）",
            "最近状态",
            "应报周期（分钟）",
            "距最近报送（分钟）",
            "超时未报送",
        ],
    )?;
    for (i, r) in rows.iter().enumerate() {
        let row = 1 + i as u32;
        sheet.write_string(row, 0, &r.sender)?;
        for (c, v) in [r.batches, r.records, r.accepted, r.rejected, r.duplicates, r.failed, r.bytes, r.mean_ms]
            .into_iter()
            .enumerate()
        {
            sheet.write_number(row, 1 + c as u16, v as f64)?;
        }
        sheet.write_string(row, 9, r.last_seen.map(beijing).unwrap_or_default())?;
        sheet.write_string(row, 10, crate::db::SubmissionStatus::label_zh_of(&r.last_status))?;
        if let Some(e) = r.expected_every_minutes {
            sheet.write_number(row, 11, f64::from(e))?;
        }
        if let Some(l) = r.lag_minutes {
            sheet.write_number(row, 12, l as f64)?;
        }
        sheet.write_string(row, 13, if r.silent { "是" } else { "否" })?;
    }
    Ok(())
}

fn hourly(sheet: &mut Worksheet, load: &ReceiverLoad) -> Result<(), XlsxError> {
    sheet.set_name("近24小时接收负载")?;
    header(sheet, &["小时（北京时间）", "批次", "入库记录", "拒收记录", "失败批次", "字节", "处理耗时（秒）"])?;
    for (i, h) in load.hourly.iter().enumerate() {
        let row = 1 + i as u32;
        sheet.write_string(row, 0, beijing(h.start))?;
        for (c, v) in [h.submissions, h.accepted, h.rejected, h.failed, h.bytes].into_iter().enumerate() {
            sheet.write_number(row, 1 + c as u16, v as f64)?;
        }
        sheet.write_number(row, 6, h.busy_ms as f64 / 1000.0)?;
    }
    Ok(())
}

fn alert_sheet(sheet: &mut Worksheet, alerts: &[Alert]) -> Result<(), XlsxError> {
    sheet.set_name("告警")?;
    header(sheet, &["发送方", "类型", "状态", "发生（北京时间）", "恢复（北京时间）", "说明"])?;
    for (i, a) in alerts.iter().enumerate() {
        let row = 1 + i as u32;
        sheet.write_string(row, 0, &a.sender)?;
        sheet.write_string(row, 1, kind_zh(&a.kind))?;
        sheet.write_string(row, 2, if a.status == super::alerts::status::OPEN { "未恢复" } else { "已恢复" })?;
        sheet.write_string(row, 3, beijing(a.opened_at))?;
        sheet.write_string(row, 4, a.resolved_at.map(beijing).unwrap_or_default())?;
        sheet.write_string(row, 5, &a.detail_zh)?;
    }
    sheet.set_column_width(5, 60)?;
    Ok(())
}

/// The report as an XLSX workbook (three sheets, labels in Chinese).
pub fn xlsx(days: i64, rows: &[SenderTraffic], load: &ReceiverLoad, alerts: &[Alert]) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let x = |e: XlsxError| AppError::internal(e);
    senders(book.add_worksheet(), days, rows).map_err(x)?;
    hourly(book.add_worksheet(), load).map_err(x)?;
    alert_sheet(book.add_worksheet(), alerts).map_err(x)?;
    book.save_to_buffer().map_err(x)
}
