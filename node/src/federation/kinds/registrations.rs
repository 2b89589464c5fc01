//! `registrations`: entity, product and device changes from the registry outbox, in order.
//! The parent keeps the newest version of every object with the region it was registered
//! in, and puts what changed into its own outbox, so it goes on up to the national node.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use tracenode_federation::wire::payload::{ObjectKind, RegistrationItem};
use tracenode_federation::wire::{Payload, Refusal};

use super::{Child, Collected, Collector, Settle};
use crate::db::schema::federated_registrations as fr;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};
use crate::federation::mailbox::{DuplicateHolder, DuplicateNotice, NoticePayload};
use crate::region::RegionCode;
use crate::registry::analysis::{bucket, Bucket};
use crate::registry::outbox;

/// The next registrations after outbox number `from`, at most a batch.
pub fn collect(conn: &mut DbConnection, from: i64, by: &Collector<'_>) -> AppResult<Option<Collected>> {
    let mut entries = outbox::since(conn, from, by.batch_items)?;
    let full = entries.len() as i64 >= by.batch_items;
    // Under the byte budget: an item's envelope (ids, numbers, region) takes about 200 bytes.
    let fits = super::fitting(entries.iter().map(|e| super::sent_size(&e.payload) + 200), by.max_body_bytes);
    let cut = fits < entries.len();
    entries.truncate(fits);
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return Ok(None) };
    let seqs = (first.seq, last.seq);
    let mut items = Vec::with_capacity(entries.len());
    for e in entries {
        let object_kind = ObjectKind::parse(&e.object_kind)
            .ok_or_else(|| AppError::internal(format!("outbox object kind {}", e.object_kind)))?;
        items.push(RegistrationItem {
            seq: e.seq,
            source_region: e.source_region.unwrap_or_else(|| by.region.to_owned()),
            object_kind,
            object_id: e.object_id,
            version: e.version,
            payload: serde_json::value::RawValue::from_string(e.payload).map_err(AppError::internal)?,
        });
    }
    let more = full || cut;
    Ok(Some(Collected {
        payload: Payload::Registrations(items),
        seqs: Some(seqs),
        collected_through: seqs.1,
        more,
        settle: Settle::Nothing,
    }))
}

/// Keeps the newest version of every object and forwards what changed.
pub fn apply(conn: &mut DbConnection, child: &Child<'_>, items: Vec<RegistrationItem>) -> AppResult<i64> {
    for item in &items {
        check(child, item)?;
    }
    // The versions held now, looked up by object id a chunk at a time (its own index).
    let mut held: HashMap<(String, String, String), i32> = HashMap::new();
    let ids: Vec<&str> = items.iter().map(|i| i.object_id.as_str()).collect();
    for chunk in ids.chunks(5_000) {
        let rows: Vec<(String, String, String, i32)> = fr::table
            .filter(fr::object_id.eq_any(chunk))
            .select((fr::source_region, fr::object_kind, fr::object_id, fr::version))
            .load(conn)?;
        held.extend(rows.into_iter().map(|(s, k, i, v)| ((s, k, i), v)));
    }
    let now = db::now();
    // Rows new to this node, by key, so a later version in the same batch replaces them.
    let mut inserts: Vec<HeldRow> = Vec::new();
    let mut new_at: HashMap<(String, String, String), usize> = HashMap::new();
    let mut forwarded = Vec::new();
    let mut gone = Vec::new();
    for item in items {
        let object_kind = item.object_kind.as_str().to_owned();
        let key = (item.source_region.clone(), object_kind.clone(), item.object_id.clone());
        let latest = new_at.get(&key).map(|&i| inserts[i].version).or_else(|| held.get(&key).copied());
        if latest.is_some_and(|v| v >= item.version) {
            continue;
        }
        let payload = item.payload.get().to_owned();
        let keys = Keys::of(item.object_kind, &payload);
        if keys.withdrawn {
            // Out of force at its source: no longer held here, and passed on up.
            gone.extend(new_at.remove(&key));
            if held.remove(&key).is_some() {
                diesel::delete(fr::table.find(key.clone())).execute(conn)?;
            }
        } else if let Some(&i) = new_at.get(&key) {
            inserts[i].version = item.version;
            inserts[i].payload = payload.clone();
            (inserts[i].code, inserts[i].name, inserts[i].region) = (keys.code, keys.name, keys.region);
        } else if let Some(stored) = held.get_mut(&key) {
            diesel::update(fr::table.find(key.clone()))
                .set((
                    fr::version.eq(item.version),
                    fr::payload.eq(&payload),
                    fr::via_child.eq(child.region),
                    fr::received_at.eq(now),
                    fr::code.eq(&keys.code),
                    fr::name.eq(&keys.name),
                    fr::region.eq(&keys.region),
                ))
                .execute(conn)?;
            *stored = item.version;
        } else {
            new_at.insert(key.clone(), inserts.len());
            inserts.push(HeldRow {
                source_region: key.0,
                object_kind: key.1,
                object_id: key.2,
                version: item.version,
                payload: payload.clone(),
                via_child: child.region.to_owned(),
                received_at: now,
                code: keys.code,
                name: keys.name,
                region: keys.region,
            });
        }
        forwarded.push(outbox::Forwarded {
            seq: 0,
            object_kind,
            object_id: item.object_id,
            version: item.version,
            payload,
            created_at: now,
            source_region: Some(item.source_region),
        });
    }
    let inserts: Vec<HeldRow> =
        inserts.into_iter().enumerate().filter(|(i, _)| !gone.contains(i)).map(|(_, row)| row).collect();
    for chunk in inserts.chunks(5_000) {
        crate::insert_rows!(&mut *conn, fr::table, chunk)?;
    }
    announce_duplicates(conn, child.receiver, &inserts)?;
    let changed = forwarded.len() as i64;
    // The national node has no parent to pass them on to: it holds them once, above.
    if child.receiver != RegionCode::national().as_str() {
        outbox::append_forwarded(conn, forwarded)?;
    }
    Ok(changed)
}

