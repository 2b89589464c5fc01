//! How the indicators are computed over a window: the watched entities are read once, the
//! window's activity is read (on SQLite one day at a time by the table's key, so memory holds
//! one day's rows; on PostgreSQL summed per party and stage by the server, the days as bit
//! masks), each entity's stages get their expected and reported intervals, and entities are
//! summed into their sites, tenants and regions — a group's rates always from its sums.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, TimeDelta};
use diesel::prelude::*;
use tracenode_adapters::codes::Stage;

use super::indicators::{
    Computed, Figures, Filter, Interval, Intervals, Subject, SubjectIndicators, SubjectKind, Window,
};
use crate::db::schema::{entities, party_activity as pa, sites, tenants};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::region::RegionCode;
use crate::trace::row::{day_of, day_text};

/// What one entity stored in one stage over the window.
struct Seen {
    stage: String,
    /// A bit per day of the window with a stored record.
    days: [u64; 6],
    figures: Figures,
}

/// An entity under watch.
struct Watched {
    subject: Subject,
    site: Option<String>,
    /// The stages it is registered for.
    stages: Vec<String>,
    /// The first day of the window it is expected to report on (the day it was filed).
    start: usize,
    seen: Vec<Seen>,
}

impl Watched {
    fn stage(&mut self, stage: &str) -> &mut Seen {
        let at = match self.seen.iter().position(|s| s.stage == stage) {
            Some(at) => at,
            None => {
                self.seen.push(Seen { stage: stage.to_owned(), days: [0; 6], figures: Figures::default() });
                self.seen.len() - 1
            }
        };
        &mut self.seen[at]
    }
}

/// Per interval kind, the interval key of each day of the window.
struct Calendar {
    keys: HashMap<Interval, Vec<i32>>,
}

impl Calendar {
    fn new(w: &Window) -> Calendar {
        let days: Vec<NaiveDate> = (0..w.days()).map(|i| w.from + TimeDelta::days(i)).collect();
        let keys = Interval::ALL.iter().map(|&i| (i, days.iter().map(|&d| i.key(d)).collect())).collect();
        Calendar { keys }
    }

    /// Distinct intervals from day `start` on, and those among them with a set bit in `seen`.
    fn count(&self, interval: Interval, start: usize, seen: &[u64; 6]) -> (i64, i64) {
        let keys = &self.keys[&interval];
        let (mut expected, mut reported) = (0, 0);
        let (mut last, mut last_reported) = (None, None);
        for (i, &k) in keys.iter().enumerate().skip(start) {
            if last != Some(k) {
                expected += 1;
                last = Some(k);
            }
            if seen[i / 64] >> (i % 64) & 1 == 1 && last_reported != Some(k) {
                reported += 1;
                last_reported = Some(k);
            }
        }
        (expected, reported)
    }
}

type EntityRow = (String, String, String, String, String, i32, Option<String>, chrono::NaiveDateTime);
type ActivityRow = (String, String, String, i64, i64, i64, i64, i64, i64);

/// The approved entities the filter covers.
fn watched(conn: &mut DbConnection, f: &Filter, w: &Window) -> AppResult<Vec<Watched>> {
    use entities::dsl as e;
    let mut q =
        entities::table.filter(e::status.eq(crate::registry::review::ReviewStatus::Approved.as_str())).into_boxed();
    if let Some(t) = &f.tenant {
        q = q.filter(e::tenant_id.eq(t.clone()));
    }
    if !f.tenants.is_empty() {
        q = q.filter(e::tenant_id.eq_any(f.tenants.clone()));
    }
    if let Some(r) = &f.region {
        q = q.filter(e::region.like(format!("{}%", r.subtree_prefix())));
    }
    if let Some(s) = &f.site {
        q = q.filter(e::site_id.eq(s.clone()));
    }
    if let Some(id) = &f.entity {
        q = q.filter(e::id.eq(id.clone()));
    }
    let rows: Vec<EntityRow> = q
        .order((e::tenant_id, e::code))
        .select((e::id, e::tenant_id, e::code, e::name, e::region, e::stages, e::site_id, e::filed_at))
        .load(conn)?;
    // An entity filed after the window is not watched in it.
    Ok(rows
        .into_iter()
        .filter(|r| day_of(r.7) <= w.to)
        .map(|(id, tenant_id, code, name, region, stages, site, filed)| {
            let filed = day_of(filed);
            Watched {
                subject: Subject { kind: SubjectKind::Entity, id, code, name, tenant_id, region },
                site,
                stages: Stage::from_bits(stages).into_iter().map(|s| s.code().to_owned()).collect(),
                start: if filed <= w.from { 0 } else { (filed - w.from).num_days() as usize },
                seen: Vec::new(),
            }
        })
        .collect())
}

