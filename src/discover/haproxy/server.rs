//! HAProxy `server` lines: the address forms and the parameters that matter for diagnosis.

use std::path::PathBuf;

use crate::discover::address::{
    HostPort, first_variable, host_port_text, parse_port, read_host, split_host_port, unusual_ipv4,
};
use crate::discover::model::ServerFlags;

/// Where a server line points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Address {
    Net { host: String, port: u16 },
    Unix(PathBuf),
}

/// Why a server address is not turned into a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum AddressProblem {
    /// Valid, but only known at run time: an unprobeable upstream.
    Runtime(String),
    /// Not a valid address.
    Invalid(String),
}

/// A parsed address and what the engineer should know about how it was read, for
/// `flags.other` ("mptcp@: probed over plain TCP", "127.1 is 127.0.0.1").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Parsed {
    pub address: Address,
    pub notes: Vec<String>,
}

/// Parses a server address: "host:port", "[v6]:port", "ipv6@v6:port", "unix@/path", "/path",
/// "mptcp@host:port", "10.10.188:80" (a short IPv4 form)...
pub(super) fn parse_address(s: &str) -> Result<Parsed, AddressProblem> {
    if let Some(var) = first_variable(s) {
        return Err(AddressProblem::Runtime(format!(
            "address contains an environment variable ({var}): set when HAProxy starts"
        )));
    }
    let (family, rest) = match s.split_once('@') {
        Some((family, rest)) => (Some(family.to_ascii_lowercase()), rest),
        None => (None, s),
    };
    let unix = |path: &str| {
        Ok(Parsed {
            address: Address::Unix(PathBuf::from(path)),
            notes: Vec::new(),
        })
    };
    let mut notes = Vec::new();
    match family.as_deref() {
        None if rest.starts_with('/') => return unix(rest),
        Some("unix") => return unix(rest),
        Some("abns" | "abnsz") => {
            return Err(AddressProblem::Runtime(
                "abstract Unix socket (abns@): it has no path in the file system, so it cannot be probed from here".into(),
            ));
        }
        Some("fd" | "sockpair") => {
            return Err(AddressProblem::Runtime(
                "inherited file descriptor: nothing to connect to".into(),
            ));
        }
        Some("rhttp") => {
            return Err(AddressProblem::Runtime(
                "reverse HTTP: the server connects to HAProxy".into(),
            ));
        }
        Some(f @ ("quic4" | "quic6" | "udp" | "udp4" | "udp6")) => {
            return Err(AddressProblem::Runtime(format!(
                "{f}@ address: UDP, not probed"
            )));
        }
        // Multipath TCP falls back to TCP when a peer does not offer it: a plain TCP connect
        // reaches the same listener.
        Some(f @ ("mptcp" | "mptcp4" | "mptcp6")) => {
            notes.push(format!("{f}@ address: probed over plain TCP"));
        }
        None | Some("ipv4" | "ipv6" | "tcp" | "tcp4" | "tcp6") => {}
        Some(other) => {
            return Err(AddressProblem::Invalid(format!(
                "unknown address family \"{other}@\""
            )));
        }
    }
    let hp = split_haproxy_host_port(rest)?;
    let Some(port) = hp.port else {
        return Err(AddressProblem::Runtime(
            "no port: HAProxy connects to the port the client connected to".into(),
        ));
    };
    // HAProxy resolves a host that is not a dotted quad with getaddrinfo, which reads
    // "10.10.188" as the address 10.10.0.188 (inet_aton): never a name to look up.
    let (host, note) = read_host(hp.host);
    notes.extend(note);
    Ok(Parsed {
        address: Address::Net { host, port },
        notes,
    })
}

/// HAProxy reads the port after the last colon, brackets or not ("2001:db8::1:80"), and allows a
/// "+N"/"-N" offset from the client's port.
pub(super) fn split_haproxy_host_port(s: &str) -> Result<HostPort, AddressProblem> {
    if s.starts_with('[') {
        return split_host_port(s).map_err(AddressProblem::Invalid);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return split_host_port(s).map_err(AddressProblem::Invalid);
    };
    if host.is_empty() {
        return Err(AddressProblem::Invalid(format!("no host in \"{s}\"")));
    }
    if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(AddressProblem::Invalid(format!("invalid address \"{s}\"")));
    }
    if port.is_empty() {
        return Ok(HostPort {
            host: host.to_string(),
            port: None,
        });
    }
    if port.starts_with(['+', '-']) {
        return Err(AddressProblem::Runtime(format!(
            "port offset \"{port}\": relative to the port the client connected to"
        )));
    }
    let port = parse_port(port).map_err(AddressProblem::Invalid)?;
    Ok(HostPort {
        host: host.to_string(),
        port: Some(port),
    })
}

