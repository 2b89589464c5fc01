//! The children of a node (下级节点): the nodes it signed a CA certificate for, with what
//! they sent and when. Only an enrolled, active child's batches are taken.

use diesel::prelude::*;
use serde::Serialize;

use crate::config::Tier;
use crate::db::schema::{federation_children as fc, federation_cursors, federation_incoming as fi};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::pki::registry::ChildStatus;
use crate::region::{RegionCode, RegionLevel};

/// One child.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = fc)]
pub struct ChildNode {
    /// Its region.
    pub region: String,
    /// Its tier.
    pub tier: String,
    /// Its name (the region's name unless told otherwise).
    pub name: String,
    /// The fingerprint of the key its CA certificate was signed for.
    pub fingerprint: String,
    /// `active` or `revoked`.
    pub status: String,
    /// `file` or `network`.
    pub enrolled_via: String,
    /// When it was enrolled (UTC).
    pub enrolled_at: chrono::NaiveDateTime,
    /// When its CA certificate expires (UTC).
    pub ca_not_after: Option<chrono::NaiveDateTime>,
    /// When it last sent anything (UTC).
    pub last_contact_at: Option<chrono::NaiveDateTime>,
    /// The last refusal of its batches.
    pub last_error: Option<String>,
    /// When that was (UTC).
    pub last_error_at: Option<chrono::NaiveDateTime>,
}

impl ChildNode {
    /// Whether its batches are taken (its CA is not revoked).
    pub fn is_active(&self) -> bool {
        ChildStatus::parse(&self.status) == Some(ChildStatus::Active)
    }
}

/// The tier a region of this level is served by.
pub fn tier_of(region: &RegionCode) -> Tier {
    match region.level() {
        RegionLevel::Province => Tier::Province,
        RegionLevel::City => Tier::City,
        RegionLevel::County => Tier::County,
        RegionLevel::National => Tier::National,
    }
}

/// Records (or renews) a child this node has signed a CA certificate for.
pub fn enrol(
    conn: &mut DbConnection,
    region: &RegionCode,
    fingerprint: &str,
    via: &str,
    ca_not_after: Option<chrono::NaiveDateTime>,
) -> AppResult<()> {
    let now = db::now();
    diesel::delete(fc::table.find(region.as_str())).execute(conn)?;
    // A list of the child's former CA would not verify under the new one.
    super::kinds::revocations::forget(conn, region.as_str())?;
    diesel::insert_into(fc::table)
        .values((
            fc::region.eq(region.as_str()),
            fc::tier.eq(tier_of(region).as_str()),
            fc::name.eq(region.name()),
            fc::fingerprint.eq(fingerprint),
            fc::status.eq(ChildStatus::Active.as_str()),
            fc::enrolled_via.eq(via),
            fc::enrolled_at.eq(now),
            fc::ca_not_after.eq(ca_not_after),
        ))
        .execute(conn)?;
    Ok(())
}

/// Signs a child's request into its bundle in `out`, enters its CA certificate in the
/// register and the child among this node's children; audited.
pub fn sign_and_enrol(
    conn: &mut DbConnection,
    pki: &crate::pki::NodePki,
    ctx: &crate::audit::AuditContext,
    request_pem: &[u8],
    out: &std::path::Path,
    via: &str,
) -> AppResult<crate::pki::Signed> {
    let signed = pki.sign(request_pem, out)?;
    let region = RegionCode::parse(signed.identity.region())?;
    let not_after = crate::pki::registry::time_of(signed.certificate.not_after())?;
    crate::pki::registry::record(conn, &signed.certificate, crate::pki::registry::kind::CHILD_CA, None, &ctx.actor)?;
    enrol(conn, &region, &signed.fingerprint, via, Some(not_after))?;
    crate::audit::record(
        conn,
        ctx,
        "pki.sign_child",
        &signed.identity.uri(),
        crate::audit::Outcome::Success,
        serde_json::json!({ "fingerprint": signed.fingerprint, "via": via }),
    )?;
    Ok(signed)
}

