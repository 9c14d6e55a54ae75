//! Turns Apache directives into targets and logs: `ProxyPass`, `ProxyPassMatch`,
//! `BalancerMember`, `SetHandler proxy:...`, `RewriteRule ... [P]`, `ErrorLog`, `CustomLog`,
//! `TransferLog`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::envvars::substitute;
use crate::discover::address::{
    authority, first_variable, host_port_text, http_target, read_host, split_host_port,
    split_scheme, strip_unix, tcp_target,
};
use crate::discover::limits::MAX_ENTRIES;
use crate::discover::model::{
    DiscoveredTarget, DiscoveryErrorKind, LogKindHint, ServerFlags, SourceLoc, Unprobeable,
};
use crate::discover::sink::Sink;
use crate::discover::target::Target;

/// An open `<Section args>`.
#[derive(Clone, Debug)]
pub(super) struct Section {
    pub name: String,
    pub args: Vec<String>,
    pub line: usize,
}

/// What a proxy URL designates.
enum Worker {
    /// `note`: how the host was read, when not as written ("127.1 read as 127.0.0.1").
    Target {
        target: Target,
        what: String,
        note: Option<String>,
    },
    Balancer(String),
}

struct BalancerRef {
    name: String,
    url: String,
    directive: String,
    at: SourceLoc,
}

pub(super) struct Collector {
    /// Base for relative paths: `ServerRoot` once set, else the main config's directory.
    pub base: PathBuf,
    pub vars: HashMap<String, String>,
    balancers: Vec<String>,
    refs: Vec<BalancerRef>,
}

impl Collector {
    pub(super) fn new(base: PathBuf, vars: HashMap<String, String>) -> Self {
        Collector {
            base,
            vars,
            balancers: Vec::new(),
            refs: Vec::new(),
        }
    }

    /// Handles one directive (name lowercased, `${VAR}`s already substituted).
    pub(super) fn directive(
        &mut self,
        sections: &[Section],
        name: &str,
        args: &[String],
        at: &SourceLoc,
        sink: &mut Sink,
    ) {
        match name {
            "serverroot" => {
                if let Some(root) = args.first() {
                    self.base = PathBuf::from(root);
                }
            }
            "define" => {
                if let Some(var) = args.first()
                    && (self.vars.len() < MAX_ENTRIES || self.vars.contains_key(var))
                {
                    let value = args.get(1).cloned().unwrap_or_default();
                    self.vars.insert(var.clone(), value);
                }
            }
            "undefine" => {
                if let Some(var) = args.first() {
                    self.vars.remove(var);
                }
            }
            "errorlog" => self.log(LogKindHint::Error, "ErrorLog", args, at, sink),
            "customlog" => self.log(LogKindHint::Access, "CustomLog", args, at, sink),
            "transferlog" => self.log(LogKindHint::Access, "TransferLog", args, at, sink),
            "proxypass" | "proxypassmatch" => self.proxy_pass(sections, name, args, at, sink),
            "balancermember" => self.balancer_member(sections, args, at, sink),
            "rewriterule" => self.rewrite_rule(args, at, sink),
            "sethandler" => {
                // SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost" (Debian's PHP-FPM).
                let handler = args.first().map_or("", String::as_str);
                if let Some(url) = handler
                    .get(..6)
                    .filter(|p| p.eq_ignore_ascii_case("proxy:"))
                    .map(|_| &handler[6..])
                {
                    self.worker(url, "SetHandler", &[], None, at, sink);
                }
            }
            _ => {}
        }
    }

    fn log(
        &mut self,
        kind: LogKindHint,
        directive: &str,
        args: &[String],
        at: &SourceLoc,
        sink: &mut Sink,
    ) {
        let Some(path) = args.first() else { return };
        // Piped loggers, syslog and the standard streams are not files we can follow.
        let skip = path.starts_with('|')
            || (kind == LogKindHint::Error && path.starts_with("syslog"))
            || path.starts_with("/dev/")
            || path.starts_with("/proc/");
        if skip {
            return;
        }
        if let Some(var) = path.find("${").and_then(|i| first_variable(&path[i..])) {
            let message =
                format!("{directive} path uses {var}, which is not defined (Define or envvars)");
            return sink.error_at(at, DiscoveryErrorKind::Invalid(message));
        }
        sink.log(self.base.join(path), kind, at.clone());
    }

