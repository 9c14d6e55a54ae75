//! Addresses as proxies write them: `host:port`, `[v6]:port`, URLs, Unix socket paths.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::target::Target;

/// A host (IPv6 without brackets) and the port, when one was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostPort {
    pub host: String,
    pub port: Option<u16>,
}

/// Where a proxy connects: a network address or a Unix socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Net(HostPort),
    Unix(PathBuf),
}

/// Splits "host", "host:port", "[v6]" or "[v6]:port". A bare IPv6 address is accepted without a
/// port only, since its last group would otherwise be read as one.
pub(crate) fn split_host_port(s: &str) -> Result<HostPort, String> {
    if s.is_empty() {
        return Err("empty address".into());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing \"]\" in \"{s}\""))?;
        host.parse::<Ipv6Addr>()
            .map_err(|_| format!("invalid IPv6 address \"{host}\""))?;
        let port = match after {
            "" => None,
            _ => {
                let p = after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("unexpected \"{after}\" after \"[{host}]\""))?;
                Some(parse_port(p)?)
            }
        };
        return Ok(HostPort {
            host: host.to_string(),
            port,
        });
    }
    match s.rsplit_once(':') {
        None => check_host(s).map(|host| HostPort { host, port: None }),
        Some((h, _)) if h.contains(':') => {
            if s.parse::<Ipv6Addr>().is_ok() {
                Ok(HostPort {
                    host: s.to_string(),
                    port: None,
                })
            } else {
                Err(format!(
                    "invalid address \"{s}\" (IPv6 with a port needs brackets: [addr]:port)"
                ))
            }
        }
        Some((h, p)) => Ok(HostPort {
            host: check_host(h)?,
            port: Some(parse_port(p)?),
        }),
    }
}

fn check_host(h: &str) -> Result<String, String> {
    if h.is_empty() {
        return Err("no host in address".into());
    }
    if h.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "/?#@[]\"'".contains(c))
    {
        return Err(format!("invalid host \"{h}\""));
    }
    Ok(h.to_string())
}

/// A TCP port: 1-65535, decimal digits only.
pub(crate) fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("invalid port \"{p}\"")),
    }
}

/// An IPv4 address in any form glibc's `inet_aton` accepts, which is how HAProxy (through
/// `getaddrinfo`) and nginx read a host that is not a name: one to four parts separated by dots,
/// each decimal, `0x` hex or `0` octal, the last part filling the bits left ("10.10.188" is
/// 10.10.0.188, "127.1" is 127.0.0.1, "2130706433" is 127.0.0.1). `None` for anything else,
/// so names ("app1", "1.2.3.4.5", "10.0.0.5a") stay names.
pub(crate) fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.splitn(5, '.').collect();
    if parts.len() > 4 {
        return None;
    }
    let values: Vec<u32> = parts.iter().map(|p| aton_part(p)).collect::<Option<_>>()?;
    let (last, head) = values.split_last()?;
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let last_bits = 32 - 8 * head.len() as u32;
    if last_bits < 32 && *last >> last_bits != 0 {
        return None;
    }
    let high = head
        .iter()
        .enumerate()
        .fold(0u32, |acc, (i, &v)| acc | v << (24 - 8 * i as u32));
    Some(Ipv4Addr::from(high | last))
}

/// One part of an `inet_aton` address: decimal, `0x` hex or `0` octal, at most 32 bits.
fn aton_part(p: &str) -> Option<u32> {
    let (digits, radix) = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (hex, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    // from_str_radix accepts a sign; inet_aton does not.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// The dotted quad for a host written in a short or unusual IPv4 form ("127.1"), or `None` when
/// the host is already a dotted quad, an IPv6 address or a name.
pub(crate) fn unusual_ipv4(host: &str) -> Option<Ipv4Addr> {
    if host.parse::<Ipv4Addr>().is_ok() {
        return None;
    }
    inet_aton(host)
}

/// A host as a proxy that resolves with `getaddrinfo` reads it: a short or unusual IPv4 form
/// ("127.1") as its dotted quad, with a note saying so; anything else as written.
pub(crate) fn read_host(host: String) -> (String, Option<String>) {
    match unusual_ipv4(&host) {
        Some(ip) => (ip.to_string(), Some(format!("address {host} read as {ip}"))),
        None => (host, None),
    }
}

/// "host:port", with brackets around IPv6.
pub(crate) fn host_port_text(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// An HTTP target probed at the server's root: any answer at all shows the upstream is up.
pub(crate) fn http_target(host: &str, port: u16, tls: bool) -> Target {
    let scheme = if tls { "https" } else { "http" };
    Target::Http {
        url: format!("{scheme}://{}/", host_port_text(host, port)),
        tls,
        host: host.to_string(),
        port,
    }
}

pub(crate) fn tcp_target(host: &str, port: u16) -> Target {
    Target::Tcp {
        host: host.to_string(),
        port,
    }
}

/// Splits "scheme://rest" into the lowercased scheme and the rest.
pub(crate) fn split_scheme(s: &str) -> Option<(String, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), rest))
}

