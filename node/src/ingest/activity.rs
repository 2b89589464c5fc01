//! What each acting party reported (主体报送情况), kept while a submission is stored: per
//! tenant, day, party code and stage, the records stored, the records rejected, the stored
//! records flagged as anomalies, and the delay from each stored record's act to its arrival
//! (the moment the node began storing its submission). Operation monitoring
//! (`system/monitoring`) computes its indicators from these rows alone, so a month of
//! 100,000 entities is three million small rows rather than every trace record.
//!
//! The day is the act's (China Standard Time), as in the daily aggregates; a rejected record
//! whose time cannot be read counts on the day it arrived. A rejected record whose acting
//! party cannot be read counts under the empty code and stage, so it still weighs on its
//! tenant. The rows change in the submission's transaction: a submission rolled back leaves
//! no trace in them, and one that is stored is counted exactly once.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;
use tracenode_adapters::codes::Stage;
use tracenode_adapters::records::TraceRecord;

use crate::db::schema::party_activity as pa;
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::trace::row::{day_of, day_text, TraceRow};

/// Longest party code counted under its own name; a longer one (which validation rejects
/// anyway) counts under the empty code.
const MAX_CODE: usize = 64;

/// Who acted in a rejected record, as far as it could be read.
#[derive(Debug, Clone, Default)]
pub struct Acting {
    /// The acting party's code (the seller for `out`, the buyer for `in`), or empty.
    pub code: String,
    /// The stage code, or empty when it is not one.
    pub stage: String,
    /// The act's time (UTC), when it can be read.
    pub time: Option<NaiveDateTime>,
}

impl Acting {
    /// Reads the acting party of a record as sent.
    pub fn of(rec: &TraceRecord) -> Acting {
        let code = match rec.act.direction.trim() {
            "out" => rec.from.code.trim(),
            "in" => rec.to.code.trim(),
            _ => "",
        };
        let stage = rec.act.stage.trim();
        Acting {
            code: if code.chars().count() <= MAX_CODE { code.to_owned() } else { String::new() },
            stage: if Stage::from_code(stage).is_some() { stage.to_owned() } else { String::new() },
            time: super::validate::parse_time(&rec.act.time),
        }
    }

    /// The acting party of a record that passed validation but was refused when stored (a
    /// record id reused with other content, a correction of nothing).
    pub fn of_row(row: &TraceRow<'_>) -> Acting {
        let code = if row.direction == "out" { &row.from_code } else { &row.to_code };
        Acting { code: code.clone(), stage: row.stage.clone(), time: Some(row.act_time.0) }
    }
}

/// The counts of one (day, party, stage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records stored.
    pub records: i64,
    /// Records rejected.
    pub rejected: i64,
    /// Stored records flagged.
    pub flagged: i64,
    /// Stored records that correct an earlier one.
    pub corrections: i64,
    /// Sum of delays, seconds.
    pub delay_seconds_sum: i64,
    /// Longest delay, seconds.
    pub delay_seconds_max: i64,
}

