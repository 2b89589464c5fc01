//! `revocation-lists`: the node's newest revocation list goes up to its parent, which keeps
//! it and trusts it from its next reload. A parent then refuses a certificate its child
//! revoked — the child's old client certificate after a key was lost, say — where before it
//! knew only the lists of its own CA and of the CAs above. A list is taken only when it was
//! issued by the CA that issued the certificate the batch came with, and that CA is the
//! child's; the parent keeps the newest list of each child and passes nothing on.

use diesel::prelude::*;
use tracenode_federation::tiers;
use tracenode_federation::wire::payload::RevocationList;
use tracenode_federation::wire::{Kind, Payload, Refusal};

use super::{Child, Collected, Settle};
use crate::db::schema::{child_revocation_lists as crl, crl_published};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};

/// Its name.
pub const NAME: &str = Kind::RevocationLists.as_str();

fn refused(region: &str, why: impl std::fmt::Display) -> AppError {
    Refusal::BadRevocationList { child: region.to_owned(), why: why.to_string() }.into()
}

/// This node's newest list, when it is newer than number `from`.
pub fn collect(conn: &mut DbConnection, from: i64) -> AppResult<Option<Collected>> {
    let newest: Option<(i64, Option<String>)> = crl_published::table
        .order(crl_published::number.desc())
        .select((crl_published::number, crl_published::pem))
        .first(conn)
        .optional()?;
    let Some((number, Some(pem))) = newest.filter(|(n, _)| *n > from) else { return Ok(None) };
    let payload = Payload::RevocationLists(vec![RevocationList { number, pem }]);
    Ok(Some(Collected { payload, seqs: None, collected_through: number, more: false, settle: Settle::Nothing }))
}

/// Keeps the child's newest list, when it verifies against the child's CA.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, lists: Vec<RevocationList>) -> AppResult<i64> {
    let region = child.region;
    let authority = child
        .authority
        .filter(|ca| tiers::identity_of(ca).is_ok_and(|id| id.region() == region))
        .ok_or_else(|| refused(region, "the sender's CA is not known / 未知发送方的证书机构"))?;
    let mut stored = 0;
    for list in lists {
        tracenode_federation::crl::read(list.pem.as_bytes(), authority).map_err(|e| refused(region, e))?;
        let kept: Option<i64> = crl::table.find(region).select(crl::number).first(conn).optional()?;
        if kept.is_some_and(|k| k >= list.number) {
            continue;
        }
        diesel::delete(crl::table.find(region)).execute(conn)?;
        diesel::insert_into(crl::table)
            .values((
                crl::child_region.eq(region),
                crl::number.eq(list.number),
                crl::pem.eq(&list.pem),
                crl::received_at.eq(db::now()),
            ))
            .execute(conn)?;
        stored += 1;
    }
    Ok(stored)
}

/// Whether this node published a list its parent has not been sent yet (one a reload may
/// have missed while the list's transaction was still open).
pub fn waiting(conn: &mut DbConnection) -> AppResult<bool> {
    use crate::db::schema::federation_uplink as fu;
    let newest: Option<i64> = crl_published::table.select(diesel::dsl::max(crl_published::number)).first(conn)?;
    let sent: Option<i64> = fu::table.find(NAME).select(fu::collected_through).first(conn).optional()?;
    Ok(newest.is_some_and(|n| n > sent.unwrap_or(0)))
}

/// Whether a list (PEM) is past its next update, or unreadable.
pub fn lapsed(pem: &[u8]) -> bool {
    let Ok(list) = openssl::x509::X509Crl::from_pem(pem) else { return true };
    let (Some(next), Ok(now)) = (list.next_update(), openssl::asn1::Asn1Time::days_from_now(0)) else { return true };
    now.diff(next).map(|d| d.days < 0 || (d.days == 0 && d.secs <= 0)).unwrap_or(true)
}

/// Whether the child's newest list, issued by `authority` (its CA), names the certificate
/// of serial `serial` (hex). A list from an earlier CA of the child says nothing of this one.
pub fn revoked_by_child(
    conn: &mut DbConnection,
    region: &str,
    authority: &openssl::x509::X509,
    serial: &str,
) -> AppResult<bool> {
    let kept: Option<String> = crl::table.find(region).select(crl::pem).first(conn).optional()?;
    let Some(pem) = kept else { return Ok(false) };
    let Ok(serials) = tracenode_federation::crl::read(pem.as_bytes(), authority) else { return Ok(false) };
    Ok(serials.iter().any(|s| hex::encode(s) == serial))
}

/// Forgets a child's list (the child enrolled again, with a new CA).
pub fn forget(conn: &mut DbConnection, region: &str) -> AppResult<()> {
    diesel::delete(crl::table.find(region)).execute(conn)?;
    Ok(())
}

/// The newest list of each child: (region, PEM).
pub fn of_children(conn: &mut DbConnection) -> AppResult<Vec<(String, String)>> {
    Ok(crl::table.select((crl::child_region, crl::pem)).order(crl::child_region).load(conn)?)
}
