//! The body of a batch, one type per kind. A body is a JSON array of the kind's items; the
//! header's digest covers its exact text, so a receiver parses it only after the digest
//! checks ([`Payload::parse`]). Unknown fields are ignored, so a newer sender may add a field
//! an older parent does not read; a field is never removed or given a new meaning.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::kind::Kind;
use super::refusal::Refusal;

/// A registration change: the newest approved version of one object at its source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationItem {
    /// Its number in the sender's outbox (ascending within a batch).
    pub seq: i64,
    /// The region of the node it was registered at.
    pub source_region: String,
    /// What it is.
    pub object_kind: ObjectKind,
    /// Its id at its source.
    pub object_id: String,
    /// Its version at its source; a receiver keeps the highest.
    pub version: i32,
    /// The approved content, passed on unchanged.
    pub payload: Box<RawValue>,
}

/// The objects registrations carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A market entity (市场主体).
    Entity,
    /// A product (产品).
    Product,
    /// A traceability device (追溯设备).
    Device,
}

impl ObjectKind {
    /// The name on the wire and in storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Entity => "entity",
            ObjectKind::Product => "product",
            ObjectKind::Device => "device",
        }
    }

    /// The kind called `name`, if it is one.
    pub fn parse(name: &str) -> Option<ObjectKind> {
        [ObjectKind::Entity, ObjectKind::Product, ObjectKind::Device].into_iter().find(|k| k.as_str() == name)
    }
}

/// The five totals of a set of trace records: records, quantity (thousandths), amount
/// (fen), priced records, sum of unit prices (fen). Integers only, so sums are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figures {
    /// Records.
    pub records: i64,
    /// Quantity, thousandths.
    pub quantity_milli: i64,
    /// Amount, fen.
    pub amount_fen: i64,
    /// Records with a unit price.
    pub priced: i64,
    /// Sum of unit prices, fen.
    pub price_fen_sum: i64,
}

impl Figures {
    /// Adds `o`; a sum past 64 bits stops at the maximum instead of wrapping to a negative
    /// (records are bounded so that no plausible total comes near it).
    pub fn add(&mut self, o: &Figures) {
        self.records = self.records.saturating_add(o.records);
        self.quantity_milli = self.quantity_milli.saturating_add(o.quantity_milli);
        self.amount_fen = self.amount_fen.saturating_add(o.amount_fen);
        self.priced = self.priced.saturating_add(o.priced);
        self.price_fen_sum = self.price_fen_sum.saturating_add(o.price_fen_sum);
    }
}

/// One day's statistics of the sender's jurisdiction, or of some regions of it. The receiver
/// **replaces** what it holds for (sender, day) — for (sender, day, region) of each region
/// in [`StatisticsSlice::regions`] when the slice names them — with the slice's rows; an
/// empty slice clears what it covers. A slice that names its regions carries rows of those
/// regions only, so a change in one county travels as that county's cells of that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatisticsSlice {
    /// The day (`YYYY-MM-DD`, China Standard Time).
    pub day: String,
    /// The regions the slice covers (six-digit codes of acting parties); absent: the whole
    /// day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// Its rows.
    pub rows: Vec<SliceRow>,
}

impl StatisticsSlice {
    /// Why the slice is not well formed: a row of a region it does not cover, a region named
    /// twice or not a six-digit code.
    pub fn fault(&self) -> Option<String> {
        if !is_day(&self.day) {
            return Some(format!("day “{}”", self.day));
        }
        let Some(regions) = &self.regions else { return None };
        let mut seen = std::collections::BTreeSet::new();
        for r in regions {
            if r.len() != 6 || !r.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("region “{r}” of {}", self.day));
            }
            if !seen.insert(r.as_str()) {
                return Some(format!("region {r} named twice on {}", self.day));
            }
        }
        let stray = self.rows.iter().find(|row| !seen.contains(row.region.as_str()))?;
        Some(format!("a row of region {} on {}, which the slice does not cover", stray.region, self.day))
    }
}

