//! GS1's own EPCIS 2.0 example documents decode: every event becomes trace records or an
//! itemised rejection, never a broken stream; and records written as EPCIS read back the same.

use std::path::{Path, PathBuf};

use tracenode_adapters::adapter::{DecodeError, Format};
use tracenode_adapters::exchange::{Header, Limits};
use tracenode_adapters::records::TraceRecord;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/epcis2")
}

/// The records and the rejections of one example file.
fn decode(name: &str) -> (Vec<TraceRecord>, Vec<DecodeError>) {
    let file = std::fs::File::open(examples().join(name)).expect(name);
    let mut d = Format::Epcis.decoder(file, Limits::default()).expect("open");
    let (mut records, mut rejected) = (Vec::new(), Vec::new());
    while let Some(r) = d.next_record() {
        match r {
            Ok(r) => records.push(r),
            Err(e) => {
                assert!(!e.fatal, "{name}: {e}");
                rejected.push(e);
            }
        }
    }
    (records, rejected)
}

#[test]
fn every_example_decodes_without_breaking() {
    let mut files = 0;
    for entry in std::fs::read_dir(examples()).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonld") {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let (records, rejected) = decode(&name);
        assert!(!records.is_empty() || !rejected.is_empty(), "{name}: nothing came out");
        for e in &rejected {
            if e.code == "epcis_error_declaration" {
                assert!(e.message_en().contains("error declaration"), "{name}: {e}");
                continue;
            }
            assert_eq!(e.code, "epcis_unmapped_event", "{name}: {e}");
            assert!(e.message_zh().contains("无法映射") && e.message_en().contains("maps to no trace record"));
        }
        files += 1;
    }
    assert_eq!(files, 15);
}

#[test]
fn object_events_map_shipping_and_receiving_with_digital_links() {
    let (records, rejected) = decode("Example_9.6.1-ObjectEvent.jsonld");
    assert!(rejected.is_empty());
    assert_eq!(records.len(), 3);
    let shipped = &records[0];
    assert_eq!(shipped.product.trace_code, "https://id.gs1.org/01/10614141073464/21/2017");
    assert_eq!(shipped.product.scheme, "gs1");
    assert_eq!((shipped.act.stage.as_str(), shipped.act.direction.as_str()), ("distribution_sale", "out"));
    assert_eq!(shipped.act.time, "2005-04-03T20:33:31.116000-06:00");
    assert_eq!(shipped.act.place, "urn:epc:id:sgln:0614141.07346.1234");
    let received = &records[2];
    assert_eq!(received.act.direction, "in");
    assert_eq!(received.act.place, "urn:epc:id:sgln:0012345.11111.0");
    // No sourceList or destinationList: the acting party is the one at the business location
    // (the seller of a shipment, the buyer of a receipt), by the GLN of its SGLN.
    assert_eq!((shipped.from.code.as_str(), shipped.to.code.as_str()), ("0614141073467", ""));
    assert_eq!((received.from.code.as_str(), received.to.code.as_str()), ("", "0012345111112"));
    assert!(records.iter().all(|r| r.id.starts_with("ni:///sha-256;")));
    assert_ne!(records[0].id, records[1].id);
    // The same events inside a query document.
    let (queried, _) = decode("EPCISQueryDocument.jsonld");
    assert_eq!(queried.len(), 3);
}

#[test]
fn quantities_lots_parties_aggregations_and_transformations() {
    let (records, _) = decode("Example_9.6.2-ObjectEvent.jsonld");
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.product.trace_code, "https://id.gs1.org/01/04012345123456/10/998877");
    assert_eq!(r.product.batch, "998877");
    assert_eq!((r.act.quantity, r.act.unit.as_str()), (200.0, "KGM"));
    // Parties named by SGLN become their GLNs, which the node's registry resolves.
    assert_eq!(r.from.code, "4012345000016");
    assert_eq!(r.to.code, "0614141000012");

    let (children, _) = decode("Example_9.6.3-AggregationEvent.jsonld");
    assert_eq!(children.len(), 4);
    assert!(children.iter().all(|c| c.act.direction == "in"));
    assert_eq!(children[3].act.quantity, 200.5);

    let (made, _) = decode("Example_9.6.4-TransformationEvent.jsonld");
    let inputs = made.iter().filter(|m| m.act.direction == "in").count();
    let outputs = made.iter().filter(|m| m.act.direction == "out").count();
    assert_eq!((inputs, outputs), (5, 4));
    assert!(made.iter().all(|m| m.act.stage == "processing"));
}

