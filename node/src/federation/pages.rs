//! Console pages of the federation (上下级节点): this node's place and uplink with 立即上报,
//! each child's traffic (last contact, batches applied and refused, lag, certificate expiry),
//! the latest batches received, rolled-up indicators by region with drill-down, and the
//! certificate register (证书台账) with tenant certificates and revocation.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::api::UplinkState;
use super::children::ChildTraffic;
use super::inbox::Incoming;
use super::kinds;
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, ButtonForm, Shell};
use crate::error::{AppError, AppResult};
use crate::pki::registry::{self, CertificateRecord};
use crate::trace::row::CST_HOURS;
use crate::users::Permission;

/// One region's figures on the page.
pub struct RegionRow {
    /// Code prefix.
    pub region: String,
    /// Its name.
    pub name: String,
    /// The prefix to drill into, when there is a finer level.
    pub drill: Option<String>,
    /// The volume under the counting rule (`stats`).
    pub figures: crate::stats::Volume,
}

/// One stage's figures on the page.
pub struct StageRow {
    /// The stage's Chinese name.
    pub name: String,
    /// The volume under the counting rule.
    pub figures: crate::stats::Volume,
}

#[derive(Template)]
#[template(path = "federation/page.html")]
struct FederationPage {
    shell: Shell,
    identity: String,
    parent_url: String,
    client_not_after: String,
    client_serial: String,
    uplink: Vec<UplinkState>,
    children: Vec<ChildTraffic>,
    incoming: Vec<Incoming>,
    regions: Vec<RegionRow>,
    stages: Vec<StageRow>,
    window: crate::stats::Window,
    enrolments: Vec<super::enrolment::EnrolmentRequest>,
    received: Vec<super::mailbox::Received>,
    duplicates: (i64, Vec<super::kinds::registrations::DuplicateCode>),
    within: String,
    within_name: String,
    can_manage: bool,
    notice: String,
    error: String,
}

fn when(t: &chrono::NaiveDateTime) -> String {
    (*t + chrono::TimeDelta::hours(CST_HOURS)).format("%Y-%m-%d %H:%M").to_string()
}

impl FederationPage {
    fn when(&self, t: &chrono::NaiveDateTime) -> String {
        when(t)
    }

    fn maybe(&self, t: &Option<chrono::NaiveDateTime>) -> String {
        t.as_ref().map(when).unwrap_or_else(|| "—".into())
    }

    fn kind_zh(&self, k: &str) -> &'static str {
        kinds::Kind::parse(k).map_or("未知类型", |k| k.label_zh())
    }

    fn outcome_zh(&self, o: &str) -> &'static str {
        match o {
            "applied" => "已应用",
            "duplicate" => "重复（已忽略）",
            "refused" => "拒收",
            _ => "未知",
        }
    }

    fn message_zh(&self, k: &str) -> &'static str {
        super::mailbox::MessageKind::parse(k).map_or("其他", |k| k.label_zh())
    }

    fn notice_title(&self, payload: &str) -> String {
        serde_json::from_str::<super::mailbox::NoticePayload>(payload).map(|n| n.title).unwrap_or_default()
    }

    fn tier_zh(&self, t: &str) -> &'static str {
        match t {
            "province" => "省级",
            "city" => "市级",
            "county" => "县级",
            _ => "—",
        }
    }

    fn lag(&self, c: &ChildTraffic) -> String {
        match c.minutes_since_contact {
            None => "从未联系".into(),
            Some(m) if m < 1 => "刚刚".into(),
            Some(m) if m < 60 => format!("{m} 分钟前"),
            Some(m) if m < 1440 => format!("{} 小时前", m / 60),
            Some(m) => format!("{} 天前", m / 1440),
        }
    }

    fn yuan(&self, fen: &i64) -> String {
        format!("{:.2}", *fen as f64 / 100.0)
    }

    fn quantity(&self, milli: &i64) -> String {
        format!("{:.3}", *milli as f64 / 1000.0)
    }
}

fn region_name(prefix: &str) -> String {
    let code = format!("{prefix:0<6}");
    crate::region::RegionCode::parse(&code).map(|r| r.name().to_owned()).unwrap_or_default()
}