/// Server keywords that take one value; anything else unknown is a lone flag.
const WITH_VALUE: &[&str] = &[
    "addr",
    "agent-addr",
    "agent-inter",
    "agent-port",
    "agent-send",
    "alpn",
    "ca-file",
    "check-alpn",
    "check-proto",
    "check-sni",
    "ciphers",
    "ciphersuites",
    "client-sigalgs",
    "cookie",
    "crl-file",
    "crt",
    "curves",
    "downinter",
    "error-limit",
    "fall",
    "fastinter",
    "guid",
    "hash-key",
    "id",
    "init-addr",
    "inter",
    "log-proto",
    "max-reuse",
    "maxconn",
    "maxqueue",
    "minconn",
    "namespace",
    "npn",
    "observe",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "pool-low-conn",
    "pool-max-conn",
    "pool-purge-delay",
    "port",
    "proto",
    "redir",
    "resolve-net",
    "resolve-opts",
    "resolve-prefer",
    "resolvers",
    "rise",
    "set-proxy-v2-tlv-fmt",
    "shard",
    "sigalgs",
    "slowstart",
    "sni",
    "socks4",
    "source",
    "ssl-max-ver",
    "ssl-min-ver",
    "tcp-ut",
    "track",
    "usesrc",
    "verify",
    "verifyhost",
    "weight",
    "ws",
];

/// What a server's parameters say about how it is reached and checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Params {
    pub flags: ServerFlags,
    pub tls: bool,
    /// `socks4 ADDR:PORT`: HAProxy connects to this SOCKS4 proxy, which connects to the server.
    pub socks4: Option<String>,
    /// `addr`, `port` and `check-ssl`: where and how the health check connects when it differs
    /// from the server's own address.
    pub check_addr: Option<String>,
    pub check_port: Option<String>,
    pub check_ssl: bool,
}

/// Parameters of `default-server` then `server`, in that order, so the server's own win.
pub(super) fn parse_params(params: &[String]) -> Result<Params, String> {
    let mut out = Params::default();
    let mut i = 0;
    while i < params.len() {
        let key = params[i].as_str();
        i += 1;
        if WITH_VALUE.contains(&key) {
            let value = params
                .get(i)
                .ok_or_else(|| format!("\"{key}\" expects a value"))?;
            i += 1;
            match key {
                "weight" => {
                    let weight = value
                        .parse()
                        .map_err(|_| format!("invalid weight \"{value}\""))?;
                    out.flags.weight = Some(weight);
                }
                "socks4" => out.socks4 = Some(value.clone()),
                "addr" => out.check_addr = Some(value.clone()),
                "port" => out.check_port = Some(value.clone()),
                _ => out.flags.other.push(format!("{key} {value}")),
            }
            continue;
        }
        match key {
            "check" => out.flags.health_check = true,
            "no-check" => out.flags.health_check = false,
            "backup" => out.flags.backup = true,
            "no-backup" => out.flags.backup = false,
            "disabled" => out.flags.down = true,
            "enabled" => out.flags.down = false,
            "ssl" => out.tls = true,
            "no-ssl" => out.tls = false,
            "check-ssl" => out.check_ssl = true,
            "no-check-ssl" => out.check_ssl = false,
            other => out.flags.other.push(other.to_string()),
        }
    }
    Ok(out)
}

