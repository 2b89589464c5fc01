//! The evaluation of a jurisdiction (辖区评价), per set version and period, and what travels
//! as the roll-up kind `evaluations`.
//!
//! A node's jurisdiction comes to its own current run's objects plus the summary each child
//! sent: objects by grade, and the counters of their monitoring figures, which add up from tier
//! to tier. Any tier scores a jurisdiction from those counters by the set's own indicators and
//! grades, exactly as it scores one object — so the national node ranks provinces, a province
//! its cities and a city its counties by one rule. A summary is recomputed in the transaction
//! that changes either source and gets a new revision only when it changed.
//!
//! For a set defined above, a node puts its own summary, the results of its own runs
//! ([`super::held`]) and everything its children sent into its outbox for the parent, in
//! order; the results of a set defined here stay here. The receiver keeps the highest
//! revision of each summary and the newest run of each node, and refuses results of a set
//! version it does not hold (`unknown_evaluation_set`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use tracenode_federation::tiers::lies_inside;
use tracenode_federation::wire::payload::{EvaluationItem, EvaluationSummary};
use tracenode_federation::wire::{Kind, Refusal};

use super::runs::{self, RunStatus};
use super::set::Basis;
use super::set::Grade;
use super::sets::{self, Set};
use crate::db::schema::{evaluation_outbox as eo, evaluation_runs as ev, evaluation_summaries as es};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::pki::registry::active_children;
use crate::system::industry::period::Period;

/// One set version and period.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// The set's code.
    pub set: String,
    /// Its version.
    pub version: i32,
    /// The period.
    pub period: String,
}

fn counters(of: &impl Serialize) -> BTreeMap<String, i64> {
    serde_json::to_value(of).ok().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default()
}

/// The counters of a basis, as a summary carries them: the figures' and the operation's, by
/// their field names.
pub fn basis_of(b: &Basis) -> BTreeMap<String, i64> {
    let mut out = counters(&b.figures);
    out.extend(counters(&b.operations));
    out
}

/// The basis a summary's counters stand for (a counter this node does not know is left
/// aside; one it misses is 0).
pub fn from_counters(counters: &BTreeMap<String, i64>) -> Basis {
    let known =
        serde_json::Value::Object(counters.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(*v))).collect());
    Basis {
        figures: serde_json::from_value(known.clone()).unwrap_or_default(),
        operations: serde_json::from_value(known).unwrap_or_default(),
    }
}

/// A jurisdiction's evaluation as held, scored by its set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationJurisdiction)]
pub struct Held {
    /// The region of the node whose jurisdiction it is.
    pub region: String,
    /// Its name.
    pub name: String,
    /// Revision at its source.
    pub revision: i64,
    /// Objects evaluated.
    pub objects: i64,
    /// Of those, with a score.
    pub evaluated: i64,
    /// Objects by grade: excellent, good, pass, fail, unrated.
    pub grades: [i64; 5],
    /// What all its objects came to together.
    pub basis: Basis,
    /// The source node's children.
    pub children_expected: i64,
    /// Of those, the ones whose summary it holds.
    pub children_reported: i64,
    /// The jurisdiction's composite score (absent: no indicator had a value).
    pub score: Option<f64>,
    /// Grade code.
    pub grade: String,
    /// Grade, in Chinese.
    pub grade_zh: String,
    /// The child it came through (empty: this node's own).
    pub via: String,
    /// When it last changed here (UTC).
    pub updated_at: NaiveDateTime,
}

type Row = (String, String, i64, i64, i64, String, String, i64, i64, NaiveDateTime);

fn columns() -> (
    es::source_region,
    es::via,
    es::revision,
    es::objects,
    es::evaluated,
    es::grades,
    es::basis,
    es::children_expected,
    es::children_reported,
    es::updated_at,
) {
    (
        es::source_region,
        es::via,
        es::revision,
        es::objects,
        es::evaluated,
        es::grades,
        es::basis,
        es::children_expected,
        es::children_reported,
        es::updated_at,
    )
}

fn summary_of(key: &Key, row: &Row) -> AppResult<EvaluationSummary> {
    let (source_region, _, revision, objects, evaluated, grades, basis, ce, cr, _) = row;
    Ok(EvaluationSummary {
        source_region: source_region.clone(),
        set: key.set.clone(),
        version: key.version,
        period: key.period.clone(),
        revision: *revision,
        objects: *objects,
        evaluated: *evaluated,
        grades: serde_json::from_str(grades).map_err(AppError::internal)?,
        basis: serde_json::from_str(basis).map_err(AppError::internal)?,
        children_expected: *ce,
        children_reported: *cr,
    })
}

