//! Turns nginx directives into targets, logs and resolvers.
//!
//! Upstream groups may be defined after, or in another file than, the `*_pass` that uses them, so
//! passes and groups are recorded in config order first and resolved once everything is read.

use std::path::{Path, PathBuf};

use super::parser::Directive;
use super::values::{
    PassError, parse_address, parse_endpoint, parse_url, resolver_addr, server_flags,
};
use super::walk::{Block, Visitor};
use crate::discover::address::{Endpoint, HostPort, host_port_text, http_target, tcp_target};
use crate::discover::limits::MAX_ENTRIES;
use crate::discover::model::{
    DiscoveredTarget, DiscoveryErrorKind, LogKindHint, ServerFlags, SourceLoc, Unprobeable,
};
use crate::discover::sink::Sink;
use crate::discover::target::Target;

/// `http` and `stream` keep separate upstream namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Namespace {
    Http,
    Stream,
}

/// How a pass talks to its upstream, which decides how the upstream is probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// `proxy_pass` in `http`: probe with an HTTP request.
    Http { tls: bool },
    /// FastCGI, uwsgi, SCGI, gRPC and `stream` proxying: probe the port.
    Other,
}

struct Group {
    ns: Namespace,
    name: String,
    members: Vec<Member>,
    /// Scheme of the first `proxy_pass` using the group, if any.
    http: Option<bool>,
    /// Used by a non-HTTP pass.
    other: bool,
}

struct Member {
    endpoint: Endpoint,
    flags: ServerFlags,
    at: SourceLoc,
}

struct Pass {
    ns: Namespace,
    directive: String,
    protocol: Protocol,
    endpoint: Endpoint,
    at: SourceLoc,
}

/// Groups and passes in config order, so targets come out in the order they were written.
enum Item {
    Group(usize),
    Pass(Pass),
}

/// How a pass's value is written.
enum PassSyntax {
    /// `http://` or `https://` URL (proxy_pass in http).
    Url,
    /// `host:port`, `unix:/path` or an upstream name, after one of these optional schemes.
    Address(&'static [&'static str]),
}

pub(super) struct Collector {
    log_prefix: PathBuf,
    groups: Vec<Group>,
    items: Vec<Item>,
    current_group: Option<usize>,
    recorded: usize,
}

impl Visitor for Collector {
    fn directive(&mut self, blocks: &[Block], d: &Directive, at: &SourceLoc, sink: &mut Sink) {
        let ns = match blocks.first() {
            Some(b) if b.name == "stream" => Namespace::Stream,
            _ => Namespace::Http,
        };
        let in_upstream = blocks.last().is_some_and(|b| b.name == "upstream");
        match d.name.as_str() {
            "upstream" if d.block => self.upstream(ns, d, at, sink),
            "server" if in_upstream && !d.block => self.member(ns, d, at, sink),
            "proxy_pass" | "fastcgi_pass" | "scgi_pass" | "uwsgi_pass" | "grpc_pass" => {
                self.pass(ns, d, at, sink)
            }
            "error_log" => self.log(LogKindHint::Error, d, at, sink),
            "access_log" => self.log(LogKindHint::Access, d, at, sink),
            "resolver" => resolver(d, at, sink),
            _ => {}
        }
    }
}

impl Collector {
    pub(super) fn new(log_prefix: PathBuf) -> Self {
        Collector {
            log_prefix,
            groups: Vec::new(),
            items: Vec::new(),
            current_group: None,
            recorded: 0,
        }
    }

    /// Counts one more recorded server or pass; false (reported once) past the cap.
    fn room(&mut self, at: &SourceLoc, sink: &mut Sink) -> bool {
        self.recorded += 1;
        if self.recorded == MAX_ENTRIES + 1 {
            sink.error_at(
                at,
                DiscoveryErrorKind::TooMany {
                    what: "upstream servers and passes",
                    limit: MAX_ENTRIES,
                },
            );
        }
        self.recorded <= MAX_ENTRIES
    }