/// What one party did in one stage over (part of) the window.
struct Activity {
    tenant: String,
    code: String,
    stage: String,
    /// A bit per day of the window with a stored record.
    days: [u64; 6],
    figures: Figures,
}

/// Reads the window's activity the filter may use (of `one` entity alone when given) into
/// `sink`. On SQLite one day at a time, by the table's key, so memory holds one day's rows; on
/// PostgreSQL summed per party and stage by the server, the days a party stored records on
/// carried as bit masks.
fn read_activity(
    conn: &mut DbConnection,
    f: &Filter,
    w: &Window,
    one: Option<&Subject>,
    mut sink: impl FnMut(Activity),
) -> AppResult<()> {
    if let Some(pg) = crate::db::postgres(conn) {
        for a in grouped_on_postgres(pg, f, w, one)? {
            sink(a);
        }
        return Ok(());
    }
    for offset in 0..w.days() as usize {
        let day = w.from + TimeDelta::days(offset as i64);
        let mut q = pa::table.filter(pa::day.eq(day_text(day))).into_boxed();
        if let Some(t) = &f.tenant {
            q = q.filter(pa::tenant_id.eq(t.clone()));
        }
        if let Some(e) = one {
            q = q.filter(pa::tenant_id.eq(e.tenant_id.clone())).filter(pa::party_code.eq(e.code.clone()));
        }
        if let Some(s) = &f.stage {
            q = q.filter(pa::stage.eq(s.clone()));
        }
        let rows: Vec<ActivityRow> = q
            .select((
                pa::tenant_id,
                pa::party_code,
                pa::stage,
                pa::records,
                pa::rejected,
                pa::flagged,
                pa::corrections,
                pa::delay_seconds_sum,
                pa::delay_seconds_max,
            ))
            .load(conn)?;
        for (tenant, code, stage, records, rejected, flagged, corrections, delay_seconds_sum, delay_seconds_max) in rows
        {
            let mut days = [0u64; 6];
            if records > 0 {
                days[offset / 64] |= 1 << (offset % 64);
            }
            let figures = Figures {
                records,
                rejected,
                flagged,
                corrections,
                delay_seconds_sum,
                delay_seconds_max,
                ..Figures::default()
            };
            sink(Activity { tenant, code, stage, days, figures });
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Grouped {
    #[diesel(sql_type = diesel::sql_types::Text)]
    tenant_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    party_code: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    stage: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    records: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rejected: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    flagged: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    corrections: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    delay_sum: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    delay_max: i64,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::BigInt>)]
    days: Vec<i64>,
}

/// PostgreSQL: the window summed per tenant, party and stage in one statement; `days` holds
/// six 64-bit masks of the days (from the window's first) with a stored record.
const GROUPED: &str = "SELECT tenant_id, party_code, stage,
        CAST(SUM(records) AS BIGINT) AS records, CAST(SUM(rejected) AS BIGINT) AS rejected,
        CAST(SUM(flagged) AS BIGINT) AS flagged, CAST(SUM(corrections) AS BIGINT) AS corrections,
        CAST(SUM(delay_seconds_sum) AS BIGINT) AS delay_sum,
        MAX(delay_seconds_max) AS delay_max,
        ARRAY[
            COALESCE(bit_or(CASE WHEN records > 0 AND o / 64 = 0 THEN CAST(1 AS BIGINT) << (o % 64) END), 0),
            COALESCE(bit_or(CASE WHEN records > 0 AND o / 64 = 1 THEN CAST(1 AS BIGINT) << (o % 64) END), 0),
            COALESCE(bit_or(CASE WHEN records > 0 AND o / 64 = 2 THEN CAST(1 AS BIGINT) << (o % 64) END), 0),
            COALESCE(bit_or(CASE WHEN records > 0 AND o / 64 = 3 THEN CAST(1 AS BIGINT) << (o % 64) END), 0),
            COALESCE(bit_or(CASE WHEN records > 0 AND o / 64 = 4 THEN CAST(1 AS BIGINT) << (o % 64) END), 0),
            COALESCE(bit_or(CASE WHEN records > 0 AND o / 64 = 5 THEN CAST(1 AS BIGINT) << (o % 64) END), 0)
        ] AS days
    FROM (SELECT *, CAST(day AS DATE) - CAST($1 AS DATE) AS o FROM party_activity
          WHERE day >= $1 AND day <= $2
            AND ($3 = '' OR tenant_id = $3) AND ($4 = '' OR stage = $4) AND ($5 = '' OR party_code = $5)) a
    GROUP BY tenant_id, party_code, stage";

fn grouped_on_postgres(
    pg: &mut diesel::pg::PgConnection,
    f: &Filter,
    w: &Window,
    one: Option<&Subject>,
) -> AppResult<Vec<Activity>> {
    use diesel::sql_types::Text;
    let tenant = one.map(|e| e.tenant_id.clone()).or_else(|| f.tenant.clone()).unwrap_or_default();
    let rows: Vec<Grouped> = diesel::sql_query(GROUPED)
        .bind::<Text, _>(day_text(w.from))
        .bind::<Text, _>(day_text(w.to))
        .bind::<Text, _>(tenant)
        .bind::<Text, _>(f.stage.clone().unwrap_or_default())
        .bind::<Text, _>(one.map(|e| e.code.clone()).unwrap_or_default())
        .load(pg)?;
    Ok(rows
        .into_iter()
        .map(|g| {
            let mut days = [0u64; 6];
            for (d, m) in days.iter_mut().zip(&g.days) {
                *d = *m as u64;
            }
            let figures = Figures {
                records: g.records,
                rejected: g.rejected,
                flagged: g.flagged,
                corrections: g.corrections,
                delay_seconds_sum: g.delay_sum,
                delay_seconds_max: g.delay_max,
                ..Figures::default()
            };
            Activity { tenant: g.tenant_id, code: g.party_code, stage: g.stage, days, figures }
        })
        .collect())
}

/// Computes the indicators of every entity, site and tenant the filter covers over `w`.
pub fn compute(conn: &mut DbConnection, f: &Filter, w: Window, intervals: &Intervals) -> AppResult<Computed> {
    let mut watched = watched(conn, f, &w)?;
    let mut index: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for (k, e) in watched.iter().enumerate() {
        index.entry(e.subject.tenant_id.clone()).or_default().insert(e.subject.code.clone(), k);
    }
    // Activity of a tenant that no watched entity owns (unregistered or unreadable parties).
    let mut unowned: HashMap<String, BTreeMap<String, Figures>> = HashMap::new();
    // One entity asked for: only its rows are read (and none when it is not watched).
    let one = f.entity.as_ref().map(|_| watched.first().map(|e| e.subject.clone()));
    if !matches!(one, Some(None)) {
        read_activity(conn, f, &w, one.as_ref().and_then(Option::as_ref), |a| {
            match index.get(&a.tenant).and_then(|codes| codes.get(&a.code)) {
                Some(&k) => {
                    let seen = watched[k].stage(&a.stage);
                    for (have, more) in seen.days.iter_mut().zip(a.days) {
                        *have |= more;
                    }
                    seen.figures.add(&a.figures);
                }
                None if !f.narrows_entities() && f.tenant_allowed(&a.tenant) => {
                    unowned.entry(a.tenant).or_default().entry(a.stage).or_default().add(&a.figures);
                }
                None => {}
            }
        })?;
    }
    let calendar = Calendar::new(&w);
    let entities: Vec<(Option<String>, SubjectIndicators)> =
        watched.into_iter().map(|e| (e.site.clone(), entity_indicators(e, f, &calendar, intervals))).collect();
    gather(conn, w, entities, unowned)
}

/// An entity's indicators by stage: the stages it is registered for (each with its expected
/// intervals) and any other stage it stored records in.
fn entity_indicators(mut e: Watched, f: &Filter, calendar: &Calendar, intervals: &Intervals) -> SubjectIndicators {
    for stage in e.stages.clone() {
        if f.stage.as_deref().is_none_or(|s| s == stage) {
            e.stage(&stage);
        }
    }
    let mut out = SubjectIndicators::new(e.subject);
    for seen in e.seen {
        let mut figures = seen.figures;
        if e.stages.contains(&seen.stage) {
            let interval = intervals.get(&seen.stage).copied().unwrap_or(Interval::Day);
            (figures.expected, figures.reported) = calendar.count(interval, e.start, &seen.days);
        }
        out.total.add(&figures);
        out.by_stage.insert(seen.stage, figures);
    }
    out.finish();
    out
}

/// Adds an entity's indicators to a group's, counting it as a registered entity (active when
/// it stored a record) in all and in each stage it is registered for.
fn count_in(group: &mut SubjectIndicators, e: &SubjectIndicators) {
    group.absorb(e);
    group.total.entities += 1;
    group.total.active += i64::from(e.total.records > 0);
    for (stage, f) in &e.by_stage {
        let g = group.by_stage.entry(stage.clone()).or_default();
        if f.expected > 0 {
            g.entities += 1;
            g.active += i64::from(f.records > 0);
        }
    }
}

/// Sums entities into their sites and tenants, adds the tenants' unowned activity, and names
/// each site and tenant.
fn gather(
    conn: &mut DbConnection,
    window: Window,
    entities: Vec<(Option<String>, SubjectIndicators)>,
    unowned: HashMap<String, BTreeMap<String, Figures>>,
) -> AppResult<Computed> {
    let blank = |kind, id: &str| Subject {
        kind,
        id: id.to_owned(),
        code: String::new(),
        name: String::new(),
        tenant_id: String::new(),
        region: String::new(),
    };
    let mut by_site: BTreeMap<String, SubjectIndicators> = BTreeMap::new();
    let mut by_tenant: BTreeMap<String, SubjectIndicators> = BTreeMap::new();
    let mut total = SubjectIndicators::new(blank(SubjectKind::Region, ""));
    for (site, e) in &entities {
        if let Some(s) = site {
            count_in(
                by_site.entry(s.clone()).or_insert_with(|| SubjectIndicators::new(blank(SubjectKind::Site, s))),
                e,
            );
        }
        let t = &e.subject.tenant_id;
        count_in(
            by_tenant.entry(t.clone()).or_insert_with(|| SubjectIndicators::new(blank(SubjectKind::Tenant, t))),
            e,
        );
        count_in(&mut total, e);
    }
    for (t, stages) in unowned {
        let row = by_tenant.entry(t.clone()).or_insert_with(|| SubjectIndicators::new(blank(SubjectKind::Tenant, &t)));
        for (stage, f) in stages {
            row.total.add(&f);
            row.by_stage.entry(stage.clone()).or_default().add(&f);
            total.total.add(&f);
            total.by_stage.entry(stage).or_default().add(&f);
        }
    }
    name_sites(conn, &mut by_site)?;
    name_tenants(conn, &mut by_tenant)?;
    let finish = |m: BTreeMap<String, SubjectIndicators>| {
        m.into_values()
            .map(|mut s| {
                s.finish();
                s
            })
            .collect()
    };
    total.finish();
    Ok(Computed {
        window,
        entities: entities.into_iter().map(|(_, e)| e).collect(),
        sites: finish(by_site),
        tenants: finish(by_tenant),
        total,
    })
}

fn name_sites(conn: &mut DbConnection, rows: &mut BTreeMap<String, SubjectIndicators>) -> AppResult<()> {
    let ids: Vec<String> = rows.keys().cloned().collect();
    for chunk in ids.chunks(1_000) {
        let named: Vec<(String, String, String, String, String)> = sites::table
            .filter(sites::id.eq_any(chunk))
            .select((sites::id, sites::code, sites::name, sites::tenant_id, sites::region))
            .load(conn)?;
        for (id, code, name, tenant, region) in named {
            if let Some(r) = rows.get_mut(&id) {
                (r.subject.code, r.subject.name, r.subject.tenant_id, r.subject.region) = (code, name, tenant, region);
            }
        }
    }
    Ok(())
}

fn name_tenants(conn: &mut DbConnection, rows: &mut BTreeMap<String, SubjectIndicators>) -> AppResult<()> {
    let ids: Vec<String> = rows.keys().cloned().collect();
    for chunk in ids.chunks(1_000) {
        let named: Vec<(String, String, String, String)> = tenants::table
            .filter(tenants::id.eq_any(chunk))
            .select((tenants::id, tenants::code, tenants::name, tenants::region))
            .load(conn)?;
        for (id, code, name, region) in named {
            if let Some(r) = rows.get_mut(&id) {
                r.subject.tenant_id = id.clone();
                (r.subject.code, r.subject.name, r.subject.region) = (code, name, region);
            }
        }
    }
    Ok(())
}

/// The entities' indicators summed by the division one level below `region` that holds
/// them (for the map), in code order; divisions without entities are shown empty.
pub fn by_region(entities: &[SubjectIndicators], region: &RegionCode) -> Vec<SubjectIndicators> {
    let children = region.children();
    let mut rows: BTreeMap<String, SubjectIndicators> = children
        .iter()
        .map(|c| {
            let subject = Subject {
                kind: SubjectKind::Region,
                id: c.as_str().to_owned(),
                code: c.as_str().to_owned(),
                name: c.name().to_owned(),
                tenant_id: String::new(),
                region: c.as_str().to_owned(),
            };
            (c.as_str().to_owned(), SubjectIndicators::new(subject))
        })
        .collect();
    let prefixes: Vec<(String, String)> =
        children.iter().map(|c| (c.subtree_prefix().to_owned(), c.as_str().to_owned())).collect();
    for e in entities {
        let home = prefixes.iter().find(|(p, _)| e.subject.region.starts_with(p.as_str()));
        if let Some(row) = home.and_then(|(_, code)| rows.get_mut(code)) {
            count_in(row, e);
        }
    }
    rows.into_values()
        .map(|mut r| {
            r.finish();
            r
        })
        .collect()
}
