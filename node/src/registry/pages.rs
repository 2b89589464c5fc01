//! Console pages of the registry: search with map and exports, registration, review queue,
//! entity detail with its versions, analysis, and the catalogue.

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use tracenode_adapters::codes::Stage;

use super::analysis::{self, Analysis};
use super::catalogue::{self, Category};
use super::entities::{self, Change, Decision, EntityVersion, FieldPolicy};
use super::map::MapView;
use super::model::{Entity, EntityInput, EntityKind, ValidationContext};
use super::search::{self, EntityPage, EntityQuery};
use super::sites::{self, Site, SITE_KINDS};
use super::{reach_of, region_of, review};
use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::TenantId;
use crate::users::Permission;

/// Labels the templates need: (code, Chinese label).
pub struct Labels {
    /// Entity kinds.
    pub kinds: Vec<(String, String)>,
    /// Stages.
    pub stages: Vec<(String, String)>,
    /// Site kinds.
    pub site_kinds: Vec<(String, String)>,
}

fn labels() -> Labels {
    let own = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    Labels {
        kinds: EntityKind::ALL.iter().map(|k| own(k.as_str(), k.label_zh())).collect(),
        stages: Stage::ALL.iter().map(|s| own(s.code(), s.label_zh())).collect(),
        site_kinds: SITE_KINDS.iter().map(|(a, b)| own(a, b)).collect(),
    }
}

/// Chinese label of a review status.
pub fn status_zh(s: &str) -> &'static str {
    match s {
        "approved" => "已通过",
        "rejected" => "已驳回",
        _ => "待审核",
    }
}

#[derive(Template)]
#[template(path = "registry/search.html")]
struct SearchPage {
    shell: Shell,
    labels: Labels,
    query: EntityQuery,
    query_string: String,
    page: EntityPage,
    pages: i64,
    map: MapView,
    categories: Vec<Category>,
    can_write: bool,
}

fn query_string(q: &EntityQuery) -> String {
    let mut q = q.clone();
    q.page = None;
    serde_urlencoded::to_string(&q).unwrap_or_default()
}

/// 主体检索: filters, results, map and exports.
#[utoipa::path(tag = "console", params(EntityQuery), responses((status = 200, description = "Registry search page with map", content_type = "text/html")))]
#[get("/registry")]
pub async fn search_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<EntityQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let query = query.into_inner();
    let (q, reach) = super::api::checked(&state, &caller, &query).await?;
    let base = reach.region.clone().unwrap_or_else(|| state.config.node.region.clone());
    let (page, points, by_region, categories) = state
        .db
        .run(move |conn| {
            let page = search::page(conn, &q, &reach)?;
            let points = search::all(conn, &q, &reach, super::map::MAX_POINTS)?;
            let a = analysis::region_counts(conn, &q, &reach, &base)?;
            Ok((page, points, a, catalogue::list(conn)?))
        })
        .await?;
    let pages = (page.total + page.page_size - 1) / page.page_size;
    let map_region = query
        .region
        .as_deref()
        .and_then(|r| crate::region::RegionCode::parse(r).ok())
        .unwrap_or(base_region(&state, &caller));
    render(&SearchPage {
        shell: Shell::new(&state, &caller, "主体与产品注册", "/registry"),
        labels: labels(),
        query_string: query_string(&query),
        query,
        pages,
        map: MapView::new(&map_region, &points, &by_region),
        page,
        categories,
        can_write: caller.can(Permission::RegistryWrite),
    })
}

fn base_region(state: &AppState, caller: &Caller) -> crate::region::RegionCode {
    region_of(state, caller)
}

#[derive(Template)]
#[template(path = "registry/new.html")]
struct NewPage {
    shell: Shell,
    /// Where the form posts: `/registry/new`, or an entity's edit address.
    action: String,
    labels: Labels,
    tenants: Vec<crate::tenants::Tenant>,
    sites: Vec<Site>,
    categories: Vec<Category>,
    error: String,
    notice: String,
    form: EntityForm,
}

/// Posted form fields in order, repeated names included (ticked boxes).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct PostedFields(Vec<(String, String)>);