    fn proxy_pass(
        &mut self,
        sections: &[Section],
        name: &str,
        args: &[String],
        at: &SourceLoc,
        sink: &mut Sink,
    ) {
        let directive = if name == "proxypass" {
            "ProxyPass"
        } else {
            "ProxyPassMatch"
        };
        // Inside <Location> the path is the section's, and only the URL is given.
        let in_location = sections.iter().any(|s| {
            s.name.eq_ignore_ascii_case("location") || s.name.eq_ignore_ascii_case("locationmatch")
        });
        let rest = if in_location {
            args
        } else {
            args.get(1..).unwrap_or_default()
        };
        let Some((url, params)) = rest.split_first() else {
            let message = format!(
                "{directive} needs {}",
                if in_location {
                    "a URL"
                } else {
                    "a path and a URL"
                }
            );
            return sink.error_at(at, DiscoveryErrorKind::Invalid(message));
        };
        if url == "!" {
            return; // an exclusion: this path is not proxied
        }
        self.worker(url, directive, params, None, at, sink);
    }

    /// `RewriteRule PATTERN SUBSTITUTION [P,...]`: mod_rewrite hands the rewritten URL to
    /// mod_proxy (the WebSocket and GitLab idiom). Only rules with the proxy flag connect
    /// anywhere; a substitution without a scheme proxies back to this server and is skipped.
    fn rewrite_rule(&mut self, args: &[String], at: &SourceLoc, sink: &mut Sink) {
        let [_, substitution, flags, ..] = args else {
            return;
        };
        if !has_proxy_flag(flags) {
            return;
        }
        if strip_unix(substitution).is_some() {
            return self.worker(substitution, "RewriteRule [P]", &[], None, at, sink);
        }
        if split_scheme(substitution).is_none() {
            return;
        }
        match rewrite_worker_url(substitution) {
            Ok(url) => self.worker(&url, "RewriteRule [P]", &[], None, at, sink),
            Err(reason) => sink.unprobeable(Unprobeable {
                name: substitution.clone(),
                directive: "RewriteRule [P]".into(),
                reason,
                source: at.clone(),
            }),
        }
    }

    fn balancer_member(
        &mut self,
        sections: &[Section],
        args: &[String],
        at: &SourceLoc,
        sink: &mut Sink,
    ) {
        let section = sections.iter().rev().find_map(|s| {
            let is_proxy =
                s.name.eq_ignore_ascii_case("proxy") || s.name.eq_ignore_ascii_case("proxymatch");
            s.args
                .first()
                .filter(|_| is_proxy)
                .and_then(|a| balancer_name(a))
        });
        let member = match (section, args) {
            (Some(group), [url, params @ ..]) => Some((group, url, params)),
            (None, [balancer, url, params @ ..]) => {
                balancer_name(balancer).map(|group| (group, url, params))
            }
            _ => None,
        };
        let Some((group, url, params)) = member else {
            let message = "BalancerMember needs a URL (and a balancer:// name outside <Proxy balancer://...>)";
            return sink.error_at(at, DiscoveryErrorKind::Invalid(message.into()));
        };
        if !self
            .balancers
            .iter()
            .any(|b| b.eq_ignore_ascii_case(&group))
            && self.balancers.len() < MAX_ENTRIES
        {
            self.balancers.push(group.clone());
        }
        self.worker(url, "BalancerMember", params, Some(group), at, sink);
    }

    fn worker(
        &mut self,
        url: &str,
        directive: &str,
        params: &[String],
        group: Option<String>,
        at: &SourceLoc,
        sink: &mut Sink,
    ) {
        let unprobeable = |reason: String, sink: &mut Sink| {
            sink.unprobeable(Unprobeable {
                name: url.to_string(),
                directive: directive.to_string(),
                reason,
                source: at.clone(),
            })
        };
        match parse_worker(url) {
            Ok(Worker::Target { target, what, note }) => {
                let mut flags = worker_flags(params);
                flags.notes.extend(note);
                sink.target(DiscoveredTarget {
                    name: group
                        .as_ref()
                        .map_or_else(|| what.clone(), |g| format!("{g} {what}")),
                    group,
                    target,
                    flags,
                    source: at.clone(),
                    limits: None,
                })
            }
            Ok(Worker::Balancer(name)) => {
                if self.refs.len() < MAX_ENTRIES {
                    self.refs.push(BalancerRef {
                        name,
                        url: url.to_string(),
                        directive: directive.to_string(),
                        at: at.clone(),
                    });
                }
            }
            Err(WorkerError::Runtime(reason)) => unprobeable(reason, sink),
            Err(WorkerError::Invalid(reason)) => {
                sink.error_at(
                    at,
                    DiscoveryErrorKind::Invalid(format!("{reason} in {directive}")),
                );
            }
        }
    }