/// One row of a slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SliceRow {
    /// Region of the acting party.
    pub region: String,
    /// Product category, or empty.
    pub category: String,
    /// Stage.
    pub stage: String,
    /// `in` or `out`.
    pub direction: String,
    /// The totals.
    #[serde(flatten)]
    pub figures: Figures,
}

/// A row of the audit chain and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainPoint {
    /// The row's number.
    pub seq: i64,
    /// Its hash, hex.
    pub hash: String,
}

/// A signed head of the sender's audit chain, re-stating the hash the chain holds today at
/// the previous checkpoint's row, so a receiver that kept that checkpoint tells a rewritten
/// history from the true one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The newest row.
    pub head: ChainPoint,
    /// The hash today at the previous checkpoint's row.
    pub previous: Option<ChainPoint>,
    /// When it was signed (RFC 3339).
    pub signed_at: String,
    /// ECDSA-SHA256 by the sender's client key over [`Checkpoint::message`], hex.
    pub signature: String,
    /// The client certificate that made the signature (PEM); absent: the one the batch
    /// arrived with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

impl Checkpoint {
    /// The text a checkpoint's signature covers.
    pub fn message(sender_region: &str, head: &ChainPoint, previous: &Option<ChainPoint>, signed_at: &str) -> String {
        let prev = previous.as_ref().map(|p| format!("{}:{}", p.seq, p.hash)).unwrap_or_default();
        format!("tracenode-audit-checkpoint|{sender_region}|{}:{}|{prev}|{signed_at}", head.seq, head.hash)
    }
}

/// A revocation list of the sender's CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// Its number in the sender's sequence of lists; a receiver keeps the highest.
    pub number: i64,
    /// The list (PEM).
    pub pem: String,
}

/// The summary of one industry statistics report form for one period over the jurisdiction of
/// the node of `source_region`: what its own reporting units filled and its children's
/// summaries, indicator by indicator. The receiver keeps, per (source, form, period), the
/// summary of the highest `revision`; one of a lower or equal revision changes nothing. A
/// node passes its children's summaries on with its own, so the national node holds every
/// tier's and can drill down to any of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndustrySummary {
    /// The region of the node whose jurisdiction it covers.
    pub source_region: String,
    /// The form's code.
    pub form: String,
    /// The period (`YYYY`, `YYYY-Qn` or `YYYY-MM`, as the form's frequency says).
    pub period: String,
    /// Its number at its source, rising with every change.
    pub revision: i64,
    /// Reporting units assigned at the source node.
    pub units_expected: i64,
    /// Of those, the units whose report was approved.
    pub units_reported: i64,
    /// The source node's children.
    pub children_expected: i64,
    /// Of those, the children whose summary it holds.
    pub children_reported: i64,
    /// The figures, one per indicator that has any.
    pub figures: Vec<IndicatorFigure>,
}

impl IndustrySummary {
    /// Why the summary is not well formed: a region that is not a six-digit code, a count
    /// below zero or above its expected count, an indicator twice or with a count below zero.
    pub fn fault(&self) -> Option<String> {
        let code = &self.source_region;
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Some(format!("region “{code}” of a summary of {}", self.form));
        }
        let counts = [self.units_expected, self.units_reported, self.children_expected, self.children_reported];
        if counts.iter().any(|c| *c < 0)
            || self.units_reported > self.units_expected
            || self.children_reported > self.children_expected
        {
            return Some(format!("the counts of {code}'s summary of {} {}", self.form, self.period));
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.figures {
            if !seen.insert(f.code.as_str()) || f.count < 0 {
                return Some(format!("indicator {} of {code}'s summary of {} {}", f.code, self.form, self.period));
            }
        }
        None
    }
}

/// What a summary holds of one indicator: the sum of the values reported, how many units
/// reported one, and the largest, so that a total, an average of reporters and a maximum all
/// combine exactly from tier to tier. Values are in thousandths of the indicator's unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndicatorFigure {
    /// The indicator's code in the form.
    pub code: String,
    /// Sum of the values, thousandths.
    pub sum_milli: i64,
    /// Units that reported a value.
    pub count: i64,
    /// The largest value, thousandths.
    pub max_milli: i64,
}

