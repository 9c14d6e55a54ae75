//! The proxies' own views of their upstreams, as last read, and which server in them is which
//! watched upstream.

use crate::config::Target;
use crate::discover::host_port_text;
use crate::proxy_view::{ProxySays, ProxyView, ServerView, proxy_name};
use crate::upstream::catalog::Entry;

/// One view per API the catalog names, in its order; empty until the first read.
#[derive(Debug, Default)]
pub struct ProxyViews {
    pub views: Vec<ProxyView>,
}

impl ProxyViews {
    /// Keeps a new round; false when nothing it says changed (the ages aside).
    pub fn apply(&mut self, views: Vec<ProxyView>) -> bool {
        let same = self.views.len() == views.len()
            && self.views.iter().zip(&views).all(|(a, b)| {
                a.api == b.api && a.at == b.at && a.error == b.error && same_servers(a, b)
            });
        self.views = views;
        !same
    }

    /// The server a proxy lists for `entry`: by HAProxy's `backend/server` name when discovery
    /// named the upstream so, else by address, preferring the same group.
    pub fn for_entry(&self, entry: &Entry) -> Option<ProxySays> {
        find(&self.keyed(), entry)
    }

    /// [`Self::for_entry`] for each of `entries`, the servers' address keys worked out once.
    pub fn for_entries<'a>(
        &self,
        entries: impl IntoIterator<Item = &'a Entry>,
    ) -> Vec<Option<ProxySays>> {
        let keyed = self.keyed();
        entries.into_iter().map(|e| find(&keyed, e)).collect()
    }

    /// Every server, in order, with its view and its address key.
    fn keyed(&self) -> Vec<Keyed<'_>> {
        self.views
            .iter()
            .flat_map(|v| {
                v.servers
                    .iter()
                    .map(move |s| (v, s, address_key(&s.address)))
            })
            .collect()
    }
}

type Keyed<'a> = (&'a ProxyView, &'a ServerView, String);

