//! GS1 EPCIS 2.0 JSON / JSON-LD: events mapped to trace records, and records written back as
//! events.
//!
//! Decoding streams: a thread walks the document with serde and hands each event of every
//! `eventList` it meets (an `EPCISDocument`'s body, or an `EPCISQueryDocument`'s query results)
//! to the mapping one at a time, so memory stays bounded whatever the size: each event is
//! read within the record budget and its lists within `max_list` entries
//! ([`crate::exchange::Limits`]). A document must be an `EPCISDocument` or
//! `EPCISQueryDocument` object whose `@context` includes GS1's EPCIS context and that has an
//! `eventList`; anything else is refused whole. Mapping:
//! - `ObjectEvent` and `TransactionEvent`: one record per EPC of `epcList` and per entry of
//!   `quantityList`; `AggregationEvent`: per child (`childEPCs`, `childQuantityList`);
//!   `TransformationEvent`: inputs as records coming in (`in`), outputs as records going out
//!   (`out`), both at the processing stage.
//! - The business step gives the stage and the direction (`shipping` → distribution, out;
//!   `receiving` → distribution, in; `commissioning` → processing; `storing` → warehousing …);
//!   a step with no trace meaning (`inspecting`, `sensor_reporting`, a private URI) makes the
//!   event's records itemised rejections.
//! - GS1 keys are understood in both spellings: EPC URNs (`urn:epc:id:sgtin:…`,
//!   `urn:epc:class:lgtin:…`, `urn:epc:idpat:sgtin:…`) become GS1 Digital Link URIs
//!   (`https://id.gs1.org/01/<GTIN>/21/<serial>`, with `10/<lot>` for a lot), and Digital Link
//!   URIs are kept. A lot becomes the record's batch.
//! - Owning (or else possessing) parties of `sourceList` and `destinationList` are the seller
//!   and the buyer. A GS1 party or location identifier (PGLN, SGLN, a Digital Link with AI
//!   417 or 414) becomes its 13-digit GLN, which the node resolves against the GLNs in its
//!   registry. When the list names no party on the acting side (the seller of an `out`, the
//!   buyer of an `in`), the acting party is the one at `bizLocation` (else `readPoint`): the
//!   GLN of its SGLN, which the node resolves against its site register (a site's sole
//!   operator, else the site's region).
//! - `bizTransactionList` becomes the record's voucher (交易凭证号), each transaction after
//!   its type (`po:…`, `inv:…`).
//!
//! The fields EPCIS has no place for (party names and regions, category, price …) travel in
//! the `tn:` extension namespace (`urn:tracenode:epcis:`), one field at a time
//! ([`EXTENSION_FIELDS`]: `"tn:category": "0101"`, `"tn:price": 28.5`, `"tn:stage":
//! "warehousing"` …) on the event, each overriding what the standard fields gave; a record
//! written by this adapter carries itself whole as `tn:record`, so decoding what was encoded
//! gives the same records. A document with no extension at all is read as its publisher
//! wrote it; the node fills the acting party's region from its registry, else the tenant's.

