//! One name through nameservers the caller names, each asked on its own (as dig would): for a
//! proxy in a container, the servers of the container's resolv.conf, asked from inside its
//! network namespace (see `crate::netns`).

use std::net::SocketAddr;
use std::time::Duration;

use super::lookup::{self, NameToAsk, Via};
use super::name::parse_name;
use super::{DnsResult, Nameserver, resolver};
use crate::sanitize::sanitize;

/// One result per nameserver, in the order given; all asked at once. No hosts file, no search
/// list: the name is asked as it is written.
pub(crate) async fn lookup_each(
    name: &str,
    nameservers: &[SocketAddr],
    timeout: Duration,
) -> Vec<DnsResult> {
    let asked = NameToAsk {
        shown: sanitize(name).into_owned(),
        parsed: parse_name(name),
    };
    let resolvers: Vec<(SocketAddr, Result<_, String>)> = nameservers
        .iter()
        .map(|addr| (*addr, resolver::single(*addr, timeout)))
        .collect();
    let vias: Vec<Via<'_>> = resolvers
        .iter()
        .map(|(addr, resolver)| Via {
            nameserver: Nameserver::Addr(*addr),
            resolver: resolver.as_ref().map_err(String::as_str),
            hosts: None,
        })
        .collect();
    let mut lookups = Vec::with_capacity(vias.len());
    for via in &vias {
        lookups.push(lookup::lookup(&asked, via, timeout));
    }
    futures_util::future::join_all(lookups).await
}
