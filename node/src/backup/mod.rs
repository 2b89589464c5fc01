//! Backups (备份与恢复): one encrypted file that brings a node back on a new machine.
//!
//! A backup holds everything the node cannot make again: its configuration, the node key
//! (without it the audit checkpoints do not verify and sealed secrets do not open) and its
//! SM2 signing key if it has one, the audit
//! checkpoint log, the PKI folder (CA and leaf keys, the register's files, children's lists),
//! the TLS certificates, and a consistent snapshot of the database taken while the node runs.
//! The checkpoint log is read before the database, so every checkpoint in the backup lies at
//! or before the snapshot's audit head and `audit verify` passes after a restore.
//!
//! The file is sealed under the operator's passphrase (see [`archive`]); it is checked whole
//! before a restore writes anything, and a restore writes only into an empty folder and an
//! empty database (SQLite restores to SQLite, PostgreSQL to PostgreSQL). Making one and
//! restoring one are audited; the restore's row is the first the restored node appends.
//!
//! With `backup.cron` set, the job `backup.scheduled` makes one on that schedule into
//! `backup.dir` (`tracenode-<region>-<UTC time>.tnbak`) with the passphrase of
//! `backup.passphrase_file`, and keeps the newest `backup.keep` of them.

pub mod archive;
pub mod database;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditContext, Outcome};
use crate::config::{Backend, Config};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use archive::{Header, Kdf, NodeLabel, Reader, Sealing, Suite, Writer};
use database::TempFile;

/// The name of the configuration entry.
const CONFIG_ENTRY: &str = "tracenode.toml";
/// The node key.
const KEY_ENTRY: &str = "secrets/node.key";
/// The node's SM2 signing key, if it has one.
const SM2_KEY_ENTRY: &str = "secrets/sm2.key";
/// The audit checkpoint log.
const CHECKPOINTS_ENTRY: &str = "audit/checkpoints.log";
/// The listener's certificate and key, wherever the configuration puts them.
const TLS_CERT_ENTRY: &str = "tls/cert.pem";
const TLS_KEY_ENTRY: &str = "tls/key.pem";
/// Folders of the node's directory taken whole.
const FOLDERS: [&str; 2] = ["pki", "certs"];

/// What a backup holds, written first inside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The node software's version that made it.
    pub software: String,
    /// The entries after this one, with their sizes.
    pub entries: Vec<(String, u64)>,
}

/// A backup made.
#[derive(Debug, Clone)]
pub struct Made {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its encryption.
    pub suite: Suite,
    /// How many entries it holds.
    pub entries: usize,
}

/// The files of a node to back up, as (entry name, path).
fn files_of(config: &Config, config_path: &Path) -> AppResult<Vec<(String, PathBuf)>> {
    let mut files = vec![
        (CONFIG_ENTRY.to_owned(), config_path.to_path_buf()),
        (KEY_ENTRY.to_owned(), config.resolve(&config.security.key_file)),
    ];
    let sm2 = config.resolve(&config.security.sm2_key_file);
    if sm2.is_file() {
        files.push((SM2_KEY_ENTRY.to_owned(), sm2));
    }
    let checkpoints = config.resolve(&config.security.audit_checkpoints_file);
    if checkpoints.is_file() {
        files.push((CHECKPOINTS_ENTRY.to_owned(), checkpoints));
    }
    for folder in FOLDERS {
        let dir = config.base_dir.join(folder);
        for path in walk(&dir)? {
            let rel = path.strip_prefix(&config.base_dir).map_err(AppError::internal)?;
            files.push((rel.to_string_lossy().into_owned(), path));
        }
    }
    for (entry, path) in [(TLS_CERT_ENTRY, &config.http.tls_cert), (TLS_KEY_ENTRY, &config.http.tls_key)] {
        let path = config.resolve(path);
        if path.is_file() {
            files.push((entry.to_owned(), path));
        }
    }
    Ok(files)
}

