//! Federation endpoints.
//!
//! On the mutual-TLS listener (`/federation/v1/…`), called by children with their node
//! certificate: `hello`, `batches` (a batch in, its receipt out) and `cursors/{kind}`. A
//! tenant's certificate is refused here whatever it asks.
//!
//! On the console/API listener (`/api/v1/federation/…`), for operators: this node's place
//! and uplink, its children and their batches, registrations held from below, rolled-up
//! indicators, and running a roll-up by hand.

use std::sync::Arc;

use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tracenode_federation::wire::batch::Batch;

use super::inbox::{self, Via};
use super::kinds::{self, registrations};
use super::{children, enrolment, mailbox, uplink, Federation};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::db::schema::{federation_outgoing as fo, federation_uplink as fu};
use crate::error::{AppError, AppResult, ErrorKind, Problem};
use crate::http::peer::Peer;
use crate::registry::references;
use crate::users::Permission;
use tracenode_federation::wire::receipt::{Cursor, Outcome, Receipt};

fn federation(state: &AppState) -> AppResult<Arc<Federation>> {
    state.find::<super::Federation>().ok_or_else(|| {
        AppError::with_detail(
            ErrorKind::NotFound,
            "本节点未加入联邦（未配置 [federation] 或尚未安装证书）",
            "this node is not federated ([federation] not configured or no certificate authority installed)",
        )
    })
}

/// Who the caller is and who this node is, and the largest batch this node takes
/// (mutual-TLS listener, node certificates).
#[utoipa::path(tag = "federation", responses((status = 200, body = tracenode_federation::wire::Hello), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("/federation/v1/hello")]
pub async fn hello(state: web::Data<AppState>, peer: Peer) -> AppResult<HttpResponse> {
    let fed = federation(&state)?;
    peer.node_region()?;
    Ok(HttpResponse::Ok().json(tracenode_federation::wire::Hello {
        you: peer.identity.uri(),
        me: fed.identity.uri(),
        max_batch_bytes: Some(state.config.federation.max_batch_bytes as u64),
    }))
}

