//! Console pages of product registrations: the list with filters, the registration form, and
//! a product's page with its versions and, for reviewers, the review form.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use tracenode_adapters::identifiers::CodeScheme;

use super::{Product, ProductInput, ProductPage, ProductQuery, ProductRegistered, ProductRow};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{ProductId, TenantId};
use crate::registry::catalogue::{self, Category};
use crate::registry::entities::EntityVersion;
use crate::registry::reach_of;
use crate::registry::review;
use crate::registry::review::pages::ReviewForm;
use crate::users::Permission;

fn schemes() -> Vec<(String, String)> {
    CodeScheme::ALL.iter().map(|s| (s.as_str().to_owned(), s.label_zh().to_owned())).collect()
}

/// The leaf categories: the only ones a product may take.
fn leaves(conn: &mut DbConnection) -> AppResult<Vec<Category>> {
    let all = catalogue::list(conn)?;
    Ok(all
        .iter()
        .filter(|c| !c.retired && !all.iter().any(|d| d.parent_code.as_deref() == Some(c.code.as_str())))
        .cloned()
        .collect())
}

#[derive(Template)]
#[template(path = "registry/products/list.html")]
struct ListPage {
    shell: Shell,
    query: ProductQuery,
    query_string: String,
    page: ProductPage,
    pages: i64,
    schemes: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    categories: Vec<Category>,
    can_write: bool,
}

/// 产品注册: products within reach, with filters.
#[get("/registry/products")]
pub async fn list_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<ProductQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::RegistryRead, "products").await?;
    let query = query.into_inner();
    let reach = reach_of(&state, &caller);
    let q = query.clone();
    let (page, categories) =
        state.db.run(move |conn| Ok((super::search(conn, &q, &reach)?, catalogue::list(conn)?))).await?;
    let mut plain = query.clone();
    plain.page = None;
    render(&ListPage {
        shell: Shell::new(&state, &caller, "产品注册", "/registry"),
        query_string: serde_urlencoded::to_string(&plain).unwrap_or_default(),
        query,
        pages: ((page.total + page.page_size - 1) / page.page_size).max(1),
        page,
        schemes: schemes(),
        statuses: crate::registry::review::ReviewStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), s.label_zh().to_owned()))
            .collect(),
        categories,
        can_write: caller.can(Permission::RegistryWrite),
    })
}

/// The product form as posted.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
pub struct ProductForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    entity_code: String,
    #[serde(default)]
    scheme: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    specification: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    shelf_life_days: String,
}

impl ProductForm {
    fn input(&self) -> AppResult<ProductInput> {
        let scheme = CodeScheme::parse(&self.scheme)
            .ok_or_else(|| AppError::invalid("scheme", "请选择编码体系", "choose a code scheme"))?;
        let shelf_life_days = match self.shelf_life_days.trim() {
            "" => None,
            d => Some(d.parse::<i32>().map_err(|_| {
                AppError::invalid("shelf_life_days", "保质期应为整数天数", "shelf_life_days is a whole number of days")
            })?),
        };
        Ok(ProductInput {
            scheme,
            code: self.code.clone(),
            name: self.name.clone(),
            category: self.category.clone(),
            specification: self.specification.clone(),
            brand: self.brand.clone(),
            shelf_life_days,
            entity_code: self.entity_code.clone(),
            tenant_id: match self.tenant_id.trim() {
                "" => None,
                t => Some(TenantId::parse(t)?),
            },
        })
    }
}

#[derive(Template)]
#[template(path = "registry/products/new.html")]
struct NewPage {
    shell: Shell,
    /// Where the form posts: `/registry/products/new`, or a product's edit address.
    action: String,
    tenants: Vec<crate::tenants::Tenant>,
    schemes: Vec<(String, String)>,
    categories: Vec<Category>,
    error: String,
    notice: String,
    form: ProductForm,
}

async fn new_page(
    state: &AppState,
    caller: &Caller,
    error: String,
    notice: String,
    form: ProductForm,
) -> AppResult<HttpResponse> {
    form_page(state, caller, None, error, notice, form).await
}

/// The product form: a new registration, or a change of product `editing`.
async fn form_page(
    state: &AppState,
    caller: &Caller,
    editing: Option<ProductId>,
    error: String,
    notice: String,
    form: ProductForm,
) -> AppResult<HttpResponse> {
    let (tenants, categories) = state.db.run(move |conn| Ok((crate::tenants::list_all(conn)?, leaves(conn)?))).await?;
    let (title, action) = match &editing {
        Some(id) => ("修改产品", format!("/registry/products/{id}/edit")),
        None => ("登记产品", "/registry/products/new".to_owned()),
    };
    render(&NewPage {
        shell: Shell::new(state, caller, title, "/registry"),
        action,
        tenants: tenants.into_iter().filter(|t| caller.sees_tenant(t) && t.is_active()).collect(),
        schemes: schemes(),
        categories,
        error,
        notice,
        form,
    })
}

/// 登记产品 form.
#[get("/registry/products/new")]
pub async fn new_form(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::RegistryWrite, "products").await?;
    new_page(&state, &caller, String::new(), String::new(), ProductForm::default()).await
}

