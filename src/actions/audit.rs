//! The audit trail: one JSON line per command run from the dashboard, so the incident review can
//! tell who restarted what, when, and how it went.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Exit, Verb};
use crate::private_dir::PrivateDir;

#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    /// RFC 3339, UTC.
    pub time: String,
    pub user: &'a str,
    pub service: &'a str,
    pub action: Verb,
    /// `test` when this is the guard run before a reload or restart.
    pub step: Verb,
    /// The command run; empty for a container engine call that runs none.
    pub argv: &'a [String],
    /// The container the command ran in or the engine call was about: `web (id 0123456789ab)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The engine call made instead of a command: `restart --time 10`, `kill --signal SIGUSR2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_call: Option<String>,
    pub result: String,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
}

impl<'a> AuditRecord<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        at: SystemTime,
        user: &'a str,
        service: &'a str,
        action: Verb,
        step: Verb,
        argv: &'a [String],
        exit: &Exit,
        elapsed: Duration,
    ) -> Self {
        AuditRecord {
            time: jiff::Timestamp::try_from(at)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            user,
            service,
            action,
            step,
            argv,
            container: None,
            engine_call: None,
            result: exit.to_string(),
            exit_code: exit.code(),
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl AuditRecord<'_> {
    /// The record of a step done in or to a container.
    pub fn in_container(mut self, container: String, engine_call: Option<String>) -> Self {
        self.container = Some(container);
        self.engine_call = engine_call;
        self
    }
}

#[derive(Clone, Debug)]
pub struct AuditLog {
    path: PathBuf,
}

/// The audit trail's name in the state directory.
pub const AUDIT_FILE: &str = "actions.log";

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        AuditLog { path }
    }

    /// `<state dir>/actions.log`.
    pub fn default_path() -> Option<PathBuf> {
        Some(crate::diagnostics::state_dir()?.join(AUDIT_FILE))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line. The file is private (0600) in a [`PrivateDir`] and never written
    /// through a link: command output is not in it, but argv and user names are nobody else's
    /// business.
    pub fn append(&self, record: &AuditRecord<'_>) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| io::Error::other("the audit trail's path names no file"))?;
        let dir = PrivateDir::open(dir).map_err(io::Error::other)?;
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut file = dir.append(name)?;
        // One write per record, so concurrent gatewatch sessions never interleave within a line.
        file.write_all(&line)
    }
}

/// Who is acting: the effective user's name, plus the sudo caller when there is one.
pub fn current_user() -> String {
    // SAFETY: geteuid cannot fail and touches no memory.
    let uid = unsafe { libc::geteuid() };
    let mut users = sysinfo::Users::new().ok();
    let name = crate::host::load_users(users.as_mut())
        .remove(&uid)
        .unwrap_or_else(|| uid.to_string());
    match std::env::var("SUDO_USER") {
        Ok(by) if !by.is_empty() && by != name => format!("{name} (sudo by {by})"),
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_private_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("state/gatewatch/actions.log"));
        let argv = vec![
            "systemctl".to_owned(),
            "restart".to_owned(),
            "web".to_owned(),
        ];
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for exit in [Exit::Code(0), Exit::TimedOut(Duration::from_secs(30))] {
            let record = AuditRecord::new(
                at,
                "alice",
                "web",
                Verb::Restart,
                Verb::Restart,
                &argv,
                &exit,
                Duration::from_millis(1234),
            );
            log.append(&record).unwrap();
        }
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["time"], "2023-11-14T22:13:20Z");
        assert_eq!(lines[0]["user"], "alice");
        assert_eq!(lines[0]["action"], "restart");
        assert_eq!(lines[0]["argv"][1], "restart");
        assert_eq!(lines[0]["result"], "exit 0");
        assert_eq!(lines[0]["exit_code"], 0);
        assert_eq!(lines[0]["duration_ms"], 1234);
        assert_eq!(lines[1]["result"], "timed out after 30s (killed)");
        assert!(lines[1]["exit_code"].is_null());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(log.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_user_is_named() {
        let user = current_user();
        assert!(!user.is_empty());
    }
}
