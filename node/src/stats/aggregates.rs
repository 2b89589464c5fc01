//! The statistics API's reads: the daily aggregates of the jurisdiction grouped by any of day,
//! region (at 2, 4 or 6 digits), category, stage and direction, filtered and paged.
//!
//! Unlike the indicators ([`super::by_region`]), these are the raw figures of each direction:
//! the seller's reports (`out`) and the buyer's (`in`) stay apart, and a caller that adds
//! them counts a trade both parties reported twice (the counting rule is in this module's
//! parent). A request over both sources that neither groups nor filters by category is
//! answered from the [`super::summary`] (rows bounded by the groups it shows); the others
//! group the daily rows. Every query is bounded: a window of at most [`super::MAX_DAYS`] days, a page of
//! at most [`MAX_PAGE`] groups; the total number of groups comes with each page.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;

use super::{region_bounds, Figures, Window};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// The most groups in one page.
pub const MAX_PAGE: i64 = 1000;

/// What a group may be keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// The day (China Standard Time).
    Day,
    /// The acting party's region, at the request's number of digits.
    Region,
    /// The product category.
    Category,
    /// The stage.
    Stage,
    /// `in` or `out`.
    Direction,
}

impl Dimension {
    /// Every dimension, in the order groups are keyed and sorted.
    pub const ALL: [Dimension; 5] =
        [Dimension::Day, Dimension::Region, Dimension::Category, Dimension::Stage, Dimension::Direction];

    /// Its name in a request.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Day => "day",
            Dimension::Region => "region",
            Dimension::Category => "category",
            Dimension::Stage => "stage",
            Dimension::Direction => "direction",
        }
    }

    /// The dimensions a request's `by` names (comma-separated; empty: all), in their order.
    pub fn parse_list(by: Option<&str>) -> AppResult<Vec<Dimension>> {
        let Some(by) = by.map(str::trim).filter(|b| !b.is_empty()) else { return Ok(Dimension::ALL.to_vec()) };
        let mut named = Vec::new();
        for part in by.split(',').map(str::trim) {
            let d = Dimension::ALL.into_iter().find(|d| d.name() == part).ok_or_else(|| {
                AppError::invalid(
                    "by",
                    format!("未知的分组维度“{part}”，可选 day、region、category、stage、direction"),
                    format!("unknown dimension {part:?}: use day, region, category, stage, direction"),
                )
            })?;
            named.push(d);
        }
        Ok(Dimension::ALL.into_iter().filter(|d| named.contains(d)).collect())
    }
}

/// Whose figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This node's own records and its children's slices.
    All,
    /// This node's own records only.
    Own,
    /// Its children's rolled-up slices only.
    Children,
}

impl Source {
    /// The source a request's `source` names (default: all).
    pub fn parse(s: Option<&str>) -> AppResult<Source> {
        match s.map(str::trim).unwrap_or("all") {
            "" | "all" => Ok(Source::All),
            "own" => Ok(Source::Own),
            "children" => Ok(Source::Children),
            other => Err(AppError::invalid(
                "source",
                format!("数据来源“{other}”无效，可选 all、own、children"),
                format!("source {other:?} is not all, own or children"),
            )),
        }
    }
}

/// What to count.
#[derive(Debug, Clone)]
pub struct Request {
    /// The days.
    pub window: Window,
    /// Regions starting with these digits.
    pub within: String,
    /// Digits of the region key (2, 4 or 6).
    pub digits: usize,
    /// Categories starting with these (any of them; empty: all).
    pub categories: Vec<String>,
    /// One stage, or all.
    pub stage: Option<String>,
    /// One direction, or both.
    pub direction: Option<String>,
    /// The keys of a group.
    pub by: Vec<Dimension>,
    /// Whose figures.
    pub source: Source,
    /// The page (from 1) and its size.
    pub page: i64,
    /// Groups per page, at most [`MAX_PAGE`].
    pub page_size: i64,
}