use std::io::{Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

use crate::adapter::{DecodeError, Decoder};
use crate::budget::Budget;
use crate::exchange::Limits;
use crate::identifiers::{gs1_check_digit, Gln};
use crate::records::{Act, Party, TraceRecord, TracedProduct};

/// The JSON-LD context of documents this adapter writes.
pub const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/// The extension namespace for what EPCIS has no field for.
pub const NAMESPACE: &str = "urn:tracenode:epcis:";

/// What a business step means for a trace record: stage and direction.
fn stage_of(biz_step: &str) -> Option<StageAndDirection> {
    let step = biz_step.rsplit([':', '/', '-']).next().filter(|s| !s.is_empty()).unwrap_or(biz_step);
    Some(match step {
        "shipping" | "departing" | "retail_selling" | "dispensing" | "selling" => ("distribution_sale", "out"),
        "receiving" | "arriving" | "accepting" => ("distribution_sale", "in"),
        "commissioning" | "creating_class_instance" | "assembling" | "transforming" | "producing" => {
            ("processing", "out")
        }
        "packing" | "encoding" | "labelling" => ("packaging", "out"),
        "storing" | "stocking" | "picking" | "loading" | "unloading" => ("warehousing", "out"),
        "transporting" => ("transport", "out"),
        "harvesting" | "farming" | "fishing" | "slaughtering" => ("primary_production", "out"),
        "consuming" | "using" => ("consumption", "in"),
        _ => return None,
    })
}

/// A GTIN-14 from an SGTIN/LGTIN company prefix and item reference (indicator digit first).
fn gtin(company: &str, item: &str) -> Option<String> {
    let (indicator, rest) = item.split_at_checked(1)?;
    let data = format!("{indicator}{company}{rest}");
    if data.len() != 13 || !data.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let check = gs1_check_digit(&data)?;
    Some(format!("{data}{check}"))
}

/// A trace code (Digital Link URI) and batch for an EPC or EPC class, in either spelling.
fn trace_code(epc: &str) -> (String, String) {
    let parts: Vec<&str> = epc.split(':').collect();
    match parts.as_slice() {
        ["urn", "epc", "id", "sgtin", rest] => {
            let f: Vec<&str> = rest.splitn(3, '.').collect();
            if let [company, item, serial] = f.as_slice() {
                if let Some(g) = gtin(company, item) {
                    return (format!("https://id.gs1.org/01/{g}/21/{serial}"), String::new());
                }
            }
        }
        ["urn", "epc", "class", "lgtin", rest] => {
            let f: Vec<&str> = rest.splitn(3, '.').collect();
            if let [company, item, lot] = f.as_slice() {
                if let Some(g) = gtin(company, item) {
                    return (format!("https://id.gs1.org/01/{g}/10/{lot}"), (*lot).to_owned());
                }
            }
        }
        ["urn", "epc", "idpat", "sgtin", rest] => {
            let f: Vec<&str> = rest.splitn(3, '.').collect();
            if let [company, item, _] = f.as_slice() {
                if let Some(g) = gtin(company, item) {
                    return (format!("https://id.gs1.org/01/{g}"), String::new());
                }
            }
        }
        _ => {}
    }
    let batch = epc.split_once("/10/").map(|(_, lot)| lot.split(['/', '?']).next().unwrap_or("").to_owned());
    (epc.to_owned(), batch.unwrap_or_default())
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The owning (or else possessing) party of a source or destination list, a GS1 party or
/// location identifier as its GLN.
fn party(v: &Value, list: &str, key: &str) -> String {
    let entries = v.get(list).and_then(Value::as_array).cloned().unwrap_or_default();
    let named = ["owning_party", "possessing_party"]
        .iter()
        .find_map(|kind| {
            entries.iter().find(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.ends_with(kind)))
        })
        .map(|e| text(e, key))
        .unwrap_or_default();
    as_party_code(&named)
}

/// A party identifier as the node keeps it: a GS1 party or location identifier as its GLN,
/// anything else as given.
fn as_party_code(id: &str) -> String {
    Gln::of_identifier(id).map(|g| g.as_str().to_owned()).unwrap_or_else(|| id.to_owned())
}

/// The fields of a record an event may carry one by one in the `tn:` namespace, each with
/// what it sets.
pub const EXTENSION_FIELDS: &[(&str, &str)] = &[
    ("stage", "act.stage"),
    ("direction", "act.direction"),
    ("unit", "act.unit"),
    ("price", "act.price"),
    ("amount", "act.amount"),
    ("place", "act.place"),
    ("voucher", "act.voucher"),
    ("productName", "product.name"),
    ("category", "product.category"),
    ("specification", "product.specification"),
    ("batch", "product.batch"),
    ("productionDate", "product.production_date"),
    ("shelfLifeDays", "product.shelf_life_days"),
    ("origin", "product.origin"),
    ("fromCode", "from.code"),
    ("fromName", "from.name"),
    ("fromRegion", "from.region"),
    ("toCode", "to.code"),
    ("toName", "to.name"),
    ("toRegion", "to.region"),
];

/// The single `tn:` fields of an event: (name, value), in the order of [`EXTENSION_FIELDS`].
fn extension_fields(event: &Value) -> Vec<(&'static str, &Value)> {
    EXTENSION_FIELDS
        .iter()
        .filter_map(|(name, _)| {
            event.get(format!("tn:{name}")).or_else(|| event.get(format!("{NAMESPACE}{name}"))).map(|v| (*name, v))
        })
        .collect()
}

/// Sets `field` of `record` from an extension value; why not, when the value's type is wrong.
fn apply_extension(record: &mut TraceRecord, name: &str, value: &Value) -> Result<(), String> {
    let text = || match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("tn:{name} must be a string")),
    };
    let number = || match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("tn:{name} is not a number")),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| format!("tn:{name} must be a number")),
        _ => Err(format!("tn:{name} must be a number")),
    };
    match name {
        "stage" => record.act.stage = text()?,
        "direction" => record.act.direction = text()?,
        "unit" => record.act.unit = text()?,
        "price" => record.act.price = Some(number()?),
        "amount" => record.act.amount = Some(number()?),
        "place" => record.act.place = text()?,
        "voucher" => record.act.voucher = text()?,
        "productName" => record.product.name = text()?,
        "category" => record.product.category = text()?,
        "specification" => record.product.specification = text()?,
        "batch" => record.product.batch = text()?,
        "productionDate" => record.product.production_date = Some(text()?),
        "shelfLifeDays" => {
            let days = number()?;
            if days.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&days) {
                return Err(format!("tn:{name} must be a whole number of days"));
            }
            record.product.shelf_life_days = Some(days as u32);
        }
        "origin" => record.product.origin = text()?,
        "fromCode" => record.from.code = as_party_code(&text()?),
        "fromName" => record.from.name = text()?,
        "fromRegion" => record.from.region = text()?,
        "toCode" => record.to.code = as_party_code(&text()?),
        "toName" => record.to.name = text()?,
        "toRegion" => record.to.region = text()?,
        _ => {}
    }
    Ok(())
}

