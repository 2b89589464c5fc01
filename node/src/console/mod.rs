//! The console shell (管理控制台): layout, navigation, the home page, static assets and the
//! pages of capabilities that are not built yet (which say so plainly). The shell knows no
//! capability: each contributes its [`NavItem`] and routes, and the composition root puts
//! them together into the [`Navigation`].
//!
//! The console is server-rendered Chinese HTML (askama templates beside each capability's
//! code), with its stylesheet embedded in the binary; nothing is loaded from elsewhere.
//! Every form carries the session's CSRF token.

pub mod chart;

use actix_web::{get, web, HttpResponse};
use askama::Template;

use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::error::{AppError, AppResult};
use crate::users::Permission;

/// One entry of the navigation, contributed by the capability that owns the page.
#[derive(Debug, Clone, Copy)]
pub struct NavItem {
    /// Link.
    pub href: &'static str,
    /// Chinese label.
    pub label: &'static str,
    /// Whether the capability is built.
    pub built: bool,
    /// The permission that shows the entry, if any (administration pages).
    pub permission: Option<Permission>,
}

impl NavItem {
    /// A built page everyone signed in sees.
    pub const fn page(href: &'static str, label: &'static str) -> NavItem {
        NavItem { href, label, built: true, permission: None }
    }

    /// A capability this node does not provide yet: its page says so plainly.
    pub const fn not_built(href: &'static str, label: &'static str) -> NavItem {
        NavItem { href, label, built: false, permission: None }
    }

    /// An administration page shown to holders of `permission`.
    pub const fn administration(href: &'static str, label: &'static str, permission: Permission) -> NavItem {
        NavItem { href, label, built: true, permission: Some(permission) }
    }
}

/// The console's navigation, put together by the composition root from the entries each
/// capability contributes (the shell itself knows no capability).
#[derive(Debug, Default)]
pub struct Navigation {
    /// 业务功能, in order.
    pub capabilities: Vec<NavItem>,
    /// 系统管理, in order.
    pub administration: Vec<NavItem>,
}

/// What every page's layout shows.
pub struct Shell {
    /// Page title.
    pub title: String,
    /// The node's name.
    pub node_name: String,
    /// The node's tier label.
    pub tier: &'static str,
    /// The node's region, e.g. `330106 西湖区`.
    pub region: String,
    /// The signed-in person's display name.
    pub user: String,
    /// CSRF token for forms.
    pub csrf: String,
    /// Navigation: capabilities.
    pub capabilities: Vec<NavItem>,
    /// Navigation: administration pages this caller may open.
    pub administration: Vec<NavItem>,
    /// The current path, to mark the active link.
    pub current: String,
}

impl Shell {
    /// The shell for `caller` on page `current`.
    pub fn new(state: &AppState, caller: &Caller, title: &str, current: &str) -> Shell {
        let node = &state.config.node;
        let nav = state.find::<Navigation>().unwrap_or_default();
        Shell {
            title: title.to_owned(),
            node_name: node.name.clone(),
            tier: node.tier.label_zh(),
            region: format!("{} {}", node.region, node.region.name()),
            user: caller.display_name.clone(),
            csrf: caller.csrf_token.clone().unwrap_or_default(),
            capabilities: nav.capabilities.clone(),
            administration: nav
                .administration
                .iter()
                .filter(|n| n.permission.is_none_or(|p| caller.can(p)))
                .copied()
                .collect(),
            current: current.to_owned(),
        }
    }
}

/// A time kept in UTC as the console shows it: China Standard Time, the zone named.
pub fn cst(t: &chrono::NaiveDateTime) -> String {
    (*t + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M:%S 北京时间").to_string()
}

/// A time the database keeps in UTC, however many references a template holds it through.
pub trait UtcTime {
    /// The time, UTC.
    fn utc(&self) -> chrono::NaiveDateTime;
}

impl UtcTime for chrono::NaiveDateTime {
    fn utc(&self) -> chrono::NaiveDateTime {
        *self
    }
}

impl<T: UtcTime + ?Sized> UtcTime for &T {
    fn utc(&self) -> chrono::NaiveDateTime {
        (**self).utc()
    }
}

/// A time kept in UTC in a table cell: China Standard Time to the minute (the column's
/// heading names the zone).
pub fn cst_minute(t: impl UtcTime) -> String {
    (t.utc() + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M").to_string()
}

/// The same to the second.
pub fn cst_second(t: impl UtcTime) -> String {
    (t.utc() + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// An optional time as the console shows it ("—" when there is none).
pub fn cst_or_dash(t: &Option<chrono::NaiveDateTime>) -> String {
    t.as_ref().map_or_else(|| "—".to_owned(), cst)
}

/// Renders a template as an HTML response.
pub fn render<T: Template>(page: &T) -> AppResult<HttpResponse> {
    let html = page.render().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// A page that tells the caller something went wrong, inside the layout.
#[derive(Template)]
#[template(path = "console/message.html")]
pub struct MessagePage {
    /// Layout.
    pub shell: Shell,
    /// Heading.
    pub heading: String,
    /// Body text.
    pub text: String,
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    shell: Shell,
    roles: String,
}

/// 首页.
#[get("/")]
pub async fn home(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let roles = if caller.roles.is_empty() {
        "（尚未分配角色，请联系安全管理员）".to_owned()
    } else {
        caller.roles.join("、")
    };
    render(&HomePage { shell: Shell::new(&state, &caller, "首页", "/"), roles })
}

/// A capability that is not built yet.
#[get("/{capability}")]
pub async fn capability(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let wanted = format!("/{}", path.into_inner());
    let nav = state.find::<Navigation>().unwrap_or_default();
    let item = nav.capabilities.iter().find(|c| c.href == wanted).ok_or_else(|| AppError::not_found("页面", "page"))?;
    render(&MessagePage {
        shell: Shell::new(&state, &caller, item.label, item.href),
        heading: item.label.to_owned(),
        text: "此功能尚未建成，本节点暂不提供。页面中没有任何示例或虚构数据。".to_owned(),
    })
}

/// The console stylesheet, embedded in the binary.
#[get("/assets/console.css")]
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("console.css"))
}

/// A form whose only field is the CSRF token: a button that changes something.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct ButtonForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// Registers the shell's own pages: the home page and the stylesheet. The page for a
/// capability not built yet is [`capability`], mounted last by the composition root so that
/// specific pages win.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(home).service(stylesheet);
}
