//! A statistical report form (报表制度) as data: its indicators — code, name, unit, kind of
//! value, how values combine (sum, average of reporters, maximum), the 三新 class each
//! belongs to — its check rules between indicators, its frequency and deadline. Checking a
//! definition is pure; storing it is [`super::forms`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::period::Frequency;
use super::rules::Rule;
use super::value::{Aggregation, ValueKind};
use crate::error::{AppError, AppResult};

/// Indicators a form may have.
pub const MAX_INDICATORS: usize = 200;
/// Check rules a form may have.
pub const MAX_RULES: usize = 100;
/// The most days after a period's end a form may give its units.
pub const MAX_DEADLINE_DAYS: i32 = 120;

/// One indicator (指标).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// Code in the form: 1–20 of `A-Z`, `a-z`, `0-9`, `_`, starting with a letter.
    pub code: String,
    /// Name, 1–60 characters.
    pub name: String,
    /// Unit (计量单位), up to 20 characters (e.g. 万元, 家, %).
    #[serde(default)]
    pub unit: String,
    /// What values it takes.
    pub kind: ValueKind,
    /// How units' values combine.
    pub aggregation: Aggregation,
    /// The 三新 class it belongs to (2, 4 or 6 digits of the form's edition).
    pub class_code: String,
    /// Whether a report must give it (default: yes).
    #[serde(default = "yes")]
    pub required: bool,
    /// Whether it may be negative (default: no).
    #[serde(default)]
    pub signed: bool,
}

fn yes() -> bool {
    true
}

fn edition_2018() -> String {
    super::classification::EDITION_2018.to_owned()
}

/// A form as defined (and as it goes down to the tiers below).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    /// Code: 2–20 of `A-Z`, `a-z`, `0-9`, `-`, `_`; unique across the tiers that report it.
    pub code: String,
    /// Name, 1–100 characters.
    pub name: String,
    /// The edition of the 三新 classification its classes come from (default 2018).
    #[serde(default = "edition_2018")]
    pub edition: String,
    /// How often it is reported.
    pub frequency: Frequency,
    /// Days after a period's end its reports are due (0–120).
    pub deadline_days: i32,
    /// Its indicators, in the order of the form (1–200).
    pub indicators: Vec<Indicator>,
    /// Check rules between indicators, e.g. `A01 = A02 + A03` (up to 100).
    #[serde(default)]
    pub rules: Vec<String>,
}

/// What a form keeps as its definition (the rest are columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// Indicators.
    pub indicators: Vec<Indicator>,
    /// Rules.
    pub rules: Vec<String>,
}

fn is_code(text: &str, len: std::ops::RangeInclusive<usize>, extra: &[u8]) -> bool {
    len.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

fn chars_between(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.chars().count())
}

/// Checks a definition on its own: codes, names, units and lengths, the indicators' kinds
/// against their aggregation, and every rule against the indicators. `class_held` says
/// whether a 三新 code is held for the form's edition.
pub fn check(input: &FormInput, class_held: &mut dyn FnMut(&str) -> AppResult<bool>) -> AppResult<()> {
    if !is_code(&input.code, 2..=20, b"-_") {
        return Err(AppError::invalid(
            "code",
            "报表代码应为 2–20 个字母、数字、“-”或“_”",
            "a form code takes 2–20 letters, digits, “-” or “_”",
        ));
    }
    if !chars_between(input.name.trim(), 1, 100) {
        return Err(AppError::invalid("name", "报表名称应为 1–100 个字符", "a form name takes 1–100 characters"));
    }
    if !(0..=MAX_DEADLINE_DAYS).contains(&input.deadline_days) {
        return Err(AppError::invalid(
            "deadline_days",
            format!("报送期限应为期末后 0–{MAX_DEADLINE_DAYS} 天"),
            format!("the deadline is 0–{MAX_DEADLINE_DAYS} days after a period's end"),
        ));
    }
    if input.indicators.is_empty() || input.indicators.len() > MAX_INDICATORS {
        return Err(AppError::invalid(
            "indicators",
            format!("报表应有 1–{MAX_INDICATORS} 个指标"),
            format!("a form has 1–{MAX_INDICATORS} indicators"),
        ));
    }
    let mut codes = BTreeSet::new();
    for (i, indicator) in input.indicators.iter().enumerate() {
        check_indicator(i, indicator, class_held)?;
        if !codes.insert(indicator.code.as_str()) {
            return Err(AppError::invalid(
                &format!("indicators[{i}].code"),
                format!("指标代码 {} 重复", indicator.code),
                format!("indicator code {} appears twice", indicator.code),
            ));
        }
    }
    if input.rules.len() > MAX_RULES {
        return Err(AppError::invalid(
            "rules",
            format!("审核关系不能超过 {MAX_RULES} 条"),
            format!("a form has at most {MAX_RULES} rules"),
        ));
    }
    for (i, text) in input.rules.iter().enumerate() {
        Rule::parse(text, &codes).map_err(|why| {
            AppError::invalid(
                &format!("rules[{i}]"),
                format!("审核关系“{text}”有误：{why}"),
                format!("rule “{text}”: {why}"),
            )
        })?;
    }
    Ok(())
}

