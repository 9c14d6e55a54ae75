//! Caddy's native JSON config (a `caddy.json`, `autosave.json`, the output of `caddy adapt`, or
//! what the admin API's `/config/` answers).
//!
//! Reads `apps.http.servers.*.routes[].handle[]`, into `subroute` handlers' own routes and the
//! servers' `errors.routes`; `reverse_proxy` handlers give their `upstreams[].dial`, FastCGI when
//! `transport.protocol` is "fastcgi"; `dynamic_upstreams` are chosen at run time. Logs with a
//! `file` writer, and the admin endpoint (`admin.listen`, `admin.disabled`).
//!
//! JSON has no statements to number: each place is the line where the value's text (the dial
//! string, the file name) first appears in the file, or line 1 when it does not appear as such.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::upstream::{Transport, json_dial, record};
use super::{admin_api, default_admin};
use crate::discover::model::{DiscoveryErrorKind, LogKindHint, SourceLoc, Unprobeable};
use crate::discover::sink::Sink;

/// Reads a JSON config from `bytes`, attributing what it finds to `file`.
pub(super) fn collect(file: &Path, bytes: &[u8], sink: &mut Sink) {
    let config: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            let message = format!("invalid JSON: {e}");
            return sink.error(
                file,
                Some(e.line().max(1)),
                DiscoveryErrorKind::Syntax(message),
            );
        }
    };
    let reader = Reader {
        file,
        text: String::from_utf8_lossy(bytes),
    };
    reader.admin(&config, sink);
    if let Some(servers) = config
        .pointer("/apps/http/servers")
        .and_then(Value::as_object)
    {
        for server in servers.values() {
            for routes in [server.get("routes"), server.pointer("/errors/routes")]
                .into_iter()
                .flatten()
            {
                reader.routes(routes, sink);
            }
        }
    }
    reader.logs(&config, sink);
}

struct Reader<'a> {
    file: &'a Path,
    text: std::borrow::Cow<'a, str>,
}

impl Reader<'_> {
    /// Where `value` is first written, as a JSON string.
    fn at(&self, value: &str) -> SourceLoc {
        let quoted = serde_json::to_string(value).unwrap_or_default();
        let line = self
            .text
            .find(&quoted)
            .map_or(1, |i| 1 + self.text[..i].matches('\n').count());
        SourceLoc {
            file: self.file.to_path_buf(),
            line,
        }
    }

    fn admin(&self, config: &Value, sink: &mut Sink) {
        let admin = config.get("admin");
        if admin
            .and_then(|a| a.get("disabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            return;
        }
        match admin.and_then(|a| a.get("listen")).and_then(Value::as_str) {
            Some(listen) => admin_api(listen, &self.at(listen), sink),
            None => default_admin(self.file, sink),
        }
    }

    /// serde_json refuses nesting deeper than 128, so this recursion is bounded by the input.
    fn routes(&self, routes: &Value, sink: &mut Sink) {
        for route in routes.as_array().into_iter().flatten() {
            for handler in route
                .get("handle")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match handler.get("handler").and_then(Value::as_str) {
                    Some("reverse_proxy") => self.reverse_proxy(handler, sink),
                    Some("subroute") => {
                        if let Some(inner) = handler.get("routes") {
                            self.routes(inner, sink);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn reverse_proxy(&self, handler: &Value, sink: &mut Sink) {
        let transport = handler.get("transport");
        let transport = match transport
            .and_then(|t| t.get("protocol"))
            .and_then(Value::as_str)
        {
            Some("fastcgi") => Transport::Tcp,
            // h2c:// upstreams: HTTP/2 without TLS.
            _ if transport
                .and_then(|t| t.get("versions"))
                .and_then(Value::as_array)
                .is_some_and(|v| v.iter().any(|v| v == "h2c")) =>
            {
                Transport::Tcp
            }
            _ if transport.and_then(|t| t.get("tls")).is_some() => Transport::Https,
            _ => Transport::Http,
        };
        if let Some(dynamic) = handler.get("dynamic_upstreams") {
            let source = dynamic.get("source").and_then(Value::as_str).unwrap_or("");
            let words: Vec<&str> = ["name", "port"]
                .iter()
                .filter_map(|k| dynamic.get(*k).and_then(Value::as_str))
                .collect();
            sink.unprobeable(Unprobeable {
                name: format!("dynamic {source} {}", words.join(" "))
                    .trim_end()
                    .to_string(),
                directive: "reverse_proxy".into(),
                reason: format!("upstreams chosen at run time (dynamic_upstreams {source})"),
                source: self.at(source),
            });
        }
        let upstreams = handler.get("upstreams").and_then(Value::as_array);
        for upstream in upstreams.into_iter().flatten() {
            let Some(dial) = upstream.get("dial").and_then(Value::as_str) else {
                continue;
            };
            let at = self.at(dial);
            record(json_dial(dial, transport), dial, "reverse_proxy", at, sink);
        }
    }

    /// A log that includes an `http.log.access` logger is an access log; any other (the default
    /// log among them) holds Caddy's own messages, the upstream errors too.
    fn logs(&self, config: &Value, sink: &mut Sink) {
        let Some(logs) = config.pointer("/logging/logs").and_then(Value::as_object) else {
            return;
        };
        for log in logs.values() {
            let writer = log.get("writer");
            if writer.and_then(|w| w.get("output")).and_then(Value::as_str) != Some("file") {
                continue;
            }
            let Some(filename) = writer
                .and_then(|w| w.get("filename"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let access = log
                .get("include")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|name| name.starts_with("http.log.access"));
            let kind = if access {
                LogKindHint::Access
            } else {
                LogKindHint::Error
            };
            sink.log(PathBuf::from(filename), kind, self.at(filename));
        }
    }
}
