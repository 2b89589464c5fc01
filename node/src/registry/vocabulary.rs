//! The Chinese labels of the registry's codes — entity kinds, stages, site kinds, review
//! statuses — as its forms, pages and exports list them.

use tracenode_adapters::codes::Stage;

use super::model::EntityKind;
use super::sites::SITE_KINDS;

/// Labels the templates need: (code, Chinese label).
pub struct Labels {
    /// Entity kinds.
    pub kinds: Vec<(String, String)>,
    /// Stages.
    pub stages: Vec<(String, String)>,
    /// Site kinds.
    pub site_kinds: Vec<(String, String)>,
}

/// The labels of the codes the registry's forms offer.
pub fn labels() -> Labels {
    let own = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    Labels {
        kinds: EntityKind::ALL.iter().map(|k| own(k.as_str(), k.label_zh())).collect(),
        stages: Stage::ALL.iter().map(|s| own(s.code(), s.label_zh())).collect(),
        site_kinds: SITE_KINDS.iter().map(|(a, b)| own(a, b)).collect(),
    }
}

/// Chinese label of a review status as stored.
pub fn status_zh(s: &str) -> &'static str {
    super::review::ReviewStatus::parse(s).unwrap_or(super::review::ReviewStatus::Pending).label_zh()
}