/// Scores a summary by `set` (the version it names).
pub fn scored(set: &Set, summary: &EvaluationSummary, via: String, updated_at: NaiveDateTime) -> Held {
    let basis = from_counters(&summary.basis);
    let (score, _) = runs::score(&set.definition.indicators, &basis);
    let grade = score.map_or(Grade::Unrated, |s| set.definition.grades.grade(s));
    let name = crate::region::RegionCode::parse(&summary.source_region).map(|r| r.name()).unwrap_or("");
    Held {
        region: summary.source_region.clone(),
        name: name.to_owned(),
        revision: summary.revision,
        objects: summary.objects,
        evaluated: summary.evaluated,
        grades: summary.grades,
        basis,
        children_expected: summary.children_expected,
        children_reported: summary.children_reported,
        score: score.map(|s| (s * 1000.0).round() / 1000.0),
        grade_zh: grade.label_zh().to_owned(),
        grade: grade.as_str().to_owned(),
        via,
        updated_at,
    }
}

fn rows(conn: &mut DbConnection, key: &Key, region: Option<&str>) -> AppResult<Vec<Row>> {
    let (set, version, period) = (key.set.as_str(), key.version, key.period.as_str());
    let base = es::table.filter(es::set_code.eq(set)).filter(es::set_version.eq(version)).filter(es::period.eq(period));
    Ok(match region {
        Some(r) => base.filter(es::source_region.eq(r)).select(columns()).load(conn)?,
        None => base.order(es::source_region.asc()).select(columns()).load(conn)?,
    })
}

/// The summary of `region`'s jurisdiction, if held.
pub fn held(conn: &mut DbConnection, key: &Key, region: &str) -> AppResult<Option<(EvaluationSummary, String)>> {
    rows(conn, key, Some(region))?.first().map(|row| Ok((summary_of(key, row)?, row.1.clone()))).transpose()
}

/// `region`'s summary and those of the jurisdictions right below it that are held (the
/// nearest held regions inside it: a province's cities, a city's counties), scored and ranked
/// high to low — at most one per node of the jurisdiction.
pub fn tier(conn: &mut DbConnection, set: &Set, period: &str, region: &str) -> AppResult<(Option<Held>, Vec<Held>)> {
    let key = Key { set: set.code.clone(), version: set.version, period: period.to_owned() };
    let all = rows(conn, &key, None)?;
    let inside: Vec<&Row> = all.iter().filter(|r| lies_inside(region, &r.0)).collect();
    let regions: BTreeSet<&str> = inside.iter().map(|r| r.0.as_str()).collect();
    let direct = inside.iter().filter(|r| !regions.iter().any(|o| *o != r.0 && lies_inside(o, &r.0)));
    let mut below = Vec::new();
    for row in direct {
        below.push(scored(set, &summary_of(&key, row)?, row.1.clone(), row.9));
    }
    below.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal));
    let own = match all.iter().find(|r| r.0 == region) {
        Some(row) => Some(scored(set, &summary_of(&key, row)?, row.1.clone(), row.9)),
        None => None,
    };
    Ok((own, below))
}

fn store(conn: &mut DbConnection, s: &EvaluationSummary, via: &str) -> AppResult<()> {
    let grades = serde_json::to_string(&s.grades).map_err(AppError::internal)?;
    let basis = serde_json::to_string(&s.basis).map_err(AppError::internal)?;
    let changed = (
        es::via.eq(via),
        es::revision.eq(s.revision),
        es::objects.eq(s.objects),
        es::evaluated.eq(s.evaluated),
        es::grades.eq(&grades),
        es::basis.eq(&basis),
        es::children_expected.eq(s.children_expected),
        es::children_reported.eq(s.children_reported),
        es::updated_at.eq(db::now()),
    );
    crate::on_backend!(&mut *conn, |c| diesel::insert_into(es::table)
        .values((
            es::set_code.eq(&s.set),
            es::set_version.eq(s.version),
            es::period.eq(&s.period),
            es::source_region.eq(&s.source_region),
            changed,
        ))
        .on_conflict((es::set_code, es::set_version, es::period, es::source_region))
        .do_update()
        .set(changed)
        .execute(c))?;
    Ok(())
}

/// What a run's objects came to: (objects, evaluated, grades, basis).
type Part = (i64, i64, [i64; 5], BTreeMap<String, i64>);

/// What the current run of `key` at this node came to.
fn own_part(conn: &mut DbConnection, key: &Key) -> AppResult<Option<Part>> {
    let row: Option<(i64, i64, String, String)> = ev::table
        .filter(ev::set_code.eq(&key.set))
        .filter(ev::set_version.eq(key.version))
        .filter(ev::period.eq(&key.period))
        .filter(ev::status.eq(RunStatus::Current.as_str()))
        .select((ev::objects, ev::evaluated, ev::grades, ev::basis))
        .first(conn)
        .optional()?;
    row.map(|(o, e, g, b)| {
        Ok((
            o,
            e,
            serde_json::from_str(&g).map_err(AppError::internal)?,
            serde_json::from_str(&b).map_err(AppError::internal)?,
        ))
    })
    .transpose()
}