/// Registers a product from the form.
#[post("/registry/products/new")]
pub async fn new_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<ProductForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryWrite, "products").await?;
    let input = match form.input() {
        Ok(i) => i,
        Err(e) => return new_page(&state, &caller, e.detail_zh, String::new(), form).await,
    };
    let tenant =
        match crate::registry::access::owning_tenant(&state, &caller, input.tenant_id.as_ref(), "product.register")
            .await
        {
            Ok(t) => t,
            Err(e) if e.kind == ErrorKind::Validation => {
                return new_page(&state, &caller, e.detail_zh, String::new(), form).await
            }
            Err(e) => return Err(e),
        };
    let ctx = caller.audit();
    match state.db.transaction(move |conn| super::register(conn, &ctx, &tenant, &input)).await {
        Ok(ProductRegistered::Created { product }) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("/registry/products/{}", product.id)))
            .finish()),
        Ok(ProductRegistered::DuplicateClaim { .. }) => {
            let notice = "该编码已由其他租户登记，本次提交已转入审核（重复登记申请）。".to_owned();
            new_page(&state, &caller, String::new(), notice, ProductForm::default()).await
        }
        Err(e) if e.is_for_the_form() => new_page(&state, &caller, e.detail_zh, String::new(), form).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "registry/products/detail.html")]
struct DetailPage {
    shell: Shell,
    product: Product,
    owner_name: String,
    versions: Vec<EntityVersion>,
    can_review: bool,
    can_write: bool,
    notice: String,
}

async fn detail(state: &AppState, caller: &Caller, id: ProductId, notice: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "products").await?;
    let row: ProductRow = super::api::product_in_reach(state, caller, &id, "product.read").await?;
    let owner = row.entity_id.clone();
    let (versions, owner_name) = state
        .db
        .run(move |conn| Ok((super::versions(conn, &id)?, crate::registry::entities::row(conn, &owner)?.name)))
        .await?;
    let product = row.view();
    render(&DetailPage {
        shell: Shell::new(state, caller, &product.name.clone(), "/registry"),
        can_review: caller.can(Permission::RegistryReview)
            && product.status == crate::registry::review::ReviewStatus::Pending.as_str(),
        can_write: caller.can(Permission::RegistryWrite),
        product,
        owner_name,
        versions,
        notice,
    })
}

/// 产品详情.
#[get("/registry/products/{id}")]
pub async fn detail_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    detail(&state, &caller.0, ProductId::parse(&path.into_inner())?, String::new()).await
}

/// Approves or rejects a product from its page.
#[post("/registry/products/{id}/review")]
pub async fn review_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ReviewForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryReview, "products").await?;
    let id = ProductId::parse(&path.into_inner())?;
    super::api::product_in_reach(&state, &caller, &id, "product.review").await?;
    let d = form.decision();
    let ctx = caller.audit();
    let key = id.clone();
    let notice = match state.db.transaction(move |conn| review::review::<ProductRow>(conn, &ctx, &key, &d)).await {
        Ok(p) => crate::registry::review::pages::decided_notice(&p.status),
        Err(e) if e.is_for_the_form() => e.detail_zh,
        Err(e) => return Err(e),
    };
    detail(&state, &caller, id, notice).await
}

/// 修改产品: the form filled with the product in force.
#[get("/registry/products/{id}/edit")]
pub async fn edit_form(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::RegistryWrite, "products").await?;
    let id = ProductId::parse(&path.into_inner())?;
    let row = super::api::product_in_reach(&state, &caller, &id, "product.change").await?;
    let owner = row.entity_id.clone();
    let entity_code = state.db.run(move |conn| Ok(crate::registry::entities::row(conn, &owner)?.code)).await?;
    let form = ProductForm {
        csrf: String::new(),
        tenant_id: row.tenant_id.to_string(),
        entity_code,
        scheme: row.scheme.clone(),
        code: row.code.clone(),
        name: row.name.clone(),
        category: row.category_code.clone(),
        specification: row.specification.clone(),
        brand: row.brand.clone(),
        shelf_life_days: row.shelf_life_days.map(|d| d.to_string()).unwrap_or_default(),
    };
    form_page(&state, &caller, Some(id), String::new(), String::new(), form).await
}

/// Changes a product from the form: free fields apply at once, reviewed fields wait.
#[post("/registry/products/{id}/edit")]
pub async fn edit_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ProductForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryWrite, "products").await?;
    let id = ProductId::parse(&path.into_inner())?;
    let row = super::api::product_in_reach(&state, &caller, &id, "product.change").await?;
    let owner = row.tenant_id.clone();
    let input = match form.input() {
        Ok(i) => i,
        Err(e) => return form_page(&state, &caller, Some(id), e.detail_zh, String::new(), form).await,
    };
    let ctx = caller.audit();
    let key = id.clone();
    let notice = match state.db.transaction(move |conn| super::change(conn, &ctx, &owner, &key, &input)).await {
        Ok((_, o)) => crate::registry::review::pages::change_notice(&o.applied, &o.pending_fields),
        Err(e) if e.is_for_the_form() => {
            return form_page(&state, &caller, Some(id), e.detail_zh, String::new(), form).await
        }
        Err(e) => return Err(e),
    };
    detail(&state, &caller, id, notice).await
}

/// Registers these routes.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(list_page)
        .service(new_form)
        .service(new_submit)
        .service(edit_form)
        .service(edit_submit)
        .service(review_submit)
        .service(detail_page);
}
