//! The values of nginx directives: pass URLs and addresses, upstream `server` parameters,
//! resolver addresses.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::time::parse_time;
use crate::discover::address::{
    Endpoint, authority, first_variable, split_host_port, split_scheme, strip_unix,
};
use crate::discover::model::ServerFlags;

/// Why a pass value gives no fixed target.
pub(super) enum PassError {
    /// Only known per request.
    Variable(String),
    Invalid(String),
}

fn variable_in(s: &str) -> Result<(), PassError> {
    match first_variable(s) {
        Some(var) => Err(PassError::Variable(var.to_string())),
        None => Ok(()),
    }
}

/// `proxy_pass` in http: "http(s)://host[:port][/uri]" or "http://unix:/path[:/uri]". A variable
/// in the URI still leaves a fixed upstream; one in the scheme or host does not.
pub(super) fn parse_url(value: &str) -> Result<(Endpoint, bool), PassError> {
    let Some((scheme, rest)) = split_scheme(value) else {
        variable_in(value)?;
        return Err(PassError::Invalid(format!(
            "invalid URL prefix \"{value}\""
        )));
    };
    let tls = match scheme.as_str() {
        "http" => false,
        "https" => true,
        _ => {
            variable_in(&scheme)?;
            return Err(PassError::Invalid(format!(
                "invalid URL prefix \"{value}\""
            )));
        }
    };
    if let Some(socket) = strip_unix(rest) {
        let path = socket.split(':').next().unwrap_or_default();
        variable_in(path)?;
        return unix_endpoint(path).map(|e| (e, tls));
    }
    let host = uri_variable_start(authority(rest));
    variable_in(host)?;
    let hp = split_host_port(host).map_err(PassError::Invalid)?;
    Ok((Endpoint::Net(hp), tls))
}

/// Cuts "host:port$request_uri" before a variable that always expands to a URI starting with "/",
/// so the host part stays fixed.
fn uri_variable_start(authority: &str) -> &str {
    for var in [
        "$request_uri",
        "$uri",
        "$document_uri",
        "${request_uri}",
        "${uri}",
        "${document_uri}",
    ] {
        if let Some(i) = authority.find(var) {
            let after = &authority[i + var.len()..];
            // "$uri" must not match the start of "$uri_prefix".
            if !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                || var.ends_with('}')
            {
                return &authority[..i];
            }
        }
    }
    authority
}

/// "host:port", "unix:/path" or an upstream name, after an optional scheme from `schemes`.
pub(super) fn parse_address(value: &str, schemes: &[&str]) -> Result<Endpoint, PassError> {
    let rest = match split_scheme(value) {
        Some((scheme, rest)) if schemes.contains(&scheme.as_str()) => rest,
        Some(_) => {
            variable_in(value)?;
            return Err(PassError::Invalid(format!(
                "invalid URL prefix \"{value}\""
            )));
        }
        None => value,
    };
    variable_in(rest)?;
    parse_endpoint(rest).map_err(PassError::Invalid)
}

pub(super) fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    match strip_unix(s) {
        Some(path) => unix_endpoint(path).map_err(|e| match e {
            PassError::Invalid(m) | PassError::Variable(m) => m,
        }),
        None => split_host_port(s).map(Endpoint::Net),
    }
}

fn unix_endpoint(path: &str) -> Result<Endpoint, PassError> {
    if path.is_empty() {
        return Err(PassError::Invalid("no path in unix domain socket".into()));
    }
    Ok(Endpoint::Unix(PathBuf::from(path)))
}

/// Upstream `server` parameters, and those nginx would reject. Unknown ones are kept as written.
pub(super) fn server_flags(params: &[String]) -> (ServerFlags, Vec<String>) {
    let mut flags = ServerFlags::default();
    let mut rejected = Vec::new();
    for p in params {
        let ok = match p.split_once('=') {
            None if p == "backup" => {
                flags.backup = true;
                true
            }
            None if p == "down" => {
                flags.down = true;
                true
            }
            Some(("weight", v)) => v
                .parse()
                .ok()
                .filter(|&w| w > 0)
                .map(|w| flags.weight = Some(w))
                .is_some(),
            Some(("max_fails", v)) => v.parse().ok().map(|n| flags.max_fails = Some(n)).is_some(),
            Some(("fail_timeout", v)) => parse_time(v)
                .map(|t| flags.fail_timeout = Some(t))
                .is_some(),
            _ => {
                flags.other.push(p.clone());
                true
            }
        };
        if !ok {
            rejected.push(p.clone());
            flags.other.push(p.clone());
        }
    }
    (flags, rejected)
}

pub(super) fn resolver_addr(s: &str) -> Result<SocketAddr, String> {
    let hp = split_host_port(s).map_err(|e| format!("{e} in \"resolver\""))?;
    let ip: IpAddr = hp.host.parse().map_err(|_| {
        format!(
            "resolver \"{s}\" is a name, not an address: nginx looks it up once at startup; skipped"
        )
    })?;
    Ok(SocketAddr::new(ip, hp.port.unwrap_or(53)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::path::Path;

    use super::*;
    use crate::discover::address::HostPort;

    fn net(host: &str, port: Option<u16>) -> Endpoint {
        Endpoint::Net(HostPort {
            host: host.into(),
            port,
        })
    }

    fn variable(r: Result<(Endpoint, bool), PassError>) -> Option<String> {
        match r {
            Err(PassError::Variable(v)) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn proxy_pass_urls() {
        assert!(
            matches!(parse_url("https://api:8443/v1/"), Ok((e, true)) if e == net("api", Some(8443)))
        );
        assert!(matches!(parse_url("http://backend"), Ok((e, false)) if e == net("backend", None)));
        assert!(
            matches!(parse_url("http://h:81$request_uri"), Ok((e, false)) if e == net("h", Some(81)))
        );
        assert!(matches!(parse_url("http://h${uri}"), Ok((e, false)) if e == net("h", None)));
        assert!(
            matches!(parse_url("http://unix:/run/a.sock:/x"), Ok((Endpoint::Unix(p), false)) if p == Path::new("/run/a.sock"))
        );
        // "$uri_prefix" is another variable, part of the host.
        assert_eq!(
            variable(parse_url("http://h$uri_prefix")),
            Some("$uri_prefix".into())
        );
        assert_eq!(variable(parse_url("$scheme://h")), Some("$scheme".into()));
        assert_eq!(
            variable(parse_url("http://unix:$sock")),
            Some("$sock".into())
        );
        assert!(matches!(parse_url("ftp://h"), Err(PassError::Invalid(_))));
        assert!(matches!(parse_url("backend"), Err(PassError::Invalid(_))));
        assert!(matches!(
            parse_url("http://unix:"),
            Err(PassError::Invalid(_))
        ));
    }

    #[test]
    fn pass_addresses_and_resolvers() {
        assert!(
            matches!(parse_address("grpcs://[::1]:50051", &["grpc", "grpcs"]), Ok(e) if e == net("::1", Some(50051)))
        );
        assert!(matches!(
            parse_address("grpc://h:1", &[]),
            Err(PassError::Invalid(_))
        ));
        assert!(matches!(
            parse_address("unix:/run/php.sock", &[]),
            Ok(Endpoint::Unix(_))
        ));
        assert!(matches!(
            parse_address("$fpm", &[]),
            Err(PassError::Variable(_))
        ));
        assert_eq!(resolver_addr("[::1]").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            resolver_addr("10.0.0.1:5353").unwrap(),
            "10.0.0.1:5353".parse().unwrap()
        );
        assert!(resolver_addr("dns.internal").is_err());
    }
}
