//! HAProxy: `server` lines of `backend` and `listen` sections, and `resolvers` nameservers.
//!
//! HAProxy logs through syslog, so haproxy.cfg names no log file and none is reported. A server is
//! probed over HTTP when its section (or the `defaults` it inherits) has `mode http`, else as a
//! TCP port. `.if` blocks are not evaluated: servers in every branch are listed.

mod server;
mod words;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::address::{http_target, split_host_port, tcp_target};
use super::files::{LoadError, Loader, text_lines};
use super::limits::MAX_ENTRIES;
use super::model::{
    ApiKind, DiscoveredApi, DiscoveredTarget, Discovery, DiscoveryErrorKind, ServerFlags,
    SourceLoc, Unprobeable,
};
use super::sink::Sink;
use super::target::Target;
use server::{
    Address, AddressProblem, Params, Parsed, health_check_note, parse_address, parse_params,
    split_haproxy_host_port,
};
use words::split_words;

/// Discovers backends and resolvers from haproxy.cfg. `path` may also be a directory, which
/// HAProxy reads as all its `*.cfg` files in name order.
pub fn haproxy(path: &Path) -> Discovery {
    haproxy_with_loader(path, Loader::default())
}

/// [`haproxy`] reading through `loader` (the files inside a container's root, say).
pub(crate) fn haproxy_with_loader(path: &Path, mut loader: Loader) -> Discovery {
    let mut sink = Sink::default();
    let files = if loader.is_dir(path) {
        match loader.expand(&path.join("*.cfg")) {
            Ok(files) => files,
            Err(kind) => {
                sink.error(path, None, kind);
                Vec::new()
            }
        }
    } else {
        vec![path.to_path_buf()]
    };
    let mut parser = ConfigParser::default();
    for file in files {
        match loader.enter(&file) {
            Ok(bytes) => {
                sink.file_read(&file);
                parser.parse_file(&file, &bytes, &mut sink);
                loader.leave();
            }
            Err(LoadError::Report(kind)) => sink.error(&file, None, kind),
            Err(LoadError::Quiet) => {}
        }
    }
    sink.finish()
}

const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "resolvers",
    "peers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "log-forward",
    "fcgi-app",
    "crt-store",
    "traces",
    "acme",
];

/// What a `defaults` section passes on.
#[derive(Clone, Debug, Default)]
struct Defaults {
    mode: Option<String>,
    default_server: Vec<String>,
}

struct Server {
    name: String,
    /// Where HAProxy connects: the server, or the SOCKS4 proxy in front of it.
    address: Address,
    /// `Some(hop)` when `address` is a SOCKS4 proxy: probed as TCP whatever the mode.
    socks4: Option<String>,
    flags: ServerFlags,
    tls: bool,
    at: SourceLoc,
}

struct Section {
    keyword: String,
    name: String,
    /// For `defaults`: what it defines; for proxies: what they have set themselves.
    own: Defaults,
    inherited: Defaults,
    servers: Vec<Server>,
}

#[derive(Default)]
struct ConfigParser {
    last_defaults: Defaults,
    named_defaults: HashMap<String, Defaults>,
    section: Option<Section>,
    servers_seen: usize,
}

impl ConfigParser {
    fn parse_file(&mut self, file: &Path, bytes: &[u8], sink: &mut Sink) {
        let (lines, nul_line) = text_lines(bytes);
        for (line, text) in lines {
            let at = SourceLoc {
                file: file.to_path_buf(),
                line,
            };
            match split_words(&text) {
                Ok(words) => self.line(&words, &at, sink),
                Err(reason) => sink.error_at(&at, DiscoveryErrorKind::Syntax(reason)),
            }
        }
        if let Some(line) = nul_line {
            let message = "unexpected NUL byte: binary data, not a config file".to_string();
            sink.error(file, Some(line), DiscoveryErrorKind::Syntax(message));
        }
        // A section never continues into the next file.
        self.end_section(sink);
    }

    fn line(&mut self, words: &[String], at: &SourceLoc, sink: &mut Sink) {
        let Some((keyword, args)) = words.split_first() else {
            return;
        };
        if keyword.starts_with('.') {
            return; // .if/.else/.endif/.notice...: conditions are not evaluated
        }
        if SECTIONS.contains(&keyword.as_str()) {
            self.end_section(sink);
            self.start_section(keyword, args);
            return;
        }
        let Some(section) = self.section.as_mut() else {
            return;
        };
        match (section.keyword.as_str(), keyword.as_str()) {
            ("defaults" | "backend" | "listen" | "frontend", "mode") => {
                section.own.mode = args.first().cloned()
            }
            ("defaults" | "backend" | "listen", "default-server") => {
                section.own.default_server.extend_from_slice(args)
            }
            ("backend" | "listen", "server") => self.server(args, at, sink),
            ("backend" | "listen", "server-template") => {
                let name = format!(
                    "{}/{}",
                    section.name,
                    args.first().map_or("", String::as_str)
                );
                sink.unprobeable(Unprobeable {
                    name: format!("{name} {}", args.get(2).map_or("", String::as_str)),
                    directive: "server-template".into(),
                    reason: "server-template: servers are filled in from DNS at run time".into(),
                    source: at.clone(),
                });
            }
            ("resolvers", "nameserver") => nameserver(args, at, sink),
            ("global", "stats") if args.first().is_some_and(|a| a == "socket") => {
                stats_socket(&args[1..], at, sink)
            }
            _ => {}
        }
    }