#[derive(Default)]
struct Outcome {
    notice: String,
    error: String,
}

/// Which part of the indicators to show.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Region prefix to drill into (2 or 4 digits).
    #[serde(default)]
    pub within: String,
}

async fn view(state: &AppState, caller: &Caller, within: String, o: Outcome) -> AppResult<HttpResponse> {
    caller.require_staff(state, Permission::FederationRead, "federation", "federation.read").await?;
    let digits = match within.len() {
        0 => 2,
        2 => 4,
        4 => 6,
        _ => return Err(AppError::invalid("within", "区划前缀只能是2位或4位数字", "within must be 2 or 4 digits")),
    };
    if !within.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::invalid("within", "区划前缀只能是数字", "within must be digits"));
    }
    let scope = within.clone();
    let (uplink, children, incoming, (by_region, by_stage, window)) = state
        .db
        .run(move |conn| {
            let window = crate::stats::Window::resolve(conn, None, None)?;
            Ok((
                super::api::uplink_states(conn)?,
                super::children::traffic(conn)?,
                super::inbox::recent(conn, None, 30)?,
                (
                    crate::stats::by_region(conn, digits, &scope, &window)?,
                    crate::stats::by_stage(conn, &scope, &window)?,
                    window,
                ),
            ))
        })
        .await?;
    let stages = by_stage
        .into_iter()
        .map(|(stage, figures)| StageRow {
            name: tracenode_adapters::codes::Stage::from_code(&stage).map_or(stage, |s| s.label_zh().to_owned()),
            figures,
        })
        .collect();
    let own = state.config.node.region.as_str().to_owned();
    let (enrolments, received, duplicates) = state
        .db
        .run(move |conn| {
            Ok((
                super::enrolment::list(conn, false)?,
                super::mailbox::received(conn, 20)?,
                super::kinds::registrations::duplicates(conn, &own, "", 1, 50)?,
            ))
        })
        .await?;
    let regions = by_region
        .into_iter()
        .map(|(region, figures)| RegionRow {
            name: region_name(&region),
            drill: (digits < 6).then(|| region.clone()),
            region,
            figures,
        })
        .collect();
    let fed = state.find::<super::Federation>();
    render(&FederationPage {
        shell: Shell::new(state, caller, "上下级节点", "/federation"),
        identity: fed.as_ref().map(|f| f.identity.uri()).unwrap_or_default(),
        parent_url: fed.as_ref().and_then(|f| f.parent_url.clone()).unwrap_or_default(),
        client_not_after: fed
            .as_ref()
            .and_then(|f| f.signer().chain.first().and_then(|c| registry::time_of(c.not_after()).ok()))
            .map(|t| when(&t))
            .unwrap_or_default(),
        client_serial: fed.as_ref().map(|f| f.client_serial()).unwrap_or_default(),
        uplink,
        children,
        incoming,
        regions,
        stages,
        window,
        enrolments,
        received,
        duplicates,
        within_name: if within.is_empty() { String::new() } else { region_name(&within) },
        within,
        can_manage: caller.can(Permission::FederationManage),
        notice: o.notice,
        error: o.error,
    })
}

/// 上下级节点: this node, its uplink, its children and the rolled-up indicators.
#[get("/federation")]
pub async fn page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    view(&state, &caller.0, q.into_inner().within, Outcome::default()).await
}

/// 立即上报: runs one kind now.
#[post("/federation/rollups/{kind}/run")]
pub async fn run_now(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    caller.require_staff(&state, Permission::FederationManage, "federation", "federation.rollup").await?;
    let kind = kinds::require(&path.into_inner())?;
    let Some(fed) = state.find::<super::Federation>() else {
        return view(
            &state,
            &caller,
            String::new(),
            Outcome { error: "本节点未加入联邦。".into(), ..Outcome::default() },
        )
        .await;
    };
    let report = super::api::run_audited(&state, &fed, &caller, kind).await?;
    let o = match report.error {
        Some(e) => Outcome {
            error: format!("{}上报未完成（待发送 {} 批）：{e}", kind.label_zh(), report.pending),
            ..Outcome::default()
        },
        None => Outcome {
            notice: format!(
                "{}已上报：新生成 {} 批，上级已应用 {} 批，待发送 {} 批。",
                kind.label_zh(),
                report.made,
                report.sent,
                report.pending
            ),
            ..Outcome::default()
        },
    };
    view(&state, &caller, String::new(), o).await
}

