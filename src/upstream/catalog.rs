//! Which upstreams to watch: the configured ones or, when there are none, the ones the proxy's own
//! config names. The proxy configs are read either way, for their logs and resolvers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, HttpMethod, LogKind, LogStream, StatusRange, Target, Upstream};
use crate::discover::{
    self, DiscoveredApi, DiscoveredLog, DiscoveredTarget, Discovery, LogElsewhere, LogKindHint,
    ProxyKind,
};
use crate::sanitize::sanitize;
use crate::status::{Finding, Status};

/// Discovered HTTP upstreams are probed at `/`, where an app may well answer 404: any answer below
/// 500 shows it is up and speaking HTTP, which is what a 502 is about.
pub const DISCOVERED_EXPECT: StatusRange = StatusRange {
    low: 100,
    high: 499,
};
pub const DISCOVERED_TIMEOUT: Duration = Duration::from_secs(2);
pub const DISCOVERED_INTERVAL: Duration = Duration::from_secs(2);
pub const DISCOVERED_SLOW: Duration = Duration::from_secs(1);

/// The proxy configs named on the command line; `None` means "look in the usual places".
#[derive(Clone, Debug, Default)]
pub struct ProxyConfigs {
    pub nginx: Option<PathBuf>,
    pub haproxy: Option<PathBuf>,
    pub apache: Option<PathBuf>,
    pub caddy: Option<PathBuf>,
    /// The nginx binary asked for its compiled-in log paths (`nginx -V`).
    pub nginx_binary: NginxBinary,
    /// Whether proxies in containers are looked for (off unless the binary's options say).
    pub containers: crate::containers::Lookup,
}

/// The container engine gets this long to list its containers when the catalog is built.
const CONTAINER_SCAN: Duration = Duration::from_secs(3);

/// Which nginx binary tells where nginx logs when its config names no log.
#[derive(Clone, Debug, Default)]
pub enum NginxBinary {
    /// The one on PATH, else /usr/sbin/nginx.
    #[default]
    Search,
    At(PathBuf),
    /// Ask none: the config alone decides.
    Skip,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub upstream: Upstream,
    pub group: Option<String>,
    /// "config", or the file:line it was discovered at.
    pub source: String,
    /// Server parameters worth seeing next to a failure: "backup", "down", "weight=5".
    pub flags: Vec<String>,
    /// What discovery says of how it reads the server: "address 127.1 read as 127.0.0.1",
    /// "health check at 10.0.0.9:8081", "via socks4 127.0.0.1:1080 (the hop is probed)".
    pub notes: Vec<String>,
    /// The proxy's own timeouts for it, when discovery read them (nginx `proxy_pass`).
    pub limits: Option<crate::discover::ProxyLimits>,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub entries: Vec<Entry>,
    /// Targets found but not probe-able, each with where and why.
    pub unprobeable: Vec<String>,
    /// Problems reading the proxy configs: shown in the pane and in `check`.
    pub findings: Vec<Finding>,
    /// "nginx /etc/nginx/nginx.conf (12 files)", one per proxy config read.
    pub read_from: Vec<String>,
    pub logs: Vec<DiscoveredLog>,
    /// Logs that go to syslog or stderr instead of a file.
    pub elsewhere: Vec<LogElsewhere>,
    pub resolvers: Vec<SocketAddr>,
    /// The nginx config that was read, when there was one: the default nginx service acts on it.
    pub nginx_conf: Option<PathBuf>,
    /// The proxies' own APIs: `[[proxy-api]]` entries first, then those discovery found.
    pub apis: Vec<DiscoveredApi>,
    /// Every file of every proxy config read: the timeline watches them for changes.
    pub config_files: Vec<PathBuf>,
    /// What the container lookup found: the proxies in containers and every container's
    /// names and addresses.
    pub containers: crate::containers::Scan,
    /// The upstream names the proxies in containers connect to (for stale addresses).
    pub named_upstreams: Vec<crate::diagnosis::NamedUpstream>,
    /// Per proxy container: its own logs, networks and literal upstreams.
    pub container_proxies: Vec<crate::containers::ProxyFacts>,
    /// Container log streams: a proxy in a container whose log file links to its stdout.
    pub container_logs: Vec<crate::logs::SourceSpec>,
}