/// The changes of one submission, gathered in memory and written once at its end.
#[derive(Debug)]
pub struct ActivityChanges {
    arrived: NaiveDateTime,
    /// Keyed by day, interned party code and interned stage, so a record repeating a slot
    /// costs no allocation.
    map: HashMap<(NaiveDate, u32, u32), Counts>,
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl ActivityChanges {
    /// Changes of a submission that arrived at `arrived` (UTC).
    pub fn new(arrived: NaiveDateTime) -> ActivityChanges {
        ActivityChanges { arrived, map: HashMap::new(), names: Vec::new(), ids: HashMap::new() }
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn slot(&mut self, day: NaiveDate, code: &str, stage: &str) -> &mut Counts {
        let key = (day, self.intern(code), self.intern(stage));
        self.map.entry(key).or_default()
    }

    /// Counts a stored record.
    pub fn stored(&mut self, row: &TraceRow<'_>) {
        let code = if row.direction == "out" { &row.from_code } else { &row.to_code };
        let delay = (self.arrived - row.act_time.0).num_seconds().max(0);
        let flagged = i64::from(row.flagged);
        let correction = i64::from(row.corrects.is_some());
        let c = self.slot(row.day(), code, &row.stage);
        c.records += 1;
        c.flagged += flagged;
        c.corrections += correction;
        c.delay_seconds_sum = c.delay_seconds_sum.saturating_add(delay);
        c.delay_seconds_max = c.delay_seconds_max.max(delay);
    }

    /// Counts a rejected record.
    pub fn rejected(&mut self, acting: &Acting) {
        let day = day_of(acting.time.filter(|t| *t <= self.arrived).unwrap_or(self.arrived));
        self.slot(day, &acting.code, &acting.stage).rejected += 1;
    }

    /// Adds the changes to the stored rows of `tenant`.
    pub fn write(&self, conn: &mut DbConnection, tenant: &str) -> AppResult<()> {
        let rows: Vec<_> = self
            .map
            .iter()
            .map(|((day, code, stage), c)| {
                (
                    pa::tenant_id.eq(tenant),
                    pa::day.eq(day_text(*day)),
                    pa::party_code.eq(self.names[*code as usize].as_str()),
                    pa::stage.eq(self.names[*stage as usize].as_str()),
                    pa::records.eq(c.records),
                    pa::rejected.eq(c.rejected),
                    pa::flagged.eq(c.flagged),
                    pa::corrections.eq(c.corrections),
                    pa::delay_seconds_sum.eq(c.delay_seconds_sum),
                    pa::delay_seconds_max.eq(c.delay_seconds_max),
                )
            })
            .collect();
        // Added to what the row holds; the longest delay is the greater of the two.
        macro_rules! merge {
            ($c:expr, $values:expr) => {
                diesel::insert_into(pa::table)
                    .values($values)
                    .on_conflict((pa::day, pa::tenant_id, pa::party_code, pa::stage))
                    .do_update()
                    .set((
                        pa::records.eq(pa::records + excluded(pa::records)),
                        pa::rejected.eq(pa::rejected + excluded(pa::rejected)),
                        pa::flagged.eq(pa::flagged + excluded(pa::flagged)),
                        pa::corrections.eq(pa::corrections + excluded(pa::corrections)),
                        pa::delay_seconds_sum.eq(pa::delay_seconds_sum + excluded(pa::delay_seconds_sum)),
                        pa::delay_seconds_max.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                            "CASE WHEN excluded.delay_seconds_max > party_activity.delay_seconds_max \
                             THEN excluded.delay_seconds_max ELSE party_activity.delay_seconds_max END",
                        )),
                    ))
                    .execute($c)
            };
        }
        match conn {
            // One prepared single-row statement per row: SQLite's fastest way.
            DbConnection::Sqlite(c) => {
                for row in &rows {
                    merge!(c, row)?;
                }
            }
            DbConnection::Postgres(c) => {
                for part in rows.chunks(1_000) {
                    merge!(c, part)?;
                }
            }
        }
        Ok(())
    }
}

/// A trace record as a recount reads it: sequence, tenant, direction, seller, buyer, stage,
/// act time, record id.
type Recounted = (i64, String, String, String, String, String, NaiveDateTime, String);

/// The stored records of the acts between `from` and `to` (UTC, `to` excluded), recounted
/// from the trace records per tenant, day, acting party and stage — what `records` and
/// `corrections` of `party_activity` must hold for those days. Read 10,000 records at a time,
/// so memory holds one page, one count per key and the window's corrections (rare).
pub fn recount(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> AppResult<HashMap<(String, String, String, String), Counts>> {
    use crate::db::schema::trace_corrections::dsl as c;
    use crate::db::schema::trace_records::dsl as r;
    let corrections: std::collections::HashSet<(String, String)> = c::trace_corrections
        .inner_join(r::trace_records.on(r::tenant_id.eq(c::tenant_id).and(r::record_id.eq(c::record_id))))
        .filter(r::act_time.ge(from))
        .filter(r::act_time.lt(to))
        .select((c::tenant_id, c::record_id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut out: HashMap<(String, String, String, String), Counts> = HashMap::new();
    let mut after = 0i64;
    loop {
        let rows: Vec<Recounted> = crate::db::schema::trace_records::table
            .filter(r::seq.gt(after))
            .filter(r::act_time.ge(from))
            .filter(r::act_time.lt(to))
            .order(r::seq)
            .limit(10_000)
            .select((r::seq, r::tenant_id, r::direction, r::from_code, r::to_code, r::stage, r::act_time, r::record_id))
            .load(conn)?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (_, tenant, direction, from_code, to_code, stage, at, record) in rows {
            let code = if direction == "out" { from_code } else { to_code };
            let corrects = i64::from(corrections.contains(&(tenant.clone(), record)));
            let n = out.entry((tenant, day_text(day_of(at)), code, stage)).or_default();
            n.records += 1;
            n.corrections += corrects;
        }
    }
    Ok(out)
}
