//! Whether what a log line names as its upstream (`http://10.0.0.5:8080/cart`, `10.0.0.5:8080`,
//! `[::1]:8443`, `shop.internal:8080`, `unix:/run/php/php-fpm.sock:`, HAProxy's `backend/server`)
//! is a given upstream. One rule for the verdict, the log strip and the Logs pane's filter.

use std::net::IpAddr;

/// What an upstream can be named by, borrowed from wherever it is kept.
#[derive(Clone, Copy, Debug, Default)]
pub struct Known<'a> {
    pub name: &'a str,
    /// The proxy's group it is a server of: nginx names the group itself in "no live upstreams".
    pub group: Option<&'a str>,
    /// The host part as written (a name or an address, no brackets); `None` for a socket.
    pub host: Option<&'a str>,
    pub port: Option<u16>,
    /// The socket path of a unix upstream.
    pub socket: Option<&'a str>,
    /// The address the last probe connected to: "10.0.0.5:8080".
    pub addr: Option<&'a str>,
}

impl Known<'_> {
    /// Whether `logged` names this upstream; `has_ip` says whether an address is one it is known
    /// to have (probed, resolved or written), asked only once the port matches.
    pub fn is_named_by(&self, logged: &str, has_ip: impl Fn(IpAddr) -> bool) -> bool {
        let (scheme, bare) = match logged.split_once("://") {
            Some((_, rest)) => (true, rest),
            None => (false, logged),
        };
        if let Some(path) = bare.strip_prefix("unix:") {
            return self.socket == Some(path.trim_end_matches(':'));
        }
        if bare == self.name || bare.rsplit('/').next() == Some(self.name) {
            return true;
        }
        // A server probed at its hop is named "be/s1 via socks4 127.0.0.1:1080"; HAProxy logs
        // it as "be/s1".
        if self
            .name
            .split_once(" via ")
            .is_some_and(|(server, _)| server == bare)
        {
            return true;
        }
        // nginx logs the request's path after the address: "http://10.0.0.5:8080/cart".
        let bare = bare.split('/').next().unwrap_or(bare);
        // nginx names a group in a URL ("http://payments/"); HAProxy's "be/s1" names a server.
        let group = scheme && self.group.is_some() && self.group == Some(bare);
        if self.addr == Some(bare) || group {
            return true;
        }
        let Some((host, port)) = bare.rsplit_once(':') else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if port.parse::<u16>().ok() != self.port || self.port.is_none() {
            return false;
        }
        self.host == Some(host) || host.parse::<IpAddr>().is_ok_and(has_ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: IpAddr) -> bool {
        false
    }

    #[test]
    fn ipv4_with_or_without_a_scheme_and_path_and_only_on_its_port() {
        let k = Known {
            name: "shop",
            host: Some("10.0.0.5"),
            port: Some(8080),
            ..Known::default()
        };
        assert!(k.is_named_by("http://10.0.0.5:8080/cart", none));
        assert!(k.is_named_by("10.0.0.5:8080", none));
        assert!(!k.is_named_by("10.0.0.5:8081", none));
        assert!(!k.is_named_by("10.0.0.6:8080", none));
        assert!(!k.is_named_by("", none));
    }

    #[test]
    fn ipv6_in_brackets_and_addresses_it_resolved_to() {
        let k = Known {
            name: "api",
            host: Some("::1"),
            port: Some(8443),
            ..Known::default()
        };
        assert!(k.is_named_by("[::1]:8443", none));
        assert!(k.is_named_by("https://[::1]:8443/v1", none));
        assert!(!k.is_named_by("[::2]:8443", none));
        let named = Known {
            name: "api",
            host: Some("api.internal"),
            port: Some(8443),
            ..Known::default()
        };
        let resolved = |ip: IpAddr| ip == "fd00::7".parse::<IpAddr>().expect("literal");
        assert!(named.is_named_by("[fd00::7]:8443", resolved));
        assert!(!named.is_named_by("[fd00::8]:8443", resolved));
    }

    #[test]
    fn host_names_groups_and_haproxy_servers() {
        let k = Known {
            name: "payments_backend_v2 10.0.0.5:8080",
            group: Some("payments_backend_v2"),
            host: Some("pay.internal"),
            port: Some(8080),
            addr: Some("10.0.0.5:8080"),
            ..Known::default()
        };
        assert!(k.is_named_by("http://pay.internal:8080/", none));
        assert!(
            k.is_named_by("http://10.0.0.5:8080/", none),
            "the probed address"
        );
        assert!(
            k.is_named_by("http://payments_backend_v2/", none),
            "its group"
        );
        assert!(!k.is_named_by("http://payments_backend_v3/", none));
        let server = Known {
            name: "s1",
            host: Some("10.0.0.9"),
            port: Some(80),
            ..Known::default()
        };
        assert!(server.is_named_by("be_app/s1", none));
        assert!(!server.is_named_by("be_app/s2", none));
        let grouped = Known {
            name: "s2",
            group: Some("be_app"),
            ..server
        };
        assert!(
            !grouped.is_named_by("be_app/s1", none),
            "HAProxy names the server, not the group"
        );
        assert!(grouped.is_named_by("be_app/s2", none));
    }

    #[test]
    fn unix_sockets_by_path_only() {
        let k = Known {
            name: "php",
            socket: Some("/run/php/php-fpm.sock"),
            ..Known::default()
        };
        assert!(k.is_named_by("fastcgi://unix:/run/php/php-fpm.sock:", none));
        assert!(k.is_named_by("unix:/run/php/php-fpm.sock", none));
        assert!(!k.is_named_by("unix:/run/php/other.sock", none));
        assert!(
            !k.is_named_by("10.0.0.5:80", |_| true),
            "a socket has no port"
        );
    }
}
