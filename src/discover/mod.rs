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

use std::path::Path;

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
