//! The summary (汇总) of a form's period over this node's jurisdiction: the approved reports
//! of its own units plus the summary each child sent, indicator by indicator (sum, count of
//! reporters and maximum, so a total, an average of reporters and a maximum combine exactly
//! from tier to tier). It is recomputed in the transaction that changes either source, and
//! gets a new revision only when it changed.
//!
//! Summaries travel up as the roll-up kind `industry-statistics`: a node keeps each child's
//! latest summary and every summary from further below that its children pass on (so the
//! national node can drill down to any county), and puts its own and what it received into
//! its outbox for its parent — only for a form defined above it, which its parent holds too.
//! A form defined at this node stays here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use tracenode_federation::tiers::lies_inside;
use tracenode_federation::wire::payload::{IndicatorFigure, IndustrySummary};
use tracenode_federation::wire::{Kind, Refusal};

use super::forms::{self, Form, FormStatus};
use super::period::Period;
use super::reports::{self, ReportStatus};
use super::value::Aggregation;
use crate::db::schema::{
    industry_form_units as fu, industry_outbox as io, industry_reports as r, industry_summaries as s,
};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::pki::registry::active_children;

/// A summary as held.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Held {
    /// The summary.
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub summary: IndustrySummary,
    /// The child it came through (empty: this node's own).
    pub via: String,
    /// When it last changed here (UTC).
    pub updated_at: NaiveDateTime,
}

type Row = (String, String, String, String, i64, i64, i64, i64, i64, String, NaiveDateTime);

fn columns() -> (
    s::source_region,
    s::form_code,
    s::period,
    s::via,
    s::revision,
    s::units_expected,
    s::units_reported,
    s::children_expected,
    s::children_reported,
    s::figures,
    s::updated_at,
) {
    (
        s::source_region,
        s::form_code,
        s::period,
        s::via,
        s::revision,
        s::units_expected,
        s::units_reported,
        s::children_expected,
        s::children_reported,
        s::figures,
        s::updated_at,
    )
}

fn from_row(row: Row) -> AppResult<Held> {
    let (source_region, form, period, via, revision, ue, ur, ce, cr, figures, updated_at) = row;
    Ok(Held {
        summary: IndustrySummary {
            source_region,
            form,
            period,
            revision,
            units_expected: ue,
            units_reported: ur,
            children_expected: ce,
            children_reported: cr,
            figures: serde_json::from_str(&figures).map_err(AppError::internal)?,
        },
        via,
        updated_at,
    })
}

/// The summary of `region`'s jurisdiction for a form's period, if held.
pub fn held(conn: &mut DbConnection, region: &str, form: &str, period: &str) -> AppResult<Option<Held>> {
    let row: Option<Row> = s::table.find((region, form, period)).select(columns()).first(conn).optional()?;
    row.map(from_row).transpose()
}

/// Every summary held of a form's period that lies inside `region` (or is its own), by
/// region: at most one per node of the jurisdiction (about 3,200 at the national node).
pub fn under(conn: &mut DbConnection, region: &str, form: &str, period: &str) -> AppResult<Vec<Held>> {
    let rows: Vec<Row> = s::table
        .filter(s::form_code.eq(form))
        .filter(s::period.eq(period))
        .order(s::source_region.asc())
        .select(columns())
        .load(conn)?;
    rows.into_iter().filter(|row| row.0 == region || lies_inside(region, &row.0)).map(from_row).collect()
}

/// The periods of a form that have a summary or a report here, newest first (at most 240).
pub fn periods(conn: &mut DbConnection, form: &str) -> AppResult<Vec<String>> {
    let mut all: BTreeSet<String> =
        s::table.filter(s::form_code.eq(form)).select(s::period).distinct().load::<String>(conn)?.into_iter().collect();
    all.extend(r::table.filter(r::form_code.eq(form)).select(r::period).distinct().load::<String>(conn)?);
    Ok(all.into_iter().rev().take(240).collect())
}

/// The value an indicator shows from its figure: the total, the average of its reporters
/// (rounded to a thousandth) or the maximum; none when no unit reported it.
pub fn shown(figure: &IndicatorFigure, aggregation: Aggregation) -> Option<i64> {
    if figure.count == 0 {
        return None;
    }
    Some(match aggregation {
        Aggregation::Sum => figure.sum_milli,
        Aggregation::Average => {
            let (sum, n) = (i128::from(figure.sum_milli), i128::from(figure.count));
            let rounded = if sum >= 0 { (2 * sum + n) / (2 * n) } else { (2 * sum - n) / (2 * n) };
            i64::try_from(rounded).unwrap_or(i64::MAX)
        }
        Aggregation::Max => figure.max_milli,
    })
}

