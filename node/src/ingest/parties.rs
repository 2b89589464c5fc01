//! The parties a submission names, each looked up once: a code's normal form, the entity
//! registered with it (by credit code or GLN), the site a GS1 location names, and what the
//! rest of the federation knows of a counterpart this node has not registered. Submissions
//! name the same few parties again and again, so every answer is cached for the submission
//! (up to [`CACHE_LIMIT`] codes, then the cache starts over).

use std::collections::HashMap;

use diesel::prelude::*;
use tracenode_adapters::identifiers::{Gln, IdentifierError, Uscc};
use tracenode_adapters::records::TraceRecord;

use crate::db::schema::{entities, sites};
use crate::error::AppResult;
use crate::registry::references::{self, Upward};

/// Codes (and sites) remembered per submission before the cache starts over.
const CACHE_LIMIT: usize = 200_000;

/// What is known of a party code: its normal form (or why it is invalid) and, once asked,
/// the entity registered with it. Submissions name the same few parties again and again, so
/// each code is checked and looked up once. A code is a unified social credit code or a GS1
/// GLN (what EPCIS documents name parties and locations by), which the registry resolves
/// to the entity's credit code.
struct KnownCode {
    normal: Result<String, IdentifierError>,
    /// Once looked up: the entity registered with the code, if any.
    registered: Option<Option<Registered>>,
    /// Once looked up beyond this node's registry: what the subtree and the ancestors know.
    elsewhere: Option<Elsewhere>,
}

/// What the rest of the federation knows of a code not registered here.
#[derive(Debug, Clone)]
pub(super) enum Elsewhere {
    /// Registered below this node or elsewhere above it.
    Known,
    /// Registered nowhere this node can see.
    Unknown,
    /// The parent could not be asked.
    Unreached,
}

/// A registered entity a party code names.
#[derive(Debug, Clone)]
pub(super) struct Registered {
    /// Its unified social credit code.
    pub(super) code: String,
    /// Its name and region as registered.
    pub(super) name: String,
    pub(super) region: String,
    /// The tenants that registered it.
    pub(super) owners: Vec<String>,
}

/// The party codes of one submission.
pub(super) struct PartyCodes {
    conn: crate::db::PooledDb,
    known: HashMap<String, KnownCode>,
    /// Sites by GLN, once looked up.
    sites: HashMap<String, Option<RegisteredSite>>,
}

/// A registered site a GS1 location names (an SGLN at an EPCIS event's `bizLocation` or
/// `readPoint`, or a GLN as a record's place or party).
#[derive(Debug, Clone)]
pub(super) struct RegisteredSite {
    /// Its region: the acting party's region when nothing better is known.
    pub(super) region: String,
    /// The one entity that names the site as its own, when exactly one does (the operator of
    /// a slaughterhouse or a supermarket); a market with many merchants has none.
    pub(super) operator: Option<Registered>,
}

impl PartyCodes {
    /// Codes looked up over `conn` (a connection of the submission's own, apart from the
    /// one its writing transaction holds).
    pub(super) fn new(conn: crate::db::PooledDb) -> PartyCodes {
        PartyCodes { conn, known: HashMap::new(), sites: HashMap::new() }
    }

    /// The registered site that the GS1 location identifier `id` names, if any; looked up
    /// once per GLN.
    pub(super) fn site(&mut self, id: &str) -> AppResult<Option<RegisteredSite>> {
        let Some(gln) = Gln::of_identifier(id) else { return Ok(None) };
        let gln = gln.as_str().to_owned();
        if let Some(found) = self.sites.get(&gln) {
            return Ok(found.clone());
        }
        if self.sites.len() >= CACHE_LIMIT {
            self.sites.clear();
        }
        let conn = &mut self.conn;
        let site: Option<(String, String)> = sites::table
            .filter(sites::gln.eq(&gln))
            .select((sites::id, sites::region))
            .first(&mut **conn)
            .optional()?;
        let found = match site {
            None => None,
            Some((id, region)) => {
                let mut merchants: Vec<(String, String, String, String)> = entities::table
                    .filter(entities::site_id.eq(&id))
                    .order(entities::tenant_id)
                    .select((entities::code, entities::tenant_id, entities::name, entities::region))
                    .limit(16)
                    .load(&mut **conn)?;
                let owners = merchants.iter().map(|m| m.1.clone()).collect();
                merchants.dedup_by(|a, b| a.0 == b.0);
                let operator = match merchants.as_slice() {
                    [(code, _, name, region)] => {
                        Some(Registered { code: code.clone(), name: name.clone(), region: region.clone(), owners })
                    }
                    _ => None,
                };
                Some(RegisteredSite { region, operator })
            }
        };
        self.sites.insert(gln, found.clone());
        Ok(found)
    }