/// Tells the nodes concerned, down the tree, of each entity code that arrived new here and is
/// held from another source that came through another child (or registered at this node
/// itself): this node is where the two meet, their lowest common ancestor. Nodes above it see
/// both arrive through one child and stay silent, so each duplicate is announced once. One
/// notice to each source region holding the code.
fn announce_duplicates(conn: &mut DbConnection, receiver: &str, arrived: &[HeldRow]) -> AppResult<()> {
    use crate::db::schema::entities;
    for row in arrived.iter().filter(|r| r.object_kind == ObjectKind::Entity.as_str() && !r.code.is_empty()) {
        let others: Vec<(String, String, String)> = fr::table
            .filter(fr::object_kind.eq(ObjectKind::Entity.as_str()))
            .filter(fr::code.eq(&row.code))
            .filter(fr::source_region.ne(&row.source_region))
            .select((fr::source_region, fr::name, fr::via_child))
            .limit(16)
            .load(conn)?;
        let local: Option<String> =
            entities::table.filter(entities::code.eq(&row.code)).select(entities::name).first(conn).optional()?;
        let meets_here = local.is_some() || others.iter().any(|(_, _, via)| *via != row.via_child);
        if !meets_here {
            continue;
        }
        let others = others.into_iter().map(|(region, name, _)| (region, name));
        let mut holders: Vec<(String, String)> = vec![(row.source_region.clone(), row.name.clone())];
        holders.extend(others);
        holders.extend(local.map(|name| (receiver.to_owned(), name)));
        let listed = holders.iter().map(|(r, n)| format!("{r}（{n}）")).collect::<Vec<_>>().join("、");
        let duplicate = DuplicateNotice {
            code: row.code.clone(),
            found_at: receiver.to_owned(),
            holders: holders
                .iter()
                .map(|(region, name)| DuplicateHolder { region: region.clone(), name: name.clone() })
                .collect(),
        };
        let notice = NoticePayload {
            title: format!("跨辖区重复登记：{}", row.code),
            body: format!(
                "统一社会信用代码 {} 同时登记于 {listed}，由 {receiver} 节点发现，请核实后撤销错误的登记。 / The unified social credit code {} is registered at {listed}; found at node {receiver}: check and withdraw the wrong registration.",
                row.code, row.code
            ),
            duplicate: Some(duplicate),
        };
        let payload = serde_json::to_string(&notice).map_err(AppError::internal)?;
        let mut targets: Vec<&str> = holders.iter().map(|(r, _)| r.as_str()).filter(|r| *r != receiver).collect();
        targets.sort_unstable();
        targets.dedup();
        for target in targets {
            super::super::mailbox::publish(
                conn,
                super::super::mailbox::MessageKind::Notice,
                target,
                receiver,
                &payload,
            )?;
        }
    }
    Ok(())
}

/// A code held from more than one place, with each holder.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicateCode {
    /// The unified social credit code.
    pub code: String,
    /// Where it is registered: each source region with the entity's name there (this node's
    /// own region for its own registry).
    pub holders: Vec<Holder>,
}

