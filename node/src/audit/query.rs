//! Listing and filtering the audit trail.

use diesel::prelude::*;
use serde::Deserialize;

use super::AuditRow;
use crate::db::schema::audit_log;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// Filters for the audit trail; all optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Exact actor name.
    pub actor: Option<String>,
    /// Action, or an action prefix ending in `.` (e.g. `auth.`).
    pub action: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: Option<String>,
    /// Earliest time (ISO 8601, UTC), inclusive.
    pub from: Option<chrono::NaiveDateTime>,
    /// Latest time (ISO 8601, UTC), exclusive.
    pub to: Option<chrono::NaiveDateTime>,
    /// Page number from 1.
    pub page: Option<i64>,
    /// Rows per page (at most 200).
    pub page_size: Option<i64>,
}

/// One page of audit rows.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Rows, newest first.
    pub rows: Vec<AuditRow>,
    /// Rows matching the filter.
    pub total: i64,
    /// This page, from 1.
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
}

impl AuditFilter {
    fn check(&self) -> AppResult<(i64, i64)> {
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(50);
        if page < 1 {
            return Err(AppError::invalid("page", "页码从1开始", "page starts at 1"));
        }
        if !(1..=200).contains(&size) {
            return Err(AppError::invalid("page_size", "每页条数应在1到200之间", "page_size must be 1 to 200"));
        }
        if let Some(o) = &self.outcome {
            if !["success", "failure", "denied"].contains(&o.as_str()) {
                return Err(AppError::invalid(
                    "outcome",
                    "结果只能是 success、failure 或 denied",
                    "outcome must be success, failure or denied",
                ));
            }
        }
        for (name, v) in [("actor", &self.actor), ("action", &self.action)] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 100) {
                return Err(AppError::invalid(name, "筛选条件过长", "filter value too long"));
            }
        }
        Ok((page, size))
    }

    fn apply<'a>(
        &'a self,
        mut q: audit_log::BoxedQuery<'a, crate::db::MultiBackend>,
    ) -> audit_log::BoxedQuery<'a, crate::db::MultiBackend> {
        if let Some(a) = self.actor.as_deref().filter(|s| !s.is_empty()) {
            q = q.filter(audit_log::actor.eq(a));
        }
        if let Some(a) = self.action.as_deref().filter(|s| !s.is_empty()) {
            q = match a.strip_suffix('.') {
                Some(prefix) => q.filter(
                    audit_log::action
                        .like(format!("{}.%", crate::db::fold::escape_like(&prefix.to_ascii_lowercase())))
                        .escape('\\'),
                ),
                None => q.filter(audit_log::action.eq(a)),
            };
        }
        if let Some(o) = self.outcome.as_deref().filter(|s| !s.is_empty()) {
            q = q.filter(audit_log::outcome.eq(o));
        }
        if let Some(t) = self.from {
            q = q.filter(audit_log::at.ge(t));
        }
        if let Some(t) = self.to {
            q = q.filter(audit_log::at.lt(t));
        }
        q
    }
}

/// A page of rows matching `filter`, newest first.
pub fn list(conn: &mut DbConnection, filter: &AuditFilter) -> AppResult<AuditPage> {
    let (page, page_size) = filter.check()?;
    let total: i64 = filter.apply(audit_log::table.into_boxed()).count().get_result(conn)?;
    let rows = filter
        .apply(audit_log::table.into_boxed())
        .select(AuditRow::as_select())
        .order(audit_log::seq.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
        .load(conn)?;
    Ok(AuditPage { rows, total, page, page_size })
}