/// A child's batch: applied with its cursor, or refused whole (mutual-TLS listener).
#[utoipa::path(tag = "federation", request_body = serde_json::Value,
    responses((status = 200, body = Receipt), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/federation/v1/batches")]
pub async fn receive(state: web::Data<AppState>, peer: Peer, body: web::Json<Batch>) -> AppResult<HttpResponse> {
    let fed = federation(&state)?;
    peer.node_region()?;
    let db = state.db.clone();
    let batch = body.into_inner();
    let arrived = kinds::Kind::parse(&batch.header.kind);
    let require_seal = fed.require_seal;
    let receiver = fed.region.clone();
    let receipt: Receipt = tokio::task::spawn_blocking(move || {
        let presented = inbox::Presented {
            certificate: Some(&peer.certificate),
            authority: Some(&peer.authority),
            require_seal,
            receiver: &receiver,
        };
        inbox::receive(&db, &peer.identity, presented, &batch, Via::Link)
    })
    .await
    .map_err(AppError::internal)??;
    // Passed on at once: what arrived changes this node's own batch of the same kind.
    if let (Some(kind), Outcome::Applied) = (arrived, receipt.outcome) {
        fed.trigger(kind.as_str());
    }
    Ok(HttpResponse::Ok().json(receipt))
}

/// The last batch of `kind` applied for the calling child (mutual-TLS listener).
#[utoipa::path(tag = "federation", params(("kind" = String, Path, description = "Roll-up kind")),
    responses((status = 200, body = Cursor), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/federation/v1/cursors/{kind}")]
pub async fn cursor(state: web::Data<AppState>, peer: Peer, path: web::Path<String>) -> AppResult<HttpResponse> {
    federation(&state)?;
    let region = peer.node_region()?.to_owned();
    let kind = kinds::require(&path.into_inner())?;
    let through = state
        .db
        .run(move |conn| {
            children::active(conn, &region)?;
            inbox::cursor(conn, &region, kind.as_str())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Cursor { kind, applied_through: through }))
}

/// Where a child's long poll starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MailboxQuery {
    /// The last message number the child took.
    #[serde(default)]
    pub after: i64,
    /// Seconds to wait for a message (at most 25).
    #[serde(default)]
    pub wait: u64,
}

/// The child's mailbox: messages after `after` that go down its branch, as soon as there are
/// any or after `wait` seconds (mutual-TLS listener, enrolled children).
#[utoipa::path(tag = "federation", params(MailboxQuery),
    responses((status = 200, body = mailbox::Mail), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/federation/v1/mailbox")]
pub async fn mailbox_poll(
    state: web::Data<AppState>,
    peer: Peer,
    q: web::Query<MailboxQuery>,
) -> AppResult<HttpResponse> {
    federation(&state)?;
    let region = peer.node_region()?.to_owned();
    let r = region.clone();
    state.db.run(move |conn| children::active(conn, &r).map(|_| ())).await?;
    let q = q.into_inner();
    let wait = std::time::Duration::from_secs(q.wait.min(25));
    let stopping = state.service::<crate::jobs::SupervisorCell>()?.get()?.stopping();
    let mail = mailbox::wait_for(&state.db, region.clone(), q.after.max(0), wait, stopping).await?;
    state.db.transaction(move |conn| children::touch(conn, &region)).await?;
    Ok(HttpResponse::Ok().json(mail))
}

/// A child's look-up of party codes it does not know (mutual-TLS listener, enrolled
/// children): the codes registered in this node's subtree, and for the rest what its own
/// ancestors answer (see [`crate::registry::references`]).
#[utoipa::path(tag = "federation", request_body = references::PartyQuestion,
    responses((status = 200, body = references::PartyAnswer), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/federation/v1/references")]
pub async fn look_up_references(
    state: web::Data<AppState>,
    peer: Peer,
    body: web::Json<references::PartyQuestion>,
) -> AppResult<HttpResponse> {
    federation(&state)?;
    let region = peer.node_region()?.to_owned();
    state.db.run(move |conn| children::active(conn, &region).map(|_| ())).await?;
    let codes = references::normal_codes(&body)?;
    let here = state.config.node.region.as_str().to_owned();
    let asked = codes.clone();
    let mut known = state.db.run(move |conn| references::in_subtree(conn, &here, &asked)).await?;
    if let Some(up) = state.find::<references::Upward>() {
        let rest: Vec<String> = codes.into_iter().filter(|c| !known.contains_key(c)).collect();
        if !rest.is_empty() {
            let heard = web::block(move || up.resolve(&rest)).await.map_err(AppError::internal)?;
            known.extend(heard.known);
        }
    }
    let mut known: Vec<references::KnownParty> = known.into_values().collect();
    known.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(HttpResponse::Ok().json(references::PartyAnswer { known }))
}

/// A message for the children.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewMessage {
    /// `notice`, or `catalogue` (the national node: its national catalogue as it stands).
    pub kind: String,
    /// The region it is for; empty or absent: every node below.
    #[serde(default)]
    pub target: String,
    /// A notice's title.
    #[serde(default)]
    pub title: String,
    /// A notice's text.
    #[serde(default)]
    pub body: String,
}

/// Puts a notice, or the national catalogue, in the mailbox for the nodes below (audited).
#[utoipa::path(tag = "federation", request_body = NewMessage,
    responses((status = 201, body = serde_json::Value), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/federation/messages")]
pub async fn send_down(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewMessage>,
) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationManage, "federation", "federation.message").await?;
    let fed = federation(&state)?;
    let m = body.into_inner();
    let target = m.target.trim().to_owned();
    if !target.is_empty() && !tracenode_federation::tiers::lies_inside(&fed.region, &target) {
        return Err(AppError::invalid(
            "target",
            "目标区划须在本节点辖区之内",
            "the target must lie inside this node's region",
        ));
    }
    let national = state.config.node.tier == crate::config::Tier::National;
    let ctx = caller.audit();
    let origin = fed.region.clone();
    let seq = state
        .db
        .transaction(move |conn| {
            let (kind, payload) = match mailbox::MessageKind::parse(&m.kind) {
                Some(kind @ mailbox::MessageKind::Notice) => {
                    let (title, text) = (m.title.trim(), m.body.trim());
                    if title.is_empty() || title.chars().count() > 100 || text.chars().count() > 5000 {
                        return Err(AppError::invalid(
                            "title",
                            "通知须有标题（不超过100字），正文不超过5000字",
                            "a notice needs a title (up to 100 characters) and a body up to 5000",
                        ));
                    }
                    let notice = mailbox::NoticePayload { title: title.into(), body: text.into(), duplicate: None };
                    (kind, serde_json::to_string(&notice).map_err(AppError::internal)?)
                }
                Some(kind @ mailbox::MessageKind::Catalogue) if national => {
                    let document = crate::registry::catalogue::national_document(conn)?;
                    (kind, serde_json::to_string(&document).map_err(AppError::internal)?)
                }
                Some(mailbox::MessageKind::Catalogue) => {
                    return Err(AppError::invalid(
                        "kind",
                        "全国产品目录只能由国家级节点下发",
                        "only the national node sends the national catalogue down",
                    ))
                }
                // Revocation lists go down on their own, when the CA publishes one; a form, when
                // it is published or withdrawn; an evaluation set, when a version is saved.
                Some(
                    mailbox::MessageKind::Crl
                    | mailbox::MessageKind::IndustryForm
                    | mailbox::MessageKind::EvaluationSet,
                )
                | None => {
                    return Err(AppError::invalid(
                        "kind",
                        format!("不能下发此类消息：{}", m.kind),
                        format!("no such message kind: {}", m.kind),
                    ))
                }
            };
            let seq = mailbox::publish(conn, kind, &target, &origin, &payload)?;
            crate::audit::record(
                conn,
                &ctx,
                "federation.message",
                &m.kind,
                crate::audit::Outcome::Success,
                serde_json::json!({ "seq": seq, "target": target }),
            )?;
            Ok(seq)
        })
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "seq": seq })))
}

