//! Name resolution with the system resolver (getaddrinfo: /etc/hosts, then DNS), shared by the
//! tcp probe and the HTTP client so a failed lookup is recognisable as `dns` by its type.

use std::io;
use std::net::{IpAddr, SocketAddr};

/// A name that could not be turned into addresses.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error("cannot resolve {host:?}")]
    Lookup {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("{host:?} resolves to no addresses")]
    Empty { host: String },
}

/// Addresses for `host`; an IP literal is used as it is, without a lookup.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| ResolveError::Lookup {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(ResolveError::Empty {
            host: host.to_owned(),
        });
    }
    Ok(addrs)
}

/// The HTTP client's resolver: the same lookup, so its failures carry a [`ResolveError`].
pub(crate) struct SystemResolver;

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts in the URL's port.
            super::phases::resolve_started();
            let addrs = resolve(&host, 0).await;
            super::phases::resolve_done();
            let addrs = addrs?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
