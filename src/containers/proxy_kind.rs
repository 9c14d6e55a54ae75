//! Which reverse proxy a process is, from its program name: the container's main command (through
//! entrypoint wrappers) or the kernel's `comm`.

use std::fs;
use std::path::Path;

/// A reverse proxy gatewatch knows how to watch when it runs in a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerProxy {
    Nginx,
    Haproxy,
    Apache,
    Caddy,
    Traefik,
    Envoy,
}

/// Programs that start the real main process: their arguments name it.
const WRAPPERS: [&str; 10] = [
    "sh",
    "bash",
    "dash",
    "ash",
    "tini",
    "tini-static",
    "dumb-init",
    "docker-init",
    "catatonit",
    "entrypoint",
];

/// How many arguments of a wrapper are looked at for the program it starts.
const MAX_WRAPPER_ARGS: usize = 8;

impl ContainerProxy {
    pub fn name(self) -> &'static str {
        match self {
            ContainerProxy::Nginx => "nginx",
            ContainerProxy::Haproxy => "haproxy",
            ContainerProxy::Apache => "apache",
            ContainerProxy::Caddy => "caddy",
            ContainerProxy::Traefik => "traefik",
            ContainerProxy::Envoy => "envoy",
        }
    }

    /// The proxy a program name (or path) is, if any. `comm` is cut at 15 bytes by the kernel,
    /// which none of these names reach.
    pub fn from_program(program: &str) -> Option<Self> {
        match basename(program) {
            "nginx" | "openresty" => Some(ContainerProxy::Nginx),
            "haproxy" => Some(ContainerProxy::Haproxy),
            // The official httpd image's main command is the httpd-foreground script.
            "httpd" | "apache2" | "httpd-foreground" => Some(ContainerProxy::Apache),
            "caddy" => Some(ContainerProxy::Caddy),
            "traefik" => Some(ContainerProxy::Traefik),
            "envoy" => Some(ContainerProxy::Envoy),
            _ => None,
        }
    }

    /// Judges a main process from its command (path, then arguments) and, when readable, its
    /// `comm` under `proc_root`. A readable `comm` that is a proxy wins; one that is neither a
    /// proxy nor a wrapper means the command's words are only arguments (`python3 app.py nginx`).
    pub fn judge(command: &[String], pid: Option<u32>, proc_root: &Path) -> Option<Self> {
        if let Some(comm) = pid.and_then(|pid| read_comm(proc_root, pid)) {
            if let Some(kind) = Self::from_program(&comm) {
                return Some(kind);
            }
            if !is_wrapper(&comm) {
                return None;
            }
        }
        Self::from_command(command)
    }

    /// Judges a command line alone: the program, or for an entrypoint wrapper the first
    /// argument that is not an option (`/docker-entrypoint.sh nginx -g 'daemon off;'`,
    /// `tini -- caddy run`, `sh -c 'exec haproxy -f ...'`).
    pub fn from_command(command: &[String]) -> Option<Self> {
        let (program, args) = command.split_first()?;
        if let Some(kind) = Self::from_program(program) {
            return Some(kind);
        }
        if !is_wrapper(program) {
            return None;
        }
        let started = args
            .iter()
            .take(MAX_WRAPPER_ARGS)
            .find(|arg| !arg.starts_with('-'))?;
        let mut words = started.split_whitespace();
        let first = words.next()?;
        let first = if first == "exec" {
            words.next()?
        } else {
            first
        };
        Self::from_program(first)
    }
}

fn basename(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

fn is_wrapper(program: &str) -> bool {
    let name = basename(program);
    WRAPPERS.contains(&name) || name.ends_with(".sh") || name.ends_with("-entrypoint")
}

/// `/proc/PID/comm` without its newline, when readable (short: the kernel caps it at 16 bytes).
pub(crate) fn read_comm(proc_root: &Path, pid: u32) -> Option<String> {
    let raw = fs::read(proc_root.join(pid.to_string()).join("comm")).ok()?;
    let raw = raw.get(..raw.len().min(64)).unwrap_or_default();
    let text = String::from_utf8_lossy(raw);
    let name = text.trim_end_matches('\n');
    (!name.is_empty()).then(|| crate::sanitize::sanitize(name).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_official_images_entrypoints_are_seen_through() {
        let cases: [(&[&str], Option<ContainerProxy>); 8] = [
            (
                &["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"],
                Some(ContainerProxy::Nginx),
            ),
            (&["httpd-foreground"], Some(ContainerProxy::Apache)),
            (
                &["docker-entrypoint.sh", "haproxy", "-f", "/x.cfg"],
                Some(ContainerProxy::Haproxy),
            ),
            (
                &["caddy", "run", "--config", "/etc/caddy/Caddyfile"],
                Some(ContainerProxy::Caddy),
            ),
            (
                &["/entrypoint.sh", "traefik"],
                Some(ContainerProxy::Traefik),
            ),
            (
                &["tini", "--", "envoy", "-c", "/e.yaml"],
                Some(ContainerProxy::Envoy),
            ),
            (
                &["/bin/sh", "-c", "exec nginx -g 'daemon off;'"],
                Some(ContainerProxy::Nginx),
            ),
            (&["python3", "-m", "http.server"], None),
        ];
        for (words, want) in cases {
            assert_eq!(ContainerProxy::from_command(&cmd(words)), want, "{words:?}");
        }
    }

    #[test]
    fn a_program_that_only_mentions_a_proxy_is_not_one() {
        assert_eq!(
            ContainerProxy::from_command(&cmd(&["python3", "app.py", "nginx"])),
            None
        );
        assert_eq!(ContainerProxy::from_command(&[]), None);
    }

    #[test]
    fn comm_decides_when_it_is_readable() {
        let root = tempfile::tempdir().expect("temp dir");
        let write_comm = |pid: u32, comm: &str| {
            let dir = root.path().join(pid.to_string());
            fs::create_dir_all(&dir).expect("pid dir");
            fs::write(dir.join("comm"), format!("{comm}\n")).expect("comm");
        };
        write_comm(10, "nginx");
        write_comm(11, "python3");
        write_comm(12, "sh");
        // The entrypoint exec'd nginx: comm says so although the command names the script.
        let script = cmd(&["/usr/local/bin/start-web"]);
        assert_eq!(
            ContainerProxy::judge(&script, Some(10), root.path()),
            Some(ContainerProxy::Nginx)
        );
        // A python program given "nginx" as argument by a wrapper is still python.
        let wrapped = cmd(&["/entrypoint.sh", "nginx"]);
        assert_eq!(ContainerProxy::judge(&wrapped, Some(11), root.path()), None);
        // A shell still running: its arguments say what it runs.
        assert_eq!(
            ContainerProxy::judge(&wrapped, Some(12), root.path()),
            Some(ContainerProxy::Nginx)
        );
        // No such pid: the command alone.
        assert_eq!(
            ContainerProxy::judge(&wrapped, Some(99), root.path()),
            Some(ContainerProxy::Nginx)
        );
    }
}
