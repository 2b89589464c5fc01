//! The HTTP plumbing every listener shares: request ids and logging, the body deadline, TLS
//! of the console listener, the health and metrics routes, the source address of a request,
//! and the rendering of errors (problem documents on machine paths, a Chinese page on the
//! console). Which routes a listener serves is the composition root's (`routes`) to say.

pub mod body_deadline;
pub mod health;
pub mod peer;
pub mod request_id;
pub mod tls;

use actix_web::dev::ServiceResponse;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::HttpRequest;
use askama::Template;

use crate::error::{AppError, ErrorKind};

/// The source IP of a request (the TCP peer; forwarded headers are not trusted).
pub fn source_ip(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// JSON bodies that cannot be read become `malformed_body` or `payload_too_large` problems.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let e = match &err {
        J::Overflow { .. } | J::OverflowKnownLength { .. } => AppError::new(ErrorKind::PayloadTooLarge),
        J::ContentType => AppError::with_detail(
            ErrorKind::MalformedBody,
            "请求体必须是 application/json",
            "the request body must be application/json",
        ),
        J::Deserialize(d) => AppError::with_detail(
            ErrorKind::MalformedBody,
            format!("JSON 格式或字段有误：{d}"),
            format!("malformed JSON or wrong fields: {d}"),
        ),
        other => AppError::with_detail(
            ErrorKind::MalformedBody,
            format!("请求体无法读取：{other}"),
            format!("unreadable body: {other}"),
        ),
    };
    e.into()
}

/// Form bodies that cannot be read become `malformed_body` or `payload_too_large` problems.
pub fn form_error(err: actix_web::error::UrlencodedError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError as U;
    let e = match &err {
        U::Overflow { .. } => AppError::new(ErrorKind::PayloadTooLarge),
        other => AppError::with_detail(
            ErrorKind::MalformedBody,
            format!("表单有误：{other}"),
            format!("malformed form: {other}"),
        ),
    };
    e.into()
}

/// Query strings that do not fit the handler become `validation` problems.
pub fn query_error(err: actix_web::error::QueryPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    AppError::with_detail(
        ErrorKind::Validation,
        format!("查询参数有误：{err}"),
        format!("invalid query parameters: {err}"),
    )
    .into()
}

/// Path parameters that do not fit the handler become `validation` problems.
pub fn path_error(err: actix_web::error::PathError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    AppError::with_detail(
        ErrorKind::Validation,
        format!("路径参数有误：{err}"),
        format!("invalid path parameter: {err}"),
    )
    .into()
}

/// Whether a path belongs to the machine interfaces (JSON API and operator endpoints) rather
/// than the console.
fn is_machine_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/federation/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Error responses: actix's own plain-text 404/405 become problem documents, and on console
/// paths every error becomes a Chinese page (the problem document stays for the API).
pub fn render_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (req, res) = res.into_parts();
    let error = res.extensions().get::<AppError>().cloned();
    let error = match error {
        Some(e) => e,
        None if res.headers().get(actix_web::http::header::CONTENT_TYPE).is_none() => AppError::with_detail(
            ErrorKind::NotFound,
            format!("没有这个地址：{}", req.path()),
            format!("no such route: {}", req.path()),
        ),
        None => return Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, res).map_into_left_body())),
    };
    let replacement = if is_machine_path(req.path()) {
        actix_web::ResponseError::error_response(&error)
    } else {
        error_page(&error, res.status())
    };
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, replacement).map_into_right_body()))
}

#[derive(Template)]
#[template(path = "http/error.html")]
struct ErrorPage {
    title: &'static str,
    node_name: String,
    error: String,
    code: &'static str,
    request_id: String,
}

/// The console's page for an error: the Chinese message, the stable code and the request id
/// to quote to an operator, with the original status.
pub fn error_page(error: &AppError, status: actix_web::http::StatusCode) -> actix_web::HttpResponse {
    let page = ErrorPage {
        title: error.kind.table().title_zh,
        node_name: String::new(),
        error: error.detail_zh.clone(),
        code: error.code(),
        request_id: crate::error::request_id().unwrap_or_default(),
    };
    match page.render() {
        Ok(html) => actix_web::HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html),
        Err(_) => actix_web::HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(error.detail_zh.clone()),
    }
}
