//! The address-family trap: a name whose first address is IPv6 while the upstream listens on
//! IPv4 only (or the reverse). `localhost` resolving to ::1 first while the backend binds
//! 127.0.0.1 is the classic. Each address a watched upstream's name resolves to is tried with a
//! plain TCP connect on the upstream's port, and [`super::family_mismatch`] judges the result.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

use super::{DnsRound, Nameserver, family_mismatch};
use crate::status::Finding;

/// Addresses tried per name: enough for both families of a round-robin name.
const MAX_ADDRESSES: usize = 8;

/// Whether each address accepts on `port`: refused is `false`; a timeout or any other error says
/// nothing about the family, so the address is left out.
pub async fn accepting(
    addresses: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> HashMap<IpAddr, bool> {
    let tries = addresses.iter().take(MAX_ADDRESSES).map(|&ip| async move {
        match tokio::time::timeout(timeout, TcpStream::connect(SocketAddr::new(ip, port))).await {
            Ok(Ok(_)) => Some((ip, true)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some((ip, false)),
            _ => None,
        }
    });
    futures_util::future::join_all(tries)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// A finding for each (name, port) whose addresses split by family. The addresses are the
/// system configuration's answer when there is one: that is what nginx resolves with.
pub async fn check(round: &DnsRound, ports: &[(String, u16)], timeout: Duration) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, port) in ports {
        let mut results = round.for_name(name).filter(|r| r.is_ok());
        let chosen = round
            .for_name(name)
            .find(|r| r.is_ok() && r.nameserver == Nameserver::System)
            .or_else(|| results.next());
        let Some(result) = chosen else { continue };
        let addresses: Vec<IpAddr> = result.addresses().collect();
        let has_both =
            addresses.iter().any(IpAddr::is_ipv4) && addresses.iter().any(IpAddr::is_ipv6);
        if !has_both {
            continue;
        }
        let map = accepting(&addresses, *port, timeout).await;
        findings.extend(family_mismatch(name, *port, &addresses, &map));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_open_only_on_ipv4_is_refused_on_ipv6() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        // The IPv6 loopback must exist for this to mean anything; the DNS tests need it too.
        assert!(
            std::net::TcpListener::bind("[::1]:0").is_ok(),
            "this test needs the ::1 loopback"
        );
        let v6: IpAddr = "::1".parse().expect("ip");
        let v4: IpAddr = "127.0.0.1".parse().expect("ip");
        let map = accepting(&[v6, v4], port, Duration::from_secs(1)).await;
        assert_eq!(map.get(&v6), Some(&false));
        assert_eq!(map.get(&v4), Some(&true));
        let finding = family_mismatch("localhost", port, &[v6, v4], &map).expect("a finding");
        assert!(
            finding.message.contains("first address ::1"),
            "{}",
            finding.message
        );
    }
}
