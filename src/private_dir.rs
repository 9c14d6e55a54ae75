//! A directory only we (and root) can change, and private files in it: where the diagnostics log,
//! the audit trail and reports go. gatewatch runs as root next to files other users can write, so
//! a path that someone else controls could turn our writes onto any file through a planted link.
//!
//! The rule is ssh's (`StrictModes`) and sudo's, with one relaxation: the directory must be owned
//! by the effective user and have no group or other bits, and every directory above it up to `/`
//! must be owned by the effective user or root and not writable by group or others. A root-owned
//! sticky directory (`/tmp`) is accepted above it: there no one can rename or remove what is ours.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const STICKY: u32 = 0o1000;

/// A directory that passed the check; see the module docs.
#[derive(Clone, Debug)]
pub struct PrivateDir {
    path: PathBuf,
}

/// Why a directory is not private enough to write in: one message, with how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotPrivate {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for NotPrivate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NotPrivate {}

impl PrivateDir {
    /// Checks the directories above `path`, creates what is missing (0700), then checks `path`
    /// itself; an existing directory of ours with group or other bits is narrowed to 0700.
    pub fn open(path: &Path) -> Result<PrivateDir, NotPrivate> {
        let io_error = |p: &Path, e: io::Error| NotPrivate {
            path: p.to_path_buf(),
            message: format!("{}: {e}", p.display()),
        };
        let absolute = std::path::absolute(path).map_err(|e| io_error(path, e))?;
        // Check before creating anything: a mkdir under someone else's directory is already theirs.
        let existing = absolute
            .ancestors()
            .find(|p| fs::symlink_metadata(p).is_ok())
            .unwrap_or(Path::new("/"));
        if existing != absolute {
            check_above(existing)?;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&absolute)
                .map_err(|e| io_error(&absolute, e))?;
        }
        // Links above are followed, as ssh does: each directory they lead to is checked.
        let real = fs::canonicalize(&absolute).map_err(|e| io_error(&absolute, e))?;
        if let Some(parent) = real.parent() {
            check_above(parent)?;
        }
        let meta = fs::metadata(&real).map_err(|e| io_error(&real, e))?;
        let euid = effective_uid();
        if !meta.is_dir() {
            return Err(refused(&real, &meta, "is not a directory", euid));
        }
        if meta.uid() != euid {
            return Err(refused(&real, &meta, "is not owned by us", euid));
        }
        if meta.mode() & 0o077 != 0 {
            // Ours, under directories only we or root can change: narrowing it is safe.
            fs::set_permissions(&real, fs::Permissions::from_mode(0o700))
                .map_err(|e| io_error(&real, e))?;
        }
        Ok(PrivateDir { path: real })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new file `name` (0600), never an existing one nor through a link: `AlreadyExists` when
    /// anything is there.
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.path.join(plain_name(name)?))
    }

    /// `name` opened for appending, created 0600 when missing; refused when it is a link, not a
    /// regular file, or someone else's.
    pub fn append(&self, name: &str) -> io::Result<File> {
        let path = self.path.join(plain_name(name)?);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            // O_NONBLOCK: a planted FIFO must not hang the open.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => io::Error::other(format!(
                    "{} is a symbolic link: not written through",
                    path.display()
                )),
                _ => e,
            })?;
        let meta = file.metadata()?;
        if !meta.is_file() || meta.uid() != effective_uid() {
            return Err(io::Error::other(format!(
                "{} is not a regular file of ours: not written",
                path.display()
            )));
        }
        Ok(file)
    }
}

/// The state directory (see `diagnostics::state_dir`), checked and created.
pub fn state_dir() -> Result<PrivateDir, NotPrivate> {
    let dir = crate::diagnostics::state_dir().ok_or_else(|| NotPrivate {
        path: PathBuf::new(),
        message: "no HOME or XDG_STATE_HOME for the state directory".into(),
    })?;
    PrivateDir::open(&dir)
}

/// Every directory from `dir` up to `/`: owned by us or root, not writable by group or others
/// unless root's and sticky.
pub(crate) fn check_above(dir: &Path) -> Result<(), NotPrivate> {
    let euid = effective_uid();
    for p in dir.ancestors() {
        let meta = fs::metadata(p).map_err(|e| NotPrivate {
            path: p.to_path_buf(),
            message: format!("{}: {e}", p.display()),
        })?;
        if meta.uid() != euid && meta.uid() != 0 {
            return Err(refused(p, &meta, "is owned by another user", euid));
        }
        let sticky_roots = meta.uid() == 0 && meta.mode() & STICKY != 0;
        if meta.mode() & 0o022 != 0 && !sticky_roots {
            return Err(refused(p, &meta, "is writable by others", euid));
        }
    }
    Ok(())
}

fn refused(path: &Path, meta: &fs::Metadata, why: &str, euid: u32) -> NotPrivate {
    NotPrivate {
        path: path.to_path_buf(),
        message: format!(
            "{} {why} (owner {}, mode {:04o}): gatewatch writes no files under it; \
             chown it to {} and chmod go-w (700 for the state directory), or set XDG_STATE_HOME \
             to a private directory",
            path.display(),
            user_name(meta.uid()),
            meta.mode() & 0o7777,
            user_name(euid),
        ),
    }
}

/// A file name, not a path: no separators, no `..`.
fn plain_name(name: &str) -> io::Result<&str> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::other(format!("{name:?} is not a file name")));
    }
    Ok(name)
}

pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

pub(crate) fn user_name(uid: u32) -> String {
    let mut users = sysinfo::Users::new().ok();
    crate::host::load_users(users.as_mut())
        .remove(&uid)
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::os::unix::fs::symlink;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_a_0700_dir_and_0600_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(&tmp.path().join("a/b")).unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        dir.append("x.log").unwrap().write_all(b"1\n").unwrap();
        dir.append("x.log").unwrap().write_all(b"2\n").unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("x.log")).unwrap(),
            "1\n2\n"
        );
        assert_eq!(mode(&dir.path().join("x.log")), 0o600);
        let err = dir.create_new("x.log").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(dir.append("../x.log").is_err());
    }

    #[test]
    fn an_existing_dir_of_ours_is_narrowed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state");
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        PrivateDir::open(&path).unwrap();
        assert_eq!(mode(&path), 0o700);
    }

    #[test]
    fn a_world_writable_parent_is_refused_before_anything_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = PrivateDir::open(&open.join("gatewatch")).unwrap_err();
        assert!(err.message.contains("is writable by others"), "{err}");
        assert!(err.message.contains("mode 0777"), "{err}");
        assert!(!open.join("gatewatch").exists());
    }

    #[test]
    fn links_in_a_private_dir_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(&tmp.path().join("s")).unwrap();
        let target = tmp.path().join("target");
        fs::write(&target, "keep").unwrap();
        symlink(&target, dir.path().join("x.log")).unwrap();
        let err = dir.append("x.log").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(dir.create_new("x.log").is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
    }
}
