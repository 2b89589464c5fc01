//! A tenant's ingestion policy: what an unknown reference does to a record (reject it,
//! quarantine it, or store it and flag it), and the tenant's own body-size and rate limits.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::ingest_policies;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// What a reference to an unregistered entity does to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferencePolicy {
    /// The record is rejected.
    Reject,
    /// The record is stored apart and not counted.
    Quarantine,
    /// The record is stored, counted and flagged as an anomaly.
    #[default]
    Flag,
}

impl ReferencePolicy {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferencePolicy::Reject => "reject",
            ReferencePolicy::Quarantine => "quarantine",
            ReferencePolicy::Flag => "flag",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            ReferencePolicy::Reject => "拒收",
            ReferencePolicy::Quarantine => "隔离待查",
            ReferencePolicy::Flag => "接收并标记异常",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<ReferencePolicy> {
        [ReferencePolicy::Reject, ReferencePolicy::Quarantine, ReferencePolicy::Flag]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// A tenant's policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestPolicy {
    /// What an unknown reference does.
    pub unknown_reference: ReferencePolicy,
    /// Largest body this tenant may send, bytes (the node's `ingest.max_body_bytes` when
    /// absent).
    #[serde(default)]
    pub max_body_bytes: Option<i64>,
    /// Submissions a minute (the node's `ingest.submissions_per_minute` when absent).
    #[serde(default)]
    pub submissions_per_minute: Option<i32>,
    /// How often the tenant is expected to send, in minutes; a longer silence shows in the
    /// transmission monitor. Absent: no schedule.
    #[serde(default)]
    pub expected_every_minutes: Option<i32>,
}

/// The policy of `tenant` (the defaults when none was set).
pub fn of(conn: &mut DbConnection, tenant: &str) -> AppResult<IngestPolicy> {
    type Row = (String, Option<i64>, Option<i32>, Option<i32>);
    let row: Option<Row> = ingest_policies::table
        .filter(ingest_policies::tenant_id.eq(tenant))
        .select((
            ingest_policies::unknown_reference,
            ingest_policies::max_body_bytes,
            ingest_policies::submissions_per_minute,
            ingest_policies::expected_every_minutes,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => IngestPolicy::default(),
        Some((r, max_body_bytes, submissions_per_minute, expected_every_minutes)) => IngestPolicy {
            unknown_reference: ReferencePolicy::parse(&r).unwrap_or_default(),
            max_body_bytes,
            submissions_per_minute,
            expected_every_minutes,
        },
    })
}

/// Sets the policy of `tenant`, with an audit row.
pub fn set(conn: &mut DbConnection, ctx: &AuditContext, tenant: &str, p: &IngestPolicy) -> AppResult<()> {
    if p.max_body_bytes.is_some_and(|b| b < 1_024) {
        return Err(AppError::invalid(
            "max_body_bytes",
            "请求体上限至少1024字节",
            "the body limit is at least 1,024 bytes",
        ));
    }
    if p.expected_every_minutes.is_some_and(|n| n < 1) {
        return Err(AppError::invalid(
            "expected_every_minutes",
            "应报周期至少为1分钟",
            "the expected interval is at least one minute",
        ));
    }
    if p.submissions_per_minute.is_some_and(|n| n < 1) {
        return Err(AppError::invalid(
            "submissions_per_minute",
            "每分钟报送次数至少为1",
            "at least one submission a minute",
        ));
    }
    diesel::delete(ingest_policies::table.filter(ingest_policies::tenant_id.eq(tenant))).execute(conn)?;
    diesel::insert_into(ingest_policies::table)
        .values((
            ingest_policies::tenant_id.eq(tenant),
            ingest_policies::unknown_reference.eq(p.unknown_reference.as_str()),
            ingest_policies::max_body_bytes.eq(p.max_body_bytes),
            ingest_policies::submissions_per_minute.eq(p.submissions_per_minute),
            ingest_policies::expected_every_minutes.eq(p.expected_every_minutes),
            ingest_policies::updated_by.eq(&ctx.actor),
            ingest_policies::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "ingest.policy",
        &format!("tenant:{tenant}"),
        Outcome::Success,
        serde_json::to_value(p).unwrap_or_default(),
    )?;
    Ok(())
}

/// The tenants that are expected to send on a schedule: tenant id → minutes.
pub fn schedules(conn: &mut DbConnection) -> AppResult<std::collections::HashMap<String, i32>> {
    let rows: Vec<(String, Option<i32>)> = ingest_policies::table
        .select((ingest_policies::tenant_id, ingest_policies::expected_every_minutes))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(t, m)| m.map(|m| (t, m))).collect())
}
