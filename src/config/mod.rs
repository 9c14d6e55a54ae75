//! The TOML config file: what to watch (upstreams, DNS names, logs) and which service commands
//! the operator may run.
//!
//! Files are read in two steps: serde checks the shape (unknown keys, types) into the `raw`
//! structs, which keep the position of every value; then each value is validated with a message
//! that names it, so every error can point at the offending line.

mod keys;
mod load;
mod raw;
mod target;
mod trust;
mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::source_error::SourceError;
pub use keys::{ConfigKey, KEYS, markdown_table};
pub(crate) use load::read_optional;
pub use load::{CONFIG_FILE, Loaded, SYSTEM_CONFIG_DIR, config_dir, load, load_with};
pub use target::Target;
pub use values::{Argv, HttpMethod, InvalidValue, LogKind, Nameserver, StatusRange};

/// The defaults as a commented config file; it parses to `Config::default()`.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How often the dashboard redraws host figures.
    pub refresh: Duration,
    /// Theme name: built-in or a file in `<config dir>/themes/`.
    pub theme: String,
    /// Whether proxy configs are searched for in their usual places and proxies in containers
    /// looked for; `false` watches only what the file (and the `--*-conf` options) name.
    pub discover: bool,
    pub upstreams: Vec<Upstream>,
    pub dns: Dns,
    pub logs: Vec<LogSource>,
    pub services: Vec<Service>,
    /// The proxy's own front door, probed like an upstream named "gateway": its 502s are the
    /// first step of the checklist.
    pub gateway: Option<Upstream>,
    /// The proxies' own APIs to read besides those discovery finds (`[[proxy-api]]`).
    pub proxy_apis: Vec<ProxyApi>,
    /// Where the incident timeline reads what changed (`[timeline]`).
    pub timeline: Timeline,
}

/// The incident timeline's sources that are not discovered: the kernel's log and the package
/// manager's. Paths, so a test (or a host with another layout) points them elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// How far back the logs are read for the onset of the current failure.
    pub span: Duration,
    /// The kernel's log device (OOM kills, segfaults).
    pub kernel: PathBuf,
    /// dpkg's log and apt's history (package changes); a missing one is skipped.
    pub packages: Vec<PathBuf>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            span: Duration::from_secs(6 * 3600),
            kernel: PathBuf::from("/dev/kmsg"),
            packages: vec![
                PathBuf::from("/var/log/dpkg.log"),
                PathBuf::from("/var/log/apt/history.log"),
            ],
        }
    }
}

/// A proxy's own view of its upstreams, named in the config: HAProxy's stats socket, Caddy's or
/// Envoy's admin endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyApi {
    pub kind: crate::discover::ApiKind,
    /// Loopback or a unix socket: checked when the config is read.
    pub at: Target,
    /// Where in the config file it is named.
    pub line: usize,
}

/// What the gateway may answer by default: anything but a 5xx.
pub const GATEWAY_EXPECT: StatusRange = StatusRange {
    low: 100,
    high: 499,
};

impl Default for Config {
    fn default() -> Self {
        Config {
            refresh: Duration::from_secs(2),
            theme: "default".into(),
            discover: true,
            upstreams: Vec::new(),
            dns: Dns::default(),
            logs: Vec::new(),
            services: Vec::new(),
            gateway: None,
            proxy_apis: Vec::new(),
            timeline: Timeline::default(),
        }
    }
}

/// A backend the proxy forwards to, probed on its own schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    pub url: Target,
    pub timeout: Duration,
    pub interval: Duration,
    /// Status codes that count as up (HTTP only).
    pub expect: StatusRange,
    pub method: HttpMethod,
    /// Host header to send, for backends that route by virtual host.
    pub host: Option<String>,
    pub tls_verify: bool,
    /// Answers slower than this are degraded, not healthy.
    pub slow: Duration,
    /// Where the probe runs when not from the host: a container's network namespace.
    pub from: Option<ProbeFrom>,
}

