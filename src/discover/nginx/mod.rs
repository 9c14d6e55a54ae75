//! nginx: upstream groups, `*_pass` targets, logs and resolvers from nginx.conf and its includes.

mod collect;
mod compiled;
mod known;
mod lexer;
mod parser;
mod time;
mod timeouts;
mod upstreams;
mod values;
mod vars;
mod walk;

use std::path::Path;

use super::files::Loader;
use super::model::Discovery;
use super::sink::Sink;
use collect::Collector;
pub use compiled::{CompiledDefaults, find_binary, parse_version_output, read_compiled_defaults};

/// Discovers what the nginx config at `path` proxies to, logs to and resolves with. Relative log
/// paths are taken against the parent of the config's directory (see [`nginx_with_prefix`]).
pub fn nginx(path: &Path) -> Discovery {
    run(path, None, &mut || None, Loader::default())
}

/// [`nginx`] reading through `loader` (the files inside a container's root, say).
pub(crate) fn nginx_with_loader(path: &Path, loader: Loader) -> Discovery {
    run(path, None, &mut || None, loader)
}

/// Like [`nginx`], with nginx's prefix (its `-p` option) given: relative log paths are resolved
/// against it. Includes are always relative to the main config's directory, as in nginx.
pub fn nginx_with_prefix(path: &Path, prefix: &Path) -> Discovery {
    run(path, Some(prefix), &mut || None, Loader::default())
}

/// Like [`nginx`], asking `defaults` what the binary was built with (see
/// [`read_compiled_defaults`]) when the config leaves something to it: its prefix, and the logs it
/// writes when the config names none. It is asked at most once, and only for a main config.
pub fn nginx_with_defaults(
    path: &Path,
    defaults: &mut dyn FnMut() -> Option<CompiledDefaults>,
) -> Discovery {
    run(path, None, defaults, Loader::default())
}

fn run(
    path: &Path,
    prefix: Option<&Path>,
    defaults: &mut dyn FnMut() -> Option<CompiledDefaults>,
    loader: Loader,
) -> Discovery {
    let mut sink = Sink::default();
    let mut collector = Collector::new(prefix.map(Path::to_path_buf), path);
    walk::walk_config(path, loader, &mut collector, &mut sink);
    collector.finish(defaults, &mut sink);
    sink.finish()
}
