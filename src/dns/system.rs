//! The system configuration: resolv.conf and the hosts file at configurable paths, re-read when
//! either file changes. hickory reads them only when a resolver is built, and the point of
//! watching a host in trouble is to notice that someone just edited them.

use std::fs::{self, Metadata};
use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hickory_resolver::Hosts;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::system_conf::parse_resolv_conf;

use crate::regular_file::open_regular;
use crate::sanitize::sanitize;

/// What identifies one version of a file without reading it. A replaced file (rename over it)
/// changes inode; an edit in place changes size or mtime; ctime catches an edit within the
/// mtime's granularity that kept the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Fingerprint {
    fn of(meta: &Metadata) -> Self {
        Fingerprint {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The state of a path as last seen: a missing file is a state too, so its appearance is a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stamp {
    Present(Fingerprint),
    Absent(io::ErrorKind),
}

fn stamp(path: &Path) -> Stamp {
    match fs::metadata(path) {
        Ok(meta) => Stamp::Present(Fingerprint::of(&meta)),
        Err(e) => Stamp::Absent(e.kind()),
    }
}

/// resolv.conf as hickory understands it.
#[derive(Clone, Debug)]
pub(super) struct ResolvConf {
    pub config: ResolverConfig,
    pub opts: ResolverOpts,
}

pub(super) struct SystemFiles {
    resolv_path: PathBuf,
    hosts_path: PathBuf,
    resolv_stamp: Option<Stamp>,
    /// The error is sanitised and names the file.
    resolv: Result<ResolvConf, String>,
    hosts_stamp: Option<Stamp>,
    hosts: Arc<Hosts>,
    hosts_problem: Option<String>,
    reloads: u64,
}

impl SystemFiles {
    /// Reads nothing yet: the first [`SystemFiles::refresh`] does.
    pub fn new(resolv_conf: PathBuf, hosts_file: PathBuf) -> Self {
        SystemFiles {
            resolv_path: resolv_conf,
            hosts_path: hosts_file,
            resolv_stamp: None,
            resolv: Err("resolv.conf not read yet".to_owned()),
            hosts_stamp: None,
            hosts: Arc::new(Hosts::default()),
            hosts_problem: None,
            reloads: 0,
        }
    }

    /// Re-reads whichever file changed since the last call (both, the first time).
    pub fn refresh(&mut self) {
        let now = stamp(&self.resolv_path);
        if self.resolv_stamp != Some(now) {
            self.resolv_stamp = Some(now);
            self.resolv = read_resolv_conf(&self.resolv_path);
            self.reloads += 1;
        }
        let now = stamp(&self.hosts_path);
        if self.hosts_stamp != Some(now) {
            self.hosts_stamp = Some(now);
            let (hosts, problem) = read_hosts(&self.hosts_path);
            self.hosts = Arc::new(hosts);
            self.hosts_problem = problem;
            self.reloads += 1;
        }
    }

    pub fn resolv(&self) -> Result<&ResolvConf, &str> {
        self.resolv.as_ref().map_err(String::as_str)
    }

    pub fn hosts(&self) -> Arc<Hosts> {
        Arc::clone(&self.hosts)
    }

    pub fn hosts_problem(&self) -> Option<&str> {
        self.hosts_problem.as_deref()
    }

    /// How many times a file was (re-)read; for tests of the change detection.
    #[cfg(test)]
    pub fn reloads(&self) -> u64 {
        self.reloads
    }
}

fn read_resolv_conf(path: &Path) -> Result<ResolvConf, String> {
    let problem = |what: &dyn std::fmt::Display| {
        sanitize(&format!("{}: {what}", path.display())).into_owned()
    };
    let mut bytes = Vec::new();
    open_regular(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|e| problem(&format!("cannot read: {e}")))?;
    let (config, opts) = parse_resolv_conf(bytes).map_err(|e| problem(&e))?;
    Ok(ResolvConf { config, opts })
}

/// Most of a resolv.conf read as text: glibc itself reads three nameservers and a short search
/// list, so anything longer is not a resolv.conf.
const MAX_RESOLV_CONF_BYTES: usize = 64 * 1024;

/// The nameservers a resolv.conf's text names, in its order, each once (on port 53: resolv.conf
/// has no ports). For a file read from somewhere other than the host's own `/etc` (a
/// container's root); the error is sanitised.
pub(crate) fn resolv_conf_nameservers(text: &[u8]) -> Result<Vec<SocketAddr>, String> {
    if text.len() > MAX_RESOLV_CONF_BYTES {
        return Err(format!(
            "resolv.conf is {} bytes, more than the {MAX_RESOLV_CONF_BYTES} a resolv.conf can be",
            text.len()
        ));
    }
    let (config, _) =
        parse_resolv_conf(text).map_err(|e| sanitize(&format!("resolv.conf: {e}")).into_owned())?;
    let mut servers: Vec<SocketAddr> = Vec::new();
    for server in config.name_servers() {
        let addr = SocketAddr::new(server.ip, 53);
        if !servers.contains(&addr) {
            servers.push(addr);
        }
    }
    Ok(servers)
}

/// A missing hosts file is an empty one, as glibc treats it.
fn read_hosts(path: &Path) -> (Hosts, Option<String>) {
    let mut hosts = Hosts::default();
    let result = open_regular(path).and_then(|file| hosts.read_hosts_conf(file));
    match result {
        Ok(()) => (hosts, None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (Hosts::default(), None),
        Err(e) => {
            let msg = format!("{}: cannot read the hosts file: {e}", path.display());
            (Hosts::default(), Some(sanitize(&msg).into_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::Query;
    use hickory_resolver::proto::rr::{Name, RecordType};

    fn has_host(files: &SystemFiles, name: &str) -> bool {
        let query = Query::query(Name::from_ascii(name).unwrap(), RecordType::A);
        files.hosts().lookup_static_host(&query).is_some()
    }

    #[test]
    fn reads_both_files_once_until_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let resolv = dir.path().join("resolv.conf");
        let hosts = dir.path().join("hosts");
        fs::write(&resolv, "nameserver 127.0.0.1\nsearch corp.test\n").unwrap();
        fs::write(&hosts, "10.1.1.1 app.test\n").unwrap();
        let mut files = SystemFiles::new(resolv.clone(), hosts.clone());
        files.refresh();
        assert_eq!(files.reloads(), 2);
        let conf = files.resolv().unwrap();
        assert_eq!(conf.config.name_servers().len(), 1);
        assert_eq!(conf.config.search().len(), 1);
        assert!(has_host(&files, "app.test"));

        files.refresh();
        assert_eq!(files.reloads(), 2, "unchanged files are not re-read");

        // Same size, new content: caught by mtime/ctime.
        fs::write(&hosts, "10.1.1.1 web.test\n").unwrap();
        files.refresh();
        assert_eq!(files.reloads(), 3);
        assert!(has_host(&files, "web.test"));
        assert!(!has_host(&files, "app.test"));

        // Replaced by rename: a new inode.
        let tmp = dir.path().join("resolv.new");
        fs::write(&tmp, "nameserver 127.0.0.2\nnameserver 127.0.0.3\n").unwrap();
        fs::rename(&tmp, &resolv).unwrap();
        files.refresh();
        assert_eq!(files.resolv().unwrap().config.name_servers().len(), 2);
    }

    #[test]
    fn missing_files_are_an_error_and_an_empty_hosts_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = SystemFiles::new(dir.path().join("nope.conf"), dir.path().join("nohosts"));
        files.refresh();
        let err = files.resolv().unwrap_err();
        assert!(err.contains("nope.conf: cannot read"), "{err}");
        assert_eq!(files.hosts_problem(), None);

        fs::write(dir.path().join("nope.conf"), "# nothing\n").unwrap();
        files.refresh();
        let err = files.resolv().unwrap_err();
        assert!(err.contains("nameserver"), "{err}");
    }

    #[test]
    fn a_containers_resolv_conf_gives_its_nameservers_in_order() {
        let docker = b"# Generated by Docker Engine.\nnameserver 127.0.0.11\nsearch corp.test\n\
                       options ndots:0\n\nnameserver 10.0.0.2\nnameserver 127.0.0.11\n";
        let servers = resolv_conf_nameservers(docker).unwrap();
        let shown: Vec<String> = servers.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.11:53", "10.0.0.2:53"]);

        let err = resolv_conf_nameservers(b"search only.test\n").unwrap_err();
        assert!(err.starts_with("resolv.conf: "), "{err}");
        let huge = vec![b'#'; MAX_RESOLV_CONF_BYTES + 1];
        assert!(
            resolv_conf_nameservers(&huge)
                .unwrap_err()
                .contains("more than")
        );
    }

    #[test]
    fn an_unreadable_hosts_file_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be read as a file, even by root.
        let mut files = SystemFiles::new(dir.path().join("r"), dir.path().to_path_buf());
        files.refresh();
        assert!(files.hosts_problem().is_some());
    }
}
