//! Reporting periods (报告期) of a form: a year (`2026`), a quarter (`2026-Q4`) or a month
//! (`2026-11`), as the form's frequency says. A report is filed after its period has ended;
//! it is due `deadline_days` after the end, and taken late until staff close the period.

use chrono::{Datelike, NaiveDate};

use crate::error::{AppError, AppResult};

crate::text_status! {
    /// How often a form is reported.
    pub enum Frequency {
        /// Each month.
        Month = "month" / "月报",
        /// Each quarter.
        Quarter = "quarter" / "季报",
        /// Each year.
        Year = "year" / "年报",
    }
}

/// The years a period may fall in.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

/// One period of a frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// Its frequency.
    pub frequency: Frequency,
    /// The year.
    pub year: i32,
    /// The quarter (1–4) or month (1–12); 1 for a year.
    pub index: u32,
}

impl Period {
    /// Reads `text` as a period of `frequency`; a period of another frequency or no period
    /// at all is a 422 on `field`.
    pub fn parse(field: &str, frequency: Frequency, text: &str) -> AppResult<Period> {
        Period::read(frequency, text).ok_or_else(|| {
            let (zh, en) = match frequency {
                Frequency::Year => ("YYYY", "YYYY"),
                Frequency::Quarter => ("YYYY-Qn（n 为 1–4）", "YYYY-Qn (n from 1 to 4)"),
                Frequency::Month => ("YYYY-MM", "YYYY-MM"),
            };
            AppError::invalid(
                field,
                format!("报告期“{text}”不是{}的期别，应为 {zh}", frequency.label_zh()),
                format!("“{text}” is not a period of a {} form: write {en}", frequency.as_str()),
            )
        })
    }

    /// `text` as a period of `frequency`, if it is one.
    pub fn read(frequency: Frequency, text: &str) -> Option<Period> {
        let year_of = |t: &str| t.parse::<i32>().ok().filter(|y| t.len() == 4 && YEARS.contains(y));
        let (year, index) = match frequency {
            Frequency::Year => (year_of(text)?, 1),
            Frequency::Quarter => {
                let (y, q) = text.split_once("-Q")?;
                let q = q.parse::<u32>().ok().filter(|n| (1..=4).contains(n) && q.len() == 1)?;
                (year_of(y)?, q)
            }
            Frequency::Month => {
                let (y, m) = text.split_once('-')?;
                let month = m.parse::<u32>().ok().filter(|m| (1..=12).contains(m) && text.len() == 7)?;
                (year_of(y)?, month)
            }
        };
        Some(Period { frequency, year, index })
    }

    /// Its first day.
    pub fn first_day(&self) -> NaiveDate {
        let month = match self.frequency {
            Frequency::Year => 1,
            Frequency::Quarter => (self.index - 1) * 3 + 1,
            Frequency::Month => self.index,
        };
        NaiveDate::from_ymd_opt(self.year, month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// Its last day.
    pub fn last_day(&self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    /// The period after it.
    pub fn next(&self) -> Period {
        let last = match self.frequency {
            Frequency::Year => 1,
            Frequency::Quarter => 4,
            Frequency::Month => 12,
        };
        if self.index == last {
            Period { year: self.year + 1, index: 1, ..*self }
        } else {
            Period { index: self.index + 1, ..*self }
        }
    }

    /// The period before it.
    pub fn previous(&self) -> Period {
        let last = match self.frequency {
            Frequency::Year => 1,
            Frequency::Quarter => 4,
            Frequency::Month => 12,
        };
        if self.index == 1 {
            Period { year: self.year - 1, index: last, ..*self }
        } else {
            Period { index: self.index - 1, ..*self }
        }
    }

    /// The day its reports are due (the last day on which a report is on time).
    pub fn due(&self, deadline_days: i32) -> NaiveDate {
        self.last_day() + chrono::Days::new(u64::try_from(deadline_days.max(0)).unwrap_or(0))
    }

    /// Whether it has ended by `today`.
    pub fn has_ended(&self, today: NaiveDate) -> bool {
        self.last_day() < today
    }

    /// The latest period of `frequency` that has ended by `today`.
    pub fn latest_ended(frequency: Frequency, today: NaiveDate) -> Period {
        let current = match frequency {
            Frequency::Year => Period { frequency, year: today.year(), index: 1 },
            Frequency::Quarter => Period { frequency, year: today.year(), index: today.month0() / 3 + 1 },
            Frequency::Month => Period { frequency, year: today.year(), index: today.month() },
        };
        current.previous()
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.frequency {
            Frequency::Year => write!(f, "{}", self.year),
            Frequency::Quarter => write!(f, "{}-Q{}", self.year, self.index),
            Frequency::Month => write!(f, "{}-{:02}", self.year, self.index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("day")
    }

    #[test]
    fn periods_read_print_and_span_their_days() {
        let q4 = Period::read(Frequency::Quarter, "2026-Q4").expect("q4");
        assert_eq!((q4.first_day(), q4.last_day()), (day("2026-10-01"), day("2026-12-31")));
        assert_eq!(q4.next().to_string(), "2027-Q1");
        assert_eq!(q4.previous().to_string(), "2026-Q3");
        let feb = Period::read(Frequency::Month, "2024-02").expect("feb");
        assert_eq!(feb.last_day(), day("2024-02-29"));
        assert_eq!(feb.due(15), day("2024-03-15"));
        let jan = Period::read(Frequency::Month, "2027-01").expect("jan");
        assert_eq!(jan.previous().to_string(), "2026-12");
        let year = Period::read(Frequency::Year, "2025").expect("year");
        assert_eq!((year.first_day(), year.last_day()), (day("2025-01-01"), day("2025-12-31")));
        assert!(year.has_ended(day("2026-01-01")) && !year.has_ended(day("2025-12-31")));
        assert_eq!(Period::latest_ended(Frequency::Month, day("2026-12-03")).to_string(), "2026-11");
        assert_eq!(Period::latest_ended(Frequency::Quarter, day("2026-01-10")).to_string(), "2025-Q4");
        assert_eq!(Period::latest_ended(Frequency::Year, day("2026-12-03")).to_string(), "2025");
    }

    #[test]
    fn text_of_another_frequency_is_no_period() {
        for (frequency, text) in [
            (Frequency::Month, "2026-13"),
            (Frequency::Month, "2026-1"),
            (Frequency::Month, "2026-Q1"),
            (Frequency::Quarter, "2026-Q5"),
            (Frequency::Quarter, "2026-Q01"),
            (Frequency::Quarter, "2026-11"),
            (Frequency::Year, "26"),
            (Frequency::Year, "1999"),
            (Frequency::Year, "2026-11"),
        ] {
            assert_eq!(Period::read(frequency, text), None, "{text}");
        }
        let e = Period::parse("period", Frequency::Quarter, "2026-11").expect_err("month for a quarter");
        assert_eq!(e.field.as_deref(), Some("period"));
    }
}
