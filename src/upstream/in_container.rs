//! Proxies in containers, added to the catalog: each one's config is read inside its own root
//! (`/proc/PID/root`, every include resolved there, never on the host's /etc), its upstreams are
//! probed from inside its network namespace, and its logs are followed where they really go: a
//! file in the container, or the container's log stream when the file is a link to stdout.

use std::io::Read;
use std::path::Path;

use super::catalog::Catalog;
use crate::config::{ProbeFrom, Target};
use crate::containers::{ContainerProxy, ProxyContainer, ProxyFacts};
use crate::diagnosis::NamedUpstream;
use crate::discover::{self, DiscoveredLog, DiscoveredTarget, ProxyKind};
use crate::rootfs::{Resolved, Root};
use crate::sanitize::sanitize;
use crate::status::{Finding, Status};

/// A container's resolv.conf and hosts file are read up to this much.
const RESOLV_CONF_BYTES: u64 = 64 * 1024;

/// Reads the proxy in `container` as discovery reads one on the host, into `catalog`; the targets
/// found, with where to probe them from. `socket` is the engine's, for the log stream.
pub fn add(
    catalog: &mut Catalog,
    container: &ProxyContainer,
    proc_root: &Path,
    socket: Option<&Path>,
) -> Vec<(DiscoveredTarget, Option<ProbeFrom>)> {
    let name = &container.name;
    let warn = |catalog: &mut Catalog, text: String| {
        let text = sanitize(&text).into_owned();
        catalog.findings.push(Finding::new(Status::Warning, text));
    };
    let Some(kind) = proxy_kind(container.kind) else {
        catalog.read_from.push(
            sanitize(&format!(
                "{} in container {name}: its config is not read (only nginx, HAProxy, Apache and \
                 Caddy are)",
                container.kind.name()
            ))
            .into_owned(),
        );
        return Vec::new();
    };
    let process = proc_root.join(container.pid.to_string());
    let root = match Root::open(&process.join("root")) {
        Ok(root) => root,
        Err(e) => {
            warn(
                catalog,
                format!("container {name}: its files cannot be read ({e}); run gatewatch as root"),
            );
            return Vec::new();
        }
    };
    let Some(config) = discover::default_config_in_root(kind, &root) else {
        warn(
            catalog,
            format!(
                "container {name} runs {} but has no config at {}",
                container.kind.name(),
                kind.default_config_paths().join(", ")
            ),
        );
        return Vec::new();
    };
    let mut found = discover::discover_in_root(kind, &root, &config);
    catalog.read_from.push(
        sanitize(&format!(
            "{} in container {name}: {} ({} files)",
            container.kind.name(),
            config.display(),
            found.files_read.len()
        ))
        .into_owned(),
    );
    for e in &found.errors {
        warn(
            catalog,
            format!("{} config in container {name}: {e}", container.kind.name()),
        );
    }
    let logs = add_logs(catalog, name, std::mem::take(&mut found.logs), socket);
    let from = ProbeFrom {
        container: name.clone(),
        netns: process.join("ns/net"),
        netns_id: crate::netns::Netns::open(&process.join("ns/net"))
            .ok()
            .map(|n| n.id()),
        nameservers: nameservers(&root).unwrap_or_else(|e| {
            warn(
                catalog,
                format!("container {name}: {e}; its names are not resolved"),
            );
            Vec::new()
        }),
        hosts: read_small(&root, "/etc/hosts")
            .map(|text| hosts_entries(&text))
            .unwrap_or_default(),
    };
    let mut literal = Vec::new();
    for t in &found.targets {
        match named_upstream(&t.target, name) {
            // One name and port is one upstream however many `proxy_pass` and `server` lines
            // name it.
            Some(named)
                if !catalog.named_upstreams.iter().any(|n| {
                    n.proxy == named.proxy
                        && n.port == named.port
                        && n.name.eq_ignore_ascii_case(&named.name)
                }) =>
            {
                catalog.named_upstreams.push(named);
            }
            Some(_) => {}
            None => literal.extend(literal_address(&t.target)),
        }
    }
    catalog.container_proxies.push(ProxyFacts {
        name: name.clone(),
        logs,
        networks: container
            .info
            .iter()
            .flat_map(|i| i.networks.iter().map(|n| n.name.clone()))
            .collect(),
        literal,
    });
    // The container's resolvers, admin APIs and files are its own: asked or watched from the
    // host they would be the host's (127.0.0.11 answers only inside its network).
    let (sockets, targets): (Vec<_>, Vec<_>) = found
        .targets
        .into_iter()
        .partition(|t| matches!(t.target, Target::Unix { .. }));
    for t in sockets {
        // Its path is the container's; connecting through /proc/PID/root would resolve links
        // on the host's side.
        catalog.unprobeable.push(
            sanitize(&format!(
                "{} at container {name}: {}: a unix socket inside the container; not probed",
                t.name, t.source
            ))
            .into_owned(),
        );
    }
    targets
        .into_iter()
        .map(|t| (t, Some(from.clone())))
        .collect()
}

fn proxy_kind(kind: ContainerProxy) -> Option<ProxyKind> {
    match kind {
        ContainerProxy::Nginx => Some(ProxyKind::Nginx),
        ContainerProxy::Haproxy => Some(ProxyKind::Haproxy),
        ContainerProxy::Apache => Some(ProxyKind::Apache),
        ContainerProxy::Caddy => Some(ProxyKind::Caddy),
        ContainerProxy::Traefik | ContainerProxy::Envoy => None,
    }
}