/// A document as a platform writes it with a few `tn:` fields: each sets one field of the
/// record over what the standard fields gave, and a `tn:stage` gives a stage to a step that
/// has none in the CBV (receiving at a warehouse).
#[test]
fn single_extension_fields_add_what_epcis_has_no_place_for() {
    let doc = serde_json::json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"tn": "urn:tracenode:epcis:"}],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-20T08:00:00+08:00",
        "epcisBody": {"eventList": [
            {"type": "ObjectEvent", "eventID": "ni:///sha-256;aa", "eventTime": "2026-11-20T08:00:00+08:00",
             "eventTimeZoneOffset": "+08:00", "action": "OBSERVE", "bizStep": "receiving",
             "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 12.5, "uom": "KGM"}],
             "destinationList": [{"type": "owning_party", "destination": "https://id.gs1.org/417/0614141000012"}],
             "tn:stage": "warehousing", "tn:category": "0101", "tn:price": "28.5", "tn:productName": "猪肉",
             "tn:toRegion": "330106"},
            {"type": "ObjectEvent", "eventID": "ni:///sha-256;bb", "eventTime": "2026-11-20T09:00:00+08:00",
             "eventTimeZoneOffset": "+08:00", "action": "OBSERVE", "bizStep": "inspecting",
             "epcList": ["urn:epc:id:sgtin:4012345.012345.1"], "bizLocation": {"id": "urn:epc:id:sgln:0614141.00001.0"},
             "tn:stage": "distribution_sale", "tn:direction": "in"},
            {"type": "ObjectEvent", "eventID": "ni:///sha-256;cc", "eventTime": "2026-11-20T10:00:00+08:00",
             "eventTimeZoneOffset": "+08:00", "action": "OBSERVE", "bizStep": "shipping",
             "epcList": ["urn:epc:id:sgtin:4012345.012345.2"], "tn:price": {"yuan": 3}}
        ]}
    });
    let bytes = serde_json::to_vec(&doc).expect("json");
    let mut d = Format::Epcis.decoder(std::io::Cursor::new(bytes), Limits::default()).expect("open");
    let mut out = Vec::new();
    while let Some(r) = d.next_record() {
        out.push(r);
    }
    let received = out[0].as_ref().expect("the first event maps");
    assert_eq!((received.act.stage.as_str(), received.act.direction.as_str()), ("warehousing", "in"));
    assert_eq!((received.product.category.as_str(), received.product.name.as_str()), ("0101", "猪肉"));
    assert_eq!(received.act.price, Some(28.5));
    assert_eq!((received.to.code.as_str(), received.to.region.as_str()), ("0614141000012", "330106"));
    // A step with no trace meaning, given a stage and a direction: the buyer is at the location.
    let inspected = out[1].as_ref().expect("the second event maps");
    assert_eq!((inspected.act.stage.as_str(), inspected.act.direction.as_str()), ("distribution_sale", "in"));
    assert_eq!(inspected.to.code, "0614141000012");
    // A field of the wrong type is named, by event.
    let e = out[2].as_ref().expect_err("the third is refused");
    assert_eq!((e.code, e.index), ("epcis_extension", Some(2)), "the third event, counted from 0");
    assert!(e.message_en().contains("tn:price must be a number"), "{e}");
}