/// The business transactions of an event (`bizTransactionList`) as one voucher: each
/// `bizTransaction` identifier, preceded by its type's last segment where it has one
/// (`po:…`, `inv:…`), separated by spaces; empty when the event names none.
fn voucher(event: &Value) -> String {
    let entries = event.get("bizTransactionList").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let named = entries.iter().filter_map(|e| {
        let id = e.get("bizTransaction").and_then(Value::as_str)?.trim();
        let kind = text(e, "type");
        let kind = kind.rsplit([':', '/', '-']).next().unwrap_or_default();
        (!id.is_empty()).then(|| if kind.is_empty() { id.to_owned() } else { format!("{kind}:{id}") })
    });
    named.collect::<Vec<_>>().join(" ")
}

/// One thing an event is about: an EPC (quantity 1) or a class with a quantity.
struct Item {
    epc: String,
    quantity: f64,
    unit: String,
}

fn items(v: &Value, epcs: &str, quantities: &str) -> Vec<Item> {
    let mut out: Vec<Item> = v
        .get(epcs)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(|e| Item { epc: e.to_owned(), quantity: 1.0, unit: "EA".into() })
                .collect()
        })
        .unwrap_or_default();
    if let Some(list) = v.get(quantities).and_then(Value::as_array) {
        out.extend(list.iter().map(|q| Item {
            epc: text(q, "epcClass"),
            quantity: q.get("quantity").and_then(Value::as_f64).unwrap_or(1.0),
            unit: q.get("uom").and_then(Value::as_str).unwrap_or("EA").to_owned(),
        }));
    }
    out
}

/// A stage and a direction (`in` or `out`).
type StageAndDirection = (&'static str, &'static str);

/// Why an event maps to no record.
fn unmappable(index: u64, event: &Value, why_zh: &str, why_en: &str) -> DecodeError {
    let id = text(event, "eventID");
    DecodeError {
        code: "epcis_unmapped_event",
        message: format!("第{index}个EPCIS事件（{id}）无法映射为追溯记录：{why_zh} / EPCIS event {index} ({id}) maps to no trace record: {why_en}"),
        index: Some(index),
        fatal: false,
    }
}

