//! The node's one error type and its table.
//!
//! Policy (kept by [`ErrorKind::table`], the only place that maps errors to HTTP):
//! - every error has a stable machine `code` that clients may match on; codes never change
//!   meaning once released;
//! - validation → 400/422 naming the field, authentication → 401, permission → 403,
//!   not found → 404, conflict or duplicate → 409, payload too large → 413,
//!   database unavailable → 503, anything else → 500 with the cause logged, never shown;
//! - the HTTP layer renders every error as `application/problem+json` (RFC 9457) with
//!   `code`, an English `title`/`detail`, a Chinese `title_zh`/`detail_zh`, the offending
//!   `field` where there is one, and the request's correlation id.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The stable kinds of failure. Each has one row in [`ErrorKind::table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A request field failed validation.
    Validation,
    /// The request body could not be parsed.
    MalformedBody,
    /// The request body is larger than the configured limit.
    PayloadTooLarge,
    /// The request body arrived too slowly (a gap or an average rate past the limits).
    BodyTimeout,
    /// No valid session or API key.
    Unauthenticated,
    /// Sign-in failed: wrong name, wrong password, unknown account or locked account all
    /// read the same, so an attacker learns nothing.
    SignInFailed,
    /// The session must change its password first.
    PasswordChangeRequired,
    /// The session must complete the second factor first.
    SecondFactorRequired,
    /// The caller is not allowed to do this.
    Forbidden,
    /// The object is outside the caller's data scope.
    OutOfScope,
    /// The separation of the three administrators (三权分立) forbids this, whatever the
    /// caller's permissions: one person would otherwise hold two duties.
    SeparationOfDuties,
    /// A state-changing form or request lacked a valid CSRF token.
    CsrfRejected,
    /// The object does not exist (or is not visible to the caller).
    NotFound,
    /// The object already exists or conflicts with another.
    Conflict,
    /// A submitted document was refused whole (broken XML, a digest mismatch, a CSV without
    /// its columns …); the decoder's own code is in `reason`.
    DocumentRefused,
    /// A federation batch was refused whole (a gap in its sequence, a digest mismatch, an
    /// unknown kind …); the code is in `reason`.
    BatchRefused,
    /// The certificate's holder is not an enrolled child of this node, or calls as someone
    /// else.
    UnknownSender,
    /// Too many requests in the tenant's window.
    RateLimited,
    /// Too many failed sign-ins from the caller's address: it must wait.
    SignInThrottled,
    /// Another system the node called (a vendor's API) failed or could not be reached.
    UpstreamFailed,
    /// The database cannot be reached.
    Unavailable,
    /// An unexpected failure; the cause is logged, not shown. (Stays last: [`ErrorKind::ALL`].)
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 22] = {
        use ErrorKind::*;
        [
            Validation,
            MalformedBody,
            PayloadTooLarge,
            BodyTimeout,
            Unauthenticated,
            SignInFailed,
            PasswordChangeRequired,
            SecondFactorRequired,
            Forbidden,
            OutOfScope,
            SeparationOfDuties,
            CsrfRejected,
            NotFound,
            Conflict,
            DocumentRefused,
            BatchRefused,
            UnknownSender,
            RateLimited,
            SignInThrottled,
            UpstreamFailed,
            Unavailable,
            Internal,
        ]
    };
}

/// One row of the error table.
pub struct ErrorRow {
    /// Stable machine code.
    pub code: &'static str,
    /// HTTP status.
    pub status: u16,
    /// English title.
    pub title_en: &'static str,
    /// Chinese title.
    pub title_zh: &'static str,
}