#[test]
fn events_without_trace_meaning_are_itemised() {
    let (records, rejected) = decode("sensor-SensorDataExample1.jsonld");
    assert!(records.is_empty());
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].message_en().contains("inspecting"), "{}", rejected[0]);
    let (_, rejected) = decode("Example-Type-sourceOrDestination,measurement,bizTransaction.jsonld");
    assert!(rejected[0].message_en().contains("AssociationEvent"));
}

#[test]
fn broken_json_is_a_broken_stream() {
    let mut d = Format::Epcis
        .decoder(std::io::Cursor::new(b"{\"epcisBody\": {\"eventList\": [{".to_vec()), Limits::default())
        .expect("open");
    let e = d.next_record().expect("an outcome").expect_err("broken");
    assert!(e.fatal);
    assert_eq!(e.code, "document_truncated");
    let mut d = Format::Epcis
        .decoder(std::io::Cursor::new(b"{\"epcisBody\": {\"eventList\": [}}".to_vec()), Limits::default())
        .expect("open");
    assert_eq!(d.next_record().expect("an outcome").expect_err("broken").code, "epcis_malformed");
}

/// The first of what a document yields that ends it.
fn refusal(doc: &[u8], limits: Limits) -> DecodeError {
    let mut d = Format::Epcis.decoder(std::io::Cursor::new(doc.to_vec()), limits).expect("open");
    while let Some(r) = d.next_record() {
        if let Err(e) = r {
            if e.fatal {
                return e;
            }
        }
    }
    panic!("the document was not refused");
}

const CONTEXT: &str = "\"@context\": [\"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld\"]";

#[test]
fn what_is_not_an_epcis_document_is_refused() {
    let cases: [(String, &str); 5] = [
        ("[1,2,3]".into(), "epcis_not_a_document"),
        ("{}".into(), "epcis_not_a_document"),
        (format!("{{{CONTEXT}, \"type\": \"EPCISDocument\", \"epcisBody\": {{}}}}"), "epcis_no_event_list"),
        (
            "{\"@context\": \"https://example.com/ctx.jsonld\", \"type\": \"EPCISDocument\", \"epcisBody\": {\"eventList\": []}}".into(),
            "epcis_unknown_context",
        ),
        ("{\"type\": \"EPCISDocument\", \"epcisBody\": {\"eventList\": []}}".into(), "epcis_unknown_context"),
    ];
    for (doc, code) in cases {
        assert_eq!(refusal(doc.as_bytes(), Limits::default()).code, code, "{doc}");
    }
    // The standard context as a plain string is fine too.
    let plain = "{\"@context\": \"https://ref.gs1.org/standards/epcis/epcis-context.jsonld\", \"type\": \"EPCISDocument\", \"epcisBody\": {\"eventList\": []}}";
    let mut d =
        Format::Epcis.decoder(std::io::Cursor::new(plain.as_bytes().to_vec()), Limits::default()).expect("open");
    assert!(d.next_record().is_none());
}

#[test]
fn an_event_with_millions_of_epcs_is_refused_unread() {
    let mut doc = format!("{{{CONTEXT}, \"type\": \"EPCISDocument\", \"epcisBody\": {{\"eventList\": [{{\"type\": \"ObjectEvent\", \"bizStep\": \"shipping\", \"epcList\": [");
    for i in 0..2_000_000 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!("\"urn:epc:id:sgtin:0614141.107346.{i}\""));
    }
    doc.push_str("]}]}}");
    let e = refusal(doc.as_bytes(), Limits::default());
    assert_eq!((e.code, e.index), ("record_too_large", Some(0)));
    // Within the byte budget, a list longer than max_list refuses the event alone.
    let small = format!("{{{CONTEXT}, \"type\": \"EPCISDocument\", \"epcisBody\": {{\"eventList\": [{{\"type\": \"ObjectEvent\", \"bizStep\": \"shipping\", \"epcList\": [\"a\", \"b\", \"c\"]}}]}}}}");
    let mut d = Format::Epcis
        .decoder(std::io::Cursor::new(small.into_bytes()), Limits { max_list: 2, ..Limits::default() })
        .expect("open");
    let e = d.next_record().expect("outcome").expect_err("too long");
    assert_eq!((e.code, e.fatal), ("epcis_list_too_long", false));
    assert!(d.next_record().is_none());
}