fn check_indicator(
    i: usize,
    indicator: &Indicator,
    class_held: &mut dyn FnMut(&str) -> AppResult<bool>,
) -> AppResult<()> {
    let field = |name: &str| format!("indicators[{i}].{name}");
    let starts_with_letter = indicator.code.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    if !is_code(&indicator.code, 1..=20, b"_") || !starts_with_letter {
        return Err(AppError::invalid(
            &field("code"),
            "指标代码应为 1–20 个字母、数字或“_”，以字母开头",
            "an indicator code takes 1–20 letters, digits or “_”, starting with a letter",
        ));
    }
    if !chars_between(indicator.name.trim(), 1, 60) {
        return Err(AppError::invalid(
            &field("name"),
            "指标名称应为 1–60 个字符",
            "an indicator name takes 1–60 characters",
        ));
    }
    if !chars_between(&indicator.unit, 0, 20) {
        return Err(AppError::invalid(&field("unit"), "计量单位不超过 20 个字符", "a unit takes up to 20 characters"));
    }
    if indicator.kind == ValueKind::Percent && indicator.aggregation == Aggregation::Sum {
        return Err(AppError::invalid(
            &field("aggregation"),
            "百分比指标不能求和，请选择“报送单位平均”或“最大值”",
            "a percentage cannot be summed: choose average or max",
        ));
    }
    if !class_held(&indicator.class_code)? {
        return Err(AppError::invalid(
            &field("class_code"),
            format!("三新分类代码 {} 不存在", indicator.class_code),
            format!("no 三新 class {} in the form's edition", indicator.class_code),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> FormInput {
        let indicator = |code: &str, kind, aggregation| Indicator {
            code: code.into(),
            name: format!("指标 {code}"),
            unit: "万元".into(),
            kind,
            aggregation,
            class_code: "01".into(),
            required: true,
            signed: false,
        };
        FormInput {
            code: "SX-101".into(),
            name: "追溯服务业务情况".into(),
            edition: "2018".into(),
            frequency: Frequency::Month,
            deadline_days: 10,
            indicators: vec![
                indicator("A01", ValueKind::Decimal, Aggregation::Sum),
                indicator("A02", ValueKind::Decimal, Aggregation::Sum),
                indicator("B01", ValueKind::Percent, Aggregation::Average),
            ],
            rules: vec!["A02 <= A01".into()],
        }
    }

    fn held(code: &str) -> AppResult<bool> {
        Ok(code == "01" || code == "0101")
    }

    #[test]
    fn a_good_form_passes_and_each_fault_names_its_field() {
        check(&sample(), &mut held).expect("good");
        type Change = Box<dyn Fn(&mut FormInput)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|f| f.code = "x".into()), "code"),
            (Box::new(|f| f.name = " ".into()), "name"),
            (Box::new(|f| f.deadline_days = 121), "deadline_days"),
            (Box::new(|f| f.indicators.clear()), "indicators"),
            (Box::new(|f| f.indicators[1].code = "A01".into()), "indicators[1].code"),
            (Box::new(|f| f.indicators[0].code = "1A".into()), "indicators[0].code"),
            (Box::new(|f| f.indicators[2].aggregation = Aggregation::Sum), "indicators[2].aggregation"),
            (Box::new(|f| f.indicators[1].class_code = "99".into()), "indicators[1].class_code"),
            (Box::new(|f| f.rules.push("A03 <= A01".into())), "rules[1]"),
        ];
        for (change, field) in cases {
            let mut form = sample();
            change(&mut form);
            let e = check(&form, &mut held).expect_err(field);
            assert_eq!(e.field.as_deref(), Some(field), "{}", e.detail_en);
        }
    }
}