/// What came down from the parent, newest first.
#[utoipa::path(tag = "federation", responses((status = 200, body = Vec<mailbox::Received>)))]
#[get("/api/v1/federation/received")]
pub async fn received(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationRead, "federation", "federation.read").await?;
    Ok(HttpResponse::Ok().json(state.db.run(|conn| mailbox::received(conn, 200)).await?))
}

/// A would-be child asks to be enrolled (anonymous: it has no certificate yet). The answer
/// carries the token that fetches the outcome; the parent's operator decides.
#[utoipa::path(tag = "federation", request_body = enrolment::Submission,
    responses((status = 202, body = enrolment::Ticket), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/federation/enrolments")]
pub async fn enrol_request(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: web::Json<enrolment::Submission>,
) -> AppResult<HttpResponse> {
    if state.config.node.tier == crate::config::Tier::Standalone || !crate::pki::NodePki::of(&state.config).installed()
    {
        return Err(AppError::with_detail(
            ErrorKind::NotFound,
            "本节点不接受下级入网申请（尚无证书机构）",
            "this node takes no enrolment requests (it has no certificate authority)",
        ));
    }
    let ip = crate::auth::caller::source_ip(&req);
    let ctx = crate::audit::AuditContext::anonymous(&ip, &crate::error::request_id().unwrap_or_default(), "enrolment");
    let own = (state.config.node.region.clone(), state.config.node.tier);
    let s = body.into_inner();
    let (_, ticket) = state.db.transaction(move |conn| enrolment::submit(conn, &ctx, (&own.0, own.1), &s)).await?;
    Ok(HttpResponse::Accepted().json(ticket))
}

/// The outcome of an enrolment request, for the child holding its token
/// (`X-Enrolment-Token`).
#[utoipa::path(tag = "federation", params(("id" = String, Path, description = "Request id")),
    responses((status = 200, body = enrolment::Decision), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/federation/enrolments/{id}")]
pub async fn enrol_outcome(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let token = req.headers().get("x-enrolment-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let id = path.into_inner();
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| enrolment::outcome(conn, &id, &token)).await?))
}

/// Which requests to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EnrolmentQuery {
    /// Decided ones too.
    #[serde(default)]
    pub all: bool,
}

/// Enrolment requests (operators).
#[utoipa::path(tag = "federation", params(EnrolmentQuery), responses((status = 200, body = Vec<enrolment::EnrolmentRequest>)))]
#[get("/api/v1/federation/enrolments")]
pub async fn enrol_list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<EnrolmentQuery>,
) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationRead, "enrolments", "federation.read").await?;
    let all = q.all;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| enrolment::list(conn, all)).await?))
}

/// An operator's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DecisionInput {
    /// Approve (sign the child's CA certificate) or reject.
    pub approve: bool,
    /// Why, for a rejection.
    #[serde(default)]
    pub reason: String,
}

