//! The console shell (管理控制台): layout, navigation, the home page, static assets and the
//! pages of capabilities that are not built yet (which say so plainly).
//!
//! The console is server-rendered Chinese HTML (askama templates beside each capability's
//! code), with its stylesheet embedded in the binary; nothing is loaded from elsewhere.
//! Every form carries the session's CSRF token.

use actix_web::{get, web, HttpResponse};
use askama::Template;

use crate::auth::caller::{Caller, ConsoleCaller};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::users::Permission;

/// One entry of the navigation.
pub struct NavItem {
    /// Link.
    pub href: &'static str,
    /// Chinese label.
    pub label: &'static str,
    /// Whether the capability is built.
    pub built: bool,
}

/// The capabilities of a node (docs/architecture.md), in navigation order.
pub const CAPABILITIES: &[NavItem] = &[
    NavItem { href: "/registry", label: "主体与产品注册", built: true },
    NavItem { href: "/ingest", label: "数据接入与管理", built: true },
    NavItem { href: "/trace", label: "追溯查询与链条", built: true },
    NavItem { href: "/emergency", label: "应急管理", built: false },
    NavItem { href: "/stats", label: "统计分析", built: false },
    NavItem { href: "/system-building", label: "体系建设", built: false },
    NavItem { href: "/evaluation", label: "监测评价", built: false },
    NavItem { href: "/disclosure", label: "信息公开", built: false },
    NavItem { href: "/federation", label: "上下级节点", built: true },
];

/// The administration pages, with the permission that shows each.
pub const ADMINISTRATION: &[(NavItem, Permission)] = &[
    (NavItem { href: "/tenants", label: "租户", built: true }, Permission::TenantRead),
    (NavItem { href: "/users", label: "用户", built: true }, Permission::UserRead),
    (NavItem { href: "/roles", label: "角色", built: true }, Permission::RoleRead),
    (NavItem { href: "/api-keys", label: "接口密钥", built: true }, Permission::ApiKeyRead),
    (NavItem { href: "/audit", label: "审计日志", built: true }, Permission::AuditRead),
];

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
    pub capabilities: &'static [NavItem],
    /// Navigation: administration pages this caller may open.
    pub administration: Vec<&'static NavItem>,
    /// The current path, to mark the active link.
    pub current: String,
}

impl Shell {
    /// The shell for `caller` on page `current`.
    pub fn new(state: &AppState, caller: &Caller, title: &str, current: &str) -> Shell {
        let node = &state.config.node;
        Shell {
            title: title.to_owned(),
            node_name: node.name.clone(),
            tier: node.tier.label_zh(),
            region: format!("{} {}", node.region, node.region.name()),
            user: caller.display_name.clone(),
            csrf: caller.csrf_token.clone().unwrap_or_default(),
            capabilities: CAPABILITIES,
            administration: ADMINISTRATION.iter().filter(|(_, p)| caller.can(*p)).map(|(n, _)| n).collect(),
            current: current.to_owned(),
        }
    }
}

/// Renders a template as an HTML response.
pub fn render<T: Template>(page: &T) -> AppResult<HttpResponse> {
    let html = page.render().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    title: &'static str,
    node_name: String,
    error: String,
    code: &'static str,
    request_id: String,
}

/// The console's page for an error: the Chinese message, the stable code and the request id
/// to quote to an operator, with the original status.
pub fn error_page(error: &AppError, status: actix_web::http::StatusCode) -> HttpResponse {
    let page = ErrorPage {
        title: error.kind.table().title_zh,
        node_name: String::new(),
        error: error.detail_zh.clone(),
        code: error.code(),
        request_id: crate::http::request_id::current().unwrap_or_default(),
    };
    match page.render() {
        Ok(html) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html),
        Err(_) => HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(error.detail_zh.clone()),
    }
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
#[utoipa::path(tag = "console", responses((status = 200, description = "首页 Home page", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
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
#[utoipa::path(tag = "console", params(("capability" = String, Path, description = "Capability path")),
    responses((status = 200, description = "未建成的功能页 A page saying the capability is not built yet", content_type = "text/html"),
              (status = 404, description = "No such capability", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/{capability}")]
pub async fn capability(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let wanted = format!("/{}", path.into_inner());
    let item = CAPABILITIES.iter().find(|c| c.href == wanted).ok_or_else(|| AppError::not_found("页面", "page"))?;
    render(&MessagePage {
        shell: Shell::new(&state, &caller, item.label, item.href),
        heading: item.label.to_owned(),
        text: "此功能尚未建成，本节点暂不提供。页面中没有任何示例或虚构数据。".to_owned(),
    })
}

/// The console stylesheet, embedded in the binary.
#[utoipa::path(tag = "console", responses((status = 200, description = "Stylesheet", content_type = "text/css")))]
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

/// Registers the shell's routes and every capability's pages. The catch-all capability page
/// comes last so specific pages win.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(home).service(stylesheet);
    crate::auth::pages::routes(cfg);
    crate::tenants::pages::routes(cfg);
    crate::users::pages::routes(cfg);
    crate::audit::pages::routes(cfg);
    crate::registry::pages::routes(cfg);
    crate::trace::pages::routes(cfg);
    crate::ingest::pages::routes(cfg);
    crate::ingest::monitor::pages::routes(cfg);
    crate::quality::pages::routes(cfg);
    crate::quality::rules::pages::routes(cfg);
    crate::notify::pages::routes(cfg);
    crate::federation::pages::routes(cfg);
    cfg.service(capability);
}
