//! The summary (汇总表) the indicators read: the jurisdiction's figures — own aggregates and
//! children's slices — summed by region level (2, 4 or 6 digits: province, city, county) and
//! period (day, month, year), by stage and direction. Category is summed away.
//!
//! **Kept by difference, in the writer's transaction.** Whoever changes a source hands the
//! change of each (day, county, stage, direction) to [`add`]: the node's own aggregates as a
//! submission is stored, a child's slice as it replaces the cells it held (new minus old).
//! One change touches nine summary rows (three levels × three periods), never more, so the
//! cost of keeping the summary follows the change, not the history. Only [`add`] writes the
//! table, always inside the transaction of the change, so the summary cannot drift from its
//! sources; [`recount`] sums the sources again for a test or a check.
//!
//! **Read by ranges.** A window of days is cut into at most five ranges of whole periods —
//! leading days, leading months, whole years, trailing months, trailing days ([`pieces`]) —
//! so the rows an indicator reads are bounded by the regions and stages it shows times the
//! ranges (at most 30 + 11 + 30 periods for the longest window), at any length of history.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::{Figures, Window};
use crate::db::schema::statistics_summary as ss;
use crate::db::DbConnection;
use crate::error::AppResult;

/// A change of one (day, county, stage, direction) cell of the jurisdiction's figures: what
/// it holds now minus what it held.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// `YYYY-MM-DD`.
    pub day: &'a str,
    /// The acting party's six-digit region.
    pub region: &'a str,
    /// Stage code.
    pub stage: &'a str,
    /// `in` or `out`.
    pub direction: &'a str,
    /// The difference (negative where figures went down).
    pub figures: Figures,
}

/// The region levels kept: province, city, county.
pub const LEVELS: [usize; 3] = [2, 4, 6];

/// A period's kind and the length of its text (`YYYY-MM-DD`, `YYYY-MM`, `YYYY`).
const SPANS: [(&str, usize); 3] = [("d", 10), ("m", 7), ("y", 4)];

/// A summary row's key: level, span, period, region prefix, stage, direction.
type Key = (i16, &'static str, String, String, String, String);

/// The nine summary rows one change of a daily cell touches: each level × each period.
fn expand(c: &Change<'_>, mut touch: impl FnMut(Key)) {
    for level in LEVELS {
        let region = c.region.get(..level).unwrap_or(c.region);
        for (span, len) in SPANS {
            let period = c.day.get(..len).unwrap_or(c.day);
            touch((
                level as i16,
                span,
                period.to_owned(),
                region.to_owned(),
                c.stage.to_owned(),
                c.direction.to_owned(),
            ));
        }
    }
}

/// Adds `changes` to the summary, in the caller's transaction.
pub fn add<'a>(conn: &mut DbConnection, changes: impl IntoIterator<Item = Change<'a>>) -> AppResult<()> {
    let mut rows: HashMap<Key, Figures> = HashMap::new();
    for c in changes {
        if c.figures != Figures::default() {
            expand(&c, |key| rows.entry(key).or_default().add(&c.figures));
        }
    }
    rows.retain(|_, f| *f != Figures::default());
    if rows.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<(Key, Figures)> = rows.into_iter().collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    match crate::db::postgres(conn) {
        Some(pg) => rows.chunks(5_000).try_for_each(|chunk| merge_unnested(pg, chunk)),
        None => rows.iter().try_for_each(|row| merge_one(conn, row)),
    }
}