impl utoipa::PartialSchema for PostedFields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new().description(Some("HTML form fields")).into()
    }
}

impl utoipa::ToSchema for PostedFields {}

/// The registration form as posted.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
pub struct EntityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    longitude: String,
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    contact_person: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    stages: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    site_code: String,
    #[serde(default)]
    merchant_code: String,
    #[serde(default)]
    merchant_type: String,
    #[serde(default)]
    varieties: String,
}

fn parse_coordinate(field: &str, v: &str) -> AppResult<Option<f64>> {
    match v.trim() {
        "" => Ok(None),
        t => {
            t.parse::<f64>().map(Some).map_err(|_| AppError::invalid(field, "坐标应为数字", "a coordinate is a number"))
        }
    }
}

fn blank_none(v: &str) -> Option<String> {
    Some(v.trim().to_owned()).filter(|s| !s.is_empty())
}

impl EntityForm {
    /// Reads the posted fields; `stages` and `categories` repeat, one per ticked box.
    fn from_pairs(pairs: Vec<(String, String)>) -> EntityForm {
        let mut f = EntityForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "tenant_id" => f.tenant_id = v,
                "code" => f.code = v,
                "name" => f.name = v,
                "kind" => f.kind = v,
                "region" => f.region = v,
                "address" => f.address = v,
                "longitude" => f.longitude = v,
                "latitude" => f.latitude = v,
                "contact_person" => f.contact_person = v,
                "contact_phone" => f.contact_phone = v,
                "stages" => f.stages.push(v),
                "categories" => f.categories.push(v),
                "site_code" => f.site_code = v,
                "merchant_code" => f.merchant_code = v,
                "merchant_type" => f.merchant_type = v,
                "varieties" => f.varieties = v,
                _ => {}
            }
        }
        f
    }

    /// The form filled with an entity as it is in force.
    fn of(e: &Entity, site_code: Option<String>) -> EntityForm {
        let coordinate = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        EntityForm {
            csrf: String::new(),
            tenant_id: e.tenant_id.clone(),
            code: e.code.clone(),
            name: e.name.clone(),
            kind: e.kind.as_str().to_owned(),
            region: e.region.clone(),
            address: e.address.clone(),
            longitude: coordinate(e.longitude),
            latitude: coordinate(e.latitude),
            contact_person: e.contact_person.clone(),
            contact_phone: e.contact_phone.clone(),
            stages: e.stages.iter().map(|s| s.code().to_owned()).collect(),
            categories: e.categories.clone(),
            site_code: site_code.unwrap_or_default(),
            merchant_code: e.merchant_code.clone().unwrap_or_default(),
            merchant_type: e.merchant_type.clone().unwrap_or_default(),
            varieties: e.varieties.clone(),
        }
    }

    fn input(&self) -> AppResult<EntityInput> {
        let kind = EntityKind::parse(&self.kind)
            .ok_or_else(|| AppError::invalid("kind", "请选择主体类型", "choose a kind"))?;
        let stages = self
            .stages
            .iter()
            .map(|s| Stage::from_code(s).ok_or_else(|| AppError::invalid("stages", "未知的追溯环节", "unknown stage")))
            .collect::<AppResult<Vec<_>>>()?;
        Ok(EntityInput {
            code: self.code.clone(),
            name: self.name.clone(),
            kind,
            region: self.region.clone(),
            address: self.address.clone(),
            longitude: parse_coordinate("longitude", &self.longitude)?,
            latitude: parse_coordinate("latitude", &self.latitude)?,
            contact_person: self.contact_person.clone(),
            contact_phone: self.contact_phone.clone(),
            stages,
            categories: self.categories.clone(),
            site_code: blank_none(&self.site_code),
            merchant_code: blank_none(&self.merchant_code),
            merchant_type: blank_none(&self.merchant_type),
            varieties: self.varieties.clone(),
            filed_at: None,
            tenant_id: match self.tenant_id.trim() {
                "" => None,
                t => Some(TenantId::parse(t)?),
            },
        })
    }
}

async fn new_page(
    state: &AppState,
    caller: &Caller,
    error: String,
    notice: String,
    form: EntityForm,
) -> AppResult<HttpResponse> {
    form_page(state, caller, None, error, notice, form).await
}

