//! 统一社会信用代码 (GB 32100): 18 characters; position 1 registering authority, 2 category,
//! 3–8 the GB/T 2260 region of the registering authority, 9–17 the organisation code
//! (GB 11714, with its own check character), 18 the check character (mod 31 over the alphabet
//! `0123456789ABCDEFGHJKLMNPQRTUWXY`, weights 3^(i−1) mod 31).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::IdentifierError;

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A valid unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

fn value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

impl Uscc {
    /// Validates a code: length, alphabet, check character, embedded organisation code.
    /// Lower-case letters and surrounding spaces are accepted and normalised.
    pub fn parse(text: &str) -> Result<Uscc, IdentifierError> {
        let code: String = text.trim().to_ascii_uppercase();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(IdentifierError::Length { expected: "18", actual: chars.len() });
        }
        let mut sum = 0;
        for (i, c) in chars.iter().enumerate() {
            let v = value(*c).ok_or(IdentifierError::Character { position: i + 1, found: *c })?;
            if i < 17 {
                sum += v * WEIGHTS[i];
            }
        }
        let check = (31 - sum % 31) % 31;
        let expected = ALPHABET.chars().nth(check as usize).unwrap_or('0');
        if chars[17] != expected {
            return Err(IdentifierError::Check { expected });
        }
        let org: String = chars[8..17].iter().collect();
        if !organisation_code_is_valid(&org) {
            return Err(IdentifierError::OrganisationCode(org));
        }
        Ok(Uscc(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GB/T 2260 region of the registering authority (positions 3–8).
    pub fn registration_region(&self) -> &str {
        &self.0[2..8]
    }

    /// The embedded organisation code (positions 9–17).
    pub fn organisation_code(&self) -> &str {
        &self.0[8..17]
    }
}

/// Checks a 9-character organisation code (GB 11714): weights 3,7,9,10,5,8,4,2 over the
/// first eight (digits as values, letters A=10 … Z=35); check = 11 − (Σ mod 11), 10 → `X`,
/// 11 → `0`.
pub fn organisation_code_is_valid(code: &str) -> bool {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 9 {
        return false;
    }
    let mut sum = 0;
    for (c, w) in chars[..8].iter().zip(ORG_WEIGHTS) {
        let v = match c {
            '0'..='9' => *c as u32 - '0' as u32,
            'A'..='Z' => *c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        sum += v * w;
    }
    let expected = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).unwrap_or('?'),
    };
    chars[8] == expected
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Uscc {
    type Error = IdentifierError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Uscc::parse(&value)
    }
}

impl From<Uscc> for String {
    fn from(value: Uscc) -> String {
        value.0
    }
}

impl Uscc {
    /// Completes 17 characters with their check character (for generated test and benchmark
    /// data); `None` if a character is outside the alphabet or the length is wrong.
    pub fn complete(first17: &str) -> Option<String> {
        complete(first17)
    }

    /// A valid code for registering authority and category `prefix2` (e.g. `91`), region
    /// `region6` and a serial number, with both check characters computed: for generated test
    /// and benchmark data.
    pub fn generate(prefix2: &str, region6: &str, serial: u32) -> Option<Uscc> {
        let org8 = format!("MA{:06}", serial % 1_000_000);
        let org9 = organisation_code_complete(&org8)?;
        let first17 = format!("{prefix2}{region6}{org9}");
        Uscc::parse(&complete(&first17)?).ok()
    }
}

/// Completes the first 8 characters of an organisation code with its check character.
pub fn organisation_code_complete(first8: &str) -> Option<String> {
    let chars: Vec<char> = first8.chars().collect();
    if chars.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in chars.iter().zip(ORG_WEIGHTS) {
        let v = match c {
            '0'..='9' => *c as u32 - '0' as u32,
            'A'..='Z' => *c as u32 - 'A' as u32 + 10,
            _ => return None,
        };
        sum += v * w;
    }
    let check = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10)?,
    };
    Some(format!("{first8}{check}"))
}

fn complete(first17: &str) -> Option<String> {
    let chars: Vec<char> = first17.chars().collect();
    if chars.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (i, c) in chars.iter().enumerate() {
        sum += value(*c)? * WEIGHTS[i];
    }
    let check = ALPHABET.chars().nth(((31 - sum % 31) % 31) as usize)?;
    Some(format!("{first17}{check}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_is_valid() {
        // From the reference: sum of the first 17 is 1640; 1640 mod 31 = 28; 31 − 28 = 3.
        let u = Uscc::parse("91350100M000100Y43").expect("valid");
        assert_eq!(u.registration_region(), "350100");
        assert_eq!(u.organisation_code(), "M000100Y4");
        assert!(organisation_code_is_valid("M000100Y4"));
        assert_eq!(Uscc::parse(" 91350100m000100y43 ").expect("normalised").as_str(), "91350100M000100Y43");
        assert_eq!(complete("91350100M000100Y4").as_deref(), Some("91350100M000100Y43"));
        assert_eq!(organisation_code_complete("M000100Y").as_deref(), Some("M000100Y4"));
        for serial in [0, 1, 42, 999_999] {
            let u = Uscc::generate("92", "330106", serial).expect("generated");
            assert_eq!(u.registration_region(), "330106");
        }
    }

    #[test]
    fn each_rule_is_named() {
        assert_eq!(Uscc::parse("91350100M000100Y4"), Err(IdentifierError::Length { expected: "18", actual: 17 }));
        assert_eq!(Uscc::parse("91350100M000100Y44"), Err(IdentifierError::Check { expected: '3' }));
        assert!(matches!(
            Uscc::parse("91350100M000100YI3"),
            Err(IdentifierError::Character { position: 17, found: 'I' })
        ));
        // A code whose own check holds but whose organisation code does not.
        let bad_org = complete("91350100M00010051").expect("complete");
        assert!(matches!(Uscc::parse(&bad_org), Err(IdentifierError::OrganisationCode(_))));
    }
}
