//! Platform access (平台接入管理): how a third-party traceability platform or an enterprise
//! system comes to report to this node.
//!
//! 1. It files an application on the public form (接入申请填报): the organisation and its
//!    unified social credit code, contacts, the system and its operator, the product
//!    families and stages it serves, its expected volume, the formats it sends and the
//!    addresses it calls from. It gets a token (shown once; only its hash is kept) to check
//!    its status. Applications are bounded per address and in all, every field by length.
//! 2. Staff review it (接入申请审核, `access.review`): approve, or reject with a reason.
//! 3. The system administrator files it (接入系统备案, `access.file`): in one audited
//!    transaction the filing number is given, the tenant made and an API key of the
//!    接入方 role issued (its secret shown this once, to hand over). The reviewer may not
//!    also file it.
//! 4. 对接监控: each filed platform's last contact, volume, rejection rate, latency, alerts
//!    and credentials ([`monitor`]); suspension (the tenant stops acting) and revocation (its
//!    keys revoked, the tenant disabled) are audited too.

pub mod api;
pub mod monitor;
pub mod pages;

use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracenode_adapters::codes::Stage;
use tracenode_adapters::identifiers::Uscc;

use crate::audit::{self, AuditContext, Outcome};
use crate::config::address_range::Range;
use crate::db::schema::access_applications as aa;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::region::RegionCode;
use crate::tenants::{NewTenant, TenantKind};

/// Applications waiting for review at once, from everywhere.
pub const MAX_WAITING: i64 = 200;
/// Applications waiting from one address.
pub const MAX_WAITING_PER_ADDRESS: i64 = 3;
/// Applications one address may file in an hour.
pub const MAX_PER_HOUR_PER_ADDRESS: i64 = 10;
/// The most bytes an application's body may take.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Items a list of an application (families, stages, formats, addresses) may hold.
pub const MAX_LIST: usize = 20;
/// Applications a list shows at most.
pub const PAGE: i64 = 500;

/// The formats an applicant may say it sends.
pub const FORMATS: [(&str, &str); 6] = [
    ("xml", "GB/T 21062 风格 XML 交换报文"),
    ("csv", "CSV"),
    ("json", "JSON"),
    ("ndjson", "NDJSON"),
    ("epcis", "GS1 EPCIS 2.0"),
    ("vendor", "平台自有格式（映射）"),
];

crate::text_status! {
    /// Where an application stands.
    pub enum ApplicationStatus {
        /// Filed by the applicant, waiting for review.
        Submitted = "submitted" / "待审核",
        /// Approved, waiting to be filed.
        Approved = "approved" / "审核通过，待备案",
        /// Not approved, with a reason.
        Rejected = "rejected" / "未通过",
        /// Filed: the platform is a tenant with credentials.
        Filed = "filed" / "已备案",
        /// Filed, and suspended: its tenant may not act.
        Suspended = "suspended" / "已暂停",
        /// Filed, and revoked for good: its keys are revoked, its tenant disabled.
        Revoked = "revoked" / "已撤销",
    }
}

/// What an applicant sends.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// `platform` (a third-party traceability platform) or `enterprise` (an enterprise's own
    /// system).
    pub kind: String,
    /// The organisation's name, 2–100 characters.
    pub org_name: String,
    /// Its unified social credit code (GB 32100).
    pub org_code: String,
    /// The region (GB/T 2260) it is registered in, inside this node's.
    pub region: String,
    /// Contact person, 1–50 characters.
    pub contact_name: String,
    /// Contact phone, 7–20 digits, `+`, `-` or spaces.
    pub contact_phone: String,
    /// Contact e-mail address.
    pub contact_email: String,
    /// The system's name, 1–100 characters.
    pub system_name: String,
    /// Who runs the system, 1–100 characters.
    pub system_operator: String,
    /// Product families it serves (e.g. 肉类、蔬菜), up to 20 of 1–30 characters.
    #[serde(default)]
    pub families: Vec<String>,
    /// Stages it serves (stage codes), up to 7.
    #[serde(default)]
    pub stages: Vec<String>,
    /// Trace records a day it expects to send (0–100,000,000).
    #[serde(default)]
    pub volume_per_day: i64,
    /// Formats it sends: `xml`, `csv`, `json`, `ndjson`, `epcis`, `vendor`.
    #[serde(default)]
    pub formats: Vec<String>,
    /// Addresses it calls from (CIDR or single addresses), up to 20.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Anything else, up to 500 characters.
    #[serde(default)]
    pub note: String,
}

