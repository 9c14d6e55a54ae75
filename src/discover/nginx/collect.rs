//! Turns nginx directives into targets, logs and resolvers.
//!
//! Upstream groups may be defined after, or in another file than, the `*_pass` that uses them, so
//! passes and groups are recorded in config order first and resolved once everything is read.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::compiled::CompiledDefaults;
use super::parser::Directive;
use super::values::{
    PassError, parse_address, parse_endpoint, parse_url, resolver_addr, server_flags,
};
use super::vars::Vars;
use super::walk::{Block, Visitor};
use crate::discover::address::{Endpoint, HostPort, host_port_text, http_target, tcp_target};
use crate::discover::limits::MAX_ENTRIES;
use crate::discover::model::{
    DiscoveredTarget, DiscoveryErrorKind, LogElsewhere, LogKindHint, ServerFlags, SourceLoc,
    Unprobeable, UnusedGroup,
};
use crate::discover::sink::Sink;
use crate::discover::target::Target;

/// `http` and `stream` keep separate upstream namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Has `balancer_by_lua_*`: Lua picks the backends per request; the servers are placeholders.
    runtime: bool,
    at: SourceLoc,
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
    /// A pass whose value has a variable, resolved once every `set` has been read.
    Variable(VariablePass),
}

struct VariablePass {
    ns: Namespace,
    directive: String,
    value: String,
    /// Ids of the enclosing blocks, for the `set`s that reach it.
    scope: Vec<usize>,
    at: SourceLoc,
}

/// How a pass's value is written.
enum PassSyntax {
    /// `http://` or `https://` URL (proxy_pass in http).
    Url,
    /// `host:port`, `unix:/path` or an upstream name, after one of these optional schemes.
    Address(&'static [&'static str]),
}

pub(super) struct Collector {
    /// Where relative log paths are taken from; `None` until known (see `finish`).
    log_prefix: Option<PathBuf>,
    /// The prefix guessed from the config's path, when none is given or compiled in.
    guessed_prefix: PathBuf,
    /// Log directives in config order, resolved once the prefix is known.
    logs: Vec<(LogKindHint, String, SourceLoc)>,
    /// An `events`, `http` or `stream` block at the top: the file is nginx's main config.
    main_config: bool,
    groups: Vec<Group>,
    items: Vec<Item>,
    current_group: Option<usize>,
    recorded: usize,
    /// Ids of the blocks the walker is in (one per `Block`), to tell sibling scopes apart.
    scope: Vec<usize>,
    next_scope: usize,
    vars: Vars,
    /// Whether nginx falls back on its compiled-in logs (see `finish`).
    main_error_log: bool,
    http_block: bool,
    http_access_log: bool,
    /// How many http servers there are, and the scope ids of those naming their own access_log.
    http_servers: usize,
    servers_with_access_log: HashSet<usize>,
    /// Words (lowercase) a variable could take as its value: `set` values and the lines of
    /// `map`s and the like. A group named there may be what a variable pass goes to.
    mentioned: HashSet<String>,
    /// Hosts of passes that do not parse as addresses, which may still name a group.
    named: Vec<(Namespace, String, Protocol)>,
}

impl Visitor for Collector {
    fn data(&mut self, d: &Directive) {
        self.mention(std::iter::once(&d.name).chain(&d.args));
    }

