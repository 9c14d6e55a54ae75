//! Whether the commands in a config file may run. gatewatch runs as root: like sudo with sudoers
//! and sshd with authorized_keys, a file (or a directory above it) that another user can change
//! could make us run anything, so its commands are dropped and a finding says why.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Config;
use crate::private_dir::{self, effective_uid};

/// Why the commands of the config at `path` must not run, or `None` when only root and the
/// effective user can change it. `meta` is the file that was read (taken from its open
/// descriptor, so a file swapped in after the read is not the one judged). The embedded
/// defaults are never asked: they are ours.
pub fn distrust(path: &Path, meta: &fs::Metadata) -> Option<String> {
    let real = match fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) => return Some(format!("{}: {e}: its commands are not run", path.display())),
    };
    let euid = effective_uid();
    let why = if meta.uid() != euid && meta.uid() != 0 {
        Some("is owned by another user")
    } else if meta.mode() & 0o022 != 0 {
        Some("is writable by others")
    } else {
        None
    };
    if let Some(why) = why {
        return Some(format!(
            "{} {why} (mode {:04o}, owner {}): its commands are not run; chmod 600 and chown {}",
            path.display(),
            meta.mode() & 0o7777,
            private_dir::user_name(meta.uid()),
            private_dir::user_name(euid),
        ));
    }
    let parent = real.parent()?;
    private_dir::check_above(parent)
        .err()
        .map(|e| format!("{}: its commands are not run: {e}", path.display()))
}

/// `config` without anything it would run: service commands and command log sources (the
/// journal and container sources run `journalctl` and `docker`). The services stay, so the
/// operator still sees them, with nothing to run.
pub fn without_commands(mut config: Config) -> Config {
    for s in &mut config.services {
        s.status = None;
        s.test = None;
        s.reload = None;
        s.restart = None;
    }
    config
        .logs
        .retain(|l| l.command.is_none() && l.stream.is_none());
    config
}
