//! Console page of the audit trail (审计日志): filter, page through, verify the chain.

use actix_web::{get, web, HttpResponse};
use askama::Template;

use crate::app::AppState;
use crate::audit::query::{self, AuditFilter, AuditPage};
use crate::audit::Verification;
use crate::auth::caller::ConsoleCaller;
use crate::console::{render, Shell};
use crate::error::AppResult;
use crate::users::Permission;

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditListPage {
    shell: Shell,
    page: AuditPage,
    actor: String,
    action: String,
    outcome: String,
    pages: i64,
    error: String,
    verification: Option<Verification>,
    can_verify: bool,
}

/// Query of the page: the filter plus `verify=1` to check the chain.
#[derive(Debug, serde::Deserialize)]
struct PageQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    verify: Option<String>,
}

/// 审计日志.
#[get("/audit")]
pub async fn list(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::AuditRead, "audit").await?;
    let q = q.into_inner();
    let blank = |s: &str| if s.trim().is_empty() { None } else { Some(s.trim().to_owned()) };
    let filter = AuditFilter {
        actor: blank(&q.actor),
        action: blank(&q.action),
        outcome: blank(&q.outcome),
        page: q.page,
        page_size: Some(50),
        ..Default::default()
    };
    let want_verify = q.verify.is_some() && caller.can(Permission::AuditVerify);
    let ctx = caller.audit();
    let anchors = state.service::<crate::audit::anchor::Anchors>()?;
    let (page, error, verification) = state
        .db
        .transaction(move |conn| {
            let verification =
                if want_verify { Some(crate::audit::verify_recorded(conn, &ctx, &anchors)?) } else { None };
            match query::list(conn, &filter) {
                Ok(p) => Ok((p, String::new(), verification)),
                Err(e) if e.kind == crate::error::ErrorKind::Validation => {
                    Ok((query::list(conn, &AuditFilter::default())?, e.detail_zh, verification))
                }
                Err(e) => Err(e),
            }
        })
        .await?;
    let pages = (page.total + page.page_size - 1) / page.page_size;
    render(&AuditListPage {
        shell: Shell::new(&state, &caller, "审计日志", "/audit"),
        page,
        actor: q.actor,
        action: q.action,
        outcome: q.outcome,
        pages,
        error,
        verification,
        can_verify: caller.can(Permission::AuditVerify),
    })
}

/// This page's entry in the console navigation.
pub const NAV: crate::console::NavItem =
    crate::console::NavItem::administration("/audit", "审计日志", Permission::AuditRead);

/// Registers this page.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(list);
}
