//! Proxies in containers without the engine's API: proxy master processes whose mount namespace
//! differs from ours, found through /proc. Their config lives under `/proc/PID/root`.

use std::fs;
use std::path::Path;

use super::proxy_kind::{ContainerProxy, read_comm};

/// Foreign proxy masters reported at most.
pub const MAX_FOREIGN_PROXIES: usize = 256;

/// /proc entries looked at at most (a host has far fewer processes).
const MAX_PIDS: usize = 65_536;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignProxy {
    /// In the pid namespace of `proc_root`.
    pub pid: u32,
    pub kind: ContainerProxy,
    /// Its `comm`, sanitised.
    pub comm: String,
}

/// The proxy masters under `proc_root` (usually /proc) that live in another mount namespace
/// than `proc_root/self`, with a root directory of their own, by pid. A master is a proxy process whose parent is not the same
/// program (nginx's workers are nginx children of nginx). Unreadable entries are skipped:
/// processes come and go while we read.
pub fn proxies_in_other_mount_namespaces(proc_root: &Path) -> Vec<ForeignProxy> {
    let Some(own_ns) = mount_namespace(&proc_root.join("self")) else {
        return Vec::new();
    };
    let own_root = root_id(&proc_root.join("self"));
    let Ok(entries) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut found: Vec<ForeignProxy> = entries
        .take(MAX_PIDS)
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let comm = read_comm(proc_root, pid)?;
            let kind = ContainerProxy::from_program(&comm)?;
            let parent = parent_pid(proc_root, pid)?;
            if read_comm(proc_root, parent).as_deref() == Some(comm.as_str()) {
                return None;
            }
            let process = proc_root.join(pid.to_string());
            let ns = mount_namespace(&process)?;
            // A service sandboxed by systemd (PrivateTmp, ProtectSystem) has a mount namespace
            // of its own but the host's root: it is the host's proxy, not a container's.
            let same_root = own_root.is_some() && root_id(&process) == own_root;
            (ns != own_ns && !same_root).then_some(ForeignProxy { pid, kind, comm })
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found.truncate(MAX_FOREIGN_PROXIES);
    found
}

/// The device and inode of a process's root directory.
fn root_id(process: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(process.join("root")).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The `mnt:[INODE]` link of a process directory.
fn mount_namespace(process: &Path) -> Option<String> {
    let link = fs::read_link(process.join("ns").join("mnt")).ok()?;
    link.to_str().map(str::to_string)
}

/// The parent pid from `/proc/PID/stat`: the 2nd field after the `)` that ends `comm` (which
/// may itself hold spaces and parentheses).
fn parent_pid(proc_root: &Path, pid: u32) -> Option<u32> {
    let stat = fs::read(proc_root.join(pid.to_string()).join("stat")).ok()?;
    let stat = stat.get(..stat.len().min(4096))?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// One fake process: comm, parent and mount namespace.
    fn process(root: &Path, pid: &str, comm: &str, ppid: u32, ns: &str) {
        let dir = root.join(pid);
        fs::create_dir_all(dir.join("ns")).expect("pid dir");
        fs::write(dir.join("comm"), format!("{comm}\n")).expect("comm");
        fs::write(
            dir.join("stat"),
            format!("{pid} ({comm}) S {ppid} 1 1 0 -1 4194560"),
        )
        .expect("stat");
        symlink(format!("mnt:[{ns}]"), dir.join("ns").join("mnt")).expect("ns link");
    }

    #[test]
    fn masters_in_other_namespaces_are_found_workers_and_our_own_are_not() {
        let root = tempfile::tempdir().expect("temp dir");
        let r = root.path();
        process(r, "self", "gatewatch", 1, "100");
        process(r, "1", "systemd", 0, "100");
        process(r, "20", "nginx", 1, "100"); // the host's own nginx
        process(r, "30", "containerd-shim", 1, "100");
        process(r, "31", "nginx", 30, "200"); // in a container
        process(r, "32", "nginx", 31, "200"); // its worker
        process(r, "40", "haproxy", 30, "300");
        process(r, "50", "python3", 30, "400");
        process(r, "60", "caddy", 30, "500");
        fs::write(r.join("60").join("stat"), "garbage").expect("unreadable stat");
        fs::create_dir_all(r.join("70")).expect("a pid that vanished");
        fs::write(r.join("notapid"), "x").expect("noise");

        let found = proxies_in_other_mount_namespaces(r);
        let seen: Vec<(u32, ContainerProxy, &str)> = found
            .iter()
            .map(|p| (p.pid, p.kind, p.comm.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (31, ContainerProxy::Nginx, "nginx"),
                (40, ContainerProxy::Haproxy, "haproxy")
            ]
        );
    }

    #[test]
    fn a_hostile_comm_is_sanitised_and_a_proc_without_self_gives_nothing() {
        let root = tempfile::tempdir().expect("temp dir");
        let r = root.path();
        assert!(proxies_in_other_mount_namespaces(r).is_empty());
        process(r, "self", "gatewatch", 1, "100");
        process(r, "5", "ngi\x1bnx", 1, "200");
        assert!(proxies_in_other_mount_namespaces(r).is_empty());
    }

    #[test]
    fn stat_with_parentheses_in_comm() {
        let root = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(root.path().join("9")).expect("dir");
        fs::write(root.path().join("9/stat"), "9 (a) b) S 4 9 9").expect("stat");
        assert_eq!(parent_pid(root.path(), 9), Some(4));
    }
}
