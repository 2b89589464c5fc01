//! Duplicate claims across nodes (跨辖区重复登记): a unified social credit code this node
//! registered that another node registered too. The node where the two registrations meet
//! (their lowest common ancestor) finds it and sends a notice down to each node that holds the
//! code; here the notice becomes a claim for this node's reviewers, who either keep the
//! registration (it is the right one: the other side must withdraw) or withdraw it. A
//! withdrawal writes a new version of the entity, rejected with the reviewer's reason, and
//! sends it up marked withdrawn, so every node above stops holding it and the duplicate
//! clears where it was found. Each decision is audited; a claim is decided once, and the same
//! code announced again with other holders opens it again.

pub mod api;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{duplicate_claims as dc, entities};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::ids::{DuplicateClaimId, TenantId};
use crate::registry::review::{ReviewStatus, Reviewed};

crate::text_status! {
    /// Where a claim stands.
    pub enum ClaimStatus {
        /// Waiting for this node's reviewers.
        Open = "open" / "待核实",
        /// This node's registration is the right one and stays.
        Kept = "kept" / "已确认保留",
        /// This node's registration was withdrawn.
        Withdrawn = "withdrawn" / "已撤销本级登记",
    }
}

/// Where a code is registered, as the node that found the duplicate listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimHolder {
    /// The region of the node it is registered at.
    pub region: String,
    /// The entity's name there.
    pub name: String,
}

/// A claim as the announcing node sent it.
#[derive(Debug, Clone)]
pub struct Announced {
    /// The code.
    pub code: String,
    /// The region of the node that found it.
    pub found_at: String,
    /// Every registration of it that node knows.
    pub holders: Vec<ClaimHolder>,
}

/// A duplicate claim.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = dc)]
pub struct Claim {
    /// Id.
    pub id: DuplicateClaimId,
    /// The unified social credit code.
    pub code: String,
    /// The region of the node that found it.
    pub found_at: String,
    /// The registrations it found (JSON list of [`ClaimHolder`]).
    #[serde(skip)]
    pub holders: String,
    /// `open`, `kept` or `withdrawn`.
    pub status: String,
    /// The reviewer's reason.
    pub reason: String,
    /// When the notice arrived (UTC).
    pub received_at: chrono::NaiveDateTime,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (UTC).
    pub decided_at: Option<chrono::NaiveDateTime>,
}

/// A claim with what this node registered under its code.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClaimView {
    /// The claim.
    #[serde(flatten)]
    pub claim: Claim,
    /// The registrations the announcing node listed.
    pub holders: Vec<ClaimHolder>,
    /// This node's entity with the code (id, name, tenant), if it still has one.
    pub entity: Option<LocalEntity>,
}

/// This node's registration of a claimed code.
#[derive(Debug, Clone, Serialize, Queryable, utoipa::ToSchema)]
pub struct LocalEntity {
    /// Entity id.
    pub id: crate::ids::EntityId,
    /// Name.
    pub name: String,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Review status.
    pub status: String,
}

/// The most claims one page lists.
pub const MAX_PAGE: i64 = 200;
/// The most holders a claim keeps.
const MAX_HOLDERS: usize = 16;