/// An operator's decision on an enrolment request, as posted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DecisionForm {
    csrf: String,
    /// `approve` or `reject`.
    decision: String,
    #[serde(default)]
    reason: String,
}

/// 批准 / 驳回 an enrolment request.
#[post("/federation/enrolments/{id}/decide")]
pub async fn decide(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<DecisionForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let f = form.into_inner();
    caller.check_csrf(&f.csrf)?;
    caller.require_staff(&state, Permission::FederationManage, "enrolments", "federation.enrol_decide").await?;
    let pki = pki_of(&state)?;
    let ctx = caller.audit();
    let id = path.into_inner();
    let approve = f.decision == "approve";
    let done =
        state.db.transaction(move |conn| super::enrolment::decide(conn, &pki, &ctx, &id, approve, &f.reason)).await;
    let o = match done {
        Ok(r) if approve => Outcome {
            notice: format!("已批准 {}（{}）入网，证书已签发。", r.name, r.region),
            ..Outcome::default()
        },
        Ok(r) => Outcome {
            notice: format!("已驳回 {}（{}）的入网申请。", r.name, r.region), ..Outcome::default()
        },
        Err(e) if e.is_for_the_form() => Outcome { error: e.detail_zh, ..Outcome::default() },
        Err(e) => return Err(e),
    };
    view(&state, &caller, String::new(), o).await
}

#[derive(Template)]
#[template(path = "federation/certificates.html")]
struct CertificatesPage {
    shell: Shell,
    certificates: Vec<CertificateRecord>,
    tenants: Vec<crate::tenants::Tenant>,
    can_manage: bool,
    now: chrono::NaiveDateTime,
    notice: String,
    error: String,
    bundle_cert: String,
    bundle_key: String,
}

impl CertificatesPage {
    fn day(&self, t: &chrono::NaiveDateTime) -> String {
        (*t + chrono::TimeDelta::hours(CST_HOURS)).format("%Y-%m-%d").to_string()
    }

    fn short(&self, serial: &str) -> String {
        let head: String = serial.chars().take(12).collect();
        if head.len() < serial.len() {
            format!("{head}…")
        } else {
            head
        }
    }

    fn days_left(&self, c: &CertificateRecord) -> i64 {
        (c.not_after - self.now).num_days()
    }

    fn expiring(&self, c: &CertificateRecord) -> bool {
        !c.is_revoked() && self.days_left(c) < registry::WARN_DAYS
    }

    fn kind_zh(&self, k: &str) -> &'static str {
        match k {
            registry::kind::NODE_CA => "本节点证书机构",
            registry::kind::NODE_SERVER => "本节点联邦端口",
            registry::kind::NODE_CLIENT => "本节点客户端",
            registry::kind::NODE_SIGNING => "本节点 SM2 签名",
            registry::kind::CHILD_CA => "下级节点证书机构",
            registry::kind::TENANT_CLIENT => "租户客户端",
            _ => "其他",
        }
    }

    fn status_zh(&self, c: &CertificateRecord) -> &'static str {
        c.state().label_zh()
    }
}

#[derive(Default)]
struct Issued {
    notice: String,
    error: String,
    cert: String,
    key: String,
}

async fn certificates_view(state: &AppState, caller: &Caller, o: Issued) -> AppResult<HttpResponse> {
    caller.require_staff(state, Permission::FederationRead, "certificates", "pki.read").await?;
    let (certificates, tenants) =
        state.db.run(|conn| Ok((registry::list(conn, true)?, crate::tenants::list_all(conn)?))).await?;
    render(&CertificatesPage {
        shell: Shell::new(state, caller, "证书台账", "/federation"),
        certificates,
        tenants,
        can_manage: caller.can(Permission::FederationManage),
        now: crate::db::now(),
        notice: o.notice,
        error: o.error,
        bundle_cert: o.cert,
        bundle_key: o.key,
    })
}

