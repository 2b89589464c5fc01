//! Anchors of the audit chain outside the database.
//!
//! The hash chain alone shows a clumsy edit, but someone with database access can drop the
//! append-only triggers, delete the tail, or rewrite a row and recompute every hash after it.
//! So every `security.audit_checkpoint_seconds` (when the chain grew), and on each
//! verification, the node appends the chain's head to a file beside the database:
//!
//! ```text
//! seq <TAB> hash of row seq <TAB> time of row seq <TAB> time written <TAB> HMAC-SHA256
//! seq <TAB> hash of row seq <TAB> time of row seq <TAB> time written <TAB> sm2:<signature>
//! ```
//!
//! the HMAC keyed with a subkey of the node's key ([`crate::keys`]), which the database does
//! not hold; or, with `security.checkpoint_signature = "sm2"`, an SM2 signature
//! ([`crate::keys::sm2`]) that an auditor checks with the public key alone. Either is taken
//! over the first four fields joined by U+001F. A file may hold both kinds (the choice
//! changed): each line is checked by its own kind.
//! Since row `n`'s hash commits to every row before it, one checkpoint anchors the whole chain
//! up to `n`: [`super::chain::verify`] compares each checkpoint with the row at its sequence
//! number and tells a rewrite, a renumbering and a missing tail apart. A line edited without
//! the key fails its MAC and is reported as forged. The parent holds a second, signed copy of
//! the head (the `audit-checkpoints` roll-up).
//!
//! The file keeps the newest `security.audit_checkpoints_kept` lines.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use diesel::prelude::*;

use crate::config::Config;
use crate::db::schema::audit_log;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::keys::sm2::{self as sm2_sig, Sm2Key};
use crate::keys::{self, CheckpointSignature, NodeKey, Purpose};

pub use super::checkpoint::{Anchored, Checkpoint, TIME_FORMAT};

/// The checkpoint file and its key.
pub struct Anchors {
    path: PathBuf,
    key: [u8; 32],
    kept: usize,
    writing: Mutex<()>,
    /// The SM2 key that signs new checkpoints, when they are signed with SM2.
    signing: Option<Sm2Key>,
    /// The public SM2 key that checks lines signed with SM2 (when the node has one).
    checking: Option<sm2::PublicKey>,
}

impl std::fmt::Debug for Anchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchors").field("path", &self.path).finish_non_exhaustive()
    }
}

fn io_error(path: &std::path::Path, e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("audit checkpoints {}: {e}", path.display()))
}

impl Anchors {
    /// The anchors of the node configured by `config` (its key is created if missing).
    pub fn open(config: &Config) -> AppResult<Anchors> {
        let key = NodeKey::load_or_create(&config.resolve(&config.security.key_file))?;
        let sm2_file = config.resolve(&config.security.sm2_key_file);
        let path = config.resolve(&config.security.audit_checkpoints_file);
        let signing = match config.security.checkpoint_signature {
            CheckpointSignature::Sm2 => Some(sm2_key(&sm2_file, &path)?),
            CheckpointSignature::HmacSha256 => None,
        };
        let checking = match &signing {
            Some(k) => Some(k.public()),
            None if sm2_file.is_file() => Some(Sm2Key::load_or_create(&sm2_file)?.public()),
            None => None,
        };
        Ok(Anchors {
            path,
            key: key.subkey(Purpose::AuditCheckpoints),
            kept: config.security.audit_checkpoints_kept,
            writing: Mutex::new(()),
            signing,
            checking,
        })
    }

