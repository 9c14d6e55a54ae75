//! Name resolution for probes, shared by the tcp probe and the HTTP client so a failed lookup is
//! recognisable as `dns` by its type. By default the system resolver (getaddrinfo: /etc/hosts,
//! then DNS); for a proxy in a container, the nameservers of the container's resolv.conf, asked
//! from inside its network namespace (see `crate::netns`), since the host's resolver knows
//! nothing of the names on a Compose network.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::dns::{DnsResult, Rcode};

/// Where a probe's host names are resolved.
#[derive(Clone, Debug, Default)]
pub(crate) enum Names {
    /// getaddrinfo, with the host's own configuration.
    #[default]
    System,
    /// `hosts` first (a container's /etc/hosts: Compose's `extra_hosts`, `--link`), then these
    /// nameservers in resolv.conf order, each asked with this timeout; no search list.
    Nameservers {
        servers: Arc<[SocketAddr]>,
        timeout: Duration,
        hosts: Arc<[(String, IpAddr)]>,
    },
}

/// A name that could not be turned into addresses.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error("cannot resolve {host:?}")]
    Lookup {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("{host:?} resolves to no addresses")]
    Empty { host: String },
    /// Through given nameservers; `reason` names each server asked and what it said (sanitised).
    #[error("cannot resolve {host:?}: {reason}")]
    Nameservers { host: String, reason: String },
}

/// Addresses for `host`; an IP literal is used as it is, without a lookup.
pub(crate) async fn resolve(
    names: &Names,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = match names {
        Names::System => tokio::net::lookup_host((host, port))
            .await
            .map_err(|source| ResolveError::Lookup {
                host: host.to_owned(),
                source,
            })?
            .collect(),
        Names::Nameservers { hosts, .. }
            if hosts.iter().any(|(n, _)| n.eq_ignore_ascii_case(host)) =>
        {
            hosts
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(host))
                .map(|(_, ip)| SocketAddr::new(*ip, port))
                .collect()
        }
        Names::Nameservers {
            servers, timeout, ..
        } => {
            let results = crate::dns::lookup_each(host, servers, *timeout).await;
            first_answer(&results)
                .map_err(|reason| ResolveError::Nameservers {
                    host: crate::sanitize::sanitize(host).into_owned(),
                    reason,
                })?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        }
    };
    if addrs.is_empty() {
        return Err(ResolveError::Empty {
            host: host.to_owned(),
        });
    }
    Ok(addrs)
}

/// The answer a stub resolver would take from results in resolv.conf order: the first server
/// that gave a definite answer (addresses, or NXDOMAIN / no records, which are final); servers
/// that did not answer, or answered SERVFAIL or REFUSED, are passed over, as glibc does.
fn first_answer(results: &[DnsResult]) -> Result<Vec<IpAddr>, String> {
    let definite = |r: &&DnsResult| {
        !r.answers.is_empty() || matches!(r.rcode, Some(Rcode::NoError | Rcode::NxDomain))
    };
    match results.iter().find(definite) {
        Some(r) if !r.answers.is_empty() => Ok(r.addresses().collect()),
        Some(r) => Err(said(r)),
        None if results.is_empty() => Err("no nameserver to ask".to_owned()),
        None => Err(results.iter().map(said).collect::<Vec<_>>().join("; ")),
    }
}

fn said(r: &DnsResult) -> String {
    let what = r.error.as_deref().unwrap_or("no addresses");
    format!("{}: {what}", r.nameserver)
}

/// The HTTP client's resolver: the same lookup, so its failures carry a [`ResolveError`].
pub(crate) struct ProbeResolver(pub Names);

impl reqwest::dns::Resolve for ProbeResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let names = self.0.clone();
        Box::pin(async move {
            // Port 0: reqwest puts in the URL's port.
            super::phases::resolve_started();
            let addrs = resolve(&names, &host, 0).await;
            super::phases::resolve_done();
            let addrs = addrs?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hosts_entry_answers_before_any_nameserver_is_asked() {
        let names = Names::Nameservers {
            servers: Arc::from(Vec::new()),
            timeout: Duration::from_millis(100),
            hosts: Arc::from(vec![("legacy".to_string(), "172.18.0.9".parse().unwrap())]),
        };
        let addrs = resolve(&names, "Legacy", 8000)
            .await
            .expect("from the hosts file");
        assert_eq!(addrs, ["172.18.0.9:8000".parse().unwrap()]);
        let e = resolve(&names, "other", 8000)
            .await
            .expect_err("no nameserver");
        assert!(e.to_string().contains("no nameserver"), "{e}");
    }
    use crate::dns::{Answer, Nameserver, Source};

    fn row(server: &str, addrs: &[&str], rcode: Option<Rcode>, error: Option<&str>) -> DnsResult {
        DnsResult {
            name: "app".into(),
            nameserver: Nameserver::Addr(server.parse().unwrap()),
            answers: addrs
                .iter()
                .map(|a| Answer {
                    addr: a.parse().unwrap(),
                    ttl: Some(600),
                })
                .collect(),
            cname_chain: Vec::new(),
            rcode,
            latency: Duration::ZERO,
            error: error.map(str::to_owned),
            source: Source::Dns,
        }
    }

    #[test]
    fn a_silent_or_failing_server_is_passed_over_but_nxdomain_is_final() {
        let silent = row("127.0.0.11:53", &[], None, Some("timed out after 2s"));
        let servfail = row(
            "10.0.0.1:53",
            &[],
            Some(Rcode::ServFail),
            Some("SERVFAIL: the server failed to answer"),
        );
        let nx = row(
            "10.0.0.2:53",
            &[],
            Some(Rcode::NxDomain),
            Some("NXDOMAIN: no such name"),
        );
        let found = row("10.0.0.3:53", &["172.18.0.5"], Some(Rcode::NoError), None);

        let ok = first_answer(&[silent.clone(), servfail.clone(), found.clone()]).unwrap();
        assert_eq!(ok, ["172.18.0.5".parse::<IpAddr>().unwrap()]);

        let err = first_answer(&[nx, found]).unwrap_err();
        assert_eq!(err, "10.0.0.2:53: NXDOMAIN: no such name");

        let err = first_answer(&[silent, servfail]).unwrap_err();
        assert_eq!(
            err,
            "127.0.0.11:53: timed out after 2s; \
             10.0.0.1:53: SERVFAIL: the server failed to answer"
        );
        assert_eq!(first_answer(&[]).unwrap_err(), "no nameserver to ask");
    }
}