/// Every regular file under `dir`, sorted (none if there is no such folder), links followed.
fn walk(dir: &Path) -> AppResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| AppError::internal(format!("{}: {e}", d.display())))? {
            let entry = entry.map_err(AppError::internal)?;
            // Links are followed: a linked certificate is backed up by its content.
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn header_of(config: &Config) -> Header {
    Header {
        suite: Suite::of(config.security.secret_cipher),
        kdf: Kdf { algorithm: String::new(), salt: String::new(), memory_kib: 0, iterations: 0, parallelism: 0 },
        iv: String::new(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        node: NodeLabel {
            tier: config.node.tier.as_str().to_owned(),
            region: config.node.region.as_str().to_owned(),
            name: config.node.name.clone(),
        },
        backend: backend_name(config.storage.database_url.backend()).to_owned(),
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// A folder of the node's own (0700) for the database snapshot while a backup is written:
/// never beside the backup, which may lie where others read. Snapshots an interrupted run
/// left there (an hour old) are removed.
fn scratch_dir(config: &Config) -> AppResult<PathBuf> {
    let dir = config.base_dir.join("backup-scratch");
    crate::files::private_dir(&dir)?;
    for entry in std::fs::read_dir(&dir).map_err(AppError::internal)?.filter_map(Result::ok) {
        let old = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if old.is_some_and(|age| age > std::time::Duration::from_secs(3600)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(dir)
}

/// Makes a backup of the node of `config` (read from `config_path`) at `out`, sealed under
/// `passphrase`; the node may be running. Nothing is left at `out` if it fails.
pub fn make(config: &Config, config_path: &Path, db: &Db, out: &Path, passphrase: &str) -> AppResult<Made> {
    if out.exists() {
        return Err(AppError::invalid(
            "out",
            "备份文件已存在，不会覆盖",
            "the backup file exists already; it is never overwritten",
        ));
    }
    let suite = Suite::of(config.security.secret_cipher);
    let sealing = Sealing::new(passphrase, suite)?;
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let _ = std::fs::remove_file(&partial);
    let written = write_backup(config, config_path, db, &sealing, &partial);
    let entries = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    // A link fails if `out` appeared meanwhile: a backup never replaces a file.
    std::fs::hard_link(&partial, out).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        AppError::invalid("out", format!("无法写入备份文件：{e}"), format!("cannot write the backup file: {e}"))
    })?;
    std::fs::remove_file(&partial).map_err(AppError::internal)?;
    let bytes = std::fs::metadata(out).map_err(AppError::internal)?.len();
    let ctx = AuditContext::cli();
    db.transaction_sync(|conn| {
        audit::record(
            conn,
            &ctx,
            "node.backup",
            &out.display().to_string(),
            Outcome::Success,
            serde_json::json!({"suite": suite.name(), "bytes": bytes, "entries": entries}),
        )
        .map(|_| ())
    })?;
    Ok(Made { path: out.to_path_buf(), bytes, suite, entries })
}

fn write_backup(config: &Config, config_path: &Path, db: &Db, sealing: &Sealing, at: &Path) -> AppResult<usize> {
    // The files first (the checkpoint log among them), the database after: every
    // checkpoint in the backup then lies at or before the snapshot's audit head.
    let files = files_of(config, config_path)?;
    let mut contents: Vec<(String, Vec<u8>)> = Vec::with_capacity(files.len());
    for (name, path) in &files {
        contents.push((
            name.clone(),
            std::fs::read(path).map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?,
        ));
    }
    let snapshot = TempFile::private_in(&scratch_dir(config)?, "snapshot")?;
    database::snapshot(config, db, &snapshot.0)?;
    let snapshot_size = std::fs::metadata(&snapshot.0).map_err(AppError::internal)?.len();
    let db_entry = database::entry_for(config.storage.database_url.backend());
    let mut manifest = Manifest {
        software: env!("CARGO_PKG_VERSION").to_owned(),
        entries: contents.iter().map(|(n, c)| (n.clone(), c.len() as u64)).collect(),
    };
    manifest.entries.push((db_entry.to_owned(), snapshot_size));
    let mut w: Writer<'_> = sealing.writer(at, header_of(config))?;
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(AppError::internal)?;
    w.entry("manifest.json", manifest_bytes.len() as u64, &mut manifest_bytes.as_slice())?;
    for (name, bytes) in &contents {
        w.entry(name, bytes.len() as u64, &mut bytes.as_slice())?;
    }
    w.file(db_entry, &snapshot.0)?;
    w.finish()?;
    Ok(manifest.entries.len())
}

/// What [`verify`] found in a backup.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The header.
    pub header: Header,
    /// The manifest.
    pub manifest: Manifest,
}

/// Checks a backup whole (its MAC, then every entry against the manifest) without
/// restoring anything.
pub fn verify(from: &Path, passphrase: &str) -> AppResult<Verified> {
    let mut r = Reader::open(from, passphrase)?;
    let manifest = read_manifest(&mut r)?;
    for (name, size) in &manifest.entries {
        match r.next_entry()? {
            Some((n, s)) if &n == name && s == *size => r.copy_to(s, &mut std::io::sink())?,
            _ => return Err(damaged()),
        }
    }
    if r.next_entry()?.is_some() {
        return Err(damaged());
    }
    Ok(Verified { header: r.header.clone(), manifest })
}

fn damaged() -> AppError {
    AppError::invalid(
        "from",
        "备份内容与其清单不符，未恢复任何内容",
        "the backup's content does not match its manifest; nothing was restored",
    )
}

fn read_manifest(r: &mut Reader) -> AppResult<Manifest> {
    match r.next_entry()? {
        Some((name, size)) if name == "manifest.json" && size <= 16 * 1024 * 1024 => {
            let mut bytes = Vec::new();
            r.copy_to(size, &mut bytes)?;
            serde_json::from_slice(&bytes).map_err(|_| damaged())
        }
        _ => Err(damaged()),
    }
}

/// Where to restore a backup.
#[derive(Debug, Clone)]
pub struct Target {
    /// The node's new folder: absent or empty.
    pub dir: PathBuf,
    /// A database URL in place of the one in the backed-up configuration (an empty
    /// PostgreSQL database, or a SQLite path inside the new folder).
    pub database_url: Option<String>,
}

/// A restore done.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The restored configuration file.
    pub config_path: PathBuf,
    /// The backup's header.
    pub header: Header,
}

/// Restores the backup `from` into `target`. The file is checked whole first; on any
/// failure the folder is removed again and nothing is left behind.
pub fn restore(from: &Path, target: &Target, passphrase: &str) -> AppResult<Restored> {
    let header = archive::header(from)?;
    if let Some(url) = &target.database_url {
        let wanted = crate::config::DatabaseUrl::parse(url)?.backend();
        if backend_name(wanted) != header.backend {
            return Err(AppError::invalid(
                "database_url",
                format!("备份的数据库是 {}，只能恢复到同一种数据库", header.backend),
                format!("the backup's database is {}: it restores to the same backend only", header.backend),
            ));
        }
    }
    let existed = prepare_dir(&target.dir)?;
    let done = restore_copy(from, target, passphrase);
    if done.is_err() {
        match existed {
            false => {
                let _ = std::fs::remove_dir_all(&target.dir);
            }
            true => empty_dir(&target.dir),
        }
    }
    done
}

/// Checks and unpacks a private copy of the backup, made first inside the new folder: the
/// bytes that are checked are the bytes that are restored, whatever happens to the original
/// meanwhile.
fn restore_copy(from: &Path, target: &Target, passphrase: &str) -> AppResult<Restored> {
    let copy = TempFile::private_in(&target.dir, "backup")?;
    {
        let mut src = std::fs::File::open(from).map_err(|e| AppError::internal(format!("{}: {e}", from.display())))?;
        let mut dst = std::fs::OpenOptions::new().write(true).open(&copy.0).map_err(AppError::internal)?;
        std::io::copy(&mut src, &mut dst).map_err(AppError::internal)?;
    }
    let verified = verify(&copy.0, passphrase)?;
    let restored = unpack(&copy.0, from, target, passphrase, &verified);
    drop(copy);
    restored
}

/// Removes what a failed restore wrote into a folder that was there (empty) before.
fn empty_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        }
    }
}

