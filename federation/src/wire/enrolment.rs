//! Enrolment over the network: what a child sends its parent's public listener to ask for a
//! CA certificate, and what it fetches back. The child keeps the ticket's token (the only
//! way to fetch the outcome) and reads the fingerprint out to the parent's operator, who
//! approves or rejects the request; an approved request carries the signed certificates.

use serde::{Deserialize, Serialize};

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EnrolmentStatus))]
#[serde(rename_all = "lowercase")]
pub enum EnrolmentStatus {
    /// Waiting for the parent's operator.
    Pending,
    /// Approved: the certificates are ready.
    Approved,
    /// Rejected, with a reason.
    Rejected,
}

impl EnrolmentStatus {
    /// Every status.
    pub const ALL: [EnrolmentStatus; 3] =
        [EnrolmentStatus::Pending, EnrolmentStatus::Approved, EnrolmentStatus::Rejected];

    /// The name on the wire and in storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            EnrolmentStatus::Pending => "pending",
            EnrolmentStatus::Approved => "approved",
            EnrolmentStatus::Rejected => "rejected",
        }
    }

    /// The status called `name`, if it is one.
    pub fn parse(name: &str) -> Option<EnrolmentStatus> {
        EnrolmentStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The Chinese name for people.
    pub const fn label_zh(self) -> &'static str {
        match self {
            EnrolmentStatus::Pending => "待审批",
            EnrolmentStatus::Approved => "已批准",
            EnrolmentStatus::Rejected => "已驳回",
        }
    }
}

/// What a child sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EnrolmentSubmission))]
pub struct Submission {
    /// Its certificate request (PEM), from `tracenode pki request`.
    pub request_pem: String,
    /// Its name, for the operator.
    #[serde(default)]
    pub name: String,
}

/// What the child gets back when it asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EnrolmentTicket))]
pub struct Ticket {
    /// The request's id.
    pub id: String,
    /// The secret that fetches the outcome (shown once).
    pub token: String,
    /// The key's fingerprint, to read out to the parent's operator.
    pub fingerprint: String,
}

/// The signed certificates, once approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EnrolmentBundle))]
pub struct Certificates {
    /// The child's CA certificate (PEM).
    pub ca: String,
    /// The CAs above it (PEM).
    pub chain: String,
    /// The national root (PEM).
    pub root: String,
}

/// The outcome as the child fetches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EnrolmentDecision))]
pub struct Decision {
    /// Where the request stands.
    pub status: EnrolmentStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The certificates, when approved.
    pub bundle: Option<Certificates>,
}
