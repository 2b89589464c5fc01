//! Snapshots of every wire format: the batch of each kind, a bundle file, receipts, cursors,
//! the mailbox and the refusal table. A change to any of them fails here until the new form
//! is reviewed (`cargo insta review`) — the formats are a contract with nodes of other
//! versions, which may run at other tiers for years.

use serde::Serialize;
use serde_json::value::RawValue;
use tracenode_federation::tiers::{Authority, Identity, Leaf, Request};
use tracenode_federation::wire::batch::{Batch, BodyDigest, Bundle, Header, PROTOCOL};
use tracenode_federation::wire::mailbox::{
    CrlPayload, DuplicateHolder, DuplicateNotice, Mail, Message, MessageKind, NoticePayload,
};
use tracenode_federation::wire::payload::{
    ChainPoint, Checkpoint, EvaluatedObject, EvaluationItem, EvaluationResults, EvaluationSummary, Figures,
    IndicatorFigure, IndicatorScore, IndustrySummary, ObjectKind, RegistrationItem, RevocationList, SliceRow,
    StatisticsSlice,
};
use tracenode_federation::wire::receipt::{Cursor, Outcome, Receipt};
use tracenode_federation::wire::{Kind, Payload, Refusal};

const SENDER: &str = "330106";
const AT: &str = "2026-12-02T08:00:00+00:00";

fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("json")
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).expect("raw json")
}

/// The batch a sender makes of `payload`, with fixed id and time.
fn batch_of(payload: &Payload, batch_no: i64) -> Batch {
    let body = payload.to_body();
    let kind = payload.kind();
    Batch {
        header: Header {
            protocol: PROTOCOL,
            batch_id: format!("0193a1c2-0000-4000-8000-00000000000{}", kind as u8 + 1),
            kind: kind.as_str().to_owned(),
            sender: Identity::Node { region: SENDER.into() }.uri(),
            batch_no,
            created_at: AT.into(),
            items: payload.items() as i64,
            digest: BodyDigest::Sha256.of(&body).expect("digest"),
            digest_algorithm: BodyDigest::Sha256,
        },
        body,
        seal: None,
    }
}