/// The authority part of what follows "scheme://": up to the first "/", "?" or "#".
pub(crate) fn authority(rest: &str) -> &str {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// Strips a case-insensitive "unix:" prefix.
pub(crate) fn strip_unix(s: &str) -> Option<&str> {
    let head = s.get(..5)?;
    head.eq_ignore_ascii_case("unix:").then(|| &s[5..])
}

/// The first `$name` or `${name}` in `s`, as written.
pub(crate) fn first_variable(s: &str) -> Option<&str> {
    let start = s.find('$')?;
    let rest = &s[start + 1..];
    let len = if rest.starts_with('{') {
        rest.find('}').map_or(rest.len(), |i| i + 1)
    } else {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
    };
    Some(&s[start..start + 1 + len])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn hp(host: &str, port: Option<u16>) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("10.0.0.5:8080"),
            Ok(hp("10.0.0.5", Some(8080)))
        );
        assert_eq!(
            split_host_port("app.internal"),
            Ok(hp("app.internal", None))
        );
        assert_eq!(split_host_port("[::1]:9000"), Ok(hp("::1", Some(9000))));
        assert_eq!(
            split_host_port("[2001:db8::1]"),
            Ok(hp("2001:db8::1", None))
        );
        assert_eq!(split_host_port("2001:db8::1"), Ok(hp("2001:db8::1", None)));
        assert!(split_host_port("host:0").is_err());
        assert!(split_host_port("host:65536").is_err());
        assert!(split_host_port("host:+1").is_err());
        assert!(split_host_port(":80").is_err());
        assert!(split_host_port("[::1").is_err());
        assert!(split_host_port("[nope]:80").is_err());
        assert!(split_host_port("2001:db8::1:zz").is_err());
        assert!(split_host_port("").is_err());
    }

    #[test]
    fn urls_and_targets() {
        assert_eq!(split_scheme("HTTPS://a/b"), Some(("https".into(), "a/b")));
        assert_eq!(split_scheme("a/b"), None);
        assert_eq!(authority("h:1/x?y"), "h:1");
        assert_eq!(authority("h"), "h");
        assert_eq!(strip_unix("UNIX:/run/a.sock"), Some("/run/a.sock"));
        assert_eq!(strip_unix("uni"), None);
        assert_eq!(
            http_target("::1", 8080, false),
            Target::Http {
                url: "http://[::1]:8080/".into(),
                tls: false,
                host: "::1".into(),
                port: 8080
            }
        );
        assert_eq!(first_variable("http://$backend/x"), Some("$backend"));
        assert_eq!(first_variable("http://${be}x"), Some("${be}"));
        assert_eq!(first_variable("http://a"), None);
        // Multi-byte text right after "$" must not split a character.
        assert_eq!(first_variable("$é"), Some("$"));
        assert_eq!(strip_unix("é:/x"), None);
    }

    #[test]
    fn inet_aton_forms() {
        let a = |s: &str| inet_aton(s).map(|ip| ip.to_string());
        assert_eq!(a("10.10.188").as_deref(), Some("10.10.0.188"));
        assert_eq!(a("127.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(a("10.1.2").as_deref(), Some("10.1.0.2"));
        assert_eq!(a("2130706433").as_deref(), Some("127.0.0.1"));
        assert_eq!(a("10.0.0.5").as_deref(), Some("10.0.0.5"));
        assert_eq!(a("0x7f.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(a("010.0.0.1").as_deref(), Some("8.0.0.1"));
        assert_eq!(a("0").as_deref(), Some("0.0.0.0"));
        assert_eq!(a("1.65535").as_deref(), Some("1.0.255.255"));
        assert_eq!(a("1.2.65535").as_deref(), Some("1.2.255.255"));
        assert_eq!(a("4294967295").as_deref(), Some("255.255.255.255"));
        // Too many parts, a part too large for its place, junk, signs, names.
        for bad in [
            "1.2.3.4.5",
            "1.2.65536",
            "1.16777216",
            "4294967296",
            "256.1",
            "1.2.3.256",
            "10.0.0.5a",
            "08",
            "0x",
            "0xg",
            "+1.2",
            "1..2",
            "1.2.",
            ".1",
            "",
            "app1",
            "deadbeef",
            "db.internal",
            "1e3",
            "::1",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad}");
        }
        assert_eq!(unusual_ipv4("10.0.0.5"), None);
        assert_eq!(unusual_ipv4("app"), None);
        assert_eq!(unusual_ipv4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
    }
}