/// The most results one [`EvaluationResults`] part carries.
pub const RESULTS_PER_PART: usize = 1000;

/// One item of an `evaluations` batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EvaluationItem {
    /// The evaluation of one node's jurisdiction.
    Summary(EvaluationSummary),
    /// One part of the results of one node's own run.
    Results(EvaluationResults),
}

/// What one node's jurisdiction came to under one version of an indicator set for one
/// period: its own run's objects plus its children's summaries. The counters of `basis` add
/// up from tier to tier (one whose name ends in `_max` combines as the largest), so any tier
/// scores a jurisdiction from them by the set's own rules. The receiver keeps, per (source,
/// set, version, period), the summary of the highest `revision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationSummary {
    /// The region of the node whose jurisdiction it covers.
    pub source_region: String,
    /// The indicator set's code.
    pub set: String,
    /// Its version.
    pub version: i32,
    /// The period (`YYYY-MM` or `YYYY-Qn`).
    pub period: String,
    /// Its number at its source, rising with every change.
    pub revision: i64,
    /// Objects evaluated in the jurisdiction.
    pub objects: i64,
    /// Of those, the ones with a score.
    pub evaluated: i64,
    /// Objects by grade: excellent, good, pass, fail, unrated (they sum to `objects`).
    pub grades: [i64; 5],
    /// The counters the jurisdiction's indicators are computed from.
    pub basis: std::collections::BTreeMap<String, i64>,
    /// The source node's children.
    pub children_expected: i64,
    /// Of those, the children whose summary it holds.
    pub children_reported: i64,
}

impl EvaluationSummary {
    /// Why the summary is not well formed.
    pub fn fault(&self) -> Option<String> {
        let code = &self.source_region;
        if !is_region(code) {
            return Some(format!("region “{code}” of an evaluation summary of {}", self.set));
        }
        let counts = [self.objects, self.evaluated, self.children_expected, self.children_reported];
        if counts.iter().chain(&self.grades).chain(self.basis.values()).any(|c| *c < 0)
            || self.evaluated > self.objects
            || self.children_reported > self.children_expected
            || self.grades.iter().sum::<i64>() != self.objects
            || self.revision < 1
        {
            return Some(format!("the counts of {code}'s evaluation of {} {}", self.set, self.period));
        }
        None
    }
}

/// One part (from 0) of the results of one run of a node: its own objects, ranked there.
/// A run with a greater id than the one held replaces it from its part 0 on; parts of an
/// older run change nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationResults {
    /// The region of the node that ran it.
    pub source_region: String,
    /// The indicator set's code.
    pub set: String,
    /// Its version.
    pub version: i32,
    /// The period.
    pub period: String,
    /// The run's id at its source (time-ordered).
    pub run: String,
    /// This part's number, from 0.
    pub part: u32,
    /// How many parts the run's results take.
    pub parts: u32,
    /// The results, at most [`RESULTS_PER_PART`].
    pub results: Vec<EvaluatedObject>,
}