/// The records of one event (or why it has none). An event carrying an `errorDeclaration`
/// (EPCIS 2.0 §7.4.1.2: the erroneous event sent again, same `eventID`, declared in error)
/// maps to retractions: each record the event once made is named in `corrects` by a record
/// of its own id plus [`RETRACTION_SUFFIX`], so the node stops counting it and a resent
/// declaration is a duplicate. Corrective events (`correctiveEventIDs`) travel as events of
/// their own.
pub fn map_event(index: u64, event: &Value) -> Vec<Result<TraceRecord, DecodeError>> {
    if event.get("errorDeclaration").is_none() {
        return map_plain_event(index, event);
    }
    if text(event, "eventID").is_empty() {
        // Without its eventID the declared event cannot be told from any other.
        return vec![Err(DecodeError {
            code: "epcis_error_declaration",
            message: format!(
                "第{index}个EPCIS事件是错误声明（errorDeclaration），但没有 eventID，无法确定要撤回的事件 / EPCIS event {index} is an error declaration without an eventID: the event it retracts cannot be identified"
            ),
            index: Some(index),
            fatal: false,
        })];
    }
    map_plain_event(index, event).into_iter().map(|r| r.map(retraction_of)).collect()
}

/// What the id of a retraction adds to the id of the record it retracts.
pub const RETRACTION_SUFFIX: &str = "/retraction";

/// The retraction of `record`.
fn retraction_of(record: TraceRecord) -> TraceRecord {
    TraceRecord {
        id: format!("{}{RETRACTION_SUFFIX}", record.id),
        corrects: Some(record.id.clone()),
        retraction: true,
        ..record
    }
}

fn map_plain_event(index: u64, event: &Value) -> Vec<Result<TraceRecord, DecodeError>> {
    if let Some(own) = event.get("tn:record") {
        return vec![serde_json::from_value(own.clone()).map_err(|e| DecodeError {
            code: "epcis_record",
            message: format!("第{index}个事件的 tn:record 无效：{e} / tn:record of event {index} is invalid: {e}"),
            index: Some(index),
            fatal: false,
        })];
    }
    let kind = text(event, "type");
    let groups: Vec<(Vec<Item>, Option<StageAndDirection>)> = match kind.as_str() {
        "ObjectEvent" | "TransactionEvent" => vec![(items(event, "epcList", "quantityList"), None)],
        "AggregationEvent" => vec![(items(event, "childEPCs", "childQuantityList"), None)],
        "TransformationEvent" => vec![
            (items(event, "inputEPCList", "inputQuantityList"), Some(("processing", "in"))),
            (items(event, "outputEPCList", "outputQuantityList"), Some(("processing", "out"))),
        ],
        other => {
            return vec![Err(unmappable(
                index,
                event,
                &format!("事件类型 {other} 不是交易"),
                &format!("{other} is not a transaction"),
            ))]
        }
    };
    let step = text(event, "bizStep");
    let mapped = stage_of(&step);
    if groups.iter().all(|(items, _)| items.is_empty()) {
        return vec![Err(unmappable(index, event, "事件不含任何EPC或数量", "the event names no EPC or quantity"))];
    }
    let id = match text(event, "eventID") {
        s if s.is_empty() => format!("epcis-{index}"),
        s => s,
    };
    let time = text(event, "eventTime");
    let (from, to) = (party(event, "sourceList", "source"), party(event, "destinationList", "destination"));
    let place = event.get("bizLocation").or_else(|| event.get("readPoint")).map(|l| text(l, "id")).unwrap_or_default();
    let voucher = voucher(event);
    let located = Gln::of_identifier(&place).map(|g| g.as_str().to_owned()).unwrap_or_default();
    let extensions = extension_fields(event);
    let declared_stage = extensions.iter().any(|(name, _)| *name == "stage");
    let declared_direction = extensions.iter().find(|(name, _)| *name == "direction").and_then(|(_, v)| v.as_str());
    let mut out = Vec::new();
    let mut k = 0;
    for (list, fixed) in groups {
        // A `tn:stage` gives a stage to a business step that has none.
        let declared = declared_stage.then_some(("", "out"));
        let Some((stage, direction)) = fixed.or(mapped).or(declared) else {
            out.push(Err(unmappable(
                index,
                event,
                &format!("业务步骤“{step}”没有对应的追溯环节"),
                &format!("business step {step:?} has no trace stage"),
            )));
            continue;
        };
        // The acting party (the seller of what goes out, the buyer of what comes in) is the
        // one at the event's location when the lists name none.
        let (from, to) = match declared_direction.unwrap_or(direction) {
            "out" if from.is_empty() => (located.clone(), to.clone()),
            "in" if to.is_empty() => (from.clone(), located.clone()),
            _ => (from.clone(), to.clone()),
        };
        for item in list {
            let (trace_code, batch) = trace_code(&item.epc);
            let mut record = TraceRecord {
                id: format!("{id}#{k}"),
                corrects: None,
                retraction: false,
                from: Party { code: from.clone(), ..Party::default() },
                to: Party { code: to.clone(), ..Party::default() },
                product: TracedProduct { trace_code, scheme: "gs1".into(), batch, ..TracedProduct::default() },
                act: Act {
                    stage: stage.into(),
                    direction: direction.into(),
                    quantity: item.quantity,
                    unit: item.unit,
                    time: time.clone(),
                    place: place.clone(),
                    voucher: voucher.clone(),
                    ..Act::default()
                },
            };
            k += 1;
            let applied = extensions.iter().try_for_each(|(name, value)| apply_extension(&mut record, name, value));
            out.push(applied.map(|()| record).map_err(|why| DecodeError {
                code: "epcis_extension",
                message: format!("第{index}个EPCIS事件的扩展字段有误：{why} / EPCIS event {index}: {why}"),
                index: Some(index),
                fatal: false,
            }));
        }
    }
    out
}

