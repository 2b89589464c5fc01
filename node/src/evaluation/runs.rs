//! Evaluation runs (追溯体系运行监测评价). A run takes one version of a set and one period
//! that has ended, computes operation monitoring's figures over the period for every object of
//! the set's kind (each approved entity, of the set's stage when it names one; or each
//! tenant), scores each indicator by its rule, and keeps per object:
//!
//! - the composite score: Σ weight × points ÷ Σ weight over the indicators that had a value
//!   (an indicator without a base is left out, never scored 0); none had a value: 无数据;
//! - the grade from the set's bounds, and the rank from high to low (equal scores share a
//!   rank, the next rank counting them: 1, 2, 2, 4);
//! - the inputs: each indicator's value, points and weight, and the figures they came from,
//!   so a result can be explained and recomputed.
//!
//! Running a period again makes a new run; the earlier one stays, marked superseded.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::operations::Operations;
use super::set::{measure, Basis, ObjectKind, SetIndicator};
use super::sets::{self, Set};
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{evaluation_results as er, evaluation_runs as ev};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::system::industry::period::Period;
use crate::system::monitoring::compute::compute;
use crate::system::monitoring::indicators::{Figures, Filter, SubjectIndicators, Window};
use crate::system::monitoring::thresholds;

/// Results per page.
pub const PAGE: i64 = 100;

crate::text_status! {
    /// Status of a run.
    pub enum RunStatus {
        /// The run in force for its set and period.
        Current = "current" / "现行",
        /// Replaced by a later run of the same set and period.
        Superseded = "superseded" / "已被重新评价替代",
    }
}

/// A run.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = ev)]
#[schema(as = EvaluationRun)]
pub struct Run {
    /// Id.
    pub id: String,
    /// The set.
    pub set_code: String,
    /// Its version.
    pub set_version: i32,
    /// The period (`YYYY-MM` or `YYYY-Qn`).
    pub period: String,
    /// `current` or `superseded`.
    pub status: String,
    /// Objects evaluated.
    pub objects: i64,
    /// Of those, with a score.
    pub evaluated: i64,
    /// Who ran it.
    pub run_by: String,
    /// When (UTC).
    pub created_at: chrono::NaiveDateTime,
}

/// One indicator of one object, as it was scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scored {
    /// Indicator code.
    pub code: String,
    /// The measure's value (absent: no base in the period).
    pub value: Option<f64>,
    /// Points, 0–100 (absent with the value).
    pub points: Option<f64>,
    /// Weight.
    pub weight: u32,
}

/// What a result was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Inputs {
    /// Each indicator.
    pub indicators: Vec<Scored>,
    /// The monitoring figures of the period.
    pub figures: Figures,
    /// For a tenant platform, its operation over the period (left out when all zero, as for
    /// every entity).
    #[serde(default, skip_serializing_if = "Operations::is_zero")]
    pub operations: Operations,
}

/// One object's result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationResult)]
pub struct ObjectResult {
    /// Object id (entity or tenant).
    pub object_id: String,
    /// Its code.
    pub object_code: String,
    /// Its name.
    pub object_name: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Its region.
    pub region: String,
    /// Composite score, points (absent: 无数据).
    pub score: Option<f64>,
    /// Grade code.
    pub grade: String,
    /// Grade, in Chinese.
    pub grade_zh: String,
    /// Rank, from 1 (absent without a score).
    pub rank: Option<i64>,
    /// What it was computed from.
    pub inputs: Inputs,
}

/// Scores one object's basis by the set's indicators; returns the composite and the inputs.
pub fn score(indicators: &[SetIndicator], basis: &Basis) -> (Option<f64>, Inputs) {
    let mut weighted = 0.0;
    let mut weights = 0u32;
    let scored = indicators
        .iter()
        .map(|i| {
            let value = measure(&i.formula, basis);
            let points = value.map(|v| i.scoring.points(v, super::set::higher_is_better(&i.formula)));
            if let Some(p) = points {
                weighted += f64::from(i.weight) * p;
                weights += i.weight;
            }
            Scored { code: i.code.clone(), value, points, weight: i.weight }
        })
        .collect();
    let composite = (weights > 0).then(|| weighted / f64::from(weights));
    (composite, Inputs { indicators: scored, figures: basis.figures, operations: basis.operations })
}

