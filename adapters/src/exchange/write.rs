//! Writing an envelope (UTF-8).

use std::io::Write;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::tags::{self, attr};
use super::{Ack, ExchangeError, Header};
use crate::records::{PayloadDigest, TraceRecord};

fn io(e: impl std::fmt::Display) -> ExchangeError {
    ExchangeError::Io(e.to_string())
}

fn text_element<W: Write>(w: &mut Writer<W>, name: &str, value: &str) -> Result<(), ExchangeError> {
    w.write_event(Event::Start(BytesStart::new(name))).map_err(io)?;
    w.write_event(Event::Text(BytesText::new(value))).map_err(io)?;
    w.write_event(Event::End(BytesEnd::new(name))).map_err(io)
}

fn empty<W: Write>(w: &mut Writer<W>, name: &str, attrs: &[(&str, &str)]) -> Result<(), ExchangeError> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, *v));
    }
    w.write_event(Event::Empty(e)).map_err(io)
}

/// Starts a document: the declaration, the root element and the whole header.
fn start<W: Write>(out: W, header: &Header) -> Result<Writer<W>, ExchangeError> {
    let mut w = Writer::new_with_indent(out, b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).map_err(io)?;
    let mut root = BytesStart::new(tags::EXCHANGE);
    root.push_attribute(("xmlns", tags::NAMESPACE));
    w.write_event(Event::Start(root)).map_err(io)?;
    w.write_event(Event::Start(BytesStart::new(tags::HEADER))).map_err(io)?;
    let count = header.record_count.to_string();
    for (name, value) in [
        (tags::SENDER, header.sender.as_str()),
        (tags::RECEIVER, &header.receiver),
        (tags::MESSAGE_ID, &header.message_id),
        (tags::CORRELATION_ID, &header.correlation_id),
        (tags::OPERATION, &header.operation),
        (tags::CREATED, &header.created),
        (tags::RESOURCE_TYPE, &header.resource_type),
        (tags::RECORD_COUNT, &count),
        (tags::PAYLOAD_DIGEST, &header.payload_digest),
    ] {
        text_element(&mut w, name, value)?;
    }
    w.write_event(Event::End(BytesEnd::new(tags::HEADER))).map_err(io)?;
    Ok(w)
}

fn number(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn record<W: Write>(w: &mut Writer<W>, r: &TraceRecord) -> Result<(), ExchangeError> {
    let mut start = BytesStart::new(tags::TRACE_RECORD);
    start.push_attribute((attr::ID, r.id.as_str()));
    if let Some(c) = &r.corrects {
        start.push_attribute((attr::CORRECTS, c.as_str()));
    }
    w.write_event(Event::Start(start)).map_err(io)?;
    for (name, p) in [(tags::FROM, &r.from), (tags::TO, &r.to)] {
        empty(w, name, &[(attr::CODE, &p.code), (attr::NAME, &p.name), (attr::REGION, &p.region)])?;
    }
    let p = &r.product;
    let shelf = p.shelf_life_days.map(|d| d.to_string()).unwrap_or_default();
    empty(
        w,
        tags::PRODUCT,
        &[
            (attr::TRACE_CODE, &p.trace_code),
            (attr::SCHEME, &p.scheme),
            (attr::NAME, &p.name),
            (attr::CATEGORY, &p.category),
            (attr::SPECIFICATION, &p.specification),
            (attr::BATCH, &p.batch),
            (attr::PRODUCTION_DATE, p.production_date.as_deref().unwrap_or("")),
            (attr::SHELF_LIFE_DAYS, &shelf),
            (attr::ORIGIN, &p.origin),
        ],
    )?;
    let a = &r.act;
    let quantity = a.quantity.to_string();
    let (price, amount) = (number(a.price), number(a.amount));
    let mut act = vec![
        (attr::STAGE, a.stage.as_str()),
        (attr::DIRECTION, &a.direction),
        (attr::QUANTITY, &quantity),
        (attr::UNIT, &a.unit),
        (attr::PRICE, &price),
        (attr::AMOUNT, &amount),
        (attr::TIME, &a.time),
        (attr::PLACE, &a.place),
    ];
    if !a.voucher.is_empty() {
        act.push((attr::VOUCHER, &a.voucher));
    }
    empty(w, tags::ACT, &act)?;
    w.write_event(Event::End(BytesEnd::new(tags::TRACE_RECORD))).map_err(io)
}

/// Writes an envelope of `records`; the header's record count and payload digest are set
/// from the records.
pub fn write_envelope<W: Write>(out: W, header: &Header, records: &[TraceRecord]) -> Result<(), ExchangeError> {
    let mut h = header.clone();
    h.record_count = records.len() as u64;
    h.payload_digest = PayloadDigest::of(records);
    write_streamed(out, &h, records.iter().cloned())
}

/// Writes an envelope whose header already carries the record count and payload digest,
/// taking the records one at a time (a generator, or a second pass over a source whose
/// digest was taken in a first), so memory stays bounded whatever the count.
pub fn write_streamed<W: Write>(
    out: W,
    header: &Header,
    records: impl Iterator<Item = TraceRecord>,
) -> Result<(), ExchangeError> {
    let mut w = start(out, header)?;
    w.write_event(Event::Start(BytesStart::new(tags::BODY))).map_err(io)?;
    for r in records {
        record(&mut w, &r)?;
    }
    w.write_event(Event::End(BytesEnd::new(tags::BODY))).map_err(io)?;
    w.write_event(Event::End(BytesEnd::new(tags::EXCHANGE))).map_err(io)?;
    Ok(())
}

/// Writes an `ack` envelope: `header` (its operation, resource type and correlation id set by
/// the caller) with the receipt of the envelope it acknowledges as its body.
pub fn write_ack<W: Write>(out: W, header: &Header, ack: &Ack) -> Result<(), ExchangeError> {
    let mut w = start(out, header)?;
    w.write_event(Event::Start(BytesStart::new(tags::BODY))).map_err(io)?;
    let mut receipt = BytesStart::new(tags::RECEIPT);
    receipt.push_attribute((attr::SUBMISSION, ack.submission.as_str()));
    receipt.push_attribute((attr::STATUS, ack.status.as_str()));
    let names = [
        attr::RECEIVED,
        attr::ACCEPTED,
        attr::DUPLICATES,
        attr::REJECTED,
        attr::QUARANTINED,
        attr::FLAGGED,
        attr::CORRECTED,
    ];
    let counts: Vec<String> = ack.counts.iter().map(u64::to_string).collect();
    for (name, value) in names.iter().zip(&counts) {
        receipt.push_attribute((*name, value.as_str()));
    }
    w.write_event(Event::Start(receipt)).map_err(io)?;
    for r in &ack.rejections {
        let index = r.index.to_string();
        empty(
            &mut w,
            tags::REJECTION,
            &[
                (attr::INDEX, &index),
                (attr::RECORD_ID, &r.record_id),
                (attr::FIELD, &r.field),
                (attr::CODE, &r.code),
                (attr::REASON, &r.reason),
                (attr::REASON_ZH, &r.reason_zh),
            ],
        )?;
    }
    for (index, id) in &ack.duplicates {
        empty(&mut w, tags::DUPLICATE, &[(attr::INDEX, &index.to_string()), (attr::RECORD_ID, id)])?;
    }
    w.write_event(Event::End(BytesEnd::new(tags::RECEIPT))).map_err(io)?;
    w.write_event(Event::End(BytesEnd::new(tags::BODY))).map_err(io)?;
    w.write_event(Event::End(BytesEnd::new(tags::EXCHANGE))).map_err(io)?;
    Ok(())
}