/// "health check at 10.0.0.9:8081 over TLS" when the check goes elsewhere than the traffic or
/// over TLS of its own; `None` when it goes where the traffic goes (or there is no check).
/// `addr` may be written in a short IPv4 form too.
pub(super) fn health_check_note(p: &Params, host: &str, port: u16) -> Option<String> {
    if !p.flags.health_check || (p.check_addr.is_none() && p.check_port.is_none() && !p.check_ssl) {
        return None;
    }
    let addr = p.check_addr.as_deref().map_or_else(
        || host.to_string(),
        |a| unusual_ipv4(a).map_or_else(|| a.to_string(), |ip| ip.to_string()),
    );
    let port = p.check_port.clone().unwrap_or_else(|| port.to_string());
    let tls = if p.check_ssl { " over TLS" } else { "" };
    Some(format!(
        "health check at {}{tls}",
        host_port_text(&addr, port)
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn addr(s: &str) -> Result<Address, AddressProblem> {
        parse_address(s).map(|p| p.address)
    }

    fn net(host: &str, port: u16) -> Result<Address, AddressProblem> {
        Ok(Address::Net {
            host: host.into(),
            port,
        })
    }

    #[test]
    fn address_forms() {
        assert_eq!(addr("10.0.0.5:8080"), net("10.0.0.5", 8080));
        assert_eq!(addr("app.internal:80"), net("app.internal", 80));
        assert_eq!(addr("[2001:db8::5]:443"), net("2001:db8::5", 443));
        assert_eq!(addr("ipv6@2001:db8::5:443"), net("2001:db8::5", 443));
        assert_eq!(addr("ipv4@10.0.0.1:80"), net("10.0.0.1", 80));
        assert_eq!(
            addr("unix@/run/app.sock"),
            Ok(Address::Unix("/run/app.sock".into()))
        );
        assert_eq!(
            addr("/run/app.sock"),
            Ok(Address::Unix("/run/app.sock".into()))
        );
        assert!(matches!(addr("10.0.0.5"), Err(AddressProblem::Runtime(_))));
        assert!(matches!(
            addr("10.0.0.5:+1000"),
            Err(AddressProblem::Runtime(_))
        ));
        assert!(matches!(addr("abns@app"), Err(AddressProblem::Runtime(_))));
        assert!(matches!(
            addr("${APP_ADDR}:80"),
            Err(AddressProblem::Runtime(_))
        ));
        assert!(matches!(
            addr("10.0.0.5:99999"),
            Err(AddressProblem::Invalid(_))
        ));
        assert!(matches!(addr("bogus@x:1"), Err(AddressProblem::Invalid(_))));
        assert!(matches!(addr(":80"), Err(AddressProblem::Invalid(_))));
        assert!(matches!(addr("::1"), Err(AddressProblem::Invalid(_))));
    }

    #[test]
    fn params() {
        let p: Vec<String> =
            "check inter 2s fall 3 weight 10 backup ssl verify none send-proxy no-check"
                .split(' ')
                .map(String::from)
                .collect();
        let Params { flags, tls, .. } = parse_params(&p).unwrap();
        assert!(tls && flags.backup && !flags.health_check);
        assert_eq!(flags.weight, Some(10));
        assert_eq!(
            flags.other,
            ["inter 2s", "fall 3", "verify none", "send-proxy"]
        );
        assert!(parse_params(&["weight".to_string()]).is_err());
        assert!(parse_params(&["weight".to_string(), "x".to_string()]).is_err());
    }

    fn notes(s: &str) -> Vec<String> {
        parse_address(s).unwrap().notes
    }

    #[test]
    fn short_dotted_ipv4_is_an_address_not_a_name() {
        assert_eq!(addr("10.10.188:80"), net("10.10.0.188", 80));
        assert_eq!(addr("127.1:8080"), net("127.0.0.1", 8080));
        assert_eq!(addr("10.1.2:80"), net("10.1.0.2", 80));
        assert_eq!(addr("2130706433:80"), net("127.0.0.1", 80));
        assert_eq!(addr("ipv4@127.1:80"), net("127.0.0.1", 80));
        assert_eq!(notes("127.1:8080"), ["address 127.1 read as 127.0.0.1"]);
        // Dotted quads and names stay as written, with nothing to say.
        assert!(notes("10.0.0.5:80").is_empty());
        assert_eq!(addr("1.2.3.4.5:80"), net("1.2.3.4.5", 80));
        assert_eq!(addr("app1.internal:80"), net("app1.internal", 80));
        assert_eq!(addr("10.0.0.5a:80"), net("10.0.0.5a", 80));
    }

    #[test]
    fn mptcp_is_probed_as_tcp_and_abns_is_unprobeable() {
        assert_eq!(addr("mptcp@10.0.0.5:80"), net("10.0.0.5", 80));
        assert_eq!(addr("mptcp4@127.1:80"), net("127.0.0.1", 80));
        assert_eq!(addr("MPTCP6@[::1]:80"), net("::1", 80));
        assert_eq!(
            notes("mptcp@10.0.0.5:80"),
            ["mptcp@ address: probed over plain TCP"]
        );
        let Err(AddressProblem::Runtime(reason)) = addr("abns@haproxy-app") else {
            panic!("abns@ must be unprobeable");
        };
        assert!(reason.contains("abstract"), "{reason}");
    }

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn socks4_hop_and_health_check_parameters() {
        let p = parse_params(&words("check socks4 127.0.0.1:1080 inter 2s")).unwrap();
        assert_eq!(p.socks4.as_deref(), Some("127.0.0.1:1080"));
        assert_eq!(p.flags.other, ["inter 2s"]);

        let p = parse_params(&words("check port 8081 addr 10.0.0.9 check-ssl")).unwrap();
        assert_eq!(
            health_check_note(&p, "10.0.0.5", 80).as_deref(),
            Some("health check at 10.0.0.9:8081 over TLS")
        );
        let p = parse_params(&words("check port 8081")).unwrap();
        assert_eq!(
            health_check_note(&p, "fd00::5", 80).as_deref(),
            Some("health check at [fd00::5]:8081")
        );
        let p = parse_params(&words("check addr 10.9")).unwrap();
        assert_eq!(
            health_check_note(&p, "10.0.0.5", 80).as_deref(),
            Some("health check at 10.0.0.9:80")
        );
        // No check, or a check where the traffic goes: nothing to add.
        let p = parse_params(&words("port 8081")).unwrap();
        assert_eq!(health_check_note(&p, "10.0.0.5", 80), None);
        let p = parse_params(&words("check")).unwrap();
        assert_eq!(health_check_note(&p, "10.0.0.5", 80), None);
        assert!(parse_params(&words("socks4")).is_err());
    }
}
