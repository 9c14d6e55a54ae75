//! What discovery returns: targets, logs, resolvers and the errors met on the way.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::target::Target;
use crate::rootfs::Resolved;

/// Everything discovered from one proxy's config. Partial results are normal: whatever could be
/// parsed is here alongside `errors`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Upstreams to probe, in config order, without duplicates (same target and group).
    pub targets: Vec<DiscoveredTarget>,
    /// Upstreams that exist but cannot be probed ahead of time, with the reason.
    pub unprobeable: Vec<Unprobeable>,
    /// Log files the proxy writes, in config order, without duplicates.
    pub logs: Vec<DiscoveredLog>,
    /// DNS servers the proxy itself queries (nginx `resolver`, HAProxy `nameserver`).
    pub resolvers: Vec<SocketAddr>,
    /// Problems met while reading and parsing, each at a file (and line when known).
    pub errors: Vec<DiscoveryError>,
    /// Every config file read, in the order first read.
    pub files_read: Vec<PathBuf>,
    /// Upstream groups defined but used by no active `*_pass`: the proxy never connects to
    /// them, so they are listed and not probed.
    pub unused: Vec<UnusedGroup>,
    /// Where the proxy itself answers for its upstreams (HAProxy's stats socket, Caddy's or
    /// Envoy's admin endpoint): its own view, shown beside gatewatch's probes.
    pub apis: Vec<DiscoveredApi>,
    /// Logs that go to no file: syslog or the proxy's stderr (the journal, a container's log).
    pub elsewhere: Vec<LogElsewhere>,
}

/// Log lines sent somewhere other than a file, and where to read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogElsewhere {
    pub kind: LogKindHint,
    /// "syslog" or "stderr".
    pub to: String,
    /// For syslog, its `server=` ("unix:/dev/log", "127.0.0.1"); empty for stderr.
    pub detail: String,
    pub source: SourceLoc,
}

impl LogElsewhere {
    /// Whether these lines land in the journal of the proxy's unit when systemd runs it: its
    /// stderr does, and so does syslog to the local socket (journald owns /dev/log).
    pub fn in_journal(&self) -> bool {
        self.to == "stderr"
            || (self.to == "syslog"
                && matches!(
                    self.detail.as_str(),
                    "unix:/dev/log" | "unix:/run/systemd/journal/syslog"
                ))
    }

    /// Where a person reads these lines.
    pub fn advice(&self) -> String {
        let what = match self.kind {
            LogKindHint::Error => "error_log",
            LogKindHint::Access => "access_log",
        };
        if self.to == "syslog" {
            format!(
                "{what} goes to syslog (server={}): read it with journalctl -u nginx or the syslog file",
                self.detail
            )
        } else {
            format!("{what} goes to stderr: in the journal (systemd) or the container's log")
        }
    }
}

/// One upstream server to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredTarget {
    /// Readable name: "group host:port" for group members, "host:port" for a direct pass.
    pub name: String,
    /// nginx upstream name, HAProxy backend, Apache balancer.
    pub group: Option<String>,
    pub target: Target,
    pub flags: ServerFlags,
    pub source: SourceLoc,
    /// The proxy's own time limits for requests to it (nginx `proxy_pass` only).
    pub limits: Option<ProxyLimits>,
}

/// How long the proxy waits on a target before it gives up (and answers 502 or 504): nginx's
/// `proxy_connect_timeout` and `proxy_read_timeout` as they apply to the `proxy_pass` using it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyLimits {
    pub connect_timeout: Limit,
    pub read_timeout: Limit,
}

impl fmt::Display for ProxyLimits {
    /// "proxy_connect_timeout 60s, proxy_read_timeout 120s (/etc/nginx/sites-enabled/shop:8)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one = |name: &str, l: &Limit| {
            // As nginx's docs write them: "60s", "500ms".
            let value = match l.value.subsec_millis() {
                0 => format!("{}s", l.value.as_secs()),
                _ => format!("{}ms", l.value.as_millis()),
            };
            match &l.from {
                Some(at) => format!("{name} {value} ({at})"),
                None => format!("{name} {value}"),
            }
        };
        write!(
            f,
            "{}, {}",
            one("proxy_connect_timeout", &self.connect_timeout),
            one("proxy_read_timeout", &self.read_timeout)
        )
    }
}

/// One effective limit and the directive that set it; `from` is `None` for the proxy's default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub value: Duration,
    pub from: Option<SourceLoc>,
}