/// One group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// Day, when grouped by day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// Region prefix, when grouped by region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Category, when grouped by category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Stage, when grouped by stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Direction, when grouped by direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One page of groups.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page {
    /// The days counted.
    pub window: Window,
    /// The page (from 1).
    pub page: i64,
    /// Groups per page.
    pub page_size: i64,
    /// Groups in all pages.
    pub total: i64,
    /// This page's groups, in key order.
    pub rows: Vec<Group>,
}

#[derive(Debug, QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    k_day: String,
    #[diesel(sql_type = Text)]
    k_region: String,
    #[diesel(sql_type = Text)]
    k_category: String,
    #[diesel(sql_type = Text)]
    k_stage: String,
    #[diesel(sql_type = Text)]
    k_direction: String,
    #[diesel(sql_type = BigInt)]
    records: i64,
    #[diesel(sql_type = BigInt)]
    quantity_milli: i64,
    #[diesel(sql_type = BigInt)]
    amount_fen: i64,
    #[diesel(sql_type = BigInt)]
    priced: i64,
    #[diesel(sql_type = BigInt)]
    price_fen_sum: i64,
}

#[derive(Debug, QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The SQL of a key column: the dimension's expression when grouped by it, else `''`.
fn key(d: Dimension, by: &[Dimension], digits: usize) -> String {
    let expr = match d {
        Dimension::Region => format!("substr(region, 1, {})", digits.clamp(2, 6)),
        other => other.name().to_owned(),
    };
    if by.contains(&d) {
        expr
    } else {
        "''".to_owned()
    }
}

/// One source of a page's rows: a `SELECT` of the ten columns, and its binds in order.
struct Rows {
    sql: String,
    binds: Vec<String>,
}

const COLUMNS: &str =
    "day, region, category, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum";

/// Whether the summary can answer `r`: both sources together, and no category asked about
/// (the summary sums categories away).
fn summarised(r: &Request) -> bool {
    r.source == Source::All && r.categories.is_empty() && !r.by.contains(&Dimension::Category)
}

/// The daily rows of `table` (`trace_daily` or `federated_statistics`) that `r` counts.
fn daily(table: &str, r: &Request) -> Rows {
    let (low, high) = region_bounds(&r.within);
    let mut filter = vec!["day >= ? AND day <= ? AND region >= ? AND region < ?".to_owned()];
    let mut binds = vec![r.window.from.to_string(), r.window.to.to_string(), low, high];
    if !r.categories.is_empty() {
        let any: Vec<&str> = r.categories.iter().map(|_| "(category >= ? AND category < ?)").collect();
        filter.push(format!("({})", any.join(" OR ")));
        for c in &r.categories {
            binds.push(c.clone());
            binds.push(crate::registry::search::prefix_upper(c));
        }
    }
    narrowed(&mut filter, &mut binds, r);
    Rows { sql: format!("SELECT {COLUMNS} FROM {table} WHERE {}", filter.join(" AND ")), binds }
}

/// The summary's rows that `r` counts: days when grouped by day, else the window's ranges of
/// whole periods, at the coarsest region level the request tells apart. Its rows are bounded
/// by the groups shown, not by the history or the number of counties below.
fn summary_rows(r: &Request) -> Rows {
    let digits = if r.by.contains(&Dimension::Region) { r.digits } else { 2 };
    let level = super::summary::level_for(digits, &r.within);
    let pieces = if r.by.contains(&Dimension::Day) {
        vec![super::summary::Piece { span: "d", from: r.window.from.to_string(), to: r.window.to.to_string() }]
    } else {
        super::summary::pieces(&r.window)
    };
    let (condition, mut binds) = super::summary::condition(level, &r.within, pieces);
    let mut filter = vec![condition];
    narrowed(&mut filter, &mut binds, r);
    Rows {
        sql: format!(
            "SELECT period AS day, region, '' AS category, stage, direction, records, quantity_milli, amount_fen, \
             priced, price_fen_sum FROM statistics_summary WHERE {}",
            filter.join(" AND ")
        ),
        binds,
    }
}