/// A file log is followed at the path that reaches it from the host; a log linked to stdout or
/// stderr is the container's log stream (once per container, it carries both).
/// The labels of the log sources added, as the log book shows them.
fn add_logs(
    catalog: &mut Catalog,
    name: &str,
    logs: Vec<DiscoveredLog>,
    socket: Option<&Path>,
) -> Vec<String> {
    let mut labels = Vec::new();
    let mut stream = false;
    for log in logs {
        match &log.in_root {
            Some(Resolved::File { host_path, .. }) => {
                labels.push(crate::logs::SourceSpec::file(host_path.clone(), None).label());
                catalog.logs.push(DiscoveredLog {
                    path: host_path.clone(),
                    ..log
                });
            }
            Some(Resolved::Stream(_)) => stream = true,
            Some(Resolved::Missing) => catalog.findings.push(Finding::new(
                Status::Warning,
                sanitize(&format!(
                    "container {name}: its log {} does not exist",
                    log.path.display()
                ))
                .into_owned(),
            )),
            Some(Resolved::Unusable(why)) => catalog.findings.push(Finding::new(
                Status::Warning,
                sanitize(&format!(
                    "container {name}: its log {} is not followed: {why}",
                    log.path.display()
                ))
                .into_owned(),
            )),
            None => {}
        }
    }
    if !stream {
        return labels;
    }
    match crate::logs::container_source_at(name, socket) {
        Ok(source) if socket.is_some() => {
            labels.push(source.label());
            catalog.container_logs.push(source);
        }
        Ok(_) => catalog.findings.push(Finding::new(
            Status::Warning,
            sanitize(&format!(
                "container {name} logs to its stdout, which only the container engine's API \
                 can read, and no engine socket answered"
            ))
            .into_owned(),
        )),
        Err(e) => catalog.findings.push(Finding::new(
            Status::Warning,
            sanitize(&format!(
                "container {name}: its log stream cannot be followed: {e}"
            ))
            .into_owned(),
        )),
    }
    labels
}

/// The address a target names as it is, when it names one.
fn literal_address(target: &Target) -> Option<std::net::SocketAddr> {
    let host = target.host()?.trim_start_matches('[').trim_end_matches(']');
    Some(std::net::SocketAddr::new(
        host.parse().ok()?,
        target.port()?,
    ))
}

/// The nameservers the container's resolv.conf names, read inside its root.
fn nameservers(root: &Root) -> Result<Vec<std::net::SocketAddr>, String> {
    let text = read_small(root, "/etc/resolv.conf")?;
    crate::netns::nameservers_from_resolv_conf(&text)
}

/// A small file of the container's (resolv.conf, hosts), read inside its root, bounded.
fn read_small(root: &Root, path: &str) -> Result<Vec<u8>, String> {
    let file = root
        .open_file(Path::new(path))
        .map_err(|e| format!("cannot read its {path}: {e}"))?;
    let mut text = Vec::new();
    file.take(RESOLV_CONF_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read its {path}: {e}"))?;
    Ok(text)
}

/// The entries of a hosts file: each name (lowercased) with its address, in file order. Written
/// here rather than with hickory's `Hosts`, which answers queries but does not hand its entries
/// over, and the probe needs them as plain data beside the nameservers. At most 1,000 entries.
fn hosts_entries(text: &[u8]) -> Vec<(String, std::net::IpAddr)> {
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(text).lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(Ok(ip)) = words.next().map(str::parse::<std::net::IpAddr>) else {
            continue;
        };
        for name in words {
            if out.len() >= 1000 {
                return out;
            }
            out.push((name.to_ascii_lowercase(), ip));
        }
    }
    out
}

/// A target named by a host name (not an address) and its port: what the stale-address check
/// compares with the container behind that name.
fn named_upstream(target: &Target, proxy: &str) -> Option<NamedUpstream> {
    if literal_address(target).is_some() {
        return None;
    }
    let (host, port) = (target.host()?, target.port()?);
    Some(NamedUpstream {
        name: host.to_owned(),
        port,
        proxy: proxy.to_owned(),
        resolves_at_runtime: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        url.parse().expect("a target")
    }

    #[test]
    fn only_names_are_named_upstreams_and_the_port_is_kept() {
        let named = named_upstream(&target("http://app:8000"), "web").expect("a name");
        assert_eq!((named.name.as_str(), named.port), ("app", 8000));
        assert_eq!(named.proxy, "web");
        assert!(named_upstream(&target("tcp://db.internal:5432"), "web").is_some());
        for literal in ["http://172.18.0.2:8000", "http://[fd00::2]:8000"] {
            assert!(
                named_upstream(&target(literal), "web").is_none(),
                "{literal}"
            );
        }
        assert!(named_upstream(&target("unix:/run/php/php-fpm.sock"), "web").is_none());
    }

    #[test]
    fn a_hosts_file_gives_every_name_its_address_and_skips_the_rest() {
        let text = b"127.0.0.1\tlocalhost\n# a comment\n172.18.0.9 Legacy legacy.internal # old\n\
                     fd00::2 ip6-app\nnot-an-ip name\n\x1b[2J junk\n";
        let got = hosts_entries(text);
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        assert_eq!(
            got,
            [
                ("localhost".to_string(), ip("127.0.0.1")),
                ("legacy".to_string(), ip("172.18.0.9")),
                ("legacy.internal".to_string(), ip("172.18.0.9")),
                ("ip6-app".to_string(), ip("fd00::2")),
            ]
        );
    }

    #[test]
    fn traefik_and_envoy_have_no_config_read() {
        assert_eq!(proxy_kind(ContainerProxy::Traefik), None);
        assert_eq!(proxy_kind(ContainerProxy::Nginx), Some(ProxyKind::Nginx));
    }
}
