//! What the lists show, for the API and the console alike: one view of a computation —
//! entities, sites, tenants, or the divisions one level below the region shown — sorted worst
//! first by an indicator, 100 rows a page, and the whole view as CSV (at most
//! [`MAX_EXPORT`] rows).

use serde::{Deserialize, Serialize};
use tracenode_adapters::codes::Stage;

use super::indicators::{Computed, Filter, Indicator, SubjectIndicators, Window};
use super::thresholds::Threshold;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::region::RegionCode;

/// Rows per page.
pub const PAGE: usize = 100;
/// The most rows one export carries.
pub const MAX_EXPORT: usize = 100_000;

crate::text_status! {
    /// Which rows a list shows.
    pub enum View {
        /// Each entity.
        Entities = "entities" / "主体",
        /// Each site.
        Sites = "sites" / "节点（市场）",
        /// Each tenant.
        Tenants = "tenants" / "租户",
        /// Each division one level below the region shown.
        Regions = "regions" / "地区",
    }
}

/// What a list asks for.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
pub struct ListQuery {
    /// `entities` (default), `sites`, `tenants` or `regions`.
    pub view: Option<String>,
    /// A month, `YYYY-MM` (instead of `from`/`to`).
    pub month: Option<String>,
    /// First day, `YYYY-MM-DD` (default: the first of the current month).
    pub from: Option<String>,
    /// Last day (default and latest: yesterday).
    pub to: Option<String>,
    /// One stage.
    pub stage: Option<String>,
    /// One tenant (id).
    pub tenant: Option<String>,
    /// One site's merchants (id).
    pub site: Option<String>,
    /// A region's subtree.
    pub region: Option<String>,
    /// Sort worst first by this indicator (default: by code).
    pub sort: Option<String>,
    /// Only rows past this indicator's threshold.
    pub beyond: Option<String>,
    /// Page, from 1.
    pub page: Option<usize>,
}

/// The parts of a query the computation does not check itself.
pub struct Asked {
    /// The view.
    pub view: View,
    /// The sort.
    pub sort: Option<Indicator>,
    /// Only rows past this indicator's bound.
    pub beyond: Option<Indicator>,
}

fn indicator(field: &str, v: Option<&str>) -> AppResult<Option<Indicator>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Indicator::parse(s).map(Some).ok_or_else(|| {
            AppError::invalid(field, format!("未知的监测指标“{s}”"), format!("unknown indicator {s:?}"))
        }),
    }
}

/// Checks the query's own fields and applies its stage and site to `f`.
pub fn asked(q: &ListQuery, f: &mut Filter) -> AppResult<Asked> {
    let view = match q.view.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => View::Entities,
        Some(v) => View::parse(v).ok_or_else(|| {
            AppError::invalid(
                "view",
                "视图应为 entities、sites、tenants 或 regions",
                "view is entities, sites, tenants or regions",
            )
        })?,
    };
    if let Some(s) = q.stage.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if Stage::from_code(s).is_none() {
            return Err(AppError::invalid("stage", format!("未知的追溯环节“{s}”"), format!("unknown stage {s:?}")));
        }
        f.stage = Some(s.to_owned());
    }
    if let Some(s) = q.site.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let id = crate::ids::SiteId::parse(s).map_err(|e| e.on_field("site"))?;
        f.site = Some(id.as_str().to_owned());
    }
    Ok(Asked { view, sort: indicator("sort", q.sort.as_deref())?, beyond: indicator("beyond", q.beyond.as_deref())? })
}

/// One page of a view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MonitoringListing)]
pub struct Listing {
    /// The window.
    pub window: Window,
    /// The view.
    pub view: View,
    /// Everything the filter covers, summed.
    pub total: SubjectIndicators,
    /// Rows of this page.
    pub rows: Vec<SubjectIndicators>,
    /// Rows in the view.
    pub total_rows: usize,
    /// This page, from 1.
    pub page: usize,
    /// Pages.
    pub pages: usize,
}

/// The computation every view of a filter and window is cut from, with the thresholds it
/// is judged against.
pub fn computed(conn: &mut DbConnection, f: &Filter, w: Window) -> AppResult<(Vec<Threshold>, Computed)> {
    let all = super::thresholds::list(conn)?;
    let intervals = super::thresholds::intervals(&all);
    let c = super::compute::compute(conn, f, w, &intervals)?;
    Ok((all, c))
}