/// Enrols the node of `child` under the node of `parent` (its database `parent_db`) by file
/// on one machine: the child's request, the parent's signature and enrolment, the child's
/// installation — what operators do with `tracenode pki request | sign | install`, for the
/// demo and for tests.
pub fn enrol_on_one_machine(
    parent: &crate::config::Config,
    parent_db: &crate::db::Db,
    child: &crate::config::Config,
) -> AppResult<()> {
    let child = crate::pki::NodePki::of(child);
    let (request, _) = child.request()?;
    let out = std::env::temp_dir().join(format!("tracenode-bundle-{}", uuid::Uuid::new_v4().simple()));
    let pki = crate::pki::NodePki::of(parent);
    let ctx = crate::audit::AuditContext::cli();
    let signed = parent_db.transaction_sync(|conn| sign_and_enrol(conn, &pki, &ctx, &request, &out, "file"));
    let installed = signed.and_then(|_| child.install(&out).map(|_| ()));
    let _ = std::fs::remove_dir_all(&out);
    installed
}

/// The active child of `region`, or `unknown_sender`.
pub fn active(conn: &mut DbConnection, region: &str) -> AppResult<ChildNode> {
    let child: Option<ChildNode> = fc::table.find(region).select(ChildNode::as_select()).first(conn).optional()?;
    match child {
        Some(c) if c.is_active() => Ok(c),
        Some(_) => Err(AppError::with_detail(
            ErrorKind::UnknownSender,
            format!("下级节点 {region} 已被停用"),
            format!("child {region} has been revoked"),
        )),
        None => Err(AppError::with_detail(
            ErrorKind::UnknownSender,
            format!("{region} 不是本节点已登记的下级节点"),
            format!("{region} is not an enrolled child of this node"),
        )),
    }
}

/// Every child.
pub fn list(conn: &mut DbConnection) -> AppResult<Vec<ChildNode>> {
    Ok(fc::table.order(fc::region.asc()).select(ChildNode::as_select()).load(conn)?)
}

/// Marks a contact from `region`.
pub fn touch(conn: &mut DbConnection, region: &str) -> AppResult<()> {
    diesel::update(fc::table.find(region)).set(fc::last_contact_at.eq(Some(db::now()))).execute(conn)?;
    Ok(())
}

/// Notes a refusal of `region`'s batch.
pub fn note_refusal(conn: &mut DbConnection, region: &str, message: &str) -> AppResult<()> {
    let now = db::now();
    diesel::update(fc::table.find(region))
        .set((fc::last_contact_at.eq(Some(now)), fc::last_error.eq(Some(message)), fc::last_error_at.eq(Some(now))))
        .execute(conn)?;
    Ok(())
}

/// What a parent knows of one child's traffic.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChildTraffic {
    /// The child.
    #[serde(flatten)]
    pub child: ChildNode,
    /// Batches applied.
    pub applied: i64,
    /// Batches refused.
    pub refused: i64,
    /// Resends of batches already applied.
    pub duplicates: i64,
    /// The last batch applied per kind.
    pub cursors: Vec<(String, i64)>,
    /// Minutes since its last contact.
    pub minutes_since_contact: Option<i64>,
}

/// Every child with its traffic.
pub fn traffic(conn: &mut DbConnection) -> AppResult<Vec<ChildTraffic>> {
    let now = db::now();
    let mut out = Vec::new();
    for child in list(conn)? {
        let count = |conn: &mut DbConnection, outcome: &str| -> AppResult<i64> {
            Ok(fi::table
                .filter(fi::child_region.eq(&child.region))
                .filter(fi::outcome.eq(outcome))
                .count()
                .get_result(conn)?)
        };
        let applied = count(conn, "applied")?;
        let refused = count(conn, "refused")?;
        let duplicates = count(conn, "duplicate")?;
        let cursors = federation_cursors::table
            .filter(federation_cursors::child_region.eq(&child.region))
            .select((federation_cursors::kind, federation_cursors::batch_no))
            .order(federation_cursors::kind.asc())
            .load(conn)?;
        let minutes_since_contact = child.last_contact_at.map(|t| (now - t).num_minutes());
        out.push(ChildTraffic { child, applied, refused, duplicates, cursors, minutes_since_contact });
    }
    Ok(out)
}