    fn directive(&mut self, blocks: &[Block], d: &Directive, at: &SourceLoc, sink: &mut Sink) {
        let ns = match blocks.first() {
            Some(b) if b.name == "stream" => Namespace::Stream,
            _ => Namespace::Http,
        };
        let in_upstream = blocks.last().is_some_and(|b| b.name == "upstream");
        // Blocks closed since the last directive; a block the walker opened unseen gets an id.
        self.scope.truncate(blocks.len());
        while self.scope.len() < blocks.len() {
            let id = self.fresh_scope();
            self.scope.push(id);
        }
        self.vars.directive(blocks, &self.scope, d);
        if d.name == "set" {
            self.mention(d.args.iter().skip(1));
        }
        let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
        match d.name.as_str() {
            "upstream" if d.block => self.upstream(ns, d, at, sink),
            "server" if in_upstream && !d.block => self.member(ns, d, at, sink),
            name if in_upstream && name.starts_with("balancer_by_lua") => {
                if let Some(g) = self.current_group.and_then(|g| self.groups.get_mut(g)) {
                    g.runtime = true;
                }
            }
            "proxy_pass" | "fastcgi_pass" | "scgi_pass" | "uwsgi_pass" | "grpc_pass"
            | "memcached_pass" => self.pass(ns, d, at, sink),
            "error_log" => {
                self.main_error_log |= blocks.is_empty();
                self.log(LogKindHint::Error, d, at);
            }
            "access_log" => {
                match names.as_slice() {
                    ["http"] => self.http_access_log = true,
                    ["http", "server"] => {
                        if let Some(&id) = self.scope.get(1) {
                            self.servers_with_access_log.insert(id);
                        }
                    }
                    _ => {}
                }
                self.log(LogKindHint::Access, d, at);
            }
            "resolver" => resolver(d, at, sink),
            "http" if d.block && blocks.is_empty() => {
                self.http_block = true;
                self.main_config = true;
            }
            "events" | "stream" | "mail" if d.block && blocks.is_empty() => {
                self.main_config = true;
            }
            "server" if d.block && names == ["http"] => self.http_servers += 1,
            _ => {}
        }
        if d.block {
            let id = self.fresh_scope();
            self.scope.push(id);
        }
    }
}

impl Collector {
    /// `prefix` is nginx's `-p` when known; otherwise it comes from the compiled-in defaults or is
    /// guessed from the config's path, `main`.
    pub(super) fn new(prefix: Option<PathBuf>, main: &Path) -> Self {
        Collector {
            log_prefix: prefix,
            guessed_prefix: default_prefix(main),
            logs: Vec::new(),
            main_config: false,
            groups: Vec::new(),
            items: Vec::new(),
            current_group: None,
            recorded: 0,
            scope: Vec::new(),
            next_scope: 0,
            vars: Vars::default(),
            main_error_log: false,
            http_block: false,
            http_access_log: false,
            http_servers: 0,
            servers_with_access_log: HashSet::new(),
            mentioned: HashSet::new(),
            named: Vec::new(),
        }
    }

