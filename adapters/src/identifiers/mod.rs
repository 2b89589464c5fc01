//! Identifier validation shared by every exchange: the unified social credit code (GB 32100),
//! GS1 keys (GTIN, GLN, SSCC), MAC addresses. Each identifier is a type that validates on
//! parse, so a value of the type is always valid, and each refusal says which rule failed.

mod gs1;
mod mac;
mod scheme;
mod uscc;

pub use gs1::{gs1_check_digit, gs1_has_serial, gtin_of_trace_code, Gln, Gtin};
pub use mac::MacAddress;
pub use scheme::{CodeScheme, ProductCode};
pub use uscc::{organisation_code_complete, organisation_code_is_valid, Uscc};

/// Why an identifier was refused. The messages are bilingual (Chinese / English).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// Wrong length.
    #[error("长度应为{expected}位，实际为{actual}位 / must have {expected} characters, has {actual}")]
    Length {
        /// Expected length(s), e.g. `18` or `8/12/13/14`.
        expected: &'static str,
        /// Actual length.
        actual: usize,
    },
    /// A character outside the allowed alphabet.
    #[error("第{position}位字符“{found}”不合法 / character {position} ({found:?}) is not allowed")]
    Character {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
    /// The check character does not match.
    #[error("校验位错误，应为“{expected}” / check character should be {expected:?}")]
    Check {
        /// The check character the rest of the code implies.
        expected: char,
    },
    /// The embedded organisation code of a USCC fails its own check.
    #[error("内嵌的组织机构代码“{0}”校验失败 / embedded organisation code {0} fails its check")]
    OrganisationCode(String),
    /// A MAC address that is not six hexadecimal octets.
    #[error(
        "MAC地址应为6组十六进制数，如 00:1A:2B:3C:4D:5E / a MAC address is six hex octets, e.g. 00:1A:2B:3C:4D:5E"
    )]
    MacFormat,
    /// A Handle identifier that is not `prefix/suffix` with a dotted numeric prefix.
    #[error("工业互联网标识应为“前缀/后缀”，前缀为数字和点，如 88.100.1/PRD-0001 / a Handle identifier is prefix/suffix with a dotted numeric prefix, e.g. 88.100.1/PRD-0001")]
    HandleShape,
    /// A GS1 trace code that carries no GTIN.
    #[error("GS1追溯码应含GTIN，如 (01)06901234567892(21)序列号 或 https://id.gs1.org/01/06901234567892/21/序列号 / a GS1 trace code carries a GTIN, e.g. (01)06901234567892(21)serial or https://id.gs1.org/01/06901234567892/21/serial")]
    Gs1Shape,
}