/// The entity form: a new registration, or a change of entity `editing`.
async fn form_page(
    state: &AppState,
    caller: &Caller,
    editing: Option<String>,
    error: String,
    notice: String,
    form: EntityForm,
) -> AppResult<HttpResponse> {
    let own = caller.tenant_id.clone();
    let (tenants, site_list, categories) = state
        .db
        .run(move |conn| {
            Ok((crate::tenants::list_all(conn)?, sites::list(conn, own.as_ref())?, catalogue::list(conn)?))
        })
        .await?;
    let (title, action) = match &editing {
        Some(id) => ("修改追溯责任主体", format!("/registry/entities/{id}/edit")),
        None => ("登记追溯责任主体", "/registry/new".to_owned()),
    };
    render(&NewPage {
        shell: Shell::new(state, caller, title, "/registry"),
        action,
        labels: labels(),
        tenants: tenants.into_iter().filter(|t| caller.sees_tenant(t) && t.status == "active").collect(),
        sites: site_list,
        categories,
        error,
        notice,
        form,
    })
}

/// 登记主体 form.
#[utoipa::path(tag = "console", responses((status = 200, description = "Registration form", content_type = "text/html")))]
#[get("/registry/new")]
pub async fn new_form(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let form = EntityForm { region: region_of(&state, &caller).to_string(), ..Default::default() };
    new_page(&state, &caller, String::new(), String::new(), form).await
}

/// Registers an entity from the form.
#[utoipa::path(tag = "console", responses((status = 303, description = "Registered: to its page"), (status = 200, description = "Form with the reason", content_type = "text/html")))]
#[post("/registry/new")]
pub async fn new_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<PostedFields>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = EntityForm::from_pairs(form.into_inner().0);
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let input = match form.input() {
        Ok(i) => i,
        Err(e) => return new_page(&state, &caller, e.detail_zh, String::new(), form).await,
    };
    let tenant = match super::access::owning_tenant(&state, &caller, input.tenant_id.as_ref(), "entity.register").await
    {
        Ok(t) => t,
        Err(e) if e.kind == ErrorKind::Validation => {
            return new_page(&state, &caller, e.detail_zh, String::new(), form).await
        }
        Err(e) => return Err(e),
    };
    let within = region_of(&state, &caller);
    let ctx = caller.audit();
    let outcome = state
        .db
        .transaction(move |conn| {
            entities::register(conn, &ctx, &tenant, &input, &ValidationContext { region: &within, tenant: &tenant })
        })
        .await;
    match outcome {
        Ok(entities::Registered::Created { entity }) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("/registry/entities/{}", entity.id)))
            .finish()),
        Ok(entities::Registered::DuplicateClaim { .. }) => {
            new_page(
                &state,
                &caller,
                String::new(),
                "该代码已由其他租户登记，本次提交已转入审核（重复登记申请）。".into(),
                EntityForm::default(),
            )
            .await
        }
        Err(e) if e.is_for_the_form() => new_page(&state, &caller, e.detail_zh, String::new(), form).await,
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "registry/entity.html")]
struct EntityPageView {
    shell: Shell,
    entity: Entity,
    status: &'static str,
    stages: String,
    versions: Vec<EntityVersion>,
    devices: Vec<super::devices::Device>,
    device_types: Vec<(String, String)>,
    can_review: bool,
    can_write: bool,
    notice: String,
}

async fn entity_page(state: &AppState, caller: &Caller, id: String, notice: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "entities").await?;
    let row = super::access::entity_in_reach(state, caller, &id, "entity.read").await?;
    let key = id.clone();
    let (versions, devices) =
        state.db.run(move |conn| Ok((entities::versions(conn, &key)?, super::devices::of_entity(conn, &key)?))).await?;
    let entity = row.view();
    render(&EntityPageView {
        shell: Shell::new(state, caller, &entity.name.clone(), "/registry"),
        status: status_zh(&entity.status),
        stages: entity.stages.iter().map(|s| s.label_zh()).collect::<Vec<_>>().join("、"),
        can_review: caller.can(Permission::RegistryReview) && entity.status == "pending",
        can_write: caller.can(Permission::RegistryWrite),
        device_types: super::devices::DEVICE_TYPES.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
        entity,
        versions,
        devices,
        notice,
    })
}

