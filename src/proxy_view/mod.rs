//! The proxy's own view of its upstreams: HAProxy's stats socket, Caddy's and Envoy's admin
//! endpoints, read into one shape ([`ProxyView`]) and shown beside gatewatch's own probes.
//!
//! The proxy's health checks and gatewatch's probe ask different questions from (possibly)
//! different places; when they disagree, that is evidence. Every answer is hostile input: one
//! connection, a 2 s deadline, a capped reply, strings sanitised, and only loopback addresses or
//! local sockets are asked. An API that does not answer is a note, never a verdict.

mod caddy;
mod collector;
mod envoy;
mod haproxy;

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::config::Target;
use crate::discover::host_port_text;
pub use crate::discover::{ApiKind, DiscoveredApi};
use crate::local_api;
use crate::sanitize::sanitize;
pub use collector::{INTERVAL, ProxyViewCollector};

/// How long one API may take, connect to last byte.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// The largest reply read; a longer one is an error, not a truncated view.
pub const MAX_REPLY: usize = 4 << 20;
/// Servers kept per API; a stats page listing more is cut there.
pub const MAX_SERVERS: usize = 10_000;
/// Longest text kept from one field (a name, a check result).
const MAX_FIELD: usize = 200;

/// What the proxy says of one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewState {
    Up,
    Down,
    /// Disabled by an operator (HAProxy MAINT).
    Maint,
    /// Taking no new traffic (HAProxy DRAIN, Envoy pending removal).
    Drain,
    /// The proxy runs no health check on it.
    NoCheck,
    /// Anything else, as the proxy wrote it.
    Unknown(String),
}

impl ViewState {
    /// "UP", "DOWN", "MAINT"... as HAProxy writes them; an unknown state as given.
    pub fn label(&self) -> String {
        match self {
            ViewState::Up => "UP".into(),
            ViewState::Down => "DOWN".into(),
            ViewState::Maint => "MAINT".into(),
            ViewState::Drain => "DRAIN".into(),
            ViewState::NoCheck => "no check".into(),
            ViewState::Unknown(s) => s.clone(),
        }
    }
}

/// One server as the proxy knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerView {
    /// HAProxy backend, Envoy cluster; empty for Caddy, which does not group them.
    pub group: String,
    /// HAProxy server name; the address for Caddy and Envoy.
    pub server: String,
    /// host:port (or a socket path) as the proxy knows it; may be empty when it does not say.
    pub address: String,
    pub state: ViewState,
    /// The last check result: "L4CON Connection refused", "L7STS 502", "failed_active_hc".
    pub check: Option<String>,
    /// How long it has been in `state`, when the proxy says.
    pub since: Option<Duration>,
    pub requests: Option<u64>,
    pub fails: Option<u64>,
}

/// What a proxy says of one watched upstream, once matched to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxySays {
    /// "haproxy", "caddy", "envoy".
    pub proxy: &'static str,
    /// "shop/s1": how the proxy names the server.
    pub server: String,
    pub view: ServerView,
    pub taken: SystemTime,
}

impl ProxySays {
    /// "haproxy DOWN L4CON 12s": the state, the check's code and the age, for a table cell.
    pub fn compact(&self) -> String {
        let mut out = format!("{} {}", self.proxy, self.view.state.label());
        if let Some(code) = self.view.check.as_deref().and_then(|c| c.split(' ').next()) {
            out.push(' ');
            out.push_str(code);
        }
        if let Some(since) = self.view.since {
            out.push(' ');
            out.push_str(&crate::upstream::format_age(since));
        }
        out
    }

    /// "haproxy: DOWN L4CON Connection refused 12s": what the upstream's detail shows.
    pub fn summary(&self) -> String {
        let mut out = format!("{}: {}", self.proxy, self.view.state.label());
        if let Some(check) = &self.view.check {
            out.push(' ');
            out.push_str(check);
        }
        if let Some(since) = self.view.since {
            out.push(' ');
            out.push_str(&crate::upstream::format_age(since));
        }
        if let (Some(r), Some(f)) = (self.view.requests, self.view.fails) {
            out.push_str(&format!(", {r} req {f} fails"));
        }
        out
    }
}