#[test]
fn records_written_as_epcis_read_back_the_same() {
    let records: Vec<TraceRecord> = (0..3)
        .map(|i| {
            let mut r: TraceRecord = serde_json::from_value(serde_json::json!({
                "id": format!("r{i}"), "corrects": null,
                "from": {"code": "91330106MA27XXXXX0", "name": "西湖鲜果", "region": "330106"},
                "to": {"code": "", "name": "消费者", "region": ""},
                "product": {"trace_code": "https://id.gs1.org/01/06901234567892/21/A1", "scheme": "gs1", "name": "苹果",
                            "category": "01", "specification": "5kg", "batch": "B1", "production_date": null,
                            "shelf_life_days": null, "origin": "烟台"},
                "act": {"stage": "distribution_sale", "direction": "out", "quantity": 2.5, "unit": "箱",
                        "price": 12.0, "amount": null, "time": "2026-11-20T10:00:00+08:00", "place": "杭州"}}))
            .expect("record");
            r.act.quantity += i as f64;
            r
        })
        .collect();
    let mut bytes = Vec::new();
    Format::Epcis.encode(&mut bytes, &Header::default(), &records).expect("encode");
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(doc["type"], "EPCISDocument");
    assert_eq!(doc["epcisBody"]["eventList"][0]["bizStep"], "shipping");
    let mut d = Format::Epcis.decoder(std::io::Cursor::new(bytes), Limits::default()).expect("open");
    let mut back = Vec::new();
    while let Some(r) = d.next_record() {
        back.push(r.expect("record"));
    }
    assert_eq!(back, records);
}

fn declared(event_id: &str) -> Vec<Result<TraceRecord, DecodeError>> {
    let id = if event_id.is_empty() { String::new() } else { format!("\"eventID\": \"{event_id}\", ") };
    let doc = format!(
        "{{{CONTEXT}, \"type\": \"EPCISDocument\", \"epcisBody\": {{\"eventList\": [{{\"type\": \"ObjectEvent\", {id}\"eventTime\": \"2026-11-20T10:00:00Z\", \"bizStep\": \"shipping\", \"epcList\": [\"urn:epc:id:sgtin:0614141.107346.2017\", \"urn:epc:id:sgtin:0614141.107346.2018\"], \"errorDeclaration\": {{\"declarationTime\": \"2026-11-21T10:00:00Z\", \"reason\": \"incorrect_data\"}}}}]}}}}"
    );
    let mut d = Format::Epcis.decoder(std::io::Cursor::new(doc.into_bytes()), Limits::default()).expect("open");
    let mut out = Vec::new();
    while let Some(r) = d.next_record() {
        out.push(r);
    }
    out
}

#[test]
fn an_error_declaration_retracts_each_record_of_the_event_never_takes_it_again() {
    let records: Vec<TraceRecord> = declared("ni:///sha-256;abc").into_iter().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), 2);
    for (k, r) in records.iter().enumerate() {
        assert!(r.retraction, "{r:?}");
        assert_eq!(r.corrects.as_deref(), Some(format!("ni:///sha-256;abc#{k}").as_str()));
        assert_eq!(r.id, format!("ni:///sha-256;abc#{k}/retraction"));
        assert!(r.canonical().contains("\"retraction\":true"));
    }
    // Without an eventID the declared event cannot be told apart: refused.
    let refused = declared("");
    assert_eq!(refused.len(), 1);
    let e = refused[0].as_ref().expect_err("refused");
    assert_eq!((e.code, e.fatal), ("epcis_error_declaration", false));
}

#[test]
fn a_plain_record_keeps_its_canonical_form() {
    let (records, _) = decode("Example_9.6.1-ObjectEvent.jsonld");
    assert!(records.iter().all(|r| !r.retraction && !r.canonical().contains("retraction")));
}