/// One registration of a duplicate code.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Holder {
    /// The region of the node it is registered at.
    pub source_region: String,
    /// The entity's name there.
    pub name: String,
    /// Its id at its source.
    pub object_id: String,
}

#[derive(Debug, QueryableByName)]
struct CodeRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    code: String,
}

#[derive(Debug, QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The entity codes registered in more than one place this node can see — at two sources
/// below it (within the region prefix `within`), or below it and in its own registry — a page
/// at a time in code order, with how many there are.
pub fn duplicates(
    conn: &mut DbConnection,
    own_region: &str,
    within: &str,
    page: i64,
    page_size: i64,
) -> AppResult<(i64, Vec<DuplicateCode>)> {
    use crate::db::schema::entities;
    use diesel::sql_types::Text;
    let (within, upper) = crate::stats::region_bounds(within);
    let (within, upper) = (within.as_str(), upper.as_str());
    let sources = "SELECT code, source_region FROM federated_registrations \
         WHERE object_kind = 'entity' AND code <> '' AND source_region >= ? AND source_region < ? \
         UNION ALL SELECT e.code, ? FROM entities e \
         WHERE e.code IN (SELECT code FROM federated_registrations WHERE object_kind = 'entity')";
    let grouped =
        format!("SELECT code FROM ({sources}) AS held GROUP BY code HAVING COUNT(DISTINCT source_region) > 1");
    let backend = db::backend_of(conn);
    let number = |sql: String| db::placeholders_for(backend, sql);
    let count_sql = number(format!("SELECT COUNT(*) AS n FROM ({grouped}) AS d"));
    let page_sql =
        number(format!("{grouped} ORDER BY code LIMIT {page_size} OFFSET {}", (page - 1).saturating_mul(page_size)));
    let total = diesel::sql_query(count_sql)
        .bind::<Text, _>(within)
        .bind::<Text, _>(upper)
        .bind::<Text, _>(own_region)
        .load::<CountRow>(conn)?
        .first()
        .map_or(0, |c| c.n);
    let codes: Vec<String> = diesel::sql_query(page_sql)
        .bind::<Text, _>(within)
        .bind::<Text, _>(upper)
        .bind::<Text, _>(own_region)
        .load::<CodeRow>(conn)?
        .into_iter()
        .map(|c| c.code)
        .collect();
    let below: Vec<(String, String, String, String)> = fr::table
        .filter(fr::object_kind.eq(ObjectKind::Entity.as_str()))
        .filter(fr::code.eq_any(&codes))
        .order((fr::code, fr::source_region))
        .select((fr::code, fr::source_region, fr::name, fr::object_id))
        .load(conn)?;
    let here: Vec<(String, String, String)> = entities::table
        .filter(entities::code.eq_any(&codes))
        .select((entities::code, entities::name, entities::id))
        .load(conn)?;
    let out = codes
        .into_iter()
        .map(|code| {
            let mut holders: Vec<Holder> = below
                .iter()
                .filter(|b| b.0 == code)
                .map(|b| Holder { source_region: b.1.clone(), name: b.2.clone(), object_id: b.3.clone() })
                .collect();
            holders.extend(here.iter().filter(|h| h.0 == code).map(|h| Holder {
                source_region: own_region.to_owned(),
                name: h.1.clone(),
                object_id: h.2.clone(),
            }));
            DuplicateCode { code, holders }
        })
        .collect();
    Ok((total, out))
}

/// A registration as stored at the parent.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = fr)]
struct HeldRow {
    source_region: String,
    object_kind: String,
    object_id: String,
    version: i32,
    payload: String,
    via_child: String,
    received_at: chrono::NaiveDateTime,
    code: String,
    name: String,
    region: String,
}

/// What a held registration is searched by, read out of its payload (`{"id", "version",
/// "tenant_id", "data": {…}}`, the approved content under `data`): the code and name of any
/// object, and an entity's own region. A payload of another shape gives empty keys (it is
/// still held and passed on unchanged).
#[derive(Debug, Default)]
struct Keys {
    code: String,
    name: String,
    region: String,
    /// The object left force at its source (a registration withdrawn as a duplicate).
    withdrawn: bool,
}

