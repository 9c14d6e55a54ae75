//! Caddy: upstreams, logs and the admin endpoint from a Caddyfile or from Caddy's JSON config.
//!
//! Which of the two a file is follows Caddy's own rule: a name starting with "Caddyfile" or
//! ending in ".caddyfile" is a Caddyfile, a ".json" name is JSON; any other file is JSON when
//! it parses as JSON, else a Caddyfile. When no `admin` is configured Caddy listens on
//! localhost:2019, and that default is recorded too: the running config is asked for there.

mod caddyfile;
mod json;
mod lexer;
mod tree;
mod upstream;

use std::path::Path;

use super::address::split_host_port;
use super::files::{LoadError, Loader};
use super::model::{ApiKind, DiscoveredApi, Discovery, DiscoveryErrorKind, SourceLoc};
use super::sink::Sink;
use super::target::Target;
use upstream::{localhost_if_no_host, without_tcp_network};

/// Where Caddy's admin endpoint listens when the config does not say.
pub const DEFAULT_ADMIN: &str = "localhost:2019";

/// Discovers upstreams, logs and the admin endpoint from a Caddyfile or a JSON config.
pub fn caddy(path: &Path) -> Discovery {
    caddy_with_loader(path, Loader::default())
}

/// [`caddy`] reading through `loader` (the files inside a container's root, say).
pub(crate) fn caddy_with_loader(path: &Path, mut loader: Loader) -> Discovery {
    let mut sink = Sink::default();
    if is_json_name(path) == Some(true) {
        json_file(path, &mut loader, &mut sink);
        return sink.finish();
    }
    if is_json_name(path).is_none() {
        // Peek: read the file once to tell, then hand the same path to the right reader.
        match loader.enter(path) {
            Ok(bytes) => {
                loader.leave();
                if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
                    sink.file_read(path);
                    json::collect(path, &bytes, &mut sink);
                    return sink.finish();
                }
            }
            Err(LoadError::Report(kind)) => {
                sink.error(path, None, kind);
                return sink.finish();
            }
            Err(LoadError::Quiet) => return sink.finish(),
        }
        loader = loader.fresh();
    }
    let tokens = tree::Expander::new(&mut loader, &mut sink).file(path, None);
    let nodes = tree::parse(&tokens, &mut sink);
    caddyfile::collect(&nodes, path, &mut sink);
    sink.finish()
}

/// Reads Caddy's JSON config as the admin API's `/config/` returned it; `origin` names where it
/// came from (shown as the file of every place found in it).
pub fn caddy_json(origin: &Path, bytes: &[u8]) -> Discovery {
    let mut sink = Sink::default();
    json::collect(origin, bytes, &mut sink);
    sink.finish()
}

fn json_file(path: &Path, loader: &mut Loader, sink: &mut Sink) {
    match loader.enter(path) {
        Ok(bytes) => {
            sink.file_read(path);
            json::collect(path, &bytes, sink);
            loader.leave();
        }
        Err(LoadError::Report(kind)) => sink.error(path, None, kind),
        Err(LoadError::Quiet) => {}
    }
}

/// `Some(true)` for a JSON name, `Some(false)` for a Caddyfile name, `None` to look inside.
fn is_json_name(path: &Path) -> Option<bool> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.starts_with("caddyfile") || name.ends_with(".caddyfile") {
        Some(false)
    } else if name.ends_with(".json") {
        Some(true)
    } else {
        None
    }
}

/// The admin endpoint as Caddy's network addresses write it: `localhost:2019`, `:2019` (every
/// interface, so loopback too), `tcp/host:port`, `unix//path`.
pub(super) fn admin_api(addr: &str, at: &SourceLoc, sink: &mut Sink) {
    let target = if let Some(path) = addr.strip_prefix("unix/") {
        Ok(Target::Unix { path: path.into() })
    } else {
        let addr = localhost_if_no_host(without_tcp_network(addr));
        split_host_port(&addr).and_then(|hp| match hp.port {
            Some(port) => Ok(Target::Tcp {
                host: hp.host,
                port,
            }),
            None => Err(format!("admin address \"{addr}\" has no port")),
        })
    };
    match target {
        Ok(target) => sink.api(DiscoveredApi {
            kind: ApiKind::CaddyAdmin,
            at: target,
            source: at.clone(),
        }),
        Err(reason) => sink.error_at(at, DiscoveryErrorKind::Invalid(format!("admin: {reason}"))),
    }
}

/// No `admin` setting: Caddy's default endpoint, attributed to the top of the main file.
pub(super) fn default_admin(main: &Path, sink: &mut Sink) {
    let at = SourceLoc {
        file: main.to_path_buf(),
        line: 1,
    };
    admin_api(DEFAULT_ADMIN, &at, sink);
}