/// The CBV business transaction types (the prefix a voucher's identifiers may carry).
const VOUCHER_KINDS: [&str; 9] = ["bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv"];

/// An event for a record: standard fields for any EPCIS reader, and the record itself as
/// `tn:record`.
pub fn event_of(r: &TraceRecord) -> Value {
    let biz_step = match (r.act.stage.as_str(), r.act.direction.as_str()) {
        ("distribution_sale", "in") => "receiving",
        ("distribution_sale", _) => "shipping",
        ("processing", _) => "commissioning",
        ("packaging", _) => "packing",
        ("warehousing", _) => "storing",
        ("transport", _) => "transporting",
        ("primary_production", _) => "harvesting",
        _ => "consuming",
    };
    let mut event = json!({
        "type": "ObjectEvent",
        "eventID": format!("{NAMESPACE}record:{}", r.id),
        "eventTime": r.act.time,
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": biz_step,
        "quantityList": [{"epcClass": r.product.trace_code, "quantity": r.act.quantity, "uom": r.act.unit}],
        "sourceList": [{"type": "owning_party", "source": r.from.code}],
        "destinationList": [{"type": "owning_party", "destination": r.to.code}],
        "tn:record": r,
    });
    if !r.act.voucher.is_empty() {
        event["bizTransactionList"] = r
            .act
            .voucher
            .split_whitespace()
            .map(|id| match id.split_once(':').filter(|(kind, _)| VOUCHER_KINDS.contains(kind)) {
                Some((kind, id)) => json!({"type": kind, "bizTransaction": id}),
                None => json!({"bizTransaction": id}),
            })
            .collect();
    }
    event
}

