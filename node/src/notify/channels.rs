//! Notification channels: an e-mail address or a webhook URL, node-wide or for one tenant.
//! A webhook gets a signing secret when it is made; it is shown once and then only used to
//! sign.

use diesel::prelude::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::target::TargetPolicy;
use crate::audit::{self, AuditContext, Outcome};
use crate::db::schema::notify_channels;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// Longest target (address or URL).
const MAX_TARGET: usize = 500;

/// What a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Mail to an address.
    Email,
    /// A signed JSON POST to a URL.
    Webhook,
}

impl ChannelKind {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Webhook => "webhook",
        }
    }

    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            ChannelKind::Email => "电子邮件",
            ChannelKind::Webhook => "Webhook 回调",
        }
    }

    fn parse(s: &str) -> Option<ChannelKind> {
        [ChannelKind::Email, ChannelKind::Webhook].into_iter().find(|k| k.as_str() == s)
    }
}

/// A channel as listed (without its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = NotifyChannel)]
pub struct Channel {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ChannelKind,
    /// Address or URL.
    pub target: String,
    /// Only this tenant's events (`None`: every tenant's and the node's).
    pub tenant_id: Option<String>,
    /// Whether it receives notifications.
    pub enabled: bool,
    /// Who made it.
    pub created_by: String,
    /// When (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// The webhook's signing secret, as stored: sealed under the node's key.
    #[serde(skip)]
    pub secret: Option<String>,
}

/// A channel as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = notify_channels)]
struct Row {
    id: String,
    name: String,
    kind: String,
    target: String,
    secret: Option<String>,
    tenant_id: Option<String>,
    enabled: bool,
    created_by: String,
    created_at: chrono::NaiveDateTime,
}

impl From<Row> for Channel {
    fn from(r: Row) -> Channel {
        let kind = ChannelKind::parse(&r.kind).unwrap_or(ChannelKind::Email);
        let Row { id, name, target, secret, tenant_id, enabled, created_by, created_at, .. } = r;
        Channel { id, name, kind, target, tenant_id, enabled, created_by, created_at, secret }
    }
}

/// Every channel.
pub fn list(conn: &mut DbConnection) -> AppResult<Vec<Channel>> {
    let rows = notify_channels::table.order(notify_channels::created_at).select(Row::as_select()).load(conn)?;
    Ok(rows.into_iter().map(Channel::from).collect())
}

/// Channel `id`.
pub fn get(conn: &mut DbConnection, id: &str) -> AppResult<Channel> {
    notify_channels::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Channel::from)
        .ok_or_else(|| AppError::not_found("通知渠道", "notification channel"))
}

/// A channel as sent to make it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// Name.
    pub name: String,
    /// `email` or `webhook`.
    pub kind: String,
    /// Address or `https://` (or `http://`) URL.
    pub target: String,
    /// Only this tenant's events (absent: all).
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A channel just made; a webhook's secret is shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Made {
    /// The channel.
    pub channel: Channel,
    /// The webhook's signing secret (HMAC-SHA256 key), shown once.
    pub secret: Option<String>,
}

fn check(conn: &mut DbConnection, targets: &TargetPolicy, c: &NewChannel) -> AppResult<ChannelKind> {
    let n = c.name.trim().chars().count();
    if n == 0 || n > 60 {
        return Err(AppError::invalid("name", "名称为1到60个字", "the name has 1 to 60 characters"));
    }
    let kind = ChannelKind::parse(&c.kind)
        .ok_or_else(|| AppError::invalid("kind", "类型应为 email（电子邮件）或 webhook", "kind is email or webhook"))?;
    let target = c.target.trim();
    if target.is_empty() || target.len() > MAX_TARGET {
        return Err(AppError::invalid(
            "target",
            "请填写地址（最多500字符）",
            "give an address of at most 500 characters",
        ));
    }
    match kind {
        ChannelKind::Email => {
            if target.parse::<lettre::Address>().is_err() {
                return Err(AppError::invalid(
                    "target",
                    format!("“{target}”不是有效的电子邮件地址"),
                    format!("{target:?} is not an e-mail address"),
                ));
            }
        }
        ChannelKind::Webhook => {
            targets.check_url(target).map_err(|(zh, en)| AppError::invalid("target", zh, en))?;
        }
    }
    if let Some(t) = &c.tenant_id {
        crate::tenants::get(conn, &crate::ids::TenantId::parse(t)?)?;
    }
    Ok(kind)
}

/// Makes a channel, with an audit row.
pub fn create(
    conn: &mut DbConnection,
    ctx: &AuditContext,
    targets: &TargetPolicy,
    sealer: &crate::keys::Sealer,
    c: &NewChannel,
) -> AppResult<Made> {
    let kind = check(conn, targets, c)?;
    let secret = (kind == ChannelKind::Webhook).then(|| {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    });
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(notify_channels::table)
        .values((
            notify_channels::id.eq(&id),
            notify_channels::name.eq(c.name.trim()),
            notify_channels::kind.eq(kind.as_str()),
            notify_channels::target.eq(c.target.trim()),
            notify_channels::secret.eq(secret.as_deref().map(|s| sealer.seal(s)).transpose()?),
            notify_channels::tenant_id.eq(&c.tenant_id),
            notify_channels::enabled.eq(true),
            notify_channels::created_by.eq(&ctx.actor),
            notify_channels::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    let channel = get(conn, &id)?;
    audit::record(
        conn,
        ctx,
        "notify.channel.create",
        &format!("channel:{id}"),
        Outcome::Success,
        serde_json::to_value(&channel).unwrap_or_default(),
    )?;
    Ok(Made { channel, secret })
}

/// Deletes a channel and its undelivered notifications, with an audit row.
pub fn delete(conn: &mut DbConnection, ctx: &AuditContext, id: &str) -> AppResult<()> {
    let channel = get(conn, id)?;
    diesel::delete(crate::db::schema::notifications::table.filter(crate::db::schema::notifications::channel_id.eq(id)))
        .execute(conn)?;
    diesel::delete(notify_channels::table.find(id)).execute(conn)?;
    audit::record(
        conn,
        ctx,
        "notify.channel.delete",
        &format!("channel:{id}"),
        Outcome::Success,
        serde_json::to_value(&channel).unwrap_or_default(),
    )?;
    Ok(())
}