    /// Reads the file (none yet reads as empty).
    pub fn read(&self) -> AppResult<Anchored> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Anchored::default()),
            Err(e) => return Err(io_error(&self.path, e)),
        };
        let mut anchored = Anchored::default();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match self.parse_line(line) {
                Some(c) => anchored.checkpoints.push(c),
                None => anchored.forged_lines.push(i + 1),
            }
        }
        Ok(anchored)
    }

    fn parse_line(&self, line: &str) -> Option<Checkpoint> {
        let parts: Vec<&str> = line.split('\t').collect();
        let [seq, hash, row_at, written_at, mac] = parts.as_slice() else { return None };
        let c = Checkpoint {
            seq: seq.parse().ok()?,
            hash: (*hash).to_owned(),
            row_at: (*row_at).to_owned(),
            written_at: (*written_at).to_owned(),
        };
        let message = c.message();
        let vouched = match mac.strip_prefix("sm2:") {
            Some(signature) => {
                self.checking.as_ref().is_some_and(|k| sm2_sig::verify_hex(k, message.as_bytes(), signature))
            }
            None => keys::mac_matches(&self.key, message.as_bytes(), mac),
        };
        vouched.then_some(c)
    }

    /// Appends the chain's head if it moved since the last checkpoint; returns the new one.
    pub fn take(&self, conn: &mut DbConnection) -> AppResult<Option<Checkpoint>> {
        let head: Option<(i64, String, chrono::NaiveDateTime)> = audit_log::table
            .select((audit_log::seq, audit_log::hash, audit_log::at))
            .order(audit_log::seq.desc())
            .first(conn)
            .optional()?;
        let Some((seq, hash, at)) = head else { return Ok(None) };
        let _guard = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let existing = self.read()?;
        if existing.checkpoints.last().is_some_and(|c| c.seq >= seq) {
            return Ok(None);
        }
        // Never anchor a chain that no longer holds its last anchor: that checkpoint is the
        // evidence of the rewrite.
        let wrong = super::chain::quick_check(conn, &existing)?;
        if wrong.iter().any(|w| !w.starts_with("trigger_missing")) {
            tracing::error!(problems = ?wrong, "audit chain no longer matches its checkpoints; none written");
            return Ok(None);
        }
        let c = Checkpoint {
            seq,
            hash,
            row_at: at.format(TIME_FORMAT).to_string(),
            written_at: crate::db::now().format(TIME_FORMAT).to_string(),
        };
        let line = format!("{}\t{}\t{}\t{}\t{}\n", c.seq, c.hash, c.row_at, c.written_at, self.vouch(&c)?);
        self.append(&line)?;
        if existing.checkpoints.len() + existing.forged_lines.len() > self.kept + self.kept / 10 {
            self.compact()?;
        }
        Ok(Some(c))
    }

    /// The last field of a checkpoint's line: its SM2 signature or its HMAC.
    fn vouch(&self, c: &Checkpoint) -> AppResult<String> {
        match &self.signing {
            Some(k) => Ok(format!("sm2:{}", k.sign_hex(c.message().as_bytes())?)),
            None => Ok(keys::mac_hex(&self.key, c.message().as_bytes())),
        }
    }

    fn append(&self, line: &str) -> AppResult<()> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = self.path.parent() {
            if !dir.exists() {
                crate::files::private_dir(dir)?;
            }
        }
        let mut file = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| io_error(&self.path, e))?;
        file.write_all(line.as_bytes()).and_then(|()| file.sync_data()).map_err(|e| io_error(&self.path, e))
    }

    /// Keeps the newest `kept` lines (forged lines are kept: they are evidence).
    fn compact(&self) -> AppResult<()> {
        let text = fs::read_to_string(&self.path).map_err(|e| io_error(&self.path, e))?;
        let lines: Vec<&str> = text.lines().collect();
        let keep = &lines[lines.len().saturating_sub(self.kept)..];
        let tmp = self.path.with_extension("log.tmp");
        let mut file = crate::files::private_file(&tmp).map_err(|e| io_error(&tmp, e))?;
        file.write_all(format!("{}\n", keep.join("\n")).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(&tmp, e))?;
        fs::rename(&tmp, &self.path).map_err(|e| io_error(&self.path, e))
    }
}

/// The SM2 key of the node, made if there is none yet — unless checkpoints signed with SM2
/// exist already: their key is lost, and a new one would make every one of them read as
/// forged while hiding the loss.
fn sm2_key(key_file: &std::path::Path, checkpoints: &std::path::Path) -> AppResult<Sm2Key> {
    let signed_before = !key_file.exists()
        && fs::read_to_string(checkpoints).is_ok_and(|text| text.lines().any(|l| l.contains("\tsm2:")));
    if signed_before {
        return Err(AppError::invalid(
            "security.sm2_key_file",
            format!("审计检查点已用 SM2 签名，但签名密钥 {} 不见了：请从备份恢复该密钥", key_file.display()),
            format!(
                "audit checkpoints are signed with SM2 but the signing key {} is missing: restore it from a backup",
                key_file.display()
            ),
        ));
    }
    Sm2Key::load_or_create(key_file)
}

/// The node's check at start (see [`super::chain::quick_check`]): each problem is logged and
/// recorded as a failed `audit.integrity` row; the node still starts, so the auditor can look.
pub fn check_at_start(db: &crate::db::Db, anchors: &Anchors) -> AppResult<()> {
    let anchored = anchors.read()?;
    db.transaction_sync(|conn| {
        let wrong = super::chain::quick_check(conn, &anchored)?;
        for w in &wrong {
            tracing::error!(problem = %w, "audit chain integrity");
        }
        if !wrong.is_empty() {
            let ctx = super::AuditContext::system();
            super::record(
                conn,
                &ctx,
                "audit.integrity",
                "audit_log",
                super::Outcome::Failure,
                serde_json::json!({ "problems": wrong }),
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_sm2_key_is_refused_not_replaced() {
        let dir = tempfile::tempdir().expect("dir");
        let (key, log) = (dir.path().join("secrets/sm2.key"), dir.path().join("audit/checkpoints.log"));
        assert!(sm2_key(&key, &log).is_ok(), "made at first use");
        std::fs::create_dir_all(log.parent().expect("dir")).expect("dir");
        std::fs::write(&log, "7\tabc\tt1\tt2\tsm2:3044\n").expect("log");
        assert!(sm2_key(&key, &log).is_ok(), "read while it is there");
        std::fs::remove_file(&key).expect("lose it");
        let e = sm2_key(&key, &log).expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("security.sm2_key_file"));
        assert!(!key.exists(), "no new key made");
    }
}