impl Catalog {
    pub fn upstreams(&self) -> Vec<Upstream> {
        self.entries.iter().map(|e| e.upstream.clone()).collect()
    }

    /// The logs to follow: `[[log]]` entries first, then those the proxy config names.
    pub fn log_sources(&self, config: &Config) -> Vec<crate::logs::SourceSpec> {
        let discovered: Vec<(PathBuf, Option<LogKind>)> = self
            .logs
            .iter()
            .map(|l| {
                let kind = match l.kind {
                    LogKindHint::Error => LogKind::Error,
                    LogKindHint::Access => LogKind::Access,
                };
                (l.path.clone(), Some(kind))
            })
            .collect();
        let mut out = crate::logs::sources(&config.logs, &discovered);
        for stream in &self.container_logs {
            if !out.contains(stream) {
                out.push(stream.clone());
            }
        }
        if let Some(journal) = self.proxy_journal(config) {
            out.push(journal);
        }
        out
    }

    /// The nginx unit's journal, when its config sends a log there (stderr, or syslog to the
    /// local socket) and systemd runs this host (or `GATEWATCH_JOURNALCTL` names the reader),
    /// unless the config already follows that unit.
    fn proxy_journal(&self, config: &Config) -> Option<crate::logs::SourceSpec> {
        const UNIT: &str = "nginx.service";
        let reachable = crate::actions::has_systemd()
            || std::env::var_os(crate::logs::JOURNALCTL_ENV).is_some();
        let named = config
            .logs
            .iter()
            .any(|l| matches!(&l.stream, Some(LogStream::Journal(unit)) if unit == UNIT));
        if !reachable || named || !self.elsewhere.iter().any(LogElsewhere::in_journal) {
            return None;
        }
        crate::logs::journal_source(UNIT).ok()
    }
}

pub fn build(config: &Config, proxies: &ProxyConfigs) -> Catalog {
    let mut catalog = Catalog {
        apis: config
            .proxy_apis
            .iter()
            .map(|a| DiscoveredApi {
                kind: a.kind,
                at: a.at.clone(),
                source: discover::SourceLoc {
                    file: "config".into(),
                    line: a.line,
                },
            })
            .collect(),
        ..Catalog::default()
    };
    let mut discovered = Vec::new();
    for (kind, explicit) in [
        (ProxyKind::Nginx, &proxies.nginx),
        (ProxyKind::Haproxy, &proxies.haproxy),
        (ProxyKind::Apache, &proxies.apache),
        (ProxyKind::Caddy, &proxies.caddy),
    ] {
        let path = match explicit {
            Some(p) => p.clone(),
            // `discover = false`: only the configs named on the command line.
            None if !config.discover => continue,
            None => match kind
                .default_config_paths()
                .iter()
                .map(Path::new)
                .find(|p| p.exists())
            {
                Some(p) => p.to_path_buf(),
                None => continue,
            },
        };
        let mut found = match kind {
            ProxyKind::Nginx => nginx(&path, &proxies.nginx_binary, &mut catalog),
            _ => discover::discover(kind, &path),
        };
        if kind == ProxyKind::Caddy {
            prefer_running_caddy(&mut catalog, &path, &mut found);
        }
        if kind == ProxyKind::Nginx && !found.files_read.is_empty() {
            catalog.nginx_conf = Some(path.clone());
        }
        absorb(&mut catalog, kind, &path, &found);
        discovered.extend(found.targets.into_iter().map(|t| (t, None)));
    }
    let scan = match config.discover {
        true => crate::containers::scan(&proxies.containers, Path::new("/proc"), CONTAINER_SCAN),
        false => Default::default(),
    };
    for problem in &scan.problems {
        let message = sanitize(&format!("containers: {problem}")).into_owned();
        catalog
            .findings
            .push(Finding::new(Status::Warning, message));
    }
    for proxy in &scan.proxies {
        let found = super::in_container::add(
            &mut catalog,
            proxy,
            Path::new("/proc"),
            scan.socket.as_deref(),
        );
        discovered.extend(found);
    }
    catalog.containers = scan;
    catalog.entries = if config.upstreams.is_empty() {
        discovered
            .into_iter()
            .map(|(t, from)| {
                let mut entry = entry_from_discovery(t);
                if let Some(from) = from {
                    entry.source = format!("container {}: {}", from.container, entry.source);
                    entry.notes.push(format!(
                        "probed from container {}'s network",
                        from.container
                    ));
                    entry.upstream.from = Some(from);
                }
                entry
            })
            .collect()
    } else {
        config
            .upstreams
            .iter()
            .map(|u| Entry {
                upstream: u.clone(),
                group: None,
                source: "config".into(),
                flags: vec![],
                notes: vec![],
                limits: None,
            })
            .collect()
    };
    catalog
}