/// Writes records as an EPCIS 2.0 JSON-LD document.
pub fn write_epcis<W: Write>(mut out: W, records: &[TraceRecord]) -> Result<(), DecodeError> {
    let doc = json!({
        "@context": [CONTEXT, {"tn": NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "1970-01-01T00:00:00Z",
        "epcisBody": {"eventList": records.iter().map(event_of).collect::<Vec<_>>()},
    });
    serde_json::to_writer(&mut out, &doc).map_err(|e| DecodeError {
        code: "write_failed",
        message: format!("写入失败：{e} / write failed: {e}"),
        index: None,
        fatal: true,
    })
}

/// What the walk has seen of the document itself, checked when it ends.
#[derive(Debug, Default)]
struct Seen {
    /// Whether the top level is an object.
    object: bool,
    /// The top level's `type`.
    doc_type: String,
    /// Whether the top level's `@context` names GS1's EPCIS context.
    context: bool,
    /// `eventList`s met.
    event_lists: u32,
}

impl Seen {
    /// Why the document is not an EPCIS document, if it is not.
    fn refusal(&self) -> Option<(&'static str, &'static str, &'static str)> {
        if !self.object || !matches!(self.doc_type.as_str(), "EPCISDocument" | "EPCISQueryDocument") {
            return Some((
                "epcis_not_a_document",
                "不是EPCIS文档（顶层应为 type 为 EPCISDocument 或 EPCISQueryDocument 的对象）",
                "not an EPCIS document (the top level must be an object of type EPCISDocument or EPCISQueryDocument)",
            ));
        }
        if !self.context {
            return Some((
                "epcis_unknown_context",
                "@context 未包含GS1 EPCIS 2.0的上下文（https://ref.gs1.org/standards/epcis/…/epcis-context.jsonld）",
                "@context does not include GS1's EPCIS 2.0 context (https://ref.gs1.org/standards/epcis/…/epcis-context.jsonld)",
            ));
        }
        if self.event_lists == 0 {
            return Some(("epcis_no_event_list", "文档没有 eventList", "the document has no eventList"));
        }
        None
    }
}

/// Whether a JSON-LD `@context` (a string, or a list of strings and term maps) includes GS1's
/// EPCIS context, in any of its published versions.
fn is_epcis_context(context: &Value) -> bool {
    let standard = |v: &Value| {
        v.as_str().is_some_and(|u| {
            u.starts_with("https://ref.gs1.org/standards/epcis/") && u.ends_with("epcis-context.jsonld")
        })
    };
    match context {
        Value::Array(items) => items.iter().any(standard),
        other => standard(other),
    }
}

/// The walk's shared state: where records go, how many events so far, the per-event budget
/// and the limits, and what was seen of the document.
struct Walker<'s> {
    tx: &'s SyncSender<Result<TraceRecord, DecodeError>>,
    events: u64,
    budget: Budget,
    limits: Limits,
    seen: Seen,
}

/// Walks a value of the document and sends each event's records; stops when the receiver is
/// gone.
struct Walk<'w, 's> {
    walker: &'w mut Walker<'s>,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an EPCIS document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.walker.seen.object |= self.top;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "eventList" => {
                    self.walker.seen.event_lists += 1;
                    map.next_value_seed(Events { walker: self.walker })?;
                }
                "@context" if self.top => {
                    self.walker.seen.context = is_epcis_context(&map.next_value::<Value>()?);
                }
                "type" if self.top => {
                    self.walker.seen.doc_type = map.next_value::<Value>()?.as_str().unwrap_or("").into()
                }
                k if k == "@context" || k.starts_with("tn:") => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => map.next_value_seed(Walk { walker: self.walker, top: false })?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk { walker: self.walker, top: false })?.is_some() {}
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The events of one `eventList`, one at a time, each within the record budget.
struct Events<'w, 's> {
    walker: &'w mut Walker<'s>,
}

impl<'de> DeserializeSeed<'de> for Events<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of EPCIS events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let w = self.walker;
        loop {
            w.budget.reset();
            let Some(event) = seq.next_element::<Value>()? else { break };
            let mapped = match overlong_list(w.events, &event, w.limits.max_list) {
                Some(refused) => vec![Err(refused)],
                None => map_event(w.events, &event),
            };
            for r in mapped {
                if w.tx.send(r).is_err() {
                    return Err(serde::de::Error::custom("the reader stopped"));
                }
            }
            w.events += 1;
        }
        Ok(())
    }
}

