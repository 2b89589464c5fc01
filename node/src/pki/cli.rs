//! `tracenode pki …`: the node's certificates from the command line, including enrolment by
//! file for networks without a live link. Signing a child and installing a bundle write
//! audit rows.

use std::path::PathBuf;

use clap::Subcommand;

use super::{NodePki, Status};
use crate::audit::{self, AuditContext, Outcome};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppResult;

/// `pki` subcommands.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make the national root CA (the national node only) (生成根证书).
    InitRoot,
    /// Make this node's key and its request to the parent, written to FILE (生成证书申请).
    Request {
        /// Where to write the request (PEM).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a child's request into a bundle in DIR, after checking its region lies inside
    /// this node's (签发下级证书).
    Sign {
        /// The child's request (PEM).
        #[arg(long)]
        request: PathBuf,
        /// The folder to write the child's bundle into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Install the bundle the parent signed (安装上级签发的证书).
    Install {
        /// The bundle's folder.
        #[arg(long)]
        from: PathBuf,
    },
    /// Show what this node holds (查看证书).
    Show,
}

fn audited(db: &Db, action: &str, object: &str, detail: serde_json::Value) -> AppResult<()> {
    let ctx = AuditContext::cli();
    db.transaction_sync(|conn| audit::record(conn, &ctx, action, object, Outcome::Success, detail).map(|_| ()))
}

/// Runs a `pki` subcommand for the node of `config`.
pub fn run(config: &Config, db: &Db, cmd: PkiCommand) -> AppResult<()> {
    let pki = NodePki::of(config);
    match cmd {
        PkiCommand::InitRoot => {
            let id = pki.init_root()?;
            audited(db, "pki.init_root", &id.uri(), serde_json::json!({}))?;
            println!("已生成根证书 / root CA made: {}", id.uri());
        }
        PkiCommand::Request { out } => {
            let (pem, fingerprint) = pki.request()?;
            std::fs::write(&out, pem).map_err(|e| super::io(&out, e))?;
            println!("证书申请已写入 / request written: {}", out.display());
            println!("请将指纹告知上级核对 / give your parent this fingerprint: {fingerprint}");
        }
        PkiCommand::Sign { request, out } => {
            let pem = super::read(&request)?;
            let (id, fingerprint) = pki.sign(&pem, &out)?;
            let region = crate::region::RegionCode::parse(id.region())?;
            db.transaction_sync(|conn| crate::federation::children::enrol(conn, &region, &fingerprint, "file", None))?;
            audited(db, "pki.sign_child", &id.uri(), serde_json::json!({ "fingerprint": fingerprint }))?;
            println!("已签发 / signed: {} (fingerprint {fingerprint})", id.uri());
            println!("证书包 / bundle: {}", out.display());
        }
        PkiCommand::Install { from } => {
            let id = pki.install(&from)?;
            audited(db, "pki.install", &id.uri(), serde_json::json!({ "from": from.display().to_string() }))?;
            println!("已安装本节点证书机构 / certificate authority installed: {}", id.uri());
        }
        PkiCommand::Show => match pki.status()? {
            Status::Empty => println!("尚无证书机构 / no certificate authority yet"),
            Status::Requested { fingerprint } => {
                println!("证书申请待上级签发 / request waiting for the parent: fingerprint {fingerprint}")
            }
            Status::Installed { identity, chain, not_after } => {
                println!("证书机构 / certificate authority: {}", identity.uri());
                println!("有效期至 / valid until: {not_after}");
                for (i, s) in chain.iter().enumerate() {
                    println!("  上级 {} / above {}: {s}", i + 1, i + 1);
                }
            }
        },
    }
    Ok(())
}