/// One API's answer: every server it listed, or why it could not be read.
#[derive(Clone, Debug)]
pub struct ProxyView {
    pub api: ApiKind,
    /// "unix:/run/haproxy.sock", "127.0.0.1:9901".
    pub at: String,
    pub taken: SystemTime,
    pub servers: Vec<ServerView>,
    /// Why nothing (or not everything) could be read: "permission denied".
    pub error: Option<String>,
}

/// The proxy's name for a kind of API, as notes and the UI say it.
pub fn proxy_name(kind: ApiKind) -> &'static str {
    match kind {
        ApiKind::HaproxyStats => "haproxy",
        ApiKind::CaddyAdmin => "caddy",
        ApiKind::EnvoyAdmin => "envoy",
    }
}

/// What the endpoint is called: "haproxy stats socket", "envoy admin".
pub fn api_name(kind: ApiKind) -> &'static str {
    match kind {
        ApiKind::HaproxyStats => "haproxy stats socket",
        ApiKind::CaddyAdmin => "caddy admin",
        ApiKind::EnvoyAdmin => "envoy admin",
    }
}

/// "unix:/run/haproxy.sock" or "127.0.0.1:9901".
pub fn at_label(at: &Target) -> String {
    let text = match at {
        Target::Unix { path } => format!("unix:{}", path.display()),
        Target::Http { host, port, .. } | Target::Tcp { host, port } => host_port_text(host, *port),
    };
    sanitize(&text).into_owned()
}

/// Reads one API, within [`TIMEOUT`]. Never fails: an error is kept in [`ProxyView::error`].
pub fn read(api: &DiscoveredApi) -> ProxyView {
    let deadline = Instant::now() + TIMEOUT;
    let result = match api.kind {
        ApiKind::HaproxyStats => local_api::exchange(&api.at, b"show stat\n", deadline, MAX_REPLY)
            .and_then(|r| haproxy::parse(&r)),
        ApiKind::CaddyAdmin => {
            local_api::http_get(&api.at, "/reverse_proxy/upstreams", deadline, MAX_REPLY)
                .and_then(|b| caddy::parse(&b))
        }
        ApiKind::EnvoyAdmin => {
            local_api::http_get(&api.at, "/clusters", deadline, MAX_REPLY).map(|b| envoy::parse(&b))
        }
    };
    answer(api, result)
}

/// What `api` answered, taken now: its servers, or why there are none.
fn answer(api: &DiscoveredApi, result: Result<Vec<ServerView>, String>) -> ProxyView {
    let (servers, error) = match result {
        Ok(servers) => (servers, None),
        Err(e) => (Vec::new(), Some(sanitize(&e).into_owned())),
    };
    ProxyView {
        api: api.kind,
        at: at_label(&api.at),
        taken: SystemTime::now(),
        servers,
        error,
    }
}

/// Reads every API at the same time: the slowest bounds the round, not the sum.
pub fn read_all(apis: &[DiscoveredApi]) -> Vec<ProxyView> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = apis.iter().map(|a| scope.spawn(|| read(a))).collect();
        handles
            .into_iter()
            .zip(apis)
            .map(|(h, api)| {
                h.join()
                    .unwrap_or_else(|_| answer(api, Err("the reader panicked".into())))
            })
            .collect()
    })
}

/// A field from a hostile reply, safe for a terminal and of bounded length.
fn field(s: &str) -> String {
    let s = s.trim();
    let cut = match s.char_indices().nth(MAX_FIELD) {
        Some((i, _)) => &s[..i],
        None => s,
    };
    sanitize(cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_bounded_and_sanitised() {
        assert_eq!(field(" L4CON\x1b[2J "), "L4CON\\x1b[2J");
        assert_eq!(field(&"x".repeat(1000)).len(), MAX_FIELD);
        assert_eq!(field("ééé"), "ééé");
    }

    #[test]
    fn addresses_are_labelled_as_they_are_matched() {
        assert_eq!(host_port_text("::1", 80), "[::1]:80");
        assert_eq!(host_port_text("10.0.0.5", 80), "10.0.0.5:80");
        let unix = Target::Unix {
            path: "/run/h.sock".into(),
        };
        assert_eq!(at_label(&unix), "unix:/run/h.sock");
    }
}
