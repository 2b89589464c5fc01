//! MAC addresses (EUI-48): six hexadecimal octets separated by `:` or `-` (or none), stored
//! upper case with colons.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::IdentifierError;

/// A valid MAC address, e.g. `00:1A:2B:3C:4D:5E`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddress(String);

impl MacAddress {
    /// Parses `00:1a:2b:3c:4d:5e`, `00-1A-2B-3C-4D-5E` or `001A2B3C4D5E`.
    pub fn parse(text: &str) -> Result<MacAddress, IdentifierError> {
        let t = text.trim();
        let hex: String = if t.contains(':') || t.contains('-') {
            let sep = if t.contains(':') { ':' } else { '-' };
            let parts: Vec<&str> = t.split(sep).collect();
            if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
                return Err(IdentifierError::MacFormat);
            }
            parts.concat()
        } else {
            t.to_owned()
        };
        if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdentifierError::MacFormat);
        }
        let upper = hex.to_ascii_uppercase();
        let octets: Vec<&str> = (0..6).map(|i| &upper[i * 2..i * 2 + 2]).collect();
        Ok(MacAddress(octets.join(":")))
    }

    /// The canonical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for MacAddress {
    type Error = IdentifierError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        MacAddress::parse(&value)
    }
}

impl From<MacAddress> for String {
    fn from(value: MacAddress) -> String {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_normalise_and_bad_ones_fail() {
        for ok in ["00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E", "001A2B3C4D5E"] {
            assert_eq!(MacAddress::parse(ok).expect(ok).as_str(), "00:1A:2B:3C:4D:5E");
        }
        for bad in ["00:1A:2B:3C:4D", "00:1A:2B:3C:4D:5G", "001A2B3C4D5", "0:01A:2B:3C:4D:5E", ""] {
            assert_eq!(MacAddress::parse(bad), Err(IdentifierError::MacFormat), "{bad}");
        }
    }
}
