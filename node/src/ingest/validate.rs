//! Validation of one decoded record: identifiers and their check digits, mandatory fields,
//! code lists, time sanity, and references to registered entities under the tenant's policy.
//! A record either becomes a row ready to store (perhaps quarantined or flagged) or a
//! rejection naming the field and the reason in Chinese and English.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use tracenode_adapters::codes::Stage;
use tracenode_adapters::identifiers::{gtin_of_trace_code, CodeScheme, IdentifierError, ProductCode};
use tracenode_adapters::records::{Party, TraceRecord};

use super::parties::{Elsewhere, PartyCodes};
use super::policy::ReferencePolicy;
use super::receipt::Rejection;
use crate::db::schema::product_categories;
use crate::db::time::StoredTime;
use crate::error::AppResult;
use crate::quality::rules::{self, RuleSet};
use crate::region::RegionCode;
use crate::registry::references::Upward;
use crate::trace::row::{day_of, fen, thousandths, TraceRow, CST_HOURS};
use crate::trace::status;

/// Longest record id.
pub const MAX_ID: usize = 128;

/// The largest quantity one record may carry, in its unit. With the price and amount maxima
/// below, one record counts for at most 10¹⁴ fen, so a day's totals of a region, category and
/// stage stay far inside a 64-bit integer (9.2 × 10¹⁸) for any plausible number of records,
/// and the sums that would not are refused by checked arithmetic, never wrapped.
pub const MAX_QUANTITY: f64 = 1.0e9;
/// The largest unit price, yuan.
pub const MAX_PRICE_YUAN: f64 = 1.0e8;
/// The largest amount of one record, yuan (also the cap of price × quantity).
pub const MAX_AMOUNT_YUAN: f64 = 1.0e12;
pub use crate::config::{default_earliest_act_year, EARLIEST_ACT_YEAR};

/// How far in the future an act may lie (clock skew between systems).
pub const FUTURE_SLACK_HOURS: i64 = 24;

pub use crate::quality::anomalies::Flag;

/// A record that passed validation.
#[derive(Debug)]
pub struct Checked<'a> {
    /// Index in the submission.
    pub index: u64,
    /// The row.
    pub row: TraceRow<'a>,
    /// Why it is flagged.
    pub flags: Vec<Flag>,
}

/// What a submission's records are checked against.
pub struct Validator<'a> {
    tenant: &'a str,
    submission: &'a str,
    reporter: &'a str,
    within: &'a RegionCode,
    policy: ReferencePolicy,
    rules: &'a RuleSet,
    categories: HashSet<String>,
    codes: PartyCodes,
    now: NaiveDateTime,
    /// Acts before this year are refused.
    earliest_year: i32,
    /// The acting party's region when neither the record nor the registry gives one (the
    /// tenant's region).
    acting_region: Option<&'a RegionCode>,
    /// Where counterparts unknown in this node's subtree are looked up (the parent).
    upward: Option<&'a Upward>,
}

/// A rejection, boxed while it travels up the checks (it is large beside their results).
type Refused = Box<Rejection>;

fn reject(index: u64, record_id: &str, field: &str, zh: impl Into<String>, en: impl Into<String>) -> Refused {
    Box::new(Rejection {
        index,
        record_id: (!record_id.is_empty()).then(|| record_id.to_owned()),
        field: Some(field.to_owned()),
        code: "validation_failed".into(),
        reason_zh: zh.into(),
        reason: en.into(),
    })
}

fn identifier(index: u64, id: &str, field: &str, what_zh: &str, what_en: &str, e: &IdentifierError) -> Refused {
    let msg = e.to_string();
    let (zh, en) = msg.split_once(" / ").unwrap_or((msg.as_str(), msg.as_str()));
    reject(index, id, field, format!("{what_zh}{zh}"), format!("{what_en}{en}"))
}

/// Parses an act time: ISO 8601 with an offset, or without one (taken as China Standard
/// Time, as domestic systems write it). Returns UTC.
pub fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.naive_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .map(|local| local - TimeDelta::hours(CST_HOURS))
}

