//! `tracenode apikey`: a tenant's API keys from the host, for the operator who connects a
//! platform without a console session (one key otherwise takes a system administrator's
//! sign-in). Each action is audited with the command line as its actor, exactly as the
//! console's.

use clap::Subcommand;

use crate::audit::AuditContext;
use crate::auth::api_key::{self, NewApiKey};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::tenants;
use crate::users::roles;

/// `apikey` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key for a tenant; prints the secret this once (新建接口密钥).
    Create {
        /// The tenant's code.
        #[arg(long)]
        tenant: String,
        /// A name for people, 1–50 characters.
        #[arg(long)]
        name: String,
        /// The role the key holds: `tenant_client` (接入方, reports and registers; the
        /// default), `data_reader` (数据使用方, reads the statistics of the tenant's
        /// region) or a role derived from either.
        #[arg(long, default_value = crate::users::permission::TENANT_CLIENT)]
        role: String,
    },
    /// List the keys, of one tenant or all, newest first (接口密钥列表).
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key by its prefix (吊销接口密钥).
    Revoke {
        /// The key's visible prefix, e.g. `tnk_3f9a2c1d`.
        #[arg(long)]
        prefix: String,
    },
}

/// Runs an `apikey` subcommand on the node's database.
pub fn run(db: &Db, cmd: ApiKeyCommand) -> AppResult<()> {
    let ctx = AuditContext::cli();
    match cmd {
        ApiKeyCommand::Create { tenant, name, role } => {
            let created = create(db, &ctx, &tenant, &name, &role)?;
            println!(
                "已创建接口密钥 / created API key {} ({})（只显示这一次 / shown this once）",
                created.key.prefix, role
            );
            println!("{}", created.secret);
        }
        ApiKeyCommand::List { tenant } => {
            let keys = db.transaction_sync(|conn| {
                let tenant = tenant.as_deref().map(|code| tenants::by_code(conn, code)).transpose()?;
                api_key::list(conn, tenant.as_ref().map(|t| &t.id))
            })?;
            println!("{:<14} {:<20} {:<24} {:<20} {:<10} name", "prefix", "tenant", "created", "last used", "status");
            for k in keys {
                let when = |t: Option<chrono::NaiveDateTime>| t.map(|t| t.to_string()).unwrap_or_else(|| "—".into());
                let status = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!(
                    "{:<14} {:<20} {:<24} {:<20} {:<10} {}",
                    k.prefix,
                    k.tenant_code,
                    k.created_at.to_string(),
                    when(k.last_used_at),
                    status,
                    k.name
                );
            }
        }
        ApiKeyCommand::Revoke { prefix } => {
            let revoked = db.transaction_sync(|conn| {
                let key = api_key::list(conn, None)?
                    .into_iter()
                    .find(|k| k.prefix == prefix.trim())
                    .ok_or_else(|| AppError::not_found("接口密钥", "API key"))?;
                api_key::revoke(conn, &ctx, &key.id)
            })?;
            println!("已吊销接口密钥 / revoked API key {} ({})", revoked.prefix, revoked.tenant_code);
        }
    }
    Ok(())
}

/// Creates a key of `role` (a role code) for the tenant of `tenant` (its code).
pub fn create(db: &Db, ctx: &AuditContext, tenant: &str, name: &str, role: &str) -> AppResult<api_key::CreatedApiKey> {
    db.transaction_sync(|conn| {
        let tenant = tenants::by_code(conn, tenant)?;
        let role = roles::by_code(conn, role)
            .map_err(|_| AppError::invalid("role", format!("没有代码为 {role} 的角色"), format!("no role {role}")))?;
        api_key::create(conn, ctx, &NewApiKey { tenant_id: tenant.id, role_id: role.id, name: name.to_owned() })
    })
}
