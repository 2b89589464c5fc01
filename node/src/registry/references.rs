//! References across nodes (跨节点引用核验). A trade names its counterpart by credit code, and
//! the counterpart is often registered at another county. A node therefore looks a code up
//! in this order: its own registry, the registrations rolled up from its children (its whole
//! subtree), the answers its ancestors gave lately, and last its parent, which answers the
//! same way for its own subtree and asks its own parent in turn. So only a code unknown at
//! the top is unknown.
//!
//! Answers from above are cached in the process: a known code for a day, an unknown one for
//! ten minutes (its registration may still be on its way up). A parent that cannot be asked
//! leaves the codes unanswered, never cached, and the submission's policy applies to them
//! with a reason that says so. Look-ups go in lists of at most [`MAX_CODES`]; the cache holds
//! at most [`CACHE_ENTRIES`] codes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{entities, federated_registrations as fr};
use crate::db::DbConnection;
use crate::error::AppResult;

/// Codes in one look-up (a request to the parent, a query of the subtree).
pub const MAX_CODES: usize = 1000;
/// Codes the cache of answers from above holds before it starts over.
pub const CACHE_ENTRIES: usize = 200_000;
/// How long a code the ancestors know is taken as known.
pub const KNOWN_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long a code the ancestors do not know is taken as unknown.
pub const UNKNOWN_FOR: Duration = Duration::from_secs(600);

/// A registered entity somewhere in the federation, as a look-up answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KnownParty {
    /// Its unified social credit code.
    pub code: String,
    /// Its name as registered.
    pub name: String,
    /// Its region as registered.
    pub region: String,
    /// The node that holds the registration (its region code).
    pub held_at: String,
}

/// A look-up: the codes asked about (at most [`MAX_CODES`]).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartyQuestion {
    /// Unified social credit codes.
    pub codes: Vec<String>,
}

/// The answer: the codes known in the answering node's subtree or above it; a code asked
/// about and not listed is unknown.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartyAnswer {
    /// The known codes with their registrations.
    pub known: Vec<KnownParty>,
}

/// Someone to ask about codes not known in this node's subtree: the parent.
pub trait Ancestors: Send + Sync {
    /// Asks about `codes` (at most [`MAX_CODES`]) and waits for the answer (blocking).
    fn ask(&self, codes: &[String]) -> AppResult<PartyAnswer>;
}

/// This node's way up, with the cache of what came down: a service of nodes that have a
/// parent.
pub struct Upward {
    ancestors: Arc<dyn Ancestors>,
    cache: Mutex<HashMap<String, (Option<KnownParty>, Instant)>>,
}

impl std::fmt::Debug for Upward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upward").finish_non_exhaustive()
    }
}

/// What the ancestors said of some codes; `reached` is false when they could not be asked
/// (the codes left out are then unanswered, not unknown).
#[derive(Debug, Default)]
pub struct Heard {
    /// The known codes with their registrations.
    pub known: HashMap<String, KnownParty>,
    /// Whether every question reached the parent.
    pub reached: bool,
}

impl Upward {
    /// A way up through `ancestors`.
    pub fn new(ancestors: Arc<dyn Ancestors>) -> Upward {
        Upward { ancestors, cache: Mutex::new(HashMap::new()) }
    }

    /// What the ancestors know of `codes`: fresh cached answers first, the rest asked in
    /// lists of [`MAX_CODES`] and cached. Blocking.
    pub fn resolve(&self, codes: &[String]) -> Heard {
        let now = Instant::now();
        let mut heard = Heard { reached: true, ..Heard::default() };
        let mut ask = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for code in codes {
                match cache.get(code) {
                    Some((found, at))
                        if now.duration_since(*at) < if found.is_some() { KNOWN_FOR } else { UNKNOWN_FOR } =>
                    {
                        if let Some(k) = found {
                            heard.known.insert(code.clone(), k.clone());
                        }
                    }
                    _ => ask.push(code.clone()),
                }
            }
        }
        for list in ask.chunks(MAX_CODES) {
            match self.ancestors.ask(list) {
                Ok(answer) => self.remember(list, answer, &mut heard),
                Err(e) => {
                    tracing::warn!(error = %e.message(), codes = list.len(), "the parent could not be asked about references");
                    heard.reached = false;
                }
            }
        }
        heard
    }

    fn remember(&self, asked: &[String], answer: PartyAnswer, heard: &mut Heard) {
        let now = Instant::now();
        let asked_set: HashSet<&String> = asked.iter().collect();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() + asked.len() > CACHE_ENTRIES {
            cache.clear();
        }
        for code in asked {
            cache.insert(code.clone(), (None, now));
        }
        for k in answer.known.into_iter().filter(|k| asked_set.contains(&k.code)) {
            cache.insert(k.code.clone(), (Some(k.clone()), now));
            heard.known.insert(k.code.clone(), k);
        }
    }
}

/// The codes of `codes` registered in this node's subtree: its own registry (answered as
/// held at `here`) and the registrations rolled up from its children.
pub fn in_subtree(conn: &mut DbConnection, here: &str, codes: &[String]) -> AppResult<HashMap<String, KnownParty>> {
    let mut found = HashMap::new();
    for list in codes.chunks(MAX_CODES) {
        let own: Vec<(String, String, String)> = entities::table
            .filter(entities::code.eq_any(list))
            .select((entities::code, entities::name, entities::region))
            .load(conn)?;
        for (code, name, region) in own {
            found.entry(code.clone()).or_insert(KnownParty { code, name, region, held_at: here.to_owned() });
        }
        let below: Vec<(String, String, String, String)> = fr::table
            .filter(fr::object_kind.eq("entity"))
            .filter(fr::code.eq_any(list))
            .select((fr::code, fr::name, fr::region, fr::source_region))
            .load(conn)?;
        for (code, name, region, held_at) in below {
            found.entry(code.clone()).or_insert(KnownParty { code, name, region, held_at });
        }
    }
    Ok(found)
}

/// The credit codes of a question, normal and without repeats; other codes are left out
/// (unknown). More than [`MAX_CODES`] is refused.
pub fn normal_codes(question: &PartyQuestion) -> AppResult<Vec<String>> {
    if question.codes.len() > MAX_CODES {
        return Err(crate::error::AppError::invalid(
            "codes",
            format!("一次最多查询 {MAX_CODES} 个代码，实际 {} 个", question.codes.len()),
            format!("at most {MAX_CODES} codes per look-up, got {}", question.codes.len()),
        ));
    }
    let mut seen = HashSet::new();
    Ok(question
        .codes
        .iter()
        .filter_map(|c| tracenode_adapters::identifiers::Uscc::parse(c.trim()).ok())
        .map(|u| u.as_str().to_owned())
        .filter(|c| seen.insert(c.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A look-up keeps credit codes once each in their normal form, drops what is not one,
    /// and refuses more than [`MAX_CODES`].
    #[test]
    fn a_question_is_bounded_and_keeps_credit_codes_once() {
        let good = tracenode_adapters::identifiers::Uscc::generate("91", "330106", 7).expect("code");
        let code = good.as_str().to_owned();
        let q =
            PartyQuestion { codes: vec![code.clone(), format!(" {code} "), "not-a-code".into(), code.to_lowercase()] };
        assert_eq!(normal_codes(&q).expect("fine"), std::slice::from_ref(&code));
        let too_many = PartyQuestion { codes: vec![code; MAX_CODES + 1] };
        let e = normal_codes(&too_many).expect_err("refused");
        assert_eq!(e.code(), "validation_failed");
    }
}
