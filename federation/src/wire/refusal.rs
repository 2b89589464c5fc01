//! Why a receiver refuses a batch: one typed table, like the node's error table. Every
//! refusal has a stable `code` (the `reason` of the problem+json answer, which a sender
//! matches on: `batch_gap` and `batch_conflict` make it ask for the parent's cursor and
//! resend from there; anything else stops the kind until an operator acts), the HTTP status
//! it is answered with, and a message in English and Chinese naming what was wrong.
//!
//! A refused batch changes nothing at the receiver.

use super::batch::BatchError;
use super::kind::Kind;

/// One refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({})", self.en(), self.code())]
pub enum Refusal {
    /// The body does not hash to the header's digest.
    DigestMismatch,
    /// A protocol version the receiver does not speak.
    Protocol(u32),
    /// A signature does not verify with the sender's certificate.
    BadSignature,
    /// The batch names another sender than the certificate it came with.
    SenderMismatch {
        /// Whom the batch names.
        named: String,
        /// Whom the certificate names.
        certified: String,
    },
    /// The batch or file is not well formed.
    Malformed {
        /// The kind whose body it should be.
        kind: Kind,
        /// What the parser said.
        why: String,
    },
    /// A file that is not a federation bundle.
    NotABundle(String),
    /// The sender's certificate does not chain to the trusted root.
    Untrusted(String),
    /// A kind the receiver does not know.
    UnknownKind(String),
    /// The batch is not the next in the sender's sequence for its kind.
    BatchGap {
        /// The number the receiver waits for.
        expected: i64,
        /// The number the batch has.
        got: i64,
    },
    /// The batch's number was applied before, as another batch.
    BatchConflict {
        /// The sender's region.
        child: String,
        /// The batch's number.
        batch_no: i64,
        /// The last number the receiver applied.
        applied_through: i64,
    },
    /// A registration from outside the sender's region.
    SourceOutsideChild {
        /// The sender's region.
        child: String,
        /// The region the item names.
        region: String,
    },
    /// A statistics cell of a region outside the sender's.
    CellOutsideChild {
        /// The sender's region.
        child: String,
        /// The region the cell names.
        region: String,
    },
    /// An audit checkpoint disagrees with one the receiver kept: the history was rewritten.
    HistoryRewritten {
        /// The sender's region.
        child: String,
        /// The chain row that differs.
        seq: i64,
    },
    /// An audit checkpoint's signature does not verify.
    BadCheckpointSignature {
        /// The sender's region.
        child: String,
    },
    /// A batch's SM2 seal does not hold.
    BadSeal(String),
    /// The receiver requires sealed batches and this one is not.
    SealRequired,
    /// An industry statistics summary of a form the receiver does not hold published, or of a
    /// period the form does not have.
    UnknownForm {
        /// The sender's region.
        child: String,
        /// The form's code.
        form: String,
        /// The period the summary names.
        period: String,
    },
    /// Evaluation results of an indicator set version the receiver does not hold.
    UnknownEvaluationSet {
        /// The sender's region.
        child: String,
        /// The set's code.
        set: String,
        /// The version the results name.
        version: i32,
    },
    /// A revocation list that does not verify against the sender's CA.
    BadRevocationList {
        /// The sender's region.
        child: String,
        /// Why.
        why: String,
    },
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalRow {
    /// Stable machine code.
    pub code: &'static str,
    /// HTTP status of the answer.
    pub status: u16,
}

impl Refusal {
    /// The table: refusal → code and status. A sequence that does not fit (gap, conflict)
    /// is a conflict with the receiver's state (409); a batch whose content cannot be taken
    /// is unprocessable (422).
    pub fn row(&self) -> RefusalRow {
        use Refusal::*;
        let (code, status) = match self {
            DigestMismatch => ("digest_mismatch", 422),
            Protocol(_) => ("protocol", 422),
            BadSignature => ("bad_signature", 422),
            SenderMismatch { .. } => ("sender_mismatch", 422),
            Malformed { .. } | NotABundle(_) => ("malformed_batch", 422),
            Untrusted(_) => ("untrusted", 422),
            UnknownKind(_) => ("unknown_kind", 422),
            BatchGap { .. } => ("batch_gap", 409),
            BatchConflict { .. } => ("batch_conflict", 409),
            SourceOutsideChild { .. } => ("source_outside_child", 422),
            CellOutsideChild { .. } => ("cell_outside_child", 422),
            HistoryRewritten { .. } => ("history_rewritten", 422),
            BadCheckpointSignature { .. } => ("bad_signature", 422),
            BadRevocationList { .. } => ("bad_revocation_list", 422),
            UnknownForm { .. } => ("unknown_form", 422),
            UnknownEvaluationSet { .. } => ("unknown_evaluation_set", 422),
            BadSeal(_) => ("bad_seal", 422),
            SealRequired => ("seal_required", 422),
        };
        RefusalRow { code, status }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.row().code
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.row().status
    }

    /// Whether the sender should ask for the receiver's cursor and resend from there.
    pub fn is_out_of_sequence(code: &str) -> bool {
        matches!(code, "batch_gap" | "batch_conflict")
    }

