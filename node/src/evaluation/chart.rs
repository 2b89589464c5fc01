//! The chart of an object's scores across periods, drawn by plotters as SVG on the server;
//! a period without a score breaks the line.

use plotters::prelude::*;

use super::runs::TrendPoint;

/// Scores (0–100) by period; empty when plotters fails (the page then shows the table alone).
pub fn scores(points: &[TrendPoint]) -> String {
    draw(points).unwrap_or_default()
}

fn draw(points: &[TrendPoint]) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 240)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let n = points.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(40)
            .build_cartesian_2d(0..n.max(1), 0f64..100.0)
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(12)
            .x_label_formatter(&|i| points.get(*i as usize).map(|p| p.period.clone()).unwrap_or_default())
            .y_labels(5)
            .draw()
            .ok()?;
        let colour = RGBColor(11, 92, 173);
        let mut runs: Vec<Vec<(i32, f64)>> = vec![Vec::new()];
        for (i, p) in points.iter().enumerate() {
            match p.score {
                Some(s) => runs.last_mut()?.push((i as i32, s)),
                None => runs.push(Vec::new()),
            }
        }
        for r in runs.into_iter().filter(|r| !r.is_empty()) {
            chart.draw_series(LineSeries::new(r.clone(), colour.stroke_width(2))).ok()?;
            chart.draw_series(r.into_iter().map(|p| Circle::new(p, 3, colour.filled()))).ok()?;
        }
        root.present().ok()?;
    }
    Some(svg)
}
