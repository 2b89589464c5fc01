//! Forms as this node keeps them: its own (defined here, changed while a draft, published,
//! withdrawn) and those published above and received down the mailbox, which it reports
//! alike and never edits. For each form the node keeps its reporting units (tenants of this
//! node) and the periods its staff have closed.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::form::{self, Definition, FormInput, Indicator};
use super::period::{Frequency, Period};
use super::rules::Rule;
use super::Tiers;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::{industry_form_units as fu, industry_forms as f, industry_periods as ip, tenants};
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;

/// Forms a node lists at most (a tier has a handful; this bounds every list of them).
pub const MAX_FORMS: i64 = 1_000;
/// Reporting units one form may have at one node.
pub const MAX_UNITS: usize = 10_000;

crate::text_status! {
    /// Where a form stands.
    pub enum FormStatus {
        /// Being defined; no one reports it yet.
        Draft = "draft" / "草稿",
        /// In force: units report it.
        Published = "published" / "已发布",
        /// No longer reported; what was reported stays.
        Withdrawn = "withdrawn" / "已停用",
    }
}

/// A form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Form {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Edition of the 三新 classification.
    pub edition: String,
    /// Frequency.
    pub frequency: Frequency,
    /// Days after a period's end its reports are due.
    pub deadline_days: i32,
    /// The region of the node that defined it.
    pub origin: String,
    /// Status.
    pub status: FormStatus,
    /// Indicators.
    pub indicators: Vec<Indicator>,
    /// Check rules.
    pub rules: Vec<String>,
    /// Defined (UTC).
    pub created_at: NaiveDateTime,
    /// Published (UTC).
    pub published_at: Option<NaiveDateTime>,
}

type Row = (String, String, String, String, i32, String, String, String, NaiveDateTime, Option<NaiveDateTime>);

fn columns() -> (
    f::code,
    f::name,
    f::edition,
    f::frequency,
    f::deadline_days,
    f::origin,
    f::status,
    f::definition,
    f::created_at,
    f::published_at,
) {
    (
        f::code,
        f::name,
        f::edition,
        f::frequency,
        f::deadline_days,
        f::origin,
        f::status,
        f::definition,
        f::created_at,
        f::published_at,
    )
}

fn from_row(row: Row) -> AppResult<Form> {
    let (code, name, edition, frequency, deadline_days, origin, status, definition, created_at, published_at) = row;
    let d: Definition = serde_json::from_str(&definition).map_err(AppError::internal)?;
    Ok(Form {
        frequency: Frequency::parse(&frequency).ok_or_else(|| AppError::internal(format!("frequency {frequency}")))?,
        status: FormStatus::parse(&status).ok_or_else(|| AppError::internal(format!("form status {status}")))?,
        code,
        name,
        edition,
        deadline_days,
        origin,
        indicators: d.indicators,
        rules: d.rules,
        created_at,
        published_at,
    })
}

impl Form {
    /// `text` as one of its periods (a 422 on `field` otherwise).
    pub fn period(&self, field: &str, text: &str) -> AppResult<Period> {
        Period::parse(field, self.frequency, text)
    }

    /// The indicator `code`.
    pub fn indicator(&self, code: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.code == code)
    }

    /// Its rules, parsed.
    pub fn parsed_rules(&self) -> Vec<Rule> {
        let codes: BTreeSet<&str> = self.indicators.iter().map(|i| i.code.as_str()).collect();
        self.rules.iter().filter_map(|r| Rule::parse(r, &codes).ok()).collect()
    }

    /// Whether it was defined at the node of `region`.
    pub fn is_own(&self, region: &str) -> bool {
        self.origin == region
    }
}

fn definition_text(input: &FormInput) -> AppResult<(String, String)> {
    let d = Definition { indicators: input.indicators.clone(), rules: input.rules.clone() };
    let text = serde_json::to_string(&d).map_err(AppError::internal)?;
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    Ok((text, digest))
}

