//! Upstream addresses: what a probe connects to.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;

use super::values::InvalidValue;

/// Where an upstream listens. Hosts are kept without IPv6 brackets so they can be handed to a
/// resolver or `SocketAddr` parser as they are.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `url` is the URL as written, so requests and the UI show exactly what the user configured.
    Http {
        url: String,
        tls: bool,
        host: String,
        port: u16,
    },
    Tcp {
        host: String,
        port: u16,
    },
    Unix {
        path: PathBuf,
    },
}

const EXPECTED: &str = "expected http://, https://, tcp://host:port or unix:/path";

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Http { .. } => "http",
            Target::Tcp { .. } => "tcp",
            Target::Unix { .. } => "unix",
        }
    }

    pub fn host(&self) -> Option<&str> {
        match self {
            Target::Http { host, .. } | Target::Tcp { host, .. } => Some(host),
            Target::Unix { .. } => None,
        }
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            Target::Http { port, .. } | Target::Tcp { port, .. } => Some(*port),
            Target::Unix { .. } => None,
        }
    }
}

impl FromStr for Target {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map_err(|reason| InvalidValue(format!("invalid upstream url {s:?}: {reason}")))
    }
}

fn parse(s: &str) -> Result<Target, String> {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URL cannot contain spaces or control characters".into());
    }
    let Some((scheme, rest)) = s.split_once(':') else {
        return Err(EXPECTED.into());
    };
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "http" | "https" => {
            let rest = rest.strip_prefix("//").ok_or(EXPECTED)?;
            let tls = scheme == "https";
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            let (host, port) = authority_parts(authority)?;
            let port = port.unwrap_or(if tls { 443 } else { 80 });
            Ok(Target::Http {
                url: s.to_string(),
                tls,
                host,
                port,
            })
        }
        "tcp" => {
            let rest = rest.strip_prefix("//").ok_or(EXPECTED)?;
            let authority = rest.strip_suffix('/').unwrap_or(rest);
            if authority.contains(['/', '?', '#']) {
                return Err("tcp:// takes host:port only, no path".into());
            }
            let (host, port) = authority_parts(authority)?;
            let port = port.ok_or("tcp:// needs a port, like tcp://127.0.0.1:9000")?;
            Ok(Target::Tcp { host, port })
        }
        "unix" => {
            if !rest.starts_with('/') {
                return Err("the socket path must be absolute, like unix:/run/app.sock".into());
            }
            Ok(Target::Unix {
                path: PathBuf::from(rest),
            })
        }
        _ => Err(EXPECTED.into()),
    }
}

/// Splits `host[:port]` or `[v6]:port`.
fn authority_parts(authority: &str) -> Result<(String, Option<u16>), String> {
    if authority.contains('@') {
        return Err("user:password@ is not supported in upstream URLs".into());
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (ip, after) = bracketed
            .split_once(']')
            .ok_or("missing `]` after the IPv6 address")?;
        ip.parse::<Ipv6Addr>()
            .map_err(|_| format!("invalid IPv6 address {ip:?}"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected `:port` after `]`")?,
            ),
        };
        (ip, port)
    } else {
        if authority.matches(':').count() > 1 {
            return Err("IPv6 addresses need brackets, like [::1]:8080".into());
        }
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err("missing host".into());
        }
        if !is_host_name(host) {
            return Err(format!("invalid host name {host:?}"));
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("invalid port {port:?}: expected 1-65535")),
        },
    };
    Ok((host.to_string(), port))
}

