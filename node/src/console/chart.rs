//! A line chart for the console's trend pages, drawn by plotters as SVG on the server (no
//! script, no chart service): one value per labelled point on a 0–`top` axis; a point without
//! a value breaks the line rather than being drawn as zero.

use plotters::prelude::*;

/// The line of `values` over `labels`; empty when plotters fails (the page then shows its
/// table alone).
pub fn line(labels: &[String], values: &[Option<f64>], top: f64) -> String {
    draw(labels, values, top).unwrap_or_default()
}

fn draw(labels: &[String], values: &[Option<f64>], top: f64) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 240)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let n = labels.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(48)
            .build_cartesian_2d(0..n.max(1), 0f64..top.max(f64::MIN_POSITIVE))
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(10)
            .x_label_formatter(&|i| labels.get(*i as usize).cloned().unwrap_or_default())
            .y_labels(5)
            .draw()
            .ok()?;
        let colour = RGBColor(11, 92, 173);
        let mut runs: Vec<Vec<(i32, f64)>> = vec![Vec::new()];
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => runs.last_mut()?.push((i as i32, *v)),
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
