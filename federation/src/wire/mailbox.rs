//! The downward mailbox on the wire: what a child's long poll of its parent answers. A
//! message names a target region (empty: every node below) and the region of the node that
//! first published it; its payload is the JSON text of its kind, passed down unchanged by
//! every tier between.

use serde::{Deserialize, Serialize};

/// Kinds of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// The national part of the product catalogue.
    Catalogue,
    /// A CA's revocation list ([`CrlPayload`]).
    Crl,
    /// A notice for people ([`NoticePayload`]).
    Notice,
    /// An industry statistics report form published above, for every tier to report alike
    /// (its definition document, as the publishing node keeps it).
    #[serde(rename = "industry-form")]
    IndustryForm,
    /// A version of a monitoring evaluation indicator set defined above, for every tier to
    /// evaluate alike (its definition, as the defining node keeps it).
    #[serde(rename = "evaluation-set")]
    EvaluationSet,
}

impl MessageKind {
    /// Every kind.
    pub const ALL: [MessageKind; 5] = [
        MessageKind::Catalogue,
        MessageKind::Crl,
        MessageKind::Notice,
        MessageKind::IndustryForm,
        MessageKind::EvaluationSet,
    ];

    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageKind::Catalogue => "catalogue",
            MessageKind::Crl => "crl",
            MessageKind::Notice => "notice",
            MessageKind::IndustryForm => "industry-form",
            MessageKind::EvaluationSet => "evaluation-set",
        }
    }

    /// The kind called `name`, if it is one.
    pub fn parse(name: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The Chinese name for people.
    pub const fn label_zh(self) -> &'static str {
        match self {
            MessageKind::Catalogue => "全国产品目录",
            MessageKind::Crl => "吊销列表",
            MessageKind::Notice => "通知",
            MessageKind::IndustryForm => "行业统计报表制度",
            MessageKind::EvaluationSet => "监测评价指标体系",
        }
    }
}

/// One message. The kind stays text on the wire, so a child records (and shows as failed)
/// a kind it does not know yet instead of refusing the whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = MailboxMessage))]
pub struct Message {
    /// Its number at the node that holds it.
    pub seq: i64,
    /// See [`MessageKind`].
    pub kind: String,
    /// The region it is for; empty: every node below.
    pub target: String,
    /// The region of the node that first published it.
    pub origin: String,
    /// The content (JSON text).
    pub payload: String,
}

/// The answer to a long poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mail {
    /// Messages for the caller, in order.
    pub messages: Vec<Message>,
    /// The last number looked at: the caller's next `after`.
    pub through: i64,
}

/// A revocation list going down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlPayload {
    /// The region of the CA that issued it.
    pub issuer: String,
    /// The list (PEM).
    pub pem: String,
}

/// A notice going down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticePayload {
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// The duplicate registration this notice announces, for the reviewers of each node that
    /// registered the code (absent from other notices, and ignored by nodes that predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<DuplicateNotice>,
}

/// A unified social credit code registered at more than one node, as the node where the
/// registrations meet (their lowest common ancestor) found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DuplicateNotice {
    /// The code.
    pub code: String,
    /// The region of the node that found it.
    pub found_at: String,
    /// Every registration of it that node knows (at most 16).
    pub holders: Vec<DuplicateHolder>,
}

/// One registration of a duplicate code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DuplicateHolder {
    /// The region of the node it is registered at.
    pub region: String,
    /// The entity's name there.
    pub name: String,
}
