//! GS1 keys: the mod-10 check digit (weights 3,1,3,1,… from the rightmost data digit) of
//! GTIN-8/12/13/14, GLN and SSCC, and the GTIN type that normalises to 14 digits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::IdentifierError;

/// The check digit for `data` (all digits), or `None` if a character is not a digit.
pub fn gs1_check_digit(data: &str) -> Option<u32> {
    let mut sum = 0;
    for (i, c) in data.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        sum += if i % 2 == 0 { d * 3 } else { d };
    }
    Some((10 - sum % 10) % 10)
}

/// `text` trimmed, when it is a GS1 key of one of `lengths` digits whose last digit is the
/// check digit of the others (`expected` names the lengths in a refusal).
fn gs1_key<'a>(text: &'a str, lengths: &[usize], expected: &'static str) -> Result<&'a str, IdentifierError> {
    let code = text.trim();
    let len = code.chars().count();
    if !lengths.contains(&len) {
        return Err(IdentifierError::Length { expected, actual: len });
    }
    if let Some((i, c)) = code.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(IdentifierError::Character { position: i + 1, found: c });
    }
    let (data, check) = code.split_at(len - 1);
    let digit = gs1_check_digit(data).unwrap_or(0);
    if check.chars().next().and_then(|c| c.to_digit(10)) != Some(digit) {
        return Err(IdentifierError::Check { expected: char::from_digit(digit, 10).unwrap_or('0') });
    }
    Ok(code)
}

/// A valid GTIN, kept as its 14-digit form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gtin(String);

impl Gtin {
    /// Validates a GTIN-8, -12, -13 or -14 and pads it to 14 digits.
    pub fn parse(text: &str) -> Result<Gtin, IdentifierError> {
        let code = gs1_key(text, &[8, 12, 13, 14], "8/12/13/14")?;
        Ok(Gtin(format!("{code:0>14}")))
    }

    /// The 14-digit form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Gtin {
    type Error = IdentifierError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Gtin::parse(&value)
    }
}

impl From<Gtin> for String {
    fn from(value: Gtin) -> String {
        value.0
    }
}

/// A valid GLN (Global Location Number: a party or a location), 13 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gln(String);

impl Gln {
    /// Validates a 13-digit GLN and its check digit.
    pub fn parse(text: &str) -> Result<Gln, IdentifierError> {
        Ok(Gln(gs1_key(text, &[13], "13")?.to_owned()))
    }

    /// The GLN a GS1 party or location identifier names, in the spellings EPCIS documents
    /// use: a PGLN or SGLN EPC URN (`urn:epc:id:pgln:0614141.00001`,
    /// `urn:epc:id:sgln:0614141.07346.1234`, the extension dropped), a Digital Link
    /// (`https://id.gs1.org/417/…` for a party, `/414/…` for a location, `/254/…` dropped), or
    /// the 13 digits themselves. `None` for anything else.
    pub fn of_identifier(text: &str) -> Option<Gln> {
        let t = text.trim();
        if let Some(rest) = t.strip_prefix("urn:epc:id:pgln:").or_else(|| t.strip_prefix("urn:epc:id:sgln:")) {
            let mut parts = rest.split('.');
            let (company, reference) = (parts.next()?, parts.next()?);
            let data = format!("{company}{reference}");
            if data.len() != 12 || !data.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            return Gln::parse(&format!("{data}{}", gs1_check_digit(&data)?)).ok();
        }
        let path = ["/417/", "/414/"].iter().find_map(|ai| t.split_once(ai).map(|(_, rest)| rest));
        if let Some(rest) = path.filter(|_| t.starts_with("http")) {
            return Gln::parse(rest.split(['/', '?']).next()?).ok();
        }
        Gln::parse(t).ok()
    }

    /// The 13 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Gln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Gln {
    type Error = IdentifierError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Gln::parse(&value)
    }
}

impl From<Gln> for String {
    fn from(value: Gln) -> String {
        value.0
    }
}

/// The GTIN inside a GS1 trace code, in any of the shapes platforms send: a bare GTIN, an
/// element string with application identifier 01 (`(01)06901234567892(21)ABC` or
/// `0106901234567892 21ABC` without brackets), or a GS1 Digital Link URI
/// (`https://id.gs1.org/01/06901234567892/21/ABC`). The GTIN's check digit is verified.
pub fn gtin_of_trace_code(text: &str) -> Result<Gtin, IdentifierError> {
    let code = text.trim();
    if let Some(path) = code.strip_prefix("https://").or_else(|| code.strip_prefix("http://")) {
        let mut parts = path.split(['/', '?']).skip(1);
        while let Some(ai) = parts.next() {
            if ai == "01" || ai == "gtin" {
                return Gtin::parse(parts.next().unwrap_or(""));
            }
        }
        return Err(IdentifierError::Gs1Shape);
    }
    if let Some(rest) = code.strip_prefix("(01)") {
        return Gtin::parse(rest.get(..14).unwrap_or(rest));
    }
    if code.len() > 14 && code.starts_with("01") && code.is_char_boundary(16) {
        return Gtin::parse(&code[2..16]);
    }
    Gtin::parse(code)
}

