//! Opening a file for reading that someone else may have replaced with something that is not one.
//!
//! gatewatch runs as root beside paths less trusted users can write: a FIFO there would block
//! `open()` until a writer appears, and `/dev/zero` would feed a reader forever. So every file read
//! is opened with O_NONBLOCK (opening a FIFO returns at once) and refused unless `fstat` on the
//! opened descriptor, not on the path, which could change in between, says it is a regular file.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// The path opened to something other than a regular file. The message leaves the path out:
/// every caller's error already starts with it ("/var/log/x.log: cannot open: a FIFO, ...").
#[derive(Debug, thiserror::Error)]
#[error("{what}, not a regular file")]
pub struct NotRegular {
    pub path: PathBuf,
    /// What it is instead, with its article: "a FIFO", "a character device", ...
    pub what: &'static str,
}

/// Opens `path` read-only; an error if it is not a regular file. The error for that case carries a
/// [`NotRegular`] (see [`not_regular`]), whose message says what it is instead.
pub fn open_regular(path: &Path) -> io::Result<File> {
    // A file in a container, reached through its process's root: a link the container put
    // there must resolve inside that root, never on the host's.
    if let Some((root, inside)) = crate::rootfs::split_proc_root(path) {
        return crate::rootfs::open_in_proc_root(&root, &inside);
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => file,
        // A Unix socket cannot be opened at all (ENXIO): say what it is rather than "no device".
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => match std::fs::metadata(path) {
            Ok(meta) if !meta.file_type().is_file() => return Err(refuse(path, &meta)),
            _ => return Err(e),
        },
        Err(e) => return Err(e),
    };
    regular_only(file, path)
}

/// `file`, opened read-only with O_NONBLOCK, if `fstat` says it is a regular file (with
/// O_NONBLOCK cleared); the [`NotRegular`] error naming what it is otherwise. Opening is the
/// caller's: here, or inside a container's root (`crate::rootfs`).
pub(crate) fn regular_only(file: File, path: &Path) -> io::Result<File> {
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(refuse(path, &meta));
    }
    // Regular files ignore O_NONBLOCK, but clear it so that reads keep their usual meaning should
    // that ever change (on a network file system, say).
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open and owned by `file` for the duration of both calls.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above; only the status flags of our own descriptor change.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

pub(crate) fn refuse(path: &Path, meta: &Metadata) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        NotRegular {
            path: path.to_path_buf(),
            what: kind_name(meta),
        },
    )
}

/// Reads all of a regular file as UTF-8 text, like `fs::read_to_string` but through
/// [`open_regular`].
pub fn read_regular_to_string(path: &Path) -> io::Result<String> {
    read_regular_with_metadata(path).map(|(text, _)| text)
}

/// [`read_regular_to_string`], with the metadata of the very file read (its owner and mode are
/// those of what was read, not of what the path names a moment later).
pub fn read_regular_with_metadata(path: &Path) -> io::Result<(String, Metadata)> {
    let mut file = open_regular(path)?;
    let meta = file.metadata()?;
    let mut text = String::new();
    io::Read::read_to_string(&mut file, &mut text)?;
    Ok((text, meta))
}

/// The [`NotRegular`] inside an error from [`open_regular`], if that is why it failed.
pub fn not_regular(error: &io::Error) -> Option<&NotRegular> {
    error.get_ref()?.downcast_ref::<NotRegular>()
}

/// What a file that is not regular is, for messages.
pub fn kind_name(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "an unknown kind of file"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::io::Read;

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    fn refused(path: &Path) -> String {
        let error = open_regular(path).unwrap_err();
        assert!(not_regular(&error).is_some(), "{error}");
        error.to_string()
    }

    #[test]
    fn regular_files_open_and_read_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "line\n").unwrap();
        let mut file = open_regular(&path).unwrap();
        // SAFETY: the descriptor is open.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0);
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "line\n");
        assert_eq!(read_regular_to_string(&path).unwrap(), "line\n");
    }

    #[test]
    fn fifos_devices_directories_and_symlinks_to_them_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.log");
        mkfifo(&fifo);
        assert_eq!(refused(&fifo), "a FIFO, not a regular file");
        let zero = dir.path().join("zero.log");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(refused(&zero), "a character device, not a regular file");
        assert!(refused(dir.path()).ends_with("a directory, not a regular file"));
        let socket = dir.path().join("s.log");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(refused(&socket).ends_with("a socket, not a regular file"));
        let missing = open_regular(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(not_regular(&missing).is_none());
    }
}