impl<'a> Validator<'a> {
    /// A validator for one submission. `lookups` is a connection of its own for reference
    /// checks (the submission's writing transaction is busy on another); the catalogue is read
    /// once from it.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mut lookups: crate::db::PooledDb,
        tenant: &'a str,
        submission: &'a str,
        reporter: &'a str,
        within: &'a RegionCode,
        policy: ReferencePolicy,
        rules: &'a RuleSet,
    ) -> AppResult<Validator<'a>> {
        let categories = product_categories::table
            .filter(product_categories::retired.eq(false))
            .select(product_categories::code)
            .load::<String>(&mut *lookups)?
            .into_iter()
            .collect();
        Ok(Validator {
            tenant,
            submission,
            reporter,
            within,
            policy,
            rules,
            categories,
            codes: PartyCodes::new(lookups),
            now: crate::db::now(),
            earliest_year: EARLIEST_ACT_YEAR,
            acting_region: None,
            upward: None,
        })
    }

    /// Gives an acting party that has no region, neither in the record nor in the
    /// registry, the region `region` (the tenant's).
    pub fn acting_region_default(mut self, region: &'a RegionCode) -> Validator<'a> {
        self.acting_region = Some(region);
        self
    }

    /// Fills what the record leaves out from what the node knows: each registered party's
    /// name and region; for the acting party, what a registered site says (below); and the
    /// acting party's region from the tenant when still empty.
    fn complete(&mut self, mut rec: TraceRecord) -> AppResult<TraceRecord> {
        for party in [&mut rec.from, &mut rec.to] {
            let code = party.code.trim();
            if code.is_empty() || (!party.region.trim().is_empty() && !party.name.trim().is_empty()) {
                continue;
            }
            if let Some(r) = self.codes.registered(code)? {
                if party.region.trim().is_empty() {
                    party.region = r.region;
                }
                if party.name.trim().is_empty() {
                    party.name = r.name;
                }
            }
        }
        let acting = if rec.act.direction.trim() == "in" { &mut rec.to } else { &mut rec.from };
        self.at_site(acting, &rec.act.place)?;
        if let (true, Some(region)) = (acting.region.trim().is_empty(), self.acting_region) {
            acting.region = region.as_str().to_owned();
        }
        Ok(rec)
    }

    /// The acting party from the site register, when the record names a registered site
    /// by its GLN rather than a registered entity (as an EPCIS event does whose lists name no
    /// party on the acting side: the party is then the GLN of its `bizLocation`), or leaves
    /// the party's region empty and names a registered site as its place. The site's sole
    /// operator becomes the party; a site with many merchants gives its region only.
    fn at_site(&mut self, acting: &mut Party, place: &str) -> AppResult<()> {
        let code = acting.code.trim().to_owned();
        if !code.is_empty() && self.codes.registered(&code)?.is_some() {
            return Ok(());
        }
        // The party named by a site's GLN, else (when it is not named at all) the place; a
        // party named otherwise takes at most its region from the place.
        let (site, may_name) = match (code.is_empty(), self.codes.site(&code)?) {
            (_, Some(site)) => (site, true),
            (unnamed, None) if unnamed || acting.region.trim().is_empty() => match self.codes.site(place)? {
                Some(at) => (at, unnamed),
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        if let (Some(op), true) = (site.operator, may_name) {
            acting.code = op.code;
            if acting.name.trim().is_empty() {
                acting.name = op.name;
            }
            if acting.region.trim().is_empty() {
                acting.region = op.region;
            }
        } else if acting.region.trim().is_empty() {
            acting.region = site.region;
        }
        Ok(())
    }

    /// Looks counterparts this node's subtree does not know up the tree through `upward`.
    pub fn asking(mut self, upward: &'a Upward) -> Validator<'a> {
        self.upward = Some(upward);
        self
    }

    /// Looks up, for a step of records about to be checked, the counterparts this node's
    /// registry does not hold: one query of the children's registrations and at most one
    /// question up the tree per [`crate::registry::references::MAX_CODES`] codes, instead of one per record.
    pub fn look_beyond<'r>(&mut self, records: impl Iterator<Item = &'r TraceRecord>) -> AppResult<()> {
        self.codes.look_beyond(records, self.reporter, self.upward)
    }

    /// Refuses acts before `year` (the node's `ingest.earliest_act_year`).
    pub fn acts_from(mut self, year: i32) -> Validator<'a> {
        self.earliest_year = year;
        self
    }

    /// Checks one record.
    pub fn check(&mut self, index: u64, rec: TraceRecord) -> AppResult<Result<Checked<'a>, Rejection>> {
        let mut flags = Vec::new();
        let mut quarantine = false;
        // The record as sent: a resend is the same record whatever the registry learnt since.
        let content_hash = rec.content_digest().to_vec();
        let rec = self.complete(rec)?;
        let shape = self.shape(index, &rec);
        let (act_time, quantity_milli, amount_fen, price_fen, acting, region) = match shape {
            Ok(v) => v,
            Err(r) => return Ok(Err(*r)),
        };
        let id = rec.id.trim();
        let acting_party = if acting == "out" { &rec.from } else { &rec.to };
        let other = if acting == "out" { ("to", &rec.to) } else { ("from", &rec.from) };
        let acting_field = if acting == "out" { "from" } else { "to" };
        for (field, party) in [(acting_field, acting_party), other] {
            let code = party.code.trim();
            if code.is_empty() {
                continue;
            }
            let owners = self.codes.registered(code)?.map(|r| r.owners).unwrap_or_default();
            let (rule, zh, en) = if owners.is_empty() {
                let elsewhere = if field == acting_field { Elsewhere::Unknown } else { self.codes.elsewhere(code) };
                let (zh, en) = match (elsewhere, self.upward.is_some()) {
                    // A counterpart registered at another node is as good as one registered here.
                    (Elsewhere::Known, _) => continue,
                    (Elsewhere::Unreached, _) => (
                        format!("{}“{code}”未在本节点注册，上级节点暂不可达，未能跨节点核验", party_label(field)),
                        format!("{field} {code} is not registered here and the parent could not be asked"),
                    ),
                    (Elsewhere::Unknown, true) if field != acting_field => (
                        format!("{}“{code}”在本节点及各级上级节点均未注册", party_label(field)),
                        format!("{field} {code} is registered neither here nor anywhere up the tree"),
                    ),
                    (Elsewhere::Unknown, _) => (
                        format!("{}“{code}”未在本节点注册", party_label(field)),
                        format!("{field} {code} is not a registered entity"),
                    ),
                };
                ("unknown_reference", zh, en)
            } else if field == acting_field && !owners.iter().any(|t| t == self.tenant) {
                // A platform reports its own parties' trades; one that names another tenant's
                // entity as the party acting is held to the same policy as an unknown one.
                (
                    "foreign_acting_party",
                    format!("{}“{code}”是其他租户登记的主体，不能由本租户代为报送", party_label(field)),
                    format!("{field} {code} is an entity another tenant registered; this tenant may not report for it"),
                )
            } else {
                continue;
            };
            match self.policy {
                ReferencePolicy::Reject => return Ok(Err(*reject(index, id, &format!("{field}.code"), zh, en))),
                ReferencePolicy::Quarantine => quarantine = true,
                ReferencePolicy::Flag => {}
            }
            flags.push(Flag { rule, zh, en });
        }
        let corrects = rec.corrects.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
        if rec.retraction && corrects.is_none() {
            return Ok(Err(*reject(
                index,
                id,
                "corrects",
                "撤回记录须在 corrects 中写明被撤回的记录",
                "a retraction names the record it retracts in corrects",
            )));
        }
        let retraction = rec.retraction;
        let TraceRecord { id, from, to, product: p, act: a, .. } = rec;
        let mut row = TraceRow {
            tenant_id: self.tenant,
            record_id: trimmed(id),
            content_hash,
            submission_id: self.submission,
            reporter: self.reporter,
            status: match (retraction, quarantine) {
                (true, _) => status::RETRACTION,
                (false, true) => status::QUARANTINED,
                (false, false) => status::STORED,
            },
            flagged: !flags.is_empty(),
            from_code: self.codes.stored(from.code.trim())?,
            from_name: trimmed(from.name),
            from_region: trimmed(from.region),
            to_code: self.codes.stored(to.code.trim())?,
            to_name: trimmed(to.name),
            to_region: trimmed(to.region),
            trace_code: trimmed(p.trace_code),
            scheme: if p.scheme.trim().is_empty() { "local".to_owned() } else { trimmed(p.scheme) },
            product_name: trimmed(p.name),
            category: trimmed(p.category),
            specification: trimmed(p.specification),
            batch: trimmed(p.batch),
            production_date: p.production_date.map(trimmed).filter(|d| !d.is_empty()),
            shelf_life_days: p.shelf_life_days.and_then(|d| i32::try_from(d).ok()),
            origin: trimmed(p.origin),
            stage: trimmed(a.stage),
            direction: acting,
            quantity_milli,
            unit: trimmed(a.unit),
            price_fen,
            amount_fen,
            act_time: StoredTime(act_time),
            place: trimmed(a.place),
            region,
            voucher: trimmed(a.voucher),
            corrects,
        };
        flags.extend(rules::record::check(self.rules, &row));
        row.flagged = !flags.is_empty();
        Ok(Ok(Checked { index, row, flags }))
    }

    /// The checks that need no database: returns the act time (UTC), quantity, amount and
    /// price, the acting direction and the acting party's region.
    #[allow(clippy::type_complexity)]
    fn shape(
        &mut self,
        index: u64,
        rec: &TraceRecord,
    ) -> Result<(NaiveDateTime, i64, Option<i64>, Option<i64>, &'static str, String), Refused> {
        let id = rec.id.trim();
        let bad = |field: &str, zh: String, en: String| reject(index, id, field, zh, en);
        if id.is_empty() {
            return Err(bad("id", "缺少记录编号".into(), "the record id is missing".into()));
        }
        if id.chars().count() > MAX_ID || id.chars().any(char::is_control) {
            return Err(bad(
                "id",
                format!("记录编号过长或含控制字符（最多{MAX_ID}字）"),
                format!("the record id is longer than {MAX_ID} characters or holds control characters"),
            ));
        }
        if rec.corrects.as_deref().map(str::trim) == Some(id) {
            return Err(bad("corrects", "更正记录不能更正自身".into(), "a correction cannot correct itself".into()));
        }
        if Stage::from_code(rec.act.stage.trim()).is_none() {
            return Err(bad(
                "act.stage",
                format!("未知的追溯环节“{}”", rec.act.stage),
                format!("unknown stage {:?}", rec.act.stage),
            ));
        }
        let direction = match rec.act.direction.trim() {
            "out" => "out",
            "in" => "in",
            other => {
                return Err(bad(
                    "act.direction",
                    format!("方向应为 in（购进）或 out（销售），实际为“{other}”"),
                    format!("direction must be in or out, got {other:?}"),
                ))
            }
        };
        let quantity = thousandths(rec.act.quantity).filter(|&q| q > 0).ok_or_else(|| {
            bad("act.quantity", "数量应为正数".into(), format!("quantity must be positive, got {}", rec.act.quantity))
        })?;
        let unit = super::units::maxima(&rec.act.unit);
        let (max_quantity, max_price) = unit.map_or((MAX_QUANTITY, MAX_PRICE_YUAN), |u| (u.quantity, u.price_yuan));
        let per = unit.map(|u| format!("（每条记录，单位{}）", u.name_zh)).unwrap_or_default();
        if rec.act.quantity > max_quantity {
            return Err(bad(
                "act.quantity",
                format!("数量 {} 超过合理上限 {max_quantity}{per}", rec.act.quantity),
                format!(
                    "quantity {} is above the plausible maximum {max_quantity} {}",
                    rec.act.quantity,
                    rec.act.unit.trim()
                ),
            ));
        }
        let money = |field: &str, v: Option<f64>, max: f64| match v {
            None => Ok(None),
            Some(x) if (0.0..=max).contains(&x) => {
                fen(x).map(Some).ok_or_else(|| bad(field, "金额或单价无效".into(), format!("{field} is not a number")))
            }
            Some(x) if x > max => Err(bad(
                field,
                format!("{field} 为 {x}，超过合理上限 {max} 元"),
                format!("{field} is {x}, above the plausible maximum of {max} yuan"),
            )),
            Some(_) => Err(bad(field, "金额和单价应为非负数".into(), format!("{field} must be a non-negative number"))),
        };
        let price = money("act.price", rec.act.price, max_price)?;
        let amount = money("act.amount", rec.act.amount, MAX_AMOUNT_YUAN)?;
        if amount.is_none() && crate::trace::row::amount_of(quantity, price, None) > (MAX_AMOUNT_YUAN * 100.0) as i64 {
            return Err(bad(
                "act.price",
                format!("单价 × 数量超过单条记录的金额上限 {MAX_AMOUNT_YUAN} 元"),
                format!("price × quantity is above the maximum amount of one record, {MAX_AMOUNT_YUAN} yuan"),
            ));
        }
        let time = parse_time(&rec.act.time).ok_or_else(|| {
            bad(
                "act.time",
                format!("时间“{}”无法识别，应为ISO 8601格式，如 2026-11-20T10:00:00+08:00", rec.act.time),
                format!("time {:?} is not ISO 8601, e.g. 2026-11-20T10:00:00+08:00", rec.act.time),
            )
        })?;
        if time > self.now + TimeDelta::hours(FUTURE_SLACK_HOURS) {
            return Err(bad("act.time", "交易时间在未来".into(), "the time of the act lies in the future".into()));
        }
        if time.year() < self.earliest_year {
            let year = self.earliest_year;
            return Err(bad(
                "act.time",
                format!("交易时间早于{year}年，不可信"),
                format!("the time of the act lies before {year}, which is not plausible"),
            ));
        }
        self.product(index, rec, time)?;
        let acting = if direction == "out" { ("from", &rec.from) } else { ("to", &rec.to) };
        let region = self.party(index, id, acting, true)?;
        let other = if direction == "out" { ("to", &rec.to) } else { ("from", &rec.from) };
        self.party(index, id, other, false)?;
        Ok((time, quantity, amount, price, direction, region))
    }

    fn product(&self, index: u64, rec: &TraceRecord, time: NaiveDateTime) -> Result<(), Refused> {
        let id = rec.id.trim();
        let p = &rec.product;
        let code = p.trace_code.trim();
        if code.is_empty() {
            return Err(reject(index, id, "product.trace_code", "缺少追溯码", "the trace code is missing"));
        }
        let scheme_text = p.scheme.trim();
        let scheme = if scheme_text.is_empty() { Some(CodeScheme::Local) } else { CodeScheme::parse(scheme_text) };
        let Some(scheme) = scheme else {
            return Err(reject(
                index,
                id,
                "product.scheme",
                format!("未知的编码体系“{scheme_text}”，应为 gs1、ecode、handle、drug 或 local"),
                format!("unknown scheme {scheme_text:?}: gs1, ecode, handle, drug or local"),
            ));
        };
        let checked = match scheme {
            CodeScheme::Gs1 => gtin_of_trace_code(code).map(|_| ()),
            other => ProductCode::parse(other, code).map(|_| ()),
        };
        checked.map_err(|e| identifier(index, id, "product.trace_code", "追溯码", "trace code: ", &e))?;
        let category = p.category.trim();
        if !category.is_empty() && !self.categories.contains(category) {
            return Err(reject(
                index,
                id,
                "product.category",
                format!("未知的产品类目“{category}”"),
                format!("unknown product category {category:?}"),
            ));
        }
        if let Some(d) = p.production_date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                reject(
                    index,
                    id,
                    "product.production_date",
                    "生产日期应为 YYYY-MM-DD",
                    "production date must be YYYY-MM-DD",
                )
            })?;
            if date > day_of(time) {
                return Err(reject(
                    index,
                    id,
                    "product.production_date",
                    "生产日期晚于交易时间",
                    "the production date lies after the act",
                ));
            }
        }
        Ok(())
    }

    /// Checks a party; the acting party must have a code and a region within the node's.
    /// Returns the region.
    fn party(&mut self, index: u64, id: &str, (field, party): (&str, &Party), acting: bool) -> Result<String, Refused> {
        let code = party.code.trim();
        if code.is_empty() && acting {
            return Err(reject(
                index,
                id,
                &format!("{field}.code"),
                format!("缺少{}的代码（统一社会信用代码或全球位置码 GLN；EPCIS 文档中为 sourceList/destinationList 的 owning_party，或带 SGLN 的 bizLocation）", party_label(field)),
                format!("the {field} party's code is missing (a unified social credit code or a GLN; in EPCIS an owning_party of sourceList/destinationList, or a bizLocation with an SGLN)"),
            ));
        }
        if !code.is_empty() {
            self.codes.normal(code).map_err(|e| {
                identifier(
                    index,
                    id,
                    &format!("{field}.code"),
                    "既不是有效的统一社会信用代码，也不是13位全球位置码（GLN）：",
                    "neither a valid unified social credit code nor a 13-digit GLN: ",
                    &e,
                )
            })?;
        }
        let region = party.region.trim();
        if region.is_empty() && !acting {
            return Ok(String::new());
        }
        let parsed = RegionCode::parse(region).map_err(|e| {
            let msg = e.to_string();
            reject(
                index,
                id,
                &format!("{field}.region"),
                format!("行政区划代码有误：{msg}"),
                format!("region code: {msg}"),
            )
        })?;
        if acting && !self.within.contains(&parsed) {
            return Err(reject(
                index,
                id,
                &format!("{field}.region"),
                format!("行政区划 {region} 不在本节点辖区 {} 内", self.within.as_str()),
                format!("region {region} lies outside this node's jurisdiction {}", self.within.as_str()),
            ));
        }
        Ok(parsed.as_str().to_owned())
    }
}

/// `s` without surrounding white space (moved when there is none).
fn trimmed(s: String) -> String {
    if s.len() == s.trim().len() {
        s
    } else {
        s.trim().to_owned()
    }
}

fn party_label(field: &str) -> &'static str {
    if field == "from" {
        "供货方"
    } else {
        "购货方"
    }
}
