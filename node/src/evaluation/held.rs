//! The results of other nodes' runs held here, as their nodes ranked them: what a parent
//! drills down to below the jurisdictions it ranks. A run travels in parts of at most
//! [`RESULTS_PER_PART`] results; a run with a greater id than the one held replaces it from
//! its part 0 on (the held results are deleted then), its later parts are added in order, and
//! a part of an older run, or one out of order, changes nothing. Until its last part arrives a
//! run is shown as incomplete (`parts_received` of `parts`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_federation::wire::payload::{
    EvaluatedObject, EvaluationItem, EvaluationResults, IndicatorScore, RESULTS_PER_PART,
};

use super::jurisdiction::Key;
use super::runs::ObjectResult;
use super::set::Grade;
use crate::db::schema::{evaluation_held_results as hr, evaluation_held_runs as hru};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};

/// Results per page.
pub const PAGE: i64 = 100;
/// The most results one CSV export holds.
pub const MAX_EXPORT: i64 = 100_000;

fn milli(v: Option<f64>) -> Option<i64> {
    v.map(|v| (v * 1000.0).round() as i64)
}

/// Each indicator's value and points of a result, in thousandths, as they travel.
fn scores(inputs: &super::runs::Inputs) -> Vec<IndicatorScore> {
    inputs
        .indicators
        .iter()
        .map(|i| IndicatorScore { code: i.code.clone(), value_milli: milli(i.value), points_milli: milli(i.points) })
        .collect()
}

/// The parts an own run's results travel in, in rank order.
pub fn parts_of(key: &Key, own: &str, run: &str, results: &[ObjectResult]) -> Vec<EvaluationItem> {
    let objects: Vec<EvaluatedObject> = results
        .iter()
        .map(|r| EvaluatedObject {
            id: r.object_id.clone(),
            code: r.object_code.clone(),
            name: r.object_name.clone(),
            region: r.region.clone(),
            score_milli: milli(r.score),
            grade: r.grade.clone(),
            rank: r.rank,
            indicators: scores(&r.inputs),
        })
        .collect();
    let chunks: Vec<&[EvaluatedObject]> =
        if objects.is_empty() { vec![&[]] } else { objects.chunks(RESULTS_PER_PART).collect() };
    let parts = chunks.len() as u32;
    chunks
        .into_iter()
        .enumerate()
        .map(|(k, chunk)| {
            EvaluationItem::Results(EvaluationResults {
                source_region: own.to_owned(),
                set: key.set.clone(),
                version: key.version,
                period: key.period.clone(),
                run: run.to_owned(),
                part: k as u32,
                parts,
                results: chunk.to_vec(),
            })
        })
        .collect()
}

/// The run of a source held here: (run id, parts, parts received, updated).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationHeldRun)]
pub struct HeldRun {
    /// The run's id at its node.
    pub run_id: String,
    /// Parts it takes.
    pub parts: i32,
    /// Parts received.
    pub parts_received: i32,
    /// When a part last arrived (UTC).
    pub updated_at: NaiveDateTime,
}

impl HeldRun {
    /// Whether every part arrived.
    pub fn complete(&self) -> bool {
        self.parts_received >= self.parts
    }
}

/// The rows of `table` of one source's run for one key (both held tables share the columns).
macro_rules! of_source {
    ($table:ident, $key:expr, $source:expr) => {
        $table::table
            .filter($table::set_code.eq($key.set.as_str()))
            .filter($table::set_version.eq($key.version))
            .filter($table::period.eq($key.period.as_str()))
            .filter($table::source_region.eq($source))
    };
}

/// The run of `source` held for `key`.
pub fn held_run(conn: &mut DbConnection, key: &Key, source: &str) -> AppResult<Option<HeldRun>> {
    let row: Option<(String, i32, i32, NaiveDateTime)> = of_source!(hru, key, source)
        .select((hru::run_id, hru::parts, hru::parts_received, hru::updated_at))
        .first(conn)
        .optional()?;
    Ok(row.map(|(run_id, parts, parts_received, updated_at)| HeldRun { run_id, parts, parts_received, updated_at }))
}

fn insert_results(conn: &mut DbConnection, key: &Key, part: &EvaluationResults) -> AppResult<()> {
    let rows: Vec<_> = part
        .results
        .iter()
        .map(|o| {
            (
                hr::set_code.eq(key.set.clone()),
                hr::set_version.eq(key.version),
                hr::period.eq(key.period.clone()),
                hr::source_region.eq(part.source_region.clone()),
                hr::object_id.eq(o.id.clone()),
                hr::object_code.eq(o.code.clone()),
                hr::object_name.eq(o.name.clone()),
                hr::region.eq(o.region.clone()),
                hr::score_milli.eq(o.score_milli),
                hr::grade.eq(o.grade.clone()),
                hr::rank.eq(o.rank),
                hr::indicators.eq(serde_json::to_string(&o.indicators).unwrap_or_default()),
            )
        })
        .collect();
    for chunk in rows.chunks(200) {
        crate::insert_rows!(conn, hr::table, chunk)?;
    }
    Ok(())
}

