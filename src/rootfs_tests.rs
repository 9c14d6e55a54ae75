//! A temporary directory is a root; so is a child's `/proc/PID/root` in its own mount namespace.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::Read;
use std::os::unix::fs::symlink;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::regular_file::not_regular;

/// A temporary area holding a root `a/` and, beside it, decoys at the same absolute paths a
/// link inside the root names: a read that escapes the root reads a decoy.
pub(crate) struct Area {
    pub(crate) dir: tempfile::TempDir,
}

impl Area {
    pub(crate) fn new() -> Area {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        Area { dir }
    }

    fn top(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn root_dir(&self) -> PathBuf {
        self.top().join("a")
    }

    fn root(&self) -> Root {
        Root::open(&self.root_dir()).unwrap()
    }

    /// Writes `text` at `path` inside the root, making the directories.
    pub(crate) fn put(&self, path: &str, text: &str) {
        write_at(&self.root_dir(), path, text);
    }

    /// An absolute path that exists on the host (in the temporary area) with `host_text`, and
    /// inside the root with `root_text`.
    pub(crate) fn both(&self, name: &str, host_text: &str, root_text: &str) -> String {
        let path = self.top().join("decoy").join(name);
        write_at(Path::new("/"), &path.to_string_lossy(), host_text);
        let path = path.to_string_lossy().into_owned();
        self.put(&path, root_text);
        path
    }

    pub(crate) fn link(&self, path: &str, target: &str) {
        let at = in_dir(&self.root_dir(), path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        symlink(target, at).unwrap();
    }
}

fn in_dir(dir: &Path, path: &str) -> PathBuf {
    dir.join(path.trim_start_matches('/'))
}

pub(crate) fn write_at(dir: &Path, path: &str, text: &str) {
    let at = in_dir(dir, path);
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::fs::write(at, text).unwrap();
}

fn read(root: &Root, path: &str) -> io::Result<String> {
    let mut text = String::new();
    root.open_file(Path::new(path))?.read_to_string(&mut text)?;
    Ok(text)
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Runs `f` on another thread; a test failure, not a hang, if it blocks.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("blocked for 5 seconds")
}

#[test]
fn an_absolute_link_reads_the_roots_file_not_the_hosts() {
    let area = Area::new();
    // The same absolute path on the host (the decoy) and inside the root.
    let shared = area.top().join("decoy/other.conf");
    write_at(Path::new("/"), &shared.to_string_lossy(), "host\n");
    area.put(&shared.to_string_lossy(), "root\n");
    area.link("/etc/nginx/conf.d/link.conf", &shared.to_string_lossy());
    // A plain open through the root's path escapes to the decoy: what this module prevents.
    let plain = std::fs::read_to_string(area.root_dir().join("etc/nginx/conf.d/link.conf"));
    assert_eq!(plain.unwrap(), "host\n");

    let root = area.root();
    assert_eq!(
        read(&root, "/etc/nginx/conf.d/link.conf").unwrap(),
        "root\n"
    );
    // A link to a directory, then a file in it.
    area.link(
        "/etc/nginx/dir",
        &area.top().join("decoy").to_string_lossy(),
    );
    assert_eq!(read(&root, "etc/nginx/dir/other.conf").unwrap(), "root\n");
    assert_eq!(
        root.resolve(Path::new("/etc/nginx/conf.d/link.conf")),
        Resolved::File {
            in_root: shared.clone(),
            host_path: in_dir(&area.root_dir(), &shared.to_string_lossy()),
        }
    );
}

#[test]
fn dot_dot_stays_in_the_root() {
    let area = Area::new();
    write_at(area.top(), "secret", "host\n");
    area.put("secret", "root\n");
    area.link("/etc/up", "../../../../../../../secret");
    let root = area.root();
    assert_eq!(read(&root, "../secret").unwrap(), "root\n");
    assert_eq!(read(&root, "/etc/../../../../secret").unwrap(), "root\n");
    assert_eq!(read(&root, "/etc/up").unwrap(), "root\n");
    match root.resolve(Path::new("/etc/up")) {
        Resolved::File { in_root, host_path } => {
            assert_eq!(in_root, Path::new("/secret"));
            assert_eq!(std::fs::read_to_string(host_path).unwrap(), "root\n");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_link_loop_is_an_error() {
    let area = Area::new();
    area.link("/etc/one", "/etc/two");
    area.link("/etc/two", "one");
    let root = area.root();
    let error = read(&root, "/etc/one").unwrap_err();
    assert!(
        error.to_string().contains("loop of symbolic links"),
        "{error}"
    );
    match root.resolve(Path::new("/etc/one")) {
        Resolved::Unusable(why) => assert!(why.contains("symbolic links"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fifos_sockets_and_directories_are_refused_without_blocking() {
    let area = Area::new();
    mkfifo(&area.root_dir().join("etc/fifo.conf"));
    area.link("/etc/via-link.conf", "/etc/fifo.conf");
    let _socket =
        std::os::unix::net::UnixListener::bind(area.root_dir().join("etc/s.sock")).unwrap();
    let root = area.root();
    let (fifo, linked, socket, dir, resolved) = within_seconds(move || {
        let what = |path: &str| {
            let error = root.open_file(Path::new(path)).unwrap_err();
            not_regular(&error).map(|n| n.what)
        };
        (
            what("/etc/fifo.conf"),
            what("/etc/via-link.conf"),
            what("/etc/s.sock"),
            what("/etc"),
            root.resolve(Path::new("/etc/via-link.conf")),
        )
    });
    assert_eq!(fifo, Some("a FIFO"));
    assert_eq!(linked, Some("a FIFO"));
    assert_eq!(socket, Some("a socket"));
    assert_eq!(dir, Some("a directory"));
    // The host's /dev/zero is out of reach: inside this root there is none.
    area.link("/etc/zero.conf", "/dev/zero");
    let error = area
        .root()
        .open_file(Path::new("/etc/zero.conf"))
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert_eq!(
        resolved,
        Resolved::Unusable("/etc/fifo.conf: a FIFO, not a regular file".into())
    );
}

#[test]
fn logs_linked_to_the_standard_streams_are_named_and_never_opened() {
    let area = Area::new();
    // A regular file where /dev/stdout would be: were the link opened, this file would be
    // reported instead of the stream.
    area.put("/dev/stdout", "not a stream\n");
    area.link("/var/log/nginx/access.log", "/dev/stdout");
    area.link("/var/log/nginx/error.log", "/dev/stderr");
    area.link("/var/log/app/out.log", "/proc/self/fd/1");
    area.link("/var/log/app/err.log", "/dev/fd/2");
    area.link("/var/log/app/chained.log", "../nginx/access.log");
    let root = area.root();
    let resolve = |p: &str| root.resolve(Path::new(p));
    assert_eq!(
        resolve("/var/log/nginx/access.log"),
        Resolved::Stream(StdStream::Stdout)
    );
    assert_eq!(
        resolve("/var/log/nginx/error.log"),
        Resolved::Stream(StdStream::Stderr)
    );
    assert_eq!(
        resolve("/var/log/app/out.log"),
        Resolved::Stream(StdStream::Stdout)
    );
    assert_eq!(
        resolve("/var/log/app/err.log"),
        Resolved::Stream(StdStream::Stderr)
    );
    assert_eq!(
        resolve("/var/log/app/chained.log"),
        Resolved::Stream(StdStream::Stdout)
    );
    // Named directly in the config.
    assert_eq!(resolve("/dev/stderr"), Resolved::Stream(StdStream::Stderr));
    assert_eq!(resolve("/var/log/app/missing.log"), Resolved::Missing);
    // A magic link is not followed even when asked for directly.
    area.link("/var/log/app/fd3.log", "/proc/self/fd/3");
    assert!(matches!(
        resolve("/var/log/app/fd3.log"),
        Resolved::Missing | Resolved::Unusable(_)
    ));
}

#[test]
fn stream_names_however_spelled() {
    assert_eq!(
        std_stream(Path::new("/dev//stdout")),
        Some(StdStream::Stdout)
    );
    assert_eq!(
        std_stream(Path::new("dev/./stderr")),
        Some(StdStream::Stderr)
    );
    assert_eq!(
        std_stream(Path::new("/proc/1/fd/2")),
        Some(StdStream::Stderr)
    );
    assert_eq!(std_stream(Path::new("/proc/self/fd/3")), None);
    assert_eq!(std_stream(Path::new("/x/../dev/stdout")), None);
    assert_eq!(std_stream(Path::new("/var/log/stdout")), None);
}

#[test]
fn a_regular_log_gives_a_host_path_that_exists() {
    let area = Area::new();
    area.link("/var/log/nginx", "/data/logs");
    area.put("/data/logs/access.log", "GET / 502\n");
    let root = area.root();
    match root.resolve(Path::new("/var/log/nginx/access.log")) {
        Resolved::File { in_root, host_path } => {
            assert_eq!(in_root, Path::new("/data/logs/access.log"));
            assert_eq!(host_path, area.root_dir().join("data/logs/access.log"));
            assert_eq!(std::fs::read_to_string(&host_path).unwrap(), "GET / 502\n");
            assert_eq!(
                read(&root, &in_root.to_string_lossy()).unwrap(),
                "GET / 502\n"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn directory_listings_are_bounded() {
    let area = Area::new();
    for name in ["a.conf", "b.conf", "c.conf"] {
        area.put(&format!("/etc/conf.d/{name}"), "");
    }
    let root = area.root();
    let mut names = root.read_dir(Path::new("/etc/conf.d"), 3).unwrap();
    names.sort();
    assert_eq!(names, ["a.conf", "b.conf", "c.conf"]);
    let error = root.read_dir(Path::new("/etc/conf.d"), 2).unwrap_err();
    assert!(error.get_ref().unwrap().is::<TooManyEntries>(), "{error}");
    assert!(root.read_dir(Path::new("/etc/conf.d/a.conf"), 3).is_err());
}

#[test]
fn only_a_directory_is_a_root() {
    let area = Area::new();
    area.put("/file", "");
    let error = Root::open(&area.root_dir().join("file")).unwrap_err();
    assert!(error.to_string().contains("file"), "{error}");
    assert!(Root::open(&area.root_dir().join("missing")).is_err());
}

/// `unshare -m sleep`, killed and reaped on drop (a panic included): its mount namespace and
/// the tmpfs mounted in it go with it.
struct Namespaced(Child);

impl Drop for Namespaced {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_proc_root_in_another_mount_namespace() {
    let area = Area::new();
    let mnt = area.top().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sleep", "60"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let child = Namespaced(child);
    let pid = child.0.id();
    // unshare execs sleep once the namespace is made: wait until the child's differs from ours.
    let ours = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok() == Some(ours.clone()) {
        assert!(Instant::now() < deadline, "no new mount namespace");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("nsenter")
        .args(["--target", &pid.to_string(), "--mount", "--"])
        .args(["mount", "-t", "tmpfs", "gatewatch-test"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(status.success());
    let proc_root = PathBuf::from(format!("/proc/{pid}/root"));
    let inside = mnt.join("nginx.conf");
    std::fs::write(in_dir(&proc_root, &inside.to_string_lossy()), "inside\n").unwrap();
    // Only the child's namespace has the tmpfs.
    assert!(!inside.exists());

    let root = Root::open(&proc_root).unwrap();
    assert_eq!(read(&root, &inside.to_string_lossy()).unwrap(), "inside\n");
    match root.resolve(&inside) {
        Resolved::File { in_root, host_path } => {
            assert_eq!(in_root, inside);
            assert_eq!(host_path, in_dir(&proc_root, &inside.to_string_lossy()));
            assert_eq!(std::fs::read_to_string(&host_path).unwrap(), "inside\n");
        }
        other => panic!("{other:?}"),
    }
    drop(child);
}

#[test]
fn a_path_through_a_process_root_is_split_there_and_only_there() {
    let split = split_proc_root(Path::new("/proc/4242/root/var/log/nginx/error.log"));
    assert_eq!(
        split,
        Some((
            PathBuf::from("/proc/4242/root"),
            PathBuf::from("/var/log/nginx/error.log")
        ))
    );
    for other in [
        "/proc/self/root/etc/passwd",
        "/proc/4242/cwd/x",
        "/var/log/proc/1/root/x",
        "proc/1/root/x",
        "/proc//root/x",
    ] {
        assert_eq!(split_proc_root(Path::new(other)), None, "{other}");
    }
}

#[test]
fn a_process_root_that_is_the_hosts_is_refused() {
    // This process shares the host's root: what a reused pid of a gone container leads to.
    let own = format!("/proc/{}/root/etc/hostname", std::process::id());
    let e = crate::regular_file::open_regular(Path::new(&own)).unwrap_err();
    assert!(e.to_string().contains("shares the host's root"), "{e}");
}