/// SQLite: one prepared upsert per row (the macro `insert_rows!` found multi-row statements
/// no faster there).
fn merge_one(
    conn: &mut DbConnection,
    ((level, span, period, region, stage, direction), f): &(Key, Figures),
) -> AppResult<()> {
    crate::on_backend!(&mut *conn, |c| diesel::insert_into(ss::table)
        .values((
            ss::level.eq(level),
            ss::span.eq(span),
            ss::period.eq(period),
            ss::region.eq(region),
            ss::stage.eq(stage),
            ss::direction.eq(direction),
            ss::records.eq(f.records),
            ss::quantity_milli.eq(f.quantity_milli),
            ss::amount_fen.eq(f.amount_fen),
            ss::priced.eq(f.priced),
            ss::price_fen_sum.eq(f.price_fen_sum),
        ))
        .on_conflict((ss::level, ss::span, ss::period, ss::region, ss::stage, ss::direction))
        .do_update()
        .set((
            ss::records.eq(ss::records + excluded(ss::records)),
            ss::quantity_milli.eq(ss::quantity_milli + excluded(ss::quantity_milli)),
            ss::amount_fen.eq(ss::amount_fen + excluded(ss::amount_fen)),
            ss::priced.eq(ss::priced + excluded(ss::priced)),
            ss::price_fen_sum.eq(ss::price_fen_sum + excluded(ss::price_fen_sum)),
        ))
        .execute(c))?;
    Ok(())
}

/// PostgreSQL: a chunk of rows merged from one array per column, in one statement.
fn merge_unnested(pg: &mut diesel::pg::PgConnection, rows: &[(Key, Figures)]) -> AppResult<()> {
    use diesel::sql_types::{Array, BigInt, SmallInt, Text};
    fn col<'r, T>(rows: &'r [(Key, Figures)], f: impl Fn(&'r Key, &'r Figures) -> T) -> Vec<T> {
        rows.iter().map(|(k, v)| f(k, v)).collect()
    }
    diesel::sql_query(
        "INSERT INTO statistics_summary (level, span, period, region, stage, direction, records, quantity_milli,
            amount_fen, priced, price_fen_sum)
         SELECT * FROM unnest($1::smallint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])
         ON CONFLICT (level, span, period, region, stage, direction) DO UPDATE SET
            records = statistics_summary.records + excluded.records,
            quantity_milli = statistics_summary.quantity_milli + excluded.quantity_milli,
            amount_fen = statistics_summary.amount_fen + excluded.amount_fen,
            priced = statistics_summary.priced + excluded.priced,
            price_fen_sum = statistics_summary.price_fen_sum + excluded.price_fen_sum",
    )
    .bind::<Array<SmallInt>, _>(col(rows, |k, _| k.0))
    .bind::<Array<Text>, _>(col(rows, |k, _| k.1))
    .bind::<Array<Text>, _>(col(rows, |k, _| k.2.as_str()))
    .bind::<Array<Text>, _>(col(rows, |k, _| k.3.as_str()))
    .bind::<Array<Text>, _>(col(rows, |k, _| k.4.as_str()))
    .bind::<Array<Text>, _>(col(rows, |k, _| k.5.as_str()))
    .bind::<Array<BigInt>, _>(col(rows, |_, f| f.records))
    .bind::<Array<BigInt>, _>(col(rows, |_, f| f.quantity_milli))
    .bind::<Array<BigInt>, _>(col(rows, |_, f| f.amount_fen))
    .bind::<Array<BigInt>, _>(col(rows, |_, f| f.priced))
    .bind::<Array<BigInt>, _>(col(rows, |_, f| f.price_fen_sum))
    .execute(pg)?;
    Ok(())
}

/// A range of whole periods of one span: `span` is `d`, `m` or `y`, `from` and `to` are
/// period texts, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// `d`, `m` or `y`.
    pub span: &'static str,
    /// First period.
    pub from: String,
    /// Last period.
    pub to: String,
}