    fn mention<'a>(&mut self, words: impl Iterator<Item = &'a String>) {
        for w in words {
            if self.mentioned.len() < MAX_ENTRIES {
                self.mentioned.insert(w.to_ascii_lowercase());
            }
        }
    }

    fn fresh_scope(&mut self) -> usize {
        self.next_scope += 1;
        self.next_scope - 1
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
            runtime: false,
            at: at.clone(),
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
        let [value] = d.args.as_slice() else {
            return sink.error_at(
                at,
                invalid(&format!("invalid number of arguments in \"{}\"", d.name)),
            );
        };
        if !self.room(at, sink) {
            return;
        }
        if value.contains('$') {
            self.items.push(Item::Variable(VariablePass {
                ns,
                directive: d.name.clone(),
                value: value.clone(),
                scope: self.scope.clone(),
                at: at.clone(),
            }));
            return;
        }
        if let Some(p) = parse_pass(ns, &d.name, value, value, at, sink) {
            self.items.push(Item::Pass(p));
        } else if let Some(host) = literal_host(value) {
            // Reported as invalid, yet nginx takes any name of a group: the group is still used.
            let protocol = match (ns, d.name.as_str()) {
                (Namespace::Http, "proxy_pass") => Protocol::Http {
                    tls: value.starts_with("https://"),
                },
                _ => Protocol::Other,
            };
            self.named.push((ns, host.to_string(), protocol));
        }
    }

    fn log(&mut self, kind: LogKindHint, d: &Directive, at: &SourceLoc) {
        // One more than the sink takes, so that it reports the cap.
        if let Some(value) = d.args.first()
            && self.logs.len() <= MAX_ENTRIES
        {
            self.logs.push((kind, value.clone(), at.clone()));
        }
    }

    fn find_group(&self, ns: Namespace, name: &str) -> Option<usize> {
        // nginx compares upstream names case-insensitively.
        self.groups
            .iter()
            .position(|g| g.ns == ns && g.name.eq_ignore_ascii_case(name))
    }

    /// Resolves passes against groups and emits everything, in config order. `defaults` are
    /// nginx's compiled-in logs, used where the config names none.
    /// `defaults` is asked, at most once, for nginx's compiled-in defaults (which runs `nginx -V`):
    /// only for a main config that leaves a log to them or has relative log paths.
    pub(super) fn finish(
        mut self,
        defaults: &mut dyn FnMut() -> Option<CompiledDefaults>,
        sink: &mut Sink,
    ) {
        // A pass whose upstream stays variable may go to a group a `set` or `map` names.
        let mut dynamic = HashSet::new();
        let items = std::mem::take(&mut self.items);
        for item in items {
            let Item::Variable(v) = item else {
                self.items.push(item);
                continue;
            };
            let value = self.vars.substitute(&v.value, &v.scope);
            match parse_pass(v.ns, &v.directive, &v.value, &value, &v.at, sink) {
                Some(p) => self.items.push(Item::Pass(p)),
                None if value.contains('$') => {
                    dynamic.insert(v.ns);
                    // "$scheme://name$uri": only the scheme varies, the group is named.
                    if let Some(host) = literal_host(&value) {
                        self.mentioned.insert(host.to_ascii_lowercase());
                    }
                }
                None => {}
            }
        }
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
        for (ns, host, protocol) in &self.named {
            if let Some(g) = self.find_group(*ns, host) {
                let group = &mut self.groups[g];
                match protocol {
                    Protocol::Http { tls } => group.http = group.http.or(Some(*tls)),
                    Protocol::Other => group.other = true,
                }
            }
        }
        // One probe per target, however many groups or passes name it: the first keeps it.
        let mut probed = HashSet::new();
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Group(g) => {
                    if let Some(group) = self.groups.get(*g) {
                        let used = group.http.is_some() || group.other;
                        let maybe = dynamic.contains(&group.ns)
                            && self.mentioned.contains(&group.name.to_ascii_lowercase());
                        emit_group(group, used || maybe, &mut probed, sink);
                    }
                }
                Item::Pass(p) if direct[i] => emit_pass(p, &mut probed, sink),
                Item::Pass(_) | Item::Variable(_) => {}
            }
        }
        let relative = |v: &str| {
            !v.starts_with('/') && !v.starts_with("syslog:") && !["stderr", "off"].contains(&v)
        };
        let wanted = self.main_config
            && (!self.main_error_log
                || self.access_log_defaulted()
                || (self.log_prefix.is_none() && self.logs.iter().any(|l| relative(&l.1))));
        let defaults = if wanted { defaults() } else { None };
        let prefix = self
            .log_prefix
            .take()
            .or_else(|| defaults.as_ref().and_then(|d| d.prefix.clone()))
            .unwrap_or_else(|| self.guessed_prefix.clone());
        for (kind, value, at) in &self.logs {
            log_value(&prefix, *kind, value, at, sink);
        }
        if let Some(c) = &defaults {
            self.compiled_logs(&prefix, c, sink);
        }
    }

    /// Some http server writes its requests to the compiled-in access log: neither http nor the
    /// server names one.
    fn access_log_defaulted(&self) -> bool {
        let server_without =
            self.http_servers == 0 || self.servers_with_access_log.len() < self.http_servers;
        self.http_block && !self.http_access_log && server_without
    }

    /// nginx opens its compiled-in error log when the main context names none, and writes a
    /// server's requests to the compiled-in access log when neither http nor it names one.
    fn compiled_logs(&self, prefix: &Path, c: &CompiledDefaults, sink: &mut Sink) {
        let at = SourceLoc {
            file: c.from.clone(),
            line: c.line,
        };
        if !self.main_error_log
            && let Some(v) = &c.error_log
        {
            log_value(prefix, LogKindHint::Error, v, &at, sink);
        }
        if self.access_log_defaulted()
            && let Some(v) = &c.http_log
        {
            log_value(prefix, LogKindHint::Access, v, &at, sink);
        }
    }
}