/// The lists and figures of an application, kept together as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplicationDetails {
    /// Product families.
    pub families: Vec<String>,
    /// Stage codes.
    pub stages: Vec<String>,
    /// Records a day.
    pub volume_per_day: i64,
    /// Formats.
    pub formats: Vec<String>,
    /// Addresses.
    pub addresses: Vec<String>,
    /// Note.
    pub note: String,
}

/// An application as staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Application {
    /// Id.
    pub id: String,
    /// Status.
    pub status: ApplicationStatus,
    /// `platform` or `enterprise`.
    pub kind: String,
    /// Organisation.
    pub org_name: String,
    /// Its unified social credit code.
    pub org_code: String,
    /// Its region.
    pub region: String,
    /// Contact person.
    pub contact_name: String,
    /// Contact phone.
    pub contact_phone: String,
    /// Contact e-mail.
    pub contact_email: String,
    /// System.
    pub system_name: String,
    /// Its operator.
    pub system_operator: String,
    /// Lists and figures.
    pub details: ApplicationDetails,
    /// Where it was filed from.
    pub source_ip: String,
    /// When (UTC).
    pub created_at: NaiveDateTime,
    /// Who reviewed it.
    pub reviewed_by: Option<String>,
    /// When (UTC).
    pub reviewed_at: Option<NaiveDateTime>,
    /// Why it was rejected, suspended or revoked.
    pub reason: String,
    /// Its filing number (备案号).
    pub filing_number: Option<String>,
    /// Who filed it.
    pub filed_by: Option<String>,
    /// When (UTC).
    pub filed_at: Option<NaiveDateTime>,
    /// The tenant filing made.
    pub tenant_id: Option<String>,
}

/// What the applicant sees with its token.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApplicationStanding {
    /// Status.
    pub status: ApplicationStatus,
    /// Its Chinese label.
    pub status_zh: &'static str,
    /// Why it was rejected, suspended or revoked.
    pub reason: String,
    /// The filing number, once filed.
    pub filing_number: Option<String>,
    /// The system's name.
    pub system_name: String,
    /// When it was filed (UTC).
    pub created_at: NaiveDateTime,
}

/// A filed application: the secret of the API key issued, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Filed {
    /// The application.
    pub application: Application,
    /// The tenant's code.
    pub tenant_code: String,
    /// The API key's secret (`Authorization: Bearer …`).
    pub api_key: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = aa)]
struct Row {
    id: String,
    status: String,
    kind: String,
    org_name: String,
    org_code: String,
    region: String,
    contact_name: String,
    contact_phone: String,
    contact_email: String,
    system_name: String,
    system_operator: String,
    details: String,
    source_ip: String,
    created_at: NaiveDateTime,
    reviewed_by: Option<String>,
    reviewed_at: Option<NaiveDateTime>,
    reason: String,
    filing_number: Option<String>,
    filed_by: Option<String>,
    filed_at: Option<NaiveDateTime>,
    tenant_id: Option<String>,
}

fn from_row(r: Row) -> AppResult<Application> {
    Ok(Application {
        status: ApplicationStatus::parse(&r.status)
            .ok_or_else(|| AppError::internal(format!("status {}", r.status)))?,
        details: serde_json::from_str(&r.details).map_err(AppError::internal)?,
        id: r.id,
        kind: r.kind,
        org_name: r.org_name,
        org_code: r.org_code,
        region: r.region,
        contact_name: r.contact_name,
        contact_phone: r.contact_phone,
        contact_email: r.contact_email,
        system_name: r.system_name,
        system_operator: r.system_operator,
        source_ip: r.source_ip,
        created_at: r.created_at,
        reviewed_by: r.reviewed_by,
        reviewed_at: r.reviewed_at,
        reason: r.reason,
        filing_number: r.filing_number,
        filed_by: r.filed_by,
        filed_at: r.filed_at,
        tenant_id: r.tenant_id,
    })
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn length(field: &str, label: &str, text: &str, min: usize, max: usize) -> AppResult<String> {
    let t = text.trim();
    let n = t.chars().count();
    if n < min || n > max || t.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("{label}应为 {min}–{max} 个字符"),
            format!("{field} takes {min}–{max} characters"),
        ));
    }
    Ok(t.to_owned())
}

