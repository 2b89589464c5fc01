//! The indicator sets a node keeps, by code and version. Saving a set adds a version (the
//! first is 1); a version, once a run used it or not, is never rewritten, so every result
//! can be explained by the version it names. Each save is an audit row.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::set::SetInput;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::evaluation_sets as es;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};

/// A stored version of a set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = EvaluationSet)]
pub struct Set {
    /// Code.
    pub code: String,
    /// Version, from 1.
    pub version: i32,
    /// The definition.
    pub definition: SetInput,
    /// Who saved it.
    pub created_by: String,
    /// When (UTC).
    pub created_at: NaiveDateTime,
}

type Row = (String, i32, String, String, NaiveDateTime);

fn of_row((code, version, definition, created_by, created_at): Row) -> AppResult<Set> {
    let definition = serde_json::from_str(&definition).map_err(|e| AppError::internal(e.to_string()))?;
    Ok(Set { code, version, definition, created_by, created_at })
}

/// Checks and saves `input` as the set's next version.
pub fn save(conn: &mut DbConnection, ctx: &AuditContext, input: &SetInput) -> AppResult<Set> {
    input.check()?;
    let last: Option<i32> =
        es::table.filter(es::code.eq(&input.code)).select(diesel::dsl::max(es::version)).first(conn)?;
    let version = last.unwrap_or(0) + 1;
    let now = crate::db::now();
    let definition = serde_json::to_string(input).map_err(|e| AppError::internal(e.to_string()))?;
    diesel::insert_into(es::table)
        .values((
            es::code.eq(&input.code),
            es::version.eq(version),
            es::name.eq(input.name.trim()),
            es::frequency.eq(input.frequency.as_str()),
            es::object_kind.eq(input.object_kind.as_str()),
            es::stage.eq(&input.stage),
            es::definition.eq(&definition),
            es::created_by.eq(&ctx.actor),
            es::created_at.eq(now),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "evaluation.set.save",
        &format!("evaluation_set:{}/{version}", input.code),
        Outcome::Success,
        serde_json::json!({"code": input.code, "version": version, "definition": input}),
    )?;
    Ok(Set {
        code: input.code.clone(),
        version,
        definition: input.clone(),
        created_by: ctx.actor.clone(),
        created_at: now,
    })
}

/// The latest version of every set, by code.
pub fn latest(conn: &mut DbConnection) -> AppResult<Vec<Set>> {
    let rows: Vec<Row> = es::table
        .order((es::code, es::version.desc()))
        .select((es::code, es::version, es::definition, es::created_by, es::created_at))
        .load(conn)?;
    let mut out: Vec<Set> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|s| s.code != r.0) {
            out.push(of_row(r)?);
        }
    }
    Ok(out)
}

/// One version of a set (`None`: the latest).
pub fn get(conn: &mut DbConnection, code: &str, version: Option<i32>) -> AppResult<Set> {
    let mut q = es::table.filter(es::code.eq(code)).into_boxed();
    if let Some(v) = version {
        q = q.filter(es::version.eq(v));
    }
    let row: Option<Row> = q
        .order(es::version.desc())
        .select((es::code, es::version, es::definition, es::created_by, es::created_at))
        .first(conn)
        .optional()?;
    of_row(row.ok_or_else(|| AppError::new(ErrorKind::NotFound))?)
}
