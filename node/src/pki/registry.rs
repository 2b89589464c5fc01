//! The certificate register (证书台账): every certificate this node holds or issued — its
//! own CA and leaves, its children's CA certificates, its tenants' client certificates —
//! with its status (`valid`, `superseded` by a rotation but still accepted until it
//! expires, or `revoked`). Revoking publishes a new revocation list at once; the listener
//! refuses the certificate on its next reload, and the register refuses it sooner.
//! Certificates that will expire soon are announced through the notification channels.

use diesel::prelude::*;
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use serde::Serialize;
use tracenode_federation::crl::Revoked;
use tracenode_federation::tiers::{self, TierError};

pub use crate::credentials::certificates::{serial_hex, usable, CertificateStatus};

use super::{refused, NodePki};
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{crl_published, federation_children, issued_certificates as ic};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};

crate::text_status! {
    /// Where a child node stands (`federation_children.status`): it follows the child's CA
    /// certificate, which only this register revokes.
    pub enum ChildStatus {
        /// Enrolled; its batches are taken.
        Active = "active" / "正常",
        /// Its CA certificate was revoked; it is refused.
        Revoked = "revoked" / "已停用",
    }
}

/// The active children of this node with their names, by region.
pub fn active_children(conn: &mut DbConnection) -> AppResult<Vec<(String, String)>> {
    Ok(federation_children::table
        .filter(federation_children::status.eq(ChildStatus::Active.as_str()))
        .order(federation_children::region.asc())
        .select((federation_children::region, federation_children::name))
        .load(conn)?)
}

/// What a certificate is for.
pub mod kind {
    /// This node's own CA certificate, signed by its parent (or the root).
    pub const NODE_CA: &str = "node_ca";
    /// The federation listener's certificate.
    pub const NODE_SERVER: &str = "node_server";
    /// The node's client certificate toward its parent.
    pub const NODE_CLIENT: &str = "node_client";
    /// The node's SM2 signing certificate (the seal of the batches it sends).
    pub const NODE_SIGNING: &str = "node_signing";
    /// A child's CA certificate, signed here.
    pub const CHILD_CA: &str = "child_ca";
    /// A tenant's client certificate.
    pub const TENANT_CLIENT: &str = "tenant_client";
}

/// Days before expiry when a certificate is announced.
pub const WARN_DAYS: i64 = 30;
/// Days a published revocation list is valid; a new one is published when fewer than
/// [`CRL_RENEW_DAYS`] remain.
pub const CRL_DAYS: u64 = 7;
/// See [`CRL_DAYS`].
pub const CRL_RENEW_DAYS: i64 = 3;

/// One certificate in the register.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = ic)]
pub struct CertificateRecord {
    /// Serial number, hex.
    pub serial: String,
    /// What it is for (see [`kind`]).
    pub kind: String,
    /// Whom it names (identity URI).
    pub subject: String,
    /// The tenant, for tenant certificates.
    pub tenant_id: Option<String>,
    /// SHA-256 of the certificate, colon hex.
    pub fingerprint: String,
    /// Valid from (UTC).
    pub not_before: chrono::NaiveDateTime,
    /// Valid until (UTC).
    pub not_after: chrono::NaiveDateTime,
    /// `valid`, `superseded` or `revoked`.
    pub status: String,
    /// When it entered the register (UTC).
    pub issued_at: chrono::NaiveDateTime,
    /// Who issued it (`cli`, a user, `node`, `parent`).
    pub issued_by: String,
    /// When it was revoked (UTC).
    pub revoked_at: Option<chrono::NaiveDateTime>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

impl CertificateRecord {
    /// Where it stands (an unknown stored status reads as revoked: it is not used).
    pub fn state(&self) -> CertificateStatus {
        CertificateStatus::parse(&self.status).unwrap_or(CertificateStatus::Revoked)
    }

