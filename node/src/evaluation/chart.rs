//! The chart of an object's scores across periods (0–100 points, a period without a score
//! breaking the line).

use super::runs::TrendPoint;

/// Scores by period, as SVG; empty when it cannot be drawn.
pub fn scores(points: &[TrendPoint]) -> String {
    let labels: Vec<String> = points.iter().map(|p| p.period.clone()).collect();
    let values: Vec<Option<f64>> = points.iter().map(|p| p.score).collect();
    crate::console::chart::line(&labels, &values, 100.0)
}
