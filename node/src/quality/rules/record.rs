//! The rule checks a record needs nothing else for: ranges. They run while the record is
//! validated. (An act before the production date never gets this far: validation rejects
//! it.)

use super::{Check, Measure, RangeParams, RuleSet};
use crate::quality::anomalies::Flag;
use crate::trace::row::TraceRow;

/// The flags `row` earns from the rules of `rules` that look at it alone.
pub fn check(rules: &RuleSet, row: &TraceRow<'_>) -> Vec<Flag> {
    let mut flags = Vec::new();
    for rule in &rules.rules {
        if let Check::Range(p) = &rule.check {
            flags.extend(range(&rule.name, p, row));
        }
    }
    flags
}

/// The measured value of `row`, when it has one.
fn measured(field: Measure, row: &TraceRow<'_>) -> Option<f64> {
    match field {
        Measure::Quantity => Some(row.quantity_milli as f64 / 1000.0),
        Measure::Price => row.price_fen.map(|f| f as f64 / 100.0),
        Measure::Amount => row.amount_fen.map(|f| f as f64 / 100.0),
        Measure::ShelfLifeDays => row.shelf_life_days.map(f64::from),
    }
}

fn range(name: &str, p: &RangeParams, row: &TraceRow<'_>) -> Option<Flag> {
    let applies = row.category.starts_with(p.category.as_str())
        && (p.stage.is_empty() || p.stage == row.stage)
        && (p.unit.is_empty() || p.unit == row.unit);
    let value = measured(p.field, row).filter(|_| applies)?;
    let low = p.min.is_some_and(|m| value < m);
    let high = p.max.is_some_and(|m| value > m);
    if !(low || high) {
        return None;
    }
    let bound = |b: Option<f64>| b.map_or_else(|| "—".to_owned(), |v| v.to_string());
    let (min, max) = (bound(p.min), bound(p.max));
    Some(Flag {
        rule: "range",
        zh: format!("{name}：{}为 {value}，不在 [{min}, {max}] 之内", p.field.label_zh()),
        en: format!("{name}: {} is {value}, outside [{min}, {max}]", p.field.code()),
    })
}

/// Chinese label of a stage code.
pub fn stage_zh(code: &str) -> &'static str {
    tracenode_adapters::codes::Stage::from_code(code).map_or("环节", |s| s.label_zh())
}