/// Parses a pass's `value` (`written` is how the config has it, for messages): the pass, or
/// `None` once an error or an unprobeable entry has been reported.
fn parse_pass(
    ns: Namespace,
    directive: &str,
    written: &str,
    value: &str,
    at: &SourceLoc,
    sink: &mut Sink,
) -> Option<Pass> {
    let (protocol, syntax) = match (ns, directive) {
        (Namespace::Http, "proxy_pass") => (Protocol::Http { tls: false }, PassSyntax::Url),
        (_, "uwsgi_pass") => (Protocol::Other, PassSyntax::Address(&["uwsgi", "suwsgi"])),
        (_, "grpc_pass") => (Protocol::Other, PassSyntax::Address(&["grpc", "grpcs"])),
        // fastcgi_pass, scgi_pass, memcached_pass, and proxy_pass in stream {}
        _ => (Protocol::Other, PassSyntax::Address(&[])),
    };
    let parsed = match syntax {
        PassSyntax::Url => parse_url(value),
        PassSyntax::Address(schemes) => parse_address(value, schemes).map(|e| (e, false)),
    };
    let (endpoint, tls) = match parsed {
        Ok(p) => p,
        Err(PassError::Variable(var)) => {
            sink.unprobeable(Unprobeable {
                name: written.to_string(),
                directive: directive.to_string(),
                reason: format!("target contains a variable ({var}): resolved per request"),
                source: at.clone(),
            });
            return None;
        }
        Err(PassError::Invalid(reason)) => {
            sink.error_at(at, invalid(&format!("{reason} in \"{directive}\"")));
            return None;
        }
    };
    let protocol = match protocol {
        Protocol::Http { .. } => Protocol::Http { tls },
        other => other,
    };
    Some(Pass {
        ns,
        directive: directive.to_string(),
        protocol,
        endpoint,
        at: at.clone(),
    })
}

/// A log value: a file (relative to the prefix), or syslog or stderr, which are noted instead.
fn log_value(prefix: &Path, kind: LogKindHint, value: &str, at: &SourceLoc, sink: &mut Sink) {
    if let Some(params) = value.strip_prefix("syslog:") {
        let server = params
            .split(',')
            .find_map(|p| p.strip_prefix("server="))
            .unwrap_or("not given");
        return sink.elsewhere(LogElsewhere {
            kind,
            to: "syslog".into(),
            detail: server.to_string(),
            source: at.clone(),
        });
    }
    if value == "stderr" {
        return sink.elsewhere(LogElsewhere {
            kind,
            to: "stderr".into(),
            detail: String::new(),
            source: at.clone(),
        });
    }
    // Not files we can follow. (`error_log off` really writes a file named "off" in nginx, but
    // whoever wrote it meant no log; `memory:` is a debugging ring buffer.)
    let skip = ["off", "/dev/null"].contains(&value)
        || value.starts_with("memory:")
        || value.contains('$'); // one file per request value: nothing fixed to follow
    if !skip {
        sink.log(prefix.join(value), kind, at.clone());
    }
}

/// The host of "scheme://host..." when it is written out, whatever varies around it.
fn literal_host(value: &str) -> Option<&str> {
    let rest = value.split_once("://").map_or(value, |(_, r)| r);
    let end = rest.find(['$', '/', ':']).unwrap_or(rest.len());
    let host = &rest[..end];
    (!host.is_empty()).then_some(host)
}

/// 0.0.0.0/8 is "this network": nothing to connect to. Lua balancers list `0.0.0.1` as the
/// placeholder server nginx requires in an upstream block.
fn placeholder(host: &str) -> bool {
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.octets()[0] == 0)
}

