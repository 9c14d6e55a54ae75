//! Which upstream a log line or a DNS name belongs to: the log strip labels an address with its
//! upstream's name, the Logs pane filters by an upstream, the DNS pane lists who uses a name.

use std::net::{IpAddr, SocketAddr};

use super::Model;
use super::upstreams::UpstreamRow;
use crate::config::Target;
use crate::dns::DnsRound;
use crate::upstream::named_by::Known;

/// What `row` can be named by in a log; `with_group` also counts its group (a line about the
/// group concerns each of its servers, but does not say which one).
fn known(row: &UpstreamRow, with_group: bool) -> Known<'_> {
    let url = &row.entry.upstream.url;
    Known {
        name: &row.entry.upstream.name,
        group: row.entry.group.as_deref().filter(|_| with_group),
        host: url.host(),
        port: url.port(),
        socket: match url {
            Target::Unix { path } => path.to_str(),
            _ => None,
        },
        addr: row.history.last().and_then(|l| l.addr.as_deref()),
    }
}

/// Every address `row` is known to have: written as one, probed at, or resolved to.
fn has_ip(row: &UpstreamRow, round: Option<&DnsRound>, ip: IpAddr) -> bool {
    let url = &row.entry.upstream.url;
    let written = url.host().and_then(|h| h.parse::<IpAddr>().ok());
    let probed = row
        .history
        .last()
        .and_then(|l| l.addr.as_deref())
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .map(|a| a.ip());
    if written == Some(ip) || probed == Some(ip) {
        return true;
    }
    match (round, url.host()) {
        (Some(round), Some(host)) => round
            .for_name(host)
            .filter(|r| r.is_ok())
            .any(|r| r.addresses().any(|a| a == ip)),
        _ => false,
    }
}

impl Model {
    /// The upstream a log's upstream field names (its address, name or socket), worst first
    /// when several share it; a group's name names none in particular.
    pub fn upstream_named_by(&self, logged: &str) -> Option<usize> {
        let v = &self.upstreams;
        let round = self.dns.round.as_ref();
        v.order.iter().copied().find(|&i| {
            let row = &v.rows[i];
            known(row, false).is_named_by(logged, |ip| has_ip(row, round, ip))
        })
    }

    /// A log's upstream field as the log strip shows it: "payments_backend_v2 127.0.0.1:35073"
    /// for an address of a known upstream (the scheme and path dropped), else as logged.
    pub fn logged_upstream_label(&self, logged: &str) -> String {
        let logged = crate::sanitize::sanitize(logged);
        let Some(row) = self
            .upstream_named_by(&logged)
            .map(|i| &self.upstreams.rows[i])
        else {
            return logged.into_owned();
        };
        let name = crate::sanitize::sanitize(&row.entry.upstream.name);
        let bare = logged.split_once("://").map_or(&*logged, |(_, rest)| rest);
        let bare = if bare.starts_with("unix:") {
            bare.trim_end_matches(':')
        } else {
            bare.split('/').next().unwrap_or(bare)
        };
        if bare.is_empty() || name.contains(bare) {
            name.into_owned()
        } else {
            format!("{name} {bare}")
        }
    }

    /// The upstreams whose target is written as the host name `name`, in the model's order.
    pub fn upstreams_using_name(&self, name: &str) -> Vec<usize> {
        let v = &self.upstreams;
        let name = name.trim_end_matches('.');
        v.order
            .iter()
            .copied()
            .filter(|&i| {
                v.rows[i]
                    .entry
                    .upstream
                    .url
                    .host()
                    .is_some_and(|h| h.trim_end_matches('.').eq_ignore_ascii_case(name))
            })
            .collect()
    }

    /// The lines of upstream `row`, as they name it now: what the Logs pane's upstream filter
    /// keeps. `None` for a row that does not exist.
    pub fn upstream_lines(&self, row: usize) -> Option<UpstreamLines> {
        let r = self.upstreams.rows.get(row)?;
        let k = known(r, true);
        let round = self.dns.round.as_ref();
        let mut addrs: Vec<IpAddr> = Vec::new();
        let written = k.host.and_then(|h| h.parse::<IpAddr>().ok());
        let probed = k
            .addr
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .map(|a| a.ip());
        let resolved = match (round, k.host) {
            (Some(round), Some(host)) => round
                .for_name(host)
                .filter(|r| r.is_ok())
                .flat_map(|r| r.addresses())
                .collect(),
            _ => Vec::new(),
        };
        for ip in written.into_iter().chain(probed).chain(resolved) {
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
        Some(UpstreamLines {
            row,
            name: k.name.to_owned(),
            group: k.group.map(str::to_owned),
            host: k.host.map(str::to_owned),
            port: k.port,
            socket: k.socket.map(str::to_owned),
            addr: k.addr.map(str::to_owned),
            addrs,
        })
    }
}

/// An upstream as its log lines name it, owned so a view can keep it between frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamLines {
    /// The model's row.
    pub row: usize,
    pub name: String,
    group: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    socket: Option<String>,
    addr: Option<String>,
    addrs: Vec<IpAddr>,
}