    /// Whether it is revoked.
    pub fn is_revoked(&self) -> bool {
        self.state() == CertificateStatus::Revoked
    }
}

fn openssl_failed(e: openssl::error::ErrorStack) -> AppError {
    refused(TierError::Openssl(e))
}

/// An ASN.1 time as UTC.
pub fn time_of(t: &Asn1TimeRef) -> AppResult<chrono::NaiveDateTime> {
    let now = Asn1Time::days_from_now(0).map_err(openssl_failed)?;
    let diff = now.diff(t).map_err(openssl_failed)?;
    let seconds = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    Ok(db::truncate_micros(chrono::Utc::now().naive_utc() + chrono::Duration::seconds(seconds)))
}

/// A certificate's SHA-256 fingerprint, colon hex.
pub fn fingerprint(cert: &X509) -> AppResult<String> {
    let d = cert.digest(MessageDigest::sha256()).map_err(openssl_failed)?;
    Ok(d.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
}

/// Enters `cert` in the register (once); returns whether it was new there.
pub fn record(
    conn: &mut DbConnection,
    cert: &X509,
    kind: &str,
    tenant_id: Option<&str>,
    issued_by: &str,
) -> AppResult<bool> {
    let serial = serial_hex(cert)?;
    if ic::table.find(&serial).count().get_result::<i64>(conn)? > 0 {
        return Ok(false);
    }
    let subject = tiers::identity_of(cert).map_err(refused)?.uri();
    diesel::insert_into(ic::table)
        .values((
            ic::serial.eq(&serial),
            ic::kind.eq(kind),
            ic::subject.eq(&subject),
            ic::tenant_id.eq(tenant_id),
            ic::fingerprint.eq(fingerprint(cert)?),
            ic::not_before.eq(time_of(cert.not_before())?),
            ic::not_after.eq(time_of(cert.not_after())?),
            ic::status.eq(CertificateStatus::Valid.as_str()),
            ic::issued_at.eq(db::now()),
            ic::issued_by.eq(issued_by),
            ic::certificate.eq(String::from_utf8(cert.to_pem().map_err(openssl_failed)?).map_err(AppError::internal)?),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Marks the other valid certificates of `subject` and `kind` superseded by `serial`.
pub fn supersede(conn: &mut DbConnection, subject: &str, kind: &str, serial: &str) -> AppResult<usize> {
    Ok(diesel::update(
        ic::table
            .filter(ic::subject.eq(subject))
            .filter(ic::kind.eq(kind))
            .filter(ic::status.eq(CertificateStatus::Valid.as_str()))
            .filter(ic::serial.ne(serial)),
    )
    .set(ic::status.eq(CertificateStatus::Superseded.as_str()))
    .execute(conn)?)
}

/// The register, newest first; `all` includes revoked and expired ones.
pub fn list(conn: &mut DbConnection, all: bool) -> AppResult<Vec<CertificateRecord>> {
    let mut q = ic::table.order(ic::issued_at.desc()).select(CertificateRecord::as_select()).into_boxed();
    if !all {
        q = q.filter(ic::status.ne(CertificateStatus::Revoked.as_str())).filter(ic::not_after.gt(db::now()));
    }
    Ok(q.load(conn)?)
}

/// One certificate.
pub fn get(conn: &mut DbConnection, serial: &str) -> AppResult<CertificateRecord> {
    ic::table
        .find(serial.to_ascii_lowercase())
        .select(CertificateRecord::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("证书", "certificate"))
}

/// The PEM of a certificate in the register.
pub fn certificate_pem(conn: &mut DbConnection, serial: &str) -> AppResult<String> {
    Ok(ic::table.find(serial).select(ic::certificate).first(conn)?)
}

/// Revokes a certificate this node issued, publishes a new revocation list, and for a
/// child's CA marks the child revoked; audited.
pub fn revoke(
    conn: &mut DbConnection,
    pki: &NodePki,
    ctx: &AuditContext,
    serial: &str,
    reason: &str,
) -> AppResult<(CertificateRecord, PublishedCrl)> {
    let cert = get(conn, serial)?;
    if cert.kind == kind::NODE_CA {
        return Err(AppError::invalid(
            "serial",
            "本节点的证书机构证书只能由上级吊销",
            "this node's own CA certificate can only be revoked by its parent",
        ));
    }
    if cert.is_revoked() {
        return Err(AppError::conflict("该证书已被吊销", "the certificate is revoked already"));
    }
    let now = db::now();
    diesel::update(ic::table.find(&cert.serial))
        .set((
            ic::status.eq(CertificateStatus::Revoked.as_str()),
            ic::revoked_at.eq(Some(now)),
            ic::revoked_by.eq(Some(&ctx.actor)),
            ic::reason.eq(Some(reason)),
        ))
        .execute(conn)?;
    if cert.kind == kind::CHILD_CA {
        if let Some(tiers::Identity::Node { region }) = tiers::Identity::parse(&cert.subject) {
            diesel::update(federation_children::table.find(region))
                .set(federation_children::status.eq(ChildStatus::Revoked.as_str()))
                .execute(conn)?;
        }
    }
    let published = publish_crl(conn, pki)?;
    let number = published.number;
    audit::record(
        conn,
        ctx,
        "pki.revoke",
        &cert.subject,
        Outcome::Success,
        serde_json::json!({ "serial": cert.serial, "kind": cert.kind, "reason": reason, "crl_number": number }),
    )?;
    Ok((get(conn, &cert.serial)?, published))
}

/// A revocation list just signed: what the federation sends down to the children, who need
/// the lists of every CA above them.
#[derive(Debug, Clone)]
pub struct PublishedCrl {
    /// Its number in this CA's sequence.
    pub number: i64,
    /// The region of the CA that issued it.
    pub issuer: String,
    /// The list (PEM).
    pub pem: String,
}

/// Publishes the next revocation list of this node's CA into `pki/crls/`; returns its number.
pub fn publish_crl(conn: &mut DbConnection, pki: &NodePki) -> AppResult<PublishedCrl> {
    let last: Option<i64> = crl_published::table.select(diesel::dsl::max(crl_published::number)).first(conn)?;
    let number = last.unwrap_or(0) + 1;
    let revoked: Vec<(String, Option<chrono::NaiveDateTime>)> = ic::table
        .filter(ic::status.eq(CertificateStatus::Revoked.as_str()))
        .filter(ic::kind.ne(kind::NODE_CA))
        .select((ic::serial, ic::revoked_at))
        .load(conn)?;
    let mut list = Vec::with_capacity(revoked.len());
    for (serial, at) in &revoked {
        let at = at.map(|t| t.and_utc().into()).unwrap_or_else(std::time::SystemTime::now);
        list.push(Revoked { serial: hex::decode(serial).map_err(AppError::internal)?, at });
    }
    let valid_for = std::time::Duration::from_secs(CRL_DAYS * 86_400);
    let authority = pki.authority()?;
    let pem = authority.crl(number as u64, &list, valid_for).map_err(refused)?;
    pki.store_crl(&pki.own_crl_name(), &pem)?;
    let now = db::now();
    diesel::insert_into(crl_published::table)
        .values((
            crl_published::number.eq(number),
            crl_published::published_at.eq(now),
            crl_published::next_update.eq(now + chrono::Duration::days(CRL_DAYS as i64)),
            crl_published::revoked.eq(list.len() as i32),
            crl_published::pem.eq(Some(String::from_utf8_lossy(&pem).into_owned())),
        ))
        .execute(conn)?;
    Ok(PublishedCrl { number, issuer: authority.region().to_owned(), pem: String::from_utf8_lossy(&pem).into_owned() })
}

/// Publishes a revocation list if none is published or the last one nears its next update.
pub fn refresh_crl(conn: &mut DbConnection, pki: &NodePki) -> AppResult<Option<PublishedCrl>> {
    let next: Option<chrono::NaiveDateTime> =
        crl_published::table.select(diesel::dsl::max(crl_published::next_update)).first(conn)?;
    let due = next.is_none_or(|n| n < db::now() + chrono::Duration::days(CRL_RENEW_DAYS));
    if due || !pki.own_crl_exists() {
        return Ok(Some(publish_crl(conn, pki)?));
    }
    Ok(None)
}

/// Announces every usable certificate that expires within [`WARN_DAYS`] and was not yet
/// announced (mail and webhooks of the node-wide channels, and the tenant's for tenant
/// certificates); returns how many were announced.
pub fn warn_expiring(conn: &mut DbConnection, node: &str) -> AppResult<usize> {
    let now = db::now();
    let soon: Vec<CertificateRecord> = ic::table
        .filter(ic::status.ne(CertificateStatus::Revoked.as_str()))
        .filter(ic::warned_at.is_null())
        .filter(ic::not_after.lt(now + chrono::Duration::days(WARN_DAYS)))
        .filter(ic::not_after.gt(now))
        .select(CertificateRecord::as_select())
        .load(conn)?;
    let mut told = 0;
    for c in &soon {
        let days = (c.not_after - now).num_days();
        let event = crate::notify::Event {
            topic: "certificate.expiring",
            tenant_id: c.tenant_id.clone(),
            subject: format!("【tracenode】证书将于 {days} 天后到期：{} / certificate expires in {days} days", c.subject),
            body: format!(
                "节点 {node} 的证书即将到期，请及时轮换（tracenode pki rotate）。\n证书：{}\n类型：{}\n序列号：{}\n到期时间（UTC）：{}\n\n\
                 A certificate of node {node} expires soon; rotate it (`tracenode pki rotate`).",
                c.subject, c.kind, c.serial, c.not_after
            ),
            payload: serde_json::json!({ "serial": c.serial, "subject": c.subject, "kind": c.kind, "not_after": c.not_after, "days_left": days }),
        };
        // Marked only once someone is told: a node without channels yet keeps it for later.
        if crate::notify::enqueue(conn, &event)? > 0 {
            diesel::update(ic::table.find(&c.serial)).set(ic::warned_at.eq(Some(now))).execute(conn)?;
            told += 1;
        }
    }
    Ok(told)
}

/// A tenant's client certificate just issued, with its key (which the node does not keep).
pub struct TenantBundle {
    /// The certificate, then the CA certificates above it (without the root).
    pub chain: Vec<X509>,
    /// Its key.
    pub key: openssl::pkey::PKey<openssl::pkey::Private>,
    /// The national root.
    pub root: X509,
}

/// Issues a client certificate for the tenant with `code`, valid `days` days; earlier
/// valid ones of the tenant are superseded (still accepted until they expire: rotation
/// without downtime). Audited.
pub fn issue_tenant(
    conn: &mut DbConnection,
    pki: &NodePki,
    ctx: &AuditContext,
    code: &str,
    days: u32,
) -> AppResult<TenantBundle> {
    if !(1..=tiers::LEAF_DAYS).contains(&days) {
        return Err(AppError::invalid(
            "days",
            format!("有效期须在 1 到 {} 天之间", tiers::LEAF_DAYS),
            format!("days must be between 1 and {}", tiers::LEAF_DAYS),
        ));
    }
    let tenant = crate::tenants::by_code(conn, code)?;
    if !tenant.is_active() {
        return Err(AppError::invalid(
            "tenant",
            "租户已停用，不能签发证书",
            "the tenant is disabled; no certificate is issued",
        ));
    }
    let leaf = tiers::Leaf::TenantClient { tenant: code.to_owned() };
    let (cert, key) = pki.authority()?.issue_with_key_for(&leaf, &tiers::Validity::days(days)).map_err(refused)?;
    record(conn, &cert, kind::TENANT_CLIENT, Some(tenant.id.as_str()), &ctx.actor)?;
    let serial = serial_hex(&cert)?;
    let subject = tiers::identity_of(&cert).map_err(refused)?.uri();
    let superseded = supersede(conn, &subject, kind::TENANT_CLIENT, &serial)?;
    audit::record(
        conn,
        ctx,
        "pki.issue_tenant",
        &subject,
        Outcome::Success,
        serde_json::json!({ "serial": serial, "days": days, "superseded": superseded }),
    )?;
    let mut chain = vec![cert];
    chain.extend(pki.leaf_chain_above()?);
    Ok(TenantBundle { chain, key, root: pki.root()? })
}

impl TenantBundle {
    /// Writes `tenant.pem` (certificate and chain), `tenant.key` (mode 0600) and `root.pem`
    /// into `out`.
    pub fn write(&self, out: &std::path::Path) -> AppResult<()> {
        std::fs::create_dir_all(out).map_err(|e| super::io(out, e))?;
        super::write(&out.join("tenant.key"), &self.key.private_key_to_pem_pkcs8().map_err(openssl_failed)?, true)?;
        super::write(&out.join("tenant.pem"), &super::pem_of(&self.chain)?, false)?;
        super::write(&out.join("root.pem"), &self.root.to_pem().map_err(openssl_failed)?, false)
    }
}