/// Every form, newest first (at most [`MAX_FORMS`]).
pub fn list(conn: &mut DbConnection) -> AppResult<Vec<Form>> {
    let rows: Vec<Row> = f::table.order(f::created_at.desc()).limit(MAX_FORMS).select(columns()).load(conn)?;
    rows.into_iter().map(from_row).collect()
}

/// The form `code`.
pub fn get(conn: &mut DbConnection, code: &str) -> AppResult<Form> {
    find(conn, code)?.ok_or_else(|| AppError::not_found("报表制度", "form"))
}

/// The form `code`, if held.
pub fn find(conn: &mut DbConnection, code: &str) -> AppResult<Option<Form>> {
    let row: Option<Row> = f::table.find(code).select(columns()).first(conn).optional()?;
    row.map(from_row).transpose()
}

fn check_input(conn: &mut DbConnection, input: &FormInput) -> AppResult<()> {
    let edition = input.edition.clone();
    form::check(input, &mut |code| Ok(super::classification::find(conn, &edition, code)?.is_some()))
}

/// Defines a form at this node (of `own` region), as a draft, with an audit row.
pub fn create(conn: &mut DbConnection, ctx: &AuditContext, own: &str, input: &FormInput) -> AppResult<Form> {
    check_input(conn, input)?;
    if find(conn, &input.code)?.is_some() {
        return Err(AppError::conflict(
            format!("报表代码 {} 已存在", input.code),
            format!("form code {} is taken", input.code),
        ));
    }
    let (definition, digest) = definition_text(input)?;
    diesel::insert_into(f::table)
        .values((
            f::code.eq(&input.code),
            f::name.eq(input.name.trim()),
            f::edition.eq(&input.edition),
            f::frequency.eq(input.frequency.as_str()),
            f::deadline_days.eq(input.deadline_days),
            f::origin.eq(own),
            f::status.eq(FormStatus::Draft.as_str()),
            f::definition.eq(&definition),
            f::digest.eq(&digest),
            f::created_at.eq(db::now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "industry_form.create",
        &object(&input.code),
        Outcome::Success,
        serde_json::json!({"digest": digest}),
    )?;
    get(conn, &input.code)
}

fn object(code: &str) -> String {
    format!("industry_form:{code}")
}

/// The form `code` if this node defined it and it is still a draft.
fn own_draft(conn: &mut DbConnection, own: &str, code: &str) -> AppResult<Form> {
    let form = get(conn, code)?;
    if !form.is_own(own) {
        return Err(AppError::conflict(
            format!("报表 {code} 由上级节点（{}）制定，本级不能修改", form.origin),
            format!("form {code} was defined above (at {}); it cannot be changed here", form.origin),
        ));
    }
    if form.status != FormStatus::Draft {
        return Err(AppError::conflict(
            format!("报表 {code} 已{}，不能再修改", form.status.label_zh()),
            format!("form {code} is {} and can no longer be changed", form.status),
        ));
    }
    Ok(form)
}

/// Replaces a draft's definition, with an audit row.
pub fn update(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    own: &str,
    code: &str,
    input: &FormInput,
) -> AppResult<Form> {
    own_draft(conn, own, code)?;
    if input.code != code {
        return Err(AppError::invalid("code", "报表代码不能修改", "a form's code cannot change"));
    }
    check_input(conn, input)?;
    let (definition, digest) = definition_text(input)?;
    diesel::update(f::table.find(code))
        .set((
            f::name.eq(input.name.trim()),
            f::edition.eq(&input.edition),
            f::frequency.eq(input.frequency.as_str()),
            f::deadline_days.eq(input.deadline_days),
            f::definition.eq(&definition),
            f::digest.eq(&digest),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "industry_form.update",
        &object(code),
        Outcome::Success,
        serde_json::json!({"digest": digest}),
    )?;
    get(conn, code)
}

/// Publishes a draft: units may report it from now on, and it goes down to every node below.
pub fn publish(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    own: &str,
    code: &str,
    tiers: Option<&dyn Tiers>,
) -> AppResult<Form> {
    own_draft(conn, own, code)?;
    diesel::update(f::table.find(code))
        .set((f::status.eq(FormStatus::Published.as_str()), f::published_at.eq(Some(db::now()))))
        .execute(conn)?;
    let form = get(conn, code)?;
    if let Some(t) = tiers {
        t.send_down(conn, &form)?;
    }
    audit::record(conn, ctx, "industry_form.publish", &object(code), Outcome::Success, serde_json::json!({}))?;
    Ok(form)
}

/// Withdraws a published form of this node's, here and below; what was reported stays.
pub fn withdraw(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    own: &str,
    code: &str,
    tiers: Option<&dyn Tiers>,
) -> AppResult<Form> {
    let form = get(conn, code)?;
    if !form.is_own(own) || form.status != FormStatus::Published {
        return Err(AppError::conflict(
            format!("只能停用本级制定且已发布的报表（{code} 为{}，制定于 {}）", form.status.label_zh(), form.origin),
            format!(
                "only a published form of this node's can be withdrawn ({code} is {}, from {})",
                form.status, form.origin
            ),
        ));
    }
    diesel::update(f::table.find(code)).set(f::status.eq(FormStatus::Withdrawn.as_str())).execute(conn)?;
    let form = get(conn, code)?;
    if let Some(t) = tiers {
        t.send_down(conn, &form)?;
    }
    audit::record(conn, ctx, "industry_form.withdraw", &object(code), Outcome::Success, serde_json::json!({}))?;
    Ok(form)
}

/// Takes a form that came down from the node of `origin`: kept as it came, replacing the copy
/// held from the same origin; a form of the same code defined elsewhere is refused. Returns
/// what was done.
pub fn receive(conn: &mut DbConnection, origin: &str, document: &Form) -> AppResult<String> {
    if document.origin != origin {
        return Err(AppError::invalid(
            "origin",
            format!("报表 {} 声称制定于 {}，却来自 {origin}", document.code, document.origin),
            format!("form {} says it comes from {}, but came from {origin}", document.code, document.origin),
        ));
    }
    if document.status == FormStatus::Draft {
        return Err(AppError::invalid("status", "草稿不下发", "a draft does not go down"));
    }
    let input = FormInput {
        code: document.code.clone(),
        name: document.name.clone(),
        edition: document.edition.clone(),
        frequency: document.frequency,
        deadline_days: document.deadline_days,
        indicators: document.indicators.clone(),
        rules: document.rules.clone(),
    };
    // The classes are the defining node's to check: this node may not hold the edition.
    form::check(&input, &mut |_| Ok(true))?;
    let (definition, digest) = definition_text(&input)?;
    match find(conn, &document.code)? {
        Some(held) if held.origin != origin => Err(AppError::conflict(
            format!("本级已有代码为 {} 的报表（制定于 {}）", document.code, held.origin),
            format!("this node holds another form {} (from {})", document.code, held.origin),
        )),
        Some(_) => {
            diesel::update(f::table.find(&document.code))
                .set((
                    f::name.eq(&document.name),
                    f::edition.eq(&document.edition),
                    f::frequency.eq(document.frequency.as_str()),
                    f::deadline_days.eq(document.deadline_days),
                    f::status.eq(document.status.as_str()),
                    f::definition.eq(&definition),
                    f::digest.eq(&digest),
                    f::published_at.eq(document.published_at),
                ))
                .execute(conn)?;
            Ok(format!("form {} {} from {origin}", document.code, document.status))
        }
        None => {
            diesel::insert_into(f::table)
                .values((
                    f::code.eq(&document.code),
                    f::name.eq(&document.name),
                    f::edition.eq(&document.edition),
                    f::frequency.eq(document.frequency.as_str()),
                    f::deadline_days.eq(document.deadline_days),
                    f::origin.eq(origin),
                    f::status.eq(document.status.as_str()),
                    f::definition.eq(&definition),
                    f::digest.eq(&digest),
                    f::created_at.eq(db::now()),
                    f::published_at.eq(document.published_at),
                ))
                .execute(conn)?;
            Ok(format!("form {} received from {origin}", document.code))
        }
    }
}

/// A reporting unit of a form.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unit {
    /// The tenant's id.
    pub tenant_id: String,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
}

/// The reporting units of form `code` at this node, by tenant code.
pub fn units(conn: &mut DbConnection, code: &str) -> AppResult<Vec<Unit>> {
    let rows: Vec<(String, String, String, String)> = fu::table
        .inner_join(tenants::table.on(tenants::id.eq(fu::tenant_id)))
        .filter(fu::form_code.eq(code))
        .order(tenants::code.asc())
        .select((tenants::id, tenants::code, tenants::name, tenants::region))
        .load(conn)?;
    Ok(rows.into_iter().map(|(tenant_id, code, name, region)| Unit { tenant_id, code, name, region }).collect())
}

/// Whether `tenant` reports form `code` here.
pub fn is_unit(conn: &mut DbConnection, code: &str, tenant: &TenantId) -> AppResult<bool> {
    Ok(fu::table.find((code, tenant.as_str())).count().get_result::<i64>(conn)? > 0)
}

/// Sets the reporting units of form `code` (tenants of this node), with an audit row.
pub fn set_units(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    code: &str,
    tenant_ids: &[String],
) -> AppResult<Vec<Unit>> {
    let form = get(conn, code)?;
    if form.status == FormStatus::Withdrawn {
        return Err(AppError::conflict("报表已停用", format!("form {code} is withdrawn")));
    }
    if tenant_ids.len() > MAX_UNITS {
        return Err(AppError::invalid(
            "tenant_ids",
            format!("报送单位不能超过 {MAX_UNITS} 个"),
            format!("a form has at most {MAX_UNITS} reporting units here"),
        ));
    }
    let wanted: BTreeSet<&str> = tenant_ids.iter().map(String::as_str).collect();
    for (i, id) in wanted.iter().enumerate() {
        let tenant = TenantId::parse(id).map_err(|_| bad_unit(i, id))?;
        crate::tenants::get(conn, &tenant).map_err(|_| bad_unit(i, id))?;
    }
    diesel::delete(fu::table.filter(fu::form_code.eq(code))).execute(conn)?;
    for id in &wanted {
        diesel::insert_into(fu::table).values((fu::form_code.eq(code), fu::tenant_id.eq(*id))).execute(conn)?;
    }
    audit::record(
        conn,
        ctx,
        "industry_form.units",
        &object(code),
        Outcome::Success,
        serde_json::json!({"units": wanted}),
    )?;
    units(conn, code)
}

fn bad_unit(i: usize, id: &str) -> AppError {
    AppError::invalid(&format!("tenant_ids[{i}]"), format!("租户 {id} 不存在"), format!("no tenant {id}"))
}

/// Whether staff closed period `period` of form `code`.
pub fn is_closed(conn: &mut DbConnection, code: &str, period: &Period) -> AppResult<bool> {
    Ok(ip::table.find((code, period.to_string())).count().get_result::<i64>(conn)? > 0)
}

/// Closes a period of a form: no report is taken for it any more, with an audit row.
pub fn close(conn: &mut DbConnection, ctx: &AuditContext, code: &str, period: &Period) -> AppResult<()> {
    if is_closed(conn, code, period)? {
        return Err(AppError::conflict(format!("{period} 已关闭"), format!("{period} is closed already")));
    }
    diesel::insert_into(ip::table)
        .values((
            ip::form_code.eq(code),
            ip::period.eq(period.to_string()),
            ip::closed_by.eq(&ctx.actor),
            ip::closed_at.eq(db::now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        ctx,
        "industry_period.close",
        &format!("{}:{period}", object(code)),
        Outcome::Success,
        serde_json::json!({}),
    )?;
    Ok(())
}
