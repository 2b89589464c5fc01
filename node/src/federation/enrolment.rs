//! Enrolment over the network (入网申请). A would-be child sends its certificate request to
//! its parent's public listener (it has no certificate yet to call the federation port);
//! the parent's operator sees its region, tier, name and key fingerprint, checks the
//! fingerprint with the child's operator by another channel, and approves or rejects it,
//! audited. The child fetches the outcome with the token it got when it asked, and installs
//! the bundle. Only a region directly below this node's may ask; one request per region
//! waits at a time.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracenode_federation::tiers::{Identity, Request};

use crate::audit::{self, AuditContext, Outcome};
use crate::config::Tier;
use crate::db::schema::enrolment_requests as er;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::pki::{bundle, NodePki};
use crate::region::{RegionCode, RegionLevel};

/// Requests that may wait at once.
const MAX_PENDING: i64 = 50;
/// Requests from one network address that may wait at a time: an address cannot fill the
/// waiting list and keep the real children out.
const MAX_PENDING_PER_ADDRESS: i64 = 5;

/// A request as the parent's operator sees it.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = er)]
pub struct EnrolmentRequest {
    /// Its id.
    pub id: String,
    /// The region asking.
    pub region: String,
    /// Its tier.
    pub tier: String,
    /// The name it gave.
    pub name: String,
    /// The SHA-256 fingerprint of its key, to check with its operator.
    pub fingerprint: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// Where it came from.
    pub source_ip: String,
    /// When (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// When it was decided (UTC).
    pub decided_at: Option<chrono::NaiveDateTime>,
    /// Who decided.
    pub decided_by: Option<String>,
}

pub use tracenode_federation::wire::enrolment::{
    Certificates as Bundle, Decision, EnrolmentStatus, Submission, Ticket,
};

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn level_below(tier: Tier) -> Option<RegionLevel> {
    match tier {
        Tier::National => Some(RegionLevel::Province),
        Tier::Province => Some(RegionLevel::City),
        Tier::City => Some(RegionLevel::County),
        Tier::County | Tier::Standalone => None,
    }
}