/// 主体详情 with versions and, for reviewers, the review form.
#[utoipa::path(tag = "console", params(("id" = String, Path, description = "Entity id")), responses((status = 200, description = "Entity page", content_type = "text/html")))]
#[get("/registry/entities/{id}")]
pub async fn entity_detail(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    entity_page(&state, &caller.0, path.into_inner(), String::new()).await
}

#[derive(Template)]
#[template(path = "registry/sites.html")]
struct SitesPage {
    shell: Shell,
    sites: Vec<(Site, String)>,
    tenants: Vec<crate::tenants::Tenant>,
    site_kinds: Vec<(String, String)>,
    region: String,
    can_write: bool,
    error: String,
    notice: String,
}

async fn sites_view(state: &AppState, caller: &Caller, error: String, notice: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "sites").await?;
    let own = caller.tenant_id.clone();
    let (list, tenants) =
        state.db.run(move |conn| Ok((sites::list(conn, own.as_ref())?, crate::tenants::list_all(conn)?))).await?;
    let kind_label = |k: &str| SITE_KINDS.iter().find(|(c, _)| *c == k).map(|(_, l)| *l).unwrap_or(k).to_owned();
    render(&SitesPage {
        shell: Shell::new(state, caller, "节点（市场、屠宰场等）", "/registry"),
        sites: list
            .into_iter()
            .map(|s| {
                let label = kind_label(&s.kind);
                (s, label)
            })
            .collect(),
        tenants: tenants.into_iter().filter(|t| caller.sees_tenant(t) && t.status == "active").collect(),
        site_kinds: labels().site_kinds,
        region: region_of(state, caller).to_string(),
        can_write: caller.can(Permission::RegistryWrite),
        error,
        notice,
    })
}

/// 节点: the sites (markets, slaughterhouses …) and a form to add one.
#[utoipa::path(tag = "console", responses((status = 200, description = "Sites page", content_type = "text/html")))]
#[get("/registry/sites")]
pub async fn sites_page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    sites_view(&state, &caller.0, String::new(), String::new()).await
}

/// A site as posted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SiteForm {
    csrf: String,
    #[serde(default)]
    tenant_id: String,
    code: String,
    name: String,
    kind: String,
    region: String,
    #[serde(default)]
    address: String,
}

/// Registers a site from the form.
#[utoipa::path(tag = "console", responses((status = 200, description = "Sites page with the outcome", content_type = "text/html")))]
#[post("/registry/sites")]
pub async fn sites_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<SiteForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryWrite, "sites").await?;
    let named = match form.tenant_id.trim() {
        "" => None,
        t => Some(TenantId::parse(t)?),
    };
    let tenant = super::access::owning_tenant(&state, &caller, named.as_ref(), "site.create").await?;
    let within = region_of(&state, &caller);
    let ctx = caller.audit();
    let new = sites::NewSite {
        code: form.code.trim().to_owned(),
        name: form.name,
        kind: form.kind,
        region: form.region.trim().to_owned(),
        address: form.address,
        longitude: None,
        latitude: None,
        tenant_id: None,
    };
    match state.db.transaction(move |conn| sites::create(conn, &ctx, &tenant, &within, &new)).await {
        Ok(s) => sites_view(&state, &caller, String::new(), format!("节点 {} 已登记。", s.name)).await,
        Err(e) if e.is_for_the_form() => sites_view(&state, &caller, e.detail_zh, String::new()).await,
        Err(e) => Err(e),
    }
}

/// A device as posted from an entity's page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeviceForm {
    csrf: String,
    device_type: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    mac: String,
    #[serde(default)]
    serial_number: String,
    #[serde(default)]
    site_code: String,
}