fn list(
    field: &str,
    label: &str,
    items: &[String],
    each: impl Fn(usize, &str) -> AppResult<String>,
) -> AppResult<Vec<String>> {
    if items.len() > MAX_LIST {
        return Err(AppError::invalid(
            field,
            format!("{label}最多 {MAX_LIST} 项"),
            format!("{field} holds at most {MAX_LIST} items"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let v = each(i, item)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text.len() <= 100
        && text.chars().all(|c| c.is_ascii_graphic())
}

/// The input checked and cleaned, each fault naming its field.
fn check(own: &RegionCode, input: &ApplicationInput) -> AppResult<(ApplicationInput, ApplicationDetails)> {
    let kind = match input.kind.as_str() {
        "platform" | "enterprise" => input.kind.clone(),
        _ => {
            return Err(AppError::invalid(
                "kind",
                "类型应为第三方追溯平台或企业自建系统",
                "kind is platform or enterprise",
            ))
        }
    };
    let org_code = Uscc::parse(input.org_code.trim())
        .map_err(|e| AppError::from_identifier("org_code", "统一社会信用代码", "unified social credit code: ", &e))?
        .to_string();
    let region = RegionCode::parse(input.region.trim())?;
    if !own.contains(&region) {
        return Err(AppError::invalid("region", "所在地区不在本节点辖区之内", "the region lies outside this node's"));
    }
    let phone = input.contact_phone.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !(7..=20).contains(&digits)
        || !phone.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c))
        || phone.len() > 24
    {
        return Err(AppError::invalid("contact_phone", "联系电话应为 7–20 位数字", "a phone number has 7–20 digits"));
    }
    let email = input.contact_email.trim();
    if !is_email(email) {
        return Err(AppError::invalid("contact_email", "电子邮箱格式不正确", "not an e-mail address"));
    }
    let families = list("families", "产品类别", &input.families, |i, f| {
        length(&format!("families[{i}]"), "产品类别", f, 1, 30)
    })?;
    let stages = list("stages", "环节", &input.stages, |i, s| {
        Stage::from_code(s.trim()).map(|s| s.code().to_owned()).ok_or_else(|| {
            AppError::invalid(&format!("stages[{i}]"), format!("未知环节 {s}"), format!("unknown stage {s}"))
        })
    })?;
    let formats = list("formats", "数据格式", &input.formats, |i, f| {
        FORMATS.iter().find(|(code, _)| *code == f.trim()).map(|(code, _)| (*code).to_owned()).ok_or_else(|| {
            AppError::invalid(&format!("formats[{i}]"), format!("未知格式 {f}"), format!("unknown format {f}"))
        })
    })?;
    let addresses = list("addresses", "来源地址", &input.addresses, |i, a| {
        Range::parse(a).map(|_| a.trim().to_owned()).ok_or_else(|| {
            AppError::invalid(
                &format!("addresses[{i}]"),
                format!("“{a}”不是 IP 地址或网段"),
                format!("“{a}” is no address or CIDR range"),
            )
        })
    })?;
    if !(0..=100_000_000).contains(&input.volume_per_day) {
        return Err(AppError::invalid(
            "volume_per_day",
            "日均数据量应在 0 到 1 亿条之间",
            "volume_per_day lies between 0 and 100,000,000",
        ));
    }
    let cleaned = ApplicationInput {
        kind,
        org_name: length("org_name", "单位名称", &input.org_name, 2, 100)?,
        org_code,
        region: region.as_str().to_owned(),
        contact_name: length("contact_name", "联系人", &input.contact_name, 1, 50)?,
        contact_phone: phone.to_owned(),
        contact_email: email.to_owned(),
        system_name: length("system_name", "系统名称", &input.system_name, 1, 100)?,
        system_operator: length("system_operator", "系统运营单位", &input.system_operator, 1, 100)?,
        ..Default::default()
    };
    let note =
        if input.note.trim().is_empty() { String::new() } else { length("note", "备注", &input.note, 0, 500)? };
    Ok((
        cleaned,
        ApplicationDetails { families, stages, volume_per_day: input.volume_per_day, formats, addresses, note },
    ))
}

/// Takes an application from the public form, audited as the anonymous caller of `ctx`;
/// returns it and the token that checks its status (shown this once).
pub fn submit(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    own: &RegionCode,
    input: &ApplicationInput,
) -> AppResult<(Application, String)> {
    let (clean, details) = check(own, input)?;
    let waiting = || aa::table.filter(aa::status.eq(ApplicationStatus::Submitted.as_str()));
    if waiting().count().get_result::<i64>(conn)? >= MAX_WAITING {
        return Err(AppError::with_detail(
            ErrorKind::RateLimited,
            "待审核的接入申请已满，请稍后再提交",
            "too many applications wait for review; try again later",
        ));
    }
    let from_here = waiting().filter(aa::source_ip.eq(&ctx.source_ip)).count().get_result::<i64>(conn)?;
    let hour_ago = db::now() - chrono::TimeDelta::hours(1);
    let this_hour = aa::table
        .filter(aa::source_ip.eq(&ctx.source_ip))
        .filter(aa::created_at.gt(hour_ago))
        .count()
        .get_result::<i64>(conn)?;
    if from_here >= MAX_WAITING_PER_ADDRESS || this_hour >= MAX_PER_HOUR_PER_ADDRESS {
        return Err(AppError::with_detail(
            ErrorKind::RateLimited,
            format!("来自 {} 的接入申请过多，请待已提交的申请审核后再提交", ctx.source_ip),
            format!("too many applications from {}; wait for those filed to be reviewed", ctx.source_ip),
        ));
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(aa::table)
        .values((
            aa::id.eq(&id),
            aa::status.eq(ApplicationStatus::Submitted.as_str()),
            aa::kind.eq(&clean.kind),
            aa::org_name.eq(&clean.org_name),
            aa::org_code.eq(&clean.org_code),
            aa::region.eq(&clean.region),
            aa::contact_name.eq(&clean.contact_name),
            aa::contact_phone.eq(&clean.contact_phone),
            aa::contact_email.eq(&clean.contact_email),
            aa::system_name.eq(&clean.system_name),
            aa::system_operator.eq(&clean.system_operator),
            aa::details.eq(serde_json::to_string(&details).map_err(AppError::internal)?),
            aa::token_hash.eq(hash(&token)),
            aa::source_ip.eq(&ctx.source_ip),
            aa::created_at.eq(db::now()),
            aa::reason.eq(""),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "access.apply",
        &object(&id),
        Outcome::Success,
        serde_json::json!({"org_code": clean.org_code, "system": clean.system_name}),
    )?;
    Ok((get(conn, &id)?, token))
}

fn object(id: &str) -> String {
    format!("access_application:{id}")
}

/// The application `id`.
pub fn get(conn: &mut DbConnection, id: &str) -> AppResult<Application> {
    let row: Option<Row> = aa::table.find(id).select(Row::as_select()).first(conn).optional()?;
    from_row(row.ok_or_else(|| AppError::not_found("接入申请", "application"))?)
}

/// What the holder of `token` may know of its application.
pub fn standing(conn: &mut DbConnection, token: &str) -> AppResult<ApplicationStanding> {
    let row: Option<Row> =
        aa::table.filter(aa::token_hash.eq(hash(token.trim()))).select(Row::as_select()).first(conn).optional()?;
    let a = from_row(row.ok_or_else(|| AppError::not_found("接入申请", "application"))?)?;
    Ok(ApplicationStanding {
        status_zh: a.status.label_zh(),
        status: a.status,
        reason: a.reason,
        filing_number: a.filing_number,
        system_name: a.system_name,
        created_at: a.created_at,
    })
}

/// Applications of `status` (all when `None`), newest first, at most [`PAGE`].
pub fn list_all(conn: &mut DbConnection, status: Option<ApplicationStatus>) -> AppResult<Vec<Application>> {
    let mut q = aa::table.into_boxed();
    if let Some(s) = status {
        q = q.filter(aa::status.eq(s.as_str()));
    }
    let rows: Vec<Row> = q.order(aa::created_at.desc()).limit(PAGE).select(Row::as_select()).load(conn)?;
    rows.into_iter().map(from_row).collect()
}

fn require_status(a: &Application, wanted: &[ApplicationStatus]) -> AppResult<()> {
    if wanted.contains(&a.status) {
        return Ok(());
    }
    Err(AppError::conflict(
        format!("申请{}，不能办理此操作", a.status.label_zh()),
        format!("the application is {}", a.status),
    ))
}

fn reason_of(reason: &str) -> AppResult<String> {
    length("reason", "原因", reason, 1, 500)
}

/// A reviewer's decision.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationReview {
    /// Approve (`true`) or reject.
    pub approve: bool,
    /// Why it is rejected (required then, up to 500 characters).
    #[serde(default)]
    pub reason: String,
}

/// Approves or rejects a submitted application, audited.
pub fn review(conn: &mut DbConnection, ctx: &AuditContext, id: &str, r: &ApplicationReview) -> AppResult<Application> {
    let a = get(conn, id)?;
    require_status(&a, &[ApplicationStatus::Submitted])?;
    let (status, reason) = if r.approve {
        (ApplicationStatus::Approved, String::new())
    } else {
        (ApplicationStatus::Rejected, reason_of(&r.reason)?)
    };
    diesel::update(aa::table.find(id))
        .set((
            aa::status.eq(status.as_str()),
            aa::reviewed_by.eq(Some(&ctx.actor)),
            aa::reviewed_at.eq(Some(db::now())),
            aa::reason.eq(&reason),
        ))
        .execute(conn)?;
    let action = if r.approve { "access.approve" } else { "access.reject" };
    audit::record(conn, ctx, action, &object(id), Outcome::Success, serde_json::json!({"reason": reason}))?;
    get(conn, id)
}

/// How an approved application is filed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filing {
    /// The tenant's code: 2–32 of `a-z`, `0-9`, `_`, `-`.
    pub tenant_code: String,
}

/// The next filing number of this node: `<region>-JR-<year>-<nnnn>`.
fn next_number(conn: &mut DbConnection, own: &RegionCode) -> AppResult<String> {
    let prefix = format!("{}-JR-{}-", own.as_str(), chrono::Utc::now().year());
    let last: Option<String> = aa::table
        .filter(aa::filing_number.like(format!("{prefix}%")))
        .select(diesel::dsl::max(aa::filing_number))
        .first(conn)?;
    let n = last.and_then(|l| l.rsplit('-').next().and_then(|d| d.parse::<u32>().ok())).unwrap_or(0) + 1;
    Ok(format!("{prefix}{n:04}"))
}

/// Files an approved application in one transaction: the filing number, the tenant, and an
/// API key of the 接入方 role. Whoever reviewed it may not file it.
pub fn file(conn: &mut DbConnection, ctx: &AuditContext, own: &RegionCode, id: &str, f: &Filing) -> AppResult<Filed> {
    let a = get(conn, id)?;
    require_status(&a, &[ApplicationStatus::Approved])?;
    if a.reviewed_by.as_deref() == Some(ctx.actor.as_str()) {
        return Err(AppError::with_detail(
            ErrorKind::SeparationOfDuties,
            "审核人不能同时为该申请办理备案",
            "whoever reviewed an application cannot also file it",
        ));
    }
    let kind = if a.kind == "enterprise" { TenantKind::Enterprise } else { TenantKind::Platform };
    let contact = format!("{} {}", a.contact_name, a.contact_phone).chars().take(100).collect();
    let new = NewTenant {
        code: f.tenant_code.trim().to_owned(),
        name: a.org_name.clone(),
        kind,
        region: a.region.clone(),
        contact,
    };
    let tenant = crate::tenants::create(conn, ctx, own, &new).map_err(|e| match e.field.as_deref() {
        Some("code") => AppError { field: Some("tenant_code".into()), ..e },
        _ => e,
    })?;
    let role = crate::users::roles::list(conn)?
        .into_iter()
        .find(|r| r.code == crate::users::permission::TENANT_CLIENT)
        .ok_or_else(|| AppError::internal("no tenant-client role"))?;
    let number = next_number(conn, own)?;
    let key = crate::auth::api_key::create(
        conn,
        ctx,
        &crate::auth::api_key::NewApiKey {
            tenant_id: tenant.id.clone(),
            role_id: role.id,
            name: format!("接入备案 {number}"),
        },
    )?;
    diesel::update(aa::table.find(id))
        .set((
            aa::status.eq(ApplicationStatus::Filed.as_str()),
            aa::filing_number.eq(Some(&number)),
            aa::filed_by.eq(Some(&ctx.actor)),
            aa::filed_at.eq(Some(db::now())),
            aa::tenant_id.eq(Some(tenant.id.as_str())),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "access.file",
        &object(id),
        Outcome::Success,
        serde_json::json!({"filing_number": number, "tenant": tenant.code, "key": key.key.prefix}),
    )?;
    Ok(Filed { application: get(conn, id)?, tenant_code: tenant.code, api_key: key.secret })
}

/// Suspends a filed platform (its tenant stops acting) or resumes a suspended one, audited.
pub fn suspend(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    id: &str,
    suspended: bool,
    reason: &str,
) -> AppResult<Application> {
    let a = get(conn, id)?;
    let (from, to) = if suspended {
        (ApplicationStatus::Filed, ApplicationStatus::Suspended)
    } else {
        (ApplicationStatus::Suspended, ApplicationStatus::Filed)
    };
    require_status(&a, &[from])?;
    let reason = if suspended { reason_of(reason)? } else { String::new() };
    let tenant = crate::ids::TenantId::parse(a.tenant_id.as_deref().unwrap_or_default())?;
    crate::tenants::set_status(conn, ctx, &tenant, !suspended)?;
    diesel::update(aa::table.find(id))
        .set((
            aa::status.eq(to.as_str()),
            aa::reason.eq(&reason),
            aa::changed_by.eq(Some(&ctx.actor)),
            aa::changed_at.eq(Some(db::now())),
        ))
        .execute(conn)?;
    let action = if suspended { "access.suspend" } else { "access.resume" };
    audit::record(conn, ctx, action, &object(id), Outcome::Success, serde_json::json!({"reason": reason}))?;
    get(conn, id)
}

/// Revokes a filed or suspended platform for good: every key of its tenant revoked, the
/// tenant disabled. Audited.
pub fn revoke(conn: &mut DbConnection, ctx: &AuditContext, id: &str, reason: &str) -> AppResult<Application> {
    let a = get(conn, id)?;
    require_status(&a, &[ApplicationStatus::Filed, ApplicationStatus::Suspended])?;
    let reason = reason_of(reason)?;
    let tenant = crate::ids::TenantId::parse(a.tenant_id.as_deref().unwrap_or_default())?;
    for key in crate::auth::api_key::list(conn, Some(&tenant))?.into_iter().filter(|k| k.revoked_at.is_none()) {
        crate::auth::api_key::revoke(conn, ctx, &key.id)?;
    }
    if crate::tenants::get(conn, &tenant)?.is_active() {
        crate::tenants::set_status(conn, ctx, &tenant, false)?;
    }
    diesel::update(aa::table.find(id))
        .set((
            aa::status.eq(ApplicationStatus::Revoked.as_str()),
            aa::reason.eq(&reason),
            aa::changed_by.eq(Some(&ctx.actor)),
            aa::changed_at.eq(Some(db::now())),
        ))
        .execute(conn)?;
    audit::record(conn, ctx, "access.revoke", &object(id), Outcome::Success, serde_json::json!({"reason": reason}))?;
    get(conn, id)
}