/// Takes a request from the network; audited as an anonymous caller from `ctx`.
pub fn submit(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    own: (&RegionCode, Tier),
    s: &Submission,
) -> AppResult<(EnrolmentRequest, Ticket)> {
    let refused = |zh: String, en: String| AppError::invalid("request_pem", zh, en);
    if s.request_pem.len() > 8192 {
        return Err(AppError::new(ErrorKind::PayloadTooLarge));
    }
    let request = Request::from_pem(s.request_pem.as_bytes()).map_err(|e| refused(e.to_string(), e.to_string()))?;
    let Identity::Node { region } = request.identity().map_err(|e| refused(e.to_string(), e.to_string()))? else {
        return Err(refused("证书申请不是节点申请".into(), "the request is not a node's".into()));
    };
    let code = RegionCode::parse(&region)?;
    let direct = level_below(own.1).is_some_and(|l| l == code.level());
    if !direct || !tracenode_federation::tiers::lies_inside(own.0.as_str(), &region) {
        return Err(AppError::invalid(
            "region",
            format!("{region}（{}）不是本节点（{}）的直接下级", code.name(), own.0),
            format!("{region} is not directly below this node ({})", own.0),
        ));
    }
    let pending = er::table.filter(er::status.eq(EnrolmentStatus::Pending.as_str()));
    if pending.filter(er::region.eq(&region)).count().get_result::<i64>(conn)? > 0 {
        return Err(AppError::conflict(
            format!("{region} 已有一份待审批的申请"),
            format!("{region} has a request waiting already"),
        ));
    }
    if er::table.filter(er::status.eq(EnrolmentStatus::Pending.as_str())).count().get_result::<i64>(conn)?
        >= MAX_PENDING
    {
        return Err(AppError::new(ErrorKind::RateLimited));
    }
    let from_here =
        er::table.filter(er::status.eq(EnrolmentStatus::Pending.as_str())).filter(er::source_ip.eq(&ctx.source_ip));
    if from_here.count().get_result::<i64>(conn)? >= MAX_PENDING_PER_ADDRESS {
        return Err(AppError::with_detail(
            ErrorKind::RateLimited,
            format!("来自 {} 的待审批入网申请已达 {MAX_PENDING_PER_ADDRESS} 份，请待上级审批后再申请", ctx.source_ip),
            format!(
                "{MAX_PENDING_PER_ADDRESS} requests from {} wait already: ask again once the parent has decided",
                ctx.source_ip
            ),
        ));
    }
    let name = s.name.trim();
    let name = if name.is_empty() { code.name().to_owned() } else { name.chars().take(100).collect() };
    let token = hex::encode(rand::random::<[u8; 32]>());
    let fingerprint = request.fingerprint().map_err(|e| refused(e.to_string(), e.to_string()))?;
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(er::table)
        .values((
            er::id.eq(&id),
            er::region.eq(&region),
            er::tier.eq(super::children::tier_of(&code).as_str()),
            er::name.eq(&name),
            er::fingerprint.eq(&fingerprint),
            er::request_pem.eq(&s.request_pem),
            er::token_hash.eq(hash(&token)),
            er::status.eq(EnrolmentStatus::Pending.as_str()),
            er::source_ip.eq(&ctx.source_ip),
            er::created_at.eq(db::now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "federation.enrol_request",
        &format!("urn:tracenode:node:{region}"),
        Outcome::Success,
        serde_json::json!({ "id": id, "fingerprint": fingerprint }),
    )?;
    Ok((get(conn, &id)?, Ticket { id, token, fingerprint }))
}

/// One request.
pub fn get(conn: &mut DbConnection, id: &str) -> AppResult<EnrolmentRequest> {
    er::table
        .find(id)
        .select(EnrolmentRequest::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("入网申请", "enrolment request"))
}

/// Requests, newest first; only the waiting ones unless `all`.
pub fn list(conn: &mut DbConnection, all: bool) -> AppResult<Vec<EnrolmentRequest>> {
    let mut q = er::table.order(er::created_at.desc()).limit(200).select(EnrolmentRequest::as_select()).into_boxed();
    if !all {
        q = q.filter(er::status.eq(EnrolmentStatus::Pending.as_str()));
    }
    Ok(q.load(conn)?)
}

/// Approves (signing the child's CA certificate and enrolling it) or rejects a waiting
/// request; audited.
pub fn decide(
    conn: &mut DbConnection,
    pki: &NodePki,
    ctx: &AuditContext,
    id: &str,
    approve: bool,
    reason: &str,
) -> AppResult<EnrolmentRequest> {
    let r = get(conn, id)?;
    if EnrolmentStatus::parse(&r.status) != Some(EnrolmentStatus::Pending) {
        return Err(AppError::conflict("该申请已处理", "the request was decided already"));
    }
    let now = db::now();
    if !approve {
        if reason.trim().is_empty() {
            return Err(AppError::invalid("reason", "驳回须说明原因", "a rejection needs a reason"));
        }
        diesel::update(er::table.find(id))
            .set((
                er::status.eq(EnrolmentStatus::Rejected.as_str()),
                er::reason.eq(Some(reason.trim())),
                er::decided_at.eq(Some(now)),
                er::decided_by.eq(Some(&ctx.actor)),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            ctx,
            "federation.enrol_reject",
            &format!("urn:tracenode:node:{}", r.region),
            Outcome::Success,
            serde_json::json!({ "id": id, "reason": reason.trim() }),
        )?;
        return get(conn, id);
    }
    let pem: String = er::table.find(id).select(er::request_pem).first(conn)?;
    let dir = tempfile_dir()?;
    super::children::sign_and_enrol(conn, pki, ctx, pem.as_bytes(), dir.path(), "network")?;
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).map_err(AppError::internal);
    let bundle = Bundle { ca: read(bundle::CA)?, chain: read(bundle::CHAIN)?, root: read(bundle::ROOT)? };
    diesel::update(er::table.find(id))
        .set((
            er::status.eq(EnrolmentStatus::Approved.as_str()),
            er::bundle.eq(Some(serde_json::to_string(&bundle).map_err(AppError::internal)?)),
            er::decided_at.eq(Some(now)),
            er::decided_by.eq(Some(&ctx.actor)),
        ))
        .execute(conn)?;
    get(conn, id)
}

fn tempfile_dir() -> AppResult<TempDir> {
    let path = std::env::temp_dir().join(format!("tracenode-enrol-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&path).map_err(AppError::internal)?;
    Ok(TempDir(path))
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The outcome for the child holding `token`.
pub fn outcome(conn: &mut DbConnection, id: &str, token: &str) -> AppResult<Decision> {
    let row: Option<(String, Option<String>, Option<String>, String)> =
        er::table.find(id).select((er::status, er::reason, er::bundle, er::token_hash)).first(conn).optional()?;
    let Some((status, reason, bundle, token_hash)) = row else {
        return Err(AppError::not_found("入网申请", "enrolment request"));
    };
    let presented = hash(token);
    let same = presented.len() == token_hash.len()
        && presented.bytes().zip(token_hash.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
    if !same {
        return Err(AppError::not_found("入网申请", "enrolment request"));
    }
    let bundle = bundle.map(|b| serde_json::from_str(&b)).transpose().map_err(AppError::internal)?;
    let status = EnrolmentStatus::parse(&status)
        .ok_or_else(|| AppError::internal(format!("enrolment request {id} has status {status}")))?;
    Ok(Decision { status, reason, bundle })
}

/// What a child remembers of its request while it waits (`pki/enrolment.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Waiting {
    /// The parent's public address.
    pub parent: String,
    /// Trusted for that address besides the system's authorities.
    pub ca_file: Option<std::path::PathBuf>,
    /// The request's id.
    pub id: String,
    /// Its token.
    pub token: String,
}

const WAITING: &str = "enrolment.json";

fn client(ca_file: Option<&std::path::Path>) -> AppResult<reqwest::Client> {
    let mut b = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            AppError::invalid(
                "ca_file",
                format!("无法读取 {}：{e}", path.display()),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| AppError::invalid("ca_file", e.to_string(), e.to_string()))?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(AppError::internal)
}

fn unreachable(e: impl std::fmt::Display) -> AppError {
    AppError::with_detail(
        ErrorKind::UpstreamFailed,
        format!("无法连接上级节点：{e}"),
        format!("the parent cannot be reached: {e}"),
    )
}

async fn problem(res: reqwest::Response) -> AppError {
    let status = res.status();
    match res.json::<crate::error::Problem>().await {
        Ok(p) => AppError::with_detail(
            ErrorKind::UpstreamFailed,
            format!("上级拒绝：{}（{}）", p.detail_zh, p.code),
            format!("refused by the parent: {} ({})", p.detail, p.code),
        ),
        Err(_) => unreachable(format!("HTTP {status}")),
    }
}

/// The child's side: makes its key and request (unless one waits already), sends it to the
/// parent and remembers the ticket. Returns the ticket.
pub async fn ask(pki: &NodePki, parent: &str, ca_file: Option<std::path::PathBuf>, name: &str) -> AppResult<Ticket> {
    let parent = parent.trim_end_matches('/').to_owned();
    if !parent.starts_with("https://") {
        return Err(AppError::invalid(
            "parent",
            "上级地址必须以 https:// 开头",
            "the parent's address must start with https://",
        ));
    }
    let request_pem = pki.waiting_request().map(Ok).unwrap_or_else(|| pki.request().map(|(pem, _)| pem))?;
    let body = Submission { request_pem: String::from_utf8_lossy(&request_pem).into_owned(), name: name.to_owned() };
    let res = client(ca_file.as_deref())?
        .post(format!("{parent}/api/v1/federation/enrolments"))
        .json(&body)
        .send()
        .await
        .map_err(unreachable)?;
    if !res.status().is_success() {
        return Err(problem(res).await);
    }
    let ticket: Ticket = res.json().await.map_err(unreachable)?;
    let waiting = Waiting { parent, ca_file, id: ticket.id.clone(), token: ticket.token.clone() };
    pki.write_file(WAITING, serde_json::to_string_pretty(&waiting).map_err(AppError::internal)?.as_bytes(), true)?;
    Ok(ticket)
}

/// The request this child is waiting on, if any.
pub fn waiting(pki: &NodePki) -> Option<Waiting> {
    pki.read_file(WAITING).ok().and_then(|b| serde_json::from_slice(&b).ok())
}

/// The child's side: asks the parent for the outcome; an approved bundle is installed.
pub async fn collect(pki: &NodePki, w: &Waiting) -> AppResult<Decision> {
    let res = client(w.ca_file.as_deref())?
        .get(format!("{}/api/v1/federation/enrolments/{}", w.parent, w.id))
        .header("X-Enrolment-Token", &w.token)
        .send()
        .await
        .map_err(unreachable)?;
    if !res.status().is_success() {
        return Err(problem(res).await);
    }
    let d: Decision = res.json().await.map_err(unreachable)?;
    match (d.status, &d.bundle) {
        (EnrolmentStatus::Approved, Some(b)) => {
            let dir = tempfile_dir()?;
            for (name, text) in [(bundle::CA, &b.ca), (bundle::CHAIN, &b.chain), (bundle::ROOT, &b.root)] {
                std::fs::write(dir.path().join(name), text).map_err(AppError::internal)?;
            }
            pki.install(dir.path())?;
            pki.remove_file(WAITING);
        }
        (EnrolmentStatus::Rejected, _) => pki.remove_file(WAITING),
        _ => {}
    }
    Ok(d)
}