/// Registers a device of an entity from the entity's page.
#[utoipa::path(tag = "console", params(("id" = String, Path, description = "Entity id")), responses((status = 200, description = "Entity page with the outcome", content_type = "text/html")))]
#[post("/registry/entities/{id}/devices")]
pub async fn device_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<DeviceForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryWrite, "devices").await?;
    let id = path.into_inner();
    let entity = super::access::entity_in_reach(&state, &caller, &id, "device.register").await?;
    let input = super::devices::DeviceInput {
        entity_id: id.clone(),
        site_code: blank_none(&form.site_code),
        device_type: form.device_type,
        model: form.model,
        mac: form.mac,
        serial_number: form.serial_number,
    };
    let ctx = caller.audit();
    let notice =
        match state.db.transaction(move |conn| super::devices::register(conn, &ctx, &entity.tenant_id, &input)).await {
            Ok(d) => format!("设备 {} 已登记。", d.mac),
            Err(e) if e.is_for_the_form() => e.detail_zh,
            Err(e) => return Err(e),
        };
    entity_page(&state, &caller, id, notice).await
}

/// What a change did, in Chinese: the fields applied and the fields waiting for review.
pub fn change_notice(applied: &[String], pending: &[String]) -> String {
    let labels = |fields: &[String]| fields.iter().map(|f| field_label(f)).collect::<Vec<_>>().join("、");
    let mut parts = Vec::new();
    if !applied.is_empty() {
        parts.push(format!("已生效：{}", labels(applied)));
    }
    if !pending.is_empty() {
        parts.push(format!("待审核：{}（审核通过前原信息继续有效）", labels(pending)));
    }
    if parts.is_empty() {
        "没有修改。".to_owned()
    } else {
        parts.join("；") + "。"
    }
}

/// Chinese names of the fields change policies name.
fn field_label(field: &str) -> &'static str {
    match field {
        "name" => "名称",
        "kind" => "主体类型",
        "region" => "地区",
        "address" => "地址",
        "location" => "经纬度",
        "contact_person" => "联系人",
        "contact_phone" => "联系电话",
        "stages" => "追溯环节",
        "categories" => "产品类目",
        "site" => "所属节点",
        "merchant" => "商户编码与类型",
        "varieties" => "经营品种",
        "filed_at" => "备案时间",
        "category" => "产品类目",
        "specification" => "规格",
        "brand" => "品牌",
        "shelf_life" => "保质期",
        "entity" => "所属主体",
        _ => "其他",
    }
}

#[derive(Template)]
#[template(path = "registry/policies.html")]
struct PoliciesPage {
    shell: Shell,
    tenants: Vec<crate::tenants::Tenant>,
    tenant_id: String,
    kind: String,
    rows: Vec<(String, &'static str, String)>,
    can_edit: bool,
    error: String,
    notice: String,
}

impl PolicyView {
    /// The kind shown: products when asked for, else entities.
    fn kind(&self) -> review::Kind {
        if self.kind == "product" {
            review::Kind::Product
        } else {
            review::Kind::Entity
        }
    }
}

/// Which tenant's and which kind's policies a page shows.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PolicyView {
    /// Tenant id.
    #[serde(default)]
    tenant_id: String,
    /// `entity` (default) or `product`.
    #[serde(default)]
    kind: String,
}

async fn policies_view(
    state: &AppState,
    caller: &Caller,
    view: PolicyView,
    error: String,
    notice: String,
) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "policies").await?;
    let all = state.db.run(crate::tenants::list_all).await?;
    let tenants: Vec<_> = all.into_iter().filter(|t| caller.sees_tenant(t)).collect();
    let kind = view.kind();
    let tenant_id = match view.tenant_id.trim() {
        "" => tenants.first().map(|t| t.id.as_str().to_owned()).unwrap_or_default(),
        t => t.to_owned(),
    };
    let rows = match tenant_id.as_str() {
        "" => vec![],
        t => {
            let tenant =
                super::access::owning_tenant(state, caller, Some(&TenantId::parse(t)?), "registry.policy").await?;
            let list = state.db.run(move |conn| review::policies_of(conn, kind, &tenant)).await?;
            list.into_iter().map(|p| (p.field.clone(), field_label(&p.field), p.mode)).collect()
        }
    };
    render(&PoliciesPage {
        shell: Shell::new(state, caller, "变更权限", "/registry"),
        tenants,
        tenant_id,
        kind: if kind == review::Kind::Product { "product" } else { "entity" }.to_owned(),
        rows,
        can_edit: caller.can(Permission::RegistryReview),
        error,
        notice,
    })
}