/// 证书台账: every certificate this node holds or issued.
#[get("/federation/certificates")]
pub async fn certificates_page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    certificates_view(&state, &caller.0, Issued::default()).await
}

/// A tenant certificate to issue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IssueForm {
    csrf: String,
    tenant: String,
    days: u32,
}

fn pki_of(state: &AppState) -> AppResult<crate::pki::NodePki> {
    let pki = crate::pki::NodePki::of(&state.config);
    if !pki.installed() {
        return Err(AppError::invalid("pki", "本节点尚未安装证书机构", "this node has no certificate authority yet"));
    }
    Ok(pki)
}

/// Issues a tenant's client certificate; the key is shown once.
#[post("/federation/certificates/issue")]
pub async fn issue(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<IssueForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let f = form.into_inner();
    caller.check_csrf(&f.csrf)?;
    caller.require_staff(&state, Permission::FederationManage, "certificates", "pki.issue_tenant").await?;
    let pki = pki_of(&state)?;
    let ctx = caller.audit();
    let tenant = f.tenant.clone();
    let issued = state.db.transaction(move |conn| registry::issue_tenant(conn, &pki, &ctx, &f.tenant, f.days)).await;
    let o = match issued {
        Ok(bundle) => {
            let mut cert = String::new();
            for c in &bundle.chain {
                cert.push_str(&String::from_utf8_lossy(&c.to_pem().map_err(AppError::internal)?));
            }
            let key = String::from_utf8_lossy(&bundle.key.private_key_to_pem_pkcs8().map_err(AppError::internal)?)
                .into_owned();
            Issued {
                notice: format!("已为租户 {tenant} 签发客户端证书。私钥只显示这一次，请立即妥善交付。"),
                cert,
                key,
                ..Issued::default()
            }
        }
        Err(e) if e.is_for_the_form() => Issued { error: e.detail_zh, ..Issued::default() },
        Err(e) => return Err(e),
    };
    certificates_view(&state, &caller, o).await
}

/// A revocation as posted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RevokeForm {
    csrf: String,
    reason: String,
}

/// Revokes a certificate and publishes a new revocation list.
#[post("/federation/certificates/{serial}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<RevokeForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let f = form.into_inner();
    caller.check_csrf(&f.csrf)?;
    caller.require_staff(&state, Permission::FederationManage, "certificates", "pki.revoke").await?;
    if f.reason.trim().is_empty() {
        return certificates_view(&state, &caller, Issued { error: "请填写吊销原因。".into(), ..Issued::default() })
            .await;
    }
    let pki = pki_of(&state)?;
    let ctx = caller.audit();
    let serial = path.into_inner();
    let done = state
        .db
        .transaction(move |conn| {
            let (revoked, published) = registry::revoke(conn, &pki, &ctx, &serial, f.reason.trim())?;
            super::mailbox::send_crl_down(conn, &published)?;
            Ok(revoked)
        })
        .await;
    let o = match done {
        Ok(c) => {
            Issued { notice: format!("已吊销 {}，新的吊销列表已发布。", c.subject), ..Issued::default() }
        }
        Err(e) if e.is_for_the_form() => Issued { error: e.detail_zh, ..Issued::default() },
        Err(e) => return Err(e),
    };
    certificates_view(&state, &caller, o).await
}

#[derive(Template)]
#[template(path = "federation/registrations.html")]
struct HeldPage {
    shell: Shell,
    params: super::api::HeldParams,
    total: i64,
    page: i64,
    pages: i64,
    rows: Vec<kinds::registrations::HeldRegistration>,
    error: String,
    /// What the search adds up to, drawn as a tile map of the entities' regions and bars of
    /// the sources.
    analysis: Option<(kinds::registrations::HeldAnalysis, crate::registry::map::MapView)>,
}

impl HeldPage {
    fn when(&self, t: &chrono::NaiveDateTime) -> String {
        when(t)
    }

