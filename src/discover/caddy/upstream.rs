//! Caddy's upstream addresses, in the Caddyfile and in the JSON config's `dial`.
//!
//! Caddyfile: `host:port`, `:port` (localhost), `http://host[:port]`, `https://host` (443),
//! `h2c://host:port`, `unix//run/app.sock`, `host:8000-8002` (one upstream per port). JSON `dial`
//! is always `host:port` or `unix//path`. Placeholders `{...}` are filled per request.

use std::path::PathBuf;

use crate::discover::address::{http_target, split_host_port, split_scheme, tcp_target};
use crate::discover::sink::Sink;
use crate::discover::target::Target;
use crate::discover::{DiscoveredTarget, DiscoveryErrorKind, ServerFlags, SourceLoc, Unprobeable};

/// Most ports a `host:A-B` range is expanded to; a wider range is reported, not probed.
pub(super) const MAX_PORT_RANGE: u32 = 100;

/// How the proxy talks to an upstream, which decides how it is probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transport {
    Http,
    /// `transport http { tls }` or an `https://` upstream: HTTPS, not verified.
    Https,
    /// FastCGI (`php_fastcgi`, `transport fastcgi`) or h2c: probed as a TCP port or socket, not
    /// with an HTTP/1 request.
    Tcp,
}

/// One upstream as Caddy will dial it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Dial {
    /// As Caddy names it in `/reverse_proxy/upstreams` and its logs: "host:port", "unix//path".
    pub name: String,
    pub target: Target,
}

/// Why an upstream written in the config yields no probe target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Problem {
    /// Known only at run time: the reason.
    Runtime(String),
    Invalid(String),
}

/// What one upstream as written (`text`, by `directive`) came to: a probe target per dial, or
/// why there is none, into `sink`, at `at`.
pub(super) fn record(
    parsed: Result<Vec<Dial>, Problem>,
    text: &str,
    directive: &str,
    at: SourceLoc,
    sink: &mut Sink,
) {
    match parsed {
        Ok(dials) => {
            for d in dials {
                sink.target(DiscoveredTarget {
                    name: d.name,
                    group: None,
                    target: d.target,
                    flags: ServerFlags::default(),
                    source: at.clone(),
                    limits: None,
                });
            }
        }
        Err(Problem::Runtime(reason)) => sink.unprobeable(Unprobeable {
            name: text.to_string(),
            directive: directive.to_string(),
            reason,
            source: at,
        }),
        Err(Problem::Invalid(reason)) => sink.error_at(
            &at,
            DiscoveryErrorKind::Invalid(format!("{directive}: {reason}")),
        ),
    }
}

/// Parses one upstream as written in a Caddyfile.
pub(super) fn caddyfile_upstream(s: &str, transport: Transport) -> Result<Vec<Dial>, Problem> {
    if let Some(p) = placeholder(s) {
        return Err(p);
    }
    let (scheme, rest) = match split_scheme(s) {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, s),
    };
    let transport = match scheme.as_deref() {
        None | Some("http") => transport,
        Some("https") => Transport::Https,
        // HTTP/2 without TLS: a plain HTTP/1 request may be refused, the TCP port is the test.
        Some("h2c") => Transport::Tcp,
        Some(other) => {
            return Err(Problem::Invalid(format!(
                "unsupported scheme \"{other}://\" in upstream \"{s}\""
            )));
        }
    };
    if rest.contains(['/', '?', '#']) && !is_unix(rest) {
        return Err(Problem::Invalid(format!(
            "upstream \"{s}\" has a path: Caddy upstreams are addresses only"
        )));
    }
    dial(rest, transport)
}

/// Parses a JSON config's `dial` ("host:port", "unix//path"; "tcp/host:port" and "udp/..."
/// network prefixes too).
pub(super) fn json_dial(s: &str, transport: Transport) -> Result<Vec<Dial>, Problem> {
    if let Some(p) = placeholder(s) {
        return Err(p);
    }
    dial(without_tcp_network(s), transport)
}

/// A network address without its `tcp/`, `tcp4/` or `tcp6/` network: the address dialled.
pub(super) fn without_tcp_network(s: &str) -> &str {
    ["tcp/", "tcp4/", "tcp6/"]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s)
}

/// ":8080" is localhost, as Go dials it; anything else as written.
pub(super) fn localhost_if_no_host(s: &str) -> String {
    if s.starts_with(':') {
        format!("localhost{s}")
    } else {
        s.to_string()
    }
}

fn placeholder(s: &str) -> Option<Problem> {
    let start = s.find('{')?;
    let end = s[start..].find('}').map_or(s.len(), |e| start + e + 1);
    Some(Problem::Runtime(format!(
        "placeholder {} is filled in per request",
        &s[start..end]
    )))
}

fn is_unix(s: &str) -> bool {
    s.starts_with("unix/") || s.starts_with("unix+h2c/")
}

