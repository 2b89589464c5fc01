//! The console's form of an indicator set (编辑指标体系): every field of a set on one page,
//! with a fixed number of indicator rows (empty rows are left out), read back into the same
//! [`SetInput`] the API takes — so the console and the API check a set alike, and a field the
//! form cannot read (a weight that is not a whole number, steps that are not `界值=分值`) is
//! named as the API would name it.

use std::collections::HashMap;

use super::set::{GradeBounds, ObjectKind, Scoring, SetIndicator, SetInput, Step, MAX_INDICATORS};
use crate::error::{AppError, AppResult};
use crate::system::industry::period::Frequency;

/// Indicator rows the form shows.
pub const ROWS: usize = 10;

/// One indicator row as the form shows it.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Formula.
    pub formula: String,
    /// Weight.
    pub weight: String,
    /// `linear` or `steps`.
    pub kind: String,
    /// Linear: 0 points at.
    pub zero_at: String,
    /// Linear: 100 points at.
    pub full_at: String,
    /// Steps as `界值=分值; …`.
    pub steps: String,
    /// Steps: points when none is reached.
    pub otherwise: String,
}

/// The form's values.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// `month` or `quarter`.
    pub frequency: String,
    /// `entity` or `tenant`.
    pub object_kind: String,
    /// Stage code or empty.
    pub stage: String,
    /// The rows, [`ROWS`] of them.
    pub rows: Vec<Row>,
    /// Grade bounds.
    pub excellent: String,
    /// 良好 from.
    pub good: String,
    /// 达标 from.
    pub pass: String,
}

fn num(v: f64) -> String {
    let text = format!("{v}");
    text.trim_end_matches(".0").to_owned()
}

impl Values {
    /// An empty form: a monthly set of entities, the usual grade bounds.
    pub fn blank() -> Values {
        Values {
            frequency: "month".into(),
            object_kind: "entity".into(),
            rows: vec![Row { kind: "linear".into(), ..Row::default() }; ROWS],
            excellent: "85".into(),
            good: "75".into(),
            pass: "60".into(),
            ..Values::default()
        }
    }

    /// The form filled with `set`, to save its next version.
    pub fn of(set: &SetInput) -> Values {
        let mut rows: Vec<Row> = set
            .indicators
            .iter()
            .map(|i| {
                let mut r = Row {
                    code: i.code.clone(),
                    name: i.name.clone(),
                    formula: i.formula.clone(),
                    weight: i.weight.to_string(),
                    ..Row::default()
                };
                match &i.scoring {
                    Scoring::Linear { zero_at, full_at } => {
                        (r.kind, r.zero_at, r.full_at) = ("linear".into(), num(*zero_at), num(*full_at));
                    }
                    Scoring::Steps { steps, otherwise } => {
                        r.kind = "steps".into();
                        r.steps = steps
                            .iter()
                            .map(|s| format!("{}={}", num(s.bound), num(s.score)))
                            .collect::<Vec<_>>()
                            .join("; ");
                        r.otherwise = num(*otherwise);
                    }
                }
                r
            })
            .collect();
        rows.resize(ROWS.max(rows.len()), Row { kind: "linear".into(), ..Row::default() });
        Values {
            code: set.code.clone(),
            name: set.name.clone(),
            frequency: set.frequency.as_str().into(),
            object_kind: set.object_kind.as_str().into(),
            stage: set.stage.clone(),
            rows,
            excellent: num(set.grades.excellent),
            good: num(set.grades.good),
            pass: num(set.grades.pass),
        }
    }

