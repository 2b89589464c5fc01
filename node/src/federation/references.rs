//! The way up for reference look-ups ([`crate::registry::references`]): the parent's
//! `/federation/v1/references`, asked over the node's mutual-TLS client. Validation runs on
//! blocking threads, so a look-up waits for its answer on the node's runtime.

use std::sync::Arc;

use crate::error::{AppError, AppResult};
use crate::registry::references::{Ancestors, PartyAnswer, PartyQuestion};

use super::{uplink, Federation};

/// Asks this node's parent.
pub struct AskParent {
    fed: Arc<Federation>,
    runtime: tokio::runtime::Handle,
}

impl AskParent {
    /// Asks through `fed`'s parent client, waiting on `runtime` (never from one of its
    /// worker threads).
    pub fn new(fed: Arc<Federation>, runtime: tokio::runtime::Handle) -> AskParent {
        AskParent { fed, runtime }
    }
}

impl Ancestors for AskParent {
    fn ask(&self, codes: &[String]) -> AppResult<PartyAnswer> {
        let (Some(client), Some(parent)) = (self.fed.parent_client(), self.fed.parent_url.clone()) else {
            return Err(AppError::internal("no parent to ask"));
        };
        let question = PartyQuestion { codes: codes.to_vec() };
        self.runtime.block_on(async move {
            let res = client
                .post(format!("{parent}/federation/v1/references"))
                .json(&question)
                .send()
                .await
                .map_err(uplink::unreachable)?;
            if !res.status().is_success() {
                let status = res.status();
                let text = res.text().await.unwrap_or_default();
                return Err(uplink::upstream(format!("{status}: {}", text.chars().take(300).collect::<String>())));
            }
            res.json::<PartyAnswer>().await.map_err(|e| uplink::upstream(e.to_string()))
        })
    }
}