impl UpstreamLines {
    /// Whether a line whose upstream field is `logged` is one of this upstream's.
    pub fn names(&self, logged: &str) -> bool {
        Known {
            name: &self.name,
            group: self.group.as_deref(),
            host: self.host.as_deref(),
            port: self.port,
            socket: self.socket.as_deref(),
            addr: self.addr.as_deref(),
        }
        .is_named_by(logged, |ip| self.addrs.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::upstreams::Upstreams;
    use crate::model::upstreams::tests::{entry, result};
    use crate::upstream::Outcome;
    use crate::upstream::catalog::Catalog;

    fn model(entries: Vec<crate::upstream::catalog::Entry>) -> Model {
        let catalog = Catalog {
            entries,
            ..Catalog::default()
        };
        Model {
            upstreams: Upstreams::new(&catalog),
            ..Model::default()
        }
    }

    fn at(url: &str, name: &str) -> crate::upstream::catalog::Entry {
        let mut e = entry(name, 1);
        e.upstream.url = url.parse().expect("valid target");
        e
    }

    #[test]
    fn a_logged_address_finds_its_upstream_ipv4_ipv6_names_and_sockets() {
        let mut m = model(vec![
            at("http://127.0.0.1:35073/health", "payments_backend_v2"),
            at("http://[::1]:8443/", "api"),
            at("http://shop.internal:8080/", "shop"),
            at("unix:/run/php/php-fpm.sock", "php"),
        ]);
        assert_eq!(m.upstream_named_by("http://127.0.0.1:35073/pay"), Some(0));
        assert_eq!(m.upstream_named_by("127.0.0.1:35073"), Some(0));
        assert_eq!(m.upstream_named_by("127.0.0.1:35074"), None);
        assert_eq!(m.upstream_named_by("[::1]:8443"), Some(1));
        assert_eq!(m.upstream_named_by("shop.internal:8080"), Some(2));
        assert_eq!(
            m.upstream_named_by("10.0.0.7:8080"),
            None,
            "not probed there yet"
        );
        assert_eq!(
            m.upstream_named_by("fastcgi://unix:/run/php/php-fpm.sock:"),
            Some(3)
        );
        // A probe connected to shop.internal at 10.0.0.7: nginx logs that address.
        let mut r = result(2, 1, Outcome::Refused);
        r.addr = Some("10.0.0.7:8080".into());
        m.upstreams.apply(r);
        assert_eq!(m.upstream_named_by("http://10.0.0.7:8080/"), Some(2));
        let lines = m.upstream_lines(2).expect("row 2");
        assert!(lines.names("10.0.0.7:8080"));
        assert!(lines.names("http://shop.internal:8080/x"));
        assert!(!lines.names("127.0.0.1:35073"));
        assert_eq!(m.upstream_lines(9), None);
    }

    #[test]
    fn the_strip_labels_an_address_with_its_upstream() {
        let mut grouped = at("http://10.0.0.5:8080/", "payments_backend_v2 10.0.0.5:8080");
        grouped.group = Some("payments_backend_v2".into());
        let m = model(vec![
            at("http://127.0.0.1:35073/health", "payments_backend_v2"),
            grouped,
            at("unix:/run/php/php-fpm.sock", "php"),
        ]);
        assert_eq!(
            m.logged_upstream_label("http://127.0.0.1:35073"),
            "payments_backend_v2 127.0.0.1:35073"
        );
        assert_eq!(
            m.logged_upstream_label("http://10.0.0.5:8080/cart"),
            "payments_backend_v2 10.0.0.5:8080",
            "a name that holds its address is not repeated"
        );
        assert_eq!(
            m.logged_upstream_label("fastcgi://unix:/run/php/php-fpm.sock:"),
            "php unix:/run/php/php-fpm.sock"
        );
        assert_eq!(m.logged_upstream_label("10.9.9.9:80"), "10.9.9.9:80");
        assert!(
            !m.logged_upstream_label("10.9.9.9:80\x1b[31m")
                .chars()
                .any(char::is_control),
            "no control byte reaches the strip"
        );
    }

    #[test]
    fn a_group_names_its_servers_for_the_filter_but_labels_none() {
        let mut a = at("http://10.0.0.5:8080/", "payments_backend_v2 10.0.0.5:8080");
        a.group = Some("payments_backend_v2".into());
        let m = model(vec![a]);
        assert_eq!(m.upstream_named_by("http://payments_backend_v2/"), None);
        let lines = m.upstream_lines(0).expect("row 0");
        assert!(lines.names("http://payments_backend_v2/"));
        assert!(lines.names("10.0.0.5:8080"));
    }

    #[test]
    fn names_are_used_by_the_upstreams_written_with_them() {
        let m = model(vec![
            at("http://shop.internal:8080/", "shop"),
            at("tcp://SHOP.internal.:9000", "shop-admin"),
            at("http://legacy-shop.internal/", "legacy"),
            at("http://10.0.0.5/", "ip"),
        ]);
        assert_eq!(m.upstreams_using_name("shop.internal"), vec![0, 1]);
        assert!(m.upstreams_using_name("nothing.internal").is_empty());
    }
}