impl ErrorKind {
    /// The table: kind → code, status, titles.
    pub fn table(self) -> ErrorRow {
        use ErrorKind::*;
        let (code, status, title_en, title_zh) = match self {
            Validation => ("validation_failed", 422, "Invalid input", "输入有误"),
            MalformedBody => ("malformed_body", 400, "Malformed request body", "请求体格式错误"),
            PayloadTooLarge => ("payload_too_large", 413, "Request body too large", "请求体过大"),
            BodyTimeout => ("body_timeout", 408, "The request body arrived too slowly", "请求体传输过慢，已中止"),
            Unauthenticated => ("unauthenticated", 401, "Sign-in required", "请先登录"),
            SignInFailed => (
                "sign_in_failed",
                401,
                "User name or password is wrong, or the account is locked",
                "用户名或密码错误，或账号已被锁定",
            ),
            PasswordChangeRequired => {
                ("password_change_required", 403, "The password must be changed first", "请先修改密码")
            }
            SecondFactorRequired => {
                ("second_factor_required", 403, "Two-factor verification is required first", "请先完成双因子验证")
            }
            Forbidden => ("forbidden", 403, "Permission denied", "无权执行此操作"),
            OutOfScope => ("out_of_scope", 403, "Outside your data scope", "超出您的数据范围"),
            SeparationOfDuties => {
                ("separation_of_duties", 403, "Separation of duties forbids this", "三权分立不允许此操作")
            }
            CsrfRejected => ("csrf_rejected", 403, "Form expired, please retry", "表单已失效，请重试"),
            NotFound => ("not_found", 404, "Not found", "未找到"),
            Conflict => ("conflict", 409, "Conflicts with existing data", "与已有数据冲突"),
            DocumentRefused => {
                ("document_refused", 422, "The document was refused; nothing was stored", "文档被拒收，未存储任何数据")
            }
            BatchRefused => {
                ("batch_refused", 422, "The batch was refused; nothing was applied", "批次被拒收，未应用任何数据")
            }
            UnknownSender => (
                "unknown_sender",
                403,
                "The caller is not an enrolled child of this node",
                "调用方不是本节点已登记的下级节点",
            ),
            RateLimited => ("rate_limited", 429, "Too many submissions, retry later", "报送过于频繁，请稍后重试"),
            SignInThrottled => {
                ("sign_in_throttled", 429, "Too many failed sign-ins, retry later", "登录失败次数过多，请稍后再试")
            }
            UpstreamFailed => ("upstream_failed", 502, "The other system failed", "对方系统出错或无法连接"),
            Unavailable => ("database_unavailable", 503, "Database unavailable", "数据库暂不可用"),
            Internal => ("internal_error", 500, "Internal error", "系统内部错误"),
        };
        ErrorRow { code, status, title_en, title_zh }
    }
}

/// The error every service and handler returns.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {detail_en}")]
pub struct AppError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// The field at fault, for validation errors.
    pub field: Option<String>,
    /// English detail shown to the caller.
    pub detail_en: String,
    /// Chinese detail shown to the caller.
    pub detail_zh: String,
    /// A finer stable code under the kind (a decoder's refusal code such as `xml_doctype`).
    pub reason: Option<String>,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    pub retry_after: Option<i64>,
    /// The HTTP status, where a finer table under the kind sets it (a refused batch's, from
    /// the federation protocol's refusal table); otherwise the kind's.
    pub status: Option<u16>,
}

/// Shorthand for results of node operations.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// An error of `kind` with the table's titles as detail.
    pub fn new(kind: ErrorKind) -> Self {
        let row = kind.table();
        AppError {
            kind,
            field: None,
            detail_en: row.title_en.to_owned(),
            detail_zh: row.title_zh.to_owned(),
            reason: None,
            retry_after: None,
            status: None,
        }
    }

    /// An error of `kind` with its own bilingual detail.
    pub fn with_detail(kind: ErrorKind, zh: impl Into<String>, en: impl Into<String>) -> Self {
        AppError {
            kind,
            field: None,
            detail_en: en.into(),
            detail_zh: zh.into(),
            reason: None,
            retry_after: None,
            status: None,
        }
    }

    /// The same error, naming `field` (a request's own name for what a shared parser calls
    /// otherwise).
    pub fn on_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    /// A validation error naming `field`.
    pub fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        AppError {
            kind: ErrorKind::Validation,
            field: Some(field.to_owned()),
            detail_en: en.into(),
            detail_zh: zh.into(),
            reason: None,
            retry_after: None,
            status: None,
        }
    }

    /// A not-found error naming what was looked for.
    pub fn not_found(what_zh: &str, what_en: &str) -> Self {
        Self::with_detail(ErrorKind::NotFound, format!("{what_zh}不存在"), format!("{what_en} not found"))
    }

    /// A refused federation batch with its reason code.
    pub fn batch_refused(reason: &str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        AppError { reason: Some(reason.to_owned()), ..Self::with_detail(ErrorKind::BatchRefused, zh, en) }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        self.status.unwrap_or(self.kind.table().status)
    }

    /// A conflict error.
    pub fn conflict(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self::with_detail(ErrorKind::Conflict, zh, en)
    }

    /// A permission error.
    pub fn forbidden() -> Self {
        Self::new(ErrorKind::Forbidden)
    }

    /// An internal error: `cause` is logged here and never shown to the caller.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorKind::Internal)
    }

    /// Whether a console form shows this error next to the form (a mistake the person can
    /// correct) rather than failing the page (the system's fault).
    pub fn is_for_the_form(&self) -> bool {
        !matches!(self.kind, ErrorKind::Internal | ErrorKind::Unavailable)
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        self.kind.table().code
    }

    /// A one-line bilingual message for the command line and logs.
    pub fn message(&self) -> String {
        match &self.field {
            Some(f) => format!("{} / {} [{}: {}]", self.detail_zh, self.detail_en, self.code(), f),
            None => format!("{} / {} [{}]", self.detail_zh, self.detail_en, self.code()),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match e {
            D::NotFound => AppError::new(ErrorKind::NotFound),
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::debug!(message = info.message(), "unique violation");
                AppError::new(ErrorKind::Conflict)
            }
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => AppError::new(ErrorKind::Unavailable),
            other => AppError::internal(other),
        }
    }
}