/// 变更权限: which fields a tenant may change without review, per kind.
#[utoipa::path(tag = "console", params(PolicyView), responses((status = 200, description = "Change policies", content_type = "text/html")))]
#[get("/registry/policies")]
pub async fn policies_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    view: web::Query<PolicyView>,
) -> AppResult<HttpResponse> {
    policies_view(&state, &caller.0, view.into_inner(), String::new(), String::new()).await
}

/// Saves a tenant's change policies from the form (`mode_<field>` = `free` or `review`).
#[utoipa::path(tag = "console", responses((status = 200, description = "Change policies with the outcome", content_type = "text/html")))]
#[post("/registry/policies")]
pub async fn policies_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<std::collections::HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(form.get("csrf").map(String::as_str).unwrap_or(""))?;
    caller.require(&state, Permission::RegistryReview, "policies").await?;
    let view = PolicyView {
        tenant_id: form.get("tenant_id").cloned().unwrap_or_default(),
        kind: form.get("kind").cloned().unwrap_or_default(),
    };
    let tenant =
        super::access::owning_tenant(&state, &caller, Some(&TenantId::parse(&view.tenant_id)?), "registry.policy")
            .await?;
    let list: Vec<FieldPolicy> = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("mode_").map(|f| FieldPolicy { field: f.to_owned(), mode: v.clone() }))
        .collect();
    let kind = view.kind();
    let ctx = caller.audit();
    let saved = state.db.transaction(move |conn| review::set_policies_of(conn, &ctx, kind, &tenant, &list)).await;
    match saved {
        Ok(_) => policies_view(&state, &caller, view, String::new(), "变更权限已保存。".into()).await,
        Err(e) if e.is_for_the_form() => policies_view(&state, &caller, view, e.detail_zh, String::new()).await,
        Err(e) => Err(e),
    }
}

/// 修改主体: the form filled with the entity in force.
#[utoipa::path(tag = "console", params(("id" = String, Path, description = "Entity id")), responses((status = 200, description = "Change form", content_type = "text/html")))]
#[get("/registry/entities/{id}/edit")]
pub async fn edit_form(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let id = path.into_inner();
    let row = super::access::entity_in_reach(&state, &caller, &id, "entity.change").await?;
    let site_id = row.site_id.clone();
    let site_code = state
        .db
        .run(move |conn| {
            Ok(sites::list(conn, None)?.into_iter().find(|s| Some(&s.id) == site_id.as_ref()).map(|s| s.code))
        })
        .await?;
    let form = EntityForm::of(&row.view(), site_code);
    form_page(&state, &caller, Some(id), String::new(), String::new(), form).await
}

/// Changes an entity from the form: free fields apply at once, reviewed fields wait.
#[utoipa::path(tag = "console", params(("id" = String, Path, description = "Entity id")), responses((status = 200, description = "Entity page with the outcome, or the form with the reason", content_type = "text/html")))]
#[post("/registry/entities/{id}/edit")]
pub async fn edit_submit(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<PostedFields>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = EntityForm::from_pairs(form.into_inner().0);
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let id = path.into_inner();
    let row = super::access::entity_in_reach(&state, &caller, &id, "entity.change").await?;
    let owner = TenantId::from_db(row.tenant_id.clone());
    let mut input = match form.input() {
        Ok(i) => i,
        Err(e) => return form_page(&state, &caller, Some(id), e.detail_zh, String::new(), form).await,
    };
    input.tenant_id = None;
    let within = region_of(&state, &caller);
    let ctx = caller.audit();
    let key = id.clone();
    let changed = state
        .db
        .transaction(move |conn| {
            entities::change(conn, &ctx, &owner, &key, &input, &ValidationContext { region: &within, tenant: &owner })
        })
        .await;
    let notice = match changed {
        Ok(c) => change_notice(&c.applied, &c.pending_fields),
        Err(e) if e.is_for_the_form() => {
            return form_page(&state, &caller, Some(id), e.detail_zh, String::new(), form).await
        }
        Err(e) => return Err(e),
    };
    entity_page(&state, &caller, id, notice).await
}

