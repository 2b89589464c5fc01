//! The indicator sets a node keeps, by code and version. Saving a set adds a version (the
//! first is 1); a version, once a run used it or not, is never rewritten, so every result
//! can be explained by the version it names. Each save is an audit row.
//!
//! A version saved here goes down the mailbox to every node below ([`super::tiers`]), which
//! keeps it with its origin and may not change it: so every tier evaluates alike, and a
//! parent knows every version its children's results name.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::set::SetInput;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::evaluation_sets as es;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};

/// A stored version of a set.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The region of the node above that defined it; empty: this node's own.
    #[serde(default)]
    pub origin: String,
}

impl Set {
    /// Whether this node defined it (its results stay here; those of a set from above go up).
    pub fn is_own(&self) -> bool {
        self.origin.is_empty()
    }
}

type Row = (String, i32, String, String, NaiveDateTime, String);

fn of_row((code, version, definition, created_by, created_at, origin): Row) -> AppResult<Set> {
    let definition = serde_json::from_str(&definition).map_err(|e| AppError::internal(e.to_string()))?;
    Ok(Set { code, version, definition, created_by, created_at, origin })
}

fn columns() -> (es::code, es::version, es::definition, es::created_by, es::created_at, es::origin) {
    (es::code, es::version, es::definition, es::created_by, es::created_at, es::origin)
}

/// The origin of the set `code`, when any version of it is kept here.
fn origin_of(conn: &mut DbConnection, code: &str) -> AppResult<Option<String>> {
    Ok(es::table.filter(es::code.eq(code)).select(es::origin).first(conn).optional()?)
}

/// Checks and saves `input` as the set's next version, and sends it down to the nodes below.
pub fn save(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    input: &SetInput,
    tiers: Option<&dyn super::tiers::Tiers>,
) -> AppResult<Set> {
    input.check()?;
    if let Some(origin) = origin_of(conn, &input.code)?.filter(|o| !o.is_empty()) {
        return Err(AppError::conflict(
            format!("指标体系 {} 由上级节点（{origin}）制定，本级不能修改", input.code),
            format!("set {} was defined above (at {origin}); it cannot be changed here", input.code),
        ));
    }
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
    let set = Set {
        code: input.code.clone(),
        version,
        definition: input.clone(),
        created_by: ctx.actor.clone(),
        created_at: now,
        origin: String::new(),
    };
    if let Some(t) = tiers {
        t.send_down(conn, &set)?;
    }
    Ok(set)
}

/// Keeps a set version defined above (`origin`), as it came down the mailbox; returns what
/// it did, for the mailbox's record. A version kept already is left as it is; a code this
/// node uses for a set of its own is refused (the message is recorded as failed).
pub fn receive(conn: &mut DbConnection, origin: &str, set: &Set) -> AppResult<String> {
    set.definition.check()?;
    if origin_of(conn, &set.code)?.is_some_and(|o| o != origin) {
        return Err(AppError::conflict(
            format!("本节点已有代码为 {} 的指标体系，不能接收上级（{origin}）的同名指标体系", set.code),
            format!("set code {} is taken here; the set from {origin} cannot be kept", set.code),
        ));
    }
    let held: i64 =
        es::table.filter(es::code.eq(&set.code)).filter(es::version.eq(set.version)).count().get_result(conn)?;
    if held > 0 {
        return Ok(format!("set {} version {} kept already", set.code, set.version));
    }
    let definition = serde_json::to_string(&set.definition).map_err(|e| AppError::internal(e.to_string()))?;
    let d = &set.definition;
    diesel::insert_into(es::table)
        .values((
            es::code.eq(&set.code),
            es::version.eq(set.version),
            es::name.eq(d.name.trim()),
            es::frequency.eq(d.frequency.as_str()),
            es::object_kind.eq(d.object_kind.as_str()),
            es::stage.eq(&d.stage),
            es::definition.eq(&definition),
            es::created_by.eq(&set.created_by),
            es::created_at.eq(set.created_at),
            es::origin.eq(origin),
        ))
        .execute(conn)?;
    Ok(format!("set {} version {} from {origin}", set.code, set.version))
}

/// The latest version of every set, by code.
pub fn latest(conn: &mut DbConnection) -> AppResult<Vec<Set>> {
    let rows: Vec<Row> = es::table.order((es::code, es::version.desc())).select(columns()).load(conn)?;
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
    let row: Option<Row> = q.order(es::version.desc()).select(columns()).first(conn).optional()?;
    of_row(row.ok_or_else(|| AppError::new(ErrorKind::NotFound))?)
}