/// nginx's discovery, told the binary's compiled-in defaults when one answers `nginx -V`.
fn nginx(path: &Path, binary: &NginxBinary, catalog: &mut Catalog) -> Discovery {
    let binary = match binary {
        NginxBinary::Search => discover::find_nginx_binary(),
        NginxBinary::At(p) => Some(p.clone()),
        NginxBinary::Skip => None,
    };
    let Some(binary) = binary else {
        return discover::nginx(path);
    };
    // Run only when the config leaves a log or its prefix to the binary.
    discover::nginx_with_defaults(path, &mut || match discover::read_nginx_defaults(&binary) {
        Ok(defaults) => Some(defaults),
        Err(e) => {
            let message = format!("{e}: nginx's compiled-in log paths are unknown");
            let message = sanitize(&message).into_owned();
            catalog
                .findings
                .push(Finding::new(Status::Warning, message));
            None
        }
    })
}

/// Discovery already cleaned names and messages; file paths (an include glob can match any file
/// name) are cleaned here, as the strings are put together.
fn absorb(catalog: &mut Catalog, kind: ProxyKind, path: &Path, found: &Discovery) {
    let clean = |s: String| sanitize(&s).into_owned();
    let name = match kind {
        ProxyKind::Nginx => "nginx",
        ProxyKind::Haproxy => "haproxy",
        ProxyKind::Apache => "apache",
        ProxyKind::Caddy => "caddy",
    };
    catalog
        .config_files
        .extend(found.files_read.iter().cloned());
    catalog.read_from.push(clean(format!(
        "{name} {} ({} files)",
        path.display(),
        found.files_read.len()
    )));
    for e in &found.errors {
        let message = clean(format!("{name} config: {e}"));
        catalog
            .findings
            .push(Finding::new(Status::Warning, message));
    }
    for u in &found.unprobeable {
        catalog.unprobeable.push(clean(format!(
            "{} {} at {}: {}",
            u.directive, u.name, u.source, u.reason
        )));
    }
    for g in &found.unused {
        catalog.unprobeable.push(clean(format!(
            "upstream {} at {}: unused, no active *_pass refers to it ({} servers); not probed",
            g.name, g.source, g.servers
        )));
    }
    catalog.logs.extend(found.logs.iter().cloned());
    catalog.elsewhere.extend(found.elsewhere.iter().cloned());
    catalog.resolvers.extend(found.resolvers.iter().copied());
    for api in &found.apis {
        if !catalog
            .apis
            .iter()
            .any(|a| a.kind == api.kind && a.at == api.at)
        {
            catalog.apis.push(api.clone());
        }
    }
}

/// When Caddy's admin endpoint answers on this host, its running config replaces the file's
/// upstreams and logs: that is what Caddy connects to. A difference is a finding.
fn prefer_running_caddy(catalog: &mut Catalog, path: &Path, found: &mut Discovery) {
    let Some(running) = super::caddy_admin::running(path, found) else {
        return;
    };
    catalog.read_from.push(sanitize(&running.from).into_owned());
    if let Some(differs) = running.differs {
        let message = sanitize(&differs).into_owned();
        catalog
            .findings
            .push(Finding::new(Status::Warning, message));
    }
    found.targets = running.discovery.targets;
    found.unprobeable = running.discovery.unprobeable;
    found.logs = running.discovery.logs;
}

