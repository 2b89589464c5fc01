//! The database URL: which backend, where, and a `Debug` that hides the password.
//!
//! Accepted forms: `sqlite://PATH` or `sqlite:PATH` (PATH relative to the config directory),
//! `postgres://…` or `postgresql://…`. A bare path is accepted only when it names an existing
//! file; anything else is refused, so a typo never creates a fresh empty database.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The two storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A validated database URL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatabaseUrl {
    backend: Backend,
    /// For SQLite the path as written; for PostgreSQL the whole URL.
    target: String,
}

impl DatabaseUrl {
    /// The default: `sqlite://data/tracenode.db` beside the config file.
    pub fn default_sqlite() -> Self {
        DatabaseUrl { backend: Backend::Sqlite, target: "data/tracenode.db".into() }
    }

    /// Parses and checks a URL.
    pub fn parse(text: &str) -> Result<Self, AppError> {
        let text = text.trim();
        if let Some(path) = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(ambiguous(text));
            }
            return Ok(DatabaseUrl { backend: Backend::Sqlite, target: path.to_owned() });
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(DatabaseUrl { backend: Backend::Postgres, target: text.to_owned() });
        }
        if text.contains("://") {
            return Err(AppError::invalid(
                "storage.database_url",
                "不支持的数据库类型，只支持 sqlite:// 和 postgres://",
                "unsupported database scheme: use sqlite:// or postgres://",
            ));
        }
        if !text.is_empty() && Path::new(text).is_file() {
            return Ok(DatabaseUrl { backend: Backend::Sqlite, target: text.to_owned() });
        }
        Err(ambiguous(text))
    }

    /// Which backend this URL selects.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file path, resolved against `base_dir`; `None` for PostgreSQL.
    pub fn sqlite_path(&self, base_dir: &Path) -> Option<PathBuf> {
        match self.backend {
            Backend::Sqlite => {
                let p = PathBuf::from(&self.target);
                Some(if p.is_absolute() { p } else { base_dir.join(p) })
            }
            Backend::Postgres => None,
        }
    }

    /// The string diesel connects with, resolved against `base_dir`.
    pub fn connect_string(&self, base_dir: &Path) -> String {
        match self.sqlite_path(base_dir) {
            Some(p) => p.to_string_lossy().into_owned(),
            None => self.target.clone(),
        }
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => redact_password(&self.target),
        }
    }
}

fn ambiguous(text: &str) -> AppError {
    AppError::invalid(
        "storage.database_url",
        format!("数据库地址不明确：{text}。请写 sqlite://路径 或 postgres://…"),
        format!("ambiguous database URL {text:?}: write sqlite://PATH or postgres://…"),
    )
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "***".into() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl TryFrom<String> for DatabaseUrl {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DatabaseUrl::parse(&value).map_err(|e| e.detail_en)
    }
}

impl From<DatabaseUrl> for String {
    fn from(value: DatabaseUrl) -> String {
        match value.backend {
            Backend::Sqlite => format!("sqlite://{}", value.target),
            Backend::Postgres => value.target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_select_backends() {
        assert_eq!(DatabaseUrl::parse("sqlite://data/x.db").expect("ok").backend(), Backend::Sqlite);
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/db").expect("ok").backend(), Backend::Postgres);
    }

    #[test]
    fn ambiguous_urls_are_refused() {
        for bad in ["", "data/missing.db", "mysql://h/db", "sqlite://"] {
            let e = DatabaseUrl::parse(bad).expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("storage.database_url"), "{bad}");
        }
    }

    #[test]
    fn password_is_redacted() {
        let u = DatabaseUrl::parse("postgres://tn:pw@127.0.0.1:5432/tn").expect("ok");
        assert_eq!(u.redacted(), "postgres://tn:***@127.0.0.1:5432/tn");
        assert!(!format!("{u:?}").contains("pw@"));
    }
}