fn emit_group(group: &Group, used: bool, probed: &mut HashSet<Target>, sink: &mut Sink) {
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

fn emit_pass(p: &Pass, probed: &mut HashSet<Target>, sink: &mut Sink) {
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
fn default_prefix(main: &Path) -> PathBuf {
    let absolute = std::path::absolute(main).unwrap_or_else(|_| main.to_path_buf());
    absolute
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::super::{nginx, nginx_with_defaults};
    use super::*;
    use crate::discover::model::Discovery;

    fn discover(text: &str) -> (tempfile::TempDir, Discovery) {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("nginx.conf");
        std::fs::write(&main, text).unwrap();
        let d = nginx(&main);
        (dir, d)
    }

    fn targets(d: &Discovery) -> Vec<(String, Target)> {
        d.targets
            .iter()
            .map(|t| (t.name.clone(), t.target.clone()))
            .collect()
    }

    fn tcp(host: &str, port: u16) -> Target {
        tcp_target(host, port)
    }

    fn http(host: &str, port: u16) -> Target {
        http_target(host, port, false)
    }

    fn errors(d: &Discovery) -> Vec<String> {
        d.errors
            .iter()
            .map(|e| format!("{}: {}", e.line.unwrap_or(0), e.message()))
            .collect()
    }

    #[test]
    fn lua_blocks_do_not_hide_what_follows() {
        let (_dir, d) = discover(
            r#"http {
    init_by_lua_block {
        local cfg = { a = "x, y", b = '}', c = "{" }  -- a comment, with } and "
        --[==[ a long
        comment } ]==]
        local s = [[ ; { ]] .. [=[ ]] } ]=]
    }
    server {
        location / {
            access_by_lua_block { if ngx.var.x == "a,b" then ngx.exit(403) end }
            set_by_lua_block $who { return "me}" }
            proxy_pass http://127.0.0.1:8080;
        }
    }
    access_log /nonexistent/access.log;
    error_log /nonexistent/error.log;
    resolver 127.0.0.53;
}
"#,
        );
        assert_eq!(errors(&d), Vec::<String>::new());
        assert_eq!(
            targets(&d),
            vec![("127.0.0.1:8080".into(), http("127.0.0.1", 8080))]
        );
        let logs: Vec<_> = d
            .logs
            .iter()
            .map(|l| (l.path.clone(), l.kind, l.source.line))
            .collect();
        assert_eq!(
            logs,
            vec![
                ("/nonexistent/access.log".into(), LogKindHint::Access, 15),
                ("/nonexistent/error.log".into(), LogKindHint::Error, 16),
            ]
        );
        assert_eq!(d.resolvers, vec!["127.0.0.53:53".parse().unwrap()]);
    }

    #[test]
    fn broken_lua_is_reported_at_its_line_and_the_rest_still_read() {
        let (_dir, d) = discover(
            "http {\n    content_by_lua_block {\n        ngx.say(\"unclosed)\n    }\n    error_log /nonexistent/e.log;\n}\n",
        );
        assert_eq!(
            errors(&d),
            vec![
                "2: broken Lua in \"content_by_lua_block\": unterminated Lua string at line 3; skipped to the block's \"}\""
            ]
        );
        assert_eq!(d.logs.len(), 1);
    }

    #[test]
    fn lua_balanced_groups_and_placeholders_are_never_probed() {
        let (_dir, d) = discover(
            "http {
    upstream upstream_balancer {
        server 0.0.0.1;
        balancer_by_lua_block { balancer.balance() }
        keepalive 32;
    }
    upstream fixed { server 0.0.0.2:80; server 10.0.0.1:80; }
    server {
        location / { proxy_pass http://upstream_balancer; }
        location /f { proxy_pass http://fixed; }
        location /p { proxy_pass http://0.0.0.7:8080; }
    }
}
stream {
    upstream upstream_balancer { server 0.0.0.1:1234; balancer_by_lua_file /x/balancer.lua; }
    server { listen 8443; proxy_pass upstream_balancer; }
}
",
        );
        assert_eq!(errors(&d), Vec::<String>::new());
        assert_eq!(
            targets(&d),
            vec![("fixed 10.0.0.1:80".into(), http("10.0.0.1", 80))]
        );
        let notes: Vec<_> = d
            .unprobeable
            .iter()
            .map(|u| (u.name.as_str(), u.reason.as_str(), u.source.line))
            .collect();
        let runtime = "backends chosen at run time (balancer_by_lua)";
        let placeholder = "placeholder address in 0.0.0.0/8: nothing to connect to";
        assert_eq!(
            notes,
            vec![
                ("upstream_balancer", runtime, 2),
                ("fixed 0.0.0.2:80", placeholder, 7),
                ("0.0.0.7:8080", placeholder, 11),
                ("upstream_balancer", runtime, 15),
            ]
        );
        assert!(d.unused.is_empty());
    }

    #[test]
    fn unreferenced_groups_are_unused_pools_are_tcp_and_ports_probed_once() {
        let (_dir, d) = discover(
            "http {
    upstream php { server 127.0.0.1:9000; }
    upstream old_php { server 127.0.0.1:9001; server 127.0.0.1:9002; }
    upstream a { server 127.0.0.1:8080; }
    upstream b { server 127.0.0.1:8080; server 127.0.0.1:8081; }
    upstream g { server 127.0.0.1:50051; }
    upstream tls { server 127.0.0.1:8443; }
    upstream mc { server 127.0.0.1:11211; }
    server {
        location ~ \\.php$ { fastcgi_pass php; }
        location /a { proxy_pass http://a; }
        location /b { proxy_pass http://B/path; }
        location /g { grpc_pass grpc://g; }
        location /t { proxy_pass https://tls/x/; }
        location /m { memcached_pass mc; }
        # location /old { fastcgi_pass old_php; }
    }
}
stream {
    upstream db { server 127.0.0.1:5432; }
    upstream spare { server 127.0.0.1:5433; }
    server { listen 5432; proxy_pass db; }
}
",
        );
        assert_eq!(errors(&d), Vec::<String>::new());
        assert_eq!(
            targets(&d),
            vec![
                ("php 127.0.0.1:9000".into(), tcp("127.0.0.1", 9000)),
                ("a 127.0.0.1:8080".into(), http("127.0.0.1", 8080)),
                // b's 127.0.0.1:8080 is a's: probed once, under the first group.
                ("b 127.0.0.1:8081".into(), http("127.0.0.1", 8081)),
                ("g 127.0.0.1:50051".into(), tcp("127.0.0.1", 50051)),
                (
                    "tls 127.0.0.1:8443".into(),
                    http_target("127.0.0.1", 8443, true)
                ),
                ("mc 127.0.0.1:11211".into(), tcp("127.0.0.1", 11211)),
                ("db 127.0.0.1:5432".into(), tcp("127.0.0.1", 5432)),
            ]
        );
        let unused: Vec<_> = d
            .unused
            .iter()
            .map(|g| (g.name.as_str(), g.servers, g.source.line))
            .collect();
        assert_eq!(unused, vec![("old_php", 2, 3), ("spare", 1, 21)]);
    }

    #[test]
    fn a_group_a_variable_may_name_is_still_probed() {
        let (_dir, d) = discover(
            "http {
    map $host $pool { default blue; green.example green; }
    upstream blue { server 10.0.0.1:80; }
    upstream green { server 10.0.0.2:80; }
    upstream retired { server 10.0.0.3:80; }
    server { location / { proxy_pass http://$pool; } }
}
",
        );
        let names: Vec<_> = d.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["blue 10.0.0.1:80", "green 10.0.0.2:80"]);
        assert_eq!(d.unused.len(), 1);
        assert_eq!(d.unused[0].name, "retired");
        assert_eq!(d.unprobeable.len(), 1);

        // A group name that is no valid host (nginx takes any): reported, and still used.
        let (_dir, d) = discover(
            "http {
    upstream \"odd[name\" { server 10.0.0.9:80; }
    server { location / { proxy_pass \"http://odd[name\"; } }
}
",
        );
        assert_eq!(d.targets.len(), 1);
        assert_eq!(d.errors.len(), 1);
        assert!(d.unused.is_empty());

        // Only the scheme varies: the group is named (Kong writes it this way).
        let (_dir, d) = discover(
            "http {
    upstream kong_upstream { server 10.0.0.1:80; }
    server { location / { proxy_pass $upstream_scheme://kong_upstream$upstream_uri; } }
}
",
        );
        assert_eq!(d.targets.len(), 1);
        assert!(d.unused.is_empty());
    }

    #[test]
    fn a_variable_set_once_to_a_literal_is_substituted() {
        let (_dir, d) = discover(
            "http {
    server {
        set $jellyfin 127.0.0.1;
        location / { proxy_pass http://$jellyfin:8096; }
        location /socket { proxy_pass http://$jellyfin:8096; }
        location /dlna { proxy_pass http://${jellyfin}:8920$request_uri; }
        location /twice { set $jellyfin 10.0.0.1; proxy_pass http://$jellyfin:1; }
    }
    server {
        set $up backend;
        if ($arg_x) { set $cond 10.0.0.2; }
        set $from $host;
        location / { proxy_pass http://$up; }
        location /c { proxy_pass http://$cond:81; }
        location /d { proxy_pass http://$from:82; }
        location /e { proxy_pass http://$cond:81; }
    }
    upstream backend { server 10.0.0.5:8080; }
}
",
        );
        assert_eq!(errors(&d), Vec::<String>::new());
        assert_eq!(
            targets(&d),
            vec![
                // Both locations proxy to it: one probe, named from the first.
                ("127.0.0.1:8096".into(), http("127.0.0.1", 8096)),
                ("127.0.0.1:8920".into(), http("127.0.0.1", 8920)),
                ("backend 10.0.0.5:8080".into(), http("10.0.0.5", 8080)),
            ]
        );
        assert_eq!(d.targets[0].source.line, 4);
        let left: Vec<_> = d
            .unprobeable
            .iter()
            .map(|u| (u.name.as_str(), u.source.line))
            .collect();
        // Set twice, set in `if` (listed for each location), set from a variable.
        assert_eq!(
            left,
            vec![
                ("http://$jellyfin:1", 7),
                ("http://$cond:81", 14),
                ("http://$from:82", 15),
                ("http://$cond:81", 16),
            ]
        );
        assert_eq!(
            d.unprobeable[0].reason,
            "target contains a variable ($jellyfin): resolved per request"
        );
    }

    #[test]
    fn syslog_and_stderr_logs_are_noted_not_followed() {
        let (_dir, d) = discover(
            "error_log syslog:server=unix:/dev/log,tag=nginx warn;
error_log stderr;
http {
    access_log syslog:server=127.0.0.1:514,facility=local7 combined;
    error_log memory:32m;
    server { error_log /nonexistent/site.error.log; }
}
",
        );
        let logs: Vec<_> = d.logs.iter().map(|l| l.path.clone()).collect();
        assert_eq!(logs, vec![PathBuf::from("/nonexistent/site.error.log")]);
        let notes: Vec<_> = d.elsewhere.iter().map(LogElsewhere::advice).collect();
        assert_eq!(
            notes,
            vec![
                "error_log goes to syslog (server=unix:/dev/log): read it with journalctl -u nginx or the syslog file",
                "error_log goes to stderr: in the journal (systemd) or the container's log",
                "access_log goes to syslog (server=127.0.0.1:514): read it with journalctl -u nginx or the syslog file",
            ]
        );
        assert_eq!(d.elsewhere[0].source.line, 1);
        assert_eq!(d.elsewhere[2].kind, LogKindHint::Access);
    }

    #[test]
    fn compiled_in_logs_fill_in_what_the_config_does_not_name() {
        let defaults = CompiledDefaults {
            from: "/usr/sbin/nginx -V".into(),
            line: 4,
            prefix: Some("/opt/nginx".into()),
            error_log: Some("logs/error.log".into()),
            http_log: Some("/var/log/nginx/access.log".into()),
        };
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("nginx.conf");
        let asked = std::cell::Cell::new(0);
        let run = |text: &str, defaults: &CompiledDefaults| {
            std::fs::write(&main, text).unwrap();
            asked.set(0);
            let d = nginx_with_defaults(&main, &mut || {
                asked.set(asked.get() + 1);
                Some(defaults.clone())
            });
            let logs: Vec<_> = d
                .logs
                .iter()
                .map(|l| (l.path.display().to_string(), l.kind, l.source.to_string()))
                .collect();
            (logs, d.elsewhere)
        };
        let from = "/usr/sbin/nginx -V:4".to_string();
        // Nothing named: both defaults, the relative one under the compiled prefix.
        let (logs, _) = run("http { server { listen 80; } }\n", &defaults);
        assert_eq!(
            logs,
            vec![
                (
                    "/opt/nginx/logs/error.log".into(),
                    LogKindHint::Error,
                    from.clone()
                ),
                (
                    "/var/log/nginx/access.log".into(),
                    LogKindHint::Access,
                    from.clone()
                ),
            ]
        );
        assert_eq!(asked.get(), 1);
        // An http-level error_log does not replace the main one; every server has its access_log.
        let (logs, _) = run(
            "http { error_log /x/e.log; server { access_log /x/a.log; } server { access_log off; } }\n",
            &defaults,
        );
        let paths: Vec<_> = logs.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(paths, ["/x/e.log", "/x/a.log", "/opt/nginx/logs/error.log"]);
        // Both named, absolute: the binary is not even asked.
        let (logs, _) = run(
            "error_log /x/e.log;\nhttp { access_log /x/a.log; }\n",
            &defaults,
        );
        assert_eq!(logs.len(), 2);
        assert_eq!(asked.get(), 0);
        // Named but relative: asked for the prefix.
        let (logs, _) = run(
            "error_log logs/e.log;\nhttp { access_log /x/a.log; }\n",
            &defaults,
        );
        assert_eq!(logs[0].0, "/opt/nginx/logs/e.log");
        assert_eq!(asked.get(), 1);
        // Not a main config (an empty file, a snippet): not asked.
        let (logs, _) = run("", &defaults);
        assert!(logs.is_empty());
        assert_eq!(asked.get(), 0);
        // Debian's nginx is built with --error-log-path=stderr.
        let debian = CompiledDefaults {
            error_log: Some("stderr".into()),
            ..defaults.clone()
        };
        let (logs, elsewhere) = run("events {}\n", &debian);
        assert!(logs.is_empty(), "no http block: no access log");
        assert_eq!(elsewhere.len(), 1);
        assert_eq!(elsewhere[0].to, "stderr");
        assert_eq!(elsewhere[0].source.to_string(), from);
    }
}