/// Takes an announced duplicate: a claim for this node's reviewers when this node registered
/// the code; reopened when it comes again with other holders; nothing otherwise. Returns what
/// became of it, for the received message's record.
pub fn receive(conn: &mut DbConnection, announced: &Announced) -> AppResult<String> {
    let code = announced.code.trim();
    if code.is_empty() || code.chars().count() > 64 || announced.found_at.chars().count() > 12 {
        return Err(AppError::invalid("duplicate", "重复登记通知不完整", "the duplicate notice is malformed"));
    }
    let registered: i64 = entities::table.filter(entities::code.eq(code)).count().get_result(conn)?;
    if registered == 0 {
        return Ok(format!("duplicate {code}: not registered here"));
    }
    let holders: Vec<&ClaimHolder> = announced.holders.iter().take(MAX_HOLDERS).collect();
    let holders = serde_json::to_string(&holders).map_err(AppError::internal)?;
    let held: Option<(DuplicateClaimId, String)> = dc::table
        .filter(dc::code.eq(code))
        .filter(dc::found_at.eq(&announced.found_at))
        .select((dc::id, dc::holders))
        .first(conn)
        .optional()?;
    let now = crate::db::now();
    match held {
        Some((_, same)) if same == holders => Ok(format!("duplicate {code}: already claimed")),
        Some((id, _)) => {
            diesel::update(dc::table.find(&id))
                .set((
                    dc::holders.eq(&holders),
                    dc::status.eq(ClaimStatus::Open.as_str()),
                    dc::received_at.eq(now),
                    dc::decided_by.eq(None::<String>),
                    dc::decided_at.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(conn)?;
            Ok(format!("duplicate {code}: claim reopened"))
        }
        None => {
            diesel::insert_into(dc::table)
                .values((
                    dc::id.eq(DuplicateClaimId::generate()),
                    dc::code.eq(code),
                    dc::found_at.eq(&announced.found_at),
                    dc::holders.eq(&holders),
                    dc::status.eq(ClaimStatus::Open.as_str()),
                    dc::reason.eq(""),
                    dc::received_at.eq(now),
                ))
                .execute(conn)?;
            Ok(format!("duplicate {code}: claim opened for review"))
        }
    }
}

/// Claims, open ones first and newest first, a page at a time, with the total; `tenant`
/// limits them to codes that tenant registered.
pub fn list(
    conn: &mut DbConnection,
    status: Option<ClaimStatus>,
    tenant: Option<&TenantId>,
    page: i64,
    page_size: i64,
) -> AppResult<(i64, Vec<ClaimView>)> {
    let filtered = || {
        let mut q = dc::table.into_boxed::<crate::db::MultiBackend>();
        if let Some(s) = status {
            q = q.filter(dc::status.eq(s.as_str()));
        }
        if let Some(t) = tenant {
            let codes = entities::table.filter(entities::tenant_id.eq(t.as_str())).select(entities::code);
            q = q.filter(dc::code.eq_any(codes));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let claims: Vec<Claim> = filtered()
        .order((dc::status.eq(ClaimStatus::Open.as_str()).desc(), dc::received_at.desc(), dc::id))
        .limit(page_size.clamp(1, MAX_PAGE))
        .offset((page.max(1) - 1).saturating_mul(page_size))
        .select(Claim::as_select())
        .load(conn)?;
    let views = claims.into_iter().map(|c| view(conn, c)).collect::<AppResult<Vec<_>>>()?;
    Ok((total, views))
}

/// The claim with `id`.
pub fn get(conn: &mut DbConnection, id: &DuplicateClaimId) -> AppResult<ClaimView> {
    let claim = dc::table
        .find(id)
        .select(Claim::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("重复登记核实事项", "duplicate claim"))?;
    view(conn, claim)
}

fn view(conn: &mut DbConnection, claim: Claim) -> AppResult<ClaimView> {
    let holders = serde_json::from_str(&claim.holders).unwrap_or_default();
    let entity = entities::table
        .filter(entities::code.eq(&claim.code))
        .order(entities::tenant_id)
        .select((entities::id, entities::name, entities::tenant_id, entities::status))
        .first(conn)
        .optional()?;
    Ok(ClaimView { claim, holders, entity })
}

/// A reviewer's decision on a claim.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimDecision {
    /// `keep` (this node's registration is the right one) or `withdraw` (withdraw it).
    pub decision: String,
    /// Why; required, at most 200 characters.
    pub reason: String,
}

/// Decides an open claim, in the caller's transaction, with an audit row; a withdrawal
/// rejects this node's registration in a new version and sends the withdrawal up.
pub fn decide(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    id: &DuplicateClaimId,
    d: &ClaimDecision,
) -> AppResult<ClaimView> {
    let status = match d.decision.trim() {
        "keep" => ClaimStatus::Kept,
        "withdraw" => ClaimStatus::Withdrawn,
        _ => {
            return Err(AppError::invalid(
                "decision",
                "处理方式只能是 keep 或 withdraw",
                "decision must be keep or withdraw",
            ))
        }
    };
    let reason = d.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::invalid(
            "reason",
            "请填写理由（至多200个字符）",
            "give a reason of at most 200 characters",
        ));
    }
    let current = get(conn, id)?;
    if current.claim.status != ClaimStatus::Open.as_str() {
        return Err(AppError::conflict("该重复登记已处理", "the claim was decided already"));
    }
    if status == ClaimStatus::Withdrawn {
        withdraw(conn, ctx, &current.claim.code, reason)?;
    }
    diesel::update(dc::table.find(id))
        .set((
            dc::status.eq(status.as_str()),
            dc::reason.eq(reason),
            dc::decided_by.eq(Some(&ctx.actor)),
            dc::decided_at.eq(Some(crate::db::now())),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        &format!("duplicate_claim.{}", if status == ClaimStatus::Kept { "keep" } else { "withdraw" }),
        &format!("entity:{}", current.claim.code),
        Outcome::Success,
        serde_json::json!({"claim": id, "found_at": current.claim.found_at, "reason": reason}),
    )?;
    get(conn, id)
}

/// Withdraws this node's registrations of `code`: each becomes a new, rejected version, and
/// an approved one is sent up as withdrawn.
fn withdraw(conn: &mut DbConnection, ctx: &AuditContext, code: &str, reason: &str) -> AppResult<()> {
    use crate::registry::model::EntityRow;
    let ids: Vec<crate::ids::EntityId> =
        entities::table.filter(entities::code.eq(code)).select(entities::id).limit(16).load(conn)?;
    let why = format!("跨辖区重复登记，已撤销：{reason}");
    for id in ids {
        let row = EntityRow::load(conn, &id)?;
        let was_approved = row.status == ReviewStatus::Approved.as_str();
        let tenant = row.tenant_id.clone();
        let next = EntityRow::write_version(
            conn,
            &ctx.actor,
            &row,
            &row.data(),
            ReviewStatus::Rejected.as_str(),
            &tenant,
            &why,
        )?;
        EntityRow::set_status(conn, &id, ReviewStatus::Rejected.as_str(), &why)?;
        if was_approved {
            crate::registry::outbox::append_withdrawal(
                conn,
                EntityRow::KIND,
                id.as_str(),
                tenant.as_str(),
                next.version,
                &next.data(),
            )?;
        }
    }
    Ok(())
}
