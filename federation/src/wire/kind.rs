//! The roll-up kinds (上报类型) a batch may carry. The names are the protocol's: they appear
//! in batch headers, cursor paths, schedules and the command line, and never change meaning.
//! A node that meets a name it does not know refuses the batch (`unknown_kind`) rather than
//! guess, so a kind is added at the parent before any child sends it.

use serde::{Deserialize, Serialize};

/// One roll-up kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Entity, product and device registrations, each the newest version of an object.
    Registrations,
    /// The jurisdiction's daily statistics, one replaceable slice per day.
    Statistics,
    /// Signed heads of the sender's audit chain.
    AuditCheckpoints,
    /// The sender CA's newest revocation list.
    RevocationLists,
    /// Summaries of industry statistics report forms (行业统计), the latest of each
    /// jurisdiction, form and period replacing the one before.
    IndustryStatistics,
    /// Monitoring evaluation results (监测评价): each node's evaluation of its jurisdiction
    /// per indicator set, version and period, the latest replacing the one before, and the
    /// results of its own runs.
    Evaluations,
}

impl Kind {
    /// Every kind, in the order a run sends them.
    pub const ALL: [Kind; 6] = [
        Kind::Registrations,
        Kind::Statistics,
        Kind::AuditCheckpoints,
        Kind::RevocationLists,
        Kind::IndustryStatistics,
        Kind::Evaluations,
    ];

    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Registrations => "registrations",
            Kind::Statistics => "statistics",
            Kind::AuditCheckpoints => "audit-checkpoints",
            Kind::RevocationLists => "revocation-lists",
            Kind::IndustryStatistics => "industry-statistics",
            Kind::Evaluations => "evaluations",
        }
    }

    /// The kind called `name`, if it is one.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The Chinese name for people.
    pub const fn label_zh(self) -> &'static str {
        match self {
            Kind::Registrations => "注册信息",
            Kind::Statistics => "统计数据",
            Kind::AuditCheckpoints => "审计链校验点",
            Kind::RevocationLists => "吊销列表",
            Kind::IndustryStatistics => "行业统计",
            Kind::Evaluations => "监测评价结果",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_serde_agrees() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_string(&kind).expect("json"), format!("\"{kind}\""));
        }
        assert_eq!(Kind::parse("evaluation"), None);
        assert_eq!(Kind::parse("Statistics"), None, "names are exact");
    }
}