/// Ranks from high to low; equal scores (to the thousandth) share a rank.
pub fn rank(scores: &[Option<i64>]) -> Vec<Option<i64>> {
    let mut order: Vec<(usize, i64)> = scores.iter().enumerate().filter_map(|(k, s)| s.map(|s| (k, s))).collect();
    order.sort_by_key(|&(_, s)| std::cmp::Reverse(s));
    let mut out = vec![None; scores.len()];
    let mut shared: Option<(i64, i64)> = None;
    for (pos, &(k, s)) in order.iter().enumerate() {
        let rank = match shared {
            Some((score, rank)) if score == s => rank,
            _ => pos as i64 + 1,
        };
        shared = Some((s, rank));
        out[k] = Some(rank);
    }
    out
}

/// The window of a period, refused when it has not ended by `last` (the last whole day).
pub fn window_of(period: &Period, last: NaiveDate) -> AppResult<Window> {
    if period.last_day() > last {
        return Err(AppError::invalid(
            "period",
            format!("评价期“{period}”尚未结束，不能评价"),
            format!("the period {period} has not ended and cannot be evaluated"),
        ));
    }
    Ok(Window { from: period.first_day(), to: period.last_day() })
}

/// The objects of a set with their period's figures.
fn objects(conn: &mut DbConnection, set: &Set, w: Window) -> AppResult<Vec<SubjectIndicators>> {
    let d = &set.definition;
    let filter = Filter { stage: (!d.stage.is_empty()).then(|| d.stage.clone()), ..Filter::default() };
    let intervals = thresholds::intervals(&thresholds::list(conn)?);
    let c = compute(conn, &filter, w, &intervals)?;
    Ok(match d.object_kind {
        ObjectKind::Entity => c
            .entities
            .into_iter()
            .filter(|e| d.stage.is_empty() || e.by_stage.get(&d.stage).is_some_and(|f| f.expected > 0 || f.records > 0))
            .collect(),
        ObjectKind::Tenant => every_tenant(conn, c.tenants)?,
    })
}

/// The tenants with figures, and every other active tenant with none: a platform is evaluated
/// on its operation even when it has no entity.
fn every_tenant(conn: &mut DbConnection, mut with: Vec<SubjectIndicators>) -> AppResult<Vec<SubjectIndicators>> {
    use crate::system::monitoring::indicators::{Subject, SubjectKind};
    for t in crate::tenants::list_all(conn)? {
        let id = t.id.as_str();
        if t.status == crate::tenants::TenantStatus::Active && !with.iter().any(|w| w.subject.id == id) {
            with.push(SubjectIndicators::new(Subject {
                kind: SubjectKind::Tenant,
                id: id.to_owned(),
                code: t.code.clone(),
                name: t.name.clone(),
                tenant_id: id.to_owned(),
                region: t.region.as_str().to_owned(),
            }));
        }
    }
    Ok(with)
}