/// The stage and direction filters of `r`.
fn narrowed(filter: &mut Vec<String>, binds: &mut Vec<String>, r: &Request) {
    for (column, value) in [("stage", &r.stage), ("direction", &r.direction)] {
        if let Some(v) = value {
            filter.push(format!("{column} = ?"));
            binds.push(v.clone());
        }
    }
}

/// One page of `r`.
pub fn page(conn: &mut DbConnection, r: &Request) -> AppResult<Page> {
    let sources: Vec<Rows> = match r.source {
        Source::All if summarised(r) => vec![summary_rows(r)],
        Source::All => vec![daily("trace_daily", r), daily("federated_statistics", r)],
        Source::Own => vec![daily("trace_daily", r)],
        Source::Children => vec![daily("federated_statistics", r)],
    };
    let binds: Vec<String> = sources.iter().flat_map(|s| s.binds.iter().cloned()).collect();
    let sources: Vec<String> = sources.into_iter().map(|s| s.sql).collect();
    let keys: Vec<String> =
        Dimension::ALL.iter().map(|d| format!("{} AS k_{}", key(*d, &r.by, r.digits), d.name())).collect();
    // Only the dimensions asked for: PostgreSQL refuses a constant in GROUP BY.
    let group_by: Vec<String> =
        Dimension::ALL.iter().filter(|d| r.by.contains(d)).map(|d| key(*d, &r.by, r.digits)).collect();
    let sums: Vec<String> = ["records", "quantity_milli", "amount_fen", "priced", "price_fen_sum"]
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect();
    let grouped = format!(
        "SELECT {keys}, {sums} FROM ({union}) AS jurisdiction GROUP BY {group_by} HAVING SUM(records) <> 0",
        keys = keys.join(", "),
        sums = sums.join(", "),
        union = sources.join(" UNION ALL "),
        group_by = group_by.join(", "),
    );
    let backend = crate::db::backend_of(conn);
    let number = |sql: String| crate::db::placeholders_for(backend, sql);
    let count_sql = number(format!("SELECT COUNT(*) AS n FROM ({grouped}) AS groups"));
    let mut count = diesel::sql_query(count_sql).into_boxed();
    for b in &binds {
        count = count.bind::<Text, _>(b.clone());
    }
    let total = count.load::<Count>(conn)?.first().map_or(0, |c| c.n);
    let order: Vec<String> = Dimension::ALL.iter().map(|d| format!("k_{}", d.name())).collect();
    let page_sql = number(format!(
        "{grouped} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        order = order.join(", "),
        limit = r.page_size,
        offset = (r.page - 1).saturating_mul(r.page_size),
    ));
    let mut rows = diesel::sql_query(page_sql).into_boxed();
    for b in &binds {
        rows = rows.bind::<Text, _>(b.clone());
    }
    let rows: Vec<Row> = rows.load(conn)?;
    let keyed = |d: Dimension, v: String| r.by.contains(&d).then_some(v);
    Ok(Page {
        window: r.window,
        page: r.page,
        page_size: r.page_size,
        total,
        rows: rows
            .into_iter()
            .map(|row| Group {
                day: keyed(Dimension::Day, row.k_day),
                region: keyed(Dimension::Region, row.k_region),
                category: keyed(Dimension::Category, row.k_category),
                stage: keyed(Dimension::Stage, row.k_stage),
                direction: keyed(Dimension::Direction, row.k_direction),
                figures: Figures {
                    records: row.records,
                    quantity_milli: row.quantity_milli,
                    amount_fen: row.amount_fen,
                    priced: row.priced,
                    price_fen_sum: row.price_fen_sum,
                },
            })
            .collect(),
    })
}