    /// The values posted.
    pub fn posted(form: &HashMap<String, String>) -> Values {
        let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        Values {
            code: get("code"),
            name: get("name"),
            frequency: get("frequency"),
            object_kind: get("object_kind"),
            stage: get("stage"),
            // As many rows as a set may hold: a set edited with more than [`ROWS`] shows them all.
            rows: (0..MAX_INDICATORS)
                .filter(|k| form.contains_key(&format!("i{k}_code")))
                .map(|k| Row {
                    code: get(&format!("i{k}_code")),
                    name: get(&format!("i{k}_name")),
                    formula: get(&format!("i{k}_formula")),
                    weight: get(&format!("i{k}_weight")),
                    kind: get(&format!("i{k}_kind")),
                    zero_at: get(&format!("i{k}_zero_at")),
                    full_at: get(&format!("i{k}_full_at")),
                    steps: get(&format!("i{k}_steps")),
                    otherwise: get(&format!("i{k}_otherwise")),
                })
                .collect(),
            excellent: get("excellent"),
            good: get("good"),
            pass: get("pass"),
        }
    }

    /// The set the values stand for; a value the form cannot read is named by its field.
    pub fn input(&self) -> AppResult<SetInput> {
        let frequency = Frequency::parse(&self.frequency)
            .ok_or_else(|| AppError::invalid("frequency", "请选择评价周期", "choose a frequency"))?;
        let object_kind = ObjectKind::parse(&self.object_kind)
            .ok_or_else(|| AppError::invalid("object_kind", "请选择评价对象", "choose what is evaluated"))?;
        let mut indicators = Vec::new();
        for r in self.rows.iter().filter(|r| !r.code.is_empty() || !r.name.is_empty()) {
            let field = format!("indicators[{}]", indicators.len());
            indicators.push(indicator(r, &field)?);
        }
        Ok(SetInput {
            code: self.code.clone(),
            name: self.name.clone(),
            frequency,
            object_kind,
            stage: self.stage.clone(),
            indicators,
            grades: GradeBounds {
                excellent: number(&self.excellent, "grades")?,
                good: number(&self.good, "grades")?,
                pass: number(&self.pass, "grades")?,
            },
        })
    }
}

fn number(text: &str, field: &str) -> AppResult<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| AppError::invalid(field, format!("“{text}”不是数值"), format!("{text:?} is not a number")))
}

fn indicator(r: &Row, field: &str) -> AppResult<SetIndicator> {
    let weight = r.weight.parse::<u32>().map_err(|_| {
        AppError::invalid(
            &format!("{field}.weight"),
            format!("权重“{}”应为正整数", r.weight),
            format!("weight {:?} is not a whole number", r.weight),
        )
    })?;
    let scoring_field = format!("{field}.scoring");
    let scoring = if r.kind == "steps" {
        let mut steps = Vec::new();
        for part in r.steps.split([';', '；']).map(str::trim).filter(|p| !p.is_empty()) {
            let (bound, score) = part.split_once(['=', '＝']).ok_or_else(|| {
                AppError::invalid(
                    &scoring_field,
                    format!("分档“{part}”应写作 界值=分值"),
                    format!("step {part:?} is written bound=points"),
                )
            })?;
            steps.push(Step {
                bound: number(bound.trim(), &scoring_field)?,
                score: number(score.trim(), &scoring_field)?,
            });
        }
        let otherwise = if r.otherwise.is_empty() { 0.0 } else { number(&r.otherwise, &scoring_field)? };
        Scoring::Steps { steps, otherwise }
    } else {
        Scoring::Linear { zero_at: number(&r.zero_at, &scoring_field)?, full_at: number(&r.full_at, &scoring_field)? }
    };
    Ok(SetIndicator { code: r.code.clone(), name: r.name.clone(), formula: r.formula.clone(), weight, scoring })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_reads_back_as_it_was_shown() {
        let set: SetInput =
            serde_json::from_str(include_str!("../../../docs/examples/evaluation-set.json")).expect("set");
        let again = Values::of(&set).input().expect("reads");
        assert_eq!(again, set);
    }

    #[test]
    fn every_row_posted_is_read_up_to_a_set_s_most() {
        let mut form = HashMap::new();
        for k in 0..MAX_INDICATORS + 2 {
            form.insert(format!("i{k}_code"), format!("I{k}"));
        }
        assert_eq!(Values::posted(&form).rows.len(), MAX_INDICATORS);
    }
}
