//! Reading inside another root directory, such as a container's filesystem seen through
//! `/proc/PID/root`, without ever leaving it.
//!
//! A plain open of `/proc/PID/root/etc/nginx/nginx.conf` enters the container's root, but an
//! absolute symlink met on the way (`conf.d -> /etc/other`) or enough `..` is resolved against the
//! host's root: a container could make gatewatch, running as root, read any host file. Every
//! lookup here is openat2(2) relative to the root's descriptor with RESOLVE_IN_ROOT (the kernel
//! treats the root as "/" for absolute links and `..`) and RESOLVE_NO_MAGICLINKS (a
//! `/proc/self/fd/N` link names a file of gatewatch, not of the container). Without openat2
//! (Linux before 5.6) nothing is read: there is no fallback to a plain open.

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Dir, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::regular_file::{kind_name, refuse, regular_only};
use crate::sanitize::sanitize;

/// Most symbolic links [`Root::resolve`] follows in a row, as the kernel's own limit.
const MAX_LINKS: usize = 40;
/// How often a lookup is retried when the kernel answers EAGAIN (a rename raced a `..`).
const RETRIES: usize = 8;

/// An opened root directory; paths given to it are inside it, absolute or not. Cloning shares
/// the one descriptor.
#[derive(Clone)]
pub struct Root {
    fd: Arc<OwnedFd>,
    path: PathBuf,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root").field("path", &self.path).finish()
    }
}

/// What a path inside a root turns out to be once every link is followed inside the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A regular file. `in_root` is where it really is in the root, links followed. `host_path`
    /// names the same file from the host, through the root's own path: right for showing, and
    /// for a root nobody else writes. A process that can write inside the root can put a link on
    /// that path later, which a plain open would follow on the host: reopen with
    /// [`Root::open_file`] on `in_root`, which stays inside the root whatever is linked there.
    File {
        in_root: PathBuf,
        host_path: PathBuf,
    },
    /// The stdout or stderr of the root's processes (`/dev/stdout`, `/proc/self/fd/2`...): for
    /// a container, the log stream its runtime keeps. Never opened: on the host it would be
    /// gatewatch's own.
    Stream(StdStream),
    /// Nothing there (yet).
    Missing,
    /// Something that is not followed: a directory, a FIFO, a link loop, a link into `/proc`.
    /// The text says which, without a control character.
    Unusable(String),
}

/// Which of the two standard output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StdStream {
    Stdout,
    Stderr,
}

impl fmt::Display for StdStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StdStream::Stdout => "stdout",
            StdStream::Stderr => "stderr",
        })
    }
}

/// A directory listing stopped: it holds more names than the caller allowed.
#[derive(Debug, thiserror::Error)]
#[error("more than {limit} directory entries")]
pub struct TooManyEntries {
    pub limit: usize,
}

