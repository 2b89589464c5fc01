//! JSON API of notification channels and deliveries (node staff with `quality.manage`).

use actix_web::{delete, get, post, web, HttpResponse};

use super::channels::{self, Channel, Made, NewChannel};
use super::{Delivered, Event, Notification};
use crate::app::AppState;
use crate::auth::caller::Caller;
use crate::error::{AppResult, Problem};

use super::require_manager;

/// The notification channels.
#[utoipa::path(tag = "notify", responses((status = 200, body = Vec<Channel>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/notify/channels")]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(state.db.run(channels::list).await?))
}

/// Adds a channel, with an audit row; a webhook's signing secret is in this answer only.
#[utoipa::path(tag = "notify", request_body = NewChannel,
    responses((status = 201, body = Made), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/notify/channels")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewChannel>,
) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let ctx = caller.audit();
    let c = body.into_inner();
    let targets = super::target::TargetPolicy::new(&state.config.alerts.webhook_allowed_ranges);
    let sealer = state.config.sealer()?;
    Ok(HttpResponse::Created()
        .json(state.db.transaction(move |conn| channels::create(conn, &ctx, &targets, &sealer, &c)).await?))
}

/// Deletes a channel and its undelivered notifications, with an audit row.
#[utoipa::path(tag = "notify", params(("id" = String, Path, description = "Channel id")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[delete("/api/v1/notify/channels/{id}")]
pub async fn remove(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    let (ctx, id) = (caller.audit(), path.into_inner());
    state.db.transaction(move |conn| channels::delete(conn, &ctx, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a test notification through a channel now and says how it went.
#[utoipa::path(tag = "notify", params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = Delivered), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/notify/channels/{id}/test")]
pub async fn test(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    send_test(&state, &caller, path.into_inner()).await.map(|d| HttpResponse::Ok().json(d))
}

/// Writes a test notification for channel `id` and delivers what is due.
pub async fn send_test(state: &AppState, caller: &Caller, id: String) -> AppResult<Delivered> {
    let node = state.config.node.name.clone();
    let actor = caller.audit().actor;
    state
        .db
        .transaction(move |conn| {
            channels::get(conn, &id)?;
            let event = Event {
                topic: "test",
                tenant_id: None,
                subject: format!("【{node}】测试通知 / test notification"),
                body: format!("这是一条测试通知，由 {actor} 发出。\nThis is a test notification sent by {actor}.\n"),
                payload: serde_json::json!({"topic": "test", "node": node, "by": actor}),
            };
            super::enqueue_to(conn, &[id], &event)
        })
        .await?;
    super::dispatch(state).await
}

/// The latest 100 notifications with their delivery status.
#[utoipa::path(tag = "notify", responses((status = 200, body = Vec<Notification>), (status = 403, body = Problem, content_type = "application/problem+json")))]
#[get("/api/v1/notify/notifications")]
pub async fn notifications(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    require_manager(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(state.db.run(|conn| super::recent(conn, 100)).await?))
}

/// Registers these routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(create).service(remove).service(test).service(notifications);
}