    fn start_section(&mut self, keyword: &str, args: &[String]) {
        let name = args.first().cloned().unwrap_or_default();
        // "backend NAME from DEFAULTS" (and "defaults NAME from OTHER") pick named defaults.
        let from = match args {
            [_, from_kw, defaults, ..] if from_kw == "from" => {
                self.named_defaults.get(defaults).cloned()
            }
            _ => None,
        };
        let inherited = match keyword {
            "defaults" => from.unwrap_or_default(),
            _ => from.unwrap_or_else(|| self.last_defaults.clone()),
        };
        self.section = Some(Section {
            keyword: keyword.to_string(),
            name,
            own: Defaults::default(),
            inherited,
            servers: Vec::new(),
        });
    }

    fn server(&mut self, args: &[String], at: &SourceLoc, sink: &mut Sink) {
        let Some(section) = self.section.as_mut() else {
            return;
        };
        let [name, address, params @ ..] = args else {
            return sink.error_at(
                at,
                DiscoveryErrorKind::Invalid("\"server\" expects a name and an address".into()),
            );
        };
        let unprobeable = |reason: String, sink: &mut Sink| {
            sink.unprobeable(Unprobeable {
                name: format!("{}/{name} {address}", section.name),
                directive: "server".into(),
                reason,
                source: at.clone(),
            })
        };
        let parsed = match parse_address(address) {
            Ok(a) => a,
            Err(AddressProblem::Runtime(reason)) => return unprobeable(reason, sink),
            Err(AddressProblem::Invalid(reason)) => {
                return sink.error_at(
                    at,
                    DiscoveryErrorKind::Invalid(format!("server \"{name}\": {reason}")),
                );
            }
        };
        let all_params: Vec<String> = section
            .inherited
            .default_server
            .iter()
            .chain(&section.own.default_server)
            .chain(params)
            .cloned()
            .collect();
        let params = match parse_params(&all_params) {
            Ok(p) => p,
            Err(reason) => {
                sink.error_at(
                    at,
                    DiscoveryErrorKind::Invalid(format!("server \"{name}\": {reason}")),
                );
                Params {
                    flags: ServerFlags {
                        other: params.to_vec(),
                        ..ServerFlags::default()
                    },
                    ..Params::default()
                }
            }
        };
        let mut flags = params.flags.clone();
        flags.notes.extend(parsed.notes);
        flags.notes.extend(check_notes(&params, &parsed.address));
        // Behind a SOCKS4 proxy HAProxy connects only to the proxy, which connects on to the
        // server: the hop is what this host can test; the server may be reachable only from it.
        let (address, socks4) = match &params.socks4 {
            None => (parsed.address, None),
            Some(hop) => match parse_address(hop) {
                Ok(Parsed {
                    address: hop_address @ Address::Net { .. },
                    notes,
                }) => {
                    flags.notes.push(format!(
                        "probed: the SOCKS4 proxy {hop}; {address} is reached through it"
                    ));
                    flags.notes.extend(notes);
                    (hop_address, Some(hop.clone()))
                }
                Ok(_) | Err(AddressProblem::Runtime(_)) => {
                    let reason = format!(
                        "reached through the SOCKS4 proxy \"{hop}\", which is not a host:port to probe"
                    );
                    return unprobeable(reason, sink);
                }
                Err(AddressProblem::Invalid(reason)) => {
                    return sink.error_at(
                        at,
                        DiscoveryErrorKind::Invalid(format!("server \"{name}\": socks4 {reason}")),
                    );
                }
            },
        };
        self.servers_seen += 1;
        if self.servers_seen > MAX_ENTRIES {
            if self.servers_seen == MAX_ENTRIES + 1 {
                sink.error_at(
                    at,
                    DiscoveryErrorKind::TooMany {
                        what: "servers",
                        limit: MAX_ENTRIES,
                    },
                );
            }
            return;
        }
        section.servers.push(Server {
            name: name.clone(),
            address,
            socks4,
            flags,
            tls: params.tls,
            at: at.clone(),
        });
    }

