//! 后台任务: the console page of the background jobs.

use actix_web::{get, web, HttpResponse};
use askama::Template;

use super::{JobView, SupervisorCell};
use crate::app::AppState;
use crate::auth::caller::ConsoleCaller;
use crate::console::{cst_or_dash, render, NavItem, Shell};
use crate::error::AppResult;
use crate::users::Permission;

#[derive(Template)]
#[template(path = "jobs/list.html")]
struct JobsPage {
    shell: Shell,
    jobs: Vec<Row>,
    holder: String,
}

/// A job with its times as the console shows them.
struct Row {
    job: JobView,
    next: String,
    started: String,
    finished: String,
}

/// 后台任务.
#[get("/jobs")]
pub async fn list(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::JobRead, "jobs").await?;
    let supervisor = state.service::<SupervisorCell>()?.get()?;
    let jobs = supervisor
        .views()
        .await?
        .into_iter()
        .map(|job| Row {
            next: cst_or_dash(&job.next_run_at),
            started: cst_or_dash(&job.last_started_at),
            finished: cst_or_dash(&job.last_finished_at),
            job,
        })
        .collect();
    render(&JobsPage {
        shell: Shell::new(&state, &caller, "后台任务", "/jobs"),
        jobs,
        holder: supervisor.holder().to_owned(),
    })
}

/// This page's entry in the console navigation.
pub const NAV: NavItem = NavItem::administration("/jobs", "后台任务", Permission::JobRead);

/// Registers this page.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(list);
}