    fn entry(&mut self, raw: &str) -> &mut KnownCode {
        if !self.known.contains_key(raw) {
            if self.known.len() >= CACHE_LIMIT {
                self.known.clear();
            }
            let normal = Uscc::parse(raw)
                .map(|u| u.as_str().to_owned())
                .or_else(|e| Gln::parse(raw).map(|g| g.as_str().to_owned()).map_err(|_| e));
            self.known.insert(raw.to_owned(), KnownCode { normal, registered: None, elsewhere: None });
        }
        self.known.get_mut(raw).expect("just inserted")
    }

    /// The normal form of a code, or why it is invalid.
    pub(super) fn normal(&mut self, raw: &str) -> Result<String, IdentifierError> {
        self.entry(raw).normal.clone()
    }

    /// The entity registered with this code (a credit code, or a GLN), if any; looked up
    /// once. Of several tenants' registrations of one entity the first (by tenant) speaks for
    /// its name and region.
    pub(super) fn registered(&mut self, raw: &str) -> AppResult<Option<Registered>> {
        self.entry(raw);
        let conn = &mut self.conn;
        let Some(k) = self.known.get_mut(raw) else { return Ok(None) };
        if let Some(found) = &k.registered {
            return Ok(found.clone());
        }
        let Ok(code) = &k.normal else { return Ok(None) };
        let by = entities::table.order(entities::tenant_id).select((
            entities::code,
            entities::tenant_id,
            entities::name,
            entities::region,
        ));
        let rows: Vec<(String, String, String, String)> = if code.len() == 13 {
            by.filter(entities::gln.eq(code)).limit(16).load(&mut **conn)?
        } else {
            by.filter(entities::code.eq(code)).limit(16).load(&mut **conn)?
        };
        let found = rows.first().map(|(code, _, name, region)| Registered {
            code: code.clone(),
            name: name.clone(),
            region: region.clone(),
            owners: rows.iter().map(|r| r.1.clone()).collect(),
        });
        k.registered = Some(found.clone());
        Ok(found)
    }

    /// The code a row keeps for a party: the registered entity's credit code when the record
    /// named it by its GLN, else the normal form, else the code as sent.
    pub(super) fn stored(&mut self, raw: &str) -> AppResult<String> {
        if let Some(r) = self.registered(raw)? {
            return Ok(r.code);
        }
        Ok(self.normal(raw).unwrap_or_else(|_| raw.to_owned()))
    }

    /// Looks up, in one go, the credit codes of `records` that this node's registry does not
    /// hold and that were not looked up before: in the registrations rolled up from its
    /// children, then (through `upward`) up the tree.
    pub(super) fn look_beyond<'r>(
        &mut self,
        records: impl Iterator<Item = &'r TraceRecord>,
        here: &str,
        upward: Option<&Upward>,
    ) -> AppResult<()> {
        let mut wanted = Vec::new();
        for party in records.flat_map(|r| [&r.from, &r.to]) {
            let raw = party.code.trim();
            if raw.is_empty() || self.entry(raw).elsewhere.is_some() {
                continue;
            }
            let is_credit_code = matches!(&self.entry(raw).normal, Ok(c) if c.len() == 18);
            if !is_credit_code || self.registered(raw)?.is_some() {
                self.entry(raw).elsewhere = Some(Elsewhere::Unknown);
                continue;
            }
            wanted.push(raw.to_owned());
        }
        if wanted.is_empty() {
            return Ok(());
        }
        wanted.sort_unstable();
        wanted.dedup();
        let normal: Vec<String> = wanted.iter().filter_map(|raw| self.normal(raw).ok()).collect();
        let below = references::in_subtree(&mut self.conn, here, &normal)?;
        let rest: Vec<String> = normal.iter().filter(|c| !below.contains_key(*c)).cloned().collect();
        let heard = match (upward, rest.is_empty()) {
            (Some(up), false) => Some(up.resolve(&rest)),
            _ => None,
        };
        for raw in wanted {
            let code = self.normal(&raw).unwrap_or_default();
            let found = below.contains_key(&code) || heard.as_ref().is_some_and(|h| h.known.contains_key(&code));
            self.entry(&raw).elsewhere = Some(match &heard {
                _ if found => Elsewhere::Known,
                Some(h) if !h.reached => Elsewhere::Unreached,
                _ => Elsewhere::Unknown,
            });
        }
        Ok(())
    }

    /// What the rest of the federation knows of `raw` (after [`PartyCodes::look_beyond`]).
    pub(super) fn elsewhere(&mut self, raw: &str) -> Elsewhere {
        self.entry(raw).elsewhere.clone().unwrap_or(Elsewhere::Unknown)
    }
}
