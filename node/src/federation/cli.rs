//! `tracenode rollup run KIND` and `tracenode federation export | import | status`: the
//! federation from the command line, for operators and for networks without a live link.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;

use super::kinds::{self, Kind};
use super::{offline, uplink, Federation};
use crate::audit::{self, AuditContext, Outcome};
use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::pki::NodePki;

/// `rollup` subcommands.
#[derive(Debug, Subcommand)]
pub enum RollupCommand {
    /// Collect and send one kind now: registrations, statistics, audit-checkpoints, or all
    /// (立即上报).
    Run {
        /// The kind, or `all`.
        kind: String,
    },
}

/// `federation` subcommands.
#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Write every batch the parent has not confirmed to a signed file (导出离线数据包).
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// Every batch ever made, not only those the parent has not confirmed (for a parent
        /// restored from a backup).
        #[arg(long)]
        all: bool,
    },
    /// Receive a child's signed file of batches (导入下级数据包).
    Import {
        /// The file.
        file: PathBuf,
    },
    /// This node's place, uplink and children (联邦状态).
    Status,
}

fn federation(config: &Config, db: &Db) -> AppResult<Arc<Federation>> {
    Federation::load(config, db)?.ok_or_else(|| {
        AppError::invalid(
            "federation",
            "本节点未加入联邦：请先配置 [federation]（listen 或 parent_url）并安装证书（tracenode pki …）",
            "this node is not federated: configure [federation] (listen or parent_url) and install its certificates (`tracenode pki …`)",
        )
    })
}

fn audited(db: &Db, action: &str, object: &str, outcome: Outcome, detail: serde_json::Value) -> AppResult<()> {
    let ctx = AuditContext::cli();
    db.transaction_sync(|conn| audit::record(conn, &ctx, action, object, outcome, detail).map(|_| ()))
}

/// How long `rollup run` waits while another process (the running node) holds a kind's lease.
const LEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs kind `k` once its lease is free, waiting up to [`LEASE_WAIT`]; a report still `busy`
/// means it never was.
async fn run_when_free(
    db: &Db,
    fed: &std::sync::Arc<crate::federation::Federation>,
    k: Kind,
) -> AppResult<(uplink::RunReport, Option<AppError>)> {
    let started = std::time::Instant::now();
    loop {
        let (report, failure) = uplink::run_detailed(db, fed, k).await?;
        if !report.busy || started.elapsed() >= LEASE_WAIT {
            return Ok((report, failure));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Runs a `rollup` subcommand: each kind once its lease is free; an error of the parent, or
/// a lease never freed, makes the command fail.
pub fn rollup(config: &Config, db: &Db, cmd: RollupCommand) -> AppResult<()> {
    let RollupCommand::Run { kind } = cmd;
    let fed = federation(config, db)?;
    let chosen: Vec<Kind> = if kind == "all" { Kind::ALL.to_vec() } else { vec![kinds::require(&kind)?] };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(AppError::internal)?;
    let mut failed = None;
    for k in chosen {
        let (report, failure) = runtime.block_on(run_when_free(db, &fed, k))?;
        if report.busy {
            return Err(AppError::with_detail(
                crate::error::ErrorKind::Conflict,
                format!("{}：另一进程正在上报，{}秒内未等到，本次未运行", k.as_str(), LEASE_WAIT.as_secs()),
                format!(
                    "{}: another process is running this roll-up and did not finish within {} s; nothing was done",
                    k.as_str(),
                    LEASE_WAIT.as_secs()
                ),
            ));
        }
        let outcome = if report.error.is_some() { Outcome::Failure } else { Outcome::Success };
        audited(
            db,
            "federation.rollup",
            k.as_str(),
            outcome,
            serde_json::to_value(&report).map_err(AppError::internal)?,
        )?;
        println!(
            "{}（{}）：新批次 made {}，已被上级应用 applied {}，待发送 pending {}",
            k.as_str(),
            k.label_zh(),
            report.made,
            report.sent,
            report.pending,
        );
        // The error itself is printed once, as the command's error.
        if failure.is_some() {
            failed = failure;
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs a `federation` subcommand.
pub fn run(config: &Config, db: &Db, cmd: FederationCommand) -> AppResult<()> {
    match cmd {
        FederationCommand::Export { out, all } => {
            let fed = federation(config, db)?;
            let done = offline::export(db, &fed, &out, all)?;
            audited(
                db,
                "federation.export",
                &out.display().to_string(),
                Outcome::Success,
                serde_json::to_value(&done).map_err(AppError::internal)?,
            )?;
            println!(
                "已导出 {} 个批次（新生成 {}）/ {} batches written ({} new): {}",
                done.batches,
                done.made,
                done.batches,
                done.made,
                out.display()
            );
        }
        FederationCommand::Import { file } => {
            let root = NodePki::of(config).root()?;
            let lines = offline::import(
                db,
                &root,
                &file,
                config.security.require_batch_signature,
                config.node.region.as_str(),
            )?;
            let refused = lines.iter().filter(|l| l.outcome == "refused").count();
            audited(
                db,
                "federation.import",
                &file.display().to_string(),
                if refused > 0 { Outcome::Failure } else { Outcome::Success },
                serde_json::to_value(&lines).map_err(AppError::internal)?,
            )?;
            for l in &lines {
                println!(
                    "{} #{} {}: {}{}",
                    l.kind,
                    l.batch_no,
                    l.batch_id,
                    l.outcome,
                    l.error.as_ref().map(|e| format!(" — {e}")).unwrap_or_default()
                );
            }
            if refused > 0 {
                return Err(AppError::batch_refused(
                    "import_refused",
                    format!("{refused} 个批次被拒收"),
                    format!("{refused} batches refused"),
                ));
            }
        }
        FederationCommand::Status => {
            let fed = federation(config, db)?;
            println!("本节点 / this node: {}", fed.identity.uri());
            println!("上级 / parent: {}", fed.parent_url.as_deref().unwrap_or("—"));
            let states = db.transaction_sync(super::api::uplink_states)?;
            for s in states {
                println!(
                    "  {}（{}）：批次 {}，待发送 {}，最近错误 {}",
                    s.kind,
                    s.label_zh,
                    s.batches,
                    s.pending,
                    s.last_error.unwrap_or_else(|| "—".into())
                );
            }
            for c in db.transaction_sync(super::children::traffic)? {
                println!(
                    "  下级 child {} {}：应用 applied {}，拒收 refused {}，最近联系 last contact {}",
                    c.child.region,
                    c.child.name,
                    c.applied,
                    c.refused,
                    c.child.last_contact_at.map(|t| t.to_string()).unwrap_or_else(|| "—".into())
                );
            }
        }
    }
    Ok(())
}