/// The rows of one view of a computation, sorted and filtered as asked (all of them).
pub fn view_rows(c: &Computed, all: &[Threshold], f: &Filter, a: &Asked, shown: &RegionCode) -> Vec<SubjectIndicators> {
    let mut rows = match a.view {
        View::Entities => c.entities.clone(),
        View::Sites => c.sites.clone(),
        View::Tenants => c.tenants.clone(),
        View::Regions => super::compute::by_region(&c.entities, shown),
    };
    let stage = f.stage.clone().unwrap_or_default();
    if let Some(i) = a.beyond {
        rows.retain(|r| match (super::thresholds::of(all, &stage, i), r.figures(&stage)) {
            (Some(t), Some(fig)) => fig.base(i) >= t.min_base && fig.value(i).is_some_and(|v| t.breached(v)),
            _ => false,
        });
    }
    if let Some(i) = a.sort {
        sort_worst_first(&mut rows, i, &stage);
    }
    rows
}

/// The rows of a view, sorted and filtered as asked (all of them), and the total.
pub fn rows(
    conn: &mut DbConnection,
    f: &Filter,
    w: Window,
    a: &Asked,
    shown: &RegionCode,
) -> AppResult<(SubjectIndicators, Vec<SubjectIndicators>)> {
    let (all, c) = computed(conn, f, w)?;
    let rows = view_rows(&c, &all, f, a, shown);
    Ok((c.total, rows))
}

/// Sorts worst first by `i` in `stage`; rows without a value go last, in their order.
pub fn sort_worst_first(rows: &mut [SubjectIndicators], i: Indicator, stage: &str) {
    let key = |r: &SubjectIndicators| r.figures(stage).and_then(|f| f.value(i));
    rows.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) if i.higher_is_better() => x.cmp(&y),
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

/// One page of a view.
pub fn page(
    conn: &mut DbConnection,
    f: &Filter,
    w: Window,
    a: &Asked,
    shown: &RegionCode,
    page: usize,
) -> AppResult<Listing> {
    let (total, rows) = rows(conn, f, w, a, shown)?;
    Ok(paged(w, a.view, total, rows, page))
}

/// Page `page` (from 1, clamped) of `rows`.
pub fn paged(w: Window, view: View, total: SubjectIndicators, rows: Vec<SubjectIndicators>, page: usize) -> Listing {
    let total_rows = rows.len();
    let pages = total_rows.div_ceil(PAGE).max(1);
    let page = page.clamp(1, pages);
    let rows = rows.into_iter().skip((page - 1) * PAGE).take(PAGE).collect();
    Listing { window: w, view, total, rows, total_rows, page, pages }
}

/// The whole view as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the
/// Chinese), values as people read them and the counts beside them.
pub fn csv(conn: &mut DbConnection, f: &Filter, w: Window, a: &Asked, shown: &RegionCode) -> AppResult<Vec<u8>> {
    let (_, rows) = rows(conn, f, w, a, shown)?;
    if rows.len() > MAX_EXPORT {
        return Err(AppError::invalid(
            "view",
            format!("导出最多 {MAX_EXPORT} 行，本次 {} 行，请缩小范围（地区、租户或环节）", rows.len()),
            format!("an export holds at most {MAX_EXPORT} rows, this one {}; narrow it", rows.len()),
        ));
    }
    let stage = f.stage.clone().unwrap_or_default();
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut header = vec!["类型", "代码", "名称", "地区", "起始日", "截止日"];
    header.extend(Indicator::ALL.iter().map(|i| i.label_zh()));
    header.extend([
        "主体数",
        "报送主体数",
        "应报周期数",
        "已报周期数",
        "入库记录",
        "拒收记录",
        "异常记录",
        "最长延迟（秒）",
    ]);
    out.write_record(&header).map_err(|e| AppError::internal(e.to_string()))?;
    for r in &rows {
        let f = r.figures(&stage).copied().unwrap_or_default();
        let mut line = vec![
            r.subject.kind.label_zh().to_owned(),
            r.subject.code.clone(),
            r.subject.name.clone(),
            r.subject.region.clone(),
            w.from.to_string(),
            w.to.to_string(),
        ];
        line.extend(Indicator::ALL.iter().map(|&i| i.show(f.value(i))));
        line.extend(
            [f.entities, f.active, f.expected, f.reported, f.records, f.rejected, f.flagged, f.delay_seconds_max]
                .iter()
                .map(i64::to_string),
        );
        out.write_record(&line).map_err(|e| AppError::internal(e.to_string()))?;
    }
    out.into_inner().map_err(|e| AppError::internal(e.to_string()))
}