/// Approves or rejects an enrolment request (audited).
#[utoipa::path(tag = "federation", params(("id" = String, Path, description = "Request id")), request_body = DecisionInput,
    responses((status = 200, body = enrolment::EnrolmentRequest), (status = 409, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/federation/enrolments/{id}/decision")]
pub async fn enrol_decide(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<DecisionInput>,
) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationManage, "enrolments", "federation.enrol_decide").await?;
    let pki = crate::pki::NodePki::of(&state.config);
    let ctx = caller.audit();
    let (id, d) = (path.into_inner(), body.into_inner());
    Ok(HttpResponse::Ok()
        .json(state.db.transaction(move |conn| enrolment::decide(conn, &pki, &ctx, &id, d.approve, &d.reason)).await?))
}

/// One roll-up kind's uplink.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UplinkState {
    /// The kind.
    pub kind: String,
    /// Its Chinese name.
    pub label_zh: String,
    /// Batches made.
    pub batches: i64,
    /// Batches waiting for the parent.
    pub pending: i64,
    /// When a run last finished without error (UTC).
    pub last_ok_at: Option<chrono::NaiveDateTime>,
    /// The last run's error.
    pub last_error: Option<String>,
    /// Failed runs in a row.
    pub failures_in_a_row: i32,
}

/// This node's place in the federation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FederationStatus {
    /// This node's identity URI.
    pub identity: String,
    /// The parent's listener, if any.
    pub parent_url: Option<String>,
    /// The serial number (hex) of the client certificate the node calls its parent with.
    pub client_certificate_serial: String,
    /// When the node's client certificate expires.
    pub client_certificate_not_after: String,
    /// Per kind.
    pub uplink: Vec<UplinkState>,
}

pub(crate) fn uplink_states(conn: &mut crate::db::DbConnection) -> AppResult<Vec<UplinkState>> {
    let mut out = Vec::new();
    for k in kinds::Kind::ALL {
        let row: Option<(Option<chrono::NaiveDateTime>, Option<String>, i32)> = fu::table
            .find(k.as_str())
            .select((fu::last_ok_at, fu::last_error, fu::failures_in_a_row))
            .first(conn)
            .optional()?;
        let batches = fo::table.filter(fo::kind.eq(k.as_str())).count().get_result(conn)?;
        let pending =
            fo::table.filter(fo::kind.eq(k.as_str())).filter(fo::acked_at.is_null()).count().get_result(conn)?;
        let (last_ok_at, last_error, failures_in_a_row) = row.unwrap_or((None, None, 0));
        out.push(UplinkState {
            kind: k.as_str().into(),
            label_zh: k.label_zh().into(),
            batches,
            pending,
            last_ok_at,
            last_error,
            failures_in_a_row,
        });
    }
    Ok(out)
}

/// This node's identity, parent and uplink per kind.
#[utoipa::path(tag = "federation", responses((status = 200, body = FederationStatus), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/federation")]
pub async fn status(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationRead, "federation", "federation.read").await?;
    let fed = federation(&state)?;
    let uplink = state.db.run(uplink_states).await?;
    Ok(HttpResponse::Ok().json(FederationStatus {
        identity: fed.identity.uri(),
        parent_url: fed.parent_url.clone(),
        client_certificate_serial: fed.client_serial(),
        client_certificate_not_after: fed.signer().not_after(),
        uplink,
    }))
}

/// The children with their traffic.
#[utoipa::path(tag = "federation", responses((status = 200, body = Vec<children::ChildTraffic>)))]
#[get("/api/v1/federation/children")]
pub async fn list_children(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationRead, "federation", "federation.read").await?;
    Ok(HttpResponse::Ok().json(state.db.run(children::traffic).await?))
}

/// Which batches to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct IncomingQuery {
    /// One child's region.
    pub child: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Batches received from children, newest first, refusals included.
#[utoipa::path(tag = "federation", params(IncomingQuery), responses((status = 200, body = Vec<inbox::Incoming>)))]
#[get("/api/v1/federation/incoming")]
pub async fn incoming(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<IncomingQuery>,
) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationRead, "federation", "federation.read").await?;
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| inbox::recent(conn, q.child.as_deref(), limit)).await?))
}

