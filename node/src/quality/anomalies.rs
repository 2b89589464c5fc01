//! Anomalies: a stored record flagged by a rule or a reference policy, open until a reviewer
//! confirms or dismisses it.

use diesel::prelude::*;

use crate::db::schema::anomalies;
use crate::db::DbConnection;
use crate::error::AppResult;

crate::text_status! {
    /// Where the review of an anomaly stands.
    pub enum AnomalyStatus {
        /// Not yet reviewed.
        Open = "open" / "待审核",
        /// A real problem.
        Confirmed = "confirmed" / "已确认异常",
        /// Not a problem.
        Dismissed = "dismissed" / "已排除",
    }
}

/// Something a stored record is flagged for.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// Rule code (the kind of the rule that found it).
    pub rule: &'static str,
    /// Chinese detail.
    pub zh: String,
    /// English detail.
    pub en: String,
}

/// A new anomaly.
#[derive(Debug, Clone)]
pub struct Found {
    /// The record's id.
    pub record_id: String,
    /// Rule code.
    pub rule: &'static str,
    /// Chinese detail.
    pub zh: String,
    /// English detail.
    pub en: String,
}

/// Stores anomalies found in one submission of `tenant`.
pub fn record(conn: &mut DbConnection, tenant: &str, submission: &str, found: &[Found]) -> AppResult<()> {
    let now = crate::db::now();
    for f in found {
        diesel::insert_into(anomalies::table)
            .values((
                anomalies::id.eq(uuid::Uuid::now_v7().to_string()),
                anomalies::tenant_id.eq(tenant),
                anomalies::record_id.eq(&f.record_id),
                anomalies::submission_id.eq(submission),
                anomalies::rule.eq(f.rule),
                anomalies::detail_zh.eq(&f.zh),
                anomalies::detail_en.eq(&f.en),
                anomalies::status.eq(AnomalyStatus::Open.as_str()),
                anomalies::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// An anomaly as listed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, Queryable, Selectable)]
#[diesel(table_name = anomalies)]
pub struct Anomaly {
    /// Id.
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// The record's id.
    pub record_id: String,
    /// The submission that brought the record.
    pub submission_id: String,
    /// Rule code.
    pub rule: String,
    /// Chinese detail.
    pub detail_zh: String,
    /// English detail.
    pub detail_en: String,
    /// `open`, `confirmed` or `dismissed`.
    pub status: String,
    /// Reviewer.
    pub reviewed_by: Option<String>,
    /// Reviewed (UTC).
    pub reviewed_at: Option<chrono::NaiveDateTime>,
    /// Reviewer's note.
    pub review_note: Option<String>,
    /// Found (UTC).
    pub created_at: chrono::NaiveDateTime,
}

/// Filters of the anomaly list.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyQuery {
    /// `open`, `confirmed` or `dismissed`.
    pub status: Option<String>,
    /// Rule code.
    pub rule: Option<String>,
}

/// The latest 200 anomalies matching `q`, of `tenant` (all when `None`).
pub fn list(conn: &mut DbConnection, q: &AnomalyQuery, tenant: Option<&str>) -> AppResult<Vec<Anomaly>> {
    let mut query =
        anomalies::table.order((anomalies::created_at.desc(), anomalies::id.desc())).limit(200).into_boxed();
    if let Some(t) = tenant {
        query = query.filter(anomalies::tenant_id.eq(t.to_owned()));
    }
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        if AnomalyStatus::parse(s).is_none() {
            return Err(crate::error::AppError::invalid(
                "status",
                "状态应为 open、confirmed 或 dismissed",
                "status is open, confirmed or dismissed",
            ));
        }
        query = query.filter(anomalies::status.eq(s.to_owned()));
    }
    if let Some(r) = q.rule.as_deref().filter(|s| !s.is_empty()) {
        query = query.filter(anomalies::rule.eq(r.to_owned()));
    }
    Ok(query.select(Anomaly::as_select()).load(conn)?)
}

/// A reviewer's decision.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// `confirmed` or `dismissed`.
    pub decision: String,
    /// Why.
    #[serde(default)]
    pub note: String,
}

/// Records a review of anomaly `id` (an open one, within `tenant` when given), with an audit
/// row.
pub fn review(
    conn: &mut DbConnection,
    ctx: &crate::audit::AuditContext,
    id: &str,
    tenant: Option<&str>,
    r: &Review,
) -> AppResult<Anomaly> {
    use crate::error::AppError;
    if !matches!(AnomalyStatus::parse(&r.decision), Some(AnomalyStatus::Confirmed | AnomalyStatus::Dismissed)) {
        return Err(AppError::invalid(
            "decision",
            "结论应为 confirmed（确认异常）或 dismissed（排除）",
            "decision is confirmed or dismissed",
        ));
    }
    if r.note.chars().count() > 500 {
        return Err(AppError::invalid("note", "说明最多500字", "the note has at most 500 characters"));
    }
    let mut q = anomalies::table.filter(anomalies::id.eq(id)).into_boxed();
    if let Some(t) = tenant {
        q = q.filter(anomalies::tenant_id.eq(t.to_owned()));
    }
    let found: Anomaly = q
        .select(Anomaly::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("异常记录", "anomaly"))?;
    if AnomalyStatus::parse(&found.status) != Some(AnomalyStatus::Open) {
        return Err(AppError::conflict("该异常已审核过", "this anomaly was reviewed already"));
    }
    diesel::update(anomalies::table.find(id))
        .set((
            anomalies::status.eq(&r.decision),
            anomalies::reviewed_by.eq(&ctx.actor),
            anomalies::reviewed_at.eq(crate::db::now()),
            anomalies::review_note.eq(&r.note),
        ))
        .execute(conn)?;
    crate::audit::record(
        conn,
        ctx,
        "anomaly.review",
        &format!("anomaly:{id}"),
        crate::audit::Outcome::Success,
        serde_json::json!({"decision": r.decision, "record": found.record_id, "rule": found.rule, "tenant": found.tenant_id}),
    )?;
    Ok(anomalies::table.find(id).select(Anomaly::as_select()).first(conn)?)
}

/// Chinese label of a rule.
pub fn rule_zh(rule: &str) -> &'static str {
    super::rules::kind_zh(rule)
}