fn registrations() -> Payload {
    Payload::Registrations(vec![
        RegistrationItem {
            seq: 41,
            source_region: "330106".into(),
            object_kind: ObjectKind::Entity,
            object_id: "91330106MA2H3K4L5X".into(),
            version: 2,
            payload: raw(r#"{"name":"杭州西溪农产品有限公司","region":"330106","status":"approved"}"#),
        },
        RegistrationItem {
            seq: 42,
            source_region: "330106".into(),
            object_kind: ObjectKind::Product,
            object_id: "06901234567892".into(),
            version: 1,
            payload: raw(r#"{"gtin":"06901234567892","name":"西湖龙井 250g","category":"0101"}"#),
        },
        RegistrationItem {
            seq: 43,
            source_region: "330106".into(),
            object_kind: ObjectKind::Device,
            object_id: "dev-0007".into(),
            version: 3,
            payload: raw(r#"{"kind":"scale","serial":"SC-2291"}"#),
        },
    ])
}

fn statistics() -> Payload {
    let figures =
        Figures { records: 12, quantity_milli: 3_500_000, amount_fen: 1_260_000, priced: 12, price_fen_sum: 43_200 };
    Payload::Statistics(vec![
        StatisticsSlice {
            day: "2026-12-01".into(),
            regions: Some(vec!["330106".into()]),
            rows: vec![
                SliceRow {
                    region: "330106".into(),
                    category: "0101".into(),
                    stage: "wholesale".into(),
                    direction: "out".into(),
                    figures,
                },
                SliceRow {
                    region: "330106".into(),
                    category: "0101".into(),
                    stage: "retail".into(),
                    direction: "in".into(),
                    figures: Figures {
                        records: 3,
                        quantity_milli: 900_000,
                        amount_fen: 0,
                        priced: 0,
                        price_fen_sum: 0,
                    },
                },
            ],
        },
        // A day whose data is gone is sent empty: the parent drops its slice.
        StatisticsSlice { day: "2026-11-30".into(), regions: None, rows: vec![] },
    ])
}

fn checkpoints() -> Payload {
    Payload::AuditCheckpoints(vec![Checkpoint {
        head: ChainPoint { seq: 1208, hash: "9f2c".repeat(16) },
        previous: Some(ChainPoint { seq: 1100, hash: "41ab".repeat(16) }),
        signed_at: AT.into(),
        signature: "3045022100aa".into(),
        signer: Some("-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n".into()),
    }])
}

fn revocations() -> Payload {
    Payload::RevocationLists(vec![RevocationList {
        number: 7,
        pem: "-----BEGIN X509 CRL-----\nMIIB…\n-----END X509 CRL-----\n".into(),
    }])
}

fn industry_statistics() -> Payload {
    Payload::IndustryStatistics(vec![IndustrySummary {
        source_region: "330106".into(),
        form: "SX-101".into(),
        period: "2026-11".into(),
        revision: 4,
        units_expected: 12,
        units_reported: 11,
        children_expected: 0,
        children_reported: 0,
        figures: vec![
            IndicatorFigure { code: "A01".into(), sum_milli: 1_250_500, count: 11, max_milli: 310_000 },
            IndicatorFigure { code: "A02".into(), sum_milli: 96_000, count: 10, max_milli: 9_800 },
        ],
    }])
}

fn evaluations() -> Payload {
    let basis =
        [("expected", 60), ("reported", 51), ("records", 840), ("rejected", 12), ("delay_seconds_sum", 302_400)];
    Payload::Evaluations(vec![
        EvaluationItem::Results(EvaluationResults {
            source_region: "330106".into(),
            set: "EV-ENT".into(),
            version: 2,
            period: "2026-11".into(),
            run: "01937a2c-6f00-7000-8000-000000000001".into(),
            part: 0,
            parts: 1,
            results: vec![EvaluatedObject {
                id: "01937a2c-0000-7000-8000-00000000e001".into(),
                code: "91330106MA2B3C4D5E".into(),
                name: "西湖农贸市场".into(),
                region: "330106".into(),
                score_milli: Some(80_000),
                grade: "good".into(),
                rank: Some(1),
                indicators: vec![
                    IndicatorScore { code: "I1".into(), value_milli: Some(66_667), points_milli: Some(66_667) },
                    IndicatorScore { code: "I2".into(), value_milli: None, points_milli: None },
                ],
            }],
        }),
        EvaluationItem::Summary(EvaluationSummary {
            source_region: "330106".into(),
            set: "EV-ENT".into(),
            version: 2,
            period: "2026-11".into(),
            revision: 3,
            objects: 1,
            evaluated: 1,
            grades: [0, 1, 0, 0, 0],
            basis: basis.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            children_expected: 0,
            children_reported: 0,
        }),
    ])
}

fn every_payload() -> Vec<Payload> {
    vec![registrations(), statistics(), checkpoints(), revocations(), industry_statistics(), evaluations()]
}

#[test]
fn one_payload_per_kind() {
    let kinds: Vec<Kind> = every_payload().iter().map(Payload::kind).collect();
    assert_eq!(kinds, Kind::ALL.to_vec(), "a new kind needs its snapshot here");
}

#[test]
fn batch_registrations() {
    insta::assert_snapshot!(pretty(&batch_of(&registrations(), 9)));
}

#[test]
fn batch_statistics() {
    insta::assert_snapshot!(pretty(&batch_of(&statistics(), 31)));
}

#[test]
fn batch_audit_checkpoints() {
    insta::assert_snapshot!(pretty(&batch_of(&checkpoints(), 5)));
}

#[test]
fn batch_revocation_lists() {
    insta::assert_snapshot!(pretty(&batch_of(&revocations(), 2)));
}

#[test]
fn batch_industry_statistics() {
    insta::assert_snapshot!(pretty(&batch_of(&industry_statistics(), 3)));
}

#[test]
fn batch_evaluations() {
    insta::assert_snapshot!(pretty(&batch_of(&evaluations(), 4)));
}

#[test]
fn batch_with_an_sm3_digest() {
    let batch = batch_of(&revocations(), 2).digested_with(BodyDigest::Sm3).expect("sm3");
    insta::assert_snapshot!(pretty(&batch.header));
}

#[test]
fn every_body_parses_back_as_it_was_written() {
    for payload in every_payload() {
        let body = payload.to_body();
        let again = Payload::parse(payload.kind(), &body).expect("parses");
        assert_eq!(again.to_body(), body, "{}", payload.kind());
    }
}

/// A bundle file, with the parts that differ on every run (certificates, signatures)
/// replaced by their shape.
#[test]
fn bundle_file() {
    let root = Authority::root().expect("root");
    let (request, county_key) = Request::new(SENDER).expect("request");
    let county_cert = root.sign_child(&request).expect("signed");
    let county =
        Authority::from_pem(&county_cert.to_pem().expect("pem"), &county_key.private_key_to_pem_pkcs8().expect("key"))
            .expect("authority");
    let (cert, key) = county.issue_with_key(&Leaf::NodeClient).expect("client");
    let chain = vec![cert, county.certificate().clone()];
    let batches = vec![batch_of(&revocations(), 2)];
    let bundle = Bundle::seal(&chain, &key, batches).expect("sealed");
    let mut doc = serde_json::to_value(&bundle).expect("json");
    for pem in doc["chain"].as_array_mut().expect("chain") {
        assert!(pem.as_str().is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----")));
        *pem = "<PEM certificate>".into();
    }
    for signed in doc["batches"].as_array_mut().expect("batches") {
        assert!(signed["signature"].as_str().is_some_and(hex_like));
        signed["signature"] = "<ECDSA-SHA256 signature, hex>".into();
    }
    insta::assert_snapshot!(pretty(&doc));
}

fn hex_like(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn receipts_and_cursor() {
    let applied = Receipt {
        batch_id: "0193a1c2-0000-4000-8000-000000000001".into(),
        outcome: Outcome::Applied,
        applied_through: 9,
        changed: 3,
    };
    let duplicate = Receipt { outcome: Outcome::Duplicate, changed: 0, ..applied.clone() };
    let cursor = Cursor { kind: Kind::Statistics, applied_through: 31 };
    insta::assert_snapshot!(format!("{}\n{}\n{}", pretty(&applied), pretty(&duplicate), pretty(&cursor)));
}

#[test]
fn mailbox_answer() {
    let message = |seq, kind: MessageKind, target: &str, payload: String| Message {
        seq,
        kind: kind.as_str().into(),
        target: target.into(),
        origin: "330000".into(),
        payload,
    };
    let notice =
        NoticePayload {
            title: "年度评价安排".into(), body: "请于 12 月 20 日前完成自评。".into(), duplicate: None
        };
    let duplicate = NoticePayload {
        title: "跨辖区重复登记：91330106MA00030058".into(),
        body: "统一社会信用代码 91330106MA00030058 同时登记于 330100（商户300）、330200（宁波同码商行）".into(),
        duplicate: Some(DuplicateNotice {
            code: "91330106MA00030058".into(),
            found_at: "330000".into(),
            holders: vec![
                DuplicateHolder { region: "330100".into(), name: "商户300".into() },
                DuplicateHolder { region: "330200".into(), name: "宁波同码商行".into() },
            ],
        }),
    };
    let crl = CrlPayload {
        issuer: "330000".into(),
        pem: "-----BEGIN X509 CRL-----\nMIIB…\n-----END X509 CRL-----\n".into(),
    };
    let mail = Mail {
        messages: vec![
            message(17, MessageKind::Notice, "", serde_json::to_string(&notice).expect("json")),
            message(18, MessageKind::Crl, "330100", serde_json::to_string(&crl).expect("json")),
            message(19, MessageKind::Catalogue, "", r#"{"version":"2026.2","categories":[]}"#.into()),
            message(20, MessageKind::Notice, "330200", serde_json::to_string(&duplicate).expect("json")),
        ],
        through: 21,
    };
    insta::assert_snapshot!(pretty(&mail));
}

/// One of every refusal.
fn every_refusal() -> Vec<Refusal> {
    let child = || SENDER.to_owned();
    vec![
        Refusal::DigestMismatch,
        Refusal::Protocol(2),
        Refusal::BadSignature,
        Refusal::SenderMismatch {
            named: "urn:tracenode:node:330106".into(),
            certified: "urn:tracenode:node:330105".into(),
        },
        Refusal::Malformed { kind: Kind::Statistics, why: "day “2026-02-30”".into() },
        Refusal::NotABundle("format “x”".into()),
        Refusal::Untrusted("unknown issuer".into()),
        Refusal::UnknownKind("forecasts".into()),
        Refusal::BatchGap { expected: 4, got: 6 },
        Refusal::BatchConflict { child: child(), batch_no: 3, applied_through: 5 },
        Refusal::SourceOutsideChild { child: child(), region: "330205".into() },
        Refusal::CellOutsideChild { child: child(), region: "330205".into() },
        Refusal::HistoryRewritten { child: child(), seq: 17 },
        Refusal::BadCheckpointSignature { child: child() },
        Refusal::BadRevocationList { child: child(), why: "expired".into() },
        Refusal::UnknownForm { child: child(), form: "SX-101".into(), period: "2026-11".into() },
        Refusal::UnknownEvaluationSet { child: child(), set: "EV-ENT".into(), version: 3 },
    ]
}

/// The refusal table: status, code and both messages of every refusal.
#[test]
fn refusal_table() {
    let table: Vec<String> =
        every_refusal().iter().map(|r| format!("{} {} | {} | {}", r.status(), r.code(), r.en(), r.zh())).collect();
    insta::assert_snapshot!(table.join("\n"));
}

/// Only a refusal of the sequence asks the sender to resync (409); every code is a plain
/// identifier and every Chinese message is Chinese.
#[test]
fn refusal_rows_keep_their_rules() {
    for r in every_refusal() {
        assert!(r.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", r.code());
        assert_eq!(Refusal::is_out_of_sequence(r.code()), r.status() == 409, "{r:?}");
        assert!(r.status() == 409 || r.status() == 422, "{r:?}");
        assert!(r.zh().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{r:?}");
    }
}

/// Enrolment over the network: the request, the ticket and each outcome.
#[test]
fn enrolment_exchange() {
    use tracenode_federation::wire::enrolment::{Certificates, Decision, EnrolmentStatus, Submission, Ticket};
    let pem = |what: &str| format!("-----BEGIN CERTIFICATE-----\nMIIB…{what}\n-----END CERTIFICATE-----\n");
    let request = Submission {
        request_pem: "-----BEGIN CERTIFICATE REQUEST-----\nMIIB…\n-----END CERTIFICATE REQUEST-----\n".into(),
        name: "杭州市西湖区节点".into(),
    };
    let ticket = Ticket {
        id: "0193a1c2-0000-7000-8000-0000000000e1".into(),
        token: "k3J9-shown-once".into(),
        fingerprint: "SHA256:5f:2a:…:9c".into(),
    };
    let pending = Decision { status: EnrolmentStatus::Pending, reason: None, bundle: None };
    let rejected =
        Decision {
            status: EnrolmentStatus::Rejected, reason: Some("区划与申请单位不符".into()), bundle: None
        };
    let approved = Decision {
        status: EnrolmentStatus::Approved,
        reason: None,
        bundle: Some(Certificates { ca: pem("county"), chain: pem("city"), root: pem("national") }),
    };
    for status in EnrolmentStatus::ALL {
        assert_eq!(EnrolmentStatus::parse(status.as_str()), Some(status));
    }
    insta::assert_snapshot!([
        pretty(&request),
        pretty(&ticket),
        pretty(&pending),
        pretty(&rejected),
        pretty(&approved)
    ]
    .join("\n"));
}
