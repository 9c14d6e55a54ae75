//! Discovery: reads a reverse proxy's own config to find the upstreams to probe, the logs to
//! follow and the DNS servers it uses, so gatewatch works with nothing configured.
//!
//! Pure parsing and bounded file reading: no terminal, no network. Config files are treated as
//! hostile input (see [`limits`]); nothing here panics, and whatever could be parsed is returned
//! alongside the errors met.

mod address;
mod apache;
mod caddy;
mod files;
mod haproxy;
pub mod limits;
mod model;
mod nginx;
mod sink;
pub mod target;

pub(crate) use address::{host_port_text, inet_aton};
pub use apache::apache;
pub use caddy::{DEFAULT_ADMIN as CADDY_DEFAULT_ADMIN, caddy, caddy_json};
pub use haproxy::haproxy;
pub use model::{
    ApiKind, DiscoveredApi, DiscoveredLog, DiscoveredTarget, Discovery, DiscoveryError,
    DiscoveryErrorKind, Limit, LogElsewhere, LogKindHint, ProxyLimits, ServerFlags, SourceLoc,
    Unprobeable, UnusedGroup,
};
pub use nginx::{
    CompiledDefaults, find_binary as find_nginx_binary, nginx, nginx_with_defaults,
    nginx_with_prefix, parse_version_output as parse_nginx_version,
    read_compiled_defaults as read_nginx_defaults,
};

use std::path::{Path, PathBuf};

use crate::rootfs::{Resolved, Root};
use files::Loader;

/// Which reverse proxy a config belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyKind {
    Nginx,
    Haproxy,
    Apache,
    Caddy,
}

impl ProxyKind {
    /// Where packages and source builds put the main config, most common first.
    pub fn default_config_paths(self) -> &'static [&'static str] {
        match self {
            ProxyKind::Nginx => &[
                "/etc/nginx/nginx.conf",
                "/usr/local/nginx/conf/nginx.conf",
                "/usr/local/etc/nginx/nginx.conf",
            ],
            ProxyKind::Haproxy => &[
                "/etc/haproxy/haproxy.cfg",
                "/usr/local/etc/haproxy/haproxy.cfg",
            ],
            ProxyKind::Apache => &[
                "/etc/apache2/apache2.conf",
                "/etc/httpd/conf/httpd.conf",
                "/usr/local/apache2/conf/httpd.conf",
            ],
            // The Debian package's unit runs /etc/caddy/Caddyfile; its caddy-api unit resumes
            // the config last loaded through the API, saved in the caddy user's home.
            ProxyKind::Caddy => &[
                "/etc/caddy/Caddyfile",
                "/etc/caddy/caddy.json",
                "/var/lib/caddy/.config/caddy/autosave.json",
            ],
        }
    }
}

/// Runs the discovery for `kind` on the config at `path`.
pub fn discover(kind: ProxyKind, path: &Path) -> Discovery {
    match kind {
        ProxyKind::Nginx => nginx(path),
        ProxyKind::Haproxy => haproxy(path),
        ProxyKind::Apache => apache(path),
        ProxyKind::Caddy => caddy(path),
    }
}

/// Runs the discovery for `kind` on the config at `config_path_in_root` inside `root` (a
/// container's filesystem, `/proc/PID/root`): every file, include and glob is resolved inside the
/// root, never on the host. Paths in the result are the proxy's own (a relative config path is
/// taken from the root); each log's [`DiscoveredLog::in_root`] says where it really goes. The
/// container's nginx binary is never run, so nginx's compiled-in defaults are not asked for.
pub fn discover_in_root(kind: ProxyKind, root: &Root, config_path_in_root: &Path) -> Discovery {
    let path = Path::new("/").join(config_path_in_root);
    let loader = Loader::in_root(root.clone());
    let mut found = match kind {
        ProxyKind::Nginx => nginx::nginx_with_loader(&path, loader),
        ProxyKind::Haproxy => haproxy::haproxy_with_loader(&path, loader),
        ProxyKind::Apache => apache::apache_with_loader(&path, loader),
        ProxyKind::Caddy => caddy::caddy_with_loader(&path, loader),
    };
    for log in &mut found.logs {
        log.in_root = Some(root.resolve(&log.path));
    }
    found
}

/// The first of `kind`'s [`ProxyKind::default_config_paths`] that is a regular file inside
/// `root`, as a path inside the root.
pub fn default_config_in_root(kind: ProxyKind, root: &Root) -> Option<PathBuf> {
    kind.default_config_paths()
        .iter()
        .map(PathBuf::from)
        .find(|p| matches!(root.resolve(p), Resolved::File { .. }))
}

#[cfg(test)]
#[path = "in_root_tests.rs"]
mod in_root_tests;