impl Root {
    /// Opens `path` as a root. Fails when it is not a directory, or when this kernel has no
    /// openat2 (then nothing inside a root could be read safely).
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| with_path(path, e.into()))?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let root = Root {
            fd: Arc::new(fd),
            path,
        };
        // Asked once here, so that an old kernel is a clear error up front.
        root.at(Path::new("."), OFlags::PATH | OFlags::CLOEXEC)
            .map_err(|e| with_path(&root.path, e))?;
        Ok(root)
    }

    /// The root's path on the host, as given to [`Root::open`] (made absolute).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a regular file for reading, inside the root. A FIFO, device, socket or directory is
    /// refused without blocking, with the [`crate::regular_file::NotRegular`] error that says
    /// what it is.
    pub fn open_file(&self, path_in_root: &Path) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        match self.at(path_in_root, flags) {
            Ok(fd) => regular_only(File::from(fd), path_in_root),
            // A Unix socket cannot be opened at all (ENXIO): say what it is instead.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                match self.metadata(path_in_root, true) {
                    Ok(meta) if !meta.file_type().is_file() => Err(refuse(path_in_root, &meta)),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The names in a directory inside the root, unsorted, without "." and "..". More than
    /// `limit` names is an error carrying [`TooManyEntries`].
    pub fn read_dir(&self, dir_in_root: &Path, limit: usize) -> io::Result<Vec<OsString>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let dir = Dir::new(self.at(dir_in_root, flags)?)?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if names.len() >= limit {
                return Err(io::Error::other(TooManyEntries { limit }));
            }
            names.push(OsString::from_vec(name.to_vec()));
        }
        Ok(names)
    }

    /// What is at a path inside the root: like `fs::metadata` (`follow`) or
    /// `fs::symlink_metadata`, every other link resolved inside the root.
    pub fn metadata(&self, path_in_root: &Path, follow: bool) -> io::Result<Metadata> {
        let mut flags = OFlags::PATH | OFlags::CLOEXEC;
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        File::from(self.at(path_in_root, flags)?).metadata()
    }

    /// Follows `path_in_root` link by link inside the root and says what it ends at. Each link's
    /// text is read before anything is opened, so a log linked to `/dev/stdout` is recognised as
    /// the stream and never opened.
    pub fn resolve(&self, path_in_root: &Path) -> Resolved {
        let mut current = path_in_root.to_path_buf();
        for _ in 0..=MAX_LINKS {
            if let Some(stream) = std_stream(&current) {
                return Resolved::Stream(stream);
            }
            let fd = match self.at(&current, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC) {
                Ok(fd) => fd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Resolved::Missing,
                Err(e) => return unusable(&current, &e.to_string()),
            };
            let file = File::from(fd);
            let meta = match file.metadata() {
                Ok(meta) => meta,
                Err(e) => return unusable(&current, &e.to_string()),
            };
            if meta.file_type().is_symlink() {
                let target = match rustix::fs::readlinkat(&file, "", Vec::new()) {
                    Ok(target) => PathBuf::from(OsString::from_vec(target.into_bytes())),
                    Err(e) => return unusable(&current, &io::Error::from(e).to_string()),
                };
                // Joined, not normalised: the kernel resolves "dir/../x" through dir's own links.
                current = match current.parent() {
                    Some(parent) if !target.is_absolute() => parent.join(target),
                    _ => target,
                };
                continue;
            }
            if !meta.file_type().is_file() {
                let what = format!("{}, not a regular file", kind_name(&meta));
                return unusable(&current, &what);
            }
            return match self.locate(&file, &meta) {
                Ok(in_root) => Resolved::File {
                    host_path: self
                        .path
                        .join(in_root.strip_prefix("/").unwrap_or(&in_root)),
                    in_root,
                },
                Err(e) => unusable(&current, &e.to_string()),
            };
        }
        unusable(
            path_in_root,
            &format!("more than {MAX_LINKS} symbolic links in a row"),
        )
    }

    /// Where an open file is inside the root: the kernel's name for it (`/proc/self/fd/N`) less
    /// the kernel's name for the root. In another mount namespace both are that namespace's
    /// paths ("/" for its root), so the difference is right either way. The name is checked to
    /// lead back to the same file: one renamed or deleted meanwhile is an error, not a guess.
    fn locate(&self, file: &File, meta: &Metadata) -> io::Result<PathBuf> {
        let name = |fd: i32| std::fs::read_link(format!("/proc/self/fd/{fd}"));
        let seen = name(file.as_raw_fd())?;
        let root_seen = name(self.fd.as_raw_fd())?;
        let Ok(rel) = seen.strip_prefix(&root_seen) else {
            return Err(io::Error::other(format!(
                "the kernel places it at {}, outside the root {}",
                sanitize(&seen.to_string_lossy()),
                sanitize(&root_seen.to_string_lossy())
            )));
        };
        let in_root = Path::new("/").join(rel);
        let again = self.metadata(&in_root, false)?;
        if (again.dev(), again.ino()) != (meta.dev(), meta.ino()) {
            return Err(io::Error::other("it was moved while being resolved"));
        }
        Ok(in_root)
    }

    /// openat2 inside the root. Errors name no path (callers add theirs); ENOSYS and ELOOP say
    /// what they mean here.
    fn at(&self, path_in_root: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        // An empty path would be EINVAL for openat2: it means the root itself.
        let path = if path_in_root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path_in_root
        };
        let mut tries = 0;
        loop {
            match rustix::fs::openat2(&*self.fd, path, flags, Mode::empty(), resolve) {
                Ok(fd) => return Ok(fd),
                Err(Errno::AGAIN) if tries < RETRIES => tries += 1,
                Err(Errno::NOSYS) => {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "this kernel has no openat2(2) (Linux 5.6 or later): \
                         files inside a container's root are not read without it",
                    ));
                }
                Err(Errno::LOOP) => {
                    return Err(io::Error::other(
                        "a loop of symbolic links, or a link into /proc, which is not \
                         followed inside a root",
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("{}: {e}", sanitize(&path.to_string_lossy())),
    )
}

fn unusable(path: &Path, why: &str) -> Resolved {
    Resolved::Unusable(sanitize(&format!("{}: {why}", path.to_string_lossy())).into_owned())
}

/// The stream a path names by its text alone, however it is spelled ("/dev//stdout",
/// "dev/./stderr"): what the official images link their log files to. `/proc/1/fd/N` is the
/// container's first process, whose output is the container's log.
fn std_stream(path: &Path) -> Option<StdStream> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => parts.push(name.to_str()?),
            Component::RootDir | Component::CurDir => {}
            // ".." changes what the rest names: left to the kernel.
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    match parts.as_slice() {
        ["dev", "stdout"] | ["dev", "fd", "1"] => Some(StdStream::Stdout),
        ["dev", "stderr"] | ["dev", "fd", "2"] => Some(StdStream::Stderr),
        ["proc", "self" | "thread-self" | "1", "fd", fd] => match *fd {
            "1" => Some(StdStream::Stdout),
            "2" => Some(StdStream::Stderr),
            _ => None,
        },
        _ => None,
    }
}

/// A path through a process's root, `/proc/PID/root/…`: that root and the path inside it.
pub fn split_proc_root(path: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut parts = path.components();
    let (Some(Component::RootDir), Some(Component::Normal(proc)), Some(Component::Normal(pid))) =
        (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let is_pid = pid
        .to_str()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if proc != "proc" || !is_pid || parts.next() != Some(Component::Normal("root".as_ref())) {
        return None;
    }
    let root = Path::new("/proc").join(pid).join("root");
    Some((root, Path::new("/").join(parts.as_path())))
}

/// Opens `inside` within the root at `root` (`/proc/PID/root`) as [`Root::open_file`] does.
/// A root that is the host's own is refused: the container's process is gone and its pid now
/// belongs to a process of the host, whose files the container's config must not name.
pub fn open_in_proc_root(root: &Path, inside: &Path) -> io::Result<File> {
    let opened = Root::open(root)?;
    let host = std::fs::metadata("/")?;
    let this = std::fs::metadata(root)?;
    if (this.dev(), this.ino()) == (host.dev(), host.ino()) {
        return Err(io::Error::other(format!(
            "{}: its process is gone or shares the host's root; not read",
            sanitize(&root.display().to_string())
        )));
    }
    opened.open_file(inside)
}

#[cfg(test)]
#[path = "rootfs_tests.rs"]
pub(crate) mod tests;