/// A review decision from a form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReviewForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Required when rejecting.
    #[serde(default)]
    pub reason: String,
}

impl ReviewForm {
    /// The decision the form carries.
    pub fn decision(self) -> Decision {
        Decision { approve: self.decision == "approve", reason: self.reason }
    }
}

/// What a reviewer is told after deciding: the status the registration now has.
pub fn decided_notice(status: &str) -> String {
    if status == "approved" { "已审核通过。" } else { "已驳回。" }.to_owned()
}

/// Approves or rejects a registration from its page.
#[utoipa::path(tag = "console", params(("id" = String, Path, description = "Entity id")), responses((status = 200, description = "Entity page with the outcome", content_type = "text/html")))]
#[post("/registry/entities/{id}/review")]
pub async fn entity_review(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ReviewForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryReview, "entities").await?;
    let id = path.into_inner();
    super::access::entity_in_reach(&state, &caller, &id, "entity.review").await?;
    let d = form.decision();
    let ctx = caller.audit();
    let key = id.clone();
    let notice = match state.db.transaction(move |conn| entities::review(conn, &ctx, &key, &d)).await {
        Ok(e) => decided_notice(&e.status),
        Err(e) if e.is_for_the_form() => e.detail_zh,
        Err(e) => return Err(e),
    };
    entity_page(&state, &caller, id, notice).await
}

#[derive(Template)]
#[template(path = "registry/review.html")]
struct ReviewQueue {
    shell: Shell,
    pending: Vec<Entity>,
    pending_products: Vec<super::products::Product>,
    changes: Vec<Change>,
    notice: String,
}

async fn review_queue(state: &AppState, caller: &Caller, notice: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryReview, "entities").await?;
    let query = EntityQuery {
        status: Some("pending".into()),
        sort: Some("filed_at".into()),
        order: Some("asc".into()),
        page_size: Some(100),
        ..Default::default()
    };
    let q = query.check()?;
    let reach = reach_of(state, caller);
    let products_query =
        super::products::ProductQuery { status: Some("pending".into()), page_size: Some(100), ..Default::default() };
    let (pending, pending_products, changes) = state
        .db
        .run(move |conn| {
            Ok((
                search::page(conn, &q, &reach)?.rows,
                super::products::search(conn, &products_query, &reach)?.rows,
                review::pending_changes(conn, None)?,
            ))
        })
        .await?;
    render(&ReviewQueue {
        shell: Shell::new(state, caller, "审核", "/registry"),
        pending,
        pending_products,
        changes,
        notice,
    })
}

/// 待审核: pending registrations, changes and duplicate claims.
#[utoipa::path(tag = "console", responses((status = 200, description = "Review queue", content_type = "text/html")))]
#[get("/registry/review")]
pub async fn review_page(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    review_queue(&state, &caller.0, String::new()).await
}

/// Approves or rejects a pending change or duplicate claim from the queue.
#[utoipa::path(tag = "console", params(("id" = String, Path, description = "Change id")), responses((status = 200, description = "Review queue with the outcome", content_type = "text/html")))]
#[post("/registry/changes/{id}/review")]
pub async fn change_review(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
    form: web::Form<ReviewForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::RegistryReview, "changes").await?;
    let id = path.into_inner();
    let key = id.clone();
    let change = state.db.run(move |conn| review::change_by_id(conn, &key)).await?;
    super::api::change_in_reach(&state, &caller, &change).await?;
    let d = form.decision();
    let ctx = caller.audit();
    let notice = match state.db.transaction(move |conn| review::review_change(conn, &ctx, &id, &d)).await {
        Ok(c) => format!("变更已{}。", if c.status == "approved" { "通过" } else { "驳回" }),
        Err(e) if e.is_for_the_form() => e.detail_zh,
        Err(e) => return Err(e),
    };
    review_queue(&state, &caller, notice).await
}

