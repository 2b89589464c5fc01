//! Console pages of responsible entities: registration, detail with versions, change and the reviewer's decision on a registration.

use crate::registry::review::pages::{change_notice, decided_notice, ReviewForm};
use crate::registry::vocabulary::{labels, status_zh, Labels};
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use tracenode_adapters::codes::Stage;

use crate::app::AppState;
use crate::auth::caller::{Caller, ConsoleCaller};
use crate::console::{render, Shell};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::{EntityId, TenantId};
use crate::registry::catalogue::{self, Category};
use crate::registry::entities::{self, EntityVersion};
use crate::registry::model::{Entity, EntityInput, EntityKind, ValidationContext};
use crate::registry::region_of;
use crate::registry::sites::{self, Site};
use crate::users::Permission;

#[derive(Template)]
#[template(path = "registry/entities/new.html")]
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
    #[serde(default)]
    gln: String,
}

pub(crate) fn parse_coordinate(field: &str, v: &str) -> AppResult<Option<f64>> {
    match v.trim() {
        "" => Ok(None),
        t => {
            t.parse::<f64>().map(Some).map_err(|_| AppError::invalid(field, "坐标应为数字", "a coordinate is a number"))
        }
    }
}

pub(crate) fn blank_none(v: &str) -> Option<String> {
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
                "gln" => f.gln = v,
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
            tenant_id: e.tenant_id.to_string(),
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
            gln: e.gln.clone().unwrap_or_default(),
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
            gln: blank_none(&self.gln),
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
    editing: Option<EntityId>,
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
        tenants: tenants.into_iter().filter(|t| caller.sees_tenant(t) && t.is_active()).collect(),
        sites: site_list,
        categories,
        error,
        notice,
        form,
    })
}

/// 登记主体 form.
#[get("/registry/new")]
pub async fn new_form(state: web::Data<AppState>, caller: ConsoleCaller) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let form = EntityForm { region: region_of(&state, &caller).to_string(), ..Default::default() };
    new_page(&state, &caller, String::new(), String::new(), form).await
}

/// Registers an entity from the form.
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
    let tenant = match crate::registry::access::owning_tenant(
        &state,
        &caller,
        input.tenant_id.as_ref(),
        "entity.register",
    )
    .await
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
#[template(path = "registry/entities/entity.html")]
struct EntityPageView {
    shell: Shell,
    entity: Entity,
    status: &'static str,
    stages: String,
    versions: Vec<EntityVersion>,
    devices: Vec<crate::registry::devices::Device>,
    device_types: Vec<(String, String)>,
    can_review: bool,
    can_write: bool,
    notice: String,
}

pub(crate) async fn entity_page(
    state: &AppState,
    caller: &Caller,
    id: EntityId,
    notice: String,
) -> AppResult<HttpResponse> {
    caller.require(state, Permission::RegistryRead, "entities").await?;
    let row = crate::registry::access::entity_in_reach(state, caller, &id, "entity.read").await?;
    let key = id.clone();
    let (versions, devices) = state
        .db
        .run(move |conn| Ok((entities::versions(conn, &key)?, crate::registry::devices::of_entity(conn, &key)?)))
        .await?;
    let entity = row.view();
    render(&EntityPageView {
        shell: Shell::new(state, caller, &entity.name.clone(), "/registry"),
        status: status_zh(&entity.status),
        stages: entity.stages.iter().map(|s| s.label_zh()).collect::<Vec<_>>().join("、"),
        can_review: caller.can(Permission::RegistryReview)
            && entity.status == crate::registry::review::ReviewStatus::Pending.as_str(),
        can_write: caller.can(Permission::RegistryWrite),
        device_types: crate::registry::devices::DEVICE_TYPES
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        entity,
        versions,
        devices,
        notice,
    })
}

/// 主体详情 with versions and, for reviewers, the review form.
#[get("/registry/entities/{id}")]
pub async fn entity_detail(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    entity_page(&state, &caller.0, EntityId::parse(&path.into_inner())?, String::new()).await
}

/// 修改主体: the form filled with the entity in force.
#[get("/registry/entities/{id}/edit")]
pub async fn edit_form(
    state: web::Data<AppState>,
    caller: ConsoleCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let caller = caller.0;
    caller.require(&state, Permission::RegistryWrite, "entities").await?;
    let id = EntityId::parse(&path.into_inner())?;
    let row = crate::registry::access::entity_in_reach(&state, &caller, &id, "entity.change").await?;
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
    let id = EntityId::parse(&path.into_inner())?;
    let row = crate::registry::access::entity_in_reach(&state, &caller, &id, "entity.change").await?;
    let owner = row.tenant_id.clone();
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

/// Approves or rejects a registration from its page.
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
    let id = EntityId::parse(&path.into_inner())?;
    crate::registry::access::entity_in_reach(&state, &caller, &id, "entity.review").await?;
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
