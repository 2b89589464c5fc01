//! Whether a run's results are still what the run stored. The run's audit row carries the
//! SHA-256 of everything its results rest on — the run's totals and, object by object in id
//! order, score, grade, rank and inputs as stored — and the audit chain is hash-linked and
//! anchored outside the database, so a score, grade or input rewritten in the database (even
//! with every other table made to agree) no longer hashes to what the chain holds.

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{audit_log as al, evaluation_results as er, evaluation_runs as ev};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};

/// Results hashed per read.
const CHUNK: i64 = 10_000;

/// A stored result as it is hashed: object, score, grade, rank, inputs.
type Stored = (String, Option<i64>, String, Option<i64>, String);

/// The digest of a run as it is stored.
pub struct Hasher(Sha256);

impl Hasher {
    /// Starts with the run's own row: set, version, period and what its objects came to.
    pub fn of_run(id: &str, set: &str, version: i32, period: &str, objects: i64, grades: &str, basis: &str) -> Hasher {
        let mut h = Sha256::new();
        h.update(format!("{id}|{set}|{version}|{period}|{objects}|{grades}|{basis}\n").as_bytes());
        Hasher(h)
    }

    /// Adds one result (callers add them in object id order).
    pub fn result(&mut self, object: &str, score: Option<i64>, grade: &str, rank: Option<i64>, inputs: &str) {
        let (s, r) =
            (score.map(|v| v.to_string()).unwrap_or_default(), rank.map(|v| v.to_string()).unwrap_or_default());
        self.0.update(format!("{object}|{s}|{grade}|{r}|{inputs}\n").as_bytes());
    }

    /// The digest, hex.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// What a check of a run found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationIntegrity)]
pub struct Integrity {
    /// The run.
    pub run_id: String,
    /// Whether its results hash to the digest its audit row carries.
    pub intact: bool,
    /// The digest the audit row carries (absent: no audit row names one).
    pub recorded: Option<String>,
    /// The digest of the results as stored now.
    pub computed: String,
}

/// The digest of run `id` as it is stored now.
fn computed(conn: &mut DbConnection, id: &str) -> AppResult<String> {
    let run: Option<(String, i32, String, i64, String, String)> = ev::table
        .find(id)
        .select((ev::set_code, ev::set_version, ev::period, ev::objects, ev::grades, ev::basis))
        .first(conn)
        .optional()?;
    let (set, version, period, objects, grades, basis) = run.ok_or_else(|| AppError::new(ErrorKind::NotFound))?;
    let mut h = Hasher::of_run(id, &set, version, &period, objects, &grades, &basis);
    let mut after = String::new();
    loop {
        let rows: Vec<Stored> = er::table
            .filter(er::run_id.eq(id))
            .filter(er::object_id.gt(&after))
            .order(er::object_id)
            .limit(CHUNK)
            .select((er::object_id, er::score_milli, er::grade, er::rank, er::inputs))
            .load(conn)?;
        let Some(last) = rows.last() else { break };
        after = last.0.clone();
        for (object, score, grade, rank, inputs) in &rows {
            h.result(object, *score, grade, *rank, inputs);
        }
    }
    Ok(h.finish())
}

/// Checks run `id` against its audit row; a run found changed is an audit row of failure.
pub fn verify(conn: &mut DbConnection, ctx: &AuditContext, id: &str) -> AppResult<Integrity> {
    let computed = computed(conn, id)?;
    let detail: Option<String> = al::table
        .filter(al::object.eq(format!("evaluation_run:{id}")))
        .filter(al::action.eq("evaluation.run"))
        .order(al::seq.desc())
        .select(al::detail)
        .first(conn)
        .optional()?;
    let recorded = detail
        .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
        .and_then(|d| d["digest"].as_str().map(str::to_owned));
    let intact = recorded.as_deref() == Some(computed.as_str());
    let outcome = if intact { Outcome::Success } else { Outcome::Failure };
    let found = serde_json::json!({"intact": intact, "recorded": recorded, "computed": computed});
    audit::record(conn, ctx, "evaluation.verify", &format!("evaluation_run:{id}"), outcome, found)?;
    Ok(Integrity { run_id: id.to_owned(), intact, recorded, computed })
}