/// Creates the folder (0700) or checks it is empty; returns whether it was there before.
fn prepare_dir(dir: &Path) -> AppResult<bool> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(AppError::internal)?.next().is_none();
        if !empty {
            return Err(AppError::invalid(
                "dir",
                format!("目录 {} 不是空的：恢复只写入新目录或空目录", dir.display()),
                format!("{} is not empty: a restore writes only into a new or empty folder", dir.display()),
            ));
        }
    }
    let existed = dir.exists();
    crate::files::private_dir(dir)?;
    Ok(existed)
}

fn unpack(copy: &Path, from: &Path, target: &Target, passphrase: &str, verified: &Verified) -> AppResult<Restored> {
    let mut r = Reader::open(copy, passphrase)?;
    read_manifest(&mut r)?;
    let config_path = target.dir.join(CONFIG_ENTRY);
    let mut config: Option<Config> = None;
    while let Some((name, size)) = r.next_entry()? {
        if name == CONFIG_ENTRY {
            let mut text = Vec::new();
            r.copy_to(size, &mut text)?;
            let c = write_config(&config_path, &text, target)?;
            if c.storage.database_url.backend() == Backend::Postgres {
                database::check_empty_postgres(&c.storage.database_url.connect_string(&c.base_dir))?;
            }
            config = Some(c);
            continue;
        }
        let c = config.as_ref().ok_or_else(damaged)?;
        if name == database::PG_ENTRY {
            let dump = TempFile::private_in(&target.dir, "restore")?;
            let mut out = std::fs::OpenOptions::new().write(true).open(&dump.0).map_err(AppError::internal)?;
            r.copy_to(size, &mut out)?;
            database::restore_postgres(&c.storage.database_url.connect_string(&c.base_dir), &dump.0)?;
            continue;
        }
        let path = destination(c, &target.dir, &name)?;
        write_new(&target.dir, &path, size, &mut r)?;
    }
    let config = config.ok_or_else(damaged)?;
    let db = Db::open(&config.storage.database_url, &config.base_dir, 1, config.storage.migrate_on_start)
        .map_err(|e| restored_database_note(&config, e))?;
    let ctx = AuditContext::cli();
    db.transaction_sync(|conn| {
        audit::record(
            conn,
            &ctx,
            "node.restore",
            &from.display().to_string(),
            Outcome::Success,
            serde_json::json!({"made_at": verified.header.created_at, "suite": verified.header.suite.name(),
                "software": verified.manifest.software}),
        )
        .map(|_| ())
    })?;
    Ok(Restored { config_path, header: verified.header.clone() })
}