    fn upstream(&mut self, ns: Namespace, d: &Directive, at: &SourceLoc, sink: &mut Sink) {
        let [name] = d.args.as_slice() else {
            self.current_group = None;
            return sink.error_at(at, invalid("invalid number of arguments in \"upstream\""));
        };
        if self.find_group(ns, name).is_some() {
            sink.error_at(at, invalid(&format!("duplicate upstream \"{name}\"")));
        }
        if !self.room(at, sink) {
            self.current_group = None;
            return;
        }
        self.current_group = Some(self.groups.len());
        self.items.push(Item::Group(self.groups.len()));
        self.groups.push(Group {
            ns,
            name: name.clone(),
            members: Vec::new(),
            http: None,
            other: false,
        });
    }

    fn member(&mut self, ns: Namespace, d: &Directive, at: &SourceLoc, sink: &mut Sink) {
        let Some(group) = self.current_group else {
            return;
        };
        let Some((address, params)) = d.args.split_first() else {
            return sink.error_at(at, invalid("invalid number of arguments in \"server\""));
        };
        let endpoint = match parse_endpoint(address) {
            Ok(e) => e,
            Err(reason) => {
                return sink.error_at(at, invalid(&format!("{reason} in upstream \"server\"")));
            }
        };
        if ns == Namespace::Stream
            && matches!(&endpoint, Endpoint::Net(HostPort { port: None, .. }))
        {
            return sink.error_at(at, invalid(&format!("no port in upstream \"{address}\"")));
        }
        let (flags, rejected) = server_flags(params);
        for p in rejected {
            sink.error_at(
                at,
                invalid(&format!("invalid parameter \"{p}\" in upstream \"server\"")),
            );
        }
        if !self.room(at, sink) {
            return;
        }
        if let Some(g) = self.groups.get_mut(group) {
            g.members.push(Member {
                endpoint,
                flags,
                at: at.clone(),
            });
        }
    }

    fn pass(&mut self, ns: Namespace, d: &Directive, at: &SourceLoc, sink: &mut Sink) {
        let (protocol, syntax) = match (ns, d.name.as_str()) {
            (Namespace::Http, "proxy_pass") => (Protocol::Http { tls: false }, PassSyntax::Url),
            (_, "uwsgi_pass") => (Protocol::Other, PassSyntax::Address(&["uwsgi", "suwsgi"])),
            (_, "grpc_pass") => (Protocol::Other, PassSyntax::Address(&["grpc", "grpcs"])),
            // fastcgi_pass, scgi_pass, and proxy_pass in stream {}
            _ => (Protocol::Other, PassSyntax::Address(&[])),
        };
        let [value] = d.args.as_slice() else {
            return sink.error_at(
                at,
                invalid(&format!("invalid number of arguments in \"{}\"", d.name)),
            );
        };
        let parsed = match syntax {
            PassSyntax::Url => parse_url(value),
            PassSyntax::Address(schemes) => parse_address(value, schemes).map(|e| (e, false)),
        };
        let (endpoint, tls) = match parsed {
            Ok(p) => p,
            Err(PassError::Variable(var)) => {
                return sink.unprobeable(Unprobeable {
                    name: value.clone(),
                    directive: d.name.clone(),
                    reason: format!("target contains a variable ({var}): resolved per request"),
                    source: at.clone(),
                });
            }
            Err(PassError::Invalid(reason)) => {
                return sink.error_at(at, invalid(&format!("{reason} in \"{}\"", d.name)));
            }
        };
        let protocol = match protocol {
            Protocol::Http { .. } => Protocol::Http { tls },
            other => other,
        };
        if self.room(at, sink) {
            self.items.push(Item::Pass(Pass {
                ns,
                directive: d.name.clone(),
                protocol,
                endpoint,
                at: at.clone(),
            }));
        }
    }