/// One breakdown of the analysis page: title, whether its rows drill down, the bars.
type Section = (&'static str, bool, Vec<analysis::Bucket>);

#[derive(Template)]
#[template(path = "registry/analysis.html")]
struct AnalysisPage {
    shell: Shell,
    a: Analysis,
    sections: Vec<Section>,
}

/// 统计分析 of registrations, with bars and drill-down.
#[utoipa::path(tag = "console", params(EntityQuery), responses((status = 200, description = "Analysis page", content_type = "text/html")))]
#[get("/registry/analysis")]
pub async fn analysis_page(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    query: web::Query<EntityQuery>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let query = query.into_inner();
    let (q, reach) = super::api::checked(&state, &caller, &query).await?;
    let base = reach.region.clone().unwrap_or_else(|| state.config.node.region.clone());
    let a = state.db.run(move |conn| analysis::analyse(conn, &q, &reach, &base)).await?;
    let _ = query;
    let sections = vec![
        ("按地区（点击下钻）", true, a.by_region.clone()),
        ("按追溯环节", false, a.by_stage.clone()),
        ("按产品类目", false, a.by_category.clone()),
        ("按备案月份", false, a.by_month.clone()),
    ];
    render(&AnalysisPage { shell: Shell::new(&state, &caller, "注册分析", "/registry"), a, sections })
}

#[derive(Template)]
#[template(path = "registry/catalogue.html")]
struct CataloguePage {
    shell: Shell,
    categories: Vec<Category>,
    version: i64,
    can_write: bool,
    error: String,
    notice: String,
}

async fn catalogue_page(state: &AppState, caller: &Caller, error: String, notice: String) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "catalogue").await?;
    let (version, categories) = state.db.run(|conn| Ok((catalogue::version(conn)?, catalogue::list(conn)?))).await?;
    render(&CataloguePage {
        shell: Shell::new(state, caller, "产品目录", "/registry"),
        categories,
        version,
        can_write: caller.can(Permission::CatalogueWrite),
        error,
        notice,
    })
}

/// 产品目录.
#[utoipa::path(tag = "console", responses((status = 200, description = "Catalogue page", content_type = "text/html")))]
#[get("/registry/catalogue")]
pub async fn catalogue_view(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    catalogue_page(&state, &caller.0, String::new(), String::new()).await
}

/// A local category from the form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CategoryForm {
    csrf: String,
    parent_code: String,
    code: String,
    name: String,
}

/// Adds a local sub-category from the form.
#[utoipa::path(tag = "console", responses((status = 200, description = "Catalogue page with the outcome", content_type = "text/html")))]
#[post("/registry/catalogue")]
pub async fn catalogue_add(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    form: web::Form<CategoryForm>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    let form = form.into_inner();
    caller.check_csrf(&form.csrf)?;
    caller.require(&state, Permission::CatalogueWrite, "catalogue").await?;
    let new =
        catalogue::NewCategory { parent_code: form.parent_code, code: form.code.trim().to_owned(), name: form.name };
    let ctx = caller.audit();
    let national = state.config.node.tier == crate::config::Tier::National;
    match state.db.transaction(move |conn| catalogue::add(conn, &ctx, &new, national)).await {
        Ok(c) => {
            catalogue_page(&state, &caller, String::new(), format!("已添加类目“{}”（{}）。", c.name, c.code)).await
        }
        Err(e) if e.is_for_the_form() => catalogue_page(&state, &caller, e.detail_zh, String::new()).await,
        Err(e) => Err(e),
    }
}

/// This page's entry in the console navigation.
pub const NAV: crate::console::NavItem = crate::console::NavItem::page("/registry", "主体与产品注册");

/// Registers these pages (before the console's catch-all).
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(search_page)
        .service(new_form)
        .service(new_submit)
        .service(review_page)
        .service(change_review)
        .service(analysis_page)
        .service(catalogue_view)
        .service(catalogue_add)
        .service(entity_detail)
        .service(entity_review)
        .service(sites_page)
        .service(sites_submit)
        .service(device_submit)
        .service(edit_form)
        .service(edit_submit)
        .service(policies_page)
        .service(policies_submit)
        .configure(super::products::pages::routes);
}