fn entry_from_discovery(t: DiscoveredTarget) -> Entry {
    let mut flags = Vec::new();
    if t.flags.backup {
        flags.push("backup".to_string());
    }
    if t.flags.down {
        flags.push("down".to_string());
    }
    if let Some(w) = t.flags.weight {
        flags.push(format!("weight={w}"));
    }
    if let Some(m) = t.flags.max_fails {
        flags.push(format!("max_fails={m}"));
    }
    if let Some(f) = t.flags.fail_timeout {
        flags.push(format!("fail_timeout={}s", f.as_secs()));
    }
    let expect = match t.target {
        Target::Http { .. } => DISCOVERED_EXPECT,
        _ => StatusRange::DEFAULT,
    };
    Entry {
        upstream: Upstream {
            name: t.name,
            url: t.target,
            timeout: DISCOVERED_TIMEOUT,
            interval: DISCOVERED_INTERVAL,
            expect,
            method: HttpMethod::Get,
            host: None,
            // nginx does not verify upstream certificates unless told to (proxy_ssl_verify off).
            tls_verify: false,
            slow: DISCOVERED_SLOW,
            from: None,
        },
        group: t.group,
        source: t.source.to_string(),
        flags,
        notes: t.flags.notes,
        limits: t.limits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// Only the given nginx config: HAProxy, Apache and Caddy get an empty file each, so the test never
    /// reads what the host has in /etc.
    fn only_nginx(dir: &Path, nginx: PathBuf) -> ProxyConfigs {
        let empty = write(dir, "empty-proxy.conf", "");
        ProxyConfigs {
            nginx: Some(nginx),
            haproxy: Some(empty.clone()),
            apache: Some(empty.clone()),
            caddy: Some(empty),
            nginx_binary: NginxBinary::Skip,
            containers: Default::default(),
        }
    }

    #[test]
    fn configured_upstreams_win_but_proxy_logs_are_still_collected() {
        let dir = tempfile::tempdir().expect("tmp");
        let nginx = write(
            dir.path(),
            "nginx.conf",
            "events {}\nhttp {\n error_log /var/log/nginx/e.log;\n upstream app { server 10.0.0.5:8080 backup; }\n server { proxy_read_timeout 90s; location / { proxy_pass http://app; } }\n}\n",
        );
        let proxies = only_nginx(dir.path(), nginx.clone());
        let discovered = build(&Config::default(), &proxies);
        assert_eq!(discovered.entries.len(), 1);
        let e = &discovered.entries[0];
        assert_eq!(e.group.as_deref(), Some("app"));
        assert_eq!(e.flags, ["backup"]);
        assert_eq!(e.source, format!("{}:4", nginx.display()));
        assert_eq!(e.upstream.expect, DISCOVERED_EXPECT);
        assert!(!e.upstream.tls_verify);
        // nginx's own limits for the location that uses it: the server's, else the default.
        let limits = e.limits.as_ref().expect("nginx limits");
        assert_eq!(limits.read_timeout.value, Duration::from_secs(90));
        assert_eq!(limits.read_timeout.from.as_ref().map(|at| at.line), Some(5));
        assert_eq!(limits.connect_timeout.value, Duration::from_secs(60));
        assert_eq!(limits.connect_timeout.from, None);

        let text = "[[upstream]]\nname = \"mine\"\nurl = \"tcp://127.0.0.1:9\"\n";
        let config = crate::config::parse(text, Path::new("c.toml")).expect("config");
        let configured = build(&config, &proxies);
        assert_eq!(configured.entries.len(), 1);
        assert_eq!(configured.entries[0].upstream.name, "mine");
        assert_eq!(configured.entries[0].source, "config");
        assert_eq!(configured.entries[0].limits, None);
        assert_eq!(configured.logs.len(), 1, "logs still come from nginx");
    }

    #[test]
    fn file_names_from_an_include_glob_are_shown_escaped() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "bad\x1b]0;pwned\x07.inc", "not a config");
        let nginx = write(dir.path(), "nginx.conf", "include *.inc;\n");
        let c = build(&Config::default(), &only_nginx(dir.path(), nginx));
        let messages: Vec<&str> = c.findings.iter().map(|f| f.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("bad\\x1b]0;pwned\\x07.inc:1")),
            "{messages:?}"
        );
        assert!(
            !messages.concat().chars().any(char::is_control),
            "{messages:?}"
        );
    }

    #[test]
    fn an_unreadable_explicit_config_is_a_finding_not_a_failure() {
        let dir = tempfile::tempdir().expect("tmp");
        let proxies = only_nginx(dir.path(), "/nonexistent/nginx.conf".into());
        let c = build(&Config::default(), &proxies);
        assert!(c.entries.is_empty());
        assert_eq!(c.findings.len(), 1);
        assert!(
            c.findings[0]
                .message
                .starts_with("nginx config: /nonexistent/nginx.conf"),
            "{:?}",
            c.findings
        );
    }
}