impl Keys {
    fn of(kind: ObjectKind, payload: &str) -> Keys {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Named {
            code: String,
            name: String,
            region: String,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Approved {
            data: Named,
            withdrawn: bool,
        }
        let approved = serde_json::from_str::<Approved>(payload).unwrap_or_default();
        let (named, withdrawn) = (approved.data, approved.withdrawn);
        let region = if kind == ObjectKind::Entity { named.region } else { String::new() };
        Keys { code: named.code, name: named.name, region, withdrawn }
    }
}

/// A child speaks only for registrations made inside its own region.
fn check(child: &Child<'_>, item: &RegistrationItem) -> AppResult<()> {
    if !tracenode_federation::tiers::lies_inside(child.region, &item.source_region)
        && item.source_region != child.region
    {
        let refusal =
            Refusal::SourceOutsideChild { child: child.region.to_owned(), region: item.source_region.clone() };
        return Err(refusal.into());
    }
    Ok(())
}

/// Which held registrations.
#[derive(Debug, Clone, Default)]
pub struct HeldQuery {
    /// One kind, or all.
    pub kind: Option<ObjectKind>,
    /// A code (exact) or part of a name.
    pub q: Option<String>,
    /// Registered at nodes whose region starts with these digits (the caller's bound).
    pub source_within: String,
    /// Entities whose own region starts with these digits.
    pub region: Option<String>,
    /// Page, from 1.
    pub page: i64,
    /// Rows per page (at most [`MAX_HELD_PAGE`]).
    pub page_size: i64,
}

/// The most rows of one page (and of one export: [`MAX_HELD_EXPORT`]).
pub const MAX_HELD_PAGE: i64 = 1000;
/// The most rows one export writes.
pub const MAX_HELD_EXPORT: i64 = 100_000;

/// The held registrations `q` asks for, in source region, kind and code order, a page at a
/// time, with how many match in all.
pub fn search(conn: &mut DbConnection, q: &HeldQuery) -> AppResult<(i64, Vec<HeldRegistration>)> {
    let backend = db::backend_of(conn);
    let total: i64 = filtered(q, backend).count().get_result(conn)?;
    let rows = filtered(q, backend)
        .order((fr::source_region, fr::object_kind, fr::code, fr::object_id))
        .limit(q.page_size)
        .offset((q.page - 1).saturating_mul(q.page_size))
        .select(HeldRegistration::as_select())
        .load(conn)?;
    Ok((total, rows))
}

/// The held registrations `q` matches (its paging aside).
fn filtered(q: &HeldQuery, backend: crate::config::Backend) -> fr::BoxedQuery<'static, db::MultiBackend> {
    let mut f = fr::table.into_boxed::<db::MultiBackend>();
    if !q.source_within.is_empty() {
        let upper = crate::registry::search::prefix_upper(&q.source_within);
        f = f.filter(fr::source_region.ge(q.source_within.clone())).filter(fr::source_region.lt(upper));
    }
    if let Some(kind) = q.kind {
        f = f.filter(fr::object_kind.eq(kind.as_str()));
    }
    if let Some(region) = q.region.as_deref().filter(|r| !r.is_empty()) {
        let upper = crate::registry::search::prefix_upper(region);
        f = f.filter(fr::region.ge(region.to_owned())).filter(fr::region.lt(upper));
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        f = f.filter(fr::code.eq(text.to_owned()).or(crate::text_contains!(backend, fr::table, fr::name, text)));
    }
    f
}

/// What the held registrations a query matches add up to. Every figure is the total of the
/// same search narrowed further, so it equals the rows that search returns.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HeldAnalysis {
    /// Registrations that match.
    pub total: i64,
    /// By kind (`entity`, `product`, `device`).
    pub by_kind: Vec<Bucket>,
    /// The division the region breakdown is one level below (the entities' own region asked
    /// for, else the sources' bound).
    pub region: String,
    /// Its name.
    pub region_name: String,
    /// Entities by their own region, one level below [`HeldAnalysis::region`], zeros included.
    pub by_region: Vec<Bucket>,
    /// By the node they were registered at, one level below the sources' bound, zeros
    /// included.
    pub by_source: Vec<Bucket>,
}

