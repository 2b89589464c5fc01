//! One subject's indicators window by window: the last 30 days one day at a time, or the last
//! 12 months one month at a time, each window computed as the lists compute it (so a point
//! of the trend equals the list's figure for that window). Drawn by plotters as SVG on the
//! server.

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde::Serialize;

use super::indicators::{next_month, Figures, Filter, Indicator, Intervals, Values, Window};
use crate::db::DbConnection;
use crate::error::AppResult;

/// Days in a daily trend.
pub const DAYS: i64 = 30;
/// Months in a monthly trend.
pub const MONTHS: usize = 12;

/// One window of a trend.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoringTrendPoint)]
pub struct Point {
    /// Label: `YYYY-MM-DD` or `YYYY-MM`.
    pub label: String,
    /// The window.
    pub window: Window,
    /// The figures.
    pub figures: Figures,
    /// Their values.
    pub values: Values,
}

/// The windows of a trend ending on `last`: `DAYS` days, or `MONTHS` months (the last one
/// cut at `last`).
pub fn windows(monthly: bool, last: NaiveDate) -> Vec<(String, Window)> {
    if !monthly {
        return (0..DAYS)
            .rev()
            .map(|back| {
                let d = last - TimeDelta::days(back);
                (d.format("%Y-%m-%d").to_string(), Window { from: d, to: d })
            })
            .collect();
    }
    let mut first = NaiveDate::from_ymd_opt(last.year(), last.month(), 1).unwrap_or(last);
    let mut out = Vec::with_capacity(MONTHS);
    for _ in 0..MONTHS {
        let to = (next_month(first) - TimeDelta::days(1)).min(last);
        out.push((first.format("%Y-%m").to_string(), Window { from: first, to }));
        first = NaiveDate::from_ymd_opt(
            if first.month() == 1 { first.year() - 1 } else { first.year() },
            if first.month() == 1 { 12 } else { first.month() - 1 },
            1,
        )
        .unwrap_or(first);
    }
    out.reverse();
    out
}

/// The trend of what `f` selects (its total), window by window.
pub fn series(
    conn: &mut DbConnection,
    f: &Filter,
    monthly: bool,
    last: NaiveDate,
    intervals: &Intervals,
) -> AppResult<Vec<Point>> {
    let mut out = Vec::new();
    for (label, window) in windows(monthly, last) {
        let c = super::compute::compute(conn, f, window, intervals)?;
        // One entity: its own figures; anything larger: the sum with its merchant activity.
        let figures = match (&f.entity, c.entities.first()) {
            (Some(_), Some(e)) => e.total,
            _ => c.total.total,
        };
        out.push(Point { label, window, values: figures.values(), figures });
    }
    Ok(out)
}

/// A line chart of `indicator` over the points; empty when plotters fails (the page then
/// shows the table alone). A point without a value breaks the line.
pub fn chart(points: &[Point], indicator: Indicator) -> String {
    let scale = if indicator.is_rate() { 10.0 } else { 1000.0 };
    let values: Vec<Option<f64>> =
        points.iter().map(|p| p.figures.value(indicator).map(|v| v as f64 / scale)).collect();
    let top = values.iter().flatten().fold(if indicator.is_rate() { 100.0f64 } else { 1.0 }, |a, &b| a.max(b)) * 1.05;
    let labels: Vec<String> = points.iter().map(|p| p.label.clone()).collect();
    crate::console::chart::line(&labels, &values, top)
}