impl EvaluationResults {
    /// Why the part is not well formed.
    pub fn fault(&self) -> Option<String> {
        let code = &self.source_region;
        if !is_region(code) {
            return Some(format!("region “{code}” of evaluation results of {}", self.set));
        }
        if self.parts == 0 || self.part >= self.parts || self.results.len() > RESULTS_PER_PART || self.run.is_empty() {
            return Some(format!(
                "part {} of {} of {code}'s results of {} {}",
                self.part, self.parts, self.set, self.period
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.results {
            if !seen.insert(r.id.as_str()) || r.rank.is_some_and(|k| k < 1) {
                return Some(format!("object {} in {code}'s results of {} {}", r.id, self.set, self.period));
            }
        }
        None
    }
}

/// One evaluated object's result, as its node ranked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluatedObject {
    /// Its id at its node.
    pub id: String,
    /// Its code (unified social credit code, or the tenant's code).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Composite score, thousandths of a point (absent: no indicator had a value).
    pub score_milli: Option<i64>,
    /// Grade code (`excellent`, `good`, `pass`, `fail`, `unrated`).
    pub grade: String,
    /// Rank at its node, from 1.
    pub rank: Option<i64>,
    /// Each indicator: code, value and points, thousandths (absent: no base).
    pub indicators: Vec<IndicatorScore>,
}

/// One indicator of an evaluated object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorScore {
    /// The indicator's code in the set.
    pub code: String,
    /// Its value, thousandths of the measure's unit.
    pub value_milli: Option<i64>,
    /// Its points, thousandths.
    pub points_milli: Option<i64>,
}

fn is_region(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// A parsed batch body.
#[derive(Debug, Clone)]
pub enum Payload {
    /// `registrations`.
    Registrations(Vec<RegistrationItem>),
    /// `statistics`.
    Statistics(Vec<StatisticsSlice>),
    /// `audit-checkpoints`.
    AuditCheckpoints(Vec<Checkpoint>),
    /// `revocation-lists`.
    RevocationLists(Vec<RevocationList>),
    /// `industry-statistics`.
    IndustryStatistics(Vec<IndustrySummary>),
    /// `evaluations`.
    Evaluations(Vec<EvaluationItem>),
}

impl Payload {
    /// Reads the body of a `kind` batch; a body that is not the kind's JSON, or a statistics
    /// day that is not a date, is refused as `malformed_batch`.
    pub fn parse(kind: Kind, body: &str) -> Result<Payload, Refusal> {
        let malformed = |e: serde_json::Error| Refusal::Malformed { kind, why: e.to_string() };
        Ok(match kind {
            Kind::Registrations => Payload::Registrations(serde_json::from_str(body).map_err(malformed)?),
            Kind::Statistics => {
                let slices: Vec<StatisticsSlice> = serde_json::from_str(body).map_err(malformed)?;
                if let Some(why) = slices.iter().find_map(StatisticsSlice::fault) {
                    return Err(Refusal::Malformed { kind, why });
                }
                Payload::Statistics(slices)
            }
            Kind::AuditCheckpoints => Payload::AuditCheckpoints(serde_json::from_str(body).map_err(malformed)?),
            Kind::RevocationLists => Payload::RevocationLists(serde_json::from_str(body).map_err(malformed)?),
            Kind::IndustryStatistics => {
                let summaries: Vec<IndustrySummary> = serde_json::from_str(body).map_err(malformed)?;
                if let Some(why) = summaries.iter().find_map(IndustrySummary::fault) {
                    return Err(Refusal::Malformed { kind, why });
                }
                Payload::IndustryStatistics(summaries)
            }
            Kind::Evaluations => {
                let items: Vec<EvaluationItem> = serde_json::from_str(body).map_err(malformed)?;
                let fault = items.iter().find_map(|i| match i {
                    EvaluationItem::Summary(s) => s.fault(),
                    EvaluationItem::Results(r) => r.fault(),
                });
                if let Some(why) = fault {
                    return Err(Refusal::Malformed { kind, why });
                }
                Payload::Evaluations(items)
            }
        })
    }

    /// The kind it is a body of.
    pub fn kind(&self) -> Kind {
        match self {
            Payload::Registrations(_) => Kind::Registrations,
            Payload::Statistics(_) => Kind::Statistics,
            Payload::AuditCheckpoints(_) => Kind::AuditCheckpoints,
            Payload::RevocationLists(_) => Kind::RevocationLists,
            Payload::IndustryStatistics(_) => Kind::IndustryStatistics,
            Payload::Evaluations(_) => Kind::Evaluations,
        }
    }

    /// Items in it.
    pub fn items(&self) -> usize {
        match self {
            Payload::Registrations(v) => v.len(),
            Payload::Statistics(v) => v.len(),
            Payload::AuditCheckpoints(v) => v.len(),
            Payload::RevocationLists(v) => v.len(),
            Payload::IndustryStatistics(v) => v.len(),
            Payload::Evaluations(v) => v.len(),
        }
    }

    /// The body's JSON text, as a batch carries it.
    pub fn to_body(&self) -> String {
        let text = match self {
            Payload::Registrations(v) => serde_json::to_string(v),
            Payload::Statistics(v) => serde_json::to_string(v),
            Payload::AuditCheckpoints(v) => serde_json::to_string(v),
            Payload::RevocationLists(v) => serde_json::to_string(v),
            Payload::IndustryStatistics(v) => serde_json::to_string(v),
            Payload::Evaluations(v) => serde_json::to_string(v),
        };
        // Plain structs of strings and integers, and raw values that are JSON already.
        text.unwrap_or_else(|e| unreachable!("a payload always serialises: {e}"))
    }
}

/// `YYYY-MM-DD`, a day that exists, in exactly that form (the form every sender writes).
fn is_day(text: &str) -> bool {
    text.len() == 10 && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_checked_against_the_calendar() {
        for good in ["2026-12-02", "2024-02-29", "2000-02-29", "1999-12-31"] {
            assert!(is_day(good), "{good}");
        }
        for bad in
            ["2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-4-01", "２026-01-01", ""]
        {
            assert!(!is_day(bad), "{bad}");
        }
    }

    #[test]
    fn a_body_of_another_shape_is_malformed_and_names_its_kind() {
        let refused = Payload::parse(Kind::Statistics, r#"[{"day":"2026-02-30","rows":[]}]"#).expect_err("bad day");
        assert_eq!(refused.code(), "malformed_batch");
        assert!(refused.en().contains("statistics"), "{}", refused.en());
        let stray = r#"[{"day":"2026-02-03","regions":["110105"],"rows":[{"region":"110106","category":"",
            "stage":"retail","direction":"out","records":1,"quantity_milli":1,"amount_fen":1,"priced":0,
            "price_fen_sum":0}]}]"#;
        let refused = Payload::parse(Kind::Statistics, stray).expect_err("row outside the slice's regions");
        assert!(refused.en().contains("110106"), "{}", refused.en());
        for regions in [r#"["1101"]"#, r#"["110105","110105"]"#] {
            let body = format!(r#"[{{"day":"2026-02-03","regions":{regions},"rows":[]}}]"#);
            assert_eq!(Payload::parse(Kind::Statistics, &body).expect_err(regions).code(), "malformed_batch");
        }
        let whole = Payload::parse(Kind::Statistics, r#"[{"day":"2026-02-03","rows":[]}]"#).expect("whole day");
        assert!(matches!(whole, Payload::Statistics(s) if s[0].regions.is_none()));
        let refused = Payload::parse(Kind::Registrations, r#"[{"seq":1}]"#).expect_err("missing fields");
        assert_eq!(refused.code(), "malformed_batch");
        let refused = Payload::parse(
            Kind::Registrations,
            r#"[{"seq":1,"source_region":"330106","object_kind":"lot","object_id":"x","version":1,"payload":{}}]"#,
        )
        .expect_err("unknown object kind");
        assert_eq!(refused.code(), "malformed_batch");
        let summary = r#"[{"type":"summary","source_region":"330106","set":"EV","version":1,"period":"2026-11",
            "revision":1,"objects":2,"evaluated":1,"grades":[0,1,0,0,0],"basis":{},"children_expected":0,"children_reported":0}]"#;
        let refused = Payload::parse(Kind::Evaluations, summary).expect_err("grades do not sum to the objects");
        assert!(refused.en().contains("counts of 330106"), "{}", refused.en());
        let good = summary.replace("[0,1,0,0,0]", "[0,1,0,0,1]");
        assert_eq!(Payload::parse(Kind::Evaluations, &good).expect("well formed").items(), 1);
        let part = r#"[{"type":"results","source_region":"330106","set":"EV","version":1,"period":"2026-11",
            "run":"r1","part":1,"parts":1,"results":[]}]"#;
        assert_eq!(Payload::parse(Kind::Evaluations, part).expect_err("part past the parts").code(), "malformed_batch");
        let ok = Payload::parse(Kind::RevocationLists, r#"[{"number":3,"pem":"x","later_field":true}]"#).expect("ok");
        assert_eq!((ok.kind(), ok.items()), (Kind::RevocationLists, 1));
    }
}
