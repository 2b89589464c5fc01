//! The 体系建设 section of the console: what this node builds of the traceability system —
//! platform access (with the applications waiting), industry statistics (with its reports
//! waiting for review) and the device register.

use actix_web::{get, web, HttpResponse};
use askama::Template;

use crate::app::AppState;
use crate::auth::caller::ConsoleCaller;
use crate::console::{render, NavItem, Shell};
use crate::error::AppResult;
use crate::users::Permission;

/// The section's entry in the navigation.
pub const NAV: NavItem = NavItem::page("/system-building", "体系建设");

#[derive(Template)]
#[template(path = "system/section.html")]
struct SectionPage {
    shell: Shell,
    forms: usize,
    waiting: usize,
    staff: bool,
    unit: bool,
    access: Option<(usize, usize)>,
    monitoring: bool,
}

/// 体系建设: the section's parts.
#[get("/system-building")]
pub async fn section(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let staff = caller.tenant_id.is_none();
    let unit = caller.can(Permission::IndustryReport) && !staff;
    let reviewer = staff && caller.can(Permission::IndustryReview);
    let sees_access = staff && (caller.can(Permission::AccessReview) || caller.can(Permission::AccessFile));
    let access = if sees_access {
        Some(
            state
                .db
                .run(|conn| {
                    use super::access::{list_all, ApplicationStatus};
                    Ok((
                        list_all(conn, Some(ApplicationStatus::Submitted))?.len(),
                        list_all(conn, Some(ApplicationStatus::Approved))?.len(),
                    ))
                })
                .await?,
        )
    } else {
        None
    };
    let (forms, waiting) = state
        .db
        .run(move |conn| {
            let forms = super::industry::forms::list(conn)?.len();
            let waiting = if reviewer {
                let filter =
                    super::industry::reports::ReportFilter { status: Some("submitted".into()), ..Default::default() };
                super::industry::reports::list(conn, &filter)?.len()
            } else {
                0
            };
            Ok((forms, waiting))
        })
        .await?;
    render(&SectionPage {
        shell: Shell::new(&state, &caller, "体系建设", "/system-building"),
        forms,
        waiting,
        staff,
        unit,
        access,
        monitoring: caller.can(Permission::MonitoringRead),
    })
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(section);
}