/// Runs `set` (its latest version, or `version`) for `period`, superseding an earlier run, at
/// the node of region `own`; recomputes the jurisdiction's summary, and queues the results for
/// the parent when the set came from above.
pub fn run(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    own: &str,
    code: &str,
    version: Option<i32>,
    period_text: &str,
    last: NaiveDate,
) -> AppResult<Run> {
    let set = sets::get(conn, code, version)?;
    let period = Period::parse("period", set.definition.frequency, period_text)?;
    let w = window_of(&period, last)?;
    let objects = objects(conn, &set, w)?;
    let id = uuid::Uuid::now_v7().to_string();
    let operations = match set.definition.object_kind {
        ObjectKind::Tenant => super::operations::of_tenants(conn, w)?,
        ObjectKind::Entity => Default::default(),
    };
    let results = evaluate(&set, &objects, &operations);
    let period = period.to_string();
    let superseded: Vec<i32> = ev::table
        .filter(ev::set_code.eq(code))
        .filter(ev::period.eq(&period))
        .filter(ev::status.eq(RunStatus::Current.as_str()))
        .select(ev::set_version)
        .load(conn)?;
    diesel::update(ev::table.filter(ev::set_code.eq(code)).filter(ev::period.eq(&period)))
        .filter(ev::status.eq(RunStatus::Current.as_str()))
        .set(ev::status.eq(RunStatus::Superseded.as_str()))
        .execute(conn)?;
    let evaluated = results.iter().filter(|r| r.score.is_some()).count() as i64;
    let run = Run {
        id: id.clone(),
        set_code: set.code.clone(),
        set_version: set.version,
        period: period.clone(),
        status: RunStatus::Current.as_str().to_owned(),
        objects: objects.len() as i64,
        evaluated,
        run_by: ctx.actor.clone(),
        created_at: crate::db::now(),
    };
    let (grades, basis) = together(&set, &results);
    diesel::insert_into(ev::table)
        .values((
            ev::id.eq(&run.id),
            ev::set_code.eq(&run.set_code),
            ev::set_version.eq(run.set_version),
            ev::period.eq(&run.period),
            ev::status.eq(&run.status),
            ev::objects.eq(run.objects),
            ev::evaluated.eq(run.evaluated),
            ev::run_by.eq(&run.run_by),
            ev::created_at.eq(run.created_at),
            ev::grades.eq(serde_json::to_string(&grades).map_err(AppError::internal)?),
            ev::basis.eq(serde_json::to_string(&basis).map_err(AppError::internal)?),
        ))
        .execute(conn)?;
    let stored = store_results(conn, &id, &results)?;
    let mut digest = super::integrity::Hasher::of_run(
        &id,
        &set.code,
        set.version,
        &period,
        run.objects,
        &serde_json::to_string(&grades).map_err(AppError::internal)?,
        &serde_json::to_string(&basis).map_err(AppError::internal)?,
    );
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|a, b| results[*a].object_id.cmp(&results[*b].object_id));
    for k in order {
        let r = &results[k];
        digest.result(&r.object_id, r.score.map(|s| (s * 1000.0).round() as i64), &r.grade, r.rank, &stored[k]);
    }
    settle(conn, own, &set, &run, &results, &superseded)?;
    audit::record(
        conn,
        ctx,
        "evaluation.run",
        &format!("evaluation_run:{id}"),
        Outcome::Success,
        serde_json::json!({"set": set.code, "version": set.version, "period": period, "objects": run.objects,
            "evaluated": evaluated, "digest": digest.finish()}),
    )?;
    Ok(run)
}

/// Scores and ranks every object of a run.
fn evaluate(
    set: &Set,
    objects: &[SubjectIndicators],
    operations: &std::collections::HashMap<String, Operations>,
) -> Vec<ObjectResult> {
    let d = &set.definition;
    let basis = |o: &SubjectIndicators| Basis {
        figures: o.total,
        operations: operations.get(&o.subject.id).copied().unwrap_or_default(),
    };
    let scored: Vec<(Option<f64>, Inputs)> = objects.iter().map(|o| score(&d.indicators, &basis(o))).collect();
    let milli: Vec<Option<i64>> = scored.iter().map(|(s, _)| s.map(|v| (v * 1000.0).round() as i64)).collect();
    let ranks = rank(&milli);
    objects
        .iter()
        .zip(scored)
        .zip(milli.into_iter().zip(ranks))
        .map(|((o, (score, inputs)), (m, rank))| {
            let grade = score.map_or(super::set::Grade::Unrated, |s| d.grades.grade(s));
            ObjectResult {
                object_id: o.subject.id.clone(),
                object_code: o.subject.code.clone(),
                object_name: o.subject.name.clone(),
                tenant_id: o.subject.tenant_id.clone(),
                region: o.subject.region.clone(),
                score: m.map(|m| m as f64 / 1000.0),
                grade: grade.as_str().to_owned(),
                grade_zh: grade.label_zh().to_owned(),
                rank,
                inputs,
            }
        })
        .collect()
}

/// What a run's objects come to together: objects by grade, and the counters of their
/// figures (for entities, the entities counted and the active ones are the objects).
fn together(set: &Set, results: &[ObjectResult]) -> ([i64; 5], BTreeMap<String, i64>) {
    let mut grades = [0i64; 5];
    let mut figures = Figures::default();
    let mut operations = Operations::default();
    for r in results {
        let at = super::set::Grade::ALL.iter().position(|g| g.as_str() == r.grade).unwrap_or(4);
        grades[at] += 1;
        figures.add(&r.inputs.figures);
        operations.add(&r.inputs.operations);
    }
    if set.definition.object_kind == ObjectKind::Entity {
        figures.entities = results.len() as i64;
        figures.active = results.iter().filter(|r| r.inputs.figures.records > 0).count() as i64;
    }
    (grades, super::jurisdiction::basis_of(&Basis { figures, operations }))
}

