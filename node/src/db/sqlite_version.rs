//! The guard against SQLite's WAL-reset bug: SQLite 3.7.0 up to 3.51.2 (and 3.52.x) can corrupt
//! a WAL-mode database or lose committed writes when one connection resets the WAL while
//! another checkpoints, which a pool of WAL connections does. Fixed in 3.51.3 and 3.53.0, and
//! in the 3.44.6 and 3.50.7 backports. The node builds its own SQLite (3.53.2, the bundled
//! amalgamation of `libsqlite3-sys`), and refuses to open a database with any SQLite the bug
//! affects, should a build ever link another.

use crate::error::{AppError, AppResult};

/// Whether SQLite `version` (`3.53.2`) is free of the WAL-reset bug.
pub fn wal_reset_safe(version: &str) -> bool {
    let parts: Vec<u32> = version.trim().split('.').map(|p| p.parse().unwrap_or(0)).collect();
    let (major, minor, patch) =
        (parts.first().copied().unwrap_or(0), parts.get(1).copied().unwrap_or(0), parts.get(2).copied().unwrap_or(0));
    if major != 3 {
        return major > 3;
    }
    match minor {
        0..=6 => true,
        44 => patch >= 6,
        50 => patch >= 7,
        51 => patch >= 3,
        52 => false,
        m => m >= 53,
    }
}

/// Refuses a SQLite the bug affects, naming the version and what to do.
pub fn check(version: &str) -> AppResult<()> {
    if wal_reset_safe(version) {
        return Ok(());
    }
    Err(AppError::invalid(
        "storage.database_url",
        format!(
            "SQLite {version} 存在WAL重置导致数据损坏的缺陷（3.7.0至3.51.2）；请使用随本节点构建的SQLite（3.53及以上，或3.51.3、3.50.7、3.44.6）"
        ),
        format!(
            "SQLite {version} has the WAL-reset corruption bug (3.7.0 to 3.51.2); build the node with its bundled SQLite (3.53 or later, or 3.51.3, 3.50.7, 3.44.6)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affected_versions_are_refused() {
        for bad in ["3.7.0", "3.40.1", "3.44.5", "3.50.6", "3.51.2", "3.52.0"] {
            assert!(!wal_reset_safe(bad), "{bad}");
            let e = check(bad).expect_err(bad);
            assert!(e.detail_en.contains(bad) && e.detail_zh.contains("WAL"), "{}", e.detail_en);
        }
        for good in ["3.6.23", "3.44.6", "3.50.7", "3.51.3", "3.53.0", "3.53.2", "3.60.0"] {
            assert!(wal_reset_safe(good), "{good}");
        }
    }

    #[test]
    fn the_node_runs_on_a_safe_sqlite() {
        let dir = tempfile::tempdir().expect("dir");
        let url = crate::config::DatabaseUrl::parse("sqlite://node.db").expect("url");
        let db = crate::db::Db::open(&url, dir.path(), 1, true).expect("open");
        let version = db.sqlite_version().expect("version");
        assert!(wal_reset_safe(&version), "linked SQLite {version}");
    }
}