/// The lists of an event that may name many things; one longer than `max` refuses the event.
const LISTS: [&str; 8] = [
    "epcList",
    "quantityList",
    "childEPCs",
    "childQuantityList",
    "inputEPCList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
];

fn overlong_list(index: u64, event: &Value, max: usize) -> Option<DecodeError> {
    let (name, len) = LISTS
        .iter()
        .find_map(|l| event.get(l).and_then(Value::as_array).map(|a| (*l, a.len())).filter(|(_, n)| *n > max))?;
    Some(DecodeError {
        code: "epcis_list_too_long",
        message: format!(
            "第{index}个EPCIS事件的 {name} 有 {len} 项，超过上限 {max} / EPCIS event {index}: {name} has {len} entries, more than {max}"
        ),
        index: Some(index),
        fatal: false,
    })
}

/// Reads an EPCIS document's records, one at a time.
pub struct EpcisDecoder {
    rx: Receiver<Result<TraceRecord, DecodeError>>,
}

impl EpcisDecoder {
    /// Starts reading `input` on a thread of its own, within `limits`.
    pub fn open(input: impl Read + Send + 'static, limits: Limits) -> EpcisDecoder {
        let (tx, rx) = sync_channel(1_024);
        std::thread::spawn(move || {
            let budget = Budget::new(limits.max_record_bytes);
            let reader = std::io::BufReader::with_capacity(64 * 1024, budget.wrap(input));
            let mut de = serde_json::Deserializer::from_reader(reader);
            let mut walker = Walker { tx: &tx, events: 0, budget: budget.clone(), limits, seen: Seen::default() };
            let walked = Walk { walker: &mut walker, top: true }.deserialize(&mut de).and_then(|()| de.end());
            let broken = |code: &'static str, message: String| DecodeError { code, message, index: None, fatal: true };
            let outcome = match walked {
                Err(e) if e.to_string().contains("the reader stopped") => return,
                Err(_) if budget.exceeded() => crate::budget::too_large(walker.events, budget.limit()),
                Err(e) if e.is_eof() => broken(
                    "document_truncated",
                    format!("EPCIS文档提前结束，整份文档未接收：{e} / the EPCIS document ends early; the document was refused: {e}"),
                ),
                Err(e) => {
                    broken("epcis_malformed", format!("EPCIS文档格式错误：{e} / malformed EPCIS document: {e}"))
                }
                Ok(()) => match walker.seen.refusal() {
                    Some((code, zh, en)) => broken(code, format!("{zh} / {en}")),
                    None => return,
                },
            };
            let _ = tx.send(Err(outcome));
        });
        EpcisDecoder { rx }
    }
}

impl Decoder for EpcisDecoder {
    fn next_record(&mut self) -> Option<Result<TraceRecord, DecodeError>> {
        self.rx.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epc_urns_become_digital_links() {
        assert_eq!(
            trace_code("urn:epc:id:sgtin:0614141.107346.2017"),
            ("https://id.gs1.org/01/10614141073464/21/2017".to_owned(), String::new())
        );
        assert_eq!(
            trace_code("urn:epc:class:lgtin:4012345.012345.998877"),
            ("https://id.gs1.org/01/04012345123456/10/998877".to_owned(), "998877".to_owned())
        );
        assert_eq!(trace_code("urn:epc:idpat:sgtin:4012345.098765.*").0, "https://id.gs1.org/01/04012345987652");
        assert_eq!(trace_code("urn:epc:id:sscc:0614141.1234567890").0, "urn:epc:id:sscc:0614141.1234567890");
        assert_eq!(stage_of("urn:epcglobal:cbv:bizstep:shipping"), Some(("distribution_sale", "out")));
        assert_eq!(stage_of("https://ref.gs1.org/cbv/BizStep-receiving"), Some(("distribution_sale", "in")));
        assert_eq!(stage_of("inspecting"), None);
    }
}