fn dial(s: &str, transport: Transport) -> Result<Vec<Dial>, Problem> {
    if let Some(path) = s
        .strip_prefix("unix+h2c/")
        .or_else(|| s.strip_prefix("unix/"))
    {
        if path.is_empty() {
            return Err(Problem::Invalid(format!("no socket path in \"{s}\"")));
        }
        return Ok(vec![Dial {
            name: format!("unix/{path}"),
            target: Target::Unix {
                path: PathBuf::from(path),
            },
        }]);
    }
    let s = localhost_if_no_host(s);
    let (host_part, ports) = split_range(&s).map_err(Problem::Invalid)?;
    let hp = split_host_port(&host_part).map_err(Problem::Invalid)?;
    let ports = match (ports, hp.port) {
        (Some(range), _) => range,
        (None, Some(p)) => vec![p],
        // By scheme only, FastCGI included: `caddy adapt` (2.6) dials "php" as "php:80".
        (None, None) => vec![match transport {
            Transport::Https => 443,
            Transport::Http | Transport::Tcp => 80,
        }],
    };
    Ok(ports
        .into_iter()
        .map(|port| {
            let target = match transport {
                Transport::Http => http_target(&hp.host, port, false),
                Transport::Https => http_target(&hp.host, port, true),
                Transport::Tcp => tcp_target(&hp.host, port),
            };
            Dial {
                name: crate::discover::address::host_port_text(&hp.host, port),
                target,
            }
        })
        .collect())
}

/// Splits "host:8000-8002" into "host" and the ports; anything else is returned unchanged.
fn split_range(s: &str) -> Result<(String, Option<Vec<u16>>), String> {
    let Some((host, ports)) = s.rsplit_once(':') else {
        return Ok((s.to_string(), None));
    };
    let Some((low, high)) = ports.split_once('-') else {
        return Ok((s.to_string(), None));
    };
    if host.contains(':') && !host.ends_with(']') {
        return Ok((s.to_string(), None));
    }
    let (low, high) = (
        crate::discover::address::parse_port(low)?,
        crate::discover::address::parse_port(high)?,
    );
    if high < low {
        return Err(format!("port range {low}-{high} is empty"));
    }
    if u32::from(high - low) >= MAX_PORT_RANGE {
        return Err(format!(
            "port range {low}-{high} spans more than {MAX_PORT_RANGE} ports"
        ));
    }
    Ok((host.to_string(), Some((low..=high).collect())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn names(s: &str, t: Transport) -> Vec<String> {
        caddyfile_upstream(s, t)
            .unwrap()
            .into_iter()
            .map(|d| format!("{} {}", d.name, d.target.kind()))
            .collect()
    }

    #[test]
    fn caddyfile_forms() {
        assert_eq!(
            names("localhost:9000", Transport::Http),
            ["localhost:9000 http"]
        );
        assert_eq!(names(":8080", Transport::Http), ["localhost:8080 http"]);
        assert_eq!(names("http://app", Transport::Http), ["app:80 http"]);
        assert_eq!(names("https://app", Transport::Http), ["app:443 http"]);
        assert_eq!(
            names("h2c://grpc:50051", Transport::Http),
            ["grpc:50051 tcp"]
        );
        assert_eq!(names("php", Transport::Tcp), ["php:80 tcp"]);
        assert_eq!(names("[::1]:81", Transport::Https), ["[::1]:81 http"]);
        assert_eq!(
            names("unix//run/app.sock", Transport::Http),
            ["unix//run/app.sock unix"]
        );
        assert_eq!(
            names("10.0.0.1:8000-8002", Transport::Http),
            [
                "10.0.0.1:8000 http",
                "10.0.0.1:8001 http",
                "10.0.0.1:8002 http"
            ]
        );
        let https = caddyfile_upstream("https://app", Transport::Http).unwrap();
        assert!(matches!(
            https[0].target,
            Target::Http {
                tls: true,
                port: 443,
                ..
            }
        ));
    }

    #[test]
    fn problems() {
        assert!(matches!(
            caddyfile_upstream("{http.request.header.X-Up}", Transport::Http),
            Err(Problem::Runtime(r)) if r.contains("{http.request.header.X-Up}")
        ));
        assert!(matches!(
            caddyfile_upstream("a:1-1000", Transport::Http),
            Err(Problem::Invalid(r)) if r.contains("more than 100")
        ));
        assert!(matches!(
            caddyfile_upstream("a:9-1", Transport::Http),
            Err(Problem::Invalid(_))
        ));
        assert!(matches!(
            caddyfile_upstream("ftp://a", Transport::Http),
            Err(Problem::Invalid(_))
        ));
        assert!(matches!(
            caddyfile_upstream("http://a/x", Transport::Http),
            Err(Problem::Invalid(_))
        ));
        assert!(matches!(
            caddyfile_upstream("a:0", Transport::Http),
            Err(Problem::Invalid(_))
        ));
    }

    #[test]
    fn json_dials() {
        let d = json_dial("127.0.0.1:9000", Transport::Tcp).unwrap();
        assert_eq!(d[0].target, tcp_target("127.0.0.1", 9000));
        let d = json_dial("tcp/10.0.0.1:80", Transport::Http).unwrap();
        assert_eq!(d[0].name, "10.0.0.1:80");
        let d = json_dial("unix//run/php.sock", Transport::Tcp).unwrap();
        assert_eq!(d[0].name, "unix//run/php.sock");
    }
}