/// After a run: the jurisdiction's summary of its set version (and of a version it
/// superseded) recomputed, and for a set from above the results queued for the parent.
fn settle(
    conn: &mut DbConnection,
    own: &str,
    set: &Set,
    run: &Run,
    results: &[ObjectResult],
    superseded: &[i32],
) -> AppResult<()> {
    use super::jurisdiction::{self, Key};
    if !set.is_own() {
        let key = Key { set: set.code.clone(), version: set.version, period: run.period.clone() };
        for part in super::held::parts_of(&key, own, &run.id, results) {
            jurisdiction::append(conn, &part)?;
        }
    }
    jurisdiction::recompute(conn, own, set, &run.period)?;
    for v in superseded.iter().filter(|v| **v != set.version) {
        let earlier = sets::get(conn, &set.code, Some(*v))?;
        jurisdiction::recompute(conn, own, &earlier, &run.period)?;
    }
    Ok(())
}

/// Stores a run's results; returns each one's inputs as stored.
fn store_results(conn: &mut DbConnection, run: &str, results: &[ObjectResult]) -> AppResult<Vec<String>> {
    let inputs = results
        .iter()
        .map(|r| serde_json::to_string(&r.inputs).map_err(AppError::internal))
        .collect::<AppResult<Vec<String>>>()?;
    let rows: Vec<_> = results
        .iter()
        .zip(&inputs)
        .map(|(r, text)| {
            (
                er::run_id.eq(run.to_owned()),
                er::object_id.eq(r.object_id.clone()),
                er::object_code.eq(r.object_code.clone()),
                er::object_name.eq(r.object_name.clone()),
                er::tenant_id.eq(r.tenant_id.clone()),
                er::region.eq(r.region.clone()),
                er::score_milli.eq(r.score.map(|s| (s * 1000.0).round() as i64)),
                er::grade.eq(r.grade.clone()),
                er::rank.eq(r.rank),
                er::inputs.eq(text.as_str()),
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        crate::insert_rows!(conn, er::table, chunk)?;
    }
    Ok(inputs)
}

type ResultRow = (String, String, String, String, String, Option<i64>, String, Option<i64>, String);

fn of_row(
    (object_id, object_code, object_name, tenant_id, region, score, grade, rank, inputs): ResultRow,
) -> ObjectResult {
    ObjectResult {
        object_id,
        object_code,
        object_name,
        tenant_id,
        region,
        score: score.map(|m| m as f64 / 1000.0),
        grade_zh: super::set::Grade::label_zh_of(&grade).to_owned(),
        grade,
        rank,
        inputs: serde_json::from_str(&inputs).unwrap_or(Inputs {
            indicators: Vec::new(),
            figures: Figures::default(),
            operations: Operations::default(),
        }),
    }
}

/// Filters of a run's results.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct ResultQuery {
    /// One grade.
    pub grade: Option<String>,
    /// Objects of one tenant.
    pub tenant: Option<String>,
    /// Objects in a region's subtree.
    pub region: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
}

/// A run's results, ranked (unscored last), 100 a page, within `tenant` when given.
pub fn results(
    conn: &mut DbConnection,
    run: &str,
    q: &ResultQuery,
    tenant: Option<&str>,
) -> AppResult<Vec<ObjectResult>> {
    let mut query = er::table.filter(er::run_id.eq(run)).into_boxed();
    if let Some(g) = q.grade.as_deref().filter(|g| !g.is_empty()) {
        let g = super::set::Grade::parse(g).ok_or_else(|| AppError::invalid("grade", "未知的等级", "unknown grade"))?;
        query = query.filter(er::grade.eq(g.as_str()));
    }
    if let Some(t) = tenant.or(q.tenant.as_deref()).filter(|t| !t.is_empty()) {
        query = query.filter(er::tenant_id.eq(t.to_owned()));
    }
    if let Some(r) = q.region.as_deref().filter(|r| !r.is_empty()) {
        let r = crate::region::RegionCode::parse(r)
            .map_err(|e| AppError::invalid("region", e.to_string(), e.to_string()))?;
        query = query.filter(er::region.like(format!("{}%", r.subtree_prefix())));
    }
    let page = q.page.unwrap_or(1).max(1);
    let rows: Vec<ResultRow> = query
        .order((er::rank.is_null(), er::rank, er::object_code))
        .offset((page - 1) * PAGE)
        .limit(PAGE)
        .select((
            er::object_id,
            er::object_code,
            er::object_name,
            er::tenant_id,
            er::region,
            er::score_milli,
            er::grade,
            er::rank,
            er::inputs,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(of_row).collect())
}

/// Every run, newest first (at most 200), of one set when given.
pub fn list(conn: &mut DbConnection, set: Option<&str>) -> AppResult<Vec<Run>> {
    let mut q = ev::table.order(ev::created_at.desc()).limit(200).into_boxed();
    if let Some(s) = set {
        q = q.filter(ev::set_code.eq(s.to_owned()));
    }
    Ok(q.select(Run::as_select()).load(conn)?)
}

/// One run.
pub fn get(conn: &mut DbConnection, id: &str) -> AppResult<Run> {
    ev::table
        .find(id)
        .select(Run::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::new(crate::error::ErrorKind::NotFound))
}

#[cfg(test)]
mod tests {
    use super::rank;

    #[test]
    fn equal_scores_share_a_rank_and_the_next_counts_them() {
        assert_eq!(rank(&[Some(50), Some(90), None, Some(70), Some(70)]), [Some(4), Some(1), None, Some(2), Some(2)]);
        assert_eq!(rank(&[]), Vec::<Option<i64>>::new());
    }
}

/// One period of an object's trend.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationTrendPoint)]
pub struct TrendPoint {
    /// The period.
    pub period: String,
    /// The run.
    pub run_id: String,
    /// The set's version it was scored with.
    pub set_version: i32,
    /// Composite score (absent: 无数据).
    pub score: Option<f64>,
    /// Grade code.
    pub grade: String,
    /// Rank.
    pub rank: Option<i64>,
}

type TrendRow = (String, String, i32, Option<i64>, String, Option<i64>);

/// The most periods a trend shows.
pub const TREND_PERIODS: i64 = 24;

/// One object's results in the current runs of `set`, the latest [`TREND_PERIODS`] periods,
/// oldest first; within `tenant` when given.
pub fn trend(conn: &mut DbConnection, set: &str, object: &str, tenant: Option<&str>) -> AppResult<Vec<TrendPoint>> {
    let mut q = er::table
        .inner_join(ev::table.on(ev::id.eq(er::run_id)))
        .filter(ev::set_code.eq(set))
        .filter(ev::status.eq(RunStatus::Current.as_str()))
        .filter(er::object_id.eq(object))
        .into_boxed();
    if let Some(t) = tenant {
        q = q.filter(er::tenant_id.eq(t.to_owned()));
    }
    let rows: Vec<TrendRow> = q
        .order(ev::period.desc())
        .limit(TREND_PERIODS)
        .select((ev::period, ev::id, ev::set_version, er::score_milli, er::grade, er::rank))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .rev()
        .map(|(period, run_id, set_version, score, grade, rank)| TrendPoint {
            period,
            run_id,
            set_version,
            score: score.map(|m| m as f64 / 1000.0),
            grade,
            rank,
        })
        .collect())
}

/// How many results of a run fall in each grade, per division (the region code cut to
/// `digits`: 2 provinces, 4 cities, 6 counties), within `tenant` when given.
pub fn by_region(
    conn: &mut DbConnection,
    run: &str,
    digits: usize,
    tenant: Option<&str>,
) -> AppResult<Vec<(String, [i64; 5])>> {
    let cells = (er::region, er::grade, diesel::dsl::count_star());
    let rows: Vec<(String, String, i64)> = match tenant {
        Some(t) => er::table
            .filter(er::run_id.eq(run))
            .filter(er::tenant_id.eq(t))
            .group_by((er::region, er::grade))
            .select(cells)
            .load(conn)?,
        None => er::table.filter(er::run_id.eq(run)).group_by((er::region, er::grade)).select(cells).load(conn)?,
    };
    let mut out: std::collections::BTreeMap<String, [i64; 5]> = Default::default();
    for (region, grade, n) in rows {
        let key: String = region.chars().take(digits).collect();
        let key = format!("{key:0<6}");
        let at = super::set::Grade::ALL.iter().position(|g| g.as_str() == grade).unwrap_or(4);
        out.entry(key).or_default()[at] += n;
    }
    Ok(out.into_iter().collect())
}
