//! 统计分析: the reads of the daily aggregates of a node's whole jurisdiction — its own
//! (`trace_daily`, every tenant) and its children's latest slices (`federated_statistics`) —
//! for a window of days that is always bounded. The indicators ([`by_region`], [`by_stage`])
//! read the [`summary`] by region level and period, so their cost follows what they show, not
//! the history; the statistics API ([`aggregates`]) groups the daily rows themselves.
//!
//! **The window.** At most [`MAX_DAYS`] days. Without dates the window is the
//! [`MAX_DAYS`] days up to the latest day that has data, so a query costs the same on the
//! first day of a node and after ten years of history.
//!
//! **What is counted** (the counting rule, here and nowhere else):
//! - A record reports a trade: the seller's report has direction `out`, the buyer's `in`.
//!   Volume and amount (交易量、交易额) count **each trade once, from the seller's report**.
//!   A trade both parties report counts once; the buyers' reports are shown beside it as a
//!   number of reports (购入报告), never added to the volume. A trade only its buyer reports
//!   is in that number, not in the volume: matching a buyer's report to a seller's needs
//!   the records themselves, which only the node that holds both has (the tiers above hold
//!   aggregates), so the rule is one every tier can apply alike.
//! - A trade is counted in the region of its seller and on the day of the trade (China
//!   Standard Time).
//! - Each stage's sale is a trade of its own: a lot that passes five stages makes five
//!   trades, one at each stage. Figures by stage ([`by_stage`]) are labelled per stage; a
//!   total over stages ([`by_region`]) is "trades at every stage", not an amount of product.

pub mod aggregates;
pub mod api;
pub mod reach;
pub mod summary;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;

use crate::db::DbConnection;
use crate::error::{AppError, AppResult};

/// The most days one query covers.
pub const MAX_DAYS: i64 = 366;

/// The five totals of a set of aggregate rows; the same type travels in statistics
/// batches, so a tier's figures and its children's add up without conversion.
pub use tracenode_federation::wire::payload::Figures;

/// The days a query covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Window {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

impl Window {
    /// The window of a request: the days given, or the [`MAX_DAYS`] days up to `to` (or up to
    /// the latest day with data); longer than [`MAX_DAYS`] is refused, naming `from`.
    pub fn resolve(conn: &mut DbConnection, from: Option<NaiveDate>, to: Option<NaiveDate>) -> AppResult<Window> {
        let to = match to {
            Some(t) => t,
            None => latest_day(conn)?.unwrap_or_else(|| chrono::Utc::now().date_naive()),
        };
        let from = from.unwrap_or(to - chrono::Duration::days(MAX_DAYS - 1));
        if from > to {
            return Err(AppError::invalid("from", "起始日期不能晚于截止日期", "from must not come after to"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(AppError::invalid(
                "from",
                format!("一次最多统计 {MAX_DAYS} 天"),
                format!("one query covers at most {MAX_DAYS} days"),
            ));
        }
        Ok(Window { from, to })
    }
}

/// The latest day in the jurisdiction's aggregates.
fn latest_day(conn: &mut DbConnection) -> AppResult<Option<NaiveDate>> {
    use crate::db::schema::{federated_statistics as fs, trace_daily as td};
    let own: Option<String> = td::table.select(diesel::dsl::max(td::day)).first(conn)?;
    let below: Option<String> = fs::table.select(diesel::dsl::max(fs::day)).first(conn)?;
    Ok(own.into_iter().chain(below).max().and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
}

/// One group's figures as the SQL returns them: the trades (sellers' reports) and the number
/// of buyers' reports.
#[derive(Debug, QueryableByName)]
struct Grouped {
    #[diesel(sql_type = Text)]
    key: String,
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
    #[diesel(sql_type = BigInt)]
    buyer_reports: i64,
}

/// What a group of the jurisdiction's aggregates comes to under the counting rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Volume {
    /// The trades: each once, from the seller's report (`out`).
    #[serde(flatten)]
    pub trades: Figures,
    /// Buyers' reports (`in`): shown, never added to the trades.
    pub buyer_reports: i64,
}

impl Grouped {
    fn volume(&self) -> Volume {
        Volume {
            trades: Figures {
                records: self.records,
                quantity_milli: self.quantity_milli,
                amount_fen: self.amount_fen,
                priced: self.priced,
                price_fen_sum: self.price_fen_sum,
            },
            buyer_reports: self.buyer_reports,
        }
    }
}

/// The region prefix filter as a range on the region column (served by the `(day, region)`
/// indexes): `within` is digits only (checked by the caller).
pub(crate) fn region_bounds(within: &str) -> (String, String) {
    if within.is_empty() {
        return (String::new(), "~".to_owned());
    }
    (within.to_owned(), crate::registry::search::prefix_upper(within))
}

/// The counting rule, as SQL over the aggregate columns: a sum of the sellers' reports.
fn trade_sum(column: &str) -> String {
    format!("CAST(SUM(CASE WHEN direction = 'out' THEN {column} ELSE 0 END) AS BIGINT) AS {column}")
}

/// Sums the summary ([`summary`]) at `level` over the window and region prefix under the
/// counting rule, grouped by `key` (an SQL expression over `region` and `stage`). Reads the
/// rows of at most five ranges of periods, whatever the length of history.
fn grouped(conn: &mut DbConnection, key: &str, level: usize, within: &str, window: &Window) -> AppResult<Vec<Grouped>> {
    let (condition, binds) = summary::condition(level, within, summary::pieces(window));
    let sums: Vec<String> =
        ["records", "quantity_milli", "amount_fen", "priced", "price_fen_sum"].iter().map(|c| trade_sum(c)).collect();
    let sql = format!(
        "SELECT {key} AS key, {sums}, \
         CAST(SUM(CASE WHEN direction = 'in' THEN records ELSE 0 END) AS BIGINT) AS buyer_reports \
         FROM statistics_summary WHERE {condition} \
         GROUP BY {key} HAVING SUM(records) <> 0 ORDER BY {key}",
        sums = sums.join(", "),
    );
    let sql = crate::db::placeholders_for(crate::db::backend_of(conn), sql);
    let mut query = diesel::sql_query(sql).into_boxed();
    for b in binds {
        query = query.bind::<Text, _>(b);
    }
    Ok(query.load(conn)?)
}

/// The jurisdiction's volume by region prefix of `digits` (2: provinces, 4: cities, 6:
/// counties; the seller's region) within the region prefix `within`, over the window.
pub fn by_region(
    conn: &mut DbConnection,
    digits: usize,
    within: &str,
    window: &Window,
) -> AppResult<Vec<(String, Volume)>> {
    let digits = digits.clamp(2, 6);
    let key = format!("substr(region, 1, {digits})");
    Ok(grouped(conn, &key, summary::level_for(digits, within), within, window)?
        .into_iter()
        .map(|g| (g.key.clone(), g.volume()))
        .collect())
}

/// The jurisdiction's volume by stage within `within` over the window, in the order of the
/// stages' codes.
pub fn by_stage(conn: &mut DbConnection, within: &str, window: &Window) -> AppResult<Vec<(String, Volume)>> {
    Ok(grouped(conn, "stage", summary::level_for(2, within), within, window)?
        .into_iter()
        .map(|g| (g.key.clone(), g.volume()))
        .collect())
}