/// How the proxy treats a server: what explains it being idle or skipped when it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerFlags {
    /// Only used when the primary servers are unavailable (nginx/HAProxy `backup`, Apache `+H`).
    pub backup: bool,
    /// Marked permanently unavailable (nginx `down`, HAProxy `disabled`, Apache `+D`).
    pub down: bool,
    pub weight: Option<u32>,
    pub max_fails: Option<u32>,
    pub fail_timeout: Option<Duration>,
    /// The proxy runs its own health checks on it (HAProxy `check`).
    pub health_check: bool,
    /// Every other parameter, as written ("max_conns=100", "inter 2s").
    pub other: Vec<String>,
    /// How gatewatch reads the server, where that is not plain from the line: a short address
    /// expanded, the hop probed in its place, where the proxy's health check goes.
    pub notes: Vec<String>,
}

/// Where something was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceLoc {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Whether a log file holds errors (where upstream failures are explained) or requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogKindHint {
    Error,
    Access,
}

/// A log file the proxy writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredLog {
    /// As the proxy names it: a host path, or for a proxy in a root (a container), a path
    /// inside that root.
    pub path: PathBuf,
    pub kind: LogKindHint,
    pub source: SourceLoc,
    /// `None` on the host: `path` is followed as it is. For a proxy in a root
    /// ([`super::discover_in_root`]): where `path` leads inside it, a file (with the path that
    /// reaches it from the host), the container's stdout or stderr, or nothing usable.
    pub in_root: Option<Resolved>,
}

/// An upstream reference that cannot be turned into a probe target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unprobeable {
    /// The value as written, e.g. "http://$backend".
    pub name: String,
    /// The directive it came from, e.g. "proxy_pass".
    pub directive: String,
    /// Why it cannot be probed, e.g. "target contains a variable ($backend): resolved per request".
    pub reason: String,
    pub source: SourceLoc,
}

/// A problem in one config file. Displays as "path:line: message" (or "path: message").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {}", .file.display(), line_suffix(.line), .kind)]
pub struct DiscoveryError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub kind: DiscoveryErrorKind,
}

fn line_suffix(line: &Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

impl DiscoveryError {
    /// The message without the location.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

/// What went wrong; the file and line are on [`DiscoveryError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryErrorKind {
    #[error("cannot read {}: {reason}", .path.display())]
    Read { path: PathBuf, reason: String },
    #[error("cannot read {}: {what}, not a regular file", .path.display())]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("cannot read {}: {size} bytes is over the {limit}-byte limit", .path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("include cycle: {chain}")]
    IncludeCycle { chain: String },
    #[error("not reading {}: includes nested deeper than {limit} levels", .path.display())]
    IncludeTooDeep { path: PathBuf, limit: usize },
    #[error("not reading {} or any further file: more than {limit} config files", .path.display())]
    TooManyFiles { path: PathBuf, limit: usize },
    #[error("not reading {} or any further file: over {limit} bytes of config in total", .path.display())]
    TotalTooLarge { path: PathBuf, limit: u64 },
    #[error("invalid include pattern \"{pattern}\": {reason}")]
    BadPattern { pattern: String, reason: String },
    /// The file's syntax is broken; parsing of that file stopped or skipped the statement.
    #[error("{0}")]
    Syntax(String),
    /// A directive the proxy itself would reject or that cannot be understood.
    #[error("{0}")]
    Invalid(String),
    #[error("more than {limit} {what}; the rest are ignored")]
    TooMany { what: &'static str, limit: usize },
}

/// An upstream group no active directive refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusedGroup {
    pub name: String,
    /// How many servers it lists.
    pub servers: usize,
    pub source: SourceLoc,
}

/// Which proxy answers on an API endpoint, and so how its answers are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiKind {
    /// HAProxy's `stats socket` (the runtime API: `show servers state`, `show stat`).
    HaproxyStats,
    /// Caddy's admin endpoint (`/config/`, `/reverse_proxy/upstreams`).
    CaddyAdmin,
    /// Envoy's admin interface (`/clusters`).
    EnvoyAdmin,
}

/// A proxy's own API, found in its config (or named in gatewatch's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredApi {
    pub kind: ApiKind,
    /// A unix socket or a TCP address; only loopback addresses and local sockets are asked.
    pub at: Target,
    pub source: SourceLoc,
}
