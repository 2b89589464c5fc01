//! Console page of notifications (通知设置): the channels (e-mail addresses and webhooks)
//! with a test button, the form to add one, and the latest deliveries with their status.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::channels::{self, Channel, NewChannel};
use super::Notification;
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, ButtonForm, Shell};
use crate::error::AppResult;
use crate::tenants::Tenant;

#[derive(Template)]
#[template(path = "notify/channels.html")]
struct ChannelsPage {
    shell: Shell,
    channels: Vec<Channel>,
    tenants: Vec<Tenant>,
    recent: Vec<Notification>,
    notice: String,
    secret: String,
    error: String,
}

impl ChannelsPage {
    fn scope(&self, c: &Channel) -> String {
        match &c.tenant_id {
            None => "全部租户".into(),
            Some(id) => {
                self.tenants.iter().find(|t| t.id.as_str() == id).map_or_else(|| id.clone(), |t| t.name.clone())
            }
        }
    }

    fn channel_name(&self, id: &str) -> String {
        self.channels.iter().find(|c| c.id == id).map_or_else(|| id.to_owned(), |c| c.name.clone())
    }

    fn state_zh(&self, s: &str) -> &'static str {
        super::NotificationStatus::label_zh_of(s)
    }
}

#[derive(Default)]
struct Outcome {
    notice: String,
    secret: String,
    error: String,
}

async fn view(state: &AppState, caller: &Caller, o: Outcome) -> AppResult<HttpResponse> {
    super::require_manager(state, caller).await?;
    let (channels, recent) = state.db.run(|conn| Ok((channels::list(conn)?, super::recent(conn, 50)?))).await?;
    let tenants = state.db.run(crate::tenants::list_all).await?;
    render(&ChannelsPage {
        shell: Shell::new(state, caller, "告警通知设置", "/ingest"),
        channels,
        tenants,
        recent,
        notice: o.notice,
        secret: o.secret,
        error: o.error,
    })
}

/// 告警通知设置: channels and deliveries.
#[get("/notify")]
pub async fn page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    view(&state, &caller.0, Outcome::default()).await
}

/// A channel as posted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChannelForm {
    csrf: String,
    name: String,
    kind: String,
    target: String,
    #[serde(default)]
    tenant_id: String,
}

/// Adds a channel.
#[post("/notify/channels")]
pub async fn create(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<ChannelForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let f = form.into_inner();
    caller.check_csrf(&f.csrf)?;
    super::require_manager(&state, &caller).await?;
    let c = NewChannel {
        name: f.name,
        kind: f.kind,
        target: f.target,
        tenant_id: Some(f.tenant_id).filter(|t| !t.is_empty()),
    };
    let ctx = caller.audit();
    let targets = super::target::TargetPolicy::new(&state.config.alerts.webhook_allowed_ranges);
    let sealer = state.config.sealer()?;
    match state.db.transaction(move |conn| channels::create(conn, &ctx, &targets, &sealer, &c)).await {
        Ok(made) => {
            let o = Outcome {
                notice: format!("通知渠道“{}”已添加。", made.channel.name),
                secret: made.secret.unwrap_or_default(),
                error: String::new(),
            };
            view(&state, &caller, o).await
        }
        Err(e) if e.is_for_the_form() => {
            view(&state, &caller, Outcome { error: e.detail_zh, ..Outcome::default() }).await
        }
        Err(e) => Err(e),
    }
}

/// Sends a test notification through a channel.
#[post("/notify/channels/{id}/test")]
pub async fn test(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    super::require_manager(&state, &caller).await?;
    let d = super::api::send_test(&state, &caller, path.into_inner()).await?;
    let o = if d.retrying + d.failed == 0 {
        Outcome { notice: format!("测试通知已送达（{} 条）。", d.sent), ..Outcome::default() }
    } else {
        Outcome {
            error: format!("有 {} 条通知未能送达，原因见下方投递记录；系统将自动重试。", d.retrying + d.failed),
            ..Outcome::default()
        }
    };
    view(&state, &caller, o).await
}

/// Deletes a channel.
#[post("/notify/channels/{id}/delete")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ButtonForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.check_csrf(&form.csrf)?;
    super::require_manager(&state, &caller).await?;
    let (ctx, id) = (caller.audit(), path.into_inner());
    state.db.transaction(move |conn| channels::delete(conn, &ctx, &id)).await?;
    view(&state, &caller, Outcome { notice: "通知渠道已删除。".into(), ..Outcome::default() }).await
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(page).service(create).service(test).service(remove);
}
