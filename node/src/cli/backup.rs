//! `tracenode backup …`: make a backup of a running node, check one, restore one on a new
//! machine. The passphrase comes from `--passphrase-file` (a file only its owner may read),
//! from `TRACENODE_BACKUP_PASSPHRASE`, or from the first line of standard input, never from
//! the command line itself.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::backup::{self, Target};
use crate::error::{AppError, AppResult};

/// `backup` subcommands.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write an encrypted backup of this node to FILE; the node may be running (生成备份).
    Make {
        /// The backup file to write (never over an existing one).
        #[arg(long)]
        out: PathBuf,
        /// A file whose first line is the passphrase.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Check a backup whole without restoring it: passphrase, integrity, content (校验备份).
    Verify {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// A file whose first line is the passphrase.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Restore a backup into a new, empty folder (and an empty database) (恢复备份).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The node's new folder: absent or empty.
        #[arg(long)]
        dir: PathBuf,
        /// Another database than the backed-up configuration names: an empty PostgreSQL
        /// database for a PostgreSQL backup, a SQLite path for a SQLite one.
        #[arg(long)]
        database_url: Option<String>,
        /// A file whose first line is the passphrase.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

/// The environment variable a passphrase may come from.
pub const PASSPHRASE_ENV: &str = "TRACENODE_BACKUP_PASSPHRASE";

fn passphrase(file: Option<&Path>) -> AppResult<String> {
    let text = match (file, std::env::var(PASSPHRASE_ENV)) {
        (Some(path), _) => backup::passphrase_from(path)?,
        (None, Ok(value)) => value,
        (None, Err(_)) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(AppError::internal)?;
            line
        }
    };
    let line = text.lines().next().unwrap_or_default().to_owned();
    if line.is_empty() {
        return Err(AppError::invalid(
            "passphrase",
            format!("没有备份口令：请用 --passphrase-file、环境变量 {PASSPHRASE_ENV} 或标准输入给出"),
            format!("no passphrase: give it with --passphrase-file, {PASSPHRASE_ENV} or on standard input"),
        ));
    }
    Ok(line)
}

/// Runs a `backup` subcommand; `config` is the node's configuration file for `make`.
pub fn run(config_path: &Path, cmd: BackupCommand) -> AppResult<()> {
    match cmd {
        BackupCommand::Make { out, passphrase_file } => {
            let pass = passphrase(passphrase_file.as_deref())?;
            let config = crate::config::Config::load(config_path)?;
            // The database as it is: a backup never migrates or seeds it under a running node.
            let db = crate::db::Db::open(&config.storage.database_url, &config.base_dir, 1, false)?;
            let made = backup::make(&config, config_path, &db, &out, &pass)?;
            println!(
                "已生成备份 / backup written: {} ({} 字节 bytes, {} 项 entries, {})",
                made.path.display(),
                made.bytes,
                made.entries,
                made.suite.name()
            );
            println!("请将口令与备份分开保管 / keep the passphrase apart from the backup");
        }
        BackupCommand::Verify { from, passphrase_file } => {
            let pass = passphrase(passphrase_file.as_deref())?;
            let v = backup::verify(&from, &pass)?;
            println!(
                "备份完好 / the backup verifies: {} {} {}，{} 生成 made at {}，数据库 database {}，{} 项 entries",
                v.header.node.tier,
                v.header.node.region,
                v.header.node.name,
                v.manifest.software,
                v.header.created_at,
                v.header.backend,
                v.manifest.entries.len()
            );
        }
        BackupCommand::Restore { from, dir, database_url, passphrase_file } => {
            let pass = passphrase(passphrase_file.as_deref())?;
            let restored = backup::restore(&from, &Target { dir, database_url }, &pass)?;
            println!(
                "已恢复 / restored: {} {}（备份于 made at {}）→ {}",
                restored.header.node.region,
                restored.header.node.name,
                restored.header.created_at,
                restored.config_path.display()
            );
            println!(
                "运行 tracenode serve --config {} 启动节点 / start it with tracenode serve --config {}",
                restored.config_path.display(),
                restored.config_path.display()
            );
        }
    }
    Ok(())
}
