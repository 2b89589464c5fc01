//! Files and directories the node writes that hold data, keys or secrets: created readable
//! by the node's user alone, whatever the process's umask.

use std::path::Path;

use crate::error::AppError;

/// Creates `dir` (and its parents) readable by the node's user alone (0700).
pub fn private_dir(dir: &Path) -> Result<(), AppError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let io = |e: std::io::Error| AppError::internal(format!("{}: {e}", dir.display()));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

/// Creates (or truncates) `path` readable by the node's user alone (0600).
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// Creates `path` readable by the node's user alone (0600), refusing one that exists.
pub fn private_new_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}
