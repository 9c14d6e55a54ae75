//! What the engine resolves, where, and how patiently.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Nameserver;
use crate::config::Config;

/// The standard DNS port, which resolv.conf cannot override.
pub const DNS_PORT: u16 = 53;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSettings {
    /// Host names to resolve; duplicates and IP literals are dropped.
    pub names: Vec<String>,
    /// `[dns] nameservers`: `System` means the system configuration *and* each resolv.conf
    /// nameserver on its own.
    pub nameservers: Vec<Nameserver>,
    /// Further servers to ask on their own, e.g. from nginx `resolver` directives.
    pub extra_nameservers: Vec<SocketAddr>,
    /// Per lookup, A and AAAA together; one attempt, no retry.
    pub timeout: Duration,
    /// Between the end of one round and the start of the next.
    pub interval: Duration,
    pub hosts_file: PathBuf,
    pub resolv_conf: PathBuf,
    /// The port resolv.conf nameservers are asked on. Always 53 in use (resolv.conf has no port
    /// syntax); tests set it so that loopback servers need no privileged port.
    pub resolv_conf_port: u16,
    /// (name, port) of each watched upstream with a host name: after a round, each address the
    /// name resolved to is tried on the port, to catch a port open on one address family only.
    pub ports: Vec<(String, u16)>,
}

fn upstream_ports<'a>(
    targets: impl Iterator<Item = &'a crate::config::Target>,
) -> Vec<(String, u16)> {
    let mut ports: Vec<(String, u16)> = Vec::new();
    for t in targets {
        if let (Some(host), Some(port)) = (t.host(), t.port())
            && !super::is_ip_literal(host)
            && !ports.iter().any(|(h, p)| h == host && *p == port)
        {
            ports.push((host.to_owned(), port));
        }
    }
    ports
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self::from_config(&Config::default(), [])
    }
}

impl DnsSettings {
    /// The configured `[dns]` section, with every upstream's host name added to `[dns] names`.
    pub fn from_config(
        config: &Config,
        extra_nameservers: impl IntoIterator<Item = SocketAddr>,
    ) -> Self {
        let dns = &config.dns;
        let upstream_hosts = config
            .upstreams
            .iter()
            .filter_map(|u| u.url.host())
            .map(str::to_owned);
        DnsSettings {
            names: upstream_hosts.chain(dns.names.iter().cloned()).collect(),
            nameservers: dns.nameservers.clone(),
            extra_nameservers: extra_nameservers.into_iter().collect(),
            timeout: dns.timeout,
            interval: dns.interval,
            hosts_file: dns.hosts_file.clone(),
            resolv_conf: dns.resolv_conf.clone(),
            resolv_conf_port: DNS_PORT,
            ports: upstream_ports(config.upstreams.iter().map(|u| &u.url)),
        }
    }

    /// The names of the upstreams actually watched (configured or discovered), `[dns] names`,
    /// and the resolvers the proxy's own config names.
    pub fn for_catalog(config: &Config, catalog: &crate::upstream::catalog::Catalog) -> Self {
        let mut settings = Self::from_config(config, catalog.resolvers.iter().copied());
        // A name a proxy in a container connects to resolves in its network (Docker's DNS),
        // not the host's: its probe, made from there, resolves it.
        let hosts = catalog
            .entries
            .iter()
            .filter(|e| e.upstream.from.is_none())
            .filter_map(|e| e.upstream.url.host())
            .map(str::to_owned);
        settings.names = hosts.chain(config.dns.names.iter().cloned()).collect();
        settings.ports = upstream_ports(catalog.entries.iter().map(|e| &e.upstream.url));
        settings
    }

    /// Whether the system configuration (and so resolv.conf's servers) is asked.
    pub fn uses_system(&self) -> bool {
        self.nameservers.contains(&Nameserver::System)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn upstream_hosts_come_before_configured_names() {
        let config = crate::config::parse(
            r#"
[[upstream]]
name = "app"
url = "http://app.internal:8080/health"

[[upstream]]
name = "sock"
url = "unix:/run/app.sock"

[dns]
names = ["db.internal"]
nameservers = ["system", "127.0.0.1:5353"]
timeout = "1s"
"#,
            Path::new("t.toml"),
        )
        .unwrap();
        let extra: SocketAddr = "10.9.9.9:53".parse().unwrap();
        let s = DnsSettings::from_config(&config, [extra]);
        assert_eq!(s.names, ["app.internal", "db.internal"]);
        assert!(s.uses_system());
        assert_eq!(s.extra_nameservers, [extra]);
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!(s.resolv_conf_port, 53);
    }
}