    /// Emits a finished proxy's servers (its mode may come after them) or records a `defaults`.
    fn end_section(&mut self, sink: &mut Sink) {
        let Some(section) = self.section.take() else {
            return;
        };
        if section.keyword == "defaults" {
            let defaults = Defaults {
                mode: section.own.mode.or(section.inherited.mode),
                default_server: [section.inherited.default_server, section.own.default_server]
                    .concat(),
            };
            if !section.name.is_empty() {
                self.named_defaults.insert(section.name, defaults.clone());
            }
            self.last_defaults = defaults;
            return;
        }
        let http = section
            .own
            .mode
            .or(section.inherited.mode)
            .is_some_and(|m| m == "http");
        for s in section.servers {
            let target = match &s.address {
                Address::Unix(path) => Target::Unix { path: path.clone() },
                Address::Net { host, port } if http && s.socks4.is_none() => {
                    http_target(host, *port, s.tls)
                }
                Address::Net { host, port } => tcp_target(host, *port),
            };
            // backend/server: how HAProxy itself names a server in logs and stats; the hop
            // follows, so nobody reads the SOCKS proxy's state as the server's.
            let name = match &s.socks4 {
                Some(hop) => format!("{}/{} via socks4 {hop}", section.name, s.name),
                None => format!("{}/{}", section.name, s.name),
            };
            sink.target(DiscoveredTarget {
                name,
                group: Some(section.name.clone()),
                target,
                flags: s.flags,
                source: s.at,
                limits: None,
            });
        }
    }
}

/// `stats socket ADDRESS [param*]` in `global`: a unix path (`/run/haproxy.sock`,
/// `unix@/path`) or a TCP address (`ipv4@127.0.0.1:9999`, `127.0.0.1:9999`, `[::1]:9999`).
/// `level`, `mode` and the other bind parameters do not change where it is.
fn stats_socket(args: &[String], at: &SourceLoc, sink: &mut Sink) {
    let Some(address) = args.first() else {
        return sink.error_at(
            at,
            DiscoveryErrorKind::Invalid("\"stats socket\" expects an address".into()),
        );
    };
    let (family, bare) = match address.split_once('@') {
        Some((family, rest)) => (Some(family), rest),
        None => (None, address.as_str()),
    };
    let target = match family {
        Some("unix") => Ok(Target::Unix { path: bare.into() }),
        None if !bare.contains(':') => Ok(Target::Unix { path: bare.into() }),
        // Read as HAProxy reads every address, a server's too: the port after the last colon.
        Some("ipv4" | "ipv6") | None => split_haproxy_host_port(&local(bare))
            .map_err(|(AddressProblem::Invalid(r) | AddressProblem::Runtime(r))| r)
            .and_then(|hp| match hp.port {
                Some(port) => Ok(Target::Tcp {
                    host: hp.host,
                    port,
                }),
                None => Err(format!("stats socket \"{address}\" has no port")),
            }),
        Some(other) => Err(format!(
            "stats socket \"{address}\": the {other}@ family is not read by gatewatch"
        )),
    };
    match target {
        Ok(target) => sink.api(DiscoveredApi {
            kind: ApiKind::HaproxyStats,
            at: target,
            source: at.clone(),
        }),
        Err(reason) => sink.error_at(at, DiscoveryErrorKind::Invalid(reason)),
    }
}

/// A socket bound on every address ("*:9999", ":9999", "0.0.0.0:9999") is asked on loopback.
fn local(address: &str) -> String {
    for any in ["*:", ":", "0.0.0.0:"] {
        // "::1:9999" is an IPv6 address, not ":" and a port.
        if let Some(port) = address.strip_prefix(any)
            && !port.contains(':')
        {
            return format!("127.0.0.1:{port}");
        }
    }
    match address.strip_prefix("[::]:") {
        Some(port) => format!("[::1]:{port}"),
        None => address.to_string(),
    }
}

/// Where the health check goes when it is not where the traffic goes; without a check (or for a
/// Unix socket server) the `addr`/`port`/`check-ssl` parameters are listed as written.
fn check_notes(p: &Params, address: &Address) -> Vec<String> {
    if let Address::Net { host, port } = address
        && let Some(note) = health_check_note(p, host, *port)
    {
        return vec![note];
    }
    let mut out = Vec::new();
    if let Some(a) = &p.check_addr {
        out.push(format!("addr {a}"));
    }
    if let Some(port) = &p.check_port {
        out.push(format!("port {port}"));
    }
    if p.check_ssl {
        out.push("check-ssl".to_string());
    }
    out
}

/// `nameserver NAME [udp@|tcp@]ADDRESS[:PORT]` in a `resolvers` section.
fn nameserver(args: &[String], at: &SourceLoc, sink: &mut Sink) {
    let Some(address) = args.get(1) else {
        return sink.error_at(
            at,
            DiscoveryErrorKind::Invalid("\"nameserver\" expects a name and an address".into()),
        );
    };
    let bare = address
        .split_once('@')
        .map_or(address.as_str(), |(_, rest)| rest);
    let parsed = split_host_port(bare).and_then(|hp| {
        let ip: IpAddr = hp
            .host
            .parse()
            .map_err(|_| format!("nameserver \"{address}\" is not an IP address"))?;
        Ok(SocketAddr::new(ip, hp.port.unwrap_or(53)))
    });
    match parsed {
        Ok(addr) => sink.resolver(addr, at),
        Err(reason) => sink.error_at(at, DiscoveryErrorKind::Invalid(reason)),
    }
}