    fn region_name(&self, code: &str) -> String {
        region_name(code)
    }

    fn kind_zh(&self, k: &str) -> &'static str {
        tracenode_federation::wire::payload::ObjectKind::parse(k).map_or("其他", kinds::registrations::kind_zh)
    }

    /// The request's query with page `at`, for links (the export, the pages).
    fn query_at(&self, at: i64) -> String {
        let mut p = self.params.clone();
        p.page = Some(at);
        serde_urlencoded::to_string(&p).unwrap_or_default()
    }

    /// The search narrowed to entities of region `code`, for a tile's link.
    fn region_query(&self, code: &str) -> String {
        let prefix = crate::region::RegionCode::parse(code).map(|r| r.subtree_prefix().to_owned()).unwrap_or_default();
        let p = super::api::HeldParams {
            region: Some(prefix),
            kind: Some("entity".into()),
            page: None,
            page_size: None,
            ..self.params.clone()
        };
        serde_urlencoded::to_string(&p).unwrap_or_default()
    }

    /// The search narrowed to sources in region `code`, for a bar's link.
    fn source_query(&self, code: &str) -> String {
        let prefix = crate::region::RegionCode::parse(code).map(|r| r.subtree_prefix().to_owned()).unwrap_or_default();
        let p = super::api::HeldParams { within: Some(prefix), page: None, page_size: None, ..self.params.clone() };
        serde_urlencoded::to_string(&p).unwrap_or_default()
    }

    /// A share as a percentage with one decimal.
    fn percent(&self, share: &f64) -> String {
        format!("{:.1}%", share * 100.0)
    }

    /// The search without its paging: what the export writes (up to its own maximum).
    fn export_query(&self) -> String {
        let p = super::api::HeldParams { page: None, page_size: None, ..self.params.clone() };
        serde_urlencoded::to_string(&p).unwrap_or_default()
    }

    fn previous_query(&self) -> String {
        self.query_at(self.page - 1)
    }

    fn next_query(&self) -> String {
        self.query_at(self.page + 1)
    }
}

/// 下级汇总登记: the registrations rolled up from below, searched and paged, with an Excel
/// export of what the search finds.
#[get("/federation/registrations")]
pub async fn held_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    q: web::Query<super::api::HeldParams>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let params = q.into_inner();
    let shell = Shell::new(&state, &caller, "下级汇总登记", "/federation");
    let found = match super::api::held_query(&state, &caller, params.clone(), kinds::registrations::MAX_HELD_PAGE).await
    {
        Ok(q) => {
            let at = q.page;
            let (total, rows, analysis) = state
                .db
                .run(move |conn| {
                    let (total, rows) = kinds::registrations::search(conn, &q)?;
                    Ok((total, rows, kinds::registrations::analyse(conn, &q)?))
                })
                .await?;
            let region = crate::region::RegionCode::parse(&analysis.region)
                .unwrap_or_else(|_| crate::region::RegionCode::national());
            let map = crate::registry::map::MapView::new(&region, &[], &analysis.by_region);
            Ok((total, at, (total + q_size(&params) - 1) / q_size(&params), rows, (analysis, map)))
        }
        Err(e) if e.is_for_the_form() => Err(e.detail_zh),
        Err(e) => return Err(e),
    };
    let view = match found {
        Ok((total, at, pages, rows, analysis)) => {
            HeldPage { shell, params, total, page: at, pages, rows, error: String::new(), analysis: Some(analysis) }
        }
        Err(error) => HeldPage { shell, params, total: 0, page: 1, pages: 0, rows: vec![], error, analysis: None },
    };
    render(&view)
}

fn q_size(p: &super::api::HeldParams) -> i64 {
    p.page_size.unwrap_or(100).max(1)
}

/// This page's entry in the console navigation.
pub const NAV: crate::console::NavItem = crate::console::NavItem::page("/federation", "上下级节点");

/// Registers the pages.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(page)
        .service(run_now)
        .service(decide)
        .service(certificates_page)
        .service(issue)
        .service(revoke)
        .service(held_page);
}