/// Registrations held from below, newest first.
/// Which held registrations.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HeldParams {
    /// `entity`, `product` or `device`; default all.
    pub kind: Option<String>,
    /// A code (exact) or part of a name.
    pub q: Option<String>,
    /// Registered at nodes whose region starts with these digits (inside the caller's).
    pub within: Option<String>,
    /// Entities whose own region starts with these digits.
    pub region: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Rows per page, 1–1000; default 100.
    pub page_size: Option<i64>,
}

/// One page of held registrations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldPage {
    /// Registrations that match, in all pages.
    pub total: i64,
    /// The page (from 1).
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
    /// This page, in source region, kind and code order.
    pub rows: Vec<registrations::HeldRegistration>,
}

/// Reads a held-registrations request for a caller who may read the jurisdiction's rolled-up
/// data (`federation.read` or `statistics.read`), bounded to its region.
pub(super) async fn held_query(
    state: &AppState,
    caller: &Caller,
    p: HeldParams,
    max_page: i64,
) -> AppResult<registrations::HeldQuery> {
    if !caller.can(Permission::FederationRead) {
        caller.require(state, Permission::StatisticsRead, "federation.registrations").await?;
    }
    let bound = crate::stats::reach::bounding_region(state, caller).await?;
    let source_within = crate::stats::reach::within(p.within.as_deref(), &bound)?;
    let kind = match p.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(tracenode_federation::wire::payload::ObjectKind::parse(k).ok_or_else(|| {
            AppError::invalid("kind", "类型只能是 entity、product 或 device", "kind must be entity, product or device")
        })?),
    };
    let region = p.region.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if region.as_deref().is_some_and(|r| r.len() > 6 || !r.chars().all(|c| c.is_ascii_digit())) {
        return Err(AppError::invalid("region", "区划前缀只能是至多6位数字", "region must be up to six digits"));
    }
    let q = p.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    if q.as_deref().is_some_and(|q| q.chars().count() > 100) {
        return Err(AppError::invalid("q", "查询词不能超过100个字符", "q must be at most 100 characters"));
    }
    let page = p.page.unwrap_or(1);
    let page_size = p.page_size.unwrap_or(100.min(max_page));
    if page < 1 || !(1..=max_page).contains(&page_size) {
        return Err(AppError::invalid(
            "page_size",
            format!("页码从 1 开始，每页 1 到 {max_page} 条"),
            format!("page starts at 1 and page_size is 1 to {max_page}"),
        ));
    }
    Ok(registrations::HeldQuery { kind, q, source_within, region, page, page_size })
}

/// Registrations held from below (each object's newest version, with the region of the node
/// it was registered at, its own region and the child it came through), searched by code or
/// name, kind, source and own region, a page at a time with the total. Staff with
/// `federation.read` or `statistics.read` read within their data scope; an API key of the
/// 数据使用方 role within its tenant's region.
#[utoipa::path(tag = "federation", params(HeldParams), responses((status = 200, body = HeldPage),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/federation/registrations")]
pub async fn held_registrations(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<HeldParams>,
) -> AppResult<HttpResponse> {
    let q = held_query(&state, &caller, p.into_inner(), registrations::MAX_HELD_PAGE).await?;
    let (page, page_size) = (q.page, q.page_size);
    let (total, rows) = state.db.run(move |conn| registrations::search(conn, &q)).await?;
    Ok(HttpResponse::Ok().json(HeldPage { total, page, page_size, rows }))
}

/// What the held registrations a search matches add up to (its paging aside): by kind, the
/// entities by their own region one level down, and by the node they were registered at one
/// level below the caller's bound; each figure equals the total of the search narrowed to it.
/// Read as the search is.
#[utoipa::path(tag = "federation", params(HeldParams), responses((status = 200, body = registrations::HeldAnalysis),
    (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/federation/registrations/analysis")]
pub async fn held_registrations_analysis(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<HeldParams>,
) -> AppResult<HttpResponse> {
    let p = HeldParams { page: None, page_size: None, ..p.into_inner() };
    let q = held_query(&state, &caller, p, registrations::MAX_HELD_PAGE).await?;
    Ok(HttpResponse::Ok().json(state.db.run(move |conn| registrations::analyse(conn, &q)).await?))
}

/// Which duplicate codes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DuplicateParams {
    /// Only sources whose region starts with these digits (inside the caller's).
    pub within: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Codes per page, 1–1000; default 100.
    pub page_size: Option<i64>,
}

