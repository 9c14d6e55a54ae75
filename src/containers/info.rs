//! What gatewatch keeps of a running container, built from the engine's inspect answer. Every
//! string is sanitised and every list bounded here, so nothing further down sees raw API text.

use std::net::IpAddr;
use std::path::Path;

use bollard::models::{ContainerInspectResponse, EndpointSettings, HealthStatusEnum};

use super::proxy_kind::ContainerProxy;
use crate::sanitize::sanitize;

/// Bounds on what one container may bring in.
const MAX_NETWORKS: usize = 16;
const MAX_ALIASES: usize = 32;
const MAX_COMMAND_WORDS: usize = 64;
const MAX_TEXT: usize = 512;

/// The running containers, and how many the bound left out or did not answer in time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerList {
    /// Sorted by name.
    pub containers: Vec<ContainerInfo>,
    /// Running containers beyond [`super::MAX_CONTAINERS`], not inspected.
    pub left_off: usize,
    /// Containers listed but not inspected: gone meanwhile, or the inspect failed or timed out.
    pub unanswered: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    /// The full id (hex).
    pub id: String,
    /// Without Docker's leading '/'.
    pub name: String,
    /// The image as the container was created from it (`nginx:1.27`), not its digest.
    pub image: String,
    /// The main process in the engine's pid namespace; None when not running.
    pub pid: Option<u32>,
    /// "running", "restarting", "paused", ...
    pub state: String,
    pub restart_count: u32,
    /// "starting", "healthy", "unhealthy"; None without a health check.
    pub health: Option<String>,
    /// Unix seconds; None when never started.
    pub started_at: Option<i64>,
    /// The main process's program and arguments (Path, then Args).
    pub command: Vec<String>,
    pub networks: Vec<ContainerNetwork>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerNetwork {
    pub name: String,
    /// The IPv4 address on this network (None for `host` and `none`).
    pub ip: Option<IpAddr>,
    pub ipv6: Option<IpAddr>,
    /// The names other containers reach it by on this network (aliases and DNS names).
    pub aliases: Vec<String>,
}

impl ContainerInfo {
    /// Whether a proxy config's `name` reaches this container: its name or an alias on one of
    /// its networks (names are case-insensitive in DNS).
    pub fn answers_to(&self, name: &str) -> bool {
        std::iter::once(self.name.as_str())
            .chain(self.aliases())
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Its aliases on every network, as listed.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.networks
            .iter()
            .flat_map(|n| n.aliases.iter().map(String::as_str))
    }

    /// Its addresses on every network, IPv4 then IPv6 per network.
    pub fn addresses(&self) -> impl Iterator<Item = std::net::IpAddr> + '_ {
        self.networks.iter().flat_map(|n| [n.ip, n.ipv6]).flatten()
    }

    /// Which proxy the main process is, judged from its command and `/proc/PID/comm`.
    pub fn proxy_kind(&self) -> Option<ContainerProxy> {
        self.proxy_kind_in(Path::new("/proc"))
    }

    /// [`Self::proxy_kind`] reading `comm` under another proc root (tests, a mounted host /proc).
    pub fn proxy_kind_in(&self, proc_root: &Path) -> Option<ContainerProxy> {
        ContainerProxy::judge(&self.command, self.pid, proc_root)
    }

    /// Builds the kept view of an inspect answer; None without a usable id.
    pub(crate) fn from_inspect(raw: ContainerInspectResponse) -> Option<Self> {
        let id = raw.id.filter(|id| is_engine_id(id))?;
        let state = raw.state.unwrap_or_default();
        let name = raw.name.unwrap_or_default();
        let mut command: Vec<String> = raw.path.into_iter().collect();
        command.extend(raw.args.unwrap_or_default());
        let command = command
            .iter()
            .take(MAX_COMMAND_WORDS)
            .map(|w| clean(w))
            .collect();
        let networks = raw
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default();
        let mut networks: Vec<ContainerNetwork> = networks
            .into_iter()
            .map(|(name, endpoint)| ContainerNetwork::from_endpoint(&name, endpoint))
            .collect();
        networks.sort_by(|a, b| a.name.cmp(&b.name));
        networks.truncate(MAX_NETWORKS);
        Some(ContainerInfo {
            id,
            name: clean(name.strip_prefix('/').unwrap_or(&name)),
            image: clean(&raw.config.and_then(|c| c.image).unwrap_or_default()),
            pid: state
                .pid
                .and_then(|p| u32::try_from(p).ok())
                .filter(|&p| p > 0),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            restart_count: raw
                .restart_count
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            health: state
                .health
                .and_then(|h| h.status)
                .filter(|s| !matches!(s, HealthStatusEnum::EMPTY | HealthStatusEnum::NONE))
                .map(|s| s.to_string()),
            started_at: state.started_at.as_deref().and_then(unix_seconds),
            command,
            networks,
        })
    }
}

