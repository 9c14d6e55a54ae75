//! The resolvers we build: one per nameserver and one for the system configuration, each new
//! every round, so that no answer and no opinion of a server's health outlives a round.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};

use super::system::ResolvConf;
use crate::sanitize::sanitize;

/// Options for every resolver we build: one attempt, no cache, no hosts file (we consult it
/// ourselves, to know the source), CNAMEs kept so the chain can be shown.
fn options(timeout: Duration, from_resolv_conf: Option<&ResolverOpts>) -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    if let Some(conf) = from_resolv_conf {
        opts.ndots = conf.ndots;
        opts.edns0 = conf.edns0;
    }
    opts.timeout = timeout;
    // hickory counts retries here, not tries.
    opts.attempts = 0;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.preserve_intermediates = true;
    opts.try_tcp_on_error = false;
    opts
}

/// A nameserver over UDP (and TCP for truncated answers) at any port.
fn server_config(addr: SocketAddr) -> NameServerConfig {
    let mut config = NameServerConfig::udp_and_tcp(addr.ip());
    for connection in &mut config.connections {
        connection.port = addr.port();
    }
    config
}

/// One nameserver on its own, with no search list: nginx's own resolver applies none, and
/// neither does dig.
pub(super) fn single(addr: SocketAddr, timeout: Duration) -> Result<TokioResolver, String> {
    let config = ResolverConfig::from_parts(None, Vec::new(), vec![server_config(addr)]);
    build(config, options(timeout, None))
}

/// resolv.conf's servers (on `port`: see `DnsSettings::resolv_conf_port`), search list and
/// ndots, with our options.
pub(super) fn system(
    conf: &ResolvConf,
    port: u16,
    timeout: Duration,
) -> Result<TokioResolver, String> {
    let mut config = conf.config.clone();
    for server in &mut config.name_servers {
        for connection in &mut server.connections {
            connection.port = port;
        }
    }
    build(config, options(timeout, Some(&conf.opts)))
}

fn build(config: ResolverConfig, opts: ResolverOpts) -> Result<TokioResolver, String> {
    Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .map_err(|e| sanitize(&format!("cannot set up a resolver: {e}")).into_owned())
}
