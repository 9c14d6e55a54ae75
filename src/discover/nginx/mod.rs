//! nginx: upstream groups, `*_pass` targets, logs and resolvers from nginx.conf and its includes.

mod collect;
mod known;
mod lexer;
mod parser;
mod time;
mod values;
mod walk;

use std::path::Path;

use super::model::Discovery;
use super::sink::Sink;
use collect::{Collector, default_prefix};

/// Discovers what the nginx config at `path` proxies to, logs to and resolves with. Relative log
/// paths are taken against the parent of the config's directory (see [`nginx_with_prefix`]).
pub fn nginx(path: &Path) -> Discovery {
    nginx_with_prefix(path, &default_prefix(path))
}

/// Like [`nginx`], with nginx's prefix (its `-p` option) given: relative log paths are resolved
/// against it. Includes are always relative to the main config's directory, as in nginx.
pub fn nginx_with_prefix(path: &Path, prefix: &Path) -> Discovery {
    let mut sink = Sink::default();
    let mut collector = Collector::new(prefix.to_path_buf());
    walk::walk_config(path, &mut collector, &mut sink);
    collector.finish(&mut sink);
    sink.finish()
}