impl ContainerNetwork {
    fn from_endpoint(name: &str, endpoint: EndpointSettings) -> Self {
        let address = |text: Option<String>| text.and_then(|t| t.parse::<IpAddr>().ok());
        let mut aliases: Vec<String> = endpoint
            .aliases
            .unwrap_or_default()
            .into_iter()
            .chain(endpoint.dns_names.unwrap_or_default())
            .take(MAX_ALIASES * 2)
            .map(|a| clean(&a))
            .collect();
        aliases.sort();
        aliases.dedup();
        aliases.truncate(MAX_ALIASES);
        ContainerNetwork {
            name: clean(name),
            ip: address(endpoint.ip_address).filter(IpAddr::is_ipv4),
            ipv6: address(endpoint.global_ipv6_address).filter(IpAddr::is_ipv6),
            aliases,
        }
    }
}

/// Container and exec ids are hex; names are `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. Anything else never
/// reaches a URL path.
pub(crate) fn is_engine_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Sanitised and cut to a bound (on a char boundary).
pub(crate) fn clean(text: &str) -> String {
    let mut out = sanitize(text).into_owned();
    if out.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// RFC 3339 to unix seconds; Docker's zero time (year 1) means "never".
fn unix_seconds(text: &str) -> Option<i64> {
    let at: jiff::Timestamp = text.parse().ok()?;
    let seconds = at.as_second();
    (seconds > 0).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerConfig, ContainerState, ContainerStateStatusEnum, Health, NetworkSettings,
    };
    use std::collections::HashMap;

    fn hostile() -> ContainerInspectResponse {
        let endpoint = EndpointSettings {
            ip_address: Some("172.18.0.5".into()),
            global_ipv6_address: Some("".into()),
            aliases: Some(vec!["app\x1b]0;pwned\x07".into(), "web".into()]),
            dns_names: Some(vec!["web".into(), "app-1".into()]),
            ..Default::default()
        };
        ContainerInspectResponse {
            id: Some("0123abcd".into()),
            name: Some("/we\x1b[2Jb\u{202e}".into()),
            path: Some("/docker-entrypoint.sh".into()),
            args: Some(vec!["nginx".into(), "-g".into(), "daemon off;\r".into()]),
            restart_count: Some(-4),
            config: Some(ContainerConfig {
                image: Some("nginx:\x07latest".into()),
                ..Default::default()
            }),
            state: Some(ContainerState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                pid: Some(-1),
                started_at: Some("2026-12-02T14:02:11.123456789Z".into()),
                health: Some(Health {
                    status: Some(HealthStatusEnum::UNHEALTHY),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            network_settings: Some(NetworkSettings {
                networks: Some(HashMap::from([
                    ("front\nend".to_string(), endpoint),
                    ("host".to_string(), EndpointSettings::default()),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn hostile_inspect_values_are_sanitised_and_bounded() {
        let info = ContainerInfo::from_inspect(hostile()).expect("an id");
        assert_eq!(info.name, "we\\x1b[2Jb\\u{202e}");
        assert_eq!(info.image, "nginx:\\x07latest");
        assert_eq!(info.pid, None, "a negative pid is no pid");
        assert_eq!(info.restart_count, 0);
        assert_eq!(info.health.as_deref(), Some("unhealthy"));
        assert_eq!(info.state, "running");
        let started = jiff::Timestamp::from_second(info.started_at.expect("started"))
            .expect("valid")
            .to_string();
        assert_eq!(started, "2026-12-02T14:02:11Z");
        assert_eq!(info.command[3], "daemon off;\\x0d");
        assert_eq!(info.proxy_kind(), Some(ContainerProxy::Nginx));
        let names: Vec<&str> = info.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["front\\x0aend", "host"]);
        let front = &info.networks[0];
        assert_eq!(front.ip, Some("172.18.0.5".parse().expect("ip")));
        assert_eq!(front.ipv6, None);
        assert_eq!(front.aliases, ["app-1", "app\\x1b]0;pwned\\x07", "web"]);
        assert_eq!(info.networks[1].ip, None);
        let everything = format!("{info:?}");
        assert!(!everything.contains('\x1b') && !everything.contains('\u{202e}'));
    }

    #[test]
    fn ids_that_could_bend_a_url_are_refused() {
        for bad in ["", "../../info", "a/b", "a?b", "-x", "a b", "é"] {
            assert!(!is_engine_id(bad), "{bad:?}");
        }
        assert!(is_engine_id("web-1"));
        let mut raw = hostile();
        raw.id = Some("../version".into());
        assert_eq!(ContainerInfo::from_inspect(raw), None);
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let cut = clean(&long);
        assert!(cut.len() <= MAX_TEXT + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn the_zero_time_is_never_started() {
        assert_eq!(unix_seconds("0001-01-01T00:00:00Z"), None);
        assert_eq!(unix_seconds("garbage"), None);
    }
}