/// Takes one part of a run of another node; returns whether it changed anything.
pub fn receive(conn: &mut DbConnection, part: &EvaluationResults) -> AppResult<bool> {
    let key = Key { set: part.set.clone(), version: part.version, period: part.period.clone() };
    let source = part.source_region.as_str();
    let held = held_run(conn, &key, source)?;
    let now = db::now();
    let starts = part.part == 0 && held.as_ref().is_none_or(|h| h.run_id.as_str() < part.run.as_str());
    let continues = held.as_ref().is_some_and(|h| h.run_id == part.run && h.parts_received as u32 == part.part);
    if starts {
        diesel::delete(of_source!(hr, key, source)).execute(conn)?;
        diesel::delete(of_source!(hru, key, source)).execute(conn)?;
        diesel::insert_into(hru::table)
            .values((
                hru::set_code.eq(&key.set),
                hru::set_version.eq(key.version),
                hru::period.eq(&key.period),
                hru::source_region.eq(source),
                hru::run_id.eq(&part.run),
                hru::parts.eq(part.parts as i32),
                hru::parts_received.eq(1),
                hru::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else if continues {
        diesel::update(of_source!(hru, key, source))
            .set((hru::parts_received.eq(hru::parts_received + 1), hru::updated_at.eq(now)))
            .execute(conn)?;
    } else {
        return Ok(false);
    }
    insert_results(conn, &key, part)?;
    Ok(true)
}

/// One held result.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = EvaluationHeldResult)]
pub struct HeldResult {
    /// The object's id at its node.
    pub object_id: String,
    /// Its code.
    pub object_code: String,
    /// Its name.
    pub object_name: String,
    /// Its region.
    pub region: String,
    /// Composite score (absent: 无数据).
    pub score: Option<f64>,
    /// Grade code.
    pub grade: String,
    /// Grade, in Chinese.
    pub grade_zh: String,
    /// Rank at its node.
    pub rank: Option<i64>,
    /// Each indicator's value and points, thousandths.
    #[schema(value_type = Vec<Object>)]
    pub indicators: Vec<IndicatorScore>,
}

type ResultRow = (String, String, String, String, Option<i64>, String, Option<i64>, String);

/// The held results of `source`'s run for `key`, ranked (unscored last), a page of
/// [`PAGE`] from `page` (1 on), or up to [`MAX_EXPORT`] with `page` 0.
pub fn results(conn: &mut DbConnection, key: &Key, source: &str, page: i64) -> AppResult<Vec<HeldResult>> {
    let (offset, limit) = if page == 0 { (0, MAX_EXPORT) } else { ((page.max(1) - 1) * PAGE, PAGE) };
    let rows: Vec<ResultRow> = of_source!(hr, key, source)
        .order((hr::rank.is_null(), hr::rank, hr::object_code))
        .offset(offset)
        .limit(limit)
        .select((
            hr::object_id,
            hr::object_code,
            hr::object_name,
            hr::region,
            hr::score_milli,
            hr::grade,
            hr::rank,
            hr::indicators,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(object_id, object_code, object_name, region, score, grade, rank, indicators)| {
            Ok(HeldResult {
                object_id,
                object_code,
                object_name,
                region,
                score: score.map(|m| m as f64 / 1000.0),
                grade_zh: Grade::label_zh_of(&grade).to_owned(),
                grade,
                rank,
                indicators: serde_json::from_str(&indicators).map_err(AppError::internal)?,
            })
        })
        .collect()
}

fn of_own(r: ObjectResult) -> HeldResult {
    HeldResult {
        indicators: scores(&r.inputs),
        object_id: r.object_id,
        object_code: r.object_code,
        object_name: r.object_name,
        region: r.region,
        score: r.score,
        grade: r.grade,
        grade_zh: r.grade_zh,
        rank: r.rank,
    }
}

/// The results of `region`'s own objects for `key`: this node's current run when `region` is
/// its own (`own`), else the run held here; a page as [`results`] takes it.
pub fn of_region(conn: &mut DbConnection, own: &str, key: &Key, region: &str, page: i64) -> AppResult<Vec<HeldResult>> {
    use crate::db::schema::evaluation_runs as ev;
    if region != own {
        return results(conn, key, region, page);
    }
    let run: Option<String> = ev::table
        .filter(ev::set_code.eq(&key.set))
        .filter(ev::set_version.eq(key.version))
        .filter(ev::period.eq(&key.period))
        .filter(ev::status.eq(super::runs::RunStatus::Current.as_str()))
        .select(ev::id)
        .first(conn)
        .optional()?;
    let Some(run) = run else { return Ok(Vec::new()) };
    let found = if page == 0 {
        super::report::all_results(conn, &run, None)?
    } else {
        let q = super::runs::ResultQuery { page: Some(page), ..Default::default() };
        super::runs::results(conn, &run, &q, None)?
    };
    Ok(found.into_iter().map(of_own).collect())
}

/// The results of a region's own objects as CSV (UTF-8 with a byte order mark, for Excel):
/// at most [`MAX_EXPORT`] rows.
pub fn csv(results: &[HeldResult], key: &Key) -> AppResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let fail = |e: csv::Error| AppError::internal(e.to_string());
    out.write_record(["指标体系", "版本", "评价期", "排名", "代码", "名称", "地区", "综合得分", "等级"])
        .map_err(fail)?;
    for r in results {
        out.write_record([
            key.set.clone(),
            key.version.to_string(),
            key.period.clone(),
            r.rank.map(|k| k.to_string()).unwrap_or_default(),
            r.object_code.clone(),
            r.object_name.clone(),
            r.region.clone(),
            r.score.map(|s| format!("{s:.3}")).unwrap_or_default(),
            r.grade_zh.clone(),
        ])
        .map_err(fail)?;
    }
    out.into_inner().map_err(|e| AppError::internal(e.to_string()))
}