/// Recomputes this node's (of `own` region) summary of `set` for `period` from its current
/// run and its children's summaries; stores it with a new revision, and queues it for the
/// parent when the set came from above, if it changed. Returns whether it changed.
pub fn recompute(conn: &mut DbConnection, own: &str, set: &Set, period: &str) -> AppResult<bool> {
    let key = Key { set: set.code.clone(), version: set.version, period: period.to_owned() };
    let (mut objects, mut evaluated, mut grades, counters) = own_part(conn, &key)?.unwrap_or_default();
    let mut basis = from_counters(&counters);
    let kids = active_children(conn)?;
    let mut reported = 0;
    for (child, _) in &kids {
        if let Some((s, _)) = held(conn, &key, child)? {
            reported += 1;
            objects += s.objects;
            evaluated += s.evaluated;
            for (g, n) in grades.iter_mut().zip(s.grades) {
                *g += n;
            }
            let theirs = from_counters(&s.basis);
            basis.figures.add(&theirs.figures);
            basis.operations.add(&theirs.operations);
        }
    }
    let before = held(conn, &key, own)?.map(|(s, _)| s);
    let summary = EvaluationSummary {
        source_region: own.to_owned(),
        set: key.set.clone(),
        version: key.version,
        period: key.period.clone(),
        revision: before.as_ref().map_or(1, |b| b.revision + 1),
        objects,
        evaluated,
        grades,
        basis: basis_of(&basis),
        children_expected: kids.len() as i64,
        children_reported: reported,
    };
    if before.is_some_and(|b| EvaluationSummary { revision: summary.revision, ..b } == summary) {
        return Ok(false);
    }
    store(conn, &summary, "")?;
    if !set.is_own() {
        append(conn, &EvaluationItem::Summary(summary))?;
    }
    Ok(true)
}