/// Letters, digits, `-`, `_` and dots between labels; `_` because internal names often have one.
pub(crate) fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Http { url, .. } => f.write_str(url),
            Target::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Target::Unix { path } => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(s: &str) -> Target {
        s.parse().expect("valid target")
    }

    fn error(s: &str) -> String {
        s.parse::<Target>()
            .expect_err("should be rejected")
            .to_string()
    }

    #[test]
    fn http_ports_default_by_scheme() {
        assert_eq!(
            target("http://app.internal/healthz"),
            Target::Http {
                url: "http://app.internal/healthz".into(),
                tls: false,
                host: "app.internal".into(),
                port: 80
            }
        );
        assert_eq!(target("https://10.0.0.5").port(), Some(443));
        assert_eq!(target("HTTPS://example.com:8443?x=1").port(), Some(8443));
        assert_eq!(target("http://127.0.0.1:8080/").host(), Some("127.0.0.1"));
    }

    #[test]
    fn ipv6_literals_lose_their_brackets() {
        let t = target("http://[::1]:8080/health");
        assert_eq!(t.host(), Some("::1"));
        assert_eq!(t.port(), Some(8080));
        assert_eq!(target("https://[fe80::1]").port(), Some(443));
        let tcp = target("tcp://[::1]:9000");
        assert_eq!(
            tcp,
            Target::Tcp {
                host: "::1".into(),
                port: 9000
            }
        );
        assert_eq!(tcp.to_string(), "tcp://[::1]:9000");
    }

    #[test]
    fn kinds_and_display_round_trip() {
        for (url, kind) in [
            ("http://a:1/x", "http"),
            ("https://a/", "http"),
            ("tcp://db:5432", "tcp"),
            ("unix:/run/php/php-fpm.sock", "unix"),
        ] {
            let t = target(url);
            assert_eq!(t.kind(), kind);
            assert_eq!(t.to_string(), url);
            assert_eq!(target(&t.to_string()), t);
        }
        assert_eq!(target("unix:/run/x.sock").host(), None);
        assert_eq!(target("tcp://db:5432/").to_string(), "tcp://db:5432");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            error("ftp://x"),
            r#"invalid upstream url "ftp://x": expected http://, https://, tcp://host:port or unix:/path"#
        );
        assert_eq!(
            error("localhost:8080"),
            r#"invalid upstream url "localhost:8080": expected http://, https://, tcp://host:port or unix:/path"#
        );
        assert_eq!(
            error("tcp://db"),
            r#"invalid upstream url "tcp://db": tcp:// needs a port, like tcp://127.0.0.1:9000"#
        );
        assert_eq!(
            error("unix:run/x.sock"),
            r#"invalid upstream url "unix:run/x.sock": the socket path must be absolute, like unix:/run/app.sock"#
        );
        assert_eq!(
            error("http://:80/"),
            r#"invalid upstream url "http://:80/": missing host"#
        );
        assert_eq!(
            error("http://a:99999/"),
            r#"invalid upstream url "http://a:99999/": invalid port "99999": expected 1-65535"#
        );
        assert_eq!(
            error("http://::1/"),
            r#"invalid upstream url "http://::1/": IPv6 addresses need brackets, like [::1]:8080"#
        );
        assert_eq!(
            error("http://[zz]/"),
            r#"invalid upstream url "http://[zz]/": invalid IPv6 address "zz""#
        );
        assert_eq!(
            error("http://a b/"),
            r#"invalid upstream url "http://a b/": a URL cannot contain spaces or control characters"#
        );
        assert_eq!(
            error("http://u:p@host/"),
            r#"invalid upstream url "http://u:p@host/": user:password@ is not supported in upstream URLs"#
        );
        assert!(error("tcp://db:1/x").ends_with("tcp:// takes host:port only, no path"));
        assert!(error("http://bad!host/").ends_with(r#"invalid host name "bad!host""#));
        assert!(error("tcp://a:0").ends_with(r#"invalid port "0": expected 1-65535"#));
    }

    #[test]
    fn host_names() {
        assert!(is_host_name("example.com."));
        assert!(is_host_name("my_service-1.internal"));
        assert!(!is_host_name("a..b"));
        assert!(!is_host_name("."));
        assert!(!is_host_name(&"a".repeat(64)));
    }
}
