//! Exports of search results: CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese
//! correctly), XLSX and GeoJSON. Every export writes an audit row; exports are capped at
//! [`EXPORT_LIMIT`] rows and say so when they are cut.

use rust_xlsxwriter::{Format, Workbook};
use serde_json::json;
use tracenode_adapters::codes::Stage;

use super::model::Entity;
use crate::error::{AppError, AppResult};

/// The most rows one export holds.
pub const EXPORT_LIMIT: i64 = 100_000;

const HEADERS: [&str; 16] = [
    "统一社会信用代码",
    "名称",
    "类型",
    "行政区划代码",
    "地区",
    "地址",
    "经度",
    "纬度",
    "联系人",
    "联系电话",
    "追溯环节",
    "产品类目",
    "商户编码",
    "商户类型",
    "备案时间(UTC)",
    "审核状态",
];

fn status_zh(s: &str) -> &'static str {
    super::vocabulary::status_zh(s)
}

fn cells(e: &Entity) -> [String; 16] {
    [
        e.code.clone(),
        e.name.clone(),
        e.kind.label_zh().to_owned(),
        e.region.clone(),
        e.region_name.clone(),
        e.address.clone(),
        e.longitude.map(|v| v.to_string()).unwrap_or_default(),
        e.latitude.map(|v| v.to_string()).unwrap_or_default(),
        e.contact_person.clone(),
        e.contact_phone.clone(),
        e.stages.iter().map(|s: &Stage| s.label_zh()).collect::<Vec<_>>().join("、"),
        e.categories.join("、"),
        e.merchant_code.clone().unwrap_or_default(),
        e.merchant_type.clone().unwrap_or_default(),
        e.filed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        status_zh(&e.status).to_owned(),
    ]
}

/// Cells that a spreadsheet would read as a formula are prefixed with `'` (CSV injection).
fn defuse(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@']) && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The rows as CSV.
pub fn csv(rows: &[Entity]) -> AppResult<Vec<u8>> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(HEADERS).map_err(AppError::internal)?;
        for e in rows {
            w.write_record(cells(e).map(defuse)).map_err(AppError::internal)?;
        }
        w.flush().map_err(AppError::internal)?;
    }
    Ok(out)
}

/// The rows as an XLSX workbook.
pub fn xlsx(rows: &[Entity]) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("追溯责任主体").map_err(AppError::internal)?;
    let bold = Format::new().set_bold();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold).map_err(AppError::internal)?;
    }
    for (r, e) in rows.iter().enumerate() {
        let row = r as u32 + 1;
        for (c, v) in cells(e).iter().enumerate() {
            match (c, e.longitude, e.latitude) {
                (6, Some(lon), _) => sheet.write_number(row, 6, lon),
                (7, _, Some(lat)) => sheet.write_number(row, 7, lat),
                _ => sheet.write_string(row, c as u16, v),
            }
            .map_err(AppError::internal)?;
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(AppError::internal)?;
    book.save_to_buffer().map_err(AppError::internal)
}

/// The rows with coordinates as a GeoJSON FeatureCollection of points.
pub fn geojson(rows: &[Entity]) -> serde_json::Value {
    let features: Vec<serde_json::Value> = rows
        .iter()
        .filter_map(|e| {
            let (lon, lat) = (e.longitude?, e.latitude?);
            Some(json!({
                "type": "Feature",
                "id": e.id,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "code": e.code, "name": e.name, "kind": e.kind, "region": e.region,
                    "region_name": e.region_name, "status": e.status, "merchant": e.site_id.is_some(),
                }
            }))
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}