fn find(keyed: &[Keyed<'_>], entry: &Entry) -> Option<ProxySays> {
    let key = target_key(&entry.upstream.url);
    let mut by_address = None;
    for (view, s, address) in keyed {
        // The upstream's name is "group/server".
        let named = !s.group.is_empty()
            && entry
                .upstream
                .name
                .strip_prefix(s.group.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                == Some(s.server.as_str());
        let same_group = entry.group.as_deref() == Some(s.group.as_str());
        if named {
            return Some(says(view, s));
        }
        if key.as_deref() == Some(address.as_str()) && (by_address.is_none() || same_group) {
            by_address = Some(says(view, s));
        }
    }
    by_address
}

fn same_servers(a: &ProxyView, b: &ProxyView) -> bool {
    a.servers.len() == b.servers.len()
        && a.servers.iter().zip(&b.servers).all(|(x, y)| {
            (&x.group, &x.server, &x.state, &x.check) == (&y.group, &y.server, &y.state, &y.check)
        })
}

fn says(view: &ProxyView, s: &ServerView) -> ProxySays {
    ProxySays {
        proxy: proxy_name(view.api),
        server: if s.group.is_empty() {
            s.server.clone()
        } else {
            format!("{}/{}", s.group, s.server)
        },
        view: s.clone(),
        taken: view.taken,
    }
}

/// What an upstream is matched by: "127.0.0.1:8080", "[::1]:80", "/run/app.sock".
fn target_key(target: &Target) -> Option<String> {
    match target {
        Target::Unix { path } => Some(path.display().to_string()),
        Target::Http { host, port, .. } | Target::Tcp { host, port } => {
            Some(address_key(&host_port_text(host, *port)))
        }
    }
}

/// A proxy's address normalised for matching: "unix@/p" and "unix:/p" are "/p", "localhost"
/// is 127.0.0.1, case does not count.
fn address_key(address: &str) -> String {
    let a = address.trim();
    if let Some(path) = a.strip_prefix("unix@").or_else(|| a.strip_prefix("unix:")) {
        return path.to_string();
    }
    let a = a.to_ascii_lowercase();
    match a.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Upstream;
    use crate::discover::ApiKind;
    use crate::proxy_view::ViewState;
    use std::time::SystemTime;

    fn entry(name: &str, url: &str, group: Option<&str>) -> Entry {
        Entry {
            upstream: Upstream {
                name: name.into(),
                url: url.parse().expect("url"),
                timeout: std::time::Duration::from_secs(1),
                interval: std::time::Duration::from_secs(1),
                expect: crate::config::StatusRange::DEFAULT,
                method: Default::default(),
                host: None,
                tls_verify: false,
                slow: std::time::Duration::from_secs(1),
                from: None,
            },
            group: group.map(str::to_owned),
            source: "config".into(),
            flags: vec![],
            notes: vec![],
            limits: None,
        }
    }

    fn server(group: &str, name: &str, address: &str, state: ViewState) -> ServerView {
        ServerView {
            group: group.into(),
            server: name.into(),
            address: address.into(),
            state,
            check: None,
            since: None,
            requests: None,
            fails: None,
        }
    }

    fn view(api: ApiKind, servers: Vec<ServerView>) -> ProxyView {
        ProxyView {
            api,
            at: "x".into(),
            taken: SystemTime::UNIX_EPOCH,
            servers,
            error: None,
        }
    }

    #[test]
    fn matched_by_haproxy_name_then_by_address_in_the_same_group() {
        let mut views = ProxyViews::default();
        let changed = views.apply(vec![
            view(
                ApiKind::HaproxyStats,
                vec![
                    server("other", "x", "127.0.0.1:8080", ViewState::Up),
                    server("shop", "s1", "10.9.9.9:1", ViewState::Down),
                    server("shop", "s2", "127.0.0.1:8080", ViewState::Maint),
                ],
            ),
            view(
                ApiKind::CaddyAdmin,
                vec![server(
                    "",
                    "localhost:9000",
                    "localhost:9000",
                    ViewState::Up,
                )],
            ),
        ]);
        assert!(changed);
        let named = views.for_entry(&entry("shop/s1", "http://app.internal:80/", Some("shop")));
        assert_eq!(named.map(|s| s.server), Some("shop/s1".to_string()));
        let same_group = views.for_entry(&entry("a", "http://127.0.0.1:8080/", Some("shop")));
        assert_eq!(same_group.map(|s| s.view.state), Some(ViewState::Maint));
        let any = views.for_entry(&entry("a", "tcp://127.0.0.1:8080", None));
        assert_eq!(any.map(|s| s.server), Some("other/x".to_string()));
        let caddy = views.for_entry(&entry("c", "http://127.0.0.1:9000/", None));
        assert_eq!(
            caddy.map(|s| (s.proxy, s.server)),
            Some(("caddy", "localhost:9000".into()))
        );
        assert!(
            views
                .for_entry(&entry("n", "tcp://127.0.0.1:1", None))
                .is_none()
        );
        let entries = [
            entry("shop/s1", "http://app.internal:80/", Some("shop")),
            entry("a", "http://127.0.0.1:8080/", Some("shop")),
            entry("a", "tcp://127.0.0.1:8080", None),
            entry("n", "tcp://127.0.0.1:1", None),
        ];
        let one_by_one: Vec<_> = entries.iter().map(|e| views.for_entry(e)).collect();
        assert_eq!(views.for_entries(&entries), one_by_one);
    }

    #[test]
    fn unix_sockets_and_unchanged_rounds() {
        let mut views = ProxyViews::default();
        let round = || {
            vec![view(
                ApiKind::HaproxyStats,
                vec![server("php", "f", "unix@/run/php.sock", ViewState::Down)],
            )]
        };
        assert!(views.apply(round()));
        assert!(!views.apply(round()), "the same again changes nothing");
        let e = entry("php", "unix:/run/php.sock", None);
        assert_eq!(
            views.for_entry(&e).map(|s| s.view.state),
            Some(ViewState::Down)
        );
    }
}