/// A failure after the database was restored: for PostgreSQL the database now holds the
/// backup and must be emptied (or another given) before trying again.
fn restored_database_note(config: &Config, e: AppError) -> AppError {
    match config.storage.database_url.backend() {
        Backend::Sqlite => e,
        Backend::Postgres => {
            tracing::error!(database = %config.storage.database_url.redacted(), "restored database left as it is: empty it before trying again");
            e
        }
    }
}

/// Writes the configuration, with the target's database URL in place of the backed-up one
/// if given, and reads it back as the restored node will.
fn write_config(path: &Path, text: &[u8], target: &Target) -> AppResult<Config> {
    let text = std::str::from_utf8(text).map_err(|_| damaged())?;
    let text = match &target.database_url {
        None => text.to_owned(),
        Some(url) => {
            let mut table: toml::Table = text.parse().map_err(|_| damaged())?;
            let storage = table.entry("storage").or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let storage = storage.as_table_mut().ok_or_else(damaged)?;
            storage.insert("database_url".into(), toml::Value::String(url.clone()));
            toml::to_string(&table).map_err(AppError::internal)?
        }
    };
    let mut file = crate::files::private_new_file(path).map_err(AppError::internal)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(AppError::internal)?;
    file.sync_all().map_err(AppError::internal)?;
    // Read as the file says, without `TRACENODE_…` variables: an operator's environment must
    // not send the restore to another database than the one checked.
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut config = Config::from_parts(&text, &[], dir)?;
    config.file = Some(path.to_path_buf());
    Ok(config)
}

/// Where an entry goes in the restored node: always inside the new folder.
fn destination(config: &Config, dir: &Path, name: &str) -> AppResult<PathBuf> {
    let path = match name {
        KEY_ENTRY => config.resolve(&config.security.key_file),
        SM2_KEY_ENTRY => config.resolve(&config.security.sm2_key_file),
        CHECKPOINTS_ENTRY => config.resolve(&config.security.audit_checkpoints_file),
        TLS_CERT_ENTRY => config.resolve(&config.http.tls_cert),
        TLS_KEY_ENTRY => config.resolve(&config.http.tls_key),
        database::SQLITE_ENTRY => config.storage.database_url.sqlite_path(&config.base_dir).ok_or_else(|| {
            AppError::invalid(
                "database_url",
                "这是 SQLite 节点的备份，只能恢复到 SQLite",
                "this is the backup of a SQLite node: it restores to SQLite only",
            )
        })?,
        other if FOLDERS.iter().any(|f| other.starts_with(&format!("{f}/"))) => config.base_dir.join(other),
        _ => return Err(damaged()),
    };
    let climbs = path.components().any(|c| matches!(c, std::path::Component::ParentDir));
    if climbs || !path.starts_with(dir) {
        return Err(AppError::invalid(
            "dir",
            format!("备份的配置把 {} 放在新目录之外：请在恢复后改配置，或恢复到该路径所在的目录", path.display()),
            format!(
                "the backed-up configuration puts {} outside the new folder: restore where it lies, or change the configuration",
                path.display()
            ),
        ));
    }
    Ok(path)
}