/// Puts an item into the outbox for the parent.
pub fn append(conn: &mut DbConnection, item: &EvaluationItem) -> AppResult<()> {
    db::lock_sequence(conn, db::Sequence::EvaluationOutbox)?;
    let last: Option<i64> = eo::table.select(diesel::dsl::max(eo::seq)).first(conn)?;
    diesel::insert_into(eo::table)
        .values((
            eo::seq.eq(last.unwrap_or(0) + 1),
            eo::payload.eq(serde_json::to_string(item).map_err(AppError::internal)?),
            eo::created_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The outbox after `after`, at most `limit` entries: (number, item as JSON text).
pub fn outbox_since(conn: &mut DbConnection, after: i64, limit: i64) -> AppResult<Vec<(i64, String)>> {
    Ok(eo::table
        .filter(eo::seq.gt(after))
        .order(eo::seq.asc())
        .limit(limit)
        .select((eo::seq, eo::payload))
        .load(conn)?)
}

/// Forgets the outbox entries through `through`, which the parent applied, but the newest
/// (it numbers the next).
pub fn prune_outbox(conn: &mut DbConnection, through: i64) -> AppResult<usize> {
    let top: i64 = eo::table.select(diesel::dsl::max(eo::seq)).first::<Option<i64>>(conn)?.unwrap_or(0);
    Ok(diesel::delete(eo::table.filter(eo::seq.le(through)).filter(eo::seq.lt(top))).execute(conn)?)
}

fn malformed(why: String) -> AppError {
    Refusal::Malformed { kind: Kind::Evaluations, why }.into()
}

/// The set version an item of `child` names, checked: its source inside the child, a version
/// held here, a period of the set's frequency.
fn check_item(
    conn: &mut DbConnection,
    known: &mut BTreeMap<(String, i32), Option<Set>>,
    child: &str,
    source: &str,
    key: &Key,
) -> AppResult<Set> {
    if source != child && !lies_inside(child, source) {
        return Err(Refusal::SourceOutsideChild { child: child.to_owned(), region: source.to_owned() }.into());
    }
    let id = (key.set.clone(), key.version);
    if !known.contains_key(&id) {
        let found = match sets::get(conn, &key.set, Some(key.version)) {
            Ok(s) => Some(s),
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        known.insert(id.clone(), found);
    }
    let set = known.get(&id).cloned().flatten().ok_or_else(|| -> AppError {
        Refusal::UnknownEvaluationSet { child: child.to_owned(), set: key.set.clone(), version: key.version }.into()
    })?;
    if Period::read(set.definition.frequency, &key.period).is_none() {
        return Err(malformed(format!("period {} of set {} ({})", key.period, key.set, set.definition.frequency)));
    }
    Ok(set)
}

fn key_of(item: &EvaluationItem) -> (&str, Key) {
    match item {
        EvaluationItem::Summary(s) => {
            (&s.source_region, Key { set: s.set.clone(), version: s.version, period: s.period.clone() })
        }
        EvaluationItem::Results(r) => {
            (&r.source_region, Key { set: r.set.clone(), version: r.version, period: r.period.clone() })
        }
    }
}

/// Applies a child's items (its own and those it passes on): a newer summary replaces the one
/// held, a newer run's results the ones held; each that changed something goes on to the
/// parent when the set came from above. This node's own summary is then recomputed for every
/// set version and period a direct child's summary changed. Returns how many changed.
pub fn apply(conn: &mut DbConnection, own: &str, child: &str, items: &[EvaluationItem]) -> AppResult<i64> {
    let mut known = BTreeMap::new();
    let mut checked = Vec::with_capacity(items.len());
    for item in items {
        let (source, key) = key_of(item);
        let set = check_item(conn, &mut known, child, source, &key)?;
        if let EvaluationItem::Results(r) = item {
            if let Some(bad) = r.results.iter().find(|o| Grade::parse(&o.grade).is_none()) {
                return Err(malformed(format!("grade {} of object {}", bad.grade, bad.id)));
            }
        }
        checked.push((set, key));
    }
    let mut changed = 0;
    let mut recount = BTreeMap::new();
    for (item, (set, key)) in items.iter().zip(checked) {
        let took = match item {
            EvaluationItem::Summary(s) => {
                let newer = held(conn, &key, &s.source_region)?.is_none_or(|(h, _)| h.revision < s.revision);
                if newer {
                    store(conn, s, child)?;
                    if s.source_region == child {
                        recount.insert(key.clone(), set.clone());
                    }
                }
                newer
            }
            EvaluationItem::Results(r) => super::held::receive(conn, r)?,
        };
        if took {
            changed += 1;
            if !set.is_own() {
                append(conn, item)?;
            }
        }
    }
    for (key, set) in recount {
        recompute(conn, own, &set, &key.period)?;
    }
    Ok(changed)
}

/// One jurisdiction right below the one viewed, ranked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationTierRow)]
pub struct Ranked {
    /// Rank from 1 among the jurisdictions below (absent: no score, or not reported).
    pub rank: Option<i64>,
    /// The region.
    pub region: String,
    /// Its name.
    pub name: String,
    /// Its evaluation (absent: an active child of this node that has not reported).
    pub evaluation: Option<Held>,
}

/// A jurisdiction viewed at this node: its evaluation, the jurisdictions right below it
/// ranked (at the node's own region, every active child, reported or not), and whether the
/// results of its own objects are all here.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationTier)]
pub struct TierView {
    /// The set's code.
    pub set: String,
    /// Its version.
    pub version: i32,
    /// Its name.
    pub set_name: String,
    /// The period.
    pub period: String,
    /// The region viewed.
    pub region: String,
    /// Its name.
    pub name: String,
    /// Its evaluation, when held.
    pub evaluation: Option<Held>,
    /// The jurisdictions right below, ranked high to low.
    pub below: Vec<Ranked>,
    /// For another node's region: the run of its own objects held here.
    pub run: Option<super::held::HeldRun>,
}

/// The view of `region` (this node's own `own` when empty) for a set version and period.
pub fn view(conn: &mut DbConnection, own: &str, set: &Set, period: &str, region: &str) -> AppResult<TierView> {
    let period = Period::parse("period", set.definition.frequency, period)?.to_string();
    let (evaluation, held_below) = tier(conn, set, &period, region)?;
    let mut below: Vec<Ranked> = held_below
        .into_iter()
        .map(|h| Ranked { rank: None, region: h.region.clone(), name: h.name.clone(), evaluation: Some(h) })
        .collect();
    if region == own {
        for (child, name) in active_children(conn)? {
            if !below.iter().any(|b| b.region == child) {
                below.push(Ranked { rank: None, region: child, name, evaluation: None });
            }
        }
    }
    let scores: Vec<Option<i64>> = below
        .iter()
        .map(|b| b.evaluation.as_ref().and_then(|e| e.score).map(|s| (s * 1000.0).round() as i64))
        .collect();
    for (b, r) in below.iter_mut().zip(runs::rank(&scores)) {
        b.rank = r;
    }
    below.sort_by_key(|b| (b.rank.is_none(), b.rank, b.region.clone()));
    let key = Key { set: set.code.clone(), version: set.version, period: period.clone() };
    let run = if region == own { None } else { super::held::held_run(conn, &key, region)? };
    let name = crate::region::RegionCode::parse(region).map(|r| r.name()).unwrap_or("").to_owned();
    Ok(TierView {
        set: set.code.clone(),
        version: set.version,
        set_name: set.definition.name.clone(),
        period,
        region: region.to_owned(),
        name,
        evaluation,
        below,
        run,
    })
}
