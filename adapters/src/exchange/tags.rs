//! Every element and attribute name of the exchange envelope, in one place.

/// The root element.
pub const EXCHANGE: &str = "Exchange";
/// The namespace of version 1 of the envelope.
pub const NAMESPACE: &str = "urn:tracenode:exchange:1";
/// The header element.
pub const HEADER: &str = "Header";
/// Header: the sending node or tenant.
pub const SENDER: &str = "Sender";
/// Header: the receiving node.
pub const RECEIVER: &str = "Receiver";
/// Header: the message id.
pub const MESSAGE_ID: &str = "MessageId";
/// Header: the id of the message this one answers or continues.
pub const CORRELATION_ID: &str = "CorrelationId";
/// Header: `push`, `query` or `ack`.
pub const OPERATION: &str = "Operation";
/// Header: created time, ISO 8601 with offset.
pub const CREATED: &str = "Created";
/// Header: the kind of records in the body.
pub const RESOURCE_TYPE: &str = "ResourceType";
/// Header: how many records the body holds.
pub const RECORD_COUNT: &str = "RecordCount";
/// Header: SHA-256 of the records' canonical forms.
pub const PAYLOAD_DIGEST: &str = "PayloadDigest";
/// The body element.
pub const BODY: &str = "Body";
/// The optional signature element.
pub const SIGNATURE: &str = "Signature";
/// A transaction record.
pub const TRACE_RECORD: &str = "TraceRecord";
/// The seller or sender party.
pub const FROM: &str = "From";
/// The buyer or receiver party.
pub const TO: &str = "To";
/// The product of a record.
pub const PRODUCT: &str = "Product";
/// The act of a record.
pub const ACT: &str = "Act";

/// The acknowledgement of a pushed envelope (in the body of an `ack` envelope).
pub const RECEIPT: &str = "Receipt";
/// A rejected record in a receipt.
pub const REJECTION: &str = "Rejection";
/// A duplicate record in a receipt.
pub const DUPLICATE: &str = "Duplicate";

/// Attribute names.
pub mod attr {
    /// Record id.
    pub const ID: &str = "id";
    /// Id of the record a correction corrects.
    pub const CORRECTS: &str = "corrects";
    /// Party code.
    pub const CODE: &str = "code";
    /// Name.
    pub const NAME: &str = "name";
    /// Region.
    pub const REGION: &str = "region";
    /// Trace code.
    pub const TRACE_CODE: &str = "traceCode";
    /// Code scheme.
    pub const SCHEME: &str = "scheme";
    /// Category.
    pub const CATEGORY: &str = "category";
    /// Specification.
    pub const SPECIFICATION: &str = "specification";
    /// Batch.
    pub const BATCH: &str = "batch";
    /// Production date.
    pub const PRODUCTION_DATE: &str = "productionDate";
    /// Shelf life (days).
    pub const SHELF_LIFE_DAYS: &str = "shelfLifeDays";
    /// Origin.
    pub const ORIGIN: &str = "origin";
    /// Stage.
    pub const STAGE: &str = "stage";
    /// Direction.
    pub const DIRECTION: &str = "direction";
    /// Quantity.
    pub const QUANTITY: &str = "quantity";
    /// Unit.
    pub const UNIT: &str = "unit";
    /// Price.
    pub const PRICE: &str = "price";
    /// Amount.
    pub const AMOUNT: &str = "amount";
    /// Time.
    pub const TIME: &str = "time";
    /// Place.
    pub const PLACE: &str = "place";
    /// The business document of the act (交易凭证号).
    pub const VOUCHER: &str = "voucher";
    /// Submission id (receipt).
    pub const SUBMISSION: &str = "submission";
    /// Status (receipt).
    pub const STATUS: &str = "status";
    /// Records read (receipt).
    pub const RECEIVED: &str = "received";
    /// Records stored (receipt).
    pub const ACCEPTED: &str = "accepted";
    /// Duplicates (receipt).
    pub const DUPLICATES: &str = "duplicates";
    /// Rejected records (receipt).
    pub const REJECTED: &str = "rejected";
    /// Quarantined records (receipt).
    pub const QUARANTINED: &str = "quarantined";
    /// Flagged records (receipt).
    pub const FLAGGED: &str = "flagged";
    /// Corrections applied (receipt).
    pub const CORRECTED: &str = "corrected";
    /// Index of a record in the acknowledged envelope.
    pub const INDEX: &str = "index";
    /// A record id.
    pub const RECORD_ID: &str = "recordId";
    /// The field at fault.
    pub const FIELD: &str = "field";
    /// English reason.
    pub const REASON: &str = "reason";
    /// Chinese reason.
    pub const REASON_ZH: &str = "reasonZh";
}
