//! Upstream groups and passes as the collector records them, and the probe targets (or the
//! reasons there are none) they give once the whole config is read.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::collect::invalid;
use crate::discover::address::{Endpoint, host_port_text, http_target, tcp_target};
use crate::discover::model::{
    DiscoveredTarget, ProxyLimits, ServerFlags, SourceLoc, Unprobeable, UnusedGroup,
};
use crate::discover::sink::Sink;
use crate::discover::target::Target;

/// `http` and `stream` keep separate upstream namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Namespace {
    Http,
    Stream,
}

/// How a pass talks to its upstream, which decides how the upstream is probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    /// `proxy_pass` in `http`: probe with an HTTP request.
    Http { tls: bool },
    /// FastCGI, uwsgi, SCGI, gRPC and `stream` proxying: probe the port.
    Other,
}

pub(super) struct Group {
    pub(super) ns: Namespace,
    pub(super) name: String,
    pub(super) members: Vec<Member>,
    /// Scheme of the first `proxy_pass` using the group, if any.
    pub(super) http: Option<bool>,
    /// Used by a non-HTTP pass.
    pub(super) other: bool,
    /// Has `balancer_by_lua_*`: Lua picks the backends per request; the servers are placeholders.
    pub(super) runtime: bool,
    /// The limits of the first `proxy_pass` to the group: its members are probed once, as
    /// that pass uses them.
    pub(super) limits: Option<ProxyLimits>,
    pub(super) at: SourceLoc,
}

impl Group {
    /// A pass with `protocol` goes to this group: the first `proxy_pass` decides the scheme.
    pub(super) fn used_by(&mut self, protocol: Protocol) {
        match protocol {
            Protocol::Http { tls } => self.http = self.http.or(Some(tls)),
            Protocol::Other => self.other = true,
        }
    }
}

pub(super) struct Member {
    pub(super) endpoint: Endpoint,
    pub(super) flags: ServerFlags,
    pub(super) at: SourceLoc,
}

pub(super) struct Pass {
    pub(super) ns: Namespace,
    pub(super) directive: String,
    pub(super) protocol: Protocol,
    pub(super) endpoint: Endpoint,
    pub(super) at: SourceLoc,
    /// Ids of the enclosing blocks, for the settings that reach it.
    pub(super) scope: Vec<usize>,
    /// nginx's timeouts for it: `proxy_pass` in http only (see `finish`).
    pub(super) limits: Option<ProxyLimits>,
}

/// 0.0.0.0/8 is "this network": nothing to connect to. Lua balancers list `0.0.0.1` as the
/// placeholder server nginx requires in an upstream block.
fn placeholder(host: &str) -> bool {
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.octets()[0] == 0)
}

pub(super) fn emit_group(group: &Group, used: bool, probed: &mut HashSet<Target>, sink: &mut Sink) {
    if !used {
        return sink.unused(UnusedGroup {
            name: group.name.clone(),
            servers: group.members.len(),
            source: group.at.clone(),
        });
    }
    if group.runtime {
        return sink.unprobeable(Unprobeable {
            name: group.name.clone(),
            directive: "upstream".into(),
            reason: "backends chosen at run time (balancer_by_lua)".into(),
            source: group.at.clone(),
        });
    }
    // Probe as the group is used: HTTP when proxy_pass uses it (or a variable may), TCP otherwise.
    let http = match (group.ns, group.http, group.other) {
        (Namespace::Stream, _, _) => None,
        (_, Some(tls), _) => Some(tls),
        (_, None, true) => None,
        (_, None, false) => Some(false),
    };
    for m in &group.members {
        let (target, what) = match &m.endpoint {
            Endpoint::Unix(path) => (
                Target::Unix { path: path.clone() },
                format!("unix:{}", path.display()),
            ),
            Endpoint::Net(hp) => {
                // nginx's default port for upstream servers, whatever the protocol.
                let port = hp.port.unwrap_or(80);
                let what = host_port_text(&hp.host, port);
                if placeholder(&hp.host) {
                    sink.unprobeable(placeholder_note(&format!("{} {what}", group.name), &m.at));
                    continue;
                }
                let target = match http {
                    Some(tls) => http_target(&hp.host, port, tls),
                    None => tcp_target(&hp.host, port),
                };
                (target, what)
            }
        };
        if !probed.insert(target.clone()) {
            continue;
        }
        sink.target(DiscoveredTarget {
            name: format!("{} {what}", group.name),
            group: Some(group.name.clone()),
            target,
            flags: m.flags.clone(),
            source: m.at.clone(),
            limits: group.limits.clone(),
        });
    }
}

fn placeholder_note(name: &str, at: &SourceLoc) -> Unprobeable {
    Unprobeable {
        name: name.to_string(),
        directive: "server".into(),
        reason: "placeholder address in 0.0.0.0/8: nothing to connect to".into(),
        source: at.clone(),
    }
}

pub(super) fn emit_pass(p: &Pass, probed: &mut HashSet<Target>, sink: &mut Sink) {
    let (target, name) = match &p.endpoint {
        Endpoint::Unix(path) => (
            Target::Unix { path: path.clone() },
            format!("unix:{}", path.display()),
        ),
        Endpoint::Net(hp) => {
            let port = match (hp.port, p.protocol) {
                (Some(port), _) => port,
                (None, Protocol::Http { tls }) => {
                    if tls {
                        443
                    } else {
                        80
                    }
                }
                (None, Protocol::Other) => {
                    let message =
                        format!("no port in upstream \"{}\" of \"{}\"", hp.host, p.directive);
                    return sink.error_at(&p.at, invalid(&message));
                }
            };
            let name = host_port_text(&hp.host, port);
            if placeholder(&hp.host) {
                return sink.unprobeable(placeholder_note(&name, &p.at));
            }
            let target = match p.protocol {
                Protocol::Http { tls } => http_target(&hp.host, port, tls),
                Protocol::Other => tcp_target(&hp.host, port),
            };
            (target, name)
        }
    };
    if !probed.insert(target.clone()) {
        return;
    }
    sink.target(DiscoveredTarget {
        name,
        group: None,
        target,
        flags: ServerFlags::default(),
        source: p.at.clone(),
        limits: p.limits.clone(),
    });
}