/// Whether a GS1 trace code names one item: it carries a serial number (application
/// identifier 21) after its GTIN, in any of the shapes [`gtin_of_trace_code`] reads.
pub fn gs1_has_serial(text: &str) -> bool {
    let code = text.trim();
    if let Some(path) = code.strip_prefix("https://").or_else(|| code.strip_prefix("http://")) {
        let path = path.split('?').next().unwrap_or("");
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        return parts.windows(2).any(|w| w[0] == "21" && !w[1].is_empty());
    }
    if let Some(rest) = code.strip_prefix("(01)") {
        return rest.get(14..).and_then(|tail| tail.split_once("(21)")).is_some_and(|(_, serial)| !serial.is_empty());
    }
    code.len() > 18 && code.starts_with("01") && code.get(16..18) == Some("21")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_gln_is_read_from_every_spelling_of_a_party_or_location() {
        // GS1's own examples: PGLN 0614141.00001 is GLN 0614141000012.
        let party = Gln::of_identifier("urn:epc:id:pgln:0614141.00001").expect("pgln");
        assert_eq!(party.as_str(), "0614141000012");
        assert_eq!(Gln::of_identifier("urn:epc:id:sgln:0614141.07346.1234").expect("sgln").as_str(), "0614141073467");
        assert_eq!(Gln::of_identifier("urn:epc:id:sgln:952005385.481.0").expect("sgln").as_str(), "9520053854814");
        assert_eq!(Gln::of_identifier("https://id.gs1.org/417/0614141000012").expect("dl"), party);
        assert_eq!(
            Gln::of_identifier("https://id.gs1.org/414/0614141073467/254/1234").expect("dl").as_str(),
            "0614141073467"
        );
        assert_eq!(Gln::of_identifier(" 0614141000012 ").expect("digits"), party);
        // A wrong check digit, a short reference, something else entirely.
        assert_eq!(Gln::parse("0614141000013"), Err(IdentifierError::Check { expected: '2' }));
        assert!(Gln::of_identifier("urn:epc:id:pgln:0614141.0001").is_none());
        assert!(Gln::of_identifier("91330106MA2B3C4D5E").is_none());
        assert!(Gln::of_identifier("urn:epc:id:sgtin:0614141.107346.2017").is_none());
    }

    use super::*;

    #[test]
    fn reference_examples() {
        assert_eq!(gs1_check_digit("0952123454321"), Some(3));
        assert_eq!(gs1_check_digit("10614141123456789"), Some(7), "SSCC example");
        assert_eq!(Gtin::parse("09521234543213").expect("valid").as_str(), "09521234543213");
        // GTIN-13 and GTIN-8 pad to 14.
        assert_eq!(Gtin::parse("6901234567892").expect("valid").as_str(), "06901234567892");
        assert_eq!(Gtin::parse("96385074").expect("valid").as_str(), "00000096385074");
    }

    #[test]
    fn refusals_name_the_rule() {
        assert_eq!(Gtin::parse("09521234543214"), Err(IdentifierError::Check { expected: '3' }));
        assert_eq!(Gtin::parse("123"), Err(IdentifierError::Length { expected: "8/12/13/14", actual: 3 }));
        assert!(matches!(Gtin::parse("0952123454321A"), Err(IdentifierError::Character { position: 14, .. })));
    }

    #[test]
    fn trace_codes_carry_their_gtin_in_every_shape() {
        for code in [
            "06901234567892",
            "(01)06901234567892(21)ABC123",
            "010690123456789221ABC123",
            "https://id.gs1.org/01/06901234567892/21/ABC123",
            "https://example.com/gtin/06901234567892?linkType=all",
        ] {
            assert_eq!(gtin_of_trace_code(code).expect(code).as_str(), "06901234567892", "{code}");
        }
        assert!(matches!(gtin_of_trace_code("(01)06901234567893(21)A"), Err(IdentifierError::Check { .. })));
        assert_eq!(gtin_of_trace_code("https://id.gs1.org/00/106141412345678908"), Err(IdentifierError::Gs1Shape));
    }

    #[test]
    fn a_serial_makes_a_code_name_one_item() {
        for code in [
            "(01)06901234567892(21)ABC123",
            "(01)06901234567892(10)LOT1(21)7",
            "010690123456789221ABC123",
            "https://id.gs1.org/01/06901234567892/21/ABC123",
        ] {
            assert!(gs1_has_serial(code), "{code}");
        }
        for code in [
            "06901234567892",
            "(01)06901234567892(10)LOT1",
            "https://id.gs1.org/01/06901234567892/10/LOT1",
            "https://example.com/gtin/06901234567892?linkType=all",
        ] {
            assert!(!gs1_has_serial(code), "{code}");
        }
    }
}