/// A probe made from inside a container, the way its proxy connects: in its network namespace,
/// asking the nameservers its resolv.conf names (Docker's embedded DNS, on a user network).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeFrom {
    /// The container's name, for messages.
    pub container: String,
    /// `/proc/PID/ns/net` of its main process.
    pub netns: PathBuf,
    /// That namespace's device and inode when the container was read: a pid reused by another
    /// process after the container went leads to another namespace, never probed from.
    pub netns_id: Option<(u64, u64)>,
    pub nameservers: Vec<std::net::SocketAddr>,
    /// Its /etc/hosts, name (lowercase) and address: asked before the nameservers.
    pub hosts: Vec<(String, std::net::IpAddr)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dns {
    /// Names to resolve against every nameserver, to spot drift between them.
    pub names: Vec<String>,
    pub nameservers: Vec<Nameserver>,
    pub timeout: Duration,
    pub interval: Duration,
    pub hosts_file: PathBuf,
    pub resolv_conf: PathBuf,
}

impl Default for Dns {
    fn default() -> Self {
        Dns {
            names: Vec::new(),
            nameservers: vec![Nameserver::System],
            timeout: Duration::from_secs(2),
            interval: Duration::from_secs(10),
            hosts_file: PathBuf::from("/etc/hosts"),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
        }
    }
}

/// A log to follow: a file (or glob), the output of a command such as `journalctl -f`, or a
/// stream gatewatch knows how to read (a unit's journal, a container's log). Exactly one of
/// `path`, `command` and `stream` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSource {
    pub path: Option<String>,
    pub command: Option<Vec<String>>,
    pub stream: Option<LogStream>,
    pub kind: Option<LogKind>,
}

/// A log read through a program gatewatch runs itself, with arguments it builds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// `[[log]] journal = "nginx.service"`: the unit's journal.
    Journal(String),
    /// `[[log]] container = "web"`: the container's log, stdout and stderr.
    Container(String),
}

impl LogStream {
    /// Why `unit` cannot be given to `journalctl -u`, if it cannot: systemd's unit name
    /// characters (and globs, which `-u` accepts), never an option.
    pub fn check_unit(unit: &str) -> Result<(), String> {
        let ok = !unit.is_empty()
            && unit.len() <= 256
            && !unit.starts_with('-')
            && unit
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b":_.\\@-*?[]".contains(&c));
        ok.then_some(()).ok_or_else(|| {
            format!("invalid unit {unit:?}: a systemd unit name such as \"nginx.service\"")
        })
    }

    /// Why `name` cannot be given to `docker logs`, if it cannot: Docker's container name (or id)
    /// characters, never an option.
    pub fn check_container(name: &str) -> Result<(), String> {
        let ok = name.len() <= 255
            && name
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c));
        ok.then_some(()).ok_or_else(|| {
            format!("invalid container {name:?}: a container name or id such as \"web-1\"")
        })
    }
}

impl fmt::Display for LogStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogStream::Journal(unit) => write!(f, "journal of {unit}"),
            LogStream::Container(name) => write!(f, "container {name}"),
        }
    }
}

/// A service the operator can act on from the dashboard. Commands are argv, never shell lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub status: Option<Argv>,
    /// Config test (e.g. `nginx -t`), run before a reload.
    pub test: Option<Argv>,
    pub reload: Option<Argv>,
    pub restart: Option<Argv>,
    /// Run the commands through `sudo -n`.
    pub sudo: bool,
    /// Each command is killed after this long.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Deliberately not a `source()`: the io error is already in the message, and error chains
    /// would print it twice.
    #[error("{}: cannot read config: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] SourceError),
}

impl ConfigError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Read { path, .. } => path,
            ConfigError::Invalid(err) => &err.path,
        }
    }
}

/// Parses config text; `origin` is only used to name the file in errors.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let raw: raw::RawConfig =
        toml::from_str(text).map_err(|err| SourceError::from_toml(origin, text, &err))?;
    raw.validate(text)
        .map_err(|err| SourceError::new(origin, text, err.span, err.message).into())
}

/// Whether `name` can name a theme file: no path separators or dots, so it cannot escape the
/// themes directory.
pub fn is_valid_theme_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, &self.command, &self.stream) {
            (Some(path), _, _) => f.write_str(path),
            (None, Some(command), _) => write!(f, "{}", Argv(command.clone())),
            (None, None, Some(stream)) => write!(f, "{stream}"),
            (None, None, None) => f.write_str("(nothing)"),
        }
    }
}
