//! Diagnostics go to a file, never to the terminal the dashboard draws on.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;

use crate::private_dir::PrivateDir;

/// A log larger than this is moved aside at start-up, so hours-long sessions over weeks stay bounded.
const ROTATE_BYTES: u64 = 10 * 1024 * 1024;

/// `$XDG_STATE_HOME/gatewatch`, with the XDG fallback to ~/.local/state: the diagnostics log,
/// the actions audit trail and reports live here.
pub fn state_dir() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?;
    Some(state.join("gatewatch"))
}

/// The diagnostics log's name in the state directory.
pub const LOG_FILE: &str = "gatewatch.log";

/// `<state dir>/gatewatch.log`.
pub fn default_path() -> Option<PathBuf> {
    Some(state_dir()?.join(LOG_FILE))
}

/// Starts logging to `path` (or the default) in a [`PrivateDir`], never through a link. The level
/// comes from GATEWATCH_LOG (default info). Returns where the log goes, or why there is none;
/// gatewatch runs either way.
pub fn init(path: Option<&Path>) -> Result<PathBuf, String> {
    let path = path
        .map(Path::to_path_buf)
        .or_else(default_path)
        .ok_or("no HOME or XDG_STATE_HOME")?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(format!("{}: not a file path", path.display()));
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let dir = PrivateDir::open(dir).map_err(|e| format!("diagnostics log off: {e}"))?;
    let current = dir.path().join(name);
    if fs::symlink_metadata(&current).is_ok_and(|m| m.is_file() && m.len() > ROTATE_BYTES) {
        let _ = fs::rename(&current, current.with_extension("log.1"));
    }
    let file = dir
        .append(name)
        .map_err(|e| format!("diagnostics log off: {e}"))?;
    let level = std::env::var("GATEWATCH_LOG")
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(level)
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(current)
}