/// The window cut into ranges of whole periods, largest first where they fit: at most five
/// (days, months, years, months, days), in order.
pub fn pieces(window: &Window) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut day = window.from;
    while day <= window.to {
        let (span, last) = if let Some(end) = whole(day, window.to, Span::Year) {
            ("y", end)
        } else if let Some(end) = whole(day, window.to, Span::Month) {
            ("m", end)
        } else {
            ("d", day)
        };
        let text = period_of(day, span);
        match out.last_mut() {
            Some(p) if p.span == span => p.to = text,
            _ => out.push(Piece { span, from: text.clone(), to: text }),
        }
        day = last.succ_opt().unwrap_or(NaiveDate::MAX);
        if last == NaiveDate::MAX {
            break;
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Span {
    Month,
    Year,
}

/// The last day of the month or year that starts at `day`, when `day` starts one and it ends
/// by `to`.
fn whole(day: NaiveDate, to: NaiveDate, span: Span) -> Option<NaiveDate> {
    let next = match span {
        Span::Month if day.day() == 1 => day.checked_add_months(chrono::Months::new(1))?,
        Span::Year if day.ordinal() == 1 => day.with_year(day.year() + 1)?,
        _ => return None,
    };
    let last = next.pred_opt()?;
    (last <= to).then_some(last)
}

fn period_of(day: NaiveDate, span: &str) -> String {
    match span {
        "y" => day.format("%Y").to_string(),
        "m" => day.format("%Y-%m").to_string(),
        _ => day.format("%Y-%m-%d").to_string(),
    }
}

/// The condition that reads `pieces` at `level` within the region prefix `within`, with its
/// binds in order (`?` placeholders): every read of the summary goes through it.
pub fn condition(level: usize, within: &str, pieces: Vec<Piece>) -> (String, Vec<String>) {
    let (low, high) = super::region_bounds(within);
    let spans: Vec<&str> = pieces.iter().map(|_| "(span = ? AND period >= ? AND period <= ?)").collect();
    let sql = format!("level = {level} AND region >= ? AND region < ? AND ({})", spans.join(" OR "));
    let mut binds = vec![low, high];
    for p in pieces {
        binds.extend([p.span.to_owned(), p.from, p.to]);
    }
    (sql, binds)
}

/// The level a read at `digits` within the prefix `within` uses: the coarsest level that
/// tells both apart.
pub fn level_for(digits: usize, within: &str) -> usize {
    let need = digits.max(within.len());
    LEVELS.into_iter().find(|l| *l >= need).unwrap_or(6)
}

/// One summary row as stored.
pub type Stored = (i16, String, String, String, String, String, Figures);

/// The summary as stored, rows that sum to nothing left out, in key order.
pub fn stored(conn: &mut DbConnection) -> AppResult<Vec<Stored>> {
    type Row = (i16, String, String, String, String, String, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = ss::table
        .order((ss::level, ss::span, ss::period, ss::region, ss::stage, ss::direction))
        .select((
            ss::level,
            ss::span,
            ss::period,
            ss::region,
            ss::stage,
            ss::direction,
            ss::records,
            ss::quantity_milli,
            ss::amount_fen,
            ss::priced,
            ss::price_fen_sum,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(l, s, p, r, st, d, records, quantity_milli, amount_fen, priced, price_fen_sum)| {
            (l, s, p, r, st, d, Figures { records, quantity_milli, amount_fen, priced, price_fen_sum })
        })
        .filter(|row| row.6 != Figures::default())
        .collect())
}

/// The summary summed again from its sources (every day of both tables), in the order of
/// [`stored`]: for tests and checks, never on a schedule.
pub fn recount(conn: &mut DbConnection) -> AppResult<Vec<Stored>> {
    use crate::db::schema::{federated_statistics as fs, trace_daily as td};
    type Row = (String, String, String, String, i64, i64, i64, i64, i64);
    let own: Vec<Row> = td::table
        .select((
            td::day,
            td::region,
            td::stage,
            td::direction,
            td::records,
            td::quantity_milli,
            td::amount_fen,
            td::priced,
            td::price_fen_sum,
        ))
        .load(conn)?;
    let below: Vec<Row> = fs::table
        .select((
            fs::day,
            fs::region,
            fs::stage,
            fs::direction,
            fs::records,
            fs::quantity_milli,
            fs::amount_fen,
            fs::priced,
            fs::price_fen_sum,
        ))
        .load(conn)?;
    let mut sums: std::collections::BTreeMap<Key, Figures> = std::collections::BTreeMap::new();
    for (day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum) in
        own.into_iter().chain(below)
    {
        let figures = Figures { records, quantity_milli, amount_fen, priced, price_fen_sum };
        let change = Change { day: &day, region: &region, stage: &stage, direction: &direction, figures };
        expand(&change, |key| sums.entry(key).or_default().add(&figures));
    }
    Ok(sums
        .into_iter()
        .filter(|(_, f)| *f != Figures::default())
        .map(|((l, s, p, r, st, d), f)| (l, s.to_owned(), p, r, st, d, f))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(from: &str, to: &str) -> Window {
        let day = |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").expect("day");
        Window { from: day(from), to: day(to) }
    }

    fn cut(from: &str, to: &str) -> Vec<(String, String, String)> {
        pieces(&window(from, to)).into_iter().map(|p| (p.span.to_owned(), p.from, p.to)).collect()
    }

    fn piece(span: &str, from: &str, to: &str) -> (String, String, String) {
        (span.to_owned(), from.to_owned(), to.to_owned())
    }

    #[test]
    fn a_window_is_cut_into_whole_periods() {
        assert_eq!(
            cut("2025-12-02", "2026-12-01"),
            vec![
                piece("d", "2025-12-02", "2025-12-31"),
                piece("m", "2026-01", "2026-11"),
                piece("d", "2026-12-01", "2026-12-01")
            ]
        );
        assert_eq!(cut("2025-01-01", "2025-12-31"), vec![piece("y", "2025", "2025")]);
        assert_eq!(
            cut("2024-11-15", "2025-12-31"),
            vec![piece("d", "2024-11-15", "2024-11-30"), piece("m", "2024-12", "2024-12"), piece("y", "2025", "2025")]
        );
        assert_eq!(cut("2026-02-01", "2026-02-28"), vec![piece("m", "2026-02", "2026-02")]);
        assert_eq!(cut("2024-02-01", "2024-02-28"), vec![piece("d", "2024-02-01", "2024-02-28")]);
        assert_eq!(cut("2026-03-05", "2026-03-05"), vec![piece("d", "2026-03-05", "2026-03-05")]);
        assert_eq!(
            cut("2025-06-10", "2026-04-03"),
            vec![
                piece("d", "2025-06-10", "2025-06-30"),
                piece("m", "2025-07", "2026-03"),
                piece("d", "2026-04-01", "2026-04-03")
            ]
        );
    }

    #[test]
    fn every_day_of_a_window_lies_in_exactly_one_piece() {
        let start = NaiveDate::from_ymd_opt(2023, 11, 20).expect("day");
        for offset in [0i64, 13, 41, 400] {
            for len in [1i64, 29, 31, 60, 365, 366] {
                let from = start + chrono::Duration::days(offset);
                let to = from + chrono::Duration::days(len - 1);
                let cut = pieces(&Window { from, to });
                assert!(cut.len() <= 5, "{cut:?}");
                let mut day = from;
                while day <= to {
                    let inside = cut
                        .iter()
                        .filter(|p| {
                            let t = period_of(day, p.span);
                            p.from <= t && t <= p.to
                        })
                        .count();
                    assert_eq!(inside, 1, "{day} in {cut:?}");
                    day = day.succ_opt().expect("next");
                }
                let outside = [from.pred_opt().expect("day"), to.succ_opt().expect("day")];
                for day in outside {
                    assert!(
                        !cut.iter().any(|p| {
                            let t = period_of(day, p.span);
                            p.from <= t && t <= p.to
                        }),
                        "{day} outside {from}..{to} but in {cut:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_level_tells_the_keys_and_the_prefix_apart() {
        assert_eq!(level_for(2, ""), 2);
        assert_eq!(level_for(4, "33"), 4);
        assert_eq!(level_for(2, "3301"), 4);
        assert_eq!(level_for(6, ""), 6);
        assert_eq!(level_for(2, "330"), 4);
        assert_eq!(level_for(2, "33010"), 6);
    }
}
