//! What a tier sees of a form's period (the API's and the console's one view): the summary
//! of a region's jurisdiction indicator by indicator, the parts it is made of (this node's
//! own units and each node below whose summary is held), and — for this node's own region —
//! how far reporting has come: each unit's report and each child's summary, the deadline,
//! and approved reports whose figures no longer match the audit trail.

use chrono::NaiveDate;
use serde::Serialize;
use tracenode_federation::tiers::lies_inside;

use super::forms::{self, Form};
use super::period::Period;
use super::reminders;
use super::reports::{self, ReportStatus};
use super::summary::{self, shown, Held};
use super::value;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::{IndustryReportId, TenantId};

/// One indicator's figure in a summary.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IndicatorValue {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// How it combines.
    pub aggregation: value::Aggregation,
    /// The figure (decimal text), absent when no unit reported it.
    pub value: Option<String>,
    /// Units that reported it.
    pub reporters: i64,
}

/// A unit's standing for the period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnitStanding {
    /// The tenant.
    pub tenant_id: String,
    /// Its name.
    pub name: String,
    /// Its report's status; absent: nothing filled yet.
    pub status: Option<ReportStatus>,
    /// Its report's id.
    #[schema(value_type = Option<String>)]
    pub report_id: Option<IndustryReportId>,
    /// Whether it was submitted after the deadline.
    pub late: bool,
}

/// A node below and its summary, if held.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChildStanding {
    /// Its region.
    pub region: String,
    /// Its name.
    pub name: String,
    /// Its summary.
    pub summary: Option<Held>,
}

/// The view of a form's period over a region's jurisdiction.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// The form.
    pub form: Form,
    /// The period.
    pub period: String,
    /// The region whose jurisdiction it shows.
    pub region: String,
    /// Its last day on which reports are on time.
    pub due: NaiveDate,
    /// Whether staff closed it.
    pub closed: bool,
    /// The region's summary, if held.
    pub total: Option<Held>,
    /// Its figures by indicator.
    pub values: Vec<IndicatorValue>,
    /// Every summary held from inside the region (drill-down), by region.
    pub parts: Vec<Held>,
    /// This node's units (for its own region only).
    pub units: Vec<UnitStanding>,
    /// This node's children and their summaries (for its own region only).
    pub children: Vec<ChildStanding>,
    /// Approved reports whose figures no longer match their approval's audit row.
    #[schema(value_type = Vec<String>)]
    pub tampered: Vec<IndustryReportId>,
}

/// The figures of `held` by indicator of `form`.
pub fn values(form: &Form, held: Option<&Held>) -> Vec<IndicatorValue> {
    form.indicators
        .iter()
        .map(|ind| {
            let figure = held.and_then(|h| h.summary.figures.iter().find(|f| f.code == ind.code));
            IndicatorValue {
                code: ind.code.clone(),
                name: ind.name.clone(),
                unit: ind.unit.clone(),
                aggregation: ind.aggregation,
                value: figure.and_then(|f| shown(f, ind.aggregation)).map(value::format),
                reporters: figure.map_or(0, |f| f.count),
            }
        })
        .collect()
}

/// The view of form `code`'s `period` over `region` (this node's `own` when `None`); a
/// region outside `own` is refused.
pub fn overview(
    conn: &mut DbConnection,
    own: &str,
    code: &str,
    period: &str,
    region: Option<&str>,
) -> AppResult<Overview> {
    let form = forms::get(conn, code)?;
    let p: Period = form.period("period", period)?;
    let period = p.to_string();
    let region = region.filter(|r| !r.is_empty()).unwrap_or(own).to_owned();
    if region != own && !lies_inside(own, &region) {
        return Err(AppError::invalid(
            "region",
            "区划不在本节点辖区之内",
            "the region lies outside this node's jurisdiction",
        ));
    }
    let total = summary::held(conn, &region, code, &period)?;
    let parts: Vec<Held> = summary::under(conn, &region, code, &period)?
        .into_iter()
        .filter(|h| h.summary.source_region != region)
        .collect();
    let (units, children, tampered) = if region == own {
        (
            standings(conn, &form, &period, p.due(form.deadline_days))?,
            children(conn, code, &period)?,
            reports::tampered(conn, code, &period)?,
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    Ok(Overview {
        values: values(&form, total.as_ref()),
        due: p.due(form.deadline_days),
        closed: forms::is_closed(conn, code, &p)?,
        form,
        period,
        region,
        total,
        parts,
        units,
        children,
        tampered,
    })
}

fn standings(conn: &mut DbConnection, form: &Form, period: &str, _due: NaiveDate) -> AppResult<Vec<UnitStanding>> {
    let mut out = Vec::new();
    for unit in forms::units(conn, &form.code)? {
        let tenant = TenantId::from_db(unit.tenant_id.clone());
        let report = reports::of_unit(conn, &form.code, period, &tenant)?;
        out.push(UnitStanding {
            tenant_id: unit.tenant_id,
            name: unit.name,
            status: report.as_ref().map(|r| r.status),
            late: report.as_ref().is_some_and(|r| r.late),
            report_id: report.map(|r| r.id),
        });
    }
    Ok(out)
}

fn children(conn: &mut DbConnection, code: &str, period: &str) -> AppResult<Vec<ChildStanding>> {
    let missing = reminders::missing_children(conn, code, period)?;
    let mut out: Vec<ChildStanding> =
        missing.into_iter().map(|(region, name)| ChildStanding { region, name, summary: None }).collect();
    for (region, name) in crate::pki::registry::active_children(conn)? {
        if let Some(held) = summary::held(conn, &region, code, period)? {
            out.push(ChildStanding { region, name, summary: Some(held) });
        }
    }
    out.sort_by(|a, b| a.region.cmp(&b.region));
    Ok(out)
}
