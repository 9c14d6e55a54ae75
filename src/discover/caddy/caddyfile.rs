//! What a Caddyfile says about upstreams, logs and the admin endpoint.
//!
//! Site addresses are where Caddy listens, never upstreams: only `reverse_proxy` (its inline
//! list and `to` lines), `php_fastcgi` and `forward_auth` name servers Caddy connects to. Every block is walked
//! (`handle`, `route`, `handle_path`, matchers...), since any of them may hold a proxy.

use std::path::{Path, PathBuf};

use super::tree::{Node, loc};
use super::upstream::{Transport, caddyfile_upstream, record};
use super::{DEFAULT_ADMIN, admin_api, default_admin};
use crate::discover::model::{DiscoveryErrorKind, LogKindHint, SourceLoc, Unprobeable};
use crate::discover::sink::Sink;

/// Reads the statement tree of a whole Caddyfile (imports already spliced in).
pub(super) fn collect(nodes: &[Node], main: &Path, sink: &mut Sink) {
    let mut admin_seen = false;
    let mut rest = nodes;
    // The global options block: the first block, without any address.
    if let Some((first, after)) = nodes.split_first()
        && first.words.is_empty()
        && first.block.is_some()
    {
        admin_seen = global_options(first.children(), sink);
        rest = after;
    }
    // An empty Caddyfile is no site at all: nothing says a Caddy runs with it.
    if !admin_seen && !nodes.is_empty() {
        default_admin(main, sink);
    }
    // A single site may be written without braces: its address line, then its directives.
    if let Some(first) = rest.first()
        && first.block.is_none()
    {
        return directives(&rest[1..], sink);
    }
    for site in rest {
        directives(site.children(), sink);
    }
}

/// Returns whether `admin` was set.
fn global_options(options: &[Node], sink: &mut Sink) -> bool {
    let mut admin_seen = false;
    for o in options {
        match o.name() {
            "admin" => {
                admin_seen = true;
                match o.args().first().map(|t| t.text.as_str()) {
                    Some("off") => {}
                    Some(addr) => admin_api(addr, &o.loc(), sink),
                    None => admin_api(DEFAULT_ADMIN, &o.loc(), sink),
                }
            }
            // The default logger: Caddy's own messages, the upstream errors among them.
            "log" => log(o, LogKindHint::Error, sink),
            _ => {}
        }
    }
    admin_seen
}

fn directives(nodes: &[Node], sink: &mut Sink) {
    for n in nodes {
        match n.name() {
            // forward_auth asks its upstream about every request: a reverse_proxy underneath.
            "reverse_proxy" | "forward_auth" => reverse_proxy(n, Transport::Http, sink),
            "php_fastcgi" => reverse_proxy(n, Transport::Tcp, sink),
            "log" => log(n, LogKindHint::Access, sink),
            _ => directives(n.children(), sink),
        }
    }
}

/// A matcher in first position: a path (`/api/*`), `*`, or a named matcher (`@api`).
fn is_matcher(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('@') || s == "*"
}

fn reverse_proxy(n: &Node, default: Transport, sink: &mut Sink) {
    let directive = n.name().to_string();
    let mut transport = default;
    let mut upstreams: Vec<(String, SourceLoc)> = Vec::new();
    let args = n.args();
    let args = match args.first() {
        Some(m) if !m.quoted && is_matcher(&m.text) => &args[1..],
        _ => args,
    };
    upstreams.extend(args.iter().map(|t| (t.text.clone(), loc(t))));
    for sub in n.children() {
        match sub.name() {
            "to" => upstreams.extend(sub.args().iter().map(|t| (t.text.clone(), loc(t)))),
            "transport" => match sub.args().first().map(|t| t.text.as_str()) {
                Some("fastcgi") => transport = Transport::Tcp,
                Some("http")
                    if sub
                        .children()
                        .iter()
                        .any(|c| c.name() == "tls" || c.name().starts_with("tls_")) =>
                {
                    transport = Transport::Https
                }
                _ => {}
            },
            "dynamic" => {
                let source = sub.args().first().map_or("", |t| t.text.as_str());
                let words: Vec<&str> = sub.args().iter().take(3).map(|t| t.text.as_str()).collect();
                sink.unprobeable(Unprobeable {
                    name: format!("dynamic {}", words.join(" "))
                        .trim_end()
                        .to_string(),
                    directive: directive.clone(),
                    reason: format!("upstreams chosen at run time (dynamic {source})"),
                    source: sub.loc(),
                });
            }
            _ => {}
        }
    }
    // Caddy refuses upstreams of one proxy with different schemes; "https://" puts TLS on
    // the whole transport.
    let mut schemes = upstreams
        .iter()
        .filter_map(|(u, _)| u.split_once("://").map(|(s, _)| s.to_ascii_lowercase()));
    if let Some(first) = schemes.next() {
        if let Some(other) = schemes.find(|s| *s != first) {
            let message = format!(
                "{directive}: all upstreams must use the same scheme, not {first}:// and {other}:// (Caddy refuses this)"
            );
            return sink.error_at(&n.loc(), DiscoveryErrorKind::Invalid(message));
        }
        if first == "https" {
            transport = Transport::Https;
        }
    }
    for (text, at) in upstreams {
        record(
            caddyfile_upstream(&text, transport),
            &text,
            &directive,
            at,
            sink,
        );
    }
}

/// `log [name] { output file PATH ... }`. Other outputs (stderr, stdout, discard, net) write no
/// file: Caddy's default is stderr, which the service manager keeps (the journal for the Debian
/// package's unit).
fn log(n: &Node, kind: LogKindHint, sink: &mut Sink) {
    for sub in n.children() {
        if sub.name() != "output" {
            continue;
        }
        let args = sub.args();
        if args.first().is_some_and(|t| t.text == "file") {
            match args.get(1) {
                Some(path) if !path.text.contains('{') => {
                    sink.log(PathBuf::from(&path.text), kind, sub.loc());
                }
                Some(_) => {}
                None => sink.error_at(
                    &sub.loc(),
                    DiscoveryErrorKind::Invalid("\"output file\" expects a path".into()),
                ),
            }
        }
    }
}