/// Analyses the held registrations `q` matches: at most one indexed count per kind and per
/// division one level down (a division has at most a few dozen), whatever the rows held.
pub fn analyse(conn: &mut DbConnection, q: &HeldQuery) -> AppResult<HeldAnalysis> {
    let backend = db::backend_of(conn);
    let count = |conn: &mut DbConnection, q: &HeldQuery| -> AppResult<i64> {
        Ok(filtered(q, backend).count().get_result(conn)?)
    };
    let total = count(conn, q)?;
    let mut by_kind = Vec::new();
    for kind in [ObjectKind::Entity, ObjectKind::Product, ObjectKind::Device] {
        let n = match q.kind {
            Some(k) if k != kind => 0,
            _ => count(conn, &HeldQuery { kind: Some(kind), ..q.clone() })?,
        };
        by_kind.push(bucket(kind.as_str().into(), kind_zh(kind).into(), n, total));
    }
    let sources = division(&q.source_within).unwrap_or_else(RegionCode::national);
    let base = q.region.as_deref().and_then(division).unwrap_or_else(|| sources.clone());
    let entities = HeldQuery { kind: Some(ObjectKind::Entity), ..q.clone() };
    let entity_total = if q.kind.is_none_or(|k| k == ObjectKind::Entity) { by_kind[0].count } else { 0 };
    let mut by_region = Vec::new();
    for child in base.children() {
        let n = match entity_total {
            0 => 0,
            _ => count(conn, &HeldQuery { region: Some(child.subtree_prefix().to_owned()), ..entities.clone() })?,
        };
        by_region.push(bucket(child.as_str().into(), child.name().into(), n, entity_total));
    }
    let mut by_source = Vec::new();
    for child in sources.children() {
        let n = match total {
            0 => 0,
            _ => count(conn, &HeldQuery { source_within: child.subtree_prefix().to_owned(), ..q.clone() })?,
        };
        by_source.push(bucket(child.as_str().into(), child.name().into(), n, total));
    }
    let (region, region_name) = (base.as_str().to_owned(), base.name().to_owned());
    Ok(HeldAnalysis { total, by_kind, region, region_name, by_region, by_source })
}

/// The division a region prefix names (`""` the nation, `33` Zhejiang, `3301` Hangzhou), if
/// it names one.
fn division(prefix: &str) -> Option<RegionCode> {
    if prefix.is_empty() {
        return Some(RegionCode::national());
    }
    RegionCode::parse(&format!("{prefix:0<6}")).ok().filter(|r| r.subtree_prefix() == prefix)
}

/// The Chinese name of a kind of registration.
pub fn kind_zh(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Entity => "主体",
        ObjectKind::Product => "产品",
        ObjectKind::Device => "设备",
    }
}

/// A registration held from below.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = fr)]
pub struct HeldRegistration {
    /// The region of the node it was registered at.
    pub source_region: String,
    /// `entity`, `product` or `device`.
    pub object_kind: String,
    /// The object's id at its source.
    pub object_id: String,
    /// Its version.
    pub version: i32,
    /// The approved content (JSON text).
    pub payload: String,
    /// The child it came through.
    pub via_child: String,
    /// When it arrived (UTC).
    pub received_at: chrono::NaiveDateTime,
    /// Its code (an entity's unified social credit code, a product's code).
    pub code: String,
    /// Its name.
    pub name: String,
    /// An entity's own region (empty for products and devices).
    pub region: String,
}

/// Held registrations as an Excel workbook: one row each, with the region and name of the
/// node it was registered at.
pub fn xlsx(rows: &[HeldRegistration]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    const HEADERS: [&str; 9] =
        ["来源节点", "来源节点名称", "类型", "代码", "名称", "所在地区", "版本", "经由下级", "接收时间(UTC)"];
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("汇总登记").map_err(AppError::internal)?;
    let bold = Format::new().set_bold();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold).map_err(AppError::internal)?;
    }
    let region_name = |r: &str| crate::region::RegionCode::parse(r).map(|c| c.name().to_owned()).unwrap_or_default();
    for (i, h) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        let kind = match h.object_kind.as_str() {
            "entity" => "主体",
            "product" => "产品",
            "device" => "设备",
            other => other,
        };
        let own = if h.region.is_empty() { String::new() } else { format!("{} {}", h.region, region_name(&h.region)) };
        let cells = [
            h.source_region.clone(),
            region_name(&h.source_region),
            kind.to_owned(),
            h.code.clone(),
            h.name.clone(),
            own,
        ];
        for (c, v) in cells.iter().enumerate() {
            sheet.write_string(row, c as u16, v).map_err(AppError::internal)?;
        }
        sheet.write_number(row, 6, f64::from(h.version)).map_err(AppError::internal)?;
        sheet.write_string(row, 7, &h.via_child).map_err(AppError::internal)?;
        sheet.write_string(row, 8, h.received_at.to_string()).map_err(AppError::internal)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(AppError::internal)?;
    book.save_to_buffer().map_err(AppError::internal)
}