impl AppError {
    /// A validation error naming `field` from an identifier rule's bilingual message
    /// ("中文 / English"), prefixed by what the identifier is.
    pub fn from_identifier(
        field: &str,
        what_zh: &str,
        what_en: &str,
        e: &tracenode_adapters::identifiers::IdentifierError,
    ) -> Self {
        let msg = e.to_string();
        let (zh, en) = msg.split_once(" / ").unwrap_or((msg.as_str(), msg.as_str()));
        AppError::invalid(field, format!("{what_zh}{zh}"), format!("{what_en}{en}"))
    }
}

impl From<tracenode_federation::wire::Refusal> for AppError {
    fn from(r: tracenode_federation::wire::Refusal) -> Self {
        AppError { status: Some(r.status()), ..AppError::batch_refused(r.code(), r.zh(), r.en()) }
    }
}

impl From<crate::region::RegionError> for AppError {
    fn from(e: crate::region::RegionError) -> Self {
        AppError::invalid("region", e.to_string(), e.to_string())
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        tracing::error!(cause = %e, "database pool");
        AppError::new(ErrorKind::Unavailable)
    }
}

/// The problem+json body.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:tracenode:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Stable machine code.
    pub code: String,
    /// HTTP status.
    pub status: u16,
    /// English title.
    pub title: String,
    /// Chinese title.
    pub title_zh: String,
    /// English detail.
    pub detail: String,
    /// Chinese detail.
    pub detail_zh: String,
    /// The offending field, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A finer stable code under `code`, if any (e.g. `xml_doctype` under `document_refused`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request's correlation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl AppError {
    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let row = self.kind.table();
        Problem {
            problem_type: format!("urn:tracenode:problem:{}", row.code),
            code: row.code.to_owned(),
            status: self.status(),
            title: row.title_en.to_owned(),
            title_zh: row.title_zh.to_owned(),
            detail: self.detail_en.clone(),
            detail_zh: self.detail_zh.clone(),
            field: self.field.clone(),
            reason: self.reason.clone(),
            request_id: request_id(),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.retry_after {
            builder.insert_header(("Retry-After", seconds.to_string()));
        }
        let mut res = builder.content_type("application/problem+json").json(self.problem());
        // Kept for the console, which shows the same error as a Chinese page.
        res.extensions_mut().insert(self.clone());
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_and_statuses_follow_policy() {
        use ErrorKind::*;
        assert_eq!(ErrorKind::ALL.len(), Internal as usize + 1, "ALL lists every kind");
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "ALL is in declaration order");
        }
        let mut codes: Vec<_> = ErrorKind::ALL.iter().map(|k| k.table().code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        assert_eq!(NotFound.table().status, 404);
        assert_eq!(Forbidden.table().status, 403);
        assert_eq!(PayloadTooLarge.table().status, 413);
        assert_eq!(Unavailable.table().status, 503);
    }

    /// The problem document of every kind, and of a refused batch (whose status comes from
    /// the protocol's refusal table), pinned: clients match on them.
    #[test]
    fn problem_documents() {
        let mut docs: Vec<Problem> = ErrorKind::ALL.iter().map(|k| AppError::new(*k).problem()).collect();
        docs.push(AppError::invalid("region", "区划代码须为6位数字", "a region code is six digits").problem());
        let gap = tracenode_federation::wire::Refusal::BatchGap { expected: 4, got: 6 };
        docs.push(AppError::from(gap).problem());
        insta::assert_snapshot!(serde_json::to_string_pretty(&docs).expect("json"));
    }
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any: problem documents, audit rows
/// and log lines quote it. The HTTP layer sets it for each request ([`in_request`]).
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `work` as the handling of request `id`.
pub fn in_request<F: std::future::Future>(id: String, work: F) -> impl std::future::Future<Output = F::Output> {
    REQUEST_ID.scope(id, work)
}
