//! Product and trace codes keep their **scheme**, because real platforms accept heterogeneous
//! codes: GS1 (GTIN, validated by its check digit and kept as 14 digits), Ecode
//! (GB/T 31866), industrial-internet Handle identifiers (`prefix/suffix`), drug trace codes
//! (药品追溯码, 20 digits) and local codes of the owning enterprise. The schemes without a
//! public check algorithm are validated by syntax: length, alphabet and shape.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Gtin, IdentifierError};

/// The scheme of a product or trace code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeScheme {
    /// GS1 GTIN-8/12/13/14.
    Gs1,
    /// Ecode (GB/T 31866).
    Ecode,
    /// Industrial-internet identifier, `prefix/suffix`.
    Handle,
    /// Drug trace code (药品追溯码).
    Drug,
    /// A code of the owning enterprise.
    Local,
}

impl CodeScheme {
    /// Every scheme.
    pub const ALL: [CodeScheme; 5] =
        [CodeScheme::Gs1, CodeScheme::Ecode, CodeScheme::Handle, CodeScheme::Drug, CodeScheme::Local];

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeScheme::Gs1 => "gs1",
            CodeScheme::Ecode => "ecode",
            CodeScheme::Handle => "handle",
            CodeScheme::Drug => "drug",
            CodeScheme::Local => "local",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            CodeScheme::Gs1 => "GS1 商品条码（GTIN）",
            CodeScheme::Ecode => "Ecode 编码",
            CodeScheme::Handle => "工业互联网标识（Handle）",
            CodeScheme::Drug => "药品追溯码",
            CodeScheme::Local => "企业自编码",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<CodeScheme> {
        CodeScheme::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for CodeScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A product code valid under its scheme, in its normal form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProductCode {
    /// The scheme.
    pub scheme: CodeScheme,
    /// The normal form (a GTIN as 14 digits; other schemes as given, trimmed).
    pub value: String,
}

fn length(code: &str, expected: &'static str, range: std::ops::RangeInclusive<usize>) -> Result<(), IdentifierError> {
    let n = code.chars().count();
    if range.contains(&n) {
        Ok(())
    } else {
        Err(IdentifierError::Length { expected, actual: n })
    }
}

fn alphabet(code: &str, allowed: impl Fn(char) -> bool) -> Result<(), IdentifierError> {
    match code.chars().enumerate().find(|(_, c)| !allowed(*c)) {
        Some((i, c)) => Err(IdentifierError::Character { position: i + 1, found: c }),
        None => Ok(()),
    }
}

impl ProductCode {
    /// Validates `text` under `scheme`.
    pub fn parse(scheme: CodeScheme, text: &str) -> Result<ProductCode, IdentifierError> {
        let code = text.trim();
        let value = match scheme {
            CodeScheme::Gs1 => Gtin::parse(code)?.as_str().to_owned(),
            CodeScheme::Ecode => {
                // Version digit, scheme id and main code: upper-case letters and digits.
                length(code, "10-40", 10..=40)?;
                alphabet(code, |c| c.is_ascii_digit() || c.is_ascii_uppercase())?;
                alphabet(&code[..1], |c| c.is_ascii_digit())?;
                code.to_owned()
            }
            CodeScheme::Handle => {
                length(code, "3-128", 3..=128)?;
                alphabet(code, |c| c.is_ascii_graphic())?;
                let (prefix, suffix) = code.split_once('/').ok_or(IdentifierError::HandleShape)?;
                if prefix.is_empty()
                    || suffix.is_empty()
                    || !prefix.chars().all(|c| c.is_ascii_digit() || c == '.')
                    || prefix.starts_with('.')
                    || prefix.ends_with('.')
                {
                    return Err(IdentifierError::HandleShape);
                }
                code.to_owned()
            }
            CodeScheme::Drug => {
                length(code, "20", 20..=20)?;
                alphabet(code, |c| c.is_ascii_digit())?;
                code.to_owned()
            }
            CodeScheme::Local => {
                length(code, "1-64", 1..=64)?;
                alphabet(code, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))?;
                code.to_owned()
            }
        };
        Ok(ProductCode { scheme, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs1_codes_are_checked_and_padded() {
        let c = ProductCode::parse(CodeScheme::Gs1, "6901234567892").expect("gtin-13");
        assert_eq!(c.value, "06901234567892");
        assert_eq!(ProductCode::parse(CodeScheme::Gs1, "6901234567893"), Err(IdentifierError::Check { expected: '2' }));
    }

    #[test]
    fn other_schemes_by_syntax() {
        assert!(ProductCode::parse(CodeScheme::Ecode, "10012345678901234").is_ok());
        assert!(matches!(
            ProductCode::parse(CodeScheme::Ecode, "A0012345678901234"),
            Err(IdentifierError::Character { position: 1, found: 'A' })
        ));
        assert!(ProductCode::parse(CodeScheme::Handle, "88.100.1/PRD-0001").is_ok());
        assert_eq!(ProductCode::parse(CodeScheme::Handle, "PRD-0001"), Err(IdentifierError::HandleShape));
        assert_eq!(ProductCode::parse(CodeScheme::Handle, "88.a/x"), Err(IdentifierError::HandleShape));
        assert!(ProductCode::parse(CodeScheme::Drug, "81234560000000000001").is_ok());
        assert_eq!(
            ProductCode::parse(CodeScheme::Drug, "8123456"),
            Err(IdentifierError::Length { expected: "20", actual: 7 })
        );
        assert!(ProductCode::parse(CodeScheme::Local, "SKU-2024/001").is_ok());
        assert!(matches!(
            ProductCode::parse(CodeScheme::Local, "苹果"),
            Err(IdentifierError::Character { position: 1, .. })
        ));
        assert!(matches!(ProductCode::parse(CodeScheme::Local, ""), Err(IdentifierError::Length { .. })));
    }

    #[test]
    fn schemes_round_trip_their_names() {
        for s in CodeScheme::ALL {
            assert_eq!(CodeScheme::parse(s.as_str()), Some(s));
        }
    }
}
