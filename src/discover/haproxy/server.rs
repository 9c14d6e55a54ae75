//! HAProxy `server` lines: the address forms and the parameters that matter for diagnosis.

use std::path::PathBuf;

use crate::discover::address::{HostPort, first_variable, parse_port, split_host_port};
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

/// Parses a server address: "host:port", "[v6]:port", "ipv6@v6:port", "unix@/path", "/path"...
pub(super) fn parse_address(s: &str) -> Result<Address, AddressProblem> {
    if let Some(var) = first_variable(s) {
        return Err(AddressProblem::Runtime(format!(
            "address contains an environment variable ({var}): set when HAProxy starts"
        )));
    }
    let (family, rest) = match s.split_once('@') {
        Some((family, rest)) => (Some(family.to_ascii_lowercase()), rest),
        None => (None, s),
    };
    match family.as_deref() {
        None if rest.starts_with('/') => return Ok(Address::Unix(PathBuf::from(rest))),
        Some("unix") => return Ok(Address::Unix(PathBuf::from(rest))),
        Some("abns" | "abnsz") => {
            return Err(AddressProblem::Runtime(
                "abstract Unix socket: not reachable through a path".into(),
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
        None | Some("ipv4" | "ipv6" | "tcp" | "tcp4" | "tcp6") => {}
        Some(other) => {
            return Err(AddressProblem::Invalid(format!(
                "unknown address family \"{other}@\""
            )));
        }
    }
    let hp = split_haproxy_host_port(rest)?;
    match hp.port {
        Some(port) => Ok(Address::Net {
            host: hp.host,
            port,
        }),
        None => Err(AddressProblem::Runtime(
            "no port: HAProxy connects to the port the client connected to".into(),
        )),
    }
}

/// HAProxy reads the port after the last colon, brackets or not ("2001:db8::1:80"), and allows a
/// "+N"/"-N" offset from the client's port.
fn split_haproxy_host_port(s: &str) -> Result<HostPort, AddressProblem> {
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

/// Parameters of `default-server` then `server`, in that order, so the server's own win.
pub(super) fn parse_params(params: &[String]) -> Result<(ServerFlags, bool), String> {
    let mut flags = ServerFlags::default();
    let mut tls = false;
    let mut i = 0;
    while i < params.len() {
        let key = params[i].as_str();
        i += 1;
        if WITH_VALUE.contains(&key) {
            let value = params
                .get(i)
                .ok_or_else(|| format!("\"{key}\" expects a value"))?;
            i += 1;
            if key == "weight" {
                let weight = value
                    .parse()
                    .map_err(|_| format!("invalid weight \"{value}\""))?;
                flags.weight = Some(weight);
            } else {
                flags.other.push(format!("{key} {value}"));
            }
            continue;
        }
        match key {
            "check" => flags.health_check = true,
            "no-check" => flags.health_check = false,
            "backup" => flags.backup = true,
            "no-backup" => flags.backup = false,
            "disabled" => flags.down = true,
            "enabled" => flags.down = false,
            "ssl" => tls = true,
            "no-ssl" => tls = false,
            other => flags.other.push(other.to_string()),
        }
    }
    Ok((flags, tls))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn net(host: &str, port: u16) -> Result<Address, AddressProblem> {
        Ok(Address::Net {
            host: host.into(),
            port,
        })
    }

    #[test]
    fn address_forms() {
        assert_eq!(parse_address("10.0.0.5:8080"), net("10.0.0.5", 8080));
        assert_eq!(parse_address("app.internal:80"), net("app.internal", 80));
        assert_eq!(parse_address("[2001:db8::5]:443"), net("2001:db8::5", 443));
        assert_eq!(
            parse_address("ipv6@2001:db8::5:443"),
            net("2001:db8::5", 443)
        );
        assert_eq!(parse_address("ipv4@10.0.0.1:80"), net("10.0.0.1", 80));
        assert_eq!(
            parse_address("unix@/run/app.sock"),
            Ok(Address::Unix("/run/app.sock".into()))
        );
        assert_eq!(
            parse_address("/run/app.sock"),
            Ok(Address::Unix("/run/app.sock".into()))
        );
        assert!(matches!(
            parse_address("10.0.0.5"),
            Err(AddressProblem::Runtime(_))
        ));
        assert!(matches!(
            parse_address("10.0.0.5:+1000"),
            Err(AddressProblem::Runtime(_))
        ));
        assert!(matches!(
            parse_address("abns@app"),
            Err(AddressProblem::Runtime(_))
        ));
        assert!(matches!(
            parse_address("${APP_ADDR}:80"),
            Err(AddressProblem::Runtime(_))
        ));
        assert!(matches!(
            parse_address("10.0.0.5:99999"),
            Err(AddressProblem::Invalid(_))
        ));
        assert!(matches!(
            parse_address("bogus@x:1"),
            Err(AddressProblem::Invalid(_))
        ));
        assert!(matches!(
            parse_address(":80"),
            Err(AddressProblem::Invalid(_))
        ));
        assert!(matches!(
            parse_address("::1"),
            Err(AddressProblem::Invalid(_))
        ));
    }

    #[test]
    fn params() {
        let p: Vec<String> =
            "check inter 2s fall 3 weight 10 backup ssl verify none send-proxy no-check"
                .split(' ')
                .map(String::from)
                .collect();
        let (flags, tls) = parse_params(&p).unwrap();
        assert!(tls && flags.backup && !flags.health_check);
        assert_eq!(flags.weight, Some(10));
        assert_eq!(
            flags.other,
            ["inter 2s", "fall 3", "verify none", "send-proxy"]
        );
        assert!(parse_params(&["weight".to_string()]).is_err());
        assert!(parse_params(&["weight".to_string(), "x".to_string()]).is_err());
    }
}