/// One page of duplicate codes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DuplicatePage {
    /// Codes in all pages.
    pub total: i64,
    /// The page (from 1).
    pub page: i64,
    /// Codes per page.
    pub page_size: i64,
    /// This page's codes, each with where it is registered.
    pub rows: Vec<registrations::DuplicateCode>,
}

/// National uniqueness: the unified social credit codes registered in more than one place
/// this node sees — at two nodes below it, or below it and in its own registry. This node is
/// where the two meet; each source was sent a notice when the second registration arrived.
#[utoipa::path(tag = "federation", params(DuplicateParams), responses((status = 200, body = DuplicatePage),
    (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/federation/registrations/duplicates")]
pub async fn duplicate_codes(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<DuplicateParams>,
) -> AppResult<HttpResponse> {
    let p = p.into_inner();
    let held = HeldParams { within: p.within, page: p.page, page_size: p.page_size, ..HeldParams::default() };
    let q = held_query(&state, &caller, held, registrations::MAX_HELD_PAGE).await?;
    let own = state.config.node.region.as_str().to_owned();
    let (page, page_size) = (q.page, q.page_size);
    let (total, rows) =
        state.db.run(move |conn| registrations::duplicates(conn, &own, &q.source_within, q.page, q.page_size)).await?;
    Ok(HttpResponse::Ok().json(DuplicatePage { total, page, page_size, rows }))
}

/// The same registrations as an Excel workbook (at most 100,000 rows; `page` and
/// `page_size` choose which), audited.
#[utoipa::path(tag = "federation", params(HeldParams), responses((status = 200, description = "XLSX workbook",
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
#[get("/api/v1/federation/registrations.xlsx")]
pub async fn held_registrations_xlsx(
    state: web::Data<AppState>,
    caller: Caller,
    p: web::Query<HeldParams>,
) -> AppResult<HttpResponse> {
    let mut params = p.into_inner();
    params.page_size = Some(params.page_size.unwrap_or(registrations::MAX_HELD_EXPORT));
    let q = held_query(&state, &caller, params, registrations::MAX_HELD_EXPORT).await?;
    let ctx = caller.audit();
    let book = state
        .db
        .transaction(move |conn| {
            let (total, rows) = registrations::search(conn, &q)?;
            crate::audit::record(
                conn,
                &ctx,
                "federation.registrations_export",
                "federated_registrations",
                crate::audit::Outcome::Success,
                serde_json::json!({"rows": rows.len(), "total": total, "within": q.source_within}),
            )?;
            registrations::xlsx(&rows)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header(("Content-Disposition", "attachment; filename=\"registrations.xlsx\""))
        .body(book))
}

/// Which indicators.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct IndicatorQuery {
    /// Region digits to group by: 2 (provinces), 4 (cities) or 6 (counties); default 6.
    pub digits: Option<usize>,
    /// Only regions starting with these digits (drill-down).
    pub within: Option<String>,
    /// First day (YYYY-MM-DD); default 365 days before the last. At most 366 days.
    pub from: Option<String>,
    /// Last day; default the latest day with data.
    pub to: Option<String>,
}

/// One region's rolled-up figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegionFigures {
    /// Region code prefix.
    pub region: String,
    /// The trades (each once, from the seller's report) and the buyers' reports.
    #[serde(flatten)]
    pub figures: crate::stats::Volume,
}

/// Rolled-up indicators of the whole jurisdiction (own data and every child's latest
/// slices) by the seller's region, over at most 366 days, under the counting rule (each trade
/// once, from the seller's report; trades at every stage: see `docs/architecture.md`,
/// "Statistics").
#[utoipa::path(tag = "federation", params(IndicatorQuery), responses((status = 200, body = Vec<RegionFigures>)))]
#[get("/api/v1/federation/indicators")]
pub async fn indicators(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<IndicatorQuery>,
) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationRead, "federation", "federation.read").await?;
    let q = q.into_inner();
    let digits = q.digits.unwrap_or(6);
    if ![2, 4, 6].contains(&digits) {
        return Err(AppError::invalid("digits", "按区划汇总的位数只能是 2、4 或 6", "digits must be 2, 4 or 6"));
    }
    let (within, from, to) = requested(&q)?;
    let rows: Vec<RegionFigures> = state
        .db
        .run(move |conn| {
            let window = crate::stats::Window::resolve(conn, from, to)?;
            crate::stats::by_region(conn, digits, &within, &window)
        })
        .await?
        .into_iter()
        .map(|(region, figures)| RegionFigures { region, figures })
        .collect();
    Ok(HttpResponse::Ok().json(rows))
}

