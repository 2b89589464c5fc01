//! `tracenode pki …`: the node's certificates from the command line — enrolment by file for
//! networks without a live link, the certificate register, tenants' certificates, rotation,
//! revocation and revocation lists. Every change writes an audit row.

use std::path::PathBuf;

use clap::Subcommand;

use crate::audit::{self, AuditContext, Outcome};
use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::pki::own::Own;
use crate::pki::{registry, NodePki, Status};

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
    /// The certificate register: what this node holds and issued, with expiry (证书台账).
    List {
        /// Include revoked and expired certificates.
        #[arg(long)]
        all: bool,
    },
    /// Issue a tenant's client certificate and write its bundle (key included) to DIR
    /// (签发租户证书).
    Issue {
        /// The tenant's code.
        #[arg(long)]
        tenant: String,
        /// Days it is valid.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// The folder to write tenant.pem, tenant.key and root.pem into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue a new certificate in place of the current one: a tenant's (written to DIR), or
    /// this node's own listener and client certificates (轮换证书). The old one stays valid
    /// until it expires or is revoked, so nothing stops.
    Rotate {
        /// The tenant's code.
        #[arg(long, conflicts_with = "node")]
        tenant: Option<String>,
        /// This node's own certificates.
        #[arg(long)]
        node: bool,
        /// Days a tenant's certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Where a tenant's bundle goes.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Revoke a certificate this node issued and publish a new revocation list (吊销证书).
    Revoke {
        /// Its serial number (hex, from `pki list`).
        #[arg(long)]
        serial: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Write a certificate from the register, with the chain above it and the root, to DIR
    /// (导出证书).
    Export {
        /// Its serial number.
        #[arg(long)]
        serial: String,
        /// The folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Publish a new revocation list now (发布吊销列表).
    PublishCrl,
    /// Ask the parent over the network to sign this node's CA, then — once its operator
    /// approved — install it; run again (or with --wait) to collect (在线申请入网).
    Enrol {
        /// The parent's console/API address, https://host:port (first time only).
        #[arg(long)]
        parent: Option<String>,
        /// A CA certificate to trust for that address (PEM), besides the system's.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Wait, asking every 5 seconds, until the parent's operator decides.
        #[arg(long)]
        wait: bool,
    },
    /// Requests to enrol that would-be children sent over the network (入网申请列表): id,
    /// region, tier, name, key fingerprint, address, time.
    Requests {
        /// Decided ones too.
        #[arg(long)]
        all: bool,
    },
    /// Approve or reject a request to enrol, after reading its fingerprint with the child's
    /// operator by another channel (审批入网申请). Approving signs the child's CA.
    #[command(group(clap::ArgGroup::new("decision").required(true).args(["approve", "reject"])))]
    Decide {
        /// The request's id (from `pki requests`).
        #[arg(long)]
        id: String,
        /// Sign the child's CA and enrol it.
        #[arg(long)]
        approve: bool,
        /// Refuse it; the child is told the reason.
        #[arg(long, requires = "reason")]
        reject: bool,
        /// Why it is rejected.
        #[arg(long)]
        reason: Option<String>,
    },
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
            std::fs::write(&out, pem).map_err(|e| crate::pki::io(&out, e))?;
            println!("证书申请已写入 / request written: {}", out.display());
            println!("请将指纹告知上级核对 / give your parent this fingerprint: {fingerprint}");
        }
        PkiCommand::Sign { request, out } => {
            let pem = crate::pki::read(&request)?;
            let ctx = AuditContext::cli();
            let signed = db.transaction_sync(|conn| {
                crate::federation::children::sign_and_enrol(conn, &pki, &ctx, &pem, &out, "file")
            })?;
            println!("已签发 / signed: {} (fingerprint {})", signed.identity.uri(), signed.fingerprint);
            println!("证书包 / bundle: {}", out.display());
        }
        PkiCommand::Install { from } => {
            let id = pki.install(&from)?;
            audited(db, "pki.install", &id.uri(), serde_json::json!({ "from": from.display().to_string() }))?;
            println!("已安装本节点证书机构 / certificate authority installed: {}", id.uri());
        }
        PkiCommand::List { all } => {
            let now = crate::db::now();
            for c in db.transaction_sync(|conn| registry::list(conn, all))? {
                let days = (c.not_after - now).num_days();
                let warn =
                    if !c.is_revoked() && days < registry::WARN_DAYS { " ⚠ 即将到期 expires soon" } else { "" };
                println!(
                    "{}  {:<13} {:<9} {}  到期 until {} ({days} 天 days){warn}",
                    c.serial, c.kind, c.status, c.subject, c.not_after
                );
            }
        }
        PkiCommand::Issue { tenant, days, out } => {
            let ctx = AuditContext::cli();
            let bundle = db.transaction_sync(|conn| registry::issue_tenant(conn, &pki, &ctx, &tenant, days))?;
            bundle.write(&out)?;
            println!("已签发租户证书 / tenant certificate issued: {tenant} → {}", out.display());
            println!("私钥只此一份，请安全交付 / the key exists only in this bundle: hand it over safely");
        }
        PkiCommand::Rotate { tenant: Some(tenant), days, out, .. } => {
            let out = out.ok_or_else(|| {
                AppError::invalid("out", "请用 --out 指定证书包目录", "give the bundle's folder with --out")
            })?;
            let ctx = AuditContext::cli();
            let bundle = db.transaction_sync(|conn| registry::issue_tenant(conn, &pki, &ctx, &tenant, days))?;
            bundle.write(&out)?;
            println!("已轮换租户证书 / tenant certificate rotated: {tenant} → {}", out.display());
        }
        PkiCommand::Rotate { node: true, .. } => {
            let names = config.federation.names();
            pki.rotate(Own::Server, &names)?;
            pki.rotate(Own::Client, &names)?;
            audited(db, "pki.rotate_node", &pki.identity()?.uri(), serde_json::json!({}))?;
            println!("已轮换本节点证书；运行中的节点将在下次重载时启用 / rotated; a running node takes them up at its next reload");
        }
        PkiCommand::Rotate { .. } => {
            return Err(AppError::invalid("rotate", "请指定 --tenant 代码 或 --node", "give --tenant CODE or --node"));
        }
        PkiCommand::Revoke { serial, reason } => {
            if reason.trim().is_empty() {
                return Err(AppError::invalid("reason", "请说明吊销原因", "give the reason"));
            }
            let ctx = AuditContext::cli();
            let c = db.transaction_sync(|conn| {
                let (revoked, published) = registry::revoke(conn, &pki, &ctx, &serial, &reason)?;
                crate::federation::mailbox::send_crl_down(conn, &published)?;
                Ok(revoked)
            })?;
            println!(
                "已吊销 / revoked: {} ({})；新的吊销列表已发布 / a new revocation list is published",
                c.subject, c.serial
            );
        }
        PkiCommand::Export { serial, out } => {
            let c = db.transaction_sync(|conn| registry::get(conn, &serial))?;
            let pem = db.transaction_sync(|conn| registry::certificate_pem(conn, &c.serial))?;
            std::fs::create_dir_all(&out).map_err(|e| crate::pki::io(&out, e))?;
            let mut chain = pem.into_bytes();
            chain.extend(crate::pki::pem_of(&pki.leaf_chain_above()?)?);
            crate::pki::write(&out.join("certificate.pem"), &chain, false)?;
            crate::pki::write(
                &out.join("root.pem"),
                &pki.root()?
                    .to_pem()
                    .map_err(|e| crate::pki::refused(tracenode_federation::tiers::TierError::Openssl(e)))?,
                false,
            )?;
            println!("已导出 / exported: {} → {}", c.subject, out.display());
        }
        PkiCommand::PublishCrl => {
            let number = db.transaction_sync(|conn| {
                let published = registry::publish_crl(conn, &pki)?;
                crate::federation::mailbox::send_crl_down(conn, &published)?;
                Ok(published.number)
            })?;
            audited(db, "pki.publish_crl", &pki.identity()?.uri(), serde_json::json!({ "number": number }))?;
            println!("已发布吊销列表 / revocation list published: #{number}");
        }
        PkiCommand::Enrol { parent, ca_file, wait } => enrol(config, db, &pki, parent, ca_file, wait)?,
        PkiCommand::Requests { all } => {
            for r in db.transaction_sync(|conn| crate::federation::enrolment::list(conn, all))? {
                println!(
                    "{}  {}  {:<8} {:<9} {}  {}  {}  {}",
                    r.id, r.region, r.tier, r.status, r.fingerprint, r.source_ip, r.created_at, r.name
                );
            }
        }
        PkiCommand::Decide { id, approve, reason, .. } => {
            let ctx = AuditContext::cli();
            let reason = reason.unwrap_or_default();
            let r = db.transaction_sync(|conn| {
                crate::federation::enrolment::decide(conn, &pki, &ctx, &id, approve, &reason)
            })?;
            match approve {
                true => println!("已批准并签发 / approved and signed: urn:tracenode:node:{}", r.region),
                false => println!("已驳回 / rejected: {} ({})", r.region, reason.trim()),
            }
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

fn enrol(
    config: &Config,
    db: &Db,
    pki: &NodePki,
    parent: Option<String>,
    ca_file: Option<PathBuf>,
    wait: bool,
) -> AppResult<()> {
    use crate::federation::enrolment;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(AppError::internal)?;
    let waiting = match enrolment::waiting(pki) {
        Some(w) => w,
        None => {
            let parent = parent.ok_or_else(|| {
                AppError::invalid(
                    "parent",
                    "首次申请请用 --parent 指定上级地址",
                    "give the parent's address with --parent the first time",
                )
            })?;
            let ticket = runtime.block_on(enrolment::ask(pki, &parent, ca_file, &config.node.name))?;
            println!("已向上级提交入网申请 / request sent: {}", ticket.id);
            println!("请将指纹告知上级核对 / read this fingerprint to the parent's operator: {}", ticket.fingerprint);
            enrolment::waiting(pki).ok_or_else(|| AppError::internal("enrolment state not written"))?
        }
    };
    loop {
        let d = runtime.block_on(enrolment::collect(pki, &waiting))?;
        match d.status {
            enrolment::EnrolmentStatus::Approved => {
                audited(
                    db,
                    "pki.install",
                    &pki.identity()?.uri(),
                    serde_json::json!({ "via": "network", "request": waiting.id }),
                )?;
                println!("上级已批准，证书已安装 / approved and installed: {}", pki.identity()?.uri());
                println!("请重启节点以启用联邦端口 / restart the node to open the federation listener");
                return Ok(());
            }
            enrolment::EnrolmentStatus::Rejected => {
                let why = d.reason.unwrap_or_default();
                return Err(AppError::with_detail(
                    crate::error::ErrorKind::Conflict,
                    format!("上级驳回了入网申请：{why}"),
                    format!("the parent rejected the request: {why}"),
                ));
            }
            _ if wait => std::thread::sleep(std::time::Duration::from_secs(5)),
            _ => {
                println!(
                    "等待上级审批 / waiting for the parent's operator; run `tracenode pki enrol` again to collect"
                );
                return Ok(());
            }
        }
    }
}
