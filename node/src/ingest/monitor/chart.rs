//! Charts of the monitor page: SVG drawn by plotters on the server, so the page needs no
//! script. Labels are numbers and hours; the captions around them are in the page.

use plotters::prelude::*;

use super::load::Hour;
use crate::trace::row::CST_HOURS;

const SIZE: (u32, u32) = (720, 220);
const STORED: RGBColor = RGBColor(11, 92, 173);
const REJECTED: RGBColor = RGBColor(180, 35, 24);
const BUSY: RGBColor = RGBColor(6, 118, 71);

/// The Beijing hour of bar `i`.
fn hour_label(hours: &[Hour], i: i32) -> String {
    hours
        .get(i as usize)
        .map(|h| (h.start + chrono::TimeDelta::hours(CST_HOURS)).format("%H时").to_string())
        .unwrap_or_default()
}

/// Stacked bars of `(lower, upper)` per hour; `None` when plotters fails (the page then
/// shows the table alone).
fn bars(hours: &[Hour], values: impl Fn(&Hour) -> (i64, i64), colours: (RGBColor, RGBColor)) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let top = hours.iter().map(|h| values(h).0 + values(h).1).max().unwrap_or(0).max(1);
        let n = hours.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(60)
            .build_cartesian_2d(0..n, 0i64..top + top / 10 + 1)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(12)
            .x_label_formatter(&|i| hour_label(hours, *i))
            .y_labels(5)
            .draw()
            .ok()?;
        let stacked = hours.iter().enumerate().flat_map(|(i, h)| {
            let (low, high) = values(h);
            let x = i as i32;
            [
                Rectangle::new([(x, 0), (x + 1, low)], colours.0.filled()),
                Rectangle::new([(x, low), (x + 1, low + high)], colours.1.filled()),
            ]
        });
        chart.draw_series(stacked).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Records stored (blue) and rejected (red) per hour.
pub fn records(hours: &[Hour]) -> String {
    bars(hours, |h| (h.accepted, h.rejected), (STORED, REJECTED)).unwrap_or_default()
}

/// Seconds the receiver spent ingesting per hour.
pub fn busy(hours: &[Hour]) -> String {
    bars(hours, |h| ((h.busy_ms + 999) / 1000, 0), (BUSY, BUSY)).unwrap_or_default()
}
