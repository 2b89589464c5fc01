//! A vendor endpoint the node pulls records from (`[[ingest.pull]]`). The pulling itself is
//! the ingest capability's; the configuration only declares the sources.

use serde::{Deserialize, Serialize};

/// A source, as `[[ingest.pull]]` declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullSource {
    /// Name, unique in the node.
    pub name: String,
    /// Code of the tenant the records belong to.
    pub tenant: String,
    /// The vendor's endpoint (`https://…`).
    pub url: String,
    /// Format of its answers: `json`, `csv`, `epcis`, `xml` or `vendor:<name>`.
    pub format: String,
    /// Query parameter that carries the cursor.
    #[serde(default = "cursor_param")]
    pub cursor_param: String,
    /// Response header that carries the next cursor.
    #[serde(default = "cursor_header")]
    pub cursor_header: String,
    /// Cron schedule with seconds (`0 */5 * * * *`: every five minutes); none: by hand only.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Environment variable holding a bearer token for the vendor, if it wants one.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Pages fetched per run at most.
    #[serde(default = "max_pages")]
    pub max_pages: u32,
}

fn cursor_param() -> String {
    "cursor".into()
}

fn cursor_header() -> String {
    "X-Next-Cursor".into()
}

fn max_pages() -> u32 {
    100
}
