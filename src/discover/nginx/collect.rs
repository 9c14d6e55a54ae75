//! Turns nginx directives into targets, logs and resolvers.
//!
//! Upstream groups may be defined after, or in another file than, the `*_pass` that uses them, so
//! passes and groups are recorded in config order first and resolved once everything is read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::compiled::CompiledDefaults;
use super::parser::Directive;
use super::timeouts::Timeouts;
use super::upstreams::{Group, Member, Namespace, Pass, Protocol, emit_group, emit_pass};
use super::values::{
    PassError, parse_address, parse_endpoint, parse_url, resolver_addr, server_flags,
};
use super::vars::Vars;
use super::walk::{Block, Visitor};
use crate::discover::address::{Endpoint, HostPort};
use crate::discover::limits::MAX_ENTRIES;
use crate::discover::model::{
    DiscoveryErrorKind, LogElsewhere, LogKindHint, SourceLoc, Unprobeable,
};
use crate::discover::sink::Sink;

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
    timeouts: Timeouts,
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
        self.timeouts.directive(&names, &self.scope, d, at, sink);
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
            timeouts: Timeouts::default(),
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
            limits: None,
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
        if let Some(mut p) = parse_pass(ns, &d.name, value, value, at, sink) {
            p.scope = self.scope.clone();
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

    /// Resolves passes against groups and emits everything, in config order. `defaults` is asked,
    /// at most once, for nginx's compiled-in defaults (which runs `nginx -V`): only for a main
    /// config that leaves a log to them or has relative log paths.
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
                Some(mut p) => {
                    p.scope = v.scope;
                    self.items.push(Item::Pass(p));
                }
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
        for item in &mut self.items {
            if let Item::Pass(p) = item
                && matches!(p.protocol, Protocol::Http { .. })
            {
                p.limits = Some(self.timeouts.effective(&p.scope));
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
            self.groups[g].used_by(p.protocol);
            let group = &mut self.groups[g];
            group.limits = group.limits.take().or_else(|| p.limits.clone());
        }
        for (ns, host, protocol) in &self.named {
            if let Some(g) = self.find_group(*ns, host) {
                self.groups[g].used_by(*protocol);
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
        scope: Vec::new(),
        limits: None,
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

/// `resolver address ... [valid=time] [ipv6=off] [status_zone=zone]`.
fn resolver(d: &Directive, at: &SourceLoc, sink: &mut Sink) {
    for arg in d.args.iter().filter(|a| !a.contains('=')) {
        match resolver_addr(arg) {
            Ok(addr) => sink.resolver(addr, at),
            Err(reason) => sink.error_at(at, invalid(&reason)),
        }
    }
}

pub(super) fn invalid(message: &str) -> DiscoveryErrorKind {
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
#[path = "collect_tests.rs"]
mod tests;
