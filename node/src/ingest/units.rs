//! Plausible maxima by unit of measure. A record's quantity and unit price are checked against
//! the maxima of its unit when the unit is one the node knows (Chinese names, their usual
//! abbreviations and the UN/ECE Recommendation 20 codes EPCIS documents carry, such as `KGM`);
//! a unit the node does not know is held to the general maxima of [`super::validate`]. The
//! maxima are generous — a record far beyond them is a slip of the keyboard or an attack on
//! the totals, never trade — and no unit's maximum exceeds the general one, so the bound on
//! the daily sums holds for every unit.

/// The maxima of one family of units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitMaxima {
    /// How the unit is named in messages (Chinese).
    pub name_zh: &'static str,
    /// The largest quantity of one record, in this unit.
    pub quantity: f64,
    /// The largest price of one unit, yuan.
    pub price_yuan: f64,
}

/// Each known unit: the names and codes it is written as, and its maxima.
const UNITS: &[(&[&str], UnitMaxima)] = &[
    (&["g", "克", "GRM"], UnitMaxima { name_zh: "克", quantity: 1.0e9, price_yuan: 1.0e4 }),
    (&["kg", "千克", "公斤", "KGM"], UnitMaxima { name_zh: "千克", quantity: 1.0e8, price_yuan: 1.0e6 }),
    (&["斤", "市斤"], UnitMaxima { name_zh: "斤", quantity: 2.0e8, price_yuan: 5.0e5 }),
    (&["t", "吨", "TNE"], UnitMaxima { name_zh: "吨", quantity: 1.0e5, price_yuan: 1.0e8 }),
    (&["ml", "毫升", "MLT"], UnitMaxima { name_zh: "毫升", quantity: 1.0e9, price_yuan: 1.0e4 }),
    (&["l", "升", "公升", "LTR"], UnitMaxima { name_zh: "升", quantity: 1.0e8, price_yuan: 1.0e6 }),
    (&["头", "匹", "口"], UnitMaxima { name_zh: "头", quantity: 1.0e6, price_yuan: 1.0e7 }),
    (&["只", "羽"], UnitMaxima { name_zh: "只", quantity: 1.0e7, price_yuan: 1.0e6 }),
];

/// Every known unit: the names and codes it is written as, and its maxima.
pub fn known() -> impl Iterator<Item = (&'static [&'static str], UnitMaxima)> {
    UNITS.iter().map(|(names, m)| (*names, *m))
}

/// The maxima of `unit` (its case and surrounding spaces ignored), if the node knows it.
pub fn maxima(unit: &str) -> Option<UnitMaxima> {
    let unit = unit.trim();
    UNITS.iter().find(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(unit))).map(|(_, m)| *m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::validate::{MAX_PRICE_YUAN, MAX_QUANTITY};

    #[test]
    fn units_are_found_by_name_abbreviation_and_code() {
        for (written, name) in
            [("kg", "千克"), ("KG", "千克"), ("公斤", "千克"), (" KGM ", "千克"), ("吨", "吨"), ("TNE", "吨")]
        {
            assert_eq!(maxima(written).map(|m| m.name_zh), Some(name), "{written}");
        }
        assert_eq!(maxima("箱"), None, "a unit of packing holds to the general maxima");
    }

    #[test]
    fn no_unit_allows_more_than_the_general_maxima() {
        for (names, m) in UNITS {
            assert!(m.quantity <= MAX_QUANTITY && m.price_yuan <= MAX_PRICE_YUAN, "{names:?}");
        }
    }
}