    /// Balancers used but never given a member cannot be probed.
    pub(super) fn finish(self, sink: &mut Sink) {
        for r in self.refs {
            if !self
                .balancers
                .iter()
                .any(|b| b.eq_ignore_ascii_case(&r.name))
            {
                sink.unprobeable(Unprobeable {
                    name: r.url,
                    directive: r.directive,
                    reason: format!("balancer://{} has no BalancerMember", r.name),
                    source: r.at,
                });
            }
        }
    }
}

/// `${VAR}` substitution for every argument; `None` (reported) when a value grows too large.
pub(super) fn substitute_args(
    args: &[String],
    vars: &HashMap<String, String>,
    at: &SourceLoc,
    sink: &mut Sink,
) -> Option<Vec<String>> {
    let out: Option<Vec<String>> = args.iter().map(|a| substitute(a, vars)).collect();
    if out.is_none() {
        let message = "line too long after ${VAR} substitution; skipped".to_string();
        sink.error_at(at, DiscoveryErrorKind::Invalid(message));
    }
    out
}

/// Whether a RewriteRule flag list (`[P]`, `[NE,P,L]`, `[proxy]`, any case) has the proxy flag;
/// `PT` (passthrough) is another flag.
fn has_proxy_flag(flags: &str) -> bool {
    let Some(inner) = flags.strip_prefix('[').and_then(|f| f.strip_suffix(']')) else {
        return false;
    };
    inner.split(',').any(|f| {
        let f = f.trim();
        f.eq_ignore_ascii_case("p") || f.eq_ignore_ascii_case("proxy")
    })
}

/// The URL a rewritten substitution connects to, or why its host or port is known only per
/// request: a back-reference (`$1`, `%1`), a server variable (`%{HTTP_HOST}`) or a map lookup
/// (`${map:key}`) in the authority. One right after an explicit port ("http://app:8080$1")
/// starts the path, since a port is digits only, and is cut off; after a bare host it may be
/// part of the name.
fn rewrite_worker_url(url: &str) -> Result<String, String> {
    let Some((scheme, rest)) = split_scheme(url) else {
        return Ok(url.to_string());
    };
    let host = authority(rest);
    let Some(start) = host.find(['$', '%']) else {
        return Ok(url.to_string());
    };
    let before = &host[..start];
    let ported = before.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
    });
    if ported {
        return Ok(format!("{scheme}://{before}/"));
    }
    let var = rewrite_variable(&host[start..]);
    Err(format!(
        "the host or port comes from {var}, known only when a request is rewritten"
    ))
}

/// The rewrite variable at the start of `s`, as written: `%{NAME}`, `${map:key}`, `$1`, `%1`.
fn rewrite_variable(s: &str) -> &str {
    let end = if s[1..].starts_with('{') {
        s.find('}').map_or(s.len(), |i| i + 1)
    } else {
        1 + s[1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.len() - 1)
    };
    &s[..end.max(1)]
}

fn balancer_name(url: &str) -> Option<String> {
    let (scheme, rest) = split_scheme(url)?;
    (scheme == "balancer").then(|| authority(rest).to_string())
}

enum WorkerError {
    Runtime(String),
    Invalid(String),
}

/// Parses a mod_proxy worker URL: "scheme://host[:port]/...", "unix:/path|scheme://...",
/// "balancer://name/...".
fn parse_worker(url: &str) -> Result<Worker, WorkerError> {
    if let Some(rest) = strip_unix(url) {
        let path = rest.split('|').next().unwrap_or_default();
        if path.is_empty() {
            return Err(WorkerError::Invalid(format!("no socket path in \"{url}\"")));
        }
        if let Some(var) = first_variable(path) {
            return Err(WorkerError::Runtime(format!(
                "socket path contains {var}, which is not defined"
            )));
        }
        return Ok(Worker::Target {
            target: Target::Unix {
                path: PathBuf::from(path),
            },
            what: format!("unix:{path}"),
            note: None,
        });
    }
    let (scheme, rest) =
        split_scheme(url).ok_or_else(|| WorkerError::Invalid(format!("invalid URL \"{url}\"")))?;
    let host = authority(rest);
    if scheme == "balancer" {
        return Ok(Worker::Balancer(host.to_string()));
    }
    if let Some(var) = first_variable(host) {
        let reason = if var.starts_with("${") {
            format!("target contains {var}, which is not defined (Define or envvars)")
        } else {
            format!("target contains a variable ({var}): resolved per request")
        };
        return Err(WorkerError::Runtime(reason));
    }
    // mod_proxy's default ports (ap_proxy_port_of_scheme).
    let (default_port, http) = match scheme.as_str() {
        "http" | "ws" => (80, Some(false)),
        "https" | "wss" => (443, Some(true)),
        "h2c" => (80, None),
        "h2" => (443, None),
        "fcgi" => (8000, None),
        "ajp" => (8009, None),
        "scgi" => (4000, None),
        "uwsgi" => (3031, None),
        _ => {
            return Err(WorkerError::Invalid(format!(
                "unsupported scheme \"{scheme}\""
            )));
        }
    };
    let hp = split_host_port(host).map_err(WorkerError::Invalid)?;
    let port = hp.port.unwrap_or(default_port);
    // mod_proxy resolves with getaddrinfo, which reads "127.1" as 127.0.0.1 (inet_aton).
    let (host, note) = read_host(hp.host);
    Ok(Worker::Target {
        target: match http {
            Some(tls) => http_target(&host, port, tls),
            None => tcp_target(&host, port),
        },
        what: host_port_text(&host, port),
        note,
    })
}