    fn log(&mut self, kind: LogKindHint, d: &Directive, at: &SourceLoc, sink: &mut Sink) {
        let Some(path) = d.args.first() else { return };
        // Not files we can follow. (`error_log off` really writes a file named "off" in nginx,
        // but whoever wrote it meant no log.)
        let skip = ["off", "stderr", "/dev/null"].contains(&path.as_str())
            || path.starts_with("syslog:")
            || path.starts_with("memory:")
            || path.contains('$'); // one file per request value: nothing fixed to follow
        if skip {
            return;
        }
        sink.log(self.log_prefix.join(path), kind, at.clone());
    }

    fn find_group(&self, ns: Namespace, name: &str) -> Option<usize> {
        // nginx compares upstream names case-insensitively.
        self.groups
            .iter()
            .position(|g| g.ns == ns && g.name.eq_ignore_ascii_case(name))
    }

    /// Resolves passes against groups and emits everything, in config order.
    pub(super) fn finish(mut self, sink: &mut Sink) {
        let mut direct = vec![false; self.items.len()];
        for (i, item) in self.items.iter().enumerate() {
            let Item::Pass(p) = item else { continue };
            let Endpoint::Net(hp) = &p.endpoint else {
                direct[i] = true;
                continue;
            };
            let Some(g) = self.find_group(p.ns, &hp.host) else {
                direct[i] = true;
                continue;
            };
            if let Some(port) = hp.port {
                sink.error_at(
                    &p.at,
                    invalid(&format!(
                        "upstream \"{}\" may not have port {port}",
                        hp.host
                    )),
                );
                continue;
            }
            let group = &mut self.groups[g];
            match p.protocol {
                Protocol::Http { tls } => group.http = group.http.or(Some(tls)),
                Protocol::Other => group.other = true,
            }
        }
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Group(g) => {
                    if let Some(group) = self.groups.get(*g) {
                        emit_group(group, sink);
                    }
                }
                Item::Pass(p) if direct[i] => emit_pass(p, sink),
                Item::Pass(_) => {}
            }
        }
    }
}

fn emit_group(group: &Group, sink: &mut Sink) {
    // Probe as the group is used: HTTP when proxy_pass uses it (or nothing does), TCP otherwise.
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
                let target = match http {
                    Some(tls) => http_target(&hp.host, port, tls),
                    None => tcp_target(&hp.host, port),
                };
                (target, host_port_text(&hp.host, port))
            }
        };
        sink.target(DiscoveredTarget {
            name: format!("{} {what}", group.name),
            group: Some(group.name.clone()),
            target,
            flags: m.flags.clone(),
            source: m.at.clone(),
        });
    }
}

fn emit_pass(p: &Pass, sink: &mut Sink) {
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
            let target = match p.protocol {
                Protocol::Http { tls } => http_target(&hp.host, port, tls),
                Protocol::Other => tcp_target(&hp.host, port),
            };
            (target, host_port_text(&hp.host, port))
        }
    };
    sink.target(DiscoveredTarget {
        name,
        group: None,
        target,
        flags: ServerFlags::default(),
        source: p.at.clone(),
    });
}

/// `resolver address ... [valid=time] [ipv6=off] [status_zone=zone]`.
fn resolver(d: &Directive, at: &SourceLoc, sink: &mut Sink) {
    for arg in d.args.iter().filter(|a| !a.contains('=')) {
        match resolver_addr(arg) {
            Ok(addr) => sink.resolver(addr, at),
            Err(reason) => sink.error_at(at, invalid(&reason)),
        }
    }
}

fn invalid(message: &str) -> DiscoveryErrorKind {
    DiscoveryErrorKind::Invalid(message.to_string())
}

/// nginx resolves relative log paths against its prefix (`-p`), which only the binary knows. For
/// the layout of a source build, <prefix>/conf/nginx.conf, the prefix is the parent of the config's
/// directory, so that is what is assumed. Packaged configs (Debian's prefix is /usr/share/nginx)
/// use absolute log paths, so the guess rarely matters; `nginx_with_prefix` overrides it.
pub(super) fn default_prefix(main: &Path) -> PathBuf {
    let absolute = std::path::absolute(main).unwrap_or_else(|_| main.to_path_buf());
    absolute
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}