/// Writes `size` bytes of the current entry to a new private file at `path` (its folders
/// made private too); an entry the restore wrote already (the TLS files inside `certs/`)
/// is checked to be the same.
fn write_new(dir: &Path, path: &Path, size: u64, r: &mut Reader) -> AppResult<()> {
    if let Some(parent) = path.parent().filter(|p| *p != dir && !p.exists()) {
        crate::files::private_dir(parent)?;
    }
    if path.exists() {
        let mut again = Vec::new();
        r.copy_to(size, &mut again)?;
        let there = std::fs::read(path).map_err(AppError::internal)?;
        return match there == again {
            true => Ok(()),
            false => Err(AppError::invalid(
                "dir",
                format!("{} 已存在，不会覆盖", path.display()),
                format!("{} exists already; it is never overwritten", path.display()),
            )),
        };
    }
    let file =
        crate::files::private_new_file(path).map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
    let mut out = std::io::BufWriter::new(file);
    r.copy_to(size, &mut out)?;
    let file = out.into_inner().map_err(|e| AppError::internal(e.to_string()))?;
    file.sync_all().map_err(AppError::internal)
}

/// The backup capability's background work: scheduled backups, once per node, when
/// `backup.cron` is set.
pub fn background(state: &actix_web::web::Data<crate::app::AppState>) -> Vec<crate::jobs::Job> {
    use crate::jobs::{Job, Schedule, Scope};
    let cron = state.config.backup.cron.trim().to_owned();
    if cron.is_empty() {
        return Vec::new();
    }
    let (config, db) = (state.config.clone(), state.db.clone());
    let job = Job::scheduled(
        "backup.scheduled",
        "定时备份",
        Schedule::Cron(cron),
        Scope::Once,
        Arc::new(move || {
            let (config, db) = (config.clone(), db.clone());
            Box::pin(async move {
                tokio::task::spawn_blocking(move || scheduled(&config, &db)).await.map_err(AppError::internal)?
            })
        }),
    );
    vec![job.with_max_runtime(std::time::Duration::from_secs(6 * 3600))]
}

/// The file name prefix of this node's scheduled backups.
fn scheduled_prefix(config: &Config) -> String {
    format!("tracenode-{}-", config.node.region.as_str())
}

/// Makes a scheduled backup and removes the oldest beyond `backup.keep`; the summary names
/// the file.
pub fn scheduled(config: &Config, db: &Db) -> AppResult<String> {
    let file = config.file.as_deref().ok_or_else(|| AppError::internal("the configuration file is unknown"))?;
    let passphrase = passphrase_from(&config.resolve(&config.backup.passphrase_file))?;
    let dir = config.resolve(&config.backup.dir);
    if !dir.exists() {
        crate::files::private_dir(&dir)?;
    }
    let name = format!("{}{}.tnbak", scheduled_prefix(config), chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    let made = make(config, file, db, &dir.join(&name), &passphrase)?;
    let removed = prune(&dir, &scheduled_prefix(config), config.backup.keep as usize)?;
    Ok(format!("{name}（{} 字节），删除旧备份 {removed} 份", made.bytes))
}

/// The passphrase in the first line of `path`, a file only the node's user may read.
pub fn passphrase_from(path: &Path) -> AppResult<String> {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |e: std::io::Error| {
        AppError::invalid(
            "backup.passphrase_file",
            format!("无法读取备份口令文件 {}：{e}", path.display()),
            format!("cannot read the backup passphrase file {}: {e}", path.display()),
        )
    };
    let mode = std::fs::metadata(path).map_err(unreadable)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(AppError::invalid(
            "backup.passphrase_file",
            format!("备份口令文件 {} 其他用户可读，请改为仅本用户可读（chmod 600）", path.display()),
            format!("the backup passphrase file {} is readable by others: make it 0600", path.display()),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// Removes the oldest files of `dir` named `<prefix>….tnbak` beyond the newest `keep`, and
/// what interrupted runs left (`….tnbak.partial`); returns how many backups were removed. The names hold the UTC time, so their order is their age.
fn prune(dir: &Path, prefix: &str, keep: usize) -> AppResult<usize> {
    let mut ours: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(AppError::internal)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(".tnbak"))
        })
        .collect();
    ours.sort();
    // What an interrupted run left: only one scheduled run goes at a time, and this one is done.
    for entry in std::fs::read_dir(dir).map_err(AppError::internal)?.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".tnbak.partial") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let excess = ours.len().saturating_sub(keep);
    for old in &ours[..excess] {
        std::fs::remove_file(old).map_err(AppError::internal)?;
    }
    Ok(excess)
}