fn add(into: &mut BTreeMap<String, IndicatorFigure>, code: &str, sum: i64, count: i64, max: i64) {
    let f = into.entry(code.to_owned()).or_insert_with(|| IndicatorFigure {
        code: code.to_owned(),
        sum_milli: 0,
        count: 0,
        max_milli: max,
    });
    f.max_milli = if f.count == 0 { max } else { f.max_milli.max(max) };
    f.sum_milli = f.sum_milli.saturating_add(sum);
    f.count += count;
}

/// Recomputes this node's (of `own` region) summary of a form's period from its approved
/// reports and its children's summaries; stores it with a new revision and queues it for
/// the parent when it changed. Returns whether it changed.
pub fn recompute(conn: &mut DbConnection, own: &str, form: &Form, period: &Period) -> AppResult<bool> {
    let p = period.to_string();
    let mut figures = BTreeMap::new();
    let approved: Vec<(String, String)> = r::table
        .filter(r::form_code.eq(&form.code))
        .filter(r::period.eq(&p))
        .filter(r::status.eq(ReportStatus::Approved.as_str()))
        .select((r::tenant_id, r::figures))
        .load(conn)?;
    let mut units: BTreeSet<String> = fu::table
        .filter(fu::form_code.eq(&form.code))
        .select(fu::tenant_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    for (tenant, text) in &approved {
        units.insert(tenant.clone());
        for (code, v) in reports::figures_of(text)? {
            add(&mut figures, &code, v, 1, v);
        }
    }
    let kids: Vec<String> = active_children(conn)?.into_iter().map(|(r, _)| r).collect();
    let mut reported = 0;
    for child in &kids {
        if let Some(h) = held(conn, child, &form.code, &p)? {
            reported += 1;
            for f in &h.summary.figures {
                add(&mut figures, &f.code, f.sum_milli, f.count, f.max_milli);
            }
        }
    }
    let before = held(conn, own, &form.code, &p)?;
    let summary = IndustrySummary {
        source_region: own.to_owned(),
        form: form.code.clone(),
        period: p.clone(),
        revision: before.as_ref().map_or(1, |b| b.summary.revision + 1),
        units_expected: units.len() as i64,
        units_reported: approved.len() as i64,
        children_expected: kids.len() as i64,
        children_reported: reported,
        figures: figures.into_values().collect(),
    };
    if before.as_ref().is_some_and(|b| IndustrySummary { revision: summary.revision, ..b.summary.clone() } == summary) {
        return Ok(false);
    }
    store(conn, &summary, "")?;
    if !form.is_own(own) {
        append(conn, &summary)?;
    }
    Ok(true)
}

/// Recomputes the summary `report` counts in (after it was approved, sent back or reopened).
pub fn recount_for(conn: &mut DbConnection, own: &str, report: &reports::Report) -> AppResult<bool> {
    let form = forms::get(conn, &report.form_code)?;
    let period = form.period("period", &report.period)?;
    recompute(conn, own, &form, &period)
}

fn store(conn: &mut DbConnection, summary: &IndustrySummary, via: &str) -> AppResult<()> {
    let figures = serde_json::to_string(&summary.figures).map_err(AppError::internal)?;
    let now = db::now();
    let changed = (
        s::via.eq(via),
        s::revision.eq(summary.revision),
        s::units_expected.eq(summary.units_expected),
        s::units_reported.eq(summary.units_reported),
        s::children_expected.eq(summary.children_expected),
        s::children_reported.eq(summary.children_reported),
        s::figures.eq(&figures),
        s::updated_at.eq(now),
    );
    crate::on_backend!(&mut *conn, |c| diesel::insert_into(s::table)
        .values((
            s::source_region.eq(&summary.source_region),
            s::form_code.eq(&summary.form),
            s::period.eq(&summary.period),
            changed,
        ))
        .on_conflict((s::source_region, s::form_code, s::period))
        .do_update()
        .set(changed)
        .execute(c))?;
    Ok(())
}

/// Puts a summary into the outbox for the parent.
fn append(conn: &mut DbConnection, summary: &IndustrySummary) -> AppResult<()> {
    db::lock_sequence(conn, db::Sequence::IndustryOutbox)?;
    let last: Option<i64> = io::table.select(diesel::dsl::max(io::seq)).first(conn)?;
    diesel::insert_into(io::table)
        .values((
            io::seq.eq(last.unwrap_or(0) + 1),
            io::source_region.eq(&summary.source_region),
            io::form_code.eq(&summary.form),
            io::period.eq(&summary.period),
            io::payload.eq(serde_json::to_string(summary).map_err(AppError::internal)?),
            io::created_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The outbox after `after`, at most `limit` entries: (number, summary).
pub fn outbox_since(conn: &mut DbConnection, after: i64, limit: i64) -> AppResult<Vec<(i64, IndustrySummary)>> {
    let rows: Vec<(i64, String)> = io::table
        .filter(io::seq.gt(after))
        .order(io::seq.asc())
        .limit(limit)
        .select((io::seq, io::payload))
        .load(conn)?;
    rows.into_iter().map(|(seq, text)| Ok((seq, serde_json::from_str(&text).map_err(AppError::internal)?))).collect()
}

/// Forgets the outbox entries through `through`, which the parent applied, but the newest
/// (it numbers the next).
pub fn prune_outbox(conn: &mut DbConnection, through: i64) -> AppResult<usize> {
    let top: i64 = io::table.select(diesel::dsl::max(io::seq)).first::<Option<i64>>(conn)?.unwrap_or(0);
    Ok(diesel::delete(io::table.filter(io::seq.le(through)).filter(io::seq.lt(top))).execute(conn)?)
}

fn refuse(child: &str, item: &IndustrySummary) -> AppError {
    Refusal::UnknownForm { child: child.to_owned(), form: item.form.clone(), period: item.period.clone() }.into()
}

/// The form an item of `child` names, checked: published here (or withdrawn since), of a
/// period the form has, with indicators the form has.
fn check_item(
    conn: &mut DbConnection,
    known: &mut BTreeMap<String, Option<Form>>,
    child: &str,
    item: &IndustrySummary,
) -> AppResult<(Form, Period)> {
    if item.source_region != child && !lies_inside(child, &item.source_region) {
        return Err(Refusal::SourceOutsideChild { child: child.to_owned(), region: item.source_region.clone() }.into());
    }
    if !known.contains_key(&item.form) {
        let found = forms::find(conn, &item.form)?.filter(|f| f.status != FormStatus::Draft);
        known.insert(item.form.clone(), found);
    }
    let form = known.get(&item.form).cloned().flatten().ok_or_else(|| refuse(child, item))?;
    let period = Period::read(form.frequency, &item.period).ok_or_else(|| refuse(child, item))?;
    if let Some(stray) = item.figures.iter().find(|f| form.indicator(&f.code).is_none()) {
        return Err(Refusal::Malformed {
            kind: Kind::IndustryStatistics,
            why: format!("form {} has no indicator {}", form.code, stray.code),
        }
        .into());
    }
    Ok((form, period))
}

/// Applies a child's summaries (the child's own and those it passes on): each newer than
/// the one held replaces it and goes on to the parent; this node's own summary is then
/// recomputed for every form and period a direct child changed. Returns how many changed.
pub fn apply(conn: &mut DbConnection, own: &str, child: &str, items: &[IndustrySummary]) -> AppResult<i64> {
    let mut checked = Vec::with_capacity(items.len());
    let mut known = BTreeMap::new();
    for item in items {
        checked.push(check_item(conn, &mut known, child, item)?);
    }
    // The revisions held of every (source, form, period) the batch names: one query per form
    // and period it covers (usually one), not one per item.
    let mut held_revisions: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let pairs: std::collections::BTreeSet<(&str, &str)> =
        items.iter().map(|i| (i.form.as_str(), i.period.as_str())).collect();
    for (form, period) in pairs {
        let rows: Vec<(String, i64)> = s::table
            .filter(s::form_code.eq(form))
            .filter(s::period.eq(period))
            .select((s::source_region, s::revision))
            .load(conn)?;
        held_revisions.extend(rows.into_iter().map(|(r, v)| ((r, form.to_owned(), period.to_owned()), v)));
    }
    let mut changed = 0;
    let mut recount = BTreeMap::new();
    for (item, (form, period)) in items.iter().zip(checked) {
        let key = (item.source_region.clone(), item.form.clone(), item.period.clone());
        let newer = held_revisions.get(&key).is_none_or(|held| *held < item.revision);
        if !newer {
            continue;
        }
        store(conn, item, child)?;
        held_revisions.insert(key, item.revision);
        if !form.is_own(own) {
            append(conn, item)?;
        }
        changed += 1;
        if item.source_region == child {
            recount.insert((form.code.clone(), period.to_string()), (form, period));
        }
    }
    for (form, period) in recount.into_values() {
        recompute(conn, own, &form, &period)?;
    }
    Ok(changed)
}