/// Worker parameters: `loadfactor` is the weight, `status=+H` a hot standby, `+D`/`+S` disabled.
fn worker_flags(params: &[String]) -> ServerFlags {
    let mut flags = ServerFlags::default();
    for p in params {
        match p.split_once('=') {
            Some((k, v)) if k.eq_ignore_ascii_case("loadfactor") && v.parse::<u32>().is_ok() => {
                flags.weight = v.parse().ok();
            }
            Some((k, v)) if k.eq_ignore_ascii_case("status") && !v.starts_with('-') => {
                let letters = v.trim_start_matches('+').to_ascii_uppercase();
                flags.backup |= letters.contains(['H', 'R']);
                flags.down |= letters.contains(['D', 'S']);
                flags.other.push(p.clone());
            }
            _ => flags.other.push(p.clone()),
        }
    }
    flags
}

/// Where relative paths go when no ServerRoot is set.
pub(super) fn default_base(main: &Path) -> PathBuf {
    main.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn short_dotted_ipv4_workers_are_addresses() {
        let Ok(Worker::Target { target, what, note }) = parse_worker("http://10.10.188:8080/x")
        else {
            panic!("a target");
        };
        assert_eq!(target, http_target("10.10.0.188", 8080, false));
        assert_eq!(what, "10.10.0.188:8080");
        assert_eq!(
            note.as_deref(),
            Some("address 10.10.188 read as 10.10.0.188")
        );
        let Ok(Worker::Target { note, .. }) = parse_worker("http://10.0.0.5:8080/") else {
            panic!("a target");
        };
        assert_eq!(note, None);
    }

    #[test]
    fn proxy_flag_in_any_spelling() {
        for yes in [
            "[P]",
            "[P,L]",
            "[p,qsa,ne]",
            "[NE,P]",
            "[proxy]",
            "[L, P]",
            "[Proxy,L]",
        ] {
            assert!(has_proxy_flag(yes), "{yes}");
        }
        for no in ["[PT]", "[L]", "[R=301,L]", "P", "[]", "[QSA,NE]", "[E=P:1]"] {
            assert!(!has_proxy_flag(no), "{no}");
        }
    }

    #[test]
    fn rewritten_urls_with_a_literal_authority_are_probeable() {
        let ok = |s: &str| rewrite_worker_url(s);
        assert_eq!(
            ok("ws://127.0.0.1:8080/$1"),
            Ok("ws://127.0.0.1:8080/$1".into())
        );
        assert_eq!(
            ok("http://gitlab-workhorse:8181%{REQUEST_URI}"),
            Ok("http://gitlab-workhorse:8181/".into())
        );
        assert_eq!(ok("http://app:8080$1"), Ok("http://app:8080/".into()));
        assert_eq!(ok("http://[::1]:8080$1"), Ok("http://[::1]:8080/".into()));
        let reason = |s: &str| rewrite_worker_url(s).unwrap_err();
        assert!(reason("http://%{HTTP_HOST}/$1").contains("%{HTTP_HOST}"));
        assert!(reason("http://backend$1/x").contains("$1"));
        assert!(reason("http://app:$1/").contains("$1"));
        assert!(reason("http://${backends:%{HTTP_HOST}}/").contains("${backends:"));
        assert!(reason("http://node%1.internal:80/").contains("%1"));
    }
}
