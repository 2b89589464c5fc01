//! Offline transfer (离线传输): the batches waiting for the parent, written to a signed file
//! for networks without a live link, and read back at the parent through the same checks
//! as the listener. A file carries every batch the parent has not confirmed, so files may
//! be lost or carried twice: the parent applies each batch once and ignores the rest.

use std::path::Path;

use openssl::x509::X509;
use serde::Serialize;
use tracenode_federation::wire::batch::{Batch, Bundle, Opened};
use tracenode_federation::wire::Refusal;

use super::inbox::{self, Via};
use super::kinds::Kind;
use super::{uplink, Federation};
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    /// Batches newly made.
    pub made: i64,
    /// Batches in the file.
    pub batches: usize,
}

/// Collects what is new and writes every unconfirmed batch to `out` — or, with `all`, every
/// batch ever made (to bring a parent restored from a backup up to date).
pub fn export(db: &Db, fed: &Federation, out: &Path, all: bool) -> AppResult<Exported> {
    let mut made = 0;
    let mut batches = Vec::new();
    for kind in Kind::ALL {
        made += uplink::collect(db, fed, kind)?;
        let waiting = db.transaction_sync(|conn| uplink::batches(conn, kind.as_str(), !all))?;
        for (_, json) in waiting {
            batches.push(serde_json::from_str::<Batch>(&json).map_err(AppError::internal)?);
        }
    }
    let signer = fed.signer();
    let bundle = Bundle::seal(&signer.chain, &signer.key, batches).map_err(Refusal::from)?;
    let text = serde_json::to_vec_pretty(&bundle).map_err(AppError::internal)?;
    std::fs::write(out, text).map_err(|e| {
        AppError::invalid(
            "out",
            format!("无法写入 {}：{e}", out.display()),
            format!("cannot write {}: {e}", out.display()),
        )
    })?;
    Ok(Exported { made, batches: bundle.batches.len() })
}

/// One batch's fate at import.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    /// The batch.
    pub batch_id: String,
    /// Its kind.
    pub kind: String,
    /// Its number.
    pub batch_no: i64,
    /// `applied`, `duplicate` or `refused`.
    pub outcome: String,
    /// Why it was refused.
    pub error: Option<String>,
}

/// Reads a bundle file and receives its batches in order; a kind whose batch is refused
/// takes no later batch of that kind from the file. With `require_seal`, a batch without an
/// SM2 seal is refused as over the link.
pub fn import(db: &Db, root: &X509, file: &Path, require_seal: bool, receiver: &str) -> AppResult<Vec<Imported>> {
    let text = std::fs::read(file).map_err(|e| {
        AppError::invalid(
            "file",
            format!("无法读取 {}：{e}", file.display()),
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    let bundle = Bundle::parse(&text).map_err(Refusal::from)?;
    let Opened { sender, certificate, authority, batches } = bundle.open_signed(root).map_err(Refusal::from)?;
    let presented =
        inbox::Presented { certificate: Some(&certificate), authority: Some(&authority), require_seal, receiver };
    let mut stopped: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        let h = batch.header.clone();
        let mut line = Imported {
            batch_id: h.batch_id,
            kind: h.kind.clone(),
            batch_no: h.batch_no,
            outcome: String::new(),
            error: None,
        };
        if stopped.contains(&h.kind) {
            line.outcome = "skipped".into();
        } else {
            match inbox::receive(db, &sender, presented, &batch, Via::File) {
                Ok(receipt) => line.outcome = receipt.outcome.as_str().to_owned(),
                Err(e) => {
                    line.outcome = "refused".into();
                    line.error = Some(e.message());
                    stopped.push(h.kind);
                }
            }
        }
        out.push(line);
    }
    Ok(out)
}