    /// The message in English.
    pub fn en(&self) -> String {
        use Refusal::*;
        match self {
            DigestMismatch => "the body does not match its digest".into(),
            Protocol(v) => format!("batch protocol {v} is not supported"),
            BadSignature => "a batch signature does not verify".into(),
            SenderMismatch { named, certified } => format!("the batch names {named}, the certificate {certified}"),
            Malformed { kind, why } => format!("the {kind} batch body is malformed: {why}"),
            NotABundle(why) => format!("not a federation bundle: {why}"),
            Untrusted(why) => format!("the sender's certificate is not trusted: {why}"),
            UnknownKind(k) => format!("unknown roll-up kind {k}"),
            BatchGap { expected, got } => format!("batch out of sequence: expected {expected}, got {got}"),
            BatchConflict { child, batch_no, applied_through } => format!(
                "child {child}'s batch number {batch_no} was taken by another batch (applied through {applied_through})"
            ),
            SourceOutsideChild { child, region } => {
                format!("child {child} sent a registration from outside its region ({region})")
            }
            CellOutsideChild { child, region } => {
                format!("child {child} sent statistics of a region outside its own ({region})")
            }
            HistoryRewritten { child, seq } => format!(
                "child {child}'s audit chain differs at row {seq} from its earlier checkpoint: its history was rewritten"
            ),
            BadCheckpointSignature { child } => format!("child {child}'s audit checkpoint signature does not verify"),
            BadRevocationList { child, why } => format!("child {child}'s revocation list does not verify: {why}"),
            UnknownForm { child, form, period } => format!(
                "child {child} sent a summary of form {form} for period {period}, which this node does not hold published"
            ),
            UnknownEvaluationSet { child, set, version } => format!(
                "child {child} sent evaluation results of indicator set {set} version {version}, which this node does not hold"
            ),
            BadSeal(why) => format!("the batch's SM2 seal does not hold: {why}"),
            SealRequired => "this node takes only batches sealed with the sender's SM2 key (security.batch_signature = \"sm2\" at the sender)".into(),
        }
    }

    /// The message in Chinese.
    pub fn zh(&self) -> String {
        use Refusal::*;
        match self {
            DigestMismatch => "批次内容与摘要不符".into(),
            Protocol(v) => format!("不支持的批次协议版本 {v}"),
            BadSignature => "批次签名验证失败".into(),
            SenderMismatch { named, certified } => format!("批次发送方（{named}）与证书（{certified}）不符"),
            Malformed { kind, why } => format!("{}（{kind}）批次内容格式错误：{why}", kind.label_zh()),
            NotABundle(why) => format!("不是有效的联邦数据包：{why}"),
            Untrusted(why) => format!("发送方证书不受信任：{why}"),
            UnknownKind(k) => format!("未知的上报类型 {k}"),
            BatchGap { expected, got } => format!("批次序号不连续：应为 {expected}，收到 {got}"),
            BatchConflict { child, batch_no, applied_through } => {
                format!("下级节点 {child} 的批次 {batch_no} 已由另一批次占用（已应用至 {applied_through}）")
            }
            SourceOutsideChild { child, region } => {
                format!("下级节点 {child} 报送了不属于其辖区的注册信息（{region}）")
            }
            CellOutsideChild { child, region } => {
                format!("下级节点 {child} 报送了不属于其辖区的统计数据（{region}）")
            }
            HistoryRewritten { child, seq } => {
                format!("下级节点 {child} 的审计链第 {seq} 条与此前的校验点不一致：审计记录被改写")
            }
            BadCheckpointSignature { child } => format!("下级节点 {child} 的审计校验点签名无效"),
            BadRevocationList { child, why } => format!("下级节点 {child} 的吊销列表无法核验：{why}"),
            UnknownForm { child, form, period } => {
                format!("下级节点 {child} 报送的报表 {form}（{period}）在本节点没有已发布的报表制度或期别")
            }
            UnknownEvaluationSet { child, set, version } => {
                format!("下级节点 {child} 报送的评价结果所用指标体系 {set} 第 {version} 版在本节点不存在")
            }
            BadSeal(why) => format!("批次的 SM2 签名无效：{why}"),
            SealRequired => {
                "本节点只接收以发送方 SM2 密钥签名的批次（发送方须设置 security.batch_signature = \"sm2\"）".into()
            }
        }
    }
}

impl From<BatchError> for Refusal {
    fn from(e: BatchError) -> Refusal {
        match e {
            BatchError::DigestMismatch => Refusal::DigestMismatch,
            BatchError::Protocol(v) => Refusal::Protocol(v),
            BatchError::BadSignature => Refusal::BadSignature,
            BatchError::SenderMismatch { named, certified } => Refusal::SenderMismatch { named, certified },
            BatchError::NotABundle(why) => Refusal::NotABundle(why),
            BatchError::BadSeal(why) => Refusal::BadSeal(why),
            BatchError::Tier(e) => Refusal::Untrusted(e.to_string()),
        }
    }
}