/// One stage's rolled-up figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StageFigures {
    /// Stage code.
    pub stage: String,
    /// The trades of that stage (each once, from the seller's report) and its buyers'
    /// reports.
    #[serde(flatten)]
    pub figures: crate::stats::Volume,
}

/// Rolled-up indicators of the whole jurisdiction by stage: each stage's own trades, over at
/// most 366 days.
#[utoipa::path(tag = "federation", params(IndicatorQuery), responses((status = 200, body = Vec<StageFigures>)))]
#[get("/api/v1/federation/indicators/stages")]
pub async fn indicators_by_stage(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<IndicatorQuery>,
) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationRead, "federation", "federation.read").await?;
    let q = q.into_inner();
    let (within, from, to) = requested(&q)?;
    let rows: Vec<StageFigures> = state
        .db
        .run(move |conn| {
            let window = crate::stats::Window::resolve(conn, from, to)?;
            crate::stats::by_stage(conn, &within, &window)
        })
        .await?
        .into_iter()
        .map(|(stage, figures)| StageFigures { stage, figures })
        .collect();
    Ok(HttpResponse::Ok().json(rows))
}

/// The region prefix and the days an indicator request names, checked.
fn requested(q: &IndicatorQuery) -> AppResult<(String, Option<chrono::NaiveDate>, Option<chrono::NaiveDate>)> {
    let within = q.within.clone().unwrap_or_default();
    if !within.chars().all(|c| c.is_ascii_digit()) || within.len() > 6 {
        return Err(AppError::invalid("within", "区划前缀只能是至多6位数字", "within must be up to six digits"));
    }
    let (from, to) = crate::period::day_range(q.from.as_deref(), q.to.as_deref())?;
    Ok((within, from, to))
}

/// Runs a roll-up now: collects what is new and sends what waits (audited).
#[utoipa::path(tag = "federation", params(("kind" = String, Path, description = "registrations, statistics or audit-checkpoints")),
    responses((status = 200, body = uplink::RunReport), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/federation/rollups/{kind}/run")]
pub async fn run_now(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    caller.require_staff(&state, Permission::FederationManage, "federation", "federation.rollup").await?;
    let fed = federation(&state)?;
    let kind = kinds::require(&path.into_inner())?;
    Ok(HttpResponse::Ok().json(run_audited(&state, &fed, &caller, kind).await?))
}

/// Runs `kind` for `caller` and writes its audit row (failure when sending stopped).
pub(crate) async fn run_audited(
    state: &AppState,
    fed: &Arc<Federation>,
    caller: &Caller,
    kind: kinds::Kind,
) -> AppResult<uplink::RunReport> {
    let report = uplink::run(&state.db, fed, kind).await?;
    let ctx = caller.audit();
    let detail = serde_json::to_value(&report).map_err(AppError::internal)?;
    let outcome = if report.error.is_some() { crate::audit::Outcome::Failure } else { crate::audit::Outcome::Success };
    state
        .db
        .transaction(move |conn| {
            crate::audit::record(conn, &ctx, "federation.rollup", kind.as_str(), outcome, detail).map(|_| ())
        })
        .await?;
    Ok(report)
}

/// The federation routes: `/federation/v1/…` answer only on the mutual-TLS listener (they
/// need a verified certificate); `/api/v1/federation/…` are for operators.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(hello)
        .service(receive)
        .service(cursor)
        .service(mailbox_poll)
        .service(look_up_references)
        .service(enrol_request)
        .service(enrol_outcome)
        .service(enrol_list)
        .service(enrol_decide)
        .service(send_down)
        .service(received)
        .service(status)
        .service(list_children)
        .service(incoming)
        .service(held_registrations)
        .service(held_registrations_analysis)
        .service(held_registrations_xlsx)
        .service(duplicate_codes)
        .service(indicators)
        .service(indicators_by_stage)
        .service(run_now);
}
