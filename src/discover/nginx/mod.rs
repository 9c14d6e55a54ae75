//! nginx: upstream groups, `*_pass` targets, logs and resolvers from nginx.conf and its includes.

mod collect;
mod compiled;
mod known;
mod lexer;
mod parser;
mod time;
mod values;
mod vars;
mod walk;

use std::path::Path;

use super::model::Discovery;
use super::sink::Sink;
use collect::{Collector, default_prefix};
pub use compiled::{CompiledDefaults, find_binary, parse_version_output, read_compiled_defaults};

/// Discovers what the nginx config at `path` proxies to, logs to and resolves with. Relative log
/// paths are taken against the parent of the config's directory (see [`nginx_with_prefix`]).
pub fn nginx(path: &Path) -> Discovery {
    nginx_with_prefix(path, &default_prefix(path))
}

/// Like [`nginx`], with nginx's prefix (its `-p` option) given: relative log paths are resolved
/// against it. Includes are always relative to the main config's directory, as in nginx.
pub fn nginx_with_prefix(path: &Path, prefix: &Path) -> Discovery {
    run(path, prefix, None)
}

/// Like [`nginx`], knowing what the binary was built with (see [`read_compiled_defaults`]): its
/// prefix, and the logs it writes when the config names none.
pub fn nginx_with_defaults(path: &Path, defaults: &CompiledDefaults) -> Discovery {
    let prefix = defaults
        .prefix
        .clone()
        .unwrap_or_else(|| default_prefix(path));
    run(path, &prefix, Some(defaults))
}

fn run(path: &Path, prefix: &Path, defaults: Option<&CompiledDefaults>) -> Discovery {
    let mut sink = Sink::default();
    let mut collector = Collector::new(prefix.to_path_buf());
    walk::walk_config(path, &mut collector, &mut sink);
    // Compiled-in logs only matter for a config that was read.
    let defaults = defaults.filter(|_| !sink.files_read().is_empty());
    collector.finish(defaults, &mut sink);
    sink.finish()
}
