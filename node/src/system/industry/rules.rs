//! Check rules between a form's indicators (审核关系), written as people write them on a
//! form: `A03 <= A01`, `A01 = A02 + A03`, `A05 >= 0`. Each side is a sum of indicator codes
//! and numbers, each with `+` or `-`; the comparison is one of `=`, `<=`, `>=`, `<`, `>`.
//! Sides are compared in thousandths, exactly. A rule naming an indicator a report left out
//! is not applied to it (an optional indicator left blank says nothing).

use std::collections::{BTreeMap, BTreeSet};

use super::value::{self, ValueKind};

/// Longest rule text, characters.
pub const MAX_RULE_CHARS: usize = 200;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`.
    Equal,
    /// `<=`.
    AtMost,
    /// `>=`.
    AtLeast,
    /// `<`.
    Below,
    /// `>`.
    Above,
}

/// One operand with its sign.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Code(bool, String),
    Number(i64),
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    text: String,
    left: Vec<Term>,
    comparison: Comparison,
    right: Vec<Term>,
}

fn split_comparison(text: &str) -> Option<(&str, Comparison, &str)> {
    for (token, c) in [
        ("<=", Comparison::AtMost),
        (">=", Comparison::AtLeast),
        ("=", Comparison::Equal),
        ("<", Comparison::Below),
        (">", Comparison::Above),
    ] {
        if let Some((l, r)) = text.split_once(token) {
            return Some((l, c, r));
        }
    }
    None
}

fn side(text: &str, known: &BTreeSet<&str>) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    let mut negative = false;
    let mut expect_operand = true;
    for token in tokens(text) {
        match (token.as_str(), expect_operand) {
            ("+", true) | ("-", true) if terms.is_empty() && !negative => negative = token == "-",
            ("+", false) | ("-", false) => {
                negative = token == "-";
                expect_operand = true;
            }
            (operand, true) if operand != "+" && operand != "-" => {
                if operand.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
                    let milli = value::parse(operand, ValueKind::Decimal, false).map_err(|e| e.en)?;
                    terms.push(Term::Number(if negative { -milli } else { milli }));
                } else if known.contains(operand) {
                    terms.push(Term::Code(negative, operand.to_owned()));
                } else {
                    return Err(format!("unknown indicator {operand}"));
                }
                negative = false;
                expect_operand = false;
            }
            (t, _) => return Err(format!("unexpected “{t}”")),
        }
    }
    if expect_operand {
        return Err("a side ends without an operand".into());
    }
    Ok(terms)
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for ch in text.chars() {
        if ch == '+' || ch == '-' || ch.is_whitespace() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if !ch.is_whitespace() {
                out.push(ch.to_string());
            }
        } else {
            word.push(ch);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

impl Rule {
    /// Parses `text` over the indicator codes `known`; the error says what is wrong (English).
    pub fn parse(text: &str, known: &BTreeSet<&str>) -> Result<Rule, String> {
        if text.chars().count() > MAX_RULE_CHARS {
            return Err(format!("longer than {MAX_RULE_CHARS} characters"));
        }
        let (l, comparison, r) = split_comparison(text).ok_or("no comparison (=, <=, >=, <, >)")?;
        if split_comparison(r).is_some() || r.starts_with('=') {
            return Err("more than one comparison".into());
        }
        let (left, right) = (side(l, known)?, side(r, known)?);
        if !left.iter().chain(&right).any(|t| matches!(t, Term::Code(..))) {
            return Err("names no indicator".into());
        }
        Ok(Rule { text: text.trim().to_owned(), left, comparison, right })
    }

    /// The rule as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The indicators it names.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.left.iter().chain(&self.right).filter_map(|t| match t {
            Term::Code(_, c) => Some(c.as_str()),
            Term::Number(_) => None,
        })
    }

    fn sum(terms: &[Term], values: &BTreeMap<String, i64>) -> Option<i128> {
        let mut total = 0i128;
        for t in terms {
            total += match t {
                Term::Number(n) => i128::from(*n),
                Term::Code(negative, code) => {
                    let v = i128::from(*values.get(code)?);
                    if *negative {
                        -v
                    } else {
                        v
                    }
                }
            };
        }
        Some(total)
    }

    /// Whether `values` keep the rule; `None` when a value it names is missing.
    pub fn holds(&self, values: &BTreeMap<String, i64>) -> Option<bool> {
        let (l, r) = (Rule::sum(&self.left, values)?, Rule::sum(&self.right, values)?);
        Some(match self.comparison {
            Comparison::Equal => l == r,
            Comparison::AtMost => l <= r,
            Comparison::AtLeast => l >= r,
            Comparison::Below => l < r,
            Comparison::Above => l > r,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<&'static str> {
        ["A01", "A02", "A03", "B1"].into_iter().collect()
    }

    fn values(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn rules_compare_sums_exactly() {
        let sum = Rule::parse("A01 = A02 + A03", &known()).expect("parse");
        assert_eq!(sum.holds(&values(&[("A01", 3_000), ("A02", 1_000), ("A03", 2_000)])), Some(true));
        assert_eq!(sum.holds(&values(&[("A01", 3_001), ("A02", 1_000), ("A03", 2_000)])), Some(false));
        assert_eq!(sum.holds(&values(&[("A01", 3_000), ("A02", 1_000)])), None, "A03 missing");
        let at_most = Rule::parse("A03<=A01-A02", &known()).expect("parse");
        assert_eq!(at_most.holds(&values(&[("A01", 5_000), ("A02", 1_000), ("A03", 4_000)])), Some(true));
        assert_eq!(at_most.holds(&values(&[("A01", 5_000), ("A02", 1_000), ("A03", 4_001)])), Some(false));
        let bound = Rule::parse("B1 > 0.5", &known()).expect("parse");
        assert_eq!(bound.holds(&values(&[("B1", 501)])), Some(true));
        assert_eq!(bound.holds(&values(&[("B1", 500)])), Some(false));
        let negative = Rule::parse("-A01 + 10 >= 0", &known()).expect("parse");
        assert_eq!(negative.holds(&values(&[("A01", 10_000)])), Some(true));
        assert_eq!(sum.codes().collect::<Vec<_>>(), ["A01", "A02", "A03"]);
    }

    #[test]
    fn malformed_rules_say_why() {
        for (text, why) in [
            ("A01 + A09 = A02", "unknown indicator A09"),
            ("A01 A02", "no comparison"),
            ("A01 = A02 = A03", "more than one"),
            ("A01 <= ", "without an operand"),
            ("A01 + + A02 = A03", "unexpected"),
            ("1 = 1", "names no indicator"),
            ("A01 = 1.0001", "three decimal"),
        ] {
            let e = Rule::parse(text, &known()).expect_err(text);
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
